/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fileio.h"

int fsync_directory_of(const char *path) {
        _cleanup_free_ char *d = strdup(path);
        _cleanup_close_ int fd = -EBADF;

        if (!d)
                return -ENOMEM;
        fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

static void atomic_file_clear(AtomicFile *f) {
        closep(&f->fd);
        f->fd = -EBADF;
        f->path = mfree(f->path);
        f->temp = mfree(f->temp);
}

void atomic_file_abort(AtomicFile *f) {
        if (f->temp)
                (void) unlink(f->temp);
        atomic_file_clear(f);
}

int atomic_file_open(AtomicFile *f, const char *path, const char *temp, mode_t mode, uid_t uid, gid_t gid) {
        int r;

        *f = (AtomicFile) ATOMIC_FILE_INIT;
        f->path = strdup(path);
        if (!f->path)
                return -ENOMEM;
        if (temp)
                f->temp = strdup(temp);
        else if (asprintf(&f->temp, "%s.agentd-tmp", path) < 0)
                f->temp = NULL;
        if (!f->temp) {
                atomic_file_clear(f);
                return -ENOMEM;
        }
        (void) unlink(f->temp);
        /* 0600 until owner and mode are right: no window for other users. */
        f->fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (f->fd < 0) {
                r = -errno;
                f->temp = mfree(f->temp);       /* not ours: do not unlink */
                atomic_file_clear(f);
                return r;
        }
        if (fchown(f->fd, uid, gid) < 0 || fchmod(f->fd, mode) < 0) {
                r = -errno;
                atomic_file_abort(f);
                return r;
        }
        return 0;
}

int atomic_file_write(AtomicFile *f, const void *data, size_t len) {
        size_t off = 0;

        if (f->fd < 0)
                return -EBADF;
        while (off < len) {
                ssize_t n = write(f->fd, (const char *) data + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t) n;
        }
        return 0;
}

int atomic_file_sync(AtomicFile *f) {
        int r = 0;

        if (f->fd < 0)
                return 0;
        if (fsync(f->fd) < 0)
                r = -errno;
        if (close(f->fd) < 0 && r == 0)
                r = -errno;
        f->fd = -EBADF;
        return r;
}

int atomic_file_commit(AtomicFile *f) {
        int r = atomic_file_sync(f);

        if (r < 0) {
                atomic_file_abort(f);
                return r;
        }
        if (rename(f->temp, f->path) < 0) {
                r = -errno;
                atomic_file_abort(f);
                return r;
        }
        r = fsync_directory_of(f->path);
        atomic_file_clear(f);
        return r;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        AtomicFile f;
        int r = atomic_file_open(&f, path, NULL, mode, uid, gid);

        if (r < 0)
                return r;
        r = atomic_file_write(&f, data, len);
        if (r < 0) {
                atomic_file_abort(&f);
                return r;
        }
        return atomic_file_commit(&f);
}

int read_file_bounded(const char *path, size_t max, int flags, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                        (flags & READ_FILE_NOFOLLOW ? O_NOFOLLOW : 0));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        /* The size may change under us: read what fstat promised, no more. */
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        explicit_wipe(buf, len);
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int directory_check_private(const char *path, struct stat *ret_st) {
        _cleanup_free_ char *dir = strdup(path);
        char *slash;
        struct stat st;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                slash[1] = 0;
        else
                *slash = 0;
        if (stat(dir, &st) < 0)
                return -errno;
        if (ret_st)
                *ret_st = st;
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return -EPERM;
        if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0 && st.st_gid != getegid()))
                return -EPERM;
        return 0;
}
