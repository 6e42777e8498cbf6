/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_AUTO;
static int journal_detected = -1;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_target(LogTarget t) {
        target = t;
}

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
        [LOG_ERR] = "error",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info",   [LOG_DEBUG] = "debug",
};

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        if (strcasecmp(s, "err") == 0)
                return LOG_ERR;
        for (int i = 0; i < (int) ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return i;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || level >= (int) ELEMENTSOF(level_names))
                return "unknown";
        return level_names[level];
}

/* systemd sets $JOURNAL_STREAM to "dev:ino" of the stream it connected to
 * stderr; if that is still our stderr, the journal is listening. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (journal_detected >= 0)
                return journal_detected;
        journal_detected = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
                fstat(STDERR_FILENO, &st) >= 0 &&
                (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
        return journal_detected;
}

int log_internal(int level, int error, const char *subsys,
                 const char *file, int line, const char *func,
                 const char *format, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        error = error < 0 ? -error : error;
        if ((level & LOG_PRIMASK) > max_level)
                return -error;

        /* Let "%m" print the error we were given. */
        errno = error;
        va_start(ap, format);
        vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        if (target == LOG_TARGET_JOURNAL || (target == LOG_TARGET_AUTO && stderr_is_journal())) {
                char fileline[32];
                snprintf(fileline, sizeof(fileline), "CODE_LINE=%d", line);
                if (error > 0)
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level & LOG_PRIMASK,
                                        "AGENTD_SUBSYSTEM=%s", subsys, "ERRNO=%i", error,
                                        "CODE_FILE=%s", file, fileline, "CODE_FUNC=%s", func, NULL);
                else
                        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%i", level & LOG_PRIMASK,
                                        "AGENTD_SUBSYSTEM=%s", subsys,
                                        "CODE_FILE=%s", file, fileline, "CODE_FUNC=%s", func, NULL);
        } else {
                /* One write per line, so concurrent writers do not interleave. */
                char out[2200];
                int n = snprintf(out, sizeof(out), "%s %s: %s\n",
                                 log_level_to_string(level & LOG_PRIMASK), subsys, msg);
                if (n > 0)
                        (void) !write(STDERR_FILENO, out, MIN((size_t) n, sizeof(out) - 1));
        }
        errno = saved;
        return -error;
}
