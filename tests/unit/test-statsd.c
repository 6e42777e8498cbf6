/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <math.h>
#include <sys/socket.h>

#include "statsd.h"
#include "tests.h"

static void test_parse(void) {
        char l1[] = "app.hits:3|c|@0.5|#route:/home,bare,env:prod";
        char l2[] = "q:-2|g", l3[] = "t:12.5|ms|T1656581400|c:abc", l4[] = "u:alice|s", l5[] = "h:1|h";
        StatsdLine l;
        const char *why = NULL;

        CHECK_EQ_INT(statsd_parse_line(l1, &l, &why), 0);
        CHECK_STREQ(l.name, "app.hits");
        CHECK_EQ_INT(l.type, STATSD_COUNTER);
        CHECK(l.value == 3 && l.rate == 0.5);
        CHECK_EQ_INT(l.n_tags, 2);
        CHECK_STREQ(l.tags[0].name, "route");
        CHECK_STREQ(l.tags[0].value, "/home");
        CHECK_STREQ(l.tags[1].name, "env");
        CHECK_EQ_INT(statsd_parse_line(l2, &l, &why), 0);
        CHECK(l.type == STATSD_GAUGE && l.relative && l.value == -2);
        CHECK_EQ_INT(statsd_parse_line(l3, &l, &why), 0);
        CHECK(l.type == STATSD_TIMER && l.value == 12.5);
        CHECK_EQ_INT(statsd_parse_line(l4, &l, &why), 0);
        CHECK(l.type == STATSD_SET);
        CHECK_STREQ(l.set_value, "alice");
        CHECK_EQ_INT(statsd_parse_line(l5, &l, &why), 0);
        CHECK_EQ_INT(l.type, STATSD_TIMER);

        static const struct {
                const char *line, *reason;
        } bad[] = {
                { "novalue", "no ':'" },
                { "x:1", "no '|TYPE'" },
                { "x:1|q", "unknown type" },
                { "x:abc|c", "not a finite number" },
                { "x:nan|g", "not a finite number" },
                { "x:1e400|c", "not a finite number" },
                { "x:-1|ms", "negative timer" },
                { "x:1|c|@0", "sample rate" },
                { "x:1|c|@1.5", "sample rate" },
                { "x:1|c|zz", "unknown field" },
                { ":1|c", "invalid metric name" },
                { "a|b:1|c", "invalid metric name" },
                { "x:1|c|#k:\x01", "invalid tag" },
                { "x:|s", "set value" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char buf[128];
                snprintf(buf, sizeof(buf), "%s", bad[i].line);
                why = NULL;
                CHECK_EQ_INT(statsd_parse_line(buf, &l, &why), -EINVAL);
                CHECK_CONTAINS(why, bad[i].reason);
        }
        {
                char many[1024] = "x:1|c|#";
                for (int i = 0; i < 26; i++)
                        snprintf(many + strlen(many), sizeof(many) - strlen(many), "t%d:v,", i);
                CHECK_EQ_INT(statsd_parse_line(many, &l, &why), -EINVAL);
                CHECK_CONTAINS(why, "more than 25 tags");
        }
}

static unsigned free_udp_port(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);

        CHECK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        CHECK(getsockname(fd, (struct sockaddr *) &sa, &l) == 0);
        close(fd);
        return ntohs(sa.sin_port);
}

static void feed(Statsd *s, const char *text) {
        char buf[STATSD_PACKET_MAX + 1];
        size_t n = strlen(text);

        memcpy(buf, text, n);
        statsd_process(s, buf, n);
}

static void test_process(void) {
        _cleanup_(metric_agg_freep) MetricAgg *agg = NULL;
        _cleanup_(metric_batch_freep) MetricBatch *b = NULL;
        _cleanup_free_ char *text = NULL;
        Statsd *s = NULL;
        sd_event *e = NULL;
        char listen[64];
        size_t len;

        CHECK(sd_event_new(&e) >= 0);
        CHECK_EQ_INT(metric_agg_new(4, &agg), 0);
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", free_udp_port());
        CHECK_EQ_INT(statsd_new(e, listen, agg, &s), 0);
        CHECK_EQ_INT(statsd_component(s)->state, COMPONENT_OK);
        feed(s, "c:1|c\nc:1|c|@0.25\r\ng:5|g\ng:+2|g\ng:-10|g\nu:a|s\nu:b|s\nu:a|s\nbad\n\n");
        CHECK_EQ_INT(statsd_counters(s)->lines, 8);
        CHECK_EQ_INT(statsd_counters(s)->bad_lines, 1);
        statsd_flush(s);
        /* the series table holds 4: a fifth is dropped and counted */
        feed(s, "t:5|ms\nother:1|c");
        CHECK_EQ_INT(statsd_counters(s)->dropped, 1);
        /* the same name as another type is another series (metric_type differs): dropped too */
        feed(s, "c:1|g");
        CHECK_EQ_INT(statsd_counters(s)->dropped, 2);
        feed(s, "a\0b");
        CHECK_EQ_INT(statsd_counters(s)->bad_lines, 2);

        CHECK_EQ_INT(metric_agg_format_prometheus(agg, &text, &len), 0);
        CHECK_CONTAINS(text, "c_total{metric_type=\"counter\"} 5\n");
        CHECK_CONTAINS(text, "g{metric_type=\"gauge\"} -3\n");
        CHECK_CONTAINS(text, "u{metric_type=\"set\"} 2\n");
        CHECK_CONTAINS(text, "t_count{metric_type=\"timing\"} 1\n");
        CHECK_EQ_INT(metric_agg_seal(agg, 0, false, &b), 0);
        CHECK(b && b->n == 4);

        statsd_free(s);
        sd_event_unref(e);
}

TEST_MAIN(test_parse(); test_process();)
