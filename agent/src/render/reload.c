/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "reload"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

#include "list.h"
#include "log.h"
#include "process.h"
#include "reload.h"

#define RELOAD_TIMEOUT (90 * USEC_PER_SEC)
#define RECENT_JOBS 32

typedef struct Job {
        Reloader *owner;
        char *unit;
        char *command;
        char *job_path;                 /* set when systemd accepted the job */
        sd_bus_slot *slot;
        Process *process;
        sd_event_source *defer;
        sd_event_source *timeout;       /* systemd never reported the job's end */
        AgentCallback done;
        void *userdata;
        bool if_running;                /* ReloadOrTryRestartUnit */
        LIST_FIELDS(struct Job, jobs);
} Job;

struct Reloader {
        sd_event *event;
        sd_bus *bus;
        bool bus_failed;                /* no systemd here: use commands */
        bool subscribed;
        Job *jobs;
        /* JobRemoved can overtake the method reply: remember recent ends. */
        struct {
                char *path;
                char *result;
        } recent[RECENT_JOBS];
        unsigned recent_next;
};

static void job_free(Job *j) {
        LIST_REMOVE(jobs, j->owner->jobs, j);
        sd_bus_slot_unref(j->slot);
        process_cancel(j->process);
        sd_event_source_disable_unref(j->defer);
        sd_event_source_disable_unref(j->timeout);
        free(j->unit);
        free(j->command);
        free(j->job_path);
        free(j);
}

static void job_finish(Job *j, int error, const char *reason) {
        AgentCallback done = j->done;
        void *userdata = j->userdata;
        Reloader *r = j->owner;

        j->process = NULL;      /* finished processes free themselves */
        job_free(j);
        agent_callback_invoke(done, r, &(AgentEvent) { .type = RELOAD_EVENT_DONE, .error = error, .reason = reason },
                              userdata);
}

static void on_command_done(Process *p, const ProcessResult *res, void *userdata) {
        Job *j = userdata;
        char why[128], reason[512];

        j->process = NULL;
        if (res->error == 0 && res->exited && res->exit_status == 0) {
                log_info("reloaded with: %s", j->command);
                return job_finish(j, 0, NULL);
        }
        snprintf(reason, sizeof(reason), "reload command '%s' failed: %s%s%.200s", j->command,
                 process_result_describe(res, why, sizeof(why)), res->output[0] ? ": " : "", res->output);
        job_finish(j, -EIO, reason);
}

static void run_command(Job *j, const char *why) {
        char reason[512];
        int r;

        if (!j->command) {
                snprintf(reason, sizeof(reason), "cannot reload %s: %s, and no reload_command= is set",
                         j->unit, why);
                return job_finish(j, -EHOSTDOWN, reason);
        }
        if (j->unit)
                log_info("%s; reloading %s with its command", why, j->unit);
        r = process_spawn(j->owner->event, j->command, &(ProcessOptions) { .timeout = RELOAD_TIMEOUT }, on_command_done, j, &j->process);
        if (r < 0) {
                snprintf(reason, sizeof(reason), "cannot run reload command '%s': %s", j->command, strerror(-r));
                job_finish(j, r, reason);
        }
}

static void job_ended(Job *j, const char *result) {
        char reason[256];

        if (streq(result, "done")) {
                log_info("reloaded %s", j->unit);
                return job_finish(j, 0, NULL);
        }
        snprintf(reason, sizeof(reason), "systemd could not reload %s: job %s", j->unit, result);
        job_finish(j, -EIO, reason);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Reloader *r = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        /* systemd merges a reload into the unit's pending job and answers
         * with that job's path: one JobRemoved can end several of ours,
         * including one whose reply is still to come (kept below).
         * Finishing a job may start others: rescan from the head. */
        for (Job *j = r->jobs; j;)
                if (streq_ptr(j->job_path, path)) {
                        job_ended(j, result);
                        j = r->jobs;
                } else
                        j = j->jobs_next;
        unsigned i = r->recent_next++ % RECENT_JOBS;
        free(r->recent[i].path);
        free(r->recent[i].result);
        r->recent[i].path = strdup(path);
        r->recent[i].result = strdup(result);
        return 0;
}

static int on_reload_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Job *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;

        j->slot = sd_bus_slot_unref(j->slot);
        if (e) {
                /* No systemd on this bus: behave as if there were no bus. */
                if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                           SD_BUS_ERROR_NO_REPLY, SD_BUS_ERROR_DISCONNECTED)) {
                        j->owner->bus_failed = true;
                        run_command(j, "systemd is not on the system bus");
                        return 0;
                }
                char reason[512];
                snprintf(reason, sizeof(reason), "systemd refused to reload %s: %s", j->unit,
                         e->message ?: e->name);
                job_finish(j, -EIO, reason);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &path) < 0 || !(j->job_path = strdup(path))) {
                job_finish(j, -EBADMSG, "unexpected answer from systemd to ReloadOrRestartUnit");
                return 0;
        }
        for (unsigned i = 0; i < RECENT_JOBS; i++)
                if (streq_ptr(j->owner->recent[i].path, path)) {
                        job_ended(j, j->owner->recent[i].result);
                        return 0;
                }
        return 0;
}

static int bus_connect(Reloader *r) {
        int k;

        if (r->bus)
                return 0;
        if (r->bus_failed)
                return -EHOSTDOWN;
        k = sd_bus_open_system(&r->bus);
        if (k >= 0)
                k = sd_bus_attach_event(r->bus, r->event, SD_EVENT_PRIORITY_NORMAL);
        if (k >= 0)
                k = sd_bus_match_signal_async(r->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                              "org.freedesktop.systemd1.Manager", "JobRemoved",
                                              on_job_removed, NULL, r);
        /* systemd sends job signals only to subscribers. */
        if (k >= 0)
                k = sd_bus_call_method_async(r->bus, NULL, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                             "org.freedesktop.systemd1.Manager", "Subscribe", NULL, NULL, NULL);
        if (k < 0) {
                r->bus = sd_bus_flush_close_unref(r->bus);
                r->bus_failed = true;
                return k;
        }
        return 0;
}

static int on_job_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Job *j = userdata;
        char reason[256];

        snprintf(reason, sizeof(reason), "reloading %s did not finish within 90 s", strna(j->unit ?: j->command));
        job_finish(j, -ETIMEDOUT, reason);
        return 0;
}

static int on_start(sd_event_source *s, void *userdata) {
        Job *j = userdata;
        Reloader *r = j->owner;
        char why[128];
        int k;

        j->defer = sd_event_source_disable_unref(j->defer);
        if (!j->unit)
                return run_command(j, "no unit"), 0;
        k = bus_connect(r);
        if (k < 0) {
                snprintf(why, sizeof(why), "the system bus is not reachable (%s)", strerror(k == -EHOSTDOWN ? ENOENT : -k));
                return run_command(j, why), 0;
        }
        k = sd_bus_call_method_async(r->bus, &j->slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager",
                                     j->if_running ? "ReloadOrTryRestartUnit" : "ReloadOrRestartUnit",
                                     on_reload_reply, j, "ss", j->unit, "replace");
        if (k < 0) {
                snprintf(why, sizeof(why), "calling systemd failed (%s)", strerror(-k));
                run_command(j, why);
        }
        return 0;
}

static int reload(Reloader *r, const char *unit, const char *command, bool if_running, AgentCallback done,
                  void *userdata) {
        Job *j;
        int k;

        if (isempty(unit) && isempty(command))
                return -EINVAL;
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (Job) { .owner = r, .done = done, .userdata = userdata, .if_running = if_running };
        LIST_PREPEND(jobs, r->jobs, j);
        if ((unit && !(j->unit = strdup(unit))) || (command && !(j->command = strdup(command)))) {
                job_free(j);
                return -ENOMEM;
        }
        k = sd_event_add_defer(r->event, &j->defer, on_start, j);
        if (k >= 0)
                k = sd_event_add_time_relative(r->event, &j->timeout, CLOCK_MONOTONIC,
                                               RELOAD_TIMEOUT + 5 * USEC_PER_SEC, USEC_PER_SEC, on_job_timeout, j);
        if (k < 0) {
                job_free(j);
                return k;
        }
        return 0;
}

int reloader_reload(Reloader *r, const char *unit, const char *command, AgentCallback done, void *userdata) {
        return reload(r, unit, command, false, done, userdata);
}

int reloader_reload_if_running(Reloader *r, const char *unit, const char *command, AgentCallback done,
                               void *userdata) {
        return reload(r, unit, command, true, done, userdata);
}

int reloader_new(sd_event *e, Reloader **ret) {
        Reloader *r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        *ret = r;
        return 0;
}

Reloader *reloader_free(Reloader *r) {
        if (!r)
                return NULL;
        while (r->jobs)
                job_free(r->jobs);
        sd_bus_flush_close_unref(r->bus);
        for (unsigned i = 0; i < RECENT_JOBS; i++) {
                free(r->recent[i].path);
                free(r->recent[i].result);
        }
        sd_event_unref(r->event);
        return mfree(r);
}
