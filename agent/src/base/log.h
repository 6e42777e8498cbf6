/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging. Under systemd (stderr is the journal stream named by
 * $JOURNAL_STREAM) records go to the journal with PRIORITY=, the subsystem in
 * AGENTD_SUBSYSTEM= and ERRNO= where there is one; otherwise one plain line
 * "LEVEL subsystem: message" on stderr. Each .c file names its subsystem by
 * defining LOG_SUBSYS before including this header.
 *
 * log_*_errno() return -abs(error), so "return log_error_errno(r, ...)" logs
 * once, where the decision is made, and propagates the error.
 * Never pass a secret to these functions.
 */

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

#ifndef LOG_SUBSYS
#define LOG_SUBSYS "agentd"
#endif

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_STDERR,
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_target(LogTarget t);
/* "debug", "info", "notice", "warning", "err"/"error", "crit" → LOG_*; -EINVAL otherwise */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

int log_internal(int level, int error, const char *subsys,
                 const char *file, int line, const char *func,
                 const char *format, ...) _printf_(7, 8);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), LOG_SUBSYS, __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")
