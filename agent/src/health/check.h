/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Health checks: one Check per [check.NAME], each on its own timer, each a
 * Component (so `agentctl status` lists it). A run is asynchronous on the
 * event loop and bounded by the check's timeout; its type (check-*.c)
 * starts it and reports one sample through check_complete().
 *
 * Samples feed a rise/fall state machine, as load balancers do: a check
 * starts `pending` and turns passing after `rise` consecutive passes or
 * failing after `fall` consecutive failures (the first sample after a
 * start often sees a service still reloading); after that a passing check
 * turns failing only after `fall` consecutive failures and a failing one
 * passing only after `rise` consecutive passes, so one bad sample does not
 * flip the instance. A warning (exec exit code 1)
 * counts as a pass for rise/fall but shows as "warning" and makes the
 * instance "degraded".
 *
 * The health server never runs a check: it serves what the last samples
 * left. The checks live in a CheckSet (check-set.h), which reports each
 * sample to its owner; the manager then calls health_server_refresh().
 *
 * This header is the inside of the checks, for check*.c, the unit tests
 * and `agentctl check` (check_run_now(), check_to_json()).
 */

#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "component.h"
#include "curl-glue.h"
#include "health-settings.h"
#include "list.h"

typedef struct Check Check;
typedef struct CheckSet CheckSet;

typedef enum CheckResult {
        CHECK_RESULT_PASS,
        CHECK_RESULT_WARN,
        CHECK_RESULT_FAIL,
        _CHECK_RESULT_MAX,
} CheckResult;

typedef enum CheckState {
        CHECK_STATE_PENDING,    /* not yet `rise` passes nor `fall` failures in a row */
        CHECK_STATE_PASSING,
        CHECK_STATE_FAILING,
        _CHECK_STATE_MAX,
} CheckState;

typedef struct CheckCounters {
        CheckState state;
        unsigned passes;        /* consecutive */
        unsigned failures;      /* consecutive */
} CheckCounters;

/* Credentials of [check.NAME] secret=: the field ("username", "password",
 * "host", "port", "dbname") of the loaded secret NAME. *ret stays owned by
 * whoever answers and is valid until the loop runs again. -ENOENT when the
 * secret is not loaded (yet). */
typedef int (*CheckSecretLookup)(void *userdata, const char *secret, const char *field, const char **ret);

/* The server refused the credentials of [check.NAME] secret=NAME (MySQL
 * error 1045): the secret was probably rotated under us. The owner may
 * fetch it again (the manager does, at most once per the secret's
 * refresh_min), so the next run logs in with the new value: a rotation is
 * followed within one check interval, not one refresh period. Called from
 * the event loop (the run's I/O), before the sample is completed; it must
 * not call back into the check. */
typedef void (*CheckSecretRefused)(void *userdata, const char *secret);

/* What the checks need from outside the health layer; the manager fills
 * it. A NULL secret_lookup means no secret is ever loaded; a NULL
 * secret_refused, that nobody listens. */
typedef struct CheckHooks {
        CheckSecretLookup secret_lookup;
        CheckSecretRefused secret_refused;
        void *userdata;
} CheckHooks;

/* A run of one type. start() returns 0 when the run is under way (or
 * already completed through check_complete()), or a negative errno after
 * calling check_complete() itself. stop() aborts an unfinished run and
 * frees c->run; it is called after every completion too. timeout() is
 * optional: a type that must clean up asynchronously (exec: SIGTERM, then
 * SIGKILL, then reap) handles its own timeout and completes later. */
typedef struct CheckVTable {
        int (*start)(Check *c);
        void (*stop)(Check *c);
        void (*timeout)(Check *c);
} CheckVTable;

typedef void (*CheckResolved)(Check *c, const struct sockaddr *sa, socklen_t len);

typedef void (*CheckWaiterDone)(Check *c, void *userdata);
typedef struct CheckWaiter {
        CheckWaiterDone done;
        void *userdata;
        Check *check;
        LIST_FIELDS(struct CheckWaiter, waiters);
} CheckWaiter;

#define CHECK_DETAIL_MAX 256

struct Check {
        CheckSet *set;                  /* NULL in unit tests */
        sd_event *event;
        CurlGlue *glue;
        const CheckHooks *hooks;        /* the set's */
        const CheckSettings *settings;  /* the owner's config: checks are rebuilt on reload */
        char *component_name;
        Component component;
        const CheckVTable *vtable;

        sd_event_source *timer;         /* next run */
        sd_event_source *timeout_timer; /* current run */
        bool running;
        usec_t run_started;             /* CLOCK_MONOTONIC */
        void *run;                      /* the type's state of the current run */

        CheckCounters counters;
        CheckResult last_result;
        char detail[CHECK_DETAIL_MAX];
        usec_t latency;
        usec_t last_run;                /* CLOCK_REALTIME */
        usec_t since;                   /* CLOCK_REALTIME of the last state change */
        unsigned runs;

        CheckWaiter *waiters;

        /* Name resolution of the current run (check_resolve()). */
        void *resolve_easy;             /* CURL * */
        CheckResolved resolve_done;
        char *resolve_host;
};

/* Pure: feeds one sample; returns true when the state changed. */
bool check_counters_update(CheckCounters *k, bool passed, unsigned rise, unsigned fall);
/* Nagios plugin exit code → result: 0 pass, 1 warn, 2 and anything else fail. */
CheckResult check_result_from_nagios(int exit_code);
const char *check_nagios_label(int exit_code);
const char *check_state_to_string(CheckState s);
/* "passing", "warning", "failing", "pending": what /health shows. */
const char *check_status_string(const Check *c);

/* For check-set.c: a check on the set's loop, glue and hooks. */
int check_new(CheckSet *set, sd_event *e, CurlGlue *glue, const CheckHooks *hooks, const CheckSettings *settings,
              Check **ret);
Check *check_free(Check *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Check *, check_free);
/* Takes over the results of a check of the same name and type (reload). */
void check_take_state(Check *c, const Check *old);

/* Arms the first run after `delay`. */
int check_schedule(Check *c, usec_t delay);
/* Runs now (or joins the run under way); w->done is called when it ends,
 * never from inside this call. */
int check_run_now(Check *c, CheckWaiter *w);
void check_waiter_cancel(CheckWaiter *w);

/* Called by the types, once per run. The detail is shown to people and in
 * /health: never put a secret in it. */
void check_complete(Check *c, CheckResult result, const char *fmt, ...) _printf_(3, 4);
/* Through c->hooks; -ENOENT when there is no lookup or no such secret. */
int check_secret_lookup(Check *c, const char *secret, const char *field, const char **ret);

int check_to_json(const Check *c, cJSON **ret);

/* Resolves host (numeric: at once) and calls done with the first address;
 * a failure completes the check. Cancelled by stop_run(). */
int check_resolve(Check *c, const char *host, unsigned port, CheckResolved done);
void check_resolve_cancel(Check *c);
/* Where tcp and mysql connect: target=, else host=/port=, else the
 * secret's host/port fields. -ENOENT: the secret is not loaded. */
int check_endpoint(Check *c, char **ret_host, unsigned *ret_port, unsigned default_port);

/* check-set.c: a sample arrived (tells the set's owner). NULL-safe. */
void check_set_sample(CheckSet *set, Check *c);

/* The types. */
extern const CheckVTable check_http_vtable, check_tcp_vtable, check_mysql_vtable, check_disk_vtable,
        check_memory_vtable, check_unit_vtable, check_exec_vtable;

/* Evaluations the types use, pure for the unit tests. Each returns the
 * result and writes a one-line detail. */
CheckResult check_disk_evaluate(uint64_t block_size, uint64_t blocks, uint64_t blocks_avail, uint64_t files,
                                uint64_t files_avail, const Threshold *min_free, const Threshold *min_free_inodes,
                                char *detail, size_t n);
/* Parses /proc/meminfo text: MemTotal and MemAvailable in bytes. */
int check_meminfo_parse(const char *text, uint64_t *ret_total, uint64_t *ret_available);
CheckResult check_memory_evaluate(uint64_t total, uint64_t available, const Threshold *min, char *detail, size_t n);
