/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "lifecycle-settings.h"
#include "parse-util.h"

#define ITEM(k, p, f) { k, p, offsetof(LifecycleSettings, f) }
static const ConfItem lifecycle_items[] = {
        ITEM("asg_name", lifecycle_parse_name, asg_name),
        ITEM("launch_hook", lifecycle_parse_name, launch_hook),
        ITEM("terminate_hook", lifecycle_parse_name, terminate_hook),
        ITEM("drain_timeout", conf_parse_duration, drain_timeout),
        ITEM("poll_interval", conf_parse_duration, poll_interval),
        ITEM("heartbeat_interval", conf_parse_duration, heartbeat_interval),
        ITEM("completion_timeout", conf_parse_duration, completion_timeout),
        ITEM("spot", conf_parse_bool, spot),
        ITEM("rebalance", conf_parse_bool, rebalance),
        ITEM("web_port", conf_parse_port, web_port),
        ITEM("drain_loopback", conf_parse_bool, drain_loopback),
        {}
};

const ConfSection lifecycle_conf_section = {
        .name = "lifecycle",
        .items = lifecycle_items,
};

int lifecycle_settings_init(LifecycleSettings *s) {
        *s = (LifecycleSettings) {
                .drain_timeout = 60 * USEC_PER_SEC,
                .poll_interval = 5 * USEC_PER_SEC,      /* what AWS suggests for Spot notices */
                .heartbeat_interval = 60 * USEC_PER_SEC,
                .completion_timeout = 5 * USEC_PER_MINUTE,
                .spot = true,
                .web_port = 80,
        };
        return 0;
}

void lifecycle_settings_done(LifecycleSettings *s) {
        s->asg_name = mfree(s->asg_name);
        s->launch_hook = mfree(s->launch_hook);
        s->terminate_hook = mfree(s->terminate_hook);
}

int lifecycle_parse_name(const char *v, void *field, const char **reason) {
        if (strlen(v) > 255) {
                *reason = "longer than 255 characters";
                return -ERANGE;
        }
        for (const char *p = v; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *reason = "holds a control character";
                        return -EINVAL;
                }
        return conf_parse_string(v, field, reason);
}

int lifecycle_settings_verify(const LifecycleSettings *s, char **ret_error) {
        if (s->poll_interval < 100 * USEC_PER_MSEC || s->poll_interval > USEC_PER_HOUR)
                return conf_error(ret_error, "[lifecycle]: poll_interval= must be from 100ms to 1h");
        /* AWS: a heartbeat timeout is at least 30 s; beat well within it. */
        if (s->heartbeat_interval < USEC_PER_SEC || s->heartbeat_interval > 2 * USEC_PER_HOUR)
                return conf_error(ret_error, "[lifecycle]: heartbeat_interval= must be from 1s to 2h");
        if (s->drain_timeout > USEC_PER_HOUR)
                return conf_error(ret_error, "[lifecycle]: drain_timeout= must be at most 1h");
        return 0;
}
