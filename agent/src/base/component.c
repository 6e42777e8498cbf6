/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>

#include "component.h"
#include "json-util.h"
#include "time-util.h"

void component_init(Component *c, const char *name, bool critical) {
        *c = (Component) {
                .name = name,
                .critical = critical,
                .state = COMPONENT_STARTING,
                .since = now_usec(CLOCK_REALTIME),
        };
}

void component_done(Component *c) {
        if (!c)
                return;
        c->detail = mfree(c->detail);
        c->last_error = mfree(c->last_error);
}

static void set_state(Component *c, ComponentState s) {
        if (c->state != s) {
                c->state = s;
                c->since = now_usec(CLOCK_REALTIME);
        }
}

static char *vformat(const char *fmt, va_list ap) _printf_(1, 0);
static char *vformat(const char *fmt, va_list ap) {
        char *d;
        return vasprintf(&d, fmt, ap) < 0 ? NULL : d;
}

void component_set(Component *c, ComponentState s, const char *fmt, ...) {
        char *d;
        va_list ap;

        va_start(ap, fmt);
        d = vformat(fmt, ap);
        va_end(ap);
        free(c->detail);
        c->detail = d;
        set_state(c, s);
}

void component_error(Component *c, ComponentState s, const char *fmt, ...) {
        char *d;
        va_list ap;

        va_start(ap, fmt);
        d = vformat(fmt, ap);
        va_end(ap);
        free(c->last_error);
        c->last_error = d;
        free(c->detail);
        c->detail = d ? strdup(d) : NULL;
        c->last_error_at = now_usec(CLOCK_REALTIME);
        c->errors++;
        set_state(c, s);
}

const char *component_state_to_string(ComponentState s) {
        static const char *const names[_COMPONENT_STATE_MAX] = {
                [COMPONENT_STARTING] = "starting", [COMPONENT_OK] = "ok",
                [COMPONENT_DEGRADED] = "degraded", [COMPONENT_FAILED] = "failed",
                [COMPONENT_DISABLED] = "disabled",
        };
        return s < _COMPONENT_STATE_MAX ? names[s] : "unknown";
}

int component_to_json(const Component *c, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char buf[64];

        if (!o ||
            !cJSON_AddStringToObject(o, "name", c->name) ||
            !cJSON_AddStringToObject(o, "state", component_state_to_string(c->state)) ||
            !cJSON_AddBoolToObject(o, "critical", c->critical) ||
            json_add_string_or_null(o, "detail", c->detail) < 0 ||
            !cJSON_AddStringToObject(o, "since", format_rfc3339(buf, sizeof(buf), c->since)) ||
            json_add_string_or_null(o, "last_error", c->last_error) < 0 ||
            json_add_string_or_null(o, "last_error_at",
                                    c->last_error_at ? format_rfc3339(buf, sizeof(buf), c->last_error_at) : NULL) < 0 ||
            !cJSON_AddNumberToObject(o, "errors", c->errors))
                return -ENOMEM;
        if (c->append_json) {
                int r = c->append_json(c, o);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int component_list_add(ComponentList *l, Component *c) {
        if (!c)
                return 0;
        if (l->n >= l->allocated) {
                size_t m = MAX(l->allocated * 2, 16);
                Component **a = realloc(l->items, m * sizeof(Component *));
                if (!a)
                        return -ENOMEM;
                l->items = a;
                l->allocated = m;
        }
        l->items[l->n++] = c;
        return 0;
}

void component_list_done(ComponentList *l) {
        l->items = mfree(l->items);
        l->n = l->allocated = 0;
}
