/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "lifecycle"

#include <stdarg.h>
#include <stdio.h>

#include "backoff.h"
#include "json-util.h"
#include "lifecycle.h"
#include "log.h"
#include "parse-util.h"
#include "time-util.h"

#define RETRY_BASE (1 * USEC_PER_SEC)
#define RETRY_CAP (15 * USEC_PER_SEC)

typedef struct Completion {
        Lifecycle *owner;
        LifecycleHook hook;
        bool proceed;
        AgentCallback done;
        void *userdata;
        AwsCall *call;
        sd_event_source *timer;         /* retry, or the deferred answer */
        Backoff backoff;
        usec_t deadline;                /* CLOCK_MONOTONIC */
        int error;
        char reason[256];
        bool finished;
} Completion;

struct Lifecycle {
        sd_event *event;
        Imds *imds;
        AwsClient *aws;
        const LifecycleSettings *settings;
        AgentCallback cb;
        void *userdata;
        Component component;

        char *instance_id;
        char *asg;
        char *target_state;             /* last seen in IMDS */
        bool terminating;               /* a TERMINATE event went out */
        bool spot_seen, rebalance_seen;
        sd_event_source *poll_timer;
        ImdsCall *polls[3];

        Completion *completions[2];     /* by LifecycleHook */
        bool completed[2];
        sd_event_source *heartbeat_timer;
        bool heartbeat[2];              /* which hooks wait */
        AwsCall *heartbeat_call;
        AwsCall *describe_call;
        struct Describe *describing;    /* the userdata of describe_call */
};

static const char *hook_name(const Lifecycle *l, LifecycleHook h) {
        return h == LIFECYCLE_HOOK_LAUNCH ? l->settings->launch_hook : l->settings->terminate_hook;
}

bool lifecycle_hook_configured(const Lifecycle *l, LifecycleHook hook) {
        return !isempty(hook_name(l, hook));
}

/* ------------------------------------------------------------ pure parts */

/* The text of the first <tag>...</tag> in xml (no nesting, no entities but
 * the five XML ones, which AWS names never hold). */
static char *xml_text(const char *xml, const char *tag) {
        char open[64], close[64];
        const char *a, *b;

        snprintf(open, sizeof(open), "<%s>", tag);
        snprintf(close, sizeof(close), "</%s>", tag);
        a = strstr(xml, open);
        if (!a)
                return NULL;
        a += strlen(open);
        b = strstr(a, close);
        if (!b || b - a > 1024)
                return NULL;
        return strndup(a, (size_t) (b - a));
}

int lifecycle_parse_describe(const char *xml, char **ret_group, char **ret_state) {
        const char *member = strstr(xml, "<member>");
        _cleanup_free_ char *g = NULL, *s = NULL;

        if (!member)
                return -ENOENT;
        g = xml_text(member, "AutoScalingGroupName");
        s = xml_text(member, "LifecycleState");
        if (!g || !s || isempty(g) || isempty(s))
                return -EBADMSG;
        *ret_group = TAKE_PTR(g);
        *ret_state = TAKE_PTR(s);
        return 0;
}

int lifecycle_parse_spot(const char *json, usec_t now, char **ret_action, usec_t *ret_left) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(json);
        const char *action = json_get_string_bounded(j, "action", 32), *t = json_get_string_bounded(j, "time", 64);
        usec_t when;

        if (!action || !t || parse_rfc3339(t, &when) < 0)
                return -EBADMSG;
        *ret_action = strdup(action);
        if (!*ret_action)
                return -ENOMEM;
        *ret_left = when > now ? when - now : 0;
        return 0;
}

/* ------------------------------------------------------------ AWS calls */

static char *query_body(const char *action, const Lifecycle *l, const char *hook, const char *extra_key,
                        const char *extra_value) {
        _cleanup_free_ char *asg = aws_form_encode(strempty(l->asg)), *h = aws_form_encode(strempty(hook)),
                            *iid = aws_form_encode(strempty(l->instance_id));
        char *body;

        if (!asg || !h || !iid)
                return NULL;
        if (asprintf(&body, "Action=%s&Version=2011-01-01&AutoScalingGroupName=%s&LifecycleHookName=%s&InstanceId=%s%s%s%s",
                     action, asg, h, iid, extra_key ? "&" : "", strempty(extra_key), extra_key ? "=" : "") < 0)
                return NULL;
        if (extra_value) {
                char *b2;
                if (asprintf(&b2, "%s%s", body, extra_value) < 0)
                        b2 = NULL;
                free(body);
                body = b2;
        }
        return body;
}

typedef void (*DescribeDone)(Lifecycle *l, int error, const char *group, const char *state, void *userdata);

typedef struct Describe {
        Lifecycle *owner;
        DescribeDone done;
        void *userdata;
} Describe;

static void on_described(AwsCall *call, const AwsResult *res, void *userdata) {
        Describe *d = userdata;
        Lifecycle *l = d->owner;
        _cleanup_free_ char *group = NULL, *state = NULL;
        int r = res->error;

        l->describe_call = NULL;
        l->describing = NULL;
        if (r >= 0)
                r = lifecycle_parse_describe(res->body, &group, &state);
        if (r < 0 && r != -ENOENT)
                log_debug("DescribeAutoScalingInstances: %s", res->error < 0 ? strna(res->reason) : "no answer I can read");
        d->done(l, r, group, state, d->userdata);
        free(d);
}

/* The group and lifecycle state of this instance. One at a time. */
static int describe(Lifecycle *l, DescribeDone done, void *userdata) {
        _cleanup_free_ char *iid = aws_form_encode(strempty(l->instance_id)), *body = NULL;
        Describe *d;
        int r;

        if (l->describe_call)
                return -EBUSY;
        if (!iid || asprintf(&body, "Action=DescribeAutoScalingInstances&Version=2011-01-01&InstanceIds.member.1=%s",
                             iid) < 0)
                return -ENOMEM;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (Describe) { .owner = l, .done = done, .userdata = userdata };
        r = aws_call(l->aws, AWS_SERVICE_AUTOSCALING, AWS_PROTOCOL_QUERY, "DescribeAutoScalingInstances", body,
                     on_described, d, &l->describe_call);
        if (r < 0)
                free(d);
        else
                l->describing = d;
        return r;
}

/* ------------------------------------------------------------ heartbeats */

static void heartbeat_arm(Lifecycle *l);

static void on_heartbeat_sent(AwsCall *call, const AwsResult *res, void *userdata) {
        Lifecycle *l = userdata;

        l->heartbeat_call = NULL;
        if (res->error < 0)
                log_debug("heartbeat not recorded: %s", strna(res->reason));
        heartbeat_arm(l);
}

static int on_heartbeat_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Lifecycle *l = userdata;
        LifecycleHook h = l->heartbeat[LIFECYCLE_HOOK_TERMINATE] ? LIFECYCLE_HOOK_TERMINATE : LIFECYCLE_HOOK_LAUNCH;
        _cleanup_free_ char *body = NULL;

        l->heartbeat_timer = sd_event_source_disable_unref(l->heartbeat_timer);
        if (!l->heartbeat[h] || l->heartbeat_call || !l->asg)
                return heartbeat_arm(l), 0;
        body = query_body("RecordLifecycleActionHeartbeat", l, hook_name(l, h), NULL, NULL);
        if (!body || aws_call(l->aws, AWS_SERVICE_AUTOSCALING, AWS_PROTOCOL_QUERY, "RecordLifecycleActionHeartbeat",
                              body, on_heartbeat_sent, l, &l->heartbeat_call) < 0)
                heartbeat_arm(l);
        else
                log_debug("heartbeat for lifecycle hook %s", hook_name(l, h));
        return 0;
}

static void heartbeat_arm(Lifecycle *l) {
        if (l->heartbeat_timer || !(l->heartbeat[0] || l->heartbeat[1]))
                return;
        if (sd_event_add_time_relative(l->event, &l->heartbeat_timer, CLOCK_MONOTONIC,
                                       l->settings->heartbeat_interval, USEC_PER_SEC, on_heartbeat_timer, l) < 0)
                log_warning("cannot arm the lifecycle heartbeat timer");
}

static void heartbeat_set(Lifecycle *l, LifecycleHook h, bool on) {
        l->heartbeat[h] = on && lifecycle_hook_configured(l, h);
        if (!l->heartbeat[0] && !l->heartbeat[1])
                l->heartbeat_timer = sd_event_source_disable_unref(l->heartbeat_timer);
        else
                heartbeat_arm(l);
}

void lifecycle_terminating(Lifecycle *l) {
        if (l && !l->completed[LIFECYCLE_HOOK_TERMINATE])
                heartbeat_set(l, LIFECYCLE_HOOK_TERMINATE, true);
}

/* ------------------------------------------------------------ completion */

static Completion *completion_free(Completion *c) {
        if (!c)
                return NULL;
        aws_call_cancel(c->call);
        sd_event_source_disable_unref(c->timer);
        return mfree(c);
}

static int on_answer(sd_event_source *s, void *userdata) {
        Completion *c = userdata;
        Lifecycle *l = c->owner;
        AgentEvent ev = { .type = LIFECYCLE_EVENT_COMPLETED, .error = c->error, .name = hook_name(l, c->hook),
                          .reason = c->reason[0] ? c->reason : NULL };
        AgentCallback done = c->done;
        void *ud = c->userdata;

        l->completions[c->hook] = NULL;
        completion_free(c);
        agent_callback_invoke(done, l, &ev, ud);
        return 0;
}

/* Ends a completion; the answer leaves from the loop. */
static void completion_finish(Completion *c, int error, const char *fmt, ...) _printf_(3, 4);
static void completion_finish(Completion *c, int error, const char *fmt, ...) {
        Lifecycle *l = c->owner;
        const char *hook = hook_name(l, c->hook);
        va_list ap;

        c->finished = true;
        c->error = error;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
        va_end(ap);
        if (error >= 0 || error == -EALREADY) {
                l->completed[c->hook] = true;
                heartbeat_set(l, c->hook, false);
        }
        if (error >= 0) {
                log_info("lifecycle hook %s completed: %s", hook, c->reason);
                component_set(&l->component, COMPONENT_OK, "group %s: hook %s completed (%s)", l->asg, hook, c->reason);
        } else if (error == -EALREADY) {
                log_info("lifecycle hook %s: %s", hook, c->reason);
        } else {
                log_error("lifecycle hook %s not completed: %s", hook, c->reason);
                component_error(&l->component, COMPONENT_DEGRADED, "hook %s not completed: %s", hook, c->reason);
        }
        c->timer = sd_event_source_disable_unref(c->timer);
        if (sd_event_add_defer(l->event, &c->timer, on_answer, c) < 0)
                on_answer(NULL, c);     /* out of memory: better now than never */
}

static void completion_send(Completion *c);

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Completion *c = userdata;

        c->timer = sd_event_source_disable_unref(c->timer);
        completion_send(c);
        return 0;
}

static void completion_retry(Completion *c, const char *why) {
        usec_t delay = backoff_next(&c->backoff), now = now_usec(CLOCK_MONOTONIC);

        if (now + delay > c->deadline)
                return completion_finish(c, -ETIMEDOUT, "still refused after completion_timeout: %s", why);
        log_notice("lifecycle hook %s: %s; trying again in %.1fs", hook_name(c->owner, c->hook), why,
                   (double) delay / USEC_PER_SEC);
        if (sd_event_add_time_relative(c->owner->event, &c->timer, CLOCK_MONOTONIC, delay, USEC_PER_MSEC, on_retry,
                                       c) < 0)
                completion_finish(c, -ENOMEM, "cannot arm the retry timer");
}

/* After a ValidationError: has the instance moved on, or is the action not
 * there yet? */
static void on_refused_described(Lifecycle *l, int error, const char *group, const char *state, void *userdata) {
        Completion *c = userdata;

        /* Still on the way to the hook's wait state: the action is not
         * there yet, try again. Anywhere else, nothing waits (a plain
         * shutdown, or the hook timed out or was completed already). */
        bool on_the_way = error < 0 || !state ||
                (c->hook == LIFECYCLE_HOOK_TERMINATE ? strncmp(state, "Terminating", 11) == 0 &&
                                                       !streq(state, "Terminating:Proceed")
                                                     : streq(state, "Pending") || streq(state, "Pending:Wait") ||
                                                       streq(state, "Warmed:Pending") ||
                                                       streq(state, "Warmed:Pending:Wait"));

        if (!on_the_way)
                return completion_finish(c, -EALREADY, "nothing waits on it (state %s)", error == -ENOENT ?
                                         "not in a group" : strna(state));
        completion_retry(c, state ? state : "no active lifecycle action yet");
}

static void on_completed(AwsCall *call, const AwsResult *res, void *userdata) {
        Completion *c = userdata;
        const char *code = res->aws_error ? res->aws_error->code : NULL;

        c->call = NULL;
        if (res->error >= 0)
                return completion_finish(c, 0, "%s", c->proceed ? "CONTINUE" : "ABANDON");
        if (streq_ptr(code, "ValidationError")) {
                /* IMDS can run ahead of the hook: ask where the instance is. */
                if (describe(c->owner, on_refused_described, c) < 0)
                        completion_retry(c, "ValidationError");
                return;
        }
        if (res->error_class == AWS_ERROR_FATAL)
                return completion_finish(c, res->error, "%s", strna(res->reason));
        completion_retry(c, strna(res->reason));
}

static void completion_send(Completion *c) {
        Lifecycle *l = c->owner;
        _cleanup_free_ char *body = query_body("CompleteLifecycleAction", l, hook_name(l, c->hook),
                                               "LifecycleActionResult", c->proceed ? "CONTINUE" : "ABANDON");
        int r;

        if (!body)
                return completion_finish(c, -ENOMEM, "out of memory");
        r = aws_call(l->aws, AWS_SERVICE_AUTOSCALING, AWS_PROTOCOL_QUERY, "CompleteLifecycleAction", body,
                     on_completed, c, &c->call);
        if (r < 0)
                completion_retry(c, strerror(-r));
}

/* The launch hook only when the instance waits on one: agentd restarted on
 * an instance long in service must not try. */
static void on_launch_described(Lifecycle *l, int error, const char *group, const char *state, void *userdata) {
        Completion *c = userdata;

        if (error == -ENOENT)
                return completion_finish(c, -EALREADY, "the instance is not in an Auto Scaling group");
        if (error >= 0 && state && !streq(state, "Pending:Wait") && !streq(state, "Warmed:Pending:Wait"))
                return completion_finish(c, -EALREADY, "nothing waits on it (state %s)", state);
        /* Waiting, or no answer: try; a ValidationError is handled. */
        completion_send(c);
}

static void on_group_resolved(Lifecycle *l, int error, const char *group, const char *state, void *userdata);

static void completion_start(Completion *c) {
        Lifecycle *l = c->owner;
        int r;

        if (!l->asg)
                r = describe(l, on_group_resolved, c);
        else if (c->hook == LIFECYCLE_HOOK_LAUNCH)
                r = describe(l, on_launch_described, c);
        else
                return completion_send(c);
        if (r == -EBUSY)
                completion_retry(c, "another DescribeAutoScalingInstances under way");
        else if (r < 0)
                completion_finish(c, r, "cannot ask Auto Scaling: %s", strerror(-r));
}

static void on_group_resolved(Lifecycle *l, int error, const char *group, const char *state, void *userdata) {
        Completion *c = userdata;

        if (error == -ENOENT || (error >= 0 && isempty(group)))
                return completion_finish(c, -EALREADY, "the instance is not in an Auto Scaling group");
        if (error < 0)
                return completion_retry(c, "cannot find the group (DescribeAutoScalingInstances failed)");
        if (free_and_strdup(&l->asg, group) < 0)
                return completion_finish(c, -ENOMEM, "out of memory");
        log_info("Auto Scaling group %s (from DescribeAutoScalingInstances)", group);
        completion_start(c);
}

int lifecycle_complete(Lifecycle *l, LifecycleHook hook, bool proceed, AgentCallback done, void *userdata) {
        Completion *c;

        if (!lifecycle_hook_configured(l, hook))
                return -ENOENT;
        if (l->completions[hook])
                return -EBUSY;
        if (l->completed[hook])
                return -ESTALE;
        if (!l->instance_id)
                return -EADDRNOTAVAIL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        *c = (Completion) {
                .owner = l, .hook = hook, .proceed = proceed, .done = done, .userdata = userdata,
                .backoff = { .base = RETRY_BASE, .cap = RETRY_CAP },
                .deadline = now_usec(CLOCK_MONOTONIC) + l->settings->completion_timeout,
        };
        l->completions[hook] = c;
        log_info("completing lifecycle hook %s with %s", hook_name(l, hook), proceed ? "CONTINUE" : "ABANDON");
        completion_start(c);
        return 0;
}

/* ------------------------------------------------------------ watching */

static void emit(Lifecycle *l, int type, const char *name, usec_t usec) {
        AgentEvent ev = { .type = type, .name = name, .usec = usec };
        agent_callback_invoke(l->cb, l, &ev, l->userdata);
}

static void terminate(Lifecycle *l, const char *why, usec_t left) {
        char buf[32];

        if (l->terminating) {
                log_debug("%s: already leaving", why);
                return;
        }
        l->terminating = true;
        log_notice("%s: leaving%s%s", why, left ? ", time left " : "", left ? format_duration(buf, sizeof(buf), left) : "");
        component_set(&l->component, COMPONENT_OK, "leaving: %s", why);
        emit(l, LIFECYCLE_EVENT_TERMINATE, why, left);
}

static void on_target_state(int error, const char *body, size_t len, void *userdata) {
        Lifecycle *l = userdata;
        _cleanup_free_ char *state = NULL;

        l->polls[0] = NULL;
        if (error < 0) {
                if (error != -ENOENT)
                        log_debug("target lifecycle state: %s", imds_strerror(error));
                return;
        }
        state = strndup(body, strcspn(body, "\r\n"));
        if (!state || streq_ptr(state, l->target_state))
                return;
        log_info("target lifecycle state: %s%s%s", state, l->target_state ? " (was " : "",
                 l->target_state ? l->target_state : "");
        if (streq(state, "Terminated"))
                terminate(l, "target lifecycle state Terminated", 0);
        else if (strncmp(state, "Warmed:", 7) == 0)
                emit(l, LIFECYCLE_EVENT_WARM_POOL, state, 0);
        else if (streq(state, "InService") && l->target_state && strncmp(l->target_state, "Warmed:", 7) == 0)
                emit(l, LIFECYCLE_EVENT_IN_SERVICE, state, 0);
        free(l->target_state);
        l->target_state = TAKE_PTR(state);
}

static void on_spot(int error, const char *body, size_t len, void *userdata) {
        Lifecycle *l = userdata;
        _cleanup_free_ char *action = NULL;
        usec_t left;
        char why[96];

        l->polls[1] = NULL;
        if (error < 0 || l->spot_seen)
                return;
        if (lifecycle_parse_spot(body, now_usec(CLOCK_REALTIME), &action, &left) < 0) {
                log_warning("Spot instance-action: an answer I cannot read; leaving anyway");
                action = strdup("unknown");
                left = 0;
        }
        l->spot_seen = true;
        snprintf(why, sizeof(why), "Spot interruption notice (%s)", strna(action));
        terminate(l, why, left);
}

static void on_rebalance(int error, const char *body, size_t len, void *userdata) {
        Lifecycle *l = userdata;

        l->polls[2] = NULL;
        if (error < 0 || l->rebalance_seen)
                return;
        l->rebalance_seen = true;
        terminate(l, "EC2 rebalance recommendation", 0);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        Lifecycle *l = userdata;

        if (!l->polls[0])
                (void) imds_get(l->imds, "/latest/meta-data/autoscaling/target-lifecycle-state", on_target_state, l,
                                &l->polls[0]);
        if (l->settings->spot && !l->polls[1] && !l->spot_seen)
                (void) imds_get(l->imds, "/latest/meta-data/spot/instance-action", on_spot, l, &l->polls[1]);
        if (l->settings->rebalance && !l->polls[2] && !l->rebalance_seen)
                (void) imds_get(l->imds, "/latest/meta-data/events/recommendations/rebalance", on_rebalance, l,
                                &l->polls[2]);
        (void) sd_event_source_set_time_relative(s, l->settings->poll_interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static void on_start_described(Lifecycle *l, int error, const char *group, const char *state, void *userdata) {
        if (error >= 0 && !l->asg && !isempty(group) && free_and_strdup(&l->asg, group) < 0)
                log_oom();
        if (error >= 0 && state && (streq(state, "Pending:Wait") || streq(state, "Warmed:Pending:Wait"))) {
                log_info("the instance waits on its launch hook (%s)", state);
                heartbeat_set(l, LIFECYCLE_HOOK_LAUNCH, true);
        }
        if (l->asg)
                component_set(&l->component, COMPONENT_OK, "group %s, watching IMDS every %llus", l->asg,
                              (unsigned long long) (l->settings->poll_interval / USEC_PER_SEC));
}

int lifecycle_start(Lifecycle *l, const char *instance_id, const char *asg_tag) {
        int r;

        if (free_and_strdup(&l->instance_id, instance_id) < 0)
                return -ENOMEM;
        if (!isempty(l->settings->asg_name))
                r = free_and_strdup(&l->asg, l->settings->asg_name);
        else
                r = free_and_strdup(&l->asg, isempty(asg_tag) ? NULL : asg_tag);
        if (r < 0)
                return r;
        component_set(&l->component, COMPONENT_OK, "%s%s, watching IMDS", l->asg ? "group " : "no group known yet",
                      strempty(l->asg));
        if (!l->poll_timer) {
                r = sd_event_add_time_relative(l->event, &l->poll_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_poll, l);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(l->poll_timer, SD_EVENT_ON);
        }
        /* Does a launch hook wait on us (heartbeats), and which group? */
        if (lifecycle_hook_configured(l, LIFECYCLE_HOOK_LAUNCH) || !l->asg)
                (void) describe(l, on_start_described, NULL);
        return 0;
}

/* ------------------------------------------------------------ object */

static int lifecycle_append_json(const Component *comp, cJSON *o) {
        const Lifecycle *l = container_of(comp, Lifecycle, component);

        if (json_add_string_or_null(o, "group", l->asg) < 0 ||
            json_add_string_or_null(o, "target_lifecycle_state", l->target_state) < 0 ||
            json_add_string_or_null(o, "launch_hook", l->settings->launch_hook) < 0 ||
            json_add_string_or_null(o, "terminate_hook", l->settings->terminate_hook) < 0 ||
            !cJSON_AddBoolToObject(o, "launch_completed", l->completed[LIFECYCLE_HOOK_LAUNCH]) ||
            !cJSON_AddBoolToObject(o, "terminate_completed", l->completed[LIFECYCLE_HOOK_TERMINATE]) ||
            !cJSON_AddBoolToObject(o, "leaving", l->terminating))
                return -ENOMEM;
        return 0;
}

int lifecycle_add_components(Lifecycle *l, ComponentList *list) {
        return l ? component_list_add(list, &l->component) : 0;
}

void lifecycle_set_settings(Lifecycle *l, const LifecycleSettings *s) {
        if (l)
                l->settings = s;
}

int lifecycle_new(sd_event *e, Imds *imds, AwsClient *aws, const LifecycleSettings *s, AgentCallback cb,
                  void *userdata, Lifecycle **ret) {
        Lifecycle *l = calloc(1, sizeof(*l));

        if (!l)
                return -ENOMEM;
        *l = (Lifecycle) { .event = sd_event_ref(e), .imds = imds, .aws = aws, .settings = s, .cb = cb,
                           .userdata = userdata };
        component_init(&l->component, "lifecycle", false);
        l->component.append_json = lifecycle_append_json;
        component_set(&l->component, COMPONENT_STARTING, "waiting for the instance identity");
        *ret = l;
        return 0;
}

Lifecycle *lifecycle_free(Lifecycle *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(l->polls); i++)
                imds_call_cancel(l->polls[i]);
        for (size_t i = 0; i < ELEMENTSOF(l->completions); i++)
                completion_free(l->completions[i]);
        aws_call_cancel(l->heartbeat_call);
        /* A cancelled call never runs on_described: free its Describe here. */
        aws_call_cancel(l->describe_call);
        free(l->describing);
        sd_event_source_disable_unref(l->poll_timer);
        sd_event_source_disable_unref(l->heartbeat_timer);
        component_done(&l->component);
        free(l->instance_id);
        free(l->asg);
        free(l->target_state);
        sd_event_unref(l->event);
        return mfree(l);
}
