/* SPDX-License-Identifier: MIT */
#include <systemd/sd-bus.h>

#include "check.h"

/*
 * type=unit: is a systemd unit active? Two asynchronous calls on the system
 * bus, answered on the loop: Manager.GetUnit(unit) for the object path,
 * then Properties.Get(Unit, ActiveState). "active" passes, "reloading"
 * warns, anything else fails. A fresh connection per run keeps no state
 * across dbus restarts; sd-bus authenticates it on the loop too.
 * $DBUS_SYSTEM_BUS_ADDRESS overrides the bus, as for every sd-bus client.
 */

typedef struct UnitRun {
        sd_bus *bus;
        sd_bus_slot *slot;
} UnitRun;

static void unit_stop(Check *c) {
        UnitRun *u = c->run;

        if (!u)
                return;
        sd_bus_slot_unref(u->slot);
        sd_bus_close_unref(u->bus);
        c->run = mfree(u);
}

static int on_active_state(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Check *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *state = NULL;
        int r;

        if (e) {
                check_complete(c, CHECK_RESULT_FAIL, "%s: cannot read ActiveState: %s", c->settings->unit, e->message);
                return 0;
        }
        r = sd_bus_message_read(reply, "v", "s", &state);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "%s: malformed ActiveState reply", c->settings->unit);
                return 0;
        }
        check_complete(c, streq(state, "active") ? CHECK_RESULT_PASS :
                          streq(state, "reloading") ? CHECK_RESULT_WARN : CHECK_RESULT_FAIL,
                       "%s is %s", c->settings->unit, state);
        return 0;
}

static int on_get_unit(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Check *c = userdata;
        UnitRun *u = c->run;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        const char *path = NULL;
        int r;

        u->slot = sd_bus_slot_unref(u->slot);
        if (e) {
                if (sd_bus_error_has_name(e, "org.freedesktop.systemd1.NoSuchUnit"))
                        check_complete(c, CHECK_RESULT_FAIL, "%s is not loaded", c->settings->unit);
                else
                        check_complete(c, CHECK_RESULT_FAIL, "%s: GetUnit failed: %s", c->settings->unit, e->message);
                return 0;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_call_method_async(u->bus, &u->slot, "org.freedesktop.systemd1", path,
                                             "org.freedesktop.DBus.Properties", "Get", on_active_state, c, "ss",
                                             "org.freedesktop.systemd1.Unit", "ActiveState");
        if (r < 0)
                check_complete(c, CHECK_RESULT_FAIL, "%s: cannot ask for ActiveState: %s", c->settings->unit,
                               strerror(-r));
        return 0;
}

static int unit_start(Check *c) {
        UnitRun *u = calloc(1, sizeof(*u));
        int r;

        if (!u) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        c->run = u;
        r = sd_bus_open_system(&u->bus);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "no system bus: %s", strerror(-r));
                return r;
        }
        r = sd_bus_attach_event(u->bus, c->event, 0);
        if (r >= 0)
                r = sd_bus_call_method_async(u->bus, &u->slot, "org.freedesktop.systemd1",
                                             "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                             "GetUnit", on_get_unit, c, "s", c->settings->unit);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "system bus: %s", strerror(-r));
                return r;
        }
        return 0;
}

const CheckVTable check_unit_vtable = {
        .start = unit_start,
        .stop = unit_stop,
};
