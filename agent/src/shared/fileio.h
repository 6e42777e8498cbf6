/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Files the agent writes must never be seen half-written, and files it
 * reads must never block the loop or lead it somewhere else:
 *
 * - AtomicFile: a temp file next to the target, created O_EXCL|O_NOFOLLOW
 *   with owner and mode set before the first byte, written, fsynced; then
 *   renamed over the target and the directory fsynced. In between, the
 *   staged file can be validated (nginx -t) or dropped. Used for rendered
 *   config, rollback copies and (later) checkpoints.
 * - read_file_bounded(): a regular file of bounded size, opened O_NONBLOCK
 *   (a FIFO planted at the path does not block) and, with
 *   READ_FILE_NOFOLLOW, without following a symlink in the last component.
 *
 * Nothing here logs: errors are negative errno.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "macro.h"

typedef struct AtomicFile {
        char *path;             /* the target */
        char *temp;             /* the staged file */
        int fd;                 /* open until atomic_file_sync() */
} AtomicFile;

#define ATOMIC_FILE_INIT { .fd = -EBADF }

/* temp NULL: "PATH.agentd-tmp". An existing temp file is replaced. */
int atomic_file_open(AtomicFile *f, const char *path, const char *temp, mode_t mode, uid_t uid, gid_t gid);
int atomic_file_write(AtomicFile *f, const void *data, size_t len);
/* fsync and close: the staged file is complete (and may be validated). */
int atomic_file_sync(AtomicFile *f);
/* Rename over the target, fsync the directory. The temp is gone either way. */
int atomic_file_commit(AtomicFile *f);
/* Drop the staged file. Safe to call on a committed or unopened file. */
void atomic_file_abort(AtomicFile *f);

/* open + write + sync + commit. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid);

int fsync_directory_of(const char *path);

#define READ_FILE_NOFOLLOW 1

/* A regular file of at most max bytes, NUL-terminated. -EFBIG over max,
 * -EBADFD not a regular file, -ELOOP a symlink with READ_FILE_NOFOLLOW. */
int read_file_bounded(const char *path, size_t max, int flags, char **ret, size_t *ret_len);

/* Is the directory holding path writable by no one but root (or the
 * caller's own uid)? Anyone else who can write there can plant a symlink,
 * a hard link or a FIFO at path between two of our calls. 0: safe;
 * -EPERM: it is not, *ret_st (optional) tells why (owner, group, mode);
 * other negative errno: cannot stat it. */
int directory_check_private(const char *path, struct stat *ret_st);
