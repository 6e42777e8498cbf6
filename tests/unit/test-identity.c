/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "identity.h"
#include "time-util.h"
#include "tests.h"

static void test_identity_validators(void) {
        CHECK(identity_valid_instance_id("i-0123456789abcdef0"));
        CHECK(identity_valid_instance_id("i-12345678"));
        CHECK(!identity_valid_instance_id("i-0123456789ABCDEF0"));
        CHECK(!identity_valid_instance_id("i-1234"));
        CHECK(!identity_valid_instance_id("0123456789abcdef0"));
        CHECK(!identity_valid_instance_id("i-0123456789abcdef0\n"));
        CHECK(!identity_valid_instance_id(NULL));
        CHECK(identity_valid_region("eu-central-1"));
        CHECK(!identity_valid_region("eu central"));
        CHECK(!identity_valid_region("eucentral"));
        CHECK(!identity_valid_region("EU-CENTRAL-1"));
        CHECK(identity_valid_token("t3.medium", 255));
        CHECK(!identity_valid_token("t3 medium", 255));
        CHECK(!identity_valid_token("", 255));
        CHECK(!identity_valid_token("abcdef", 5));
}

typedef struct Seen {
        unsigned done, retrying;
        int error;
        char reason[512];
} Seen;

static void on_identity(void *source, const AgentEvent *ev, void *userdata) {
        Seen *s = userdata;

        if (ev->type == IDENTITY_EVENT_RETRYING) {
                s->retrying++;
                return;
        }
        CHECK_EQ_INT(ev->type, IDENTITY_EVENT_DONE);
        s->done++;
        s->error = ev->error;
        snprintf(s->reason, sizeof(s->reason), "%s", ev->reason ? ev->reason : "");
}

/* IMDS off: the fetch fails for good, not retried, and says so from the
 * loop (never from inside identity_fetch_new()); the imds status too. */
static void test_fetch_imds_disabled(void) {
        sd_event *e = NULL;
        CurlGlue *glue = NULL;
        ImdsSettings is;
        Imds *imds = NULL;
        IdentityFetch *f = NULL;
        Identity id = {};
        Seen seen = {};

        CHECK_EQ_INT(sd_event_new(&e), 0);
        CHECK_EQ_INT(curl_glue_new(e, &glue), 0);
        CHECK_EQ_INT(imds_settings_init(&is), 0);
        is.enabled = false;
        CHECK_EQ_INT(imds_new(e, glue, &is, &imds), 0);
        CHECK_EQ_INT(imds_component(imds)->state, COMPONENT_DISABLED);
        CHECK_EQ_INT(identity_fetch_new(e, imds, &is, on_identity, &seen, &f), 0);
        CHECK_EQ_INT(seen.done, 0);
        CHECK_EQ_INT(identity_fetch_take(f, &id), -EAGAIN);

        usec_t end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;
        while (seen.done == 0 && now_usec(CLOCK_MONOTONIC) < end)
                CHECK(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        CHECK_EQ_INT(seen.done, 1);
        CHECK_EQ_INT(seen.retrying, 0);
        CHECK_EQ_INT(seen.error, -EOPNOTSUPP);
        CHECK_CONTAINS(seen.reason, "cannot start IMDS requests");
        CHECK_EQ_INT(imds_component(imds)->state, COMPONENT_FAILED);
        CHECK_EQ_INT(identity_fetch_take(f, &id), -EAGAIN);

        identity_fetch_free(f);
        imds_free(imds);
        curl_glue_free(glue);
        sd_event_unref(e);
}

TEST_MAIN(test_identity_validators(); test_fetch_imds_disabled();)
