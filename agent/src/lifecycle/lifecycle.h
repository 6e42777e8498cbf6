/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The instance's life in its Auto Scaling group.
 *
 * Watching: every poll_interval, IMDS is asked for the target lifecycle
 * state, a Spot interruption notice and (if enabled) a rebalance
 * recommendation. A state turning `Terminated`, a Spot notice or a
 * recommendation is a reason to leave: LIFECYCLE_EVENT_TERMINATE, once,
 * whatever comes next. A `Warmed:*` state says the instance is going into
 * a warm pool: LIFECYCLE_EVENT_WARM_POOL. IMDS keeps a state until it
 * changes, so only changes count.
 *
 * Completing: the launch hook once the instance is healthy (or ABANDON
 * when bootstrap failed), the terminate hook at the end of the drain, both
 * by instance id (no token needed). A hook that is waiting gets a
 * RecordLifecycleActionHeartbeat every heartbeat_interval. IMDS can say
 * `Terminated` before the hook accepts a completion: a ValidationError is
 * retried, with backoff, until the action is accepted, the instance has
 * moved on (DescribeAutoScalingInstances), or completion_timeout passes.
 *
 * The group comes from [lifecycle] asg_name, else the instance's
 * aws:autoscaling:groupName tag, else DescribeAutoScalingInstances.
 */

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "aws.h"
#include "callback.h"
#include "component.h"
#include "imds.h"
#include "lifecycle-settings.h"

typedef struct Lifecycle Lifecycle;

typedef enum LifecycleEventType {
        LIFECYCLE_EVENT_TERMINATE,      /* ev->name: why; ev->usec: time left (0: no deadline from AWS) */
        LIFECYCLE_EVENT_WARM_POOL,      /* ev->name: the Warmed:* state */
        LIFECYCLE_EVENT_IN_SERVICE,     /* a Warmed:* state turned InService */
        LIFECYCLE_EVENT_COMPLETED,      /* a completion ended: ev->name the hook, ev->error (-EALREADY: nothing was waiting) */
} LifecycleEventType;

typedef enum LifecycleHook {
        LIFECYCLE_HOOK_LAUNCH,
        LIFECYCLE_HOOK_TERMINATE,
} LifecycleHook;

int lifecycle_new(sd_event *e, Imds *imds, AwsClient *aws, const LifecycleSettings *s, AgentCallback cb,
                  void *userdata, Lifecycle **ret);
Lifecycle *lifecycle_free(Lifecycle *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Lifecycle *, lifecycle_free);
void lifecycle_set_settings(Lifecycle *l, const LifecycleSettings *s);

/* Once the identity is known: the instance id and its group tag (NULL if
 * none). Starts watching IMDS and, when a launch hook is configured and
 * the instance waits on it, heartbeats. */
int lifecycle_start(Lifecycle *l, const char *instance_id, const char *asg_tag);

/* Completes a hook: CONTINUE (proceed) or ABANDON. LIFECYCLE_EVENT_COMPLETED
 * reports the end through done (always from the loop). -ENOENT: no such
 * hook configured; -EBUSY: a completion of it is under way; -ESTALE: done
 * already. A launch completion first asks whether the instance really
 * waits in Pending:Wait (or Warmed:Pending:Wait). */
int lifecycle_complete(Lifecycle *l, LifecycleHook hook, bool proceed, AgentCallback done, void *userdata);
bool lifecycle_hook_configured(const Lifecycle *l, LifecycleHook hook);
/* The terminate hook waits from the moment the drain starts: heartbeat. */
void lifecycle_terminating(Lifecycle *l);

int lifecycle_add_components(Lifecycle *l, ComponentList *list);

/* Pure, for tests: the group and lifecycle state of the first instance in
 * a DescribeAutoScalingInstances answer. -ENOENT: none listed. */
int lifecycle_parse_describe(const char *xml, char **ret_group, char **ret_state);
/* Pure: the time left before a Spot action ({"action":..,"time":..}). */
int lifecycle_parse_spot(const char *json, usec_t now_realtime, char **ret_action, usec_t *ret_left);
