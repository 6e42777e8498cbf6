/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Where a source stands, as CloudWatch has accepted it: for each file its
 * identity (device and inode, plus a hash of its first bytes, since an
 * inode number is reused once a rotated file is deleted) and the offset up
 * to which its lines were delivered; for the journal, the cursor of the
 * last entry delivered. Saved atomically (shared/fileio.h) after each
 * accepted batch, never before: after a crash agentd resumes here and at
 * worst sends the batch that was in flight again (at-least-once).
 *
 * The file is JSON, one per source: STATE_DIR/NAME.json.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define LOG_HASH_BYTES 256
#define LOG_CHECKPOINT_MAX_FILES 256

typedef struct LogFilePosition {
        char *path;
        uint64_t dev, ino;
        uint64_t offset;
        uint64_t hash;          /* FNV-1a of the first hash_len bytes */
        uint32_t hash_len;
} LogFilePosition;

typedef struct LogCheckpoint {
        LogFilePosition *files;
        size_t n_files;
        char *cursor;
} LogCheckpoint;

void log_checkpoint_done(LogCheckpoint *c);
/* 0, -ENOENT (none yet), -EBADMSG (not ours: the message says why). */
int log_checkpoint_load(const char *path, LogCheckpoint *ret);
int log_checkpoint_save(const char *path, const LogCheckpoint *c);
int log_checkpoint_add_file(LogCheckpoint *c, const LogFilePosition *f);

uint64_t log_hash(const void *p, size_t n);
/* The hash of the first min(LOG_HASH_BYTES, size) bytes of fd. */
int log_hash_fd(int fd, uint64_t *ret_hash, uint32_t *ret_len);
