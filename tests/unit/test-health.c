/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "check-set.h"
#include "health.h"
#include "process.h"
#include "tests.h"
#include "time-util.h"

static void test_rise_fall(void) {
        CheckCounters k = {};

        /* Pending until rise passes: one early pass is not enough... */
        CHECK(!check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PENDING);
        CHECK(check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PASSING);
        /* Two failures of fall=3: still passing. */
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PASSING);
        CHECK_EQ_INT(k.failures, 2);
        /* A pass in between starts the count over. */
        CHECK(!check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.failures, 0);
        CHECK_EQ_INT(k.passes, 1);
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK(check_counters_update(&k, false, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_FAILING);
        CHECK_EQ_INT(k.failures, 3);
        /* rise=2: one pass is not enough. */
        CHECK(!check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_FAILING);
        CHECK(check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PASSING);

        /* ...and one early failure (a reload not landed yet) does not make
         * it failing: fall=3 failures do. */
        k = (CheckCounters) {};
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PENDING);
        CHECK(!check_counters_update(&k, true, 2, 3));
        CHECK(check_counters_update(&k, true, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_PASSING);
        k = (CheckCounters) {};
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK(!check_counters_update(&k, false, 2, 3));
        CHECK(check_counters_update(&k, false, 2, 3));
        CHECK_EQ_INT(k.state, CHECK_STATE_FAILING);

        /* rise=fall=1 follows every sample. */
        k = (CheckCounters) {};
        CHECK(check_counters_update(&k, false, 1, 1));
        CHECK_EQ_INT(k.state, CHECK_STATE_FAILING);
        CHECK(check_counters_update(&k, true, 1, 1));
        CHECK(check_counters_update(&k, false, 1, 1));
}

static void test_nagios(void) {
        CHECK_EQ_INT(check_result_from_nagios(0), CHECK_RESULT_PASS);
        CHECK_EQ_INT(check_result_from_nagios(1), CHECK_RESULT_WARN);
        CHECK_EQ_INT(check_result_from_nagios(2), CHECK_RESULT_FAIL);
        CHECK_EQ_INT(check_result_from_nagios(3), CHECK_RESULT_FAIL);
        CHECK_EQ_INT(check_result_from_nagios(127), CHECK_RESULT_FAIL);
        CHECK_STREQ(check_nagios_label(0), "OK");
        CHECK_STREQ(check_nagios_label(1), "WARNING");
        CHECK_STREQ(check_nagios_label(2), "CRITICAL");
        CHECK_STREQ(check_nagios_label(3), "UNKNOWN");
        CHECK_STREQ(check_nagios_label(-1), "UNKNOWN");
}

static void test_thresholds(void) {
        char d[CHECK_DETAIL_MAX];

        /* 8 MiB file system, 4 KiB blocks, 1 MiB available. */
        Threshold two_mib = { .value = 2 << 20, .set = true }, pct = { .value = 10, .percent = true, .set = true };
        Threshold none = {}, inodes = { .value = 50, .percent = true, .set = true };
        CHECK_EQ_INT(check_disk_evaluate(4096, 2048, 256, 100, 90, &two_mib, &none, d, sizeof(d)), CHECK_RESULT_FAIL);
        CHECK_CONTAINS(d, "1.0 MiB free of 8.0 MiB (12.5%), below min_free=2.0 MiB");
        CHECK_EQ_INT(check_disk_evaluate(4096, 2048, 256, 100, 90, &pct, &none, d, sizeof(d)), CHECK_RESULT_PASS);
        CHECK_CONTAINS(d, "90.0% inodes free");
        CHECK_EQ_INT(check_disk_evaluate(4096, 2048, 204, 100, 90, &pct, &none, d, sizeof(d)), CHECK_RESULT_FAIL);
        CHECK_EQ_INT(check_disk_evaluate(4096, 2048, 2048, 100, 49, &none, &inodes, d, sizeof(d)), CHECK_RESULT_FAIL);
        CHECK_CONTAINS(d, "49 inodes free of 100 (49.0%), below min_free_inodes=50%");
        /* No inode accounting (files == 0, e.g. btrfs): passes. */
        CHECK_EQ_INT(check_disk_evaluate(4096, 2048, 2048, 0, 0, &none, &inodes, d, sizeof(d)), CHECK_RESULT_PASS);

        uint64_t total = 0, avail = 0;
        CHECK_EQ_INT(check_meminfo_parse("MemTotal:        1000 kB\nMemFree:  10 kB\nMemAvailable:    250 kB\n",
                                         &total, &avail), 0);
        CHECK_EQ_INT(total, 1024000);
        CHECK_EQ_INT(avail, 256000);
        CHECK(check_meminfo_parse("MemTotal: 1000 kB\n", &total, &avail) < 0);
        Threshold q = { .value = 25, .percent = true, .set = true }, big = { .value = 300000, .set = true };
        CHECK_EQ_INT(check_memory_evaluate(total, avail, &q, d, sizeof(d)), CHECK_RESULT_PASS);
        CHECK_EQ_INT(check_memory_evaluate(total, avail, &big, d, sizeof(d)), CHECK_RESULT_FAIL);
        CHECK_CONTAINS(d, "below min_available=293.0 KiB");
}

static void test_status_compute(void) {
        CheckSettings crit = { .name = (char *) "a", .critical = true, .rise = 2, .fall = 3 };
        CheckSettings soft = { .name = (char *) "b", .critical = false, .rise = 2, .fall = 3 };
        Check a = { .settings = &crit }, b = { .settings = &soft };
        Check *checks[] = { &a, &b };
        unsigned code = 0;

        a.counters.state = b.counters.state = CHECK_STATE_PASSING;
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, checks, 2, &code), "healthy");
        CHECK_EQ_INT(code, 200);
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, true, checks, 2, &code), "draining");
        CHECK_EQ_INT(code, 503);
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_STOPPING, false, checks, 2, &code), "draining");
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_BOOTSTRAPPING, false, checks, 2, &code), "bootstrapping");
        CHECK_EQ_INT(code, 503);
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_FAILED, false, checks, 2, &code), "unhealthy");
        CHECK_EQ_INT(code, 503);

        b.counters.state = CHECK_STATE_FAILING;         /* non-critical */
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, checks, 2, &code), "degraded");
        CHECK_EQ_INT(code, 200);
        b.counters.state = CHECK_STATE_PASSING;
        a.last_result = CHECK_RESULT_WARN;              /* a warning degrades too */
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, checks, 2, &code), "degraded");
        CHECK_STREQ(check_status_string(&a), "warning");
        a.last_result = CHECK_RESULT_PASS;
        a.counters.state = CHECK_STATE_FAILING;
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, checks, 2, &code), "unhealthy");
        CHECK_EQ_INT(code, 503);
        a.counters.state = CHECK_STATE_PENDING;         /* not yet rise passes */
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, checks, 2, &code), "starting");
        CHECK_EQ_INT(code, 503);
        /* No checks at all: in service. */
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, NULL, 0, &code), "healthy");
}

/* The reason: full text on the agent's own sockets, a code in public. */
static void test_verdict_reason(void) {
        CheckSettings crit = { .name = (char *) "fpm", .critical = true, .rise = 2, .fall = 3 };
        Check a = { .settings = &crit };
        Check *checks[] = { &a };
        HealthVerdict v;

        snprintf(a.detail, sizeof(a.detail), "GET http://127.0.0.1/fpm-ping: HTTP 502");
        a.counters.state = CHECK_STATE_FAILING;
        health_verdict(HEALTH_AGENT_RUNNING, false, NULL, checks, 1, &v);
        CHECK_STREQ(v.reason_code, "check_failing");
        CHECK_STREQ(v.reason, "check fpm failing: GET http://127.0.0.1/fpm-ping: HTTP 502");
        a.counters = (CheckCounters) { .state = CHECK_STATE_PENDING, .passes = 1 };
        health_verdict(HEALTH_AGENT_RUNNING, false, NULL, checks, 1, &v);
        CHECK_STREQ(v.status, "starting");
        CHECK_STREQ(v.reason_code, "check_pending");
        CHECK_STREQ(v.reason, "check fpm pending (1 of 2 passes)");
        health_verdict(HEALTH_AGENT_FAILED, false, "bootstrap failed at step secrets: [secret.db] not found", checks,
                       1, &v);
        CHECK_STREQ(v.reason_code, "bootstrap_failed");
        CHECK_CONTAINS(v.reason, "step secrets");
        health_verdict(HEALTH_AGENT_RUNNING, true, NULL, checks, 1, &v);
        CHECK_STREQ(v.reason_code, "draining");
        a.counters.state = CHECK_STATE_PASSING;
        health_verdict(HEALTH_AGENT_RUNNING, false, NULL, checks, 1, &v);
        CHECK_STREQ(v.reason_code, "ok");
        CHECK_EQ_INT(v.code, 200);
}

static void test_check_json(void) {
        CheckSettings k = { .name = (char *) "db", .type = CHECK_MYSQL, .critical = true, .rise = 2, .fall = 3,
                          .secret = (char *) "db" };
        Check c = { .settings = &k, .runs = 1, .latency = 12345, .last_result = CHECK_RESULT_FAIL };
        cJSON *j = NULL;
        char *s;

        c.counters = (CheckCounters) { .state = CHECK_STATE_PASSING, .failures = 2 };
        snprintf(c.detail, sizeof(c.detail), "secret db not loaded");
        CHECK_EQ_INT(check_to_json(&c, &j), 0);
        s = cJSON_PrintUnformatted(j);
        CHECK_CONTAINS(s, "\"name\":\"db\"");
        CHECK_CONTAINS(s, "\"type\":\"mysql\"");
        CHECK_CONTAINS(s, "\"status\":\"passing\"");
        CHECK_CONTAINS(s, "\"result\":\"fail\"");
        CHECK_CONTAINS(s, "\"detail\":\"secret db not loaded\"");
        CHECK_CONTAINS(s, "\"latency_ms\":12.3");
        CHECK_CONTAINS(s, "\"consecutive_failures\":2");
        CHECK_CONTAINS(s, "\"since\":null");
        free(s);
        cJSON_Delete(j);
}

/* A CheckSet on a real loop, with exec checks through the process runner. */
typedef struct Recorder {
        unsigned changed;
        char last[64];
        unsigned waited;
} Recorder;

static void on_event(void *source, const AgentEvent *ev, void *userdata) {
        Recorder *rec = userdata;

        CHECK_EQ_INT(ev->type, CHECK_SET_EVENT_CHANGED);
        rec->changed++;
        snprintf(rec->last, sizeof(rec->last), "%s", ev->name);
}

static void on_waited(Check *c, void *userdata) {
        ((Recorder *) userdata)->waited++;
}

static void run_until(sd_event *e, const unsigned *counter, unsigned want) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;

        while (*counter < want && now_usec(CLOCK_MONOTONIC) < deadline)
                CHECK(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        CHECK_EQ_INT(*counter, want);
}

static int lookup_db(void *userdata, const char *secret, const char *field, const char **ret) {
        if (!streq(secret, "db"))
                return -ENOENT;
        *ret = streq(field, "host") ? "127.0.0.1" : "3306";
        return 0;
}

static void test_check_set(void) {
        CheckSettings ok = { .name = (char *) "ok", .type = CHECK_EXEC, .interval = USEC_PER_HOUR,
                             .timeout = 5 * USEC_PER_SEC, .critical = true, .rise = 1, .fall = 1,
                             .command = (char *) "echo fine; echo second line" };
        CheckSettings warn = { .name = (char *) "warn", .type = CHECK_EXEC, .interval = USEC_PER_HOUR,
                               .timeout = 5 * USEC_PER_SEC, .critical = true, .rise = 1, .fall = 1,
                               .command = (char *) "echo slow; exit 1" };
        CheckSettings hang = { .name = (char *) "hang", .type = CHECK_EXEC, .interval = USEC_PER_HOUR,
                               .timeout = 200 * USEC_PER_MSEC, .critical = false, .rise = 1, .fall = 1,
                               .command = (char *) "trap '' TERM; echo stuck; sleep 30 & wait" };
        CheckSettings *list[] = { &ok, &warn, &hang };
        CheckHooks hooks = { .secret_lookup = lookup_db };
        _cleanup_(check_set_freep) CheckSet *set = NULL;
        _cleanup_(component_list_done) ComponentList comps = {};
        Recorder rec = {};
        CheckWaiter w = { .done = on_waited, .userdata = &rec };
        const char *v = NULL;
        unsigned code;
        size_t n;
        sd_event *e = NULL;
        Check *c;
        usec_t started;

        CHECK(sd_event_new(&e) >= 0);
        CHECK_EQ_INT(check_set_new(e, NULL, list, 3, &hooks, on_event, &rec, &set), 0);
        /* Built, not started: no run, no callback. */
        CHECK_EQ_INT(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0, 1);
        CHECK_EQ_INT(rec.changed, 0);
        CHECK_EQ_INT(check_set_add_components(set, &comps), 0);
        CHECK_EQ_INT(comps.n, 3);
        CHECK_STREQ(comps.items[0]->name, "check.ok");
        CHECK_EQ_INT(comps.items[0]->state, COMPONENT_STARTING);
        CHECK(check_set_find(set, "nope") == NULL);
        c = check_set_find(set, "ok");
        CHECK(c != NULL);
        CHECK_EQ_INT(check_secret_lookup(c, "db", "host", &v), 0);
        CHECK_STREQ(v, "127.0.0.1");
        CHECK_EQ_INT(check_secret_lookup(c, "other", "host", &v), -ENOENT);

        /* Two samples at once, the third after its timeout (SIGTERM
         * ignored: SIGKILL after the 1 s grace). */
        started = now_usec(CLOCK_MONOTONIC);
        CHECK_EQ_INT(check_set_start(set), 0);
        CHECK_EQ_INT(rec.changed, 0);   /* never from inside the call */
        run_until(e, &rec.changed, 3);
        CHECK_STREQ(rec.last, "hang");
        CHECK(now_usec(CLOCK_MONOTONIC) - started >= USEC_PER_SEC);
        CHECK_STREQ(check_set_find(set, "ok")->detail, "OK (exit 0): fine");
        CHECK_STREQ(check_status_string(check_set_find(set, "warn")), "warning");
        CHECK_CONTAINS(check_set_find(set, "hang")->detail, "killed after timeout=200ms: stuck");
        CHECK_EQ_INT(check_set_find(set, "hang")->counters.state, CHECK_STATE_FAILING);
        Check *const *all = check_set_checks(set, &n);
        CHECK_EQ_INT(n, 3);
        /* warn passes with a warning; hang is not critical: degraded. */
        CHECK_STREQ(health_status_compute(HEALTH_AGENT_RUNNING, false, all, n, &code), "degraded");
        CHECK_EQ_INT(code, 200);

        /* agentctl check: a waiter, answered from the loop. */
        CHECK_EQ_INT(check_run_now(check_set_find(set, "ok"), &w), 0);
        CHECK_EQ_INT(rec.waited, 0);
        run_until(e, &rec.waited, 1);
        CHECK_EQ_INT(rec.changed, 4);
        CHECK_EQ_INT(check_set_find(set, "ok")->runs, 2);

        /* Reload: "ok" keeps its results, "warn" changed type and starts
         * over, "hang" is gone. */
        CheckSettings ok2 = ok, warn2 = { .name = (char *) "warn", .type = CHECK_DISK, .interval = USEC_PER_HOUR,
                                          .timeout = USEC_PER_SEC, .rise = 1, .fall = 1, .path = (char *) "/" };
        CheckSettings *list2[] = { &ok2, &warn2 };
        CHECK_EQ_INT(check_set_reload(set, list2, 2), 0);
        check_set_checks(set, &n);
        CHECK_EQ_INT(n, 2);
        CHECK(check_set_find(set, "hang") == NULL);
        CHECK_EQ_INT(check_set_find(set, "ok")->runs, 2);
        CHECK(check_set_find(set, "ok")->settings == &ok2);
        CHECK_EQ_INT(check_set_find(set, "ok")->component.state, COMPONENT_OK);
        CHECK_EQ_INT(check_set_find(set, "warn")->runs, 0);
        run_until(e, &rec.changed, 6);

        set = check_set_free(set);
        sd_event_unref(e);
}

/* One GET over a connected socket, with the loop running the server. */
static char *http_get(sd_event *e, int fd, const char *path) {
        char req[256], *out = calloc(1, 65536);
        size_t len = 0;
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;

        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
        CHECK(write(fd, req, strlen(req)) == (ssize_t) strlen(req));
        (void) fcntl(fd, F_SETFL, O_NONBLOCK);
        while (now_usec(CLOCK_MONOTONIC) < deadline) {
                ssize_t n = read(fd, out + len, 65535 - len);
                if (n == 0)
                        break;
                if (n > 0)
                        len += (size_t) n;
                else
                        CHECK(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
        }
        close(fd);
        return out;
}

static int connect_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(strlen(path) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, path, strlen(path) + 1);
        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        return fd;
}

static int connect_tcp(unsigned port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        return fd;
}

static unsigned free_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0);

        CHECK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        CHECK(getsockname(fd, (struct sockaddr *) &sa, &l) == 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static int endpoint_body(void *userdata, char **ret, size_t *ret_len) {
        unsigned *calls = userdata;

        (*calls)++;
        if (asprintf(ret, "# TYPE x gauge\nx %u\n", *calls) < 0)
                return -ENOMEM;
        *ret_len = strlen(*ret);
        return 0;
}

/* An extra endpoint (/metrics): on unix and loopback listeners, built per
 * request; 404 on a listener that is not local. */
static void test_extra_endpoint(void) {
        char dir[] = "/tmp/test-health-XXXXXX", sock[64], listen[256];
        unsigned local_port = free_port(), any_port = free_port(), calls = 0;
        HealthSettings s = { .max_connections = 8, .max_connections_per_peer = 8, .timeout = 5 * USEC_PER_SEC,
                             .request_timeout = 5 * USEC_PER_SEC, .listen = listen };
        _cleanup_(health_server_freep) HealthServer *h = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
        sd_event *e = NULL;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(sock, sizeof(sock), "%s/health.sock", dir);
        snprintf(listen, sizeof(listen), "unix:%s, 127.0.0.1:%u, *:%u", sock, local_port, any_port);
        CHECK(sd_event_new(&e) >= 0);
        CHECK_EQ_INT(health_server_new(e, &s, NULL, &h), 0);
        CHECK_EQ_INT(health_server_component(h)->state, COMPONENT_OK);
        CHECK_EQ_INT(health_server_add_endpoint(h, "/metrics", "text/plain; version=0.0.4", endpoint_body, &calls), 0);
        CHECK_EQ_INT(health_server_add_endpoint(h, "/metrics", "text/plain", endpoint_body, &calls), -EEXIST);
        CHECK_EQ_INT(health_server_add_endpoint(h, "/health", "text/plain", endpoint_body, &calls), -EEXIST);

        a = http_get(e, connect_unix(sock), "/metrics");
        CHECK_CONTAINS(a, "HTTP/1.1 200");
        CHECK_CONTAINS(a, "Content-Type: text/plain; version=0.0.4");
        CHECK_CONTAINS(a, "\r\n\r\n# TYPE x gauge\nx 1\n");
        b = http_get(e, connect_tcp(local_port), "/metrics");
        CHECK_CONTAINS(b, "\r\n\r\n# TYPE x gauge\nx 2\n");
        /* the wildcard listener (what the ALB would reach) does not serve it */
        c = http_get(e, connect_tcp(any_port), "/metrics");
        CHECK_CONTAINS(c, "HTTP/1.1 404");
        CHECK_EQ_INT(calls, 2);
        /* /health is still answered on every listener */
        d = http_get(e, connect_tcp(any_port), "/health/live");
        CHECK_CONTAINS(d, "HTTP/1.1 200");

        h = health_server_free(h);
        sd_event_unref(e);
        (void) rmdir(dir);
}

TEST_MAIN(
        process_block_sigchld();
        test_extra_endpoint();
        test_rise_fall();
        test_nagios();
        test_thresholds();
        test_status_compute();
        test_verdict_reason();
        test_check_json();
        test_check_set();
)
