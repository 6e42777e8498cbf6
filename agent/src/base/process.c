/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "process.h"
#include "parse-util.h"
#include "time-util.h"

#define KILL_GRACE (5 * USEC_PER_SEC)

struct Process {
        sd_event *event;
        pid_t pid;
        int pipe_fd;
        sd_event_source *io, *child, *timer;
        char output[PROCESS_MAX_OUTPUT + 1];
        size_t output_len;
        bool truncated, timed_out, exited, pipe_done;
        siginfo_t status;
        usec_t started, timeout;
        ProcessDone done;
        void *userdata;
};

void process_block_sigchld(void) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGCHLD);
        (void) pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void process_free(Process *p) {
        if (!p)
                return;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->child);
        sd_event_source_disable_unref(p->timer);
        closep(&p->pipe_fd);
        sd_event_unref(p->event);
        free(p);
}

void process_cancel(Process *p) {
        if (!p)
                return;
        if (!p->exited && p->pid > 0) {
                (void) kill(p->pid, SIGKILL);
                /* Reap it here: nobody else will, and it dies at once. */
                (void) waitpid(p->pid, NULL, 0);
        }
        process_free(p);
}

static void maybe_finish(Process *p) {
        ProcessResult res = {};

        /* Both the exit and the end of its output, in whatever order. */
        if (!p->exited || !p->pipe_done)
                return;
        p->output[p->output_len] = 0;
        res.output = p->output;
        res.output_truncated = p->truncated;
        res.duration = now_usec(CLOCK_MONOTONIC) - p->started;
        if (p->status.si_code == CLD_EXITED) {
                res.exited = true;
                res.exit_status = p->status.si_status;
        } else
                res.signal = p->status.si_status;
        if (p->timed_out)
                res.error = -ETIME;
        p->done(p, &res, p->userdata);
        process_free(p);
}

/* Keeps the first PROCESS_MAX_OUTPUT bytes, notes that more came. */
static void append_output(Process *p, const char *buf, size_t n) {
        size_t room = PROCESS_MAX_OUTPUT - p->output_len;

        if (n > room)
                p->truncated = true;
        memcpy(p->output + p->output_len, buf, MIN(n, room));
        p->output_len += MIN(n, room);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Process *p = userdata;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                p->io = sd_event_source_disable_unref(p->io);
                closep(&p->pipe_fd);
                p->pipe_fd = -EBADF;
                p->pipe_done = true;
                maybe_finish(p);
                return 0;
        }
        append_output(p, buf, (size_t) n);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Process *p = userdata;

        p->status = *si;
        p->exited = true;
        p->timer = sd_event_source_disable_unref(p->timer);
        /* A grandchild may hold the pipe open: stop reading once ours is gone. */
        if (!p->pipe_done) {
                char buf[4096];
                ssize_t n;
                while ((n = read(p->pipe_fd, buf, sizeof(buf))) > 0)
                        append_output(p, buf, (size_t) n);
                p->io = sd_event_source_disable_unref(p->io);
                p->pipe_done = true;
        }
        maybe_finish(p);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = userdata;

        if (!p->timed_out) {
                p->timed_out = true;
                (void) kill(p->pid, SIGTERM);
                (void) sd_event_source_set_time_relative(s, KILL_GRACE);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else
                (void) kill(p->pid, SIGKILL);
        return 0;
}

int process_spawn(sd_event *e, const char *command, usec_t timeout, ProcessDone done, void *userdata,
                  Process **ret) {
        int fds[2];
        Process *p;
        pid_t pid;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->pipe_fd = -EBADF;
        p->event = sd_event_ref(e);
        p->done = done;
        p->userdata = userdata;
        p->timeout = timeout;
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
                r = -errno;
                process_free(p);
                return r;
        }
        p->started = now_usec(CLOCK_MONOTONIC);
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                process_free(p);
                return r;
        }
        if (pid == 0) {
                sigset_t all;
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                for (int sig = 1; sig < NSIG; sig++)
                        (void) signal(sig, SIG_DFL);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0 ||
                    dup2(fds[1], STDERR_FILENO) < 0)
                        _exit(127);
                /* The pipe's write end must be blocking for the child. */
                (void) fcntl(STDOUT_FILENO, F_SETFL, 0);
                execl("/bin/sh", "sh", "-c", command, (char *) NULL);
                _exit(127);
        }
        close(fds[1]);
        p->pipe_fd = fds[0];
        p->pid = pid;
        r = sd_event_add_child(e, &p->child, pid, WEXITED, on_child, p);
        if (r >= 0)
                r = sd_event_add_io(e, &p->io, p->pipe_fd, EPOLLIN, on_output, p);
        if (r >= 0 && timeout > 0 && timeout != USEC_INFINITY)
                r = sd_event_add_time_relative(e, &p->timer, CLOCK_MONOTONIC, timeout, USEC_PER_MSEC,
                                               on_deadline, p);
        if (r < 0) {
                process_cancel(p);
                return r;
        }
        if (ret)
                *ret = p;
        return 0;
}

char *process_result_describe(const ProcessResult *res, char *buf, size_t n) {
        char d[32];

        if (res->error == -ETIME)
                snprintf(buf, n, "timed out after %s (killed)", format_duration(d, sizeof(d), res->duration));
        else if (res->exited && res->exit_status == 127)
                snprintf(buf, n, "exit status 127 (command not found?)");
        else if (res->exited)
                snprintf(buf, n, "exit status %d", res->exit_status);
        else
                snprintf(buf, n, "killed by signal %d", res->signal);
        return buf;
}
