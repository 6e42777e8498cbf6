/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * [lifecycle]: the Auto Scaling lifecycle hooks and the drain.
 *
 *   asg_name            the group; empty: the aws:autoscaling:groupName tag,
 *                       else DescribeAutoScalingInstances
 *   launch_hook         completed with CONTINUE once healthy, ABANDON when
 *                       bootstrap failed; empty: none
 *   terminate_hook      completed with CONTINUE at the end of the drain
 *   drain_timeout       how long the drain waits for open connections
 *   poll_interval       how often IMDS is asked for the target lifecycle
 *                       state, a Spot notice and a rebalance recommendation
 *   heartbeat_interval  RecordLifecycleActionHeartbeat while a hook waits
 *   spot, rebalance     which IMDS notices start a drain
 *   web_port            the port whose connections the drain waits for
 *   drain_loopback      whether connections from this host itself count
 *                       (no: agentd's own checks keep theirs alive)
 *   completion_timeout  how long a completion refused with ValidationError
 *                       (IMDS ahead of the hook) is retried
 */

#include <stdbool.h>

#include "conf-parser.h"

typedef struct LifecycleSettings {
        char *asg_name;
        char *launch_hook;
        char *terminate_hook;
        usec_t drain_timeout;
        usec_t poll_interval;
        usec_t heartbeat_interval;
        usec_t completion_timeout;
        bool spot;
        bool rebalance;
        unsigned web_port;
        bool drain_loopback;
} LifecycleSettings;

extern const ConfSection lifecycle_conf_section;

int lifecycle_settings_init(LifecycleSettings *s);
void lifecycle_settings_done(LifecycleSettings *s);
int lifecycle_settings_verify(const LifecycleSettings *s, char **ret_error);

/* AWS's own limits on names: 1 to 255 characters, no control characters. */
int lifecycle_parse_name(const char *v, void *field, const char **reason);
