/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Follows the files of one [logs.NAME] file= source: its globs are scanned
 * at start and again whenever inotify (through sd-event, no polling loop)
 * reports a name created, moved or deleted in a watched directory; a write
 * makes the files be read. Each file is known by device and inode, so a
 * rename is no new file:
 *
 * - rename-and-create rotation: the old file stays open, retired; it is
 *   read to its end before anything else, and closed once the writer has
 *   moved on (the new file has data, or the old one is deleted, or 30 s)
 *   and all of it was delivered;
 * - copytruncate: a size below the read offset means the file was copied
 *   and truncated; the copy (a new file in the same directory whose first
 *   bytes hash the same) is read from where we were, then the truncated
 *   file from its start;
 * - deletion: read to the end through the open descriptor, then closed;
 * - late files: a new name matching a glob is followed from its start.
 *
 * Reading stops while the sink is full (the delivery queue): the files are
 * the buffer, so memory stays bounded whatever the write rate. Positions
 * are committed by the owner once CloudWatch accepted what was read
 * (log_files_commit), and log_files_checkpoint() gives what to save. At
 * start, a checkpoint is resumed, including a file rotated while agentd was
 * not running (found in its directory by device, inode and hash).
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "log-checkpoint.h"
#include "logs-settings.h"
#include "macro.h"

typedef struct LogFiles LogFiles;

typedef struct LogSink {
        /* One event: valid UTF-8, at most LOG_EVENT_MAX_MESSAGE bytes; ts_ms
         * 0: the time read. key/offset: the position covered after it. */
        int (*event)(void *userdata, int64_t ts_ms, const char *msg, size_t len, uint64_t key, uint64_t offset,
                     const char *cursor);
        /* True while the queue is full: reading pauses until resume. */
        bool (*full)(void *userdata);
        /* Files were added or retired: save the checkpoint, so a file that
         * is rotated while agentd is down is found again (optional). */
        void (*files_changed)(void *userdata);
        void *userdata;
} LogSink;

int log_files_new(sd_event *e, const LogSourceSettings *s, usec_t partial_timeout, const LogSink *sink,
                  LogFiles **ret);
LogFiles *log_files_free(LogFiles *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(LogFiles *, log_files_free);

/* Scans the globs (resuming cp where it matches), watches the
 * directories, starts reading. */
int log_files_start(LogFiles *f, const LogCheckpoint *cp);
/* The sink has room again. */
void log_files_resume(LogFiles *f);
/* Draining: partial lines go at once instead of after the timeout. */
void log_files_set_draining(LogFiles *f, bool draining);
/* CloudWatch accepted everything of file key up to offset. */
void log_files_commit(LogFiles *f, uint64_t key, uint64_t offset);
int log_files_checkpoint(LogFiles *f, LogCheckpoint *ret);

/* Everything written so far was read and handed to the sink. */
bool log_files_caught_up(LogFiles *f);
/* Bytes written but not yet accepted by CloudWatch, over all files. */
uint64_t log_files_bytes_behind(LogFiles *f);
size_t log_files_count(LogFiles *f);
const char *log_files_last_error(LogFiles *f);
/* Status: {"path": ..., "offset": ..., "size": ..., "retired": bool}. */
int log_files_to_json(LogFiles *f, void *cjson_array);

/* Pure: a timestamp at the start of msg per strptime format fmt; -EINVAL
 * if it does not parse. With %z the offset is used, else local time. */
int log_parse_timestamp(const char *fmt, const char *msg, size_t len, int64_t *ret_ms);
