/* SPDX-License-Identifier: MIT */
/* The control dispatch with fake handlers: answers given inside the
 * handler's call, later from a timer, errors returned, unknown commands,
 * a client that leaves before its answer. Run under ASan and valgrind, a
 * use of a freed client shows up here. */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-event.h>

#include "control.h"
#include "tests.h"

static ControlRequest *held;

static int on_now(ControlRequest *q, const cJSON *args, void *userdata) {
        (*(int *) userdata)++;
        control_request_reply_result(q, "now");
        return 0;
}

static int on_fail(ControlRequest *q, const cJSON *args, void *userdata) {
        return -EBUSY;
}

static int on_twice(ControlRequest *q, const cJSON *args, void *userdata) {
        control_request_reply_result(q, "first");
        control_request_reply_result(q, "second");     /* ignored */
        return -EIO;                                    /* ignored: answered */
}

static int on_later(ControlRequest *q, const cJSON *args, void *userdata) {
        held = q;
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        if (held) {
                control_request_reply_result(held, "later");
                held = NULL;
        }
        return 0;
}

static const ControlCommand commands[] = {
        { "now", on_now, 0 },
        { "fail", on_fail, 0 },
        { "twice", on_twice, 0 },
        { "later", on_later, 0 },
        {}
};

static int connect_to(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        CHECK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0);
        return fd;
}

/* Sends a request and runs the loop until the answer has come whole. */
static char *ask(sd_event *e, const char *path, const char *request) {
        static char buf[4096];
        size_t len = 0;
        int fd = connect_to(path);

        CHECK(write(fd, request, strlen(request)) == (ssize_t) strlen(request));
        for (int i = 0; i < 2000; i++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                CHECK(sd_event_run(e, 10 * 1000) >= 0);
                if (poll(&p, 1, 0) > 0) {
                        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                        if (n <= 0)
                                break;
                        len += (size_t) n;
                }
        }
        close(fd);
        buf[len] = 0;
        return buf;
}

static void test_dispatch(void) {
        char dir[] = "/tmp/test-control-XXXXXX", path[128];
        sd_event *e = NULL;
        sd_event_source *t = NULL;
        ControlServer *s = NULL;
        int calls = 0, fd;

        CHECK(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/control.sock", dir);
        CHECK(sd_event_new(&e) >= 0);
        CHECK(control_server_new(e, path, commands, &calls, &s) >= 0);

        CHECK_CONTAINS(ask(e, path, "{\"command\":\"now\"}\n"), "\"result\":\"now\"");
        CHECK_EQ_INT(calls, 1);
        CHECK_CONTAINS(ask(e, path, "{\"command\":\"fail\"}\n"), "fail failed: Device or resource busy");
        CHECK_CONTAINS(ask(e, path, "{\"command\":\"twice\"}\n"), "\"result\":\"first\"");
        CHECK_CONTAINS(ask(e, path, "{\"command\":\"nope\"}\n"), "unknown command: nope");
        CHECK_CONTAINS(ask(e, path, "nonsense\n"), "not a JSON object");

        CHECK(sd_event_add_time_relative(e, &t, CLOCK_MONOTONIC, 20 * USEC_PER_MSEC, 0, on_timer, NULL) >= 0);
        CHECK_CONTAINS(ask(e, path, "{\"command\":\"later\"}\n"), "\"result\":\"later\"");
        sd_event_source_disable_unref(t);

        /* The client leaves; the late answer is dropped, nothing leaks. */
        fd = connect_to(path);
        CHECK(write(fd, "{\"command\":\"later\"}\n", 20) == 20);
        for (int i = 0; i < 50 && !held; i++)
                CHECK(sd_event_run(e, 10 * 1000) >= 0);
        CHECK(held);
        close(fd);
        for (int i = 0; i < 20; i++)
                CHECK(sd_event_run(e, 1000) >= 0);
        control_request_reply_result(held, "nobody listens");
        held = NULL;
        for (int i = 0; i < 20; i++)
                CHECK(sd_event_run(e, 1000) >= 0);

        /* A request still held by a handler when the server goes. */
        fd = connect_to(path);
        CHECK(write(fd, "{\"command\":\"later\"}\n", 20) == 20);
        for (int i = 0; i < 50 && !held; i++)
                CHECK(sd_event_run(e, 10 * 1000) >= 0);
        CHECK(held);
        held = NULL;
        close(fd);
        control_server_free(s);
        sd_event_unref(e);
        (void) rmdir(dir);
}

TEST_MAIN(
        test_dispatch();
)
