/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#include "check.h"
#include "manager.h"
#include "parse-util.h"

/*
 * type=exec: a Nagios-style plugin, run as `/bin/sh -c COMMAND` in its own
 * process group with posix_spawn (signal mask and SIGPIPE reset, stdin
 * /dev/null, stdout and stderr into one pipe). The pipe is read on the loop
 * and the first EXEC_MAX_OUTPUT bytes kept (the first line becomes the
 * detail); the exit is reaped by an sd-event child source, never by polling
 * waitpid(). At the timeout the group gets SIGTERM, then SIGKILL after
 * EXEC_KILL_GRACE, and the run completes when the child is reaped.
 *
 * Exit codes: 0 OK (pass), 1 WARNING (pass, shown as warning), 2 CRITICAL
 * and anything else, signals included, fail.
 */

#define EXEC_MAX_OUTPUT 4096
#define EXEC_KILL_GRACE (1 * USEC_PER_SEC)

extern char **environ;

typedef struct ExecRun {
        pid_t pid;
        int out_fd;
        sd_event_source *child, *out, *kill_timer;
        char output[EXEC_MAX_OUTPUT + 1];
        size_t output_len;
        bool timed_out;
} ExecRun;

static void exec_stop(Check *c) {
        ExecRun *e = c->run;

        if (!e)
                return;
        if (e->pid > 0) {
                /* Only at shutdown or reload: the child must not outlive us
                 * unreaped. SIGKILL is not ignorable; the wait is short. */
                (void) kill(-e->pid, SIGKILL);
                (void) waitpid(e->pid, NULL, 0);
        }
        sd_event_source_disable_unref(e->child);
        sd_event_source_disable_unref(e->out);
        sd_event_source_disable_unref(e->kill_timer);
        closep(&e->out_fd);
        c->run = mfree(e);
}

static void drain_output(ExecRun *e) {
        char scratch[16384];

        for (;;) {
                ssize_t n;
                if (e->output_len < EXEC_MAX_OUTPUT)
                        n = read(e->out_fd, e->output + e->output_len, EXEC_MAX_OUTPUT - e->output_len);
                else
                        n = read(e->out_fd, scratch, sizeof(scratch));      /* over the limit: discarded */
                if (n <= 0) {
                        if (n == 0 || (errno != EAGAIN && errno != EINTR))
                                e->out = sd_event_source_disable_unref(e->out);
                        break;
                }
                if (e->output_len < EXEC_MAX_OUTPUT)
                        e->output_len += (size_t) n;
        }
        e->output[e->output_len] = 0;
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        drain_output(((Check *) userdata)->run);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Check *c = userdata;
        ExecRun *e = c->run;
        char first[CHECK_DETAIL_MAX - 32];
        char buf[32];

        /* Reaped by sd-event (WEXITED): nothing left to kill. */
        e->child = sd_event_source_disable_unref(e->child);
        e->pid = 0;
        drain_output(e);
        snprintf(first, sizeof(first), "%.*s", (int) strcspn(e->output, "\n"), e->output);
        if (e->timed_out)
                check_complete(c, CHECK_RESULT_FAIL, "killed after timeout=%s%s%s",
                               format_duration(buf, sizeof(buf), c->config->timeout), first[0] ? ": " : "", first);
        else if (si->si_code == CLD_EXITED)
                check_complete(c, check_result_from_nagios(si->si_status), "%s (exit %d)%s%s",
                               check_nagios_label(si->si_status), si->si_status, first[0] ? ": " : "", first);
        else
                check_complete(c, CHECK_RESULT_FAIL, "UNKNOWN (killed by signal %d)%s%s", si->si_status,
                               first[0] ? ": " : "", first);
        return 0;
}

static int on_kill(sd_event_source *s, uint64_t usec, void *userdata) {
        ExecRun *e = ((Check *) userdata)->run;

        (void) kill(-e->pid, SIGKILL);
        return 0;
}

static void exec_timeout(Check *c) {
        ExecRun *e = c->run;

        if (!e || e->pid <= 0)
                return;
        e->timed_out = true;
        (void) kill(-e->pid, SIGTERM);
        (void) sd_event_add_time_relative(c->manager->event, &e->kill_timer, CLOCK_MONOTONIC, EXEC_KILL_GRACE, 1,
                                          on_kill, c);
}

static int spawn(Check *c, ExecRun *e) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, dfl;
        int pipefd[2], r;
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) c->config->command, NULL };

        /* Only our end is non-blocking: a plugin writing to a full pipe
         * must wait for us, not fail with EAGAIN. */
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        e->out_fd = pipefd[0];
        if (fcntl(pipefd[0], F_SETFL, O_NONBLOCK) < 0) {
                close(pipefd[1]);
                return -errno;
        }
        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        sigaddset(&dfl, SIGTERM);
        sigaddset(&dfl, SIGINT);
        sigaddset(&dfl, SIGHUP);
        sigaddset(&dfl, SIGCHLD);
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &dfl);
        posix_spawnattr_setpgroup(&attr, 0);
        r = posix_spawn(&e->pid, "/bin/sh", &fa, &attr, argv, environ);
        if (r != 0)
                e->pid = 0;
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(pipefd[1]);
        return -r;
}

static int exec_start(Check *c) {
        ExecRun *e = calloc(1, sizeof(*e));
        int r;

        if (!e) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        e->out_fd = -EBADF;
        c->run = e;
        r = spawn(c, e);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot run /bin/sh: %s", strerror(-r));
                return r;
        }
        r = sd_event_add_child(c->manager->event, &e->child, e->pid, WEXITED, on_child, c);
        if (r >= 0)
                r = sd_event_add_io(c->manager->event, &e->out, e->out_fd, EPOLLIN, on_output, c);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot watch the command: %s", strerror(-r));
                return r;
        }
        return 0;
}

const CheckVTable check_exec_vtable = {
        .start = exec_start,
        .stop = exec_stop,
        .timeout = exec_timeout,
};
