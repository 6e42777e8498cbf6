/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Health checks: one Check per [check.NAME], each on its own timer, each a
 * Component (so `agentctl status` lists it). A run is asynchronous on the
 * event loop and bounded by the check's timeout; its type (check-*.c)
 * starts it and reports one sample through check_complete().
 *
 * Samples feed a rise/fall state machine, as load balancers do: the first
 * sample decides the state at once (nothing is known before it), after that
 * a passing check turns failing only after `fall` consecutive failures and
 * a failing one turns passing only after `rise` consecutive passes, so one
 * bad sample does not flip the instance. A warning (exec exit code 1)
 * counts as a pass for rise/fall but shows as "warning" and makes the
 * instance "degraded".
 *
 * The health server never runs a check: it serves what the last samples
 * left, rebuilt by health_server_refresh() whenever a sample arrives.
 */

#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

#include "component.h"
#include "conf.h"

typedef struct Manager Manager;
typedef struct Check Check;

typedef enum CheckResult {
        CHECK_RESULT_PASS,
        CHECK_RESULT_WARN,
        CHECK_RESULT_FAIL,
        _CHECK_RESULT_MAX,
} CheckResult;

typedef enum CheckState {
        CHECK_STATE_UNKNOWN,    /* no sample yet */
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
 * the secrets subsystem and is valid until the loop runs again. -ENOENT
 * when the secret is not loaded (yet). */
typedef int (*CheckSecretLookup)(Manager *m, const char *secret, const char *field, const char **ret);
int check_secret_lookup_none(Manager *m, const char *secret, const char *field, const char **ret);
/* Through the secrets subsystem (secrets_lookup()); not loaded → -ENOENT. */
int check_secret_lookup_secrets(Manager *m, const char *secret, const char *field, const char **ret);

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
        struct CheckWaiter *next, *prev;
} CheckWaiter;

#define CHECK_DETAIL_MAX 256

struct Check {
        Manager *manager;
        const CheckConfig *config;      /* in m->config: checks are rebuilt on reload */
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
        char resolve_host[256];
};

/* Pure: feeds one sample; returns true when the state changed. */
bool check_counters_update(CheckCounters *k, bool passed, unsigned rise, unsigned fall);
/* Nagios plugin exit code → result: 0 pass, 1 warn, 2 and anything else fail. */
CheckResult check_result_from_nagios(int exit_code);
const char *check_nagios_label(int exit_code);
const char *check_state_to_string(CheckState s);
/* "passing", "warning", "failing", "unknown": what /health shows. */
const char *check_status_string(const Check *c);

int check_new(Manager *m, const CheckConfig *config, Check **ret);
Check *check_free(Check *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Check *, check_free);

/* Arms the first run after `delay`. */
int check_schedule(Check *c, usec_t delay);
/* Runs now (or joins the run under way); w->done is called when it ends. */
int check_run_now(Check *c, CheckWaiter *w);
void check_waiter_cancel(CheckWaiter *w);

/* Called by the types, once per run. The detail is shown to people and in
 * /health: never put a secret in it. */
void check_complete(Check *c, CheckResult result, const char *fmt, ...) _printf_(3, 4);

int check_to_json(const Check *c, cJSON **ret);

/* The set in m->checks, from m->config. checks_start() registers them
 * and runs each at once; checks_reload() rebuilds them from a new config
 * (call it before freeing the old one), keeping the state of a check whose
 * name and type did not change. */
int checks_start(Manager *m);
int checks_reload(Manager *m, Config *old);
void checks_free(Manager *m);
Check *checks_find(Manager *m, const char *name);

/* Resolves host (numeric: at once) and calls done with the first address;
 * a failure completes the check. Cancelled by stop_run(). */
int check_resolve(Check *c, const char *host, unsigned port, CheckResolved done);
void check_resolve_cancel(Check *c);
/* Where tcp and mysql connect: target=, else host=/port=, else the
 * secret's host/port fields. -ENOENT: the secret is not loaded. */
int check_endpoint(Check *c, char **ret_host, unsigned *ret_port, unsigned default_port);

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
/* "HOST:PORT", "[v6]:PORT" → host (caller frees) and port. */
int check_split_host_port(const char *s, char **ret_host, unsigned *ret_port);
