/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

#include <stdarg.h>
#include <stdio.h>

#include "sequence.h"
#include "json-util.h"
#include "log.h"
#include "parse-util.h"
#include "time-util.h"

typedef struct Step {
        struct {
                const char *name;
                usec_t duration;        /* 0 while running or not reached */
                bool started;
        } info;
        SequenceStepStart start;
        void *userdata;
} Step;

struct Sequence {
        sd_event *event;
        const char *name;
        const char *timeout_key;
        AgentCallback cb;
        void *userdata;
        usec_t timeout;
        Step *steps;
        size_t n_steps;
        size_t current;         /* index of the running (or failed) step */
        SequenceState state;
        usec_t started, step_started, finished;
        sd_event_source *timer;
        sd_event_source *next;  /* deferred: start steps[current] */
        char *error;
        int error_code;
};

SequenceState sequence_state(const Sequence *b) {
        return b->state;
}

const char *sequence_current_step(const Sequence *b) {
        return b->state != SEQUENCE_IDLE && b->current < b->n_steps ? b->steps[b->current].info.name : NULL;
}

const char *sequence_error(const Sequence *b) {
        return b->error;
}

usec_t sequence_duration(const Sequence *b) {
        return b->state == SEQUENCE_DONE ? b->finished - b->started : 0;
}

int sequence_add_step(Sequence *b, const char *name, SequenceStepStart start, void *userdata) {
        Step *a = realloc(b->steps, (b->n_steps + 1) * sizeof(Step));

        if (!a)
                return -ENOMEM;
        b->steps = a;
        b->steps[b->n_steps++] = (Step) { .info.name = name, .start = start, .userdata = userdata };
        return 0;
}

static void finish(Sequence *b, int error) {
        AgentEvent ev = { .type = SEQUENCE_EVENT_DONE, .error = error, .reason = b->error };

        b->timer = sd_event_source_disable_unref(b->timer);
        (void) sd_event_source_set_enabled(b->next, SD_EVENT_OFF);
        b->finished = now_usec(CLOCK_MONOTONIC);
        b->state = error < 0 ? SEQUENCE_FAILED : SEQUENCE_DONE;
        agent_callback_invoke(b->cb, b, &ev, b->userdata);
}

static int on_next(sd_event_source *s, void *userdata) {
        Sequence *b = userdata;
        Step *step;

        if (b->state != SEQUENCE_RUNNING)
                return 0;
        if (b->current >= b->n_steps) {
                finish(b, 0);
                return 0;
        }
        step = &b->steps[b->current];
        step->info.started = true;
        b->step_started = now_usec(CLOCK_MONOTONIC);
        agent_callback_invoke(b->cb, b, &(AgentEvent) { .type = SEQUENCE_EVENT_STEP, .name = step->info.name },
                              b->userdata);
        step->start(b, step->userdata);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Sequence *b = userdata;
        char buf[32];

        b->timer = sd_event_source_disable_unref(b->timer);
        sequence_fail(b, -ETIMEDOUT, "not done within %s=%s", b->timeout_key,
                      format_duration(buf, sizeof(buf), b->timeout));
        return 0;
}

int sequence_start(Sequence *b) {
        int r;

        if (b->state != SEQUENCE_IDLE)
                return -EBUSY;
        b->state = SEQUENCE_RUNNING;
        b->started = now_usec(CLOCK_MONOTONIC);
        if (b->timeout > 0 && b->timeout != USEC_INFINITY) {
                r = sd_event_add_time_relative(b->event, &b->timer, CLOCK_MONOTONIC, b->timeout, 0, on_timeout, b);
                if (r < 0)
                        return r;
        }
        return sd_event_source_set_enabled(b->next, SD_EVENT_ONESHOT);
}

void sequence_step_done(Sequence *b) {
        Step *step;
        char buf[32];

        if (b->state != SEQUENCE_RUNNING || b->current >= b->n_steps)
                return;
        step = &b->steps[b->current];
        step->info.duration = MAX(now_usec(CLOCK_MONOTONIC) - b->step_started, 1);
        log_info("%s step %s done in %s", b->name, step->info.name,
                 format_duration(buf, sizeof(buf), step->info.duration));
        b->current++;
        (void) sd_event_source_set_enabled(b->next, SD_EVENT_ONESHOT);
}

void sequence_fail(Sequence *b, int error, const char *fmt, ...) {
        va_list ap;

        if (b->state != SEQUENCE_RUNNING)
                return;
        free(b->error);
        va_start(ap, fmt);
        if (vasprintf(&b->error, fmt, ap) < 0)
                b->error = NULL;
        va_end(ap);
        b->error_code = error < 0 ? error : -EIO;
        finish(b, b->error_code);
}

int sequence_resume(Sequence *b) {
        if (b->state != SEQUENCE_FAILED || b->current >= b->n_steps)
                return -ESTALE;
        b->state = SEQUENCE_RUNNING;
        b->error = mfree(b->error);
        b->error_code = 0;
        return 0;
}

int sequence_to_json(const Sequence *b, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *steps = o ? cJSON_AddArrayToObject(o, "steps") : NULL;

        if (!steps)
                return -ENOMEM;
        for (size_t i = 0; i < b->n_steps; i++) {
                const typeof(b->steps[i].info) *s = &b->steps[i].info;
                cJSON *j;
                if (!s->started)
                        continue;
                j = cJSON_CreateObject();
                if (!j)
                        return -ENOMEM;
                cJSON_AddItemToArray(steps, j);
                if (!cJSON_AddStringToObject(j, "name", s->name) ||
                    !cJSON_AddBoolToObject(j, "done", s->duration > 0) ||
                    !cJSON_AddBoolToObject(j, "failed", b->state == SEQUENCE_FAILED && i == b->current) ||
                    !cJSON_AddNumberToObject(j, "duration_ms", (double) s->duration / USEC_PER_MSEC))
                        return -ENOMEM;
        }
        if (b->state == SEQUENCE_DONE) {
                if (!cJSON_AddNumberToObject(o, "ready_after_ms", (double) (b->finished - b->started) / USEC_PER_MSEC))
                        return -ENOMEM;
        } else if (!cJSON_AddNullToObject(o, "ready_after_ms"))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int sequence_new(sd_event *e, const char *name, usec_t timeout, const char *timeout_key, AgentCallback cb,
                 void *userdata, Sequence **ret) {
        _cleanup_(sequence_freep) Sequence *b = calloc(1, sizeof(Sequence));
        int r;

        if (!b)
                return -ENOMEM;
        b->event = sd_event_ref(e);
        b->name = name;
        b->timeout = timeout;
        b->timeout_key = timeout_key;
        b->cb = cb;
        b->userdata = userdata;
        r = sd_event_add_defer(e, &b->next, on_next, b);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(b->next, SD_EVENT_OFF);
        (void) sd_event_source_set_description(b->next, "sequence-next");
        *ret = TAKE_PTR(b);
        return 0;
}

Sequence *sequence_free(Sequence *b) {
        if (!b)
                return NULL;
        sd_event_source_disable_unref(b->timer);
        sd_event_source_disable_unref(b->next);
        sd_event_unref(b->event);
        free(b->steps);
        free(b->error);
        return mfree(b);
}
