/* SPDX-License-Identifier: MIT */
/*
 * The control protocol: the real control server on a unix socket in a
 * private directory, with a table of fake commands that answer at once,
 * later, twice, or fail. Each input is sent as one connection's bytes (then
 * the write side is shut); the server must answer with one JSON object
 * holding "ok", and close, whatever the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "fuzz.h"
#include "log.h"
#include "time-util.h"

static sd_event *event;
static ControlServer *server;
static struct sockaddr_un addr = { .sun_family = AF_UNIX };

static int cmd_now(ControlRequest *q, const cJSON *args, void *userdata) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(args, "name");

        if (o && cJSON_IsString(name))
                cJSON_AddStringToObject(o, "name", name->valuestring);
        control_request_reply(q, o);
        return 0;
}

static int on_later(sd_event_source *s, void *userdata) {
        control_request_reply_result(userdata, "later");
        sd_event_source_disable_unref(s);
        return 0;
}

static int cmd_later(ControlRequest *q, const cJSON *args, void *userdata) {
        sd_event_source *s = NULL;
        /* Unreferenced by its own callback, after it answered. */
        return sd_event_add_defer(event, &s, on_later, q);
}

static int cmd_twice(ControlRequest *q, const cJSON *args, void *userdata) {
        control_request_reply_result(q, "one");
        control_request_reply_error(q, "%s", "two");
        return 0;
}

static int cmd_fail(ControlRequest *q, const cJSON *args, void *userdata) {
        return -EINVAL;
}

static const ControlCommand commands[] = {
        { "status", cmd_now, 0 },
        { "later", cmd_later, 0 },
        { "twice", cmd_twice, 0 },
        { "fail", cmd_fail, 0 },
        {}
};

static char dir[] = "/tmp/fuzz-control-XXXXXX";

static void cleanup(void) {
        server = control_server_free(server);   /* unlinks the socket */
        (void) rmdir(dir);
}

static void setup(void) {
        log_set_max_level(LOG_CRIT);
        if (!mkdtemp(dir))
                abort();
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/control.sock", dir);
        if (sd_event_new(&event) < 0 || control_server_new(event, addr.sun_path, commands, NULL, &server) < 0)
                abort();
        atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char answer[2 * CONTROL_MAX_REQUEST];     /* the fake commands echo a name */
        size_t sent = 0, got = 0;
        bool closed = false;
        usec_t end;
        int fd;

        if (!event)
                setup();
        if (size > CONTROL_MAX_REQUEST + 1024)
                return 0;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof(addr)) < 0)
                abort();
        end = now_usec(CLOCK_MONOTONIC) + 20 * USEC_PER_SEC;
        while (!closed) {
                FUZZ_ASSERT(now_usec(CLOCK_MONOTONIC) < end);   /* every request is answered */
                if (sent < size) {
                        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n > 0)
                                sent += (size_t) n;
                        else if (n < 0 && errno != EAGAIN)
                                sent = size;    /* the server closed early (oversized) */
                        if (sent == size)
                                (void) shutdown(fd, SHUT_WR);
                }
                (void) sd_event_run(event, 1000);
                for (;;) {
                        char scratch[4096];
                        char *dst = got < sizeof(answer) - 1 ? answer + got : scratch;
                        size_t room = got < sizeof(answer) - 1 ? sizeof(answer) - 1 - got : sizeof(scratch);
                        ssize_t n = recv(fd, dst, room, MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                                closed = true;
                                break;
                        }
                        if (n < 0)
                                break;
                        if (dst == answer + got)
                                got += (size_t) n;
                }
        }
        close(fd);
        /* An empty request gets no answer (the client went away); anything
         * else gets one JSON object saying whether it worked. */
        if (got > 0) {
                answer[got] = 0;
                cJSON *j = cJSON_Parse(answer);
                FUZZ_ASSERT(cJSON_IsObject(j) && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(j, "ok")));
                cJSON_Delete(j);
        }
        return 0;
}
