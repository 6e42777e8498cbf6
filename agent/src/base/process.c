/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "parse-util.h"
#include "process.h"
#include "time-util.h"

struct Process {
        sd_event *event;
        pid_t pid;              /* also the process group id */
        int pipe_fd;
        sd_event_source *io, *child, *timer;
        char *output;
        size_t output_len, max_output;
        char *line;             /* the line being assembled, for o.line */
        size_t line_len;
        bool truncated, timed_out, stopped, terminating, exited, pipe_done;
        siginfo_t status;
        usec_t started, kill_grace;
        ProcessLine on_line;
        ProcessDone done;
        void *userdata;
};

void process_block_sigchld(void) {
        sigset_t s;
        sigemptyset(&s);
        sigaddset(&s, SIGCHLD);
        (void) pthread_sigmask(SIG_BLOCK, &s, NULL);
}

pid_t process_pid(const Process *p) {
        return p && !p->exited ? p->pid : 0;
}

static void process_free(Process *p) {
        if (!p)
                return;
        sd_event_source_disable_unref(p->io);
        sd_event_source_disable_unref(p->child);
        sd_event_source_disable_unref(p->timer);
        closep(&p->pipe_fd);
        sd_event_unref(p->event);
        free(p->output);
        free(p->line);
        free(p);
}

void process_cancel(Process *p) {
        if (!p)
                return;
        if (!p->exited && p->pid > 0) {
                (void) kill(-p->pid, SIGKILL);
                /* Reap it here: nobody else will, and SIGKILL is not
                 * ignorable, so the wait is short. */
                (void) waitpid(p->pid, NULL, 0);
        }
        process_free(p);
}

static void flush_line(Process *p) {
        if (!p->on_line || p->line_len == 0)
                return;
        p->line[p->line_len] = 0;
        p->on_line(p, p->line, p->userdata);
        p->line_len = 0;
}

static void feed_lines(Process *p, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (buf[i] == '\n') {
                        flush_line(p);
                        continue;
                }
                if (p->line_len < PROCESS_MAX_LINE)
                        p->line[p->line_len++] = buf[i];
        }
}

/* Keeps the first max_output bytes, notes that more came. */
static void append_output(Process *p, const char *buf, size_t n) {
        size_t room = p->max_output - p->output_len;

        if (n > room)
                p->truncated = true;
        memcpy(p->output + p->output_len, buf, MIN(n, room));
        p->output_len += MIN(n, room);
        if (p->on_line)
                feed_lines(p, buf, n);
}

/* Reads what is there; returns false at EOF or on a hard error. */
static bool drain_pipe(Process *p) {
        char buf[16384];

        for (;;) {
                ssize_t n = read(p->pipe_fd, buf, sizeof(buf));
                if (n > 0) {
                        append_output(p, buf, (size_t) n);
                        continue;
                }
                return n < 0 && (errno == EAGAIN || errno == EINTR);
        }
}

static void maybe_finish(Process *p) {
        ProcessResult res = {};

        /* Both the exit and the end of its output, in whatever order. */
        if (!p->exited || !p->pipe_done)
                return;
        flush_line(p);
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
        else if (p->stopped)
                res.error = -ECANCELED;
        p->done(p, &res, p->userdata);
        process_free(p);
}

static void pipe_done(Process *p) {
        p->io = sd_event_source_disable_unref(p->io);
        closep(&p->pipe_fd);
        p->pipe_fd = -EBADF;
        p->pipe_done = true;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Process *p = userdata;

        if (!drain_pipe(p)) {
                pipe_done(p);
                maybe_finish(p);
        }
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Process *p = userdata;

        p->status = *si;
        p->exited = true;
        p->child = sd_event_source_disable_unref(p->child);
        p->timer = sd_event_source_disable_unref(p->timer);
        /* A grandchild may hold the pipe open: take what is there and stop
         * reading once ours is gone. */
        if (!p->pipe_done) {
                (void) drain_pipe(p);
                pipe_done(p);
        }
        maybe_finish(p);
        return 0;
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = userdata;

        (void) kill(-p->pid, SIGKILL);
        return 0;
}

/* SIGTERM to the group now, SIGKILL after the grace time (once). */
static void terminate(Process *p) {
        if (p->exited || p->terminating)
                return;
        p->terminating = true;
        (void) kill(-p->pid, SIGTERM);
        p->timer = sd_event_source_disable_unref(p->timer);
        (void) sd_event_add_time_relative(p->event, &p->timer, CLOCK_MONOTONIC, p->kill_grace, USEC_PER_MSEC,
                                          on_kill_timer, p);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Process *p = userdata;

        p->timed_out = true;
        terminate(p);
        return 0;
}

void process_stop(Process *p) {
        if (!p || p->exited)
                return;
        p->stopped = true;
        terminate(p);
}

static void child_exec(const char *command, int out_fd) {
        sigset_t none;
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

        /* Only async-signal-safe calls here: libcurl has threads. */
        (void) setpgid(0, 0);
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                (void) signal(sig, SIG_DFL);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(out_fd, STDERR_FILENO) < 0)
                _exit(127);
        /* The pipe's write end must be blocking for the child. */
        (void) fcntl(STDOUT_FILENO, F_SETFL, 0);
        execl("/bin/sh", "sh", "-c", command, (char *) NULL);
        _exit(127);
}

int process_spawn(sd_event *e, const char *command, const ProcessOptions *o, ProcessDone done, void *userdata,
                  Process **ret) {
        static const ProcessOptions defaults = {};
        int fds[2];
        Process *p;
        pid_t pid;
        int r;

        if (!o)
                o = &defaults;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->pipe_fd = -EBADF;
        p->event = sd_event_ref(e);
        p->done = done;
        p->userdata = userdata;
        p->on_line = o->line;
        p->kill_grace = o->kill_grace > 0 ? o->kill_grace : PROCESS_DEFAULT_KILL_GRACE;
        p->max_output = o->max_output > 0 ? o->max_output : PROCESS_DEFAULT_MAX_OUTPUT;
        p->output = malloc(p->max_output + 1);
        if (o->line)
                p->line = malloc(PROCESS_MAX_LINE + 1);
        if (!p->output || (o->line && !p->line)) {
                process_free(p);
                return -ENOMEM;
        }
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
        if (pid == 0)
                child_exec(command, fds[1]);
        /* Also here, so a signal sent before the child ran setpgid() finds
         * the group. */
        (void) setpgid(pid, pid);
        close(fds[1]);
        p->pipe_fd = fds[0];
        p->pid = pid;
        r = sd_event_add_child(e, &p->child, pid, WEXITED, on_child, p);
        if (r >= 0)
                r = sd_event_add_io(e, &p->io, p->pipe_fd, EPOLLIN, on_output, p);
        if (r >= 0 && o->timeout > 0 && o->timeout != USEC_INFINITY)
                r = sd_event_add_time_relative(e, &p->timer, CLOCK_MONOTONIC, o->timeout, USEC_PER_MSEC,
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
