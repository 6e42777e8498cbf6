/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "credentials.h"
#include "imds.h"
#include "time-util.h"
#include "dontdump.h"
#include "tests.h"

static void test_refresh_time(void) {
        usec_t now = 1800000000ULL * USEC_PER_SEC;

        CHECK_EQ_INT(credentials_refresh_time(now, USEC_INFINITY, 0.5), USEC_INFINITY);
        /* Six-hour credentials: 5 to 15 minutes before expiry. */
        for (double r = 0; r < 1; r += 0.1) {
                usec_t exp = now + 6 * USEC_PER_HOUR, t = credentials_refresh_time(now, exp, r);
                CHECK(t <= exp - 5 * USEC_PER_MINUTE);
                CHECK(t >= exp - 15 * USEC_PER_MINUTE);
        }
        /* Short-lived: after half, before two thirds of the remaining life. */
        usec_t exp = now + 60 * USEC_PER_SEC;
        CHECK(credentials_refresh_time(now, exp, 0) == now + 30 * USEC_PER_SEC);
        CHECK(credentials_refresh_time(now, exp, 0.99) < now + 40 * USEC_PER_SEC);
        /* Nearly or already expired: now. */
        CHECK_EQ_INT(credentials_refresh_time(now, now + 3 * USEC_PER_SEC, 0.5), now);
        CHECK(credentials_refresh_time(now, now + 10 * USEC_PER_SEC, 0.5) > now);
        CHECK_EQ_INT(credentials_refresh_time(now, now - 10 * USEC_PER_SEC, 0.5), now);
}

static void test_parse_imds_credentials(void) {
        AwsCredentials a = {};
        const char *reason = NULL;
        usec_t t;

        CHECK_EQ_INT(credentials_parse_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\","
                                            "\"SecretAccessKey\":\"abc/def+ghi\",\"Token\":\"tok==\","
                                            "\"Expiration\":\"2026-11-26T04:00:00Z\"}", &a, &reason), 0);
        CHECK_STREQ(a.access_key_id, "ASIAABCDEFGHIJKLMNOP");
        CHECK_STREQ(a.session_token, "tok==");
        /* issue 16 #6: the secret key and the token never in a core dump. */
        CHECK(dontdump(a.secret_access_key) && dontdump(a.session_token));
        CHECK_EQ_INT(parse_rfc3339("2026-11-26T04:00:00Z", &t), 0);
        CHECK_EQ_INT(a.expiration, t);
        aws_credentials_done(&a);

        static const struct { const char *json, *reason; } bad[] = {
                { "not json", "not a JSON object" },
                { "[]", "not a JSON object" },
                { "{\"Code\":\"Failure\"}", "Code" },
                { "{\"Code\":\"Success\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "AccessKeyId" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"asia-lower-case-key\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "AccessKeyId" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "SecretAccessKey" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"SecretAccessKey\":\"x\",\"Token\":\"a b\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "Token" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"tomorrow\"}", "Expiration" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                reason = NULL;
                CHECK_EQ_INT(credentials_parse_imds(bad[i].json, &a, &reason), -EBADMSG);
                CHECK_CONTAINS(reason, bad[i].reason);
        }
}

typedef struct Ready {
        unsigned calls;
        int error;
        Credentials *source;
} Ready;

static void on_ready(void *source, const AgentEvent *ev, void *userdata) {
        Ready *r = userdata;
        r->calls++;
        r->error = ev->error;
        r->source = source;
        CHECK_EQ_INT(ev->type, CREDENTIALS_EVENT_READY);
}

/* Run the loop until cond or 5 s pass (a deadline, not a sleep). */
#define RUN_UNTIL(e, cond)                                                              \
        do {                                                                            \
                usec_t _end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;             \
                while (!(cond) && now_usec(CLOCK_MONOTONIC) < _end)                     \
                        CHECK(sd_event_run((e), 100 * USEC_PER_MSEC) >= 0);             \
        } while (0)

/* Keys from the environment: usable at once, yet the answer to a wait
 * still comes from the loop, never from inside credentials_wait(). */
static void test_wait_env(void) {
        sd_event *e = NULL;
        CurlGlue *glue = NULL;
        ImdsSettings is;
        Imds *imds = NULL;
        Credentials *c = NULL;
        CredentialsWait *w = NULL;
        Ready ready = {}, cancelled = {};

        CHECK_EQ_INT(sd_event_new(&e), 0);
        CHECK_EQ_INT(curl_glue_new(e, &glue), 0);
        CHECK_EQ_INT(imds_settings_init(&is), 0);
        is.enabled = false;
        CHECK_EQ_INT(imds_new(e, glue, &is, &imds), 0);
        CHECK_EQ_INT(credentials_new(e, imds, &c), 0);

        setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret", 1);
        unsetenv("AWS_SESSION_TOKEN");
        CHECK_EQ_INT(credentials_start(c), 0);
        CHECK_STREQ(credentials_source(c), "environment");
        CHECK(credentials_current(c) != NULL);
        CHECK_STREQ(credentials_current(c)->access_key_id, "AKIAEXAMPLEEXAMPLE00");
        CHECK_EQ_INT(credentials_component(c)->state, COMPONENT_OK);

        CHECK_EQ_INT(credentials_wait(c, on_ready, &ready, NULL), 0);
        CHECK_EQ_INT(ready.calls, 0);
        /* A cancelled wait never calls back. */
        CHECK_EQ_INT(credentials_wait(c, on_ready, &cancelled, &w), 0);
        credentials_wait_cancel(w);
        RUN_UNTIL(e, ready.calls > 0);
        CHECK_EQ_INT(ready.calls, 1);
        CHECK_EQ_INT(ready.error, 0);
        CHECK(ready.source == c);
        CHECK_EQ_INT(cancelled.calls, 0);

        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        credentials_free(c);
        imds_free(imds);
        imds_settings_done(&is);
        curl_glue_free(glue);
        sd_event_unref(e);
}

/* No keys, no role: refused at once, in words, and no callback ever. */
static void test_no_role(void) {
        sd_event *e = NULL;
        CurlGlue *glue = NULL;
        ImdsSettings is;
        Imds *imds = NULL;
        Credentials *c = NULL;
        Ready ready = {};

        CHECK_EQ_INT(sd_event_new(&e), 0);
        CHECK_EQ_INT(curl_glue_new(e, &glue), 0);
        CHECK_EQ_INT(imds_settings_init(&is), 0);
        CHECK_EQ_INT(imds_new(e, glue, &is, &imds), 0);
        CHECK_EQ_INT(credentials_new(e, imds, &c), 0);
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        CHECK_EQ_INT(credentials_set_role(c, NULL), 0);
        CHECK_EQ_INT(credentials_start(c), -ENOKEY);
        CHECK_EQ_INT(credentials_component(c)->state, COMPONENT_FAILED);
        CHECK_CONTAINS(credentials_component(c)->last_error, "no IAM role");
        CHECK_EQ_INT(credentials_wait(c, on_ready, &ready, NULL), -ENOKEY);
        CHECK(credentials_current(c) == NULL);
        CHECK_EQ_INT(sd_event_run(e, 0), 0);
        CHECK_EQ_INT(ready.calls, 0);

        credentials_free(c);
        imds_free(imds);
        curl_glue_free(glue);
        sd_event_unref(e);
}

TEST_MAIN(test_refresh_time(); test_parse_imds_credentials(); test_wait_env(); test_no_role();)
