/* SPDX-License-Identifier: MIT */
/* A sequence (the bootstrap chain) with fake steps: order, completion from inside a
 * step's start, failure, resume, the timeout, more steps than the old
 * fixed table held. */
#include <systemd/sd-event.h>

#include "sequence.h"
#include "tests.h"

typedef struct Run {
        char log[512];
        int done_error;
        int done_calls;
        bool stop;
} Run;

static void on_event(void *source, const AgentEvent *ev, void *userdata) {
        Run *r = userdata;

        if (ev->type == SEQUENCE_EVENT_STEP) {
                strncat(r->log, ev->name, sizeof(r->log) - strlen(r->log) - 2);
                strcat(r->log, " ");
        } else {
                r->done_calls++;
                r->done_error = ev->error;
                r->stop = true;
        }
}

static void step_sync(Sequence *b, void *userdata) {
        sequence_step_done(b);         /* done inside start: still fine */
}

static void step_fail(Sequence *b, void *userdata) {
        sequence_fail(b, -ENOENT, "secret %s not found", (const char *) userdata);
}

static void step_hang(Sequence *b, void *userdata) {
}

static void run_loop(sd_event *e, Run *r) {
        for (int i = 0; i < 10000 && !r->stop; i++)
                CHECK(sd_event_run(e, 100 * 1000) >= 0);
}

static void test_order_and_many_steps(void) {
        static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
                                             "k", "l", "m", "n", "o", "p", "q", "r", "s", "t" };
        sd_event *e = NULL;
        Sequence *b = NULL;
        Run r = {};
        char expect[512] = "";
        cJSON *j = NULL;

        CHECK(sd_event_new(&e) >= 0);
        CHECK(sequence_new(e, "bootstrap", 10 * USEC_PER_SEC, "bootstrap_timeout", on_event, &r, &b) >= 0);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                CHECK(sequence_add_step(b, names[i], step_sync, NULL) >= 0);
                strcat(expect, names[i]);
                strcat(expect, " ");
        }
        CHECK(sequence_start(b) >= 0);
        CHECK_STREQ(r.log, "");        /* nothing from inside the call */
        run_loop(e, &r);
        CHECK_STREQ(r.log, expect);     /* 20 steps: the old table stopped at 16 */
        CHECK_EQ_INT(r.done_calls, 1);
        CHECK_EQ_INT(r.done_error, 0);
        CHECK_EQ_INT(sequence_state(b), SEQUENCE_DONE);
        CHECK(sequence_to_json(b, &j) >= 0);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "steps")), 20);
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "ready_after_ms")));
        cJSON_Delete(j);
        sequence_free(b);
        sd_event_unref(e);
}

static void test_fail_then_resume(void) {
        sd_event *e = NULL;
        Sequence *b = NULL;
        Run r = {};

        CHECK(sd_event_new(&e) >= 0);
        CHECK(sequence_new(e, "bootstrap", 10 * USEC_PER_SEC, "bootstrap_timeout", on_event, &r, &b) >= 0);
        CHECK(sequence_add_step(b, "identity", step_sync, NULL) >= 0);
        CHECK(sequence_add_step(b, "secrets", step_fail, (void *) "db") >= 0);
        CHECK(sequence_add_step(b, "render", step_sync, NULL) >= 0);
        CHECK(sequence_start(b) >= 0);
        run_loop(e, &r);
        CHECK_EQ_INT(r.done_error, -ENOENT);
        CHECK_EQ_INT(sequence_state(b), SEQUENCE_FAILED);
        CHECK_STREQ(sequence_current_step(b), "secrets");
        CHECK_STREQ(sequence_error(b), "secret db not found");
        CHECK_STREQ(r.log, "identity secrets ");
        /* The secret appeared: carry on from there, not from the start. */
        r.stop = false;
        CHECK(sequence_resume(b) >= 0);
        sequence_step_done(b);
        run_loop(e, &r);
        CHECK_STREQ(r.log, "identity secrets render ");
        CHECK_EQ_INT(r.done_calls, 2);
        CHECK_EQ_INT(r.done_error, 0);
        CHECK(sequence_resume(b) < 0);         /* only a failed chain resumes */
        sequence_free(b);
        sd_event_unref(e);
}

static void test_timeout(void) {
        sd_event *e = NULL;
        Sequence *b = NULL;
        Run r = {};

        CHECK(sd_event_new(&e) >= 0);
        CHECK(sequence_new(e, "bootstrap", 50 * USEC_PER_MSEC, "bootstrap_timeout", on_event, &r, &b) >= 0);
        CHECK(sequence_add_step(b, "identity", step_hang, NULL) >= 0);
        CHECK(sequence_start(b) >= 0);
        run_loop(e, &r);
        CHECK_EQ_INT(r.done_error, -ETIMEDOUT);
        CHECK_CONTAINS(sequence_error(b), "bootstrap_timeout=");
        /* A late completion of the hung step changes nothing. */
        sequence_step_done(b);
        CHECK_EQ_INT(sequence_state(b), SEQUENCE_FAILED);
        sequence_free(b);
        sd_event_unref(e);
}

TEST_MAIN(
        test_order_and_many_steps();
        test_fail_then_resume();
        test_timeout();
)
