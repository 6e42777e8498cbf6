/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "check.h"
#include "health.h"
#include "manager.h"
#include "tests.h"

static void test_rise_fall(void) {
        CheckCounters k = {};

        /* The first sample decides at once. */
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

static void test_listen_parse(void) {
        HealthAddress a[HEALTH_MAX_LISTEN];
        const char *bad = NULL;
        char ip[64];

        CHECK_EQ_INT(health_listen_parse(HEALTH_DEFAULT_LISTEN, a, HEALTH_MAX_LISTEN, NULL), 2);
        CHECK(!a[0].is_unix);
        CHECK_EQ_INT(a[0].sa.ss_family, AF_INET);
        CHECK_EQ_INT(ntohs(((struct sockaddr_in *) &a[0].sa)->sin_port), 8081);
        inet_ntop(AF_INET, &((struct sockaddr_in *) &a[0].sa)->sin_addr, ip, sizeof(ip));
        CHECK_STREQ(ip, "127.0.0.1");
        CHECK(a[1].is_unix);
        CHECK_STREQ(((struct sockaddr_un *) &a[1].sa)->sun_path, "/run/agentd/health.sock");
        CHECK_STREQ(a[1].text, "unix:/run/agentd/health.sock");

        CHECK_EQ_INT(health_listen_parse("[::1]:80,*:8080 ,  unix:/x.sock", a, HEALTH_MAX_LISTEN, NULL), 3);
        CHECK_EQ_INT(a[0].sa.ss_family, AF_INET6);
        CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *) &a[0].sa)->sin6_port), 80);
        CHECK_EQ_INT(((struct sockaddr_in *) &a[1].sa)->sin_addr.s_addr, htonl(INADDR_ANY));

        /* Names would need a resolver at start: refused. */
        CHECK(health_listen_parse("localhost:8081", a, HEALTH_MAX_LISTEN, &bad) < 0);
        CHECK_STREQ(bad, "localhost:8081");
        CHECK(health_listen_parse("127.0.0.1:8081, 1.2.3.4:0", a, HEALTH_MAX_LISTEN, &bad) < 0);
        CHECK_STREQ(bad, "1.2.3.4:0");
        CHECK(health_listen_parse("127.0.0.1:99999", a, HEALTH_MAX_LISTEN, NULL) < 0);
        CHECK(health_listen_parse("unix:relative.sock", a, HEALTH_MAX_LISTEN, NULL) < 0);
        CHECK(health_listen_parse("", a, HEALTH_MAX_LISTEN, NULL) < 0);
        CHECK(health_listen_parse(" , ", a, HEALTH_MAX_LISTEN, NULL) < 0);
        CHECK(health_listen_parse("1.1.1.1:1,1.1.1.1:2,1.1.1.1:3", a, 2, NULL) < 0);
}

static void test_thresholds(void) {
        Threshold t;
        char d[CHECK_DETAIL_MAX];

        CHECK_EQ_INT(parse_threshold("10%", &t), 0);
        CHECK(t.percent && t.set);
        CHECK_EQ_INT(t.value, 10);
        CHECK_EQ_INT(parse_threshold("512MiB", &t), 0);
        CHECK(!t.percent);
        CHECK_EQ_INT(t.value, 512ULL << 20);
        CHECK(parse_threshold("101%", &t) < 0);
        CHECK(parse_threshold("%", &t) < 0);
        CHECK(parse_threshold("lots", &t) < 0);

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

static void test_split_host_port(void) {
        char *h = NULL;
        unsigned p = 0;

        CHECK_EQ_INT(check_split_host_port("db.example.com:3306", &h, &p), 0);
        CHECK_STREQ(h, "db.example.com");
        CHECK_EQ_INT(p, 3306);
        free(h);
        CHECK_EQ_INT(check_split_host_port("[::1]:80", &h, &p), 0);
        CHECK_STREQ(h, "::1");
        free(h);
        CHECK(check_split_host_port("nohost", &h, &p) < 0);
        CHECK(check_split_host_port("unix:/x", &h, &p) < 0);
}

static void test_status_compute(void) {
        CheckConfig crit = { .name = (char *) "a", .critical = true, .rise = 2, .fall = 3 };
        CheckConfig soft = { .name = (char *) "b", .critical = false, .rise = 2, .fall = 3 };
        Check a = { .config = &crit }, b = { .config = &soft };
        Check *checks[] = { &a, &b };
        unsigned code = 0;

        a.counters.state = b.counters.state = CHECK_STATE_PASSING;
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, checks, 2, &code), "healthy");
        CHECK_EQ_INT(code, 200);
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, true, checks, 2, &code), "draining");
        CHECK_EQ_INT(code, 503);
        CHECK_STREQ(health_status_compute(MANAGER_STOPPING, false, checks, 2, &code), "draining");
        CHECK_STREQ(health_status_compute(MANAGER_BOOTSTRAPPING, false, checks, 2, &code), "bootstrapping");
        CHECK_EQ_INT(code, 503);
        CHECK_STREQ(health_status_compute(MANAGER_FAILED, false, checks, 2, &code), "unhealthy");
        CHECK_EQ_INT(code, 503);

        b.counters.state = CHECK_STATE_FAILING;         /* non-critical */
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, checks, 2, &code), "degraded");
        CHECK_EQ_INT(code, 200);
        b.counters.state = CHECK_STATE_PASSING;
        a.last_result = CHECK_RESULT_WARN;              /* a warning degrades too */
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, checks, 2, &code), "degraded");
        CHECK_STREQ(check_status_string(&a), "warning");
        a.last_result = CHECK_RESULT_PASS;
        a.counters.state = CHECK_STATE_FAILING;
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, checks, 2, &code), "unhealthy");
        CHECK_EQ_INT(code, 503);
        a.counters.state = CHECK_STATE_UNKNOWN;         /* no sample yet */
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, checks, 2, &code), "unhealthy");
        /* No checks at all: in service. */
        CHECK_STREQ(health_status_compute(MANAGER_RUNNING, false, NULL, 0, &code), "healthy");
}

static void test_check_json(void) {
        CheckConfig k = { .name = (char *) "db", .type = CHECK_MYSQL, .critical = true, .rise = 2, .fall = 3,
                          .secret = (char *) "db" };
        Check c = { .config = &k, .runs = 1, .latency = 12345, .last_result = CHECK_RESULT_FAIL };
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

TEST_MAIN(
        test_rise_fall();
        test_nagios();
        test_listen_parse();
        test_thresholds();
        test_split_host_port();
        test_status_compute();
        test_check_json();
)
