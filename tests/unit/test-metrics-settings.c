/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "metrics-settings.h"
#include "tests.h"

typedef struct Root {
        MetricsSettings metrics;
} Root;

static const ConfSectionRef refs[] = { { &metrics_conf_section, offsetof(Root, metrics) } };
static const ConfTable table = { refs, ELEMENTSOF(refs) };

static char *load(const char *text, Root *root) {
        char path[] = "/tmp/test-metrics-settings-XXXXXX";
        char *error = NULL;
        int fd = mkstemp(path), r;
        FILE *f = fdopen(fd, "w");

        fputs(text, f);
        fclose(f);
        *root = (Root) {};
        CHECK_EQ_INT(metrics_settings_init(&root->metrics), 0);
        r = conf_parse_file(&table, root, path, &error);
        unlink(path);
        if (r >= 0)
                r = metrics_settings_verify(&root->metrics, &error);
        CHECK((r < 0) == (error != NULL));
        return error;
}

static void expect_error(const char *text, const char *what) {
        Root root;
        _cleanup_free_ char *e = load(text, &root);

        CHECK_CONTAINS(e, what);
        metrics_settings_done(&root.metrics);
}

static void test_defaults(void) {
        Root root;
        char *e = load("", &root);
        MetricsSettings *s = &root.metrics;

        CHECK(e == NULL);
        CHECK(s->enabled);
        CHECK_EQ_INT(s->interval, 10 * USEC_PER_SEC);
        CHECK_EQ_INT(s->publish_interval, 60 * USEC_PER_SEC);
        CHECK_STREQ(s->namespace, "CWAgent");
        CHECK_EQ_INT(s->append_dimensions, _METRICS_DIM_ALL);
        CHECK_EQ_INT(s->aggregation_dimensions, METRICS_DIM_ASG);
        CHECK_EQ_INT(s->mounts.n, 1);
        CHECK_STREQ(s->mounts.items[0], "/");
        CHECK_STREQ(s->statsd_listen, "127.0.0.1:8125");
        CHECK_EQ_INT(s->buffer, 60 * USEC_PER_MINUTE);
        CHECK_EQ_INT(s->web_port, 80);
        CHECK(s->nginx_status == NULL);
        metrics_settings_done(s);
}

static void test_values(void) {
        Root root;
        char *e = load("[metrics]\ninterval = 5s\npublish_interval = 30s\nnamespace = My/App\n"
                       "append_dimensions = InstanceId, InstanceType\naggregation_dimensions = none\n"
                       "mounts = /, /data , /data\ninterfaces = eth0,ens5\nstatsd_listen = [::1]:9125\n"
                       "buffer = 0\nweb_port = 0\nnginx_status = http://127.0.0.1/nginx-status\n",
                       &root);
        MetricsSettings *s = &root.metrics;

        CHECK(e == NULL);
        CHECK_EQ_INT(s->interval, 5 * USEC_PER_SEC);
        CHECK_STREQ(s->namespace, "My/App");
        CHECK_EQ_INT(s->append_dimensions, METRICS_DIM_INSTANCE_ID | METRICS_DIM_INSTANCE_TYPE);
        CHECK_EQ_INT(s->aggregation_dimensions, 0);
        CHECK_EQ_INT(s->mounts.n, 2);
        CHECK_STREQ(s->mounts.items[1], "/data");
        CHECK_EQ_INT(s->interfaces.n, 2);
        CHECK_STREQ(s->statsd_listen, "[::1]:9125");
        CHECK_EQ_INT(s->buffer, 0);
        CHECK_EQ_INT(s->web_port, 0);
        metrics_settings_done(s);

        e = load("[metrics]\nstatsd_listen = off\n", &root);
        CHECK(e == NULL && root.metrics.statsd_listen == NULL);
        metrics_settings_done(&root.metrics);
        CHECK_STREQ(metrics_dimension_name(1), "AutoScalingGroupName");
        CHECK(metrics_dimension_name(4) == NULL);
}

static void test_errors(void) {
        expect_error("[metrics]\nstatsd_listen = 0.0.0.0:8125\n", ":2: [metrics] statsd_listen");
        expect_error("[metrics]\nstatsd_listen = 10.0.0.1:8125\n", "not a loopback address");
        expect_error("[metrics]\nstatsd_listen = unix:/tmp/x\n", "not a loopback address");
        expect_error("[metrics]\nappend_dimensions = InstanceId, Region\n", "InstanceId, AutoScalingGroupName");
        expect_error("[metrics]\nappend_dimensions =\n", "none");
        expect_error("[metrics]\nmounts = /, data\n", "absolute paths");
        expect_error("[metrics]\nmounts = /,,/x\n", "absolute paths");
        expect_error("[metrics]\ninterval = 0.5s\n", "from 1s to 1h");
        expect_error("[metrics]\ninterval = 30s\npublish_interval = 10s\n", "publish_interval= is shorter");
        expect_error("[metrics]\nbuffer = 10s\n", "buffer= is shorter");
        expect_error("[metrics]\nnamespace = AWS/EC2\n", "namespace");
        expect_error("[metrics]\nnamespace = a b\n", "namespace");
        expect_error("[metrics]\nweb_port = 70000\n", "port");
        expect_error("[metrics]\nnginx_status = ftp://x\n", "URL");
        expect_error("[metrics]\nstatsd_max_metrics = 0\n", "from 1 to 10000");
        expect_error("[metrics]\nbogus = 1\n", "bogus");
}

TEST_MAIN(test_defaults(); test_values(); test_errors();)
