/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "logs"

#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-journal.h>

#include "log-journal.h"
#include "log-line.h"
#include "log.h"

/* Entries per loop iteration, so a long backlog cannot starve the loop. */
#define READ_BUDGET 2000

struct LogJournal {
        sd_event *event;
        const LogSourceSettings *settings;
        LogSink sink;
        sd_journal *journal;
        sd_event_source *io;
        sd_event_source *read_source;
        sd_event_source *timer;
        bool paused;
        bool at_end;
        char *last_error;
        char *buf, *clean;
        size_t buf_alloc, clean_alloc;
};

static void set_error(LogJournal *j, int r, const char *what) {
        char *s = NULL;

        if (asprintf(&s, "journal: %s: %s", what, strerror(r < 0 ? -r : r)) < 0)
                return;
        if (!streq_ptr(s, j->last_error))
                log_warning("[logs.%s]: %s", j->settings->name, s);
        free(j->last_error);
        j->last_error = s;
}

/* The value of FIELD in the current entry, without "FIELD=". */
static int get_field(sd_journal *jr, const char *field, const char **ret, size_t *ret_len) {
        const void *d;
        size_t l, fl = strlen(field);
        int r = sd_journal_get_data(jr, field, &d, &l);

        if (r < 0)
                return r;
        if (l < fl + 1)
                return -EBADMSG;
        *ret = (const char *) d + fl + 1;
        *ret_len = l - fl - 1;
        return 0;
}

static int grow(char **b, size_t *a, size_t need) {
        char *n;

        if (need <= *a)
                return 0;
        n = realloc(*b, need);
        if (!n)
                return -ENOMEM;
        *b = n;
        *a = need;
        return 0;
}

static int read_entry(LogJournal *j) {
        const char *msg, *ident = NULL, *pid = NULL;
        size_t msg_len, ident_len = 0, pid_len = 0, len = 0, clean_len;
        _cleanup_free_ char *cursor = NULL;
        uint64_t usec;
        int r;

        if (get_field(j->journal, "MESSAGE", &msg, &msg_len) < 0)
                return 0;       /* nothing to say: skip */
        if (get_field(j->journal, "SYSLOG_IDENTIFIER", &ident, &ident_len) < 0 &&
            get_field(j->journal, "_COMM", &ident, &ident_len) < 0)
                ident = NULL;
        if (get_field(j->journal, "_PID", &pid, &pid_len) < 0)
                pid = NULL;
        r = sd_journal_get_realtime_usec(j->journal, &usec);
        if (r < 0)
                return r;
        r = sd_journal_get_cursor(j->journal, &cursor);
        if (r < 0)
                return r;
        ident_len = MIN(ident_len, (size_t) 256);
        pid_len = MIN(pid_len, (size_t) 16);
        r = grow(&j->buf, &j->buf_alloc, ident_len + pid_len + msg_len + 8);
        if (r < 0)
                return r;
        if (ident) {
                memcpy(j->buf, ident, ident_len);
                len = ident_len;
                if (pid) {
                        j->buf[len++] = '[';
                        memcpy(j->buf + len, pid, pid_len);
                        len += pid_len;
                        j->buf[len++] = ']';
                }
                j->buf[len++] = ':';
                j->buf[len++] = ' ';
        }
        memcpy(j->buf + len, msg, msg_len);
        len += msg_len;
        r = utf8_sanitize(j->buf, len, &j->clean, &j->clean_alloc, &clean_len);
        if (r < 0)
                return r;
        if (clean_len > LOG_EVENT_MAX_MESSAGE) {
                size_t m = sizeof(LOG_LINE_SPLIT_MARKER) - 1;
                clean_len = utf8_cut(j->clean, clean_len, LOG_EVENT_MAX_MESSAGE - m);
                memcpy(j->clean + clean_len, LOG_LINE_SPLIT_MARKER, m);
                clean_len += m;
        }
        return j->sink.event(j->sink.userdata, (int64_t) (usec / 1000), j->clean, clean_len, 0, 0, cursor);
}

static int on_read(sd_event_source *s, void *userdata) {
        LogJournal *j = userdata;
        int r;

        j->paused = false;
        for (unsigned n = 0; n < READ_BUDGET; n++) {
                if (j->sink.full(j->sink.userdata)) {
                        j->paused = true;
                        return 0;
                }
                r = sd_journal_next(j->journal);
                if (r < 0) {
                        set_error(j, r, "cannot read the next entry");
                        return 0;
                }
                if (r == 0) {
                        j->at_end = true;
                        return 0;
                }
                j->at_end = false;
                r = read_entry(j);
                if (r < 0)
                        set_error(j, r, "cannot read an entry");
        }
        (void) sd_event_source_set_enabled(j->read_source, SD_EVENT_ONESHOT);
        return 0;
}

static void schedule(LogJournal *j) {
        j->at_end = false;
        if (!j->paused)
                (void) sd_event_source_set_enabled(j->read_source, SD_EVENT_ONESHOT);
}

static void arm_timer(LogJournal *j) {
        uint64_t t;

        if (sd_journal_get_timeout(j->journal, &t) < 0 || t == UINT64_MAX) {
                (void) sd_event_source_set_enabled(j->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(j->timer, t);
        (void) sd_event_source_set_enabled(j->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        LogJournal *j = userdata;
        int r = sd_journal_process(j->journal);

        if (r < 0)
                set_error(j, r, "cannot process changes");
        else if (r != SD_JOURNAL_NOP)
                schedule(j);
        arm_timer(j);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_io(NULL, -1, 0, userdata);
}

int log_journal_new(sd_event *e, const LogSourceSettings *s, const LogSink *sink, LogJournal **ret) {
        _cleanup_(log_journal_freep) LogJournal *j = calloc(1, sizeof(*j));
        int r;

        if (!j)
                return -ENOMEM;
        j->event = sd_event_ref(e);
        j->settings = s;
        j->sink = *sink;
        r = sd_event_add_defer(e, &j->read_source, on_read, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(j->read_source, SD_EVENT_OFF);
        r = sd_event_add_time(e, &j->timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC, on_timer, j);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(j->timer, SD_EVENT_OFF);
        *ret = TAKE_PTR(j);
        return 0;
}

LogJournal *log_journal_free(LogJournal *j) {
        if (!j)
                return NULL;
        sd_event_source_disable_unref(j->io);
        sd_event_source_disable_unref(j->read_source);
        sd_event_source_disable_unref(j->timer);
        sd_journal_close(j->journal);
        free(j->last_error);
        free(j->buf);
        free(j->clean);
        sd_event_unref(j->event);
        return mfree(j);
}

static int add_matches(LogJournal *j) {
        const char *p = j->settings->journal;
        int r;

        for (;;) {
                char m[1024];
                size_t l;

                p += strspn(p, " \t");
                l = strcspn(p, " \t");
                if (l == 0)
                        break;
                if (!(l == 1 && p[0] == '*')) {
                        if (l >= sizeof(m))
                                return -EINVAL;
                        memcpy(m, p, l);
                        r = sd_journal_add_match(j->journal, m, l);
                        if (r < 0)
                                return r;
                }
                p += l;
        }
        for (int i = 0; i <= j->settings->priority && j->settings->priority >= 0; i++) {
                char m[16];
                int n = snprintf(m, sizeof(m), "PRIORITY=%d", i);
                r = sd_journal_add_match(j->journal, m, (size_t) n);
                if (r < 0)
                        return r;
        }
        return 0;
}

int log_journal_start(LogJournal *j, const char *cursor) {
        int fd, r;

        if (j->settings->journal_directory)
                r = sd_journal_open_directory(&j->journal, j->settings->journal_directory, 0);
        else
                r = sd_journal_open(&j->journal, SD_JOURNAL_LOCAL_ONLY);
        if (r < 0) {
                set_error(j, r, "cannot open");
                return r;
        }
        /* Before anything moves: sd-journal sets its inotify watches up
         * here, and changes before that would go unnoticed. */
        fd = sd_journal_get_fd(j->journal);
        if (fd < 0) {
                set_error(j, fd, "cannot watch");
                return fd;
        }
        r = add_matches(j);
        if (r < 0) {
                set_error(j, r, "invalid match");
                return r;
        }
        if (cursor) {
                r = sd_journal_seek_cursor(j->journal, cursor);
                /* The entry at the cursor was delivered: skip it. */
                if (r >= 0 && sd_journal_next(j->journal) > 0 && sd_journal_test_cursor(j->journal, cursor) <= 0)
                        r = sd_journal_previous(j->journal);
        } else
                r = sd_journal_seek_head(j->journal);
        if (r < 0) {
                set_error(j, r, "cannot seek");
                r = sd_journal_seek_head(j->journal);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_io(j->event, &j->io, fd, (uint32_t) sd_journal_get_events(j->journal), on_io, j);
        if (r < 0)
                return r;
        arm_timer(j);
        schedule(j);
        return 0;
}

void log_journal_resume(LogJournal *j) {
        if (j->paused) {
                j->paused = false;
                schedule(j);
        }
}

bool log_journal_caught_up(LogJournal *j) {
        return j->at_end && !j->paused;
}

const char *log_journal_last_error(LogJournal *j) {
        return j->last_error;
}
