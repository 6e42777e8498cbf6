/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "check"

#include "check-set.h"
#include "log.h"

struct CheckSet {
        sd_event *event;
        CurlGlue *glue;
        CheckHooks hooks;
        AgentCallback cb;
        void *userdata;
        Check **checks;
        size_t n;
        bool started;
};

static void free_checks(Check **a, size_t n) {
        for (size_t i = 0; i < n; i++)
                check_free(a[i]);
        free(a);
}

static int build(CheckSet *s, CheckSettings *const *list, size_t n, Check ***ret) {
        Check **a = calloc(MAX(n, 1u), sizeof(Check *));
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = check_new(s, s->event, s->glue, &s->hooks, list[i], &a[i]);
                if (r < 0) {
                        free_checks(a, i);
                        return r;
                }
        }
        *ret = a;
        return 0;
}

int check_set_new(sd_event *e, CurlGlue *glue, CheckSettings *const *list, size_t n, const CheckHooks *hooks,
                  AgentCallback cb, void *userdata, CheckSet **ret) {
        _cleanup_(check_set_freep) CheckSet *s = NULL;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->glue = glue;
        if (hooks)
                s->hooks = *hooks;
        s->cb = cb;
        s->userdata = userdata;
        r = build(s, list, n, &s->checks);
        if (r < 0)
                return log_error_errno(r, "cannot set up the checks: %m");
        s->n = n;
        *ret = TAKE_PTR(s);
        return 0;
}

CheckSet *check_set_free(CheckSet *s) {
        if (!s)
                return NULL;
        free_checks(s->checks, s->n);
        sd_event_unref(s->event);
        return mfree(s);
}

static int schedule_all(CheckSet *s) {
        for (size_t i = 0; i < s->n; i++) {
                int r = check_schedule(s->checks[i], i * USEC_PER_MSEC);
                if (r < 0)
                        return log_error_errno(r, "cannot arm the timer of check %s: %m",
                                               s->checks[i]->settings->name);
        }
        return 0;
}

int check_set_start(CheckSet *s) {
        if (s->started)
                return 0;
        s->started = true;
        log_info("%zu check(s) configured", s->n);
        return schedule_all(s);
}

int check_set_reload(CheckSet *s, CheckSettings *const *list, size_t n) {
        Check **fresh = NULL;
        int r;

        r = build(s, list, n, &fresh);
        if (r < 0)
                return log_error_errno(r, "reload: cannot rebuild the checks, keeping them: %m");
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < s->n; j++) {
                        const Check *o = s->checks[j];
                        if (streq(o->settings->name, fresh[i]->settings->name) &&
                            o->settings->type == fresh[i]->settings->type)
                                check_take_state(fresh[i], o);
                }
        free_checks(s->checks, s->n);
        s->checks = fresh;
        s->n = n;
        return s->started ? schedule_all(s) : 0;
}

Check *check_set_find(CheckSet *s, const char *name) {
        for (size_t i = 0; s && i < s->n; i++)
                if (streq(s->checks[i]->settings->name, name))
                        return s->checks[i];
        return NULL;
}

Check *const *check_set_checks(CheckSet *s, size_t *ret_n) {
        *ret_n = s ? s->n : 0;
        return s ? s->checks : NULL;
}

int check_set_add_components(CheckSet *s, ComponentList *l) {
        for (size_t i = 0; s && i < s->n; i++) {
                int r = component_list_add(l, &s->checks[i]->component);
                if (r < 0)
                        return r;
        }
        return 0;
}

void check_set_sample(CheckSet *s, Check *c) {
        if (!s)
                return;
        agent_callback_invoke(s->cb, s, &(AgentEvent) { .type = CHECK_SET_EVENT_CHANGED,
                                                        .name = c->settings->name }, s->userdata);
}
