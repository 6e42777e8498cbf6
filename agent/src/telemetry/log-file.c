/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "logs"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "list.h"
#include "log-file.h"
#include "log-line.h"
#include "log.h"
#include "time-util.h"

#define READ_CHUNK (64 * 1024)
/* Per loop iteration, so one busy file cannot starve the loop. */
#define READ_BUDGET (4 * 1024 * 1024)
#define RETIRE_GRACE (30 * USEC_PER_SEC)
#define RESCAN_INTERVAL (10 * USEC_PER_SEC)
#define MAX_FILES 256
#define MAX_WATCHES LOG_SOURCE_MAX_GLOBS

typedef struct LogFile LogFile;
#define FOREACH_FILE(i, head) for (LogFile *i = (head); i; i = i->files_next)
struct LogFile {
        LogFiles *owner;
        char *path;
        int fd;
        uint64_t key;
        uint64_t dev, ino;
        uint64_t hash;
        uint32_t hash_len;
        uint64_t size;                  /* at the last fstat */
        uint64_t emitted;               /* offset covered by the events handed out */
        uint64_t committed;             /* offset accepted by CloudWatch */
        bool retired;                   /* no longer at a matched path */
        bool deleted;
        bool seen;
        bool is_copy;
        usec_t retired_at;
        usec_t last_data;               /* CLOCK_MONOTONIC of the last bytes read */
        LogLineSplitter lines;
        LIST_FIELDS(LogFile, files);
};

struct LogFiles {
        sd_event *event;
        const LogSourceSettings *settings;
        char *globs[LOG_SOURCE_MAX_GLOBS];
        size_t n_globs;
        regex_t multiline;
        bool has_multiline;
        usec_t partial_timeout;
        LogSink sink;

        LogFile *files;
        size_t n_files;
        uint64_t next_key;
        sd_event_source *read_source;   /* deferred read pass */
        sd_event_source *partial_timer;
        sd_event_source *rescan_timer;  /* only while a directory is missing */
        sd_event_source *watches[MAX_WATCHES];
        char *watched[MAX_WATCHES];
        size_t n_watches;
        bool need_scan;
        bool restart;                   /* a copy was put first: start the pass again */
        bool paused;
        bool draining;
        char *last_error;
        char *buf;
};

static void set_error(LogFiles *f, const char *fmt, ...) _printf_(2, 3);
static void set_error(LogFiles *f, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s && !streq_ptr(s, f->last_error))
                log_warning("[logs.%s]: %s", f->settings->name, s);
        free(f->last_error);
        f->last_error = s;
}

int log_parse_timestamp(const char *fmt, const char *msg, size_t len, int64_t *ret_ms) {
        char buf[128];
        struct tm tm = {};
        const char *end;
        time_t t;

        /* strptime needs a NUL: a timestamp sits in the first bytes. */
        len = MIN(len, sizeof(buf) - 1);
        memcpy(buf, msg, len);
        buf[len] = 0;
        tm.tm_isdst = -1;
        end = strptime(buf, fmt, &tm);
        if (!end)
                return -EINVAL;
        if (strstr(fmt, "%z") || strstr(fmt, "%s")) {
                long off = tm.tm_gmtoff;
                t = timegm(&tm) - off;
        } else
                t = mktime(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        *ret_ms = (int64_t) t * 1000;
        return 0;
}

static void on_line(void *userdata, const char *msg, size_t len, uint64_t end_offset) {
        LogFile *lf = userdata;
        LogFiles *f = lf->owner;
        int64_t ts = 0;
        int r;

        if (f->settings->timestamp_format)
                (void) log_parse_timestamp(f->settings->timestamp_format, msg, len, &ts);
        lf->emitted = MAX(lf->emitted, end_offset);
        r = f->sink.event(f->sink.userdata, ts, msg, len, lf->key, end_offset, NULL);
        if (r < 0)
                set_error(f, "%s: cannot queue an event: %s", lf->path, strerror(-r));
}

static LogFile *log_file_free(LogFile *lf) {
        if (!lf)
                return NULL;
        if (lf->owner) {
                LIST_REMOVE(files, lf->owner->files, lf);
                lf->owner->n_files--;
        }
        if (lf->fd >= 0)
                close(lf->fd);
        log_line_done(&lf->lines);
        free(lf->path);
        return mfree(lf);
}

static int refresh_hash(LogFile *lf) {
        if (lf->hash_len >= LOG_HASH_BYTES)
                return 0;
        return log_hash_fd(lf->fd, &lf->hash, &lf->hash_len);
}

/* Opens path as a followed file from offset; put just before `before` (a
 * copy is read before what replaced it, after what was rotated earlier) or
 * last. */
static int log_file_add(LogFiles *f, const char *path, int fd, const struct stat *st, uint64_t offset, bool retired,
                        LogFile *before, LogFile **ret) {
        LogFile *lf;
        int r;

        if (f->n_files >= MAX_FILES) {
                set_error(f, "more than %d files match; %s not followed", MAX_FILES, path);
                return -E2BIG;
        }
        lf = calloc(1, sizeof(*lf));
        if (!lf)
                return -ENOMEM;
        lf->path = strdup(path);
        if (!lf->path) {
                free(lf);
                return -ENOMEM;
        }
        lf->owner = f;
        lf->fd = fd;
        lf->key = ++f->next_key;
        lf->dev = st->st_dev;
        lf->ino = st->st_ino;
        lf->size = (uint64_t) st->st_size;
        if ((uint64_t) st->st_size < offset)
                offset = 0;     /* shorter than where we were: truncated meanwhile */
        lf->emitted = lf->committed = offset;
        lf->retired = retired;
        lf->retired_at = retired ? now_usec(CLOCK_MONOTONIC) : 0;
        lf->seen = true;
        log_line_init(&lf->lines, f->has_multiline ? &f->multiline : NULL, LOG_EVENT_MAX_MESSAGE, on_line, lf,
                      offset);
        r = refresh_hash(lf);
        if (r < 0) {
                lf->fd = -EBADF;
                log_file_free(lf);
                return r;
        }
        if (before)
                LIST_INSERT_BEFORE(files, f->files, before, lf);
        else
                LIST_APPEND(files, f->files, lf);
        f->n_files++;
        log_debug("[logs.%s]: following %s%s from offset %llu", f->settings->name, path,
                  retired ? " (rotated)" : "", (unsigned long long) offset);
        if (ret)
                *ret = lf;
        return 0;
}

static int open_regular(const char *path, int *ret_fd, struct stat *st) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
                close(fd);
                return -EBADFD;
        }
        *ret_fd = fd;
        return 0;
}

static LogFile *find_inode(LogFiles *f, uint64_t dev, uint64_t ino) {
        FOREACH_FILE(lf, f->files)
                if (lf->dev == dev && lf->ino == ino)
                        return lf;
        return NULL;
}

/* A file in dir (not ino) whose first hash_len bytes hash to hash and that
 * is at least min_size long: a rotated copy or a renamed file. by_inode:
 * match dev/ino instead. The newest match wins. */
static int find_in_dir(const char *path, uint64_t dev, uint64_t ino, bool by_inode, uint64_t hash, uint32_t hash_len,
                       uint64_t min_size, char **ret_path) {
        _cleanup_free_ char *copy = strdup(path), *best = NULL;
        struct timespec best_mtime = {};
        DIR *d;
        struct dirent *de;
        const char *dir;

        if (!copy)
                return -ENOMEM;
        dir = dirname(copy);
        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat st;
                char p[4096];
                int fd;
                uint64_t h;
                uint32_t hl;
                char b[LOG_HASH_BYTES];
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size < min_size)
                        continue;
                if (by_inode ? (st.st_dev != dev || st.st_ino != ino) : (st.st_dev == dev && st.st_ino == ino))
                        continue;
                if (by_inode) {
                        best = strdup(p);
                        break;
                }
                fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                if (fd < 0)
                        continue;
                n = pread(fd, b, hash_len, 0);
                close(fd);
                if (n != (ssize_t) hash_len)
                        continue;
                h = log_hash(b, (size_t) n);
                hl = (uint32_t) n;
                if (h != hash || hl != hash_len)
                        continue;
                if (!best || st.st_mtim.tv_sec > best_mtime.tv_sec ||
                    (st.st_mtim.tv_sec == best_mtime.tv_sec && st.st_mtim.tv_nsec > best_mtime.tv_nsec)) {
                        free(best);
                        best = strdup(p);
                        best_mtime = st.st_mtim;
                }
        }
        closedir(d);
        if (!best)
                return -ENOENT;
        *ret_path = TAKE_PTR(best);
        return 0;
}

static bool path_matches(LogFiles *f, const char *path) {
        for (size_t i = 0; i < f->n_globs; i++) {
                glob_t g = {};
                bool hit = false;
                if (glob(f->globs[i], GLOB_NOSORT, NULL, &g) == 0)
                        for (size_t j = 0; j < g.gl_pathc && !hit; j++)
                                hit = streq(g.gl_pathv[j], path);
                globfree(&g);
                if (hit)
                        return true;
        }
        return false;
}

static const LogFilePosition *checkpoint_for(const LogCheckpoint *cp, const char *path) {
        for (size_t i = 0; cp && i < cp->n_files; i++)
                if (streq(cp->files[i].path, path))
                        return &cp->files[i];
        return NULL;
}

/* Is this still the file checkpointed: same identity, at least as long,
 * same first bytes? */
static bool content_matches(const LogFilePosition *p, int fd, const struct stat *st) {
        char b[LOG_HASH_BYTES];
        ssize_t n;

        if (!p || p->dev != (uint64_t) st->st_dev || p->ino != (uint64_t) st->st_ino ||
            (uint64_t) st->st_size < p->offset)
                return false;
        n = pread(fd, b, p->hash_len, 0);
        return n == (ssize_t) p->hash_len && log_hash(b, (size_t) n) == p->hash;
}

/* Where a file found at start resumes: its checkpoint when it is still
 * that file, else its start. */
static uint64_t resume_offset(const LogFilePosition *p, int fd, const struct stat *st) {
        return content_matches(p, fd, st) ? p->offset : 0;
}

static void resume_copy(LogFiles *f, const LogFilePosition *p);

/* A checkpointed file no longer at its path (rotated while agentd was not
 * running): follow it where it went. If its first bytes changed too, it
 * was also truncated (copytruncate) meanwhile: the copy holds the rest of
 * what we had (resume_copy) and the file itself is read from its start. */
static void resume_moved(LogFiles *f, const LogFilePosition *p) {
        _cleanup_free_ char *moved = NULL;
        struct stat st;
        uint64_t from;
        bool same;
        int fd;

        if (find_in_dir(p->path, p->dev, p->ino, true, 0, 0, 0, &moved) < 0)
                return;
        if (find_inode(f, p->dev, p->ino) || open_regular(moved, &fd, &st) < 0)
                return;
        same = content_matches(p, fd, &st);
        from = same ? p->offset : 0;
        /* At start the list is in checkpoint order, oldest first; a copy
         * holds older lines than what the file has now. */
        if (!same)
                resume_copy(f, p);
        if (log_file_add(f, moved, fd, &st, from, true, NULL, NULL) < 0) {
                close(fd);
                return;
        }
        log_info("[logs.%s]: %s was rotated to %s while agentd was stopped; reading it from offset %llu",
                 f->settings->name, p->path, moved, (unsigned long long) from);
}

/* A checkpointed file truncated while agentd was not running
 * (copytruncate): its copy holds the rest. */
static void resume_copy(LogFiles *f, const LogFilePosition *p) {
        _cleanup_free_ char *copy = NULL;
        struct stat st;
        LogFile *c;
        int fd;

        if (find_in_dir(p->path, p->dev, p->ino, false, p->hash, p->hash_len, p->offset, &copy) < 0 ||
            open_regular(copy, &fd, &st) < 0)
                return;
        if (find_inode(f, st.st_dev, st.st_ino) || log_file_add(f, copy, fd, &st, p->offset, true, NULL, &c) < 0) {
                close(fd);
                return;
        }
        c->is_copy = true;
        log_info("[logs.%s]: %s was truncated while agentd was stopped; reading the rest from %s",
                 f->settings->name, p->path, copy);
}

static int scan(LogFiles *f, const LogCheckpoint *cp) {
        size_t before = f->n_files, retired = 0;
        uint64_t next_key = f->next_key;

        f->need_scan = false;
        FOREACH_FILE(lf, f->files)
                lf->seen = false;
        for (size_t i = 0; cp && i < cp->n_files; i++) {
                struct stat st;
                const LogFilePosition *p = &cp->files[i];
                if (stat(p->path, &st) < 0 || (uint64_t) st.st_dev != p->dev || (uint64_t) st.st_ino != p->ino ||
                    !path_matches(f, p->path))
                        resume_moved(f, p);
                else {
                        int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                        if (fd >= 0) {
                                if (!content_matches(p, fd, &st))
                                        resume_copy(f, p);
                                close(fd);
                        }
                }
        }
        for (size_t i = 0; i < f->n_globs; i++) {
                glob_t g = {};
                int r = glob(f->globs[i], GLOB_NOSORT | GLOB_ERR, NULL, &g);

                if (r == GLOB_NOMATCH || r == GLOB_ABORTED) {
                        globfree(&g);
                        continue;
                }
                if (r != 0) {
                        globfree(&g);
                        return -ENOMEM;
                }
                for (size_t j = 0; j < g.gl_pathc; j++) {
                        const char *path = g.gl_pathv[j];
                        struct stat st;
                        LogFile *lf;
                        int fd;

                        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        lf = find_inode(f, st.st_dev, st.st_ino);
                        if (lf) {
                                lf->seen = true;
                                if (!streq(lf->path, path) && !lf->retired)
                                        (void) free_and_strdup(&lf->path, path);
                                continue;
                        }
                        if (open_regular(path, &fd, &st) < 0) {
                                set_error(f, "%s: cannot open: %m", path);
                                continue;
                        }
                        if (log_file_add(f, path, fd, &st, resume_offset(checkpoint_for(cp, path), fd, &st), false,
                                         NULL, NULL) < 0)
                                close(fd);
                }
                globfree(&g);
        }
        /* Not at any matched path any more: rotated away or deleted. */
        FOREACH_FILE(lf, f->files)
                if (!lf->seen && !lf->retired) {
                        retired++;
                        lf->retired = true;
                        lf->retired_at = now_usec(CLOCK_MONOTONIC);
                        log_debug("[logs.%s]: %s rotated or deleted; reading it to its end", f->settings->name,
                                  lf->path);
                }
        if ((retired > 0 || next_key != f->next_key || before != f->n_files) && f->sink.files_changed)
                f->sink.files_changed(f->sink.userdata);
        return 0;
}

/* copytruncate: the copy holds what we had not read yet; true when it is
 * now followed (and must be read first). */
static bool truncated(LogFiles *f, LogFile *lf, uint64_t size) {
        _cleanup_free_ char *copy = NULL;
        uint64_t from = lf->emitted;
        struct stat st;
        bool found = false;
        int fd;

        if (find_in_dir(lf->path, lf->dev, lf->ino, false, lf->hash, lf->hash_len, from, &copy) >= 0 &&
            open_regular(copy, &fd, &st) >= 0) {
                LogFile *c = NULL;
                if (find_inode(f, st.st_dev, st.st_ino) ||
                    log_file_add(f, copy, fd, &st, from, true, lf, &c) < 0)
                        close(fd);
                else {
                        /* The copy holds what the batches in flight were
                         * read from: it takes over their key and position. */
                        c->is_copy = found = true;
                        c->key = lf->key;
                        c->committed = lf->committed;
                        log_info("[logs.%s]: %s was truncated (copytruncate); reading the rest from %s",
                                 f->settings->name, lf->path, copy);
                }
        } else if (size < from)
                log_notice("[logs.%s]: %s was truncated at offset %llu and no copy was found: starting over",
                           f->settings->name, lf->path, (unsigned long long) from);
        log_line_reset(&lf->lines, 0);
        /* New content: marks of earlier batches must not move it. */
        lf->key = ++f->next_key;
        lf->emitted = lf->committed = 0;
        lf->hash_len = 0;
        (void) refresh_hash(lf);
        return found;
}

/* Truncated and written again past where we were before we looked (a slow
 * reader, a busy writer): the size does not tell, the first bytes do. */
static bool rewritten(LogFile *lf) {
        char b[LOG_HASH_BYTES];
        ssize_t n;

        if (lf->hash_len == 0 || lf->is_copy)
                return false;
        n = pread(lf->fd, b, lf->hash_len, 0);
        return n >= 0 && (n != (ssize_t) lf->hash_len || log_hash(b, (size_t) n) != lf->hash);
}

/* Notices a truncation and learns the first bytes, also of a file not read
 * yet (it waits behind a rotated one): a copytruncate before its first read
 * must still find the copy. Returns 1 when a copy was put before it. */
static int look_at(LogFiles *f, LogFile *lf) {
        struct stat st;

        if (fstat(lf->fd, &st) < 0)
                return -errno;
        lf->deleted = st.st_nlink == 0;
        if (((uint64_t) st.st_size < lf->lines.offset || rewritten(lf)) && truncated(f, lf, (uint64_t) st.st_size)) {
                f->restart = true;
                return 1;
        }
        lf->size = (uint64_t) st.st_size;
        if (lf->hash_len < LOG_HASH_BYTES && lf->size > lf->hash_len)
                (void) refresh_hash(lf);
        return 0;
}

/* Reads lf on; returns bytes read. */
static ssize_t read_file(LogFiles *f, LogFile *lf, size_t budget) {
        size_t total = 0;
        int looked = look_at(f, lf);

        if (looked != 0)
                return looked < 0 ? looked : 0;
        while (lf->lines.offset < lf->size && total < budget) {
                ssize_t n;
                int r;

                if (f->sink.full(f->sink.userdata)) {
                        f->paused = true;
                        break;
                }
                n = pread(lf->fd, f->buf, READ_CHUNK, (off_t) lf->lines.offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        set_error(f, "%s: read failed: %m", lf->path);
                        return -errno;
                }
                if (n == 0)
                        break;
                r = log_line_feed(&lf->lines, f->buf, (size_t) n);
                if (r < 0)
                        return r;
                total += (size_t) n;
                lf->last_data = now_usec(CLOCK_MONOTONIC);
        }
        return (ssize_t) total;
}

/* A retired file goes once read, delivered and the writer moved on. */
static bool retired_done(LogFiles *f, LogFile *lf, usec_t now) {
        struct stat st;
        bool moved_on;

        /* Sizes from now, not from the last read: a file never read yet
         * (it waited behind an older one) is not done. */
        if (fstat(lf->fd, &st) < 0)
                return false;
        lf->deleted = st.st_nlink == 0;
        if ((uint64_t) st.st_size != lf->size)
                return false;
        moved_on = lf->deleted || now - lf->retired_at > RETIRE_GRACE;
        if (!lf->retired || lf->lines.offset < lf->size || log_line_pending(&lf->lines))
                return false;
        if (!moved_on)
                FOREACH_FILE(o, f->files)
                        if (o != lf && !o->retired && streq(o->path, lf->path) && fstat(o->fd, &st) == 0 &&
                            st.st_size > 0)
                                moved_on = true;
        /* A copy (copytruncate) does not grow: complete once read. */
        moved_on = moved_on || lf->is_copy;
        return moved_on && lf->committed >= lf->emitted;
}

static void arm_partial_timer(LogFiles *f);

static bool unread(LogFiles *f) {
        FOREACH_FILE(lf, f->files)
                if (lf->lines.offset < lf->size)
                        return true;
        return false;
}

static int on_read(sd_event_source *s, void *userdata) {
        LogFiles *f = userdata;
        size_t budget = READ_BUDGET;
        usec_t now;
        int r;

        if (f->need_scan) {
                r = scan(f, NULL);
                if (r < 0)
                        set_error(f, "cannot scan the globs: %s", strerror(-r));
        }
        f->paused = f->restart = false;
        bool reading = true;
        FOREACH_FILE(lf, f->files) {
                if (!reading) {
                        if (look_at(f, lf) > 0)
                                break;
                        continue;
                }
                ssize_t n = read_file(f, lf, budget);
                if (n > 0)
                        budget -= MIN((size_t) n, budget);
                if (f->restart)
                        break;
                /* A rotated file is read to its end before what replaced it. */
                if (f->paused || budget == 0 || (lf->retired && lf->lines.offset < lf->size))
                        reading = false;
        }
        now = now_usec(CLOCK_MONOTONIC);
        for (LogFile *lf = f->files, *next; lf && ((next = lf->files_next), 1); lf = next)
                if (retired_done(f, lf, now)) {
                        log_debug("[logs.%s]: done with %s", f->settings->name, lf->path);
                        log_file_free(lf);
                }
        if (!f->paused && (budget == 0 || f->restart || unread(f)))
                (void) sd_event_source_set_enabled(f->read_source, SD_EVENT_ONESHOT);
        arm_partial_timer(f);
        return 0;
}

static void schedule_read(LogFiles *f) {
        if (f->read_source)
                (void) sd_event_source_set_enabled(f->read_source, SD_EVENT_ONESHOT);
}

static int on_partial_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        LogFiles *f = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        FOREACH_FILE(lf, f->files) {
                struct stat st;
                /* Only at the end of the file: while reading is paused the
                 * rest of the line is there, just not read yet. */
                if (!log_line_pending(&lf->lines) || fstat(lf->fd, &st) < 0 ||
                    (uint64_t) st.st_size > lf->lines.offset)
                        continue;
                if (f->draining || now - lf->last_data >= f->partial_timeout)
                        (void) log_line_flush(&lf->lines);
        }
        arm_partial_timer(f);
        schedule_read(f);
        return 0;
}

static void arm_partial_timer(LogFiles *f) {
        usec_t when = USEC_INFINITY;

        /* Paused: the read pass after resume arms it again. */
        FOREACH_FILE(lf, f->files)
                if (!f->paused && log_line_pending(&lf->lines) && lf->lines.offset >= lf->size)
                        when = MIN(when, f->draining ? 0 : lf->last_data + f->partial_timeout);
        /* Retired files wait for their grace period; look again then. */
        FOREACH_FILE(lf, f->files)
                if (lf->retired)
                        when = MIN(when, now_usec(CLOCK_MONOTONIC) + USEC_PER_SEC);
        if (when == USEC_INFINITY) {
                (void) sd_event_source_set_enabled(f->partial_timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(f->partial_timer, MAX(when, (usec_t) 1));
        (void) sd_event_source_set_enabled(f->partial_timer, SD_EVENT_ONESHOT);
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        LogFiles *f = userdata;

        if (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                        IN_Q_OVERFLOW | IN_ATTRIB))
                f->need_scan = true;
        /* Also while paused: the pass then only looks (rotations, a
         * truncation, the first bytes of files not read yet) without reading. */
        schedule_read(f);
        return 0;
}

static int add_watches(LogFiles *f);

static int on_rescan(sd_event_source *s, uint64_t usec, void *userdata) {
        LogFiles *f = userdata;

        f->need_scan = true;
        (void) add_watches(f);
        schedule_read(f);
        return 0;
}

/* One watch per directory of a glob; a directory that does not exist yet
 * (or has wildcards) is looked at again every RESCAN_INTERVAL. */
static int add_watches(LogFiles *f) {
        bool missing = false;
        int r;

        for (size_t i = 0; i < f->n_globs; i++) {
                _cleanup_free_ char *copy = strdup(f->globs[i]);
                const char *dir;
                bool known = false;

                if (!copy)
                        return -ENOMEM;
                dir = dirname(copy);
                if (strpbrk(dir, "*?[")) {
                        missing = true;
                        continue;
                }
                for (size_t j = 0; j < f->n_watches; j++)
                        known = known || streq(f->watched[j], dir);
                if (known || f->n_watches >= MAX_WATCHES)
                        continue;
                r = sd_event_add_inotify(f->event, &f->watches[f->n_watches], dir,
                                         IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_MODIFY |
                                                 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR,
                                         on_inotify, f);
                if (r < 0) {
                        missing = true;
                        continue;
                }
                f->watched[f->n_watches] = strdup(dir);
                if (!f->watched[f->n_watches]) {
                        f->watches[f->n_watches] = sd_event_source_disable_unref(f->watches[f->n_watches]);
                        return -ENOMEM;
                }
                f->n_watches++;
        }
        if (missing && !f->rescan_timer)
                r = sd_event_add_time_relative(f->event, &f->rescan_timer, CLOCK_MONOTONIC, RESCAN_INTERVAL,
                                               USEC_PER_SEC, on_rescan, f);
        else if (f->rescan_timer && missing)
                r = sd_event_source_set_time_relative(f->rescan_timer, RESCAN_INTERVAL) < 0 ? 0 :
                    sd_event_source_set_enabled(f->rescan_timer, SD_EVENT_ONESHOT);
        else {
                f->rescan_timer = sd_event_source_disable_unref(f->rescan_timer);
                r = 0;
        }
        return r < 0 ? r : 0;
}

int log_files_new(sd_event *e, const LogSourceSettings *s, usec_t partial_timeout, const LogSink *sink,
                  LogFiles **ret) {
        _cleanup_(log_files_freep) LogFiles *f = calloc(1, sizeof(*f));
        int r;

        if (!f)
                return -ENOMEM;
        f->event = sd_event_ref(e);
        f->settings = s;
        f->sink = *sink;
        f->partial_timeout = partial_timeout;
        f->buf = malloc(READ_CHUNK);
        if (!f->buf)
                return -ENOMEM;
        for (const char *p = s->file; *p && f->n_globs < LOG_SOURCE_MAX_GLOBS;) {
                size_t l;
                p += strspn(p, " \t");
                l = strcspn(p, " \t");
                if (l == 0)
                        break;
                f->globs[f->n_globs] = strndup(p, l);
                if (!f->globs[f->n_globs])
                        return -ENOMEM;
                f->n_globs++;
                p += l;
        }
        if (s->multiline_start) {
                if (regcomp(&f->multiline, s->multiline_start, REG_EXTENDED | REG_NOSUB) != 0)
                        return -EINVAL;
                f->has_multiline = true;
        }
        r = sd_event_add_defer(e, &f->read_source, on_read, f);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(f->read_source, SD_EVENT_OFF);
        r = sd_event_add_time(e, &f->partial_timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC,
                              on_partial_timer, f);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(f->partial_timer, SD_EVENT_OFF);
        *ret = TAKE_PTR(f);
        return 0;
}

LogFiles *log_files_free(LogFiles *f) {
        if (!f)
                return NULL;
        while (f->files)
                log_file_free(f->files);
        sd_event_source_disable_unref(f->read_source);
        sd_event_source_disable_unref(f->partial_timer);
        sd_event_source_disable_unref(f->rescan_timer);
        for (size_t i = 0; i < f->n_watches; i++) {
                sd_event_source_disable_unref(f->watches[i]);
                free(f->watched[i]);
        }
        for (size_t i = 0; i < f->n_globs; i++)
                free(f->globs[i]);
        if (f->has_multiline)
                regfree(&f->multiline);
        free(f->buf);
        free(f->last_error);
        sd_event_unref(f->event);
        return mfree(f);
}

int log_files_start(LogFiles *f, const LogCheckpoint *cp) {
        int r = add_watches(f);

        if (r < 0)
                return r;
        r = scan(f, cp);
        if (r < 0)
                return r;
        schedule_read(f);
        return 0;
}

void log_files_resume(LogFiles *f) {
        if (f->paused) {
                f->paused = false;
                schedule_read(f);
        }
}

void log_files_set_draining(LogFiles *f, bool draining) {
        f->draining = draining;
        f->need_scan = f->need_scan || draining;
        schedule_read(f);
        arm_partial_timer(f);
}

void log_files_commit(LogFiles *f, uint64_t key, uint64_t offset) {
        FOREACH_FILE(lf, f->files)
                if (lf->key == key) {
                        lf->committed = MAX(lf->committed, offset);
                        return;
                }
}

int log_files_checkpoint(LogFiles *f, LogCheckpoint *ret) {
        LogCheckpoint c = {};
        int r;

        FOREACH_FILE(lf, f->files) {
                LogFilePosition p = { .path = lf->path, .dev = lf->dev, .ino = lf->ino, .offset = lf->committed,
                                      .hash = lf->hash, .hash_len = lf->hash_len };
                r = log_checkpoint_add_file(&c, &p);
                if (r < 0) {
                        log_checkpoint_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

bool log_files_caught_up(LogFiles *f) {
        FOREACH_FILE(lf, f->files) {
                struct stat st;
                if (fstat(lf->fd, &st) == 0)
                        lf->size = MAX(lf->size, (uint64_t) st.st_size);
                if (lf->lines.offset < lf->size || log_line_pending(&lf->lines))
                        return false;
        }
        return !f->need_scan;
}

uint64_t log_files_bytes_behind(LogFiles *f) {
        uint64_t n = 0;

        FOREACH_FILE(lf, f->files)
                n += lf->size > lf->committed ? lf->size - lf->committed : 0;
        return n;
}

size_t log_files_count(LogFiles *f) {
        return f->n_files;
}

const char *log_files_last_error(LogFiles *f) {
        return f->last_error;
}

int log_files_to_json(LogFiles *f, void *array) {
        FOREACH_FILE(lf, f->files) {
                cJSON *o = cJSON_CreateObject();
                if (!o || !cJSON_AddItemToArray(array, o))
                        return cJSON_Delete(o), -ENOMEM;
                if (!cJSON_AddStringToObject(o, "path", lf->path) ||
                    !cJSON_AddNumberToObject(o, "size", (double) lf->size) ||
                    !cJSON_AddNumberToObject(o, "read", (double) lf->lines.offset) ||
                    !cJSON_AddNumberToObject(o, "delivered", (double) lf->committed) ||
                    !cJSON_AddBoolToObject(o, "rotated", lf->retired))
                        return -ENOMEM;
        }
        return 0;
}
