/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "render"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "log.h"
#include "manager.h"
#include "process.h"
#include "reload.h"
#include "render-vars.h"
#include "render.h"
#include "secrets.h"
#include "template.h"
#include "json-util.h"
#include "parse-util.h"
#include "time-util.h"

#define MAX_TEMPLATE_SIZE (1U << 20)
#define VALIDATE_TIMEOUT (60 * USEC_PER_SEC)

typedef enum TargetStep {
        STEP_IDLE,
        STEP_VALIDATING,
} TargetStep;

typedef struct Target {
        Renderer *owner;
        char *name;
        char *template_path;
        char *target;
        char *staged;                   /* "DIR/.BASE.agentd-new" */
        char *rollback_path;            /* "STATE/rollback/NAME" */
        TemplateFormat format;
        mode_t mode;
        uid_t uid;
        gid_t gid;
        char *validate, *reload, *reload_command;
        char **vars;                    /* variables the template uses */
        size_t n_vars;
        bool uses_secret;
        char component_name[80];
        Component component;

        bool wanted;                    /* part of the current round */
        bool changed;                   /* installed a new file this round */
        Process *validator;
        unsigned installs;
        usec_t installed_at;
        usec_t last_validate;           /* how long validate= took, last time */
} Target;

typedef struct Waiter {
        RenderDone done;
        void *userdata;
        struct Waiter *next;
} Waiter;

struct Renderer {
        Manager *manager;
        Reloader *reloader;
        Target **targets;
        size_t n;

        bool running;
        bool again;                     /* requests arrived during the round */
        bool all_again;
        char **again_secrets;
        size_t n_again_secrets;
        Waiter *waiters;                /* for the current round */
        Waiter *next_waiters;           /* for the next round */
        size_t pending;                 /* targets + reloads still busy */
        int error;
        char reason[1024];
        sd_event_source *defer;
        usec_t round_started;
};

/* ---------------------------------------------------------------- helpers */

char *render_command_expand(const char *command, const char *path) {
        size_t n = 0, pl = strlen(path);
        const char *p;
        char *out, *o;

        /* The path is single-quoted; our staged paths hold no quote, but a
         * target path from the config might: escape it the shell way. */
        size_t quoted = 2;
        for (p = path; *p; p++)
                quoted += *p == '\'' ? 4 : 1;
        for (p = command; (p = strstr(p, "{}")); p += 2)
                n++;
        out = malloc(strlen(command) + n * quoted + 1);
        if (!out)
                return NULL;
        o = out;
        for (p = command; *p;) {
                if (p[0] == '{' && p[1] == '}') {
                        *o++ = '\'';
                        for (size_t i = 0; i < pl; i++) {
                                if (path[i] == '\'') {
                                        memcpy(o, "'\\''", 4);
                                        o += 4;
                                } else
                                        *o++ = path[i];
                        }
                        *o++ = '\'';
                        p += 2;
                } else
                        *o++ = *p++;
        }
        *o = 0;
        return out;
}

void render_redact(char *buf, const char *const *secrets, const size_t *lengths, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char *hit;
                /* Very short values would redact half the text; they are
                 * not secrets worth the name (a port, "true"). */
                if (lengths[i] < 4)
                        continue;
                while ((hit = memmem(buf, strlen(buf), secrets[i], lengths[i]))) {
                        size_t rest = strlen(hit + lengths[i]);
                        memcpy(hit, "***", 3);
                        memmove(hit + 3, hit + lengths[i], rest + 1);
                }
        }
}

/* Every loaded secret value, for redaction: as many as there are. */
typedef struct RedactValues {
        const char **vals;
        size_t *lens;
        size_t n, allocated;
        bool oom;
} RedactValues;

static void collect_value(const char *v, size_t len, void *userdata) {
        RedactValues *rv = userdata;

        if (rv->n == rv->allocated) {
                size_t a = MAX(rv->allocated * 2, 16);
                const char **vals = realloc(rv->vals, a * sizeof(*vals));
                if (vals)
                        rv->vals = vals;
                size_t *lens = vals ? realloc(rv->lens, a * sizeof(*lens)) : NULL;
                if (!lens) {
                        rv->oom = true;
                        return;
                }
                rv->lens = lens;
                rv->allocated = a;
        }
        rv->vals[rv->n] = v;
        rv->lens[rv->n++] = len;
}

static void redact_secrets(Manager *m, char *buf) {
        RedactValues rv = {};

        secrets_foreach_value(m->secrets, collect_value, &rv);
        render_redact(buf, rv.vals, rv.lens, rv.n);
        if (rv.oom)
                /* Never show output we could not fully redact. */
                strcpy(buf, "(output withheld: out of memory while redacting secrets)");
        free(rv.vals);
        free(rv.lens);
}

static int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

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
        while (len < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t) st.st_size - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

/* Is the file at path exactly data? (0: no or absent, 1: yes) */
static int file_equals(const char *path, const char *data, size_t len, const Target *t) {
        _cleanup_free_ char *cur = NULL;
        size_t cl;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return 0;
        /* Same bytes but wrong owner or mode: rewrite, do not keep it. */
        if ((st.st_mode & 07777) != t->mode || st.st_uid != t->uid || st.st_gid != t->gid)
                return 0;
        r = read_file(path, MAX(len, 1) + 1, &cur, &cl);
        if (r < 0)
                return 0;
        r = cl == len && memcmp(cur, data, len) == 0;
        explicit_wipe(cur, cl);
        return r;
}

static int fsync_dir_of(const char *path) {
        _cleanup_free_ char *d = strdup(path);
        _cleanup_close_ int fd = -EBADF;

        if (!d)
                return -ENOMEM;
        fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return -errno;
        return 0;
}

/* Writes data to a new file at path, with owner and mode set before the
 * first byte, fsynced. */
static int write_new_file(const char *path, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;
        size_t off = 0;

        (void) unlink(path);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
                goto fail;
        while (off < len) {
                ssize_t n = write(fd, data + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                off += (size_t) n;
        }
        if (fsync(fd) < 0)
                goto fail;
        return 0;
fail:;
        int r = -errno;
        (void) unlink(path);
        return r;
}

/* Atomically replaces path with data via a temp file in the same dir. */
static int write_atomic(const char *path, const char *data, size_t len, mode_t mode, uid_t uid, gid_t gid) {
        _cleanup_free_ char *tmp = NULL;
        int r;

        if (asprintf(&tmp, "%s.agentd-tmp", path) < 0)
                return -ENOMEM;
        r = write_new_file(tmp, data, len, mode, uid, gid);
        if (r < 0)
                return r;
        if (rename(tmp, path) < 0) {
                r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return fsync_dir_of(path);
}

/* ------------------------------------------------------------------ round */

static void round_maybe_end(Renderer *r);

static void target_fail(Target *t, int error, const char *fmt, ...) _printf_(3, 4);
static void target_fail(Target *t, int error, const char *fmt, ...) {
        Renderer *r = t->owner;
        char buf[900];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        redact_secrets(r->manager, buf);
        component_error(&t->component, t->installs > 0 || access(t->target, F_OK) == 0 ?
                        COMPONENT_DEGRADED : COMPONENT_FAILED, "%s", buf);
        log_error("[render.%s]: %s%s", t->name, buf,
                  access(t->target, F_OK) == 0 ? "; the current file stays" : "");
        if (r->error == 0) {
                r->error = error;
                snprintf(r->reason, sizeof(r->reason), "[render.%s]: %s", t->name, buf);
        }
}

static void target_install(Target *t) {
        _cleanup_free_ char *cur = NULL;
        size_t cl = 0;
        char when[64];
        int k;

        /* Keep what is there now for `agentctl rollback`. */
        if (read_file(t->target, MAX_TEMPLATE_SIZE * 4, &cur, &cl) >= 0) {
                k = write_atomic(t->rollback_path, cur, cl, 0600, 0, 0);
                explicit_wipe(cur, cl);
                if (k < 0)
                        log_warning_errno(k, "[render.%s]: cannot keep the previous version in %s: %m",
                                          t->name, t->rollback_path);
        }
        if (rename(t->staged, t->target) < 0) {
                k = -errno;
                (void) unlink(t->staged);
                return target_fail(t, k, "cannot move %s over %s: %s", t->staged, t->target, strerror(-k));
        }
        (void) fsync_dir_of(t->target);
        t->changed = true;
        t->installs++;
        t->installed_at = now_usec(CLOCK_REALTIME);
        component_set(&t->component, COMPONENT_OK, "%s installed %s", t->target,
                      format_rfc3339(when, sizeof(when), t->installed_at));
        log_info("[render.%s]: installed %s", t->name, t->target);
}

static void on_validated(Process *p, const ProcessResult *res, void *userdata) {
        Target *t = userdata;
        Renderer *r = t->owner;
        char why[128];

        t->validator = NULL;
        t->last_validate = res->duration;
        if (res->error == 0 && res->exited && res->exit_status == 0)
                target_install(t);
        else {
                (void) unlink(t->staged);
                /* Output is redacted in target_fail; nginx -t quotes config lines. */
                target_fail(t, -EINVAL, "validation '%s' refused the new file (%s)%s%.600s", t->validate,
                            process_result_describe(res, why, sizeof(why)), res->output[0] ? ": " : "",
                            res->output);
        }
        r->pending--;
        round_maybe_end(r);
}

static void target_render(Target *t) {
        Renderer *r = t->owner;
        _cleanup_free_ char *text = NULL, *error = NULL, *cmd = NULL;
        char *out = NULL;
        size_t tl, ol = 0;
        int k;

        k = read_file(t->template_path, MAX_TEMPLATE_SIZE, &text, &tl);
        if (k < 0)
                return target_fail(t, k, "cannot read template %s: %s", t->template_path,
                                   k == -EFBIG ? "larger than 1 MiB" : strerror(-k));
        k = template_render(t->template_path, text, tl, t->format, render_lookup, r->manager, &out, &ol, &error);
        if (k < 0)
                return target_fail(t, k, "%s", error ?: strerror(-k));
        if (file_equals(t->target, out, ol, t)) {
                explicit_wipe(out, ol);
                free(out);
                if (t->component.state != COMPONENT_OK)
                        component_set(&t->component, COMPONENT_OK, "%s up to date", t->target);
                log_debug("[render.%s]: %s unchanged", t->name, t->target);
                return;
        }
        k = write_new_file(t->staged, out, ol, t->mode, t->uid, t->gid);
        explicit_wipe(out, ol);
        free(out);
        if (k < 0)
                return target_fail(t, k, "cannot write %s: %s", t->staged, strerror(-k));
        if (!t->validate)
                return target_install(t);
        cmd = render_command_expand(t->validate, t->staged);
        if (!cmd)
                return target_fail(t, -ENOMEM, "out of memory");
        k = process_spawn(r->manager->event, cmd, &(ProcessOptions) { .timeout = VALIDATE_TIMEOUT }, on_validated, t, &t->validator);
        if (k < 0) {
                (void) unlink(t->staged);
                return target_fail(t, k, "cannot run validate command: %s", strerror(-k));
        }
        r->pending++;
}

typedef struct ReloadRequest {
        Renderer *renderer;
        char *what;
} ReloadRequest;

static void on_reloaded(int error, const char *reason, void *userdata) {
        ReloadRequest *q = userdata;
        Renderer *r = q->renderer;

        if (error < 0) {
                log_error("%s", reason);
                if (r->error == 0) {
                        r->error = error;
                        snprintf(r->reason, sizeof(r->reason), "%s", reason);
                }
                for (size_t i = 0; i < r->n; i++) {
                        Target *t = r->targets[i];
                        if (t->changed && streq_ptr(t->reload ?: t->reload_command, q->what))
                                component_error(&t->component, COMPONENT_DEGRADED, "installed, but %s", reason);
                }
        }
        free(q->what);
        free(q);
        r->pending--;
        round_maybe_end(r);
}

/* After all files are in place: each distinct service once. */
static void reload_changed(Renderer *r) {
        for (size_t i = 0; i < r->n; i++) {
                Target *t = r->targets[i];
                const char *key = t->reload ?: t->reload_command;
                bool seen = false;

                if (!t->changed || !key)
                        continue;
                for (size_t j = 0; j < i; j++)
                        if (r->targets[j]->changed && streq_ptr(r->targets[j]->reload ?: r->targets[j]->reload_command, key))
                                seen = true;
                if (seen)
                        continue;
                ReloadRequest *q = calloc(1, sizeof(*q));
                if (!q || !(q->what = strdup(key))) {
                        free(q);
                        log_oom();
                        continue;
                }
                q->renderer = r;
                r->pending++;
                if (reloader_reload(r->reloader, t->reload, t->reload_command, on_reloaded, q) < 0) {
                        r->pending--;
                        free(q->what);
                        free(q);
                        log_error("[render.%s]: cannot start reload", t->name);
                }
        }
}

static void round_start(Renderer *r);

static void round_finish(Renderer *r) {
        Waiter *w = r->waiters;
        char d[32];

        r->running = false;
        r->waiters = NULL;
        log_debug("render round done in %s: %s", format_duration(d, sizeof(d), now_usec(CLOCK_MONOTONIC) -
                  r->round_started), r->error ? r->reason : "ok");
        while (w) {
                Waiter *next = w->next;
                w->done(r->manager, r->error, r->error ? r->reason : NULL, w->userdata);
                free(w);
                w = next;
        }
        if (r->again)
                round_start(r);
}

static void round_maybe_end(Renderer *r) {
        bool reloads_started = false;

        if (r->pending > 0)
                return;
        /* Phase two: the files are settled; reload what changed, once. */
        for (size_t i = 0; i < r->n; i++)
                if (r->targets[i]->wanted) {
                        reloads_started = true;
                        r->targets[i]->wanted = false;
                }
        if (reloads_started) {
                reload_changed(r);
                if (r->pending > 0)
                        return;
        }
        round_finish(r);
}

static bool target_uses(const Target *t, const char *secret) {
        size_t l = strlen(secret);
        for (size_t i = 0; i < t->n_vars; i++)
                if (strncmp(t->vars[i], "secret.", 7) == 0 && strncmp(t->vars[i] + 7, secret, l) == 0 &&
                    (t->vars[i][7 + l] == 0 || t->vars[i][7 + l] == '.'))
                        return true;
        return false;
}

static int on_round_start(sd_event_source *s, void *userdata) {
        Renderer *r = userdata;

        r->defer = sd_event_source_disable_unref(r->defer);
        r->pending = 1;         /* held while starting targets */
        for (size_t i = 0; i < r->n; i++)
                if (r->targets[i]->wanted)
                        target_render(r->targets[i]);
        r->pending--;
        round_maybe_end(r);
        return 0;
}

static void round_start(Renderer *r) {
        r->running = true;
        r->again = false;
        r->error = 0;
        r->reason[0] = 0;
        r->round_started = now_usec(CLOCK_MONOTONIC);
        r->waiters = r->next_waiters;
        r->next_waiters = NULL;
        for (size_t i = 0; i < r->n; i++) {
                Target *t = r->targets[i];
                t->changed = false;
                t->wanted = r->all_again;
                for (size_t j = 0; !t->wanted && j < r->n_again_secrets; j++)
                        t->wanted = target_uses(t, r->again_secrets[j]);
        }
        r->all_again = false;
        for (size_t j = 0; j < r->n_again_secrets; j++)
                free(r->again_secrets[j]);
        r->n_again_secrets = 0;
        if (sd_event_add_defer(r->manager->event, &r->defer, on_round_start, r) < 0) {
                log_oom();
                r->running = false;
        }
}

int renderer_request(Renderer *r, const char *secret, RenderDone done, void *userdata) {
        if (done) {
                Waiter *w = calloc(1, sizeof(*w));
                if (!w)
                        return -ENOMEM;
                *w = (Waiter) { .done = done, .userdata = userdata, .next = r->next_waiters };
                r->next_waiters = w;
        }
        if (!secret)
                r->all_again = true;
        else {
                char **a = realloc(r->again_secrets, (r->n_again_secrets + 1) * sizeof(char *));
                if (!a)
                        return -ENOMEM;
                r->again_secrets = a;
                if (!(a[r->n_again_secrets] = strdup(secret)))
                        return -ENOMEM;
                r->n_again_secrets++;
        }
        if (r->running)
                r->again = true;
        else
                round_start(r);
        return 0;
}

/* --------------------------------------------------------------- rollback */

typedef struct Rollback {
        Renderer *renderer;
        RenderDone done;
        void *userdata;
        char *name;
} Rollback;

static void on_rollback_reloaded(int error, const char *reason, void *userdata) {
        Rollback *b = userdata;
        b->done(b->renderer->manager, error, reason, b->userdata);
        free(b->name);
        free(b);
}

int renderer_rollback(Renderer *r, const char *name, RenderDone done, void *userdata) {
        _cleanup_free_ char *prev = NULL, *cur = NULL;
        size_t pl, cl = 0;
        Target *t = NULL;
        Rollback *b;
        int k;

        for (size_t i = 0; i < r->n; i++)
                if (streq(r->targets[i]->name, name))
                        t = r->targets[i];
        if (!t)
                return -ENOENT;
        if (r->running)
                return -EBUSY;
        k = read_file(t->rollback_path, MAX_TEMPLATE_SIZE * 4, &prev, &pl);
        if (k < 0)
                return k == -ENOENT ? -ENODATA : k;
        /* Swap: the current file becomes the one to roll back to. */
        if (read_file(t->target, MAX_TEMPLATE_SIZE * 4, &cur, &cl) < 0)
                cl = 0;
        k = write_atomic(t->target, prev, pl, t->mode, t->uid, t->gid);
        explicit_wipe(prev, pl);
        if (k < 0) {
                if (cur)
                        explicit_wipe(cur, cl);
                return k;
        }
        if (cur) {
                (void) write_atomic(t->rollback_path, cur, cl, 0600, 0, 0);
                explicit_wipe(cur, cl);
        }
        component_set(&t->component, COMPONENT_DEGRADED, "%s rolled back to the previous version", t->target);
        log_notice("[render.%s]: rolled back %s", t->name, t->target);
        if (!t->reload && !t->reload_command) {
                done(r->manager, 0, NULL, userdata);
                return 0;
        }
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        *b = (Rollback) { .renderer = r, .done = done, .userdata = userdata };
        k = reloader_reload(r->reloader, t->reload, t->reload_command, on_rollback_reloaded, b);
        if (k < 0)
                free(b);
        return k;
}

/* ------------------------------------------------------------------ setup */

static TemplateFormat format_guess(const char *template_path) {
        const char *base = strrchr(template_path, '/');
        base = base ? base + 1 : template_path;
        if (strstr(base, "nginx"))
                return TEMPLATE_FORMAT_NGINX;
        if (strstr(base, "fpm") || strstr(base, "pool"))
                return TEMPLATE_FORMAT_PHPFPM;
        if (strstr(base, ".env") || strstr(base, "env"))
                return TEMPLATE_FORMAT_ENV;
        if (strstr(base, ".json"))
                return TEMPLATE_FORMAT_JSON;
        return TEMPLATE_FORMAT_RAW;
}

static int target_append_json(const Component *c, cJSON *o) {
        const Target *t = (const Target *) ((const char *) c - offsetof(Target, component));
        char buf[64];

        if (!cJSON_AddStringToObject(o, "target", t->target) ||
            !cJSON_AddStringToObject(o, "template", t->template_path) ||
            !cJSON_AddStringToObject(o, "format", template_format_to_string(t->format)) ||
            json_add_string_or_null(o, "reload", t->reload ?: t->reload_command) < 0 ||
            !cJSON_AddNumberToObject(o, "installs", t->installs) ||
            json_add_string_or_null(o, "installed_at", t->installed_at ?
                                    format_rfc3339(buf, sizeof(buf), t->installed_at) : NULL) < 0 ||
            !cJSON_AddNumberToObject(o, "last_validate_ms", (double) t->last_validate / USEC_PER_MSEC) ||
            !cJSON_AddBoolToObject(o, "rollback_available", access(t->rollback_path, F_OK) == 0))
                return -ENOMEM;
        return 0;
}

static Target *target_free(Target *t) {
        if (!t)
                return NULL;
        process_cancel(t->validator);
        component_done(&t->component);
        for (size_t i = 0; i < t->n_vars; i++)
                free(t->vars[i]);
        free(t->vars);
        free(t->name);
        free(t->template_path);
        free(t->target);
        free(t->staged);
        free(t->rollback_path);
        free(t->validate);
        free(t->reload);
        free(t->reload_command);
        return mfree(t);
}

static int target_new(Renderer *r, const RenderConfig *rc, Target **ret) {
        Manager *m = r->manager;
        _cleanup_free_ char *text = NULL, *error = NULL, *dir = NULL;
        Target *t;
        size_t tl;
        int k;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *ret = t;
        t->owner = r;
        t->name = strdup(rc->name);
        if (rc->template_path[0] == '/')
                t->template_path = strdup(rc->template_path);
        else if (asprintf(&t->template_path, "%s/%s", AGENTD_TEMPLATE_DIR, rc->template_path) < 0)
                t->template_path = NULL;
        t->target = strdup(rc->target);
        dir = strdup(rc->target);
        if (!t->name || !t->template_path || !t->target || !dir)
                return -ENOMEM;
        {
                const char *base = strrchr(rc->target, '/') + 1;
                char *slash = strrchr(dir, '/');
                *slash = 0;
                if (asprintf(&t->staged, "%s/.%s.agentd-new", *dir ? dir : "", base) < 0 ||
                    asprintf(&t->rollback_path, "%s/rollback/%s", m->config->state_dir, rc->name) < 0)
                        return -ENOMEM;
        }
        if ((rc->validate && !(t->validate = strdup(rc->validate))) ||
            (rc->reload && !(t->reload = strdup(rc->reload))) ||
            (rc->reload_command && !(t->reload_command = strdup(rc->reload_command))))
                return -ENOMEM;
        t->format = rc->format ? (TemplateFormat) template_format_from_string(rc->format) : format_guess(t->template_path);

        snprintf(t->component_name, sizeof(t->component_name), "render.%s", t->name);
        component_init(&t->component, t->component_name, true);
        t->component.append_json = target_append_json;

        /* Owner and group once, here: NSS lookups do not belong on the loop. */
        t->uid = 0;
        t->gid = 0;
        if (rc->owner) {
                struct passwd *pw = getpwnam(rc->owner);
                if (!pw)
                        return log_error_errno(ENOENT, "[render.%s] owner=%s: no such user", t->name, rc->owner);
                t->uid = pw->pw_uid;
                t->gid = pw->pw_gid;
        }
        if (rc->group) {
                struct group *gr = getgrnam(rc->group);
                if (!gr)
                        return log_error_errno(ENOENT, "[render.%s] group=%s: no such group", t->name, rc->group);
                t->gid = gr->gr_gid;
        }

        /* Which variables it uses: for secret dependencies and the mode. */
        k = read_file(t->template_path, MAX_TEMPLATE_SIZE, &text, &tl);
        if (k < 0)
                return log_error_errno(k, "[render.%s]: cannot read template %s: %m", t->name, t->template_path);
        k = template_variables(t->template_path, text, tl, &t->vars, &t->n_vars, &error);
        if (k < 0)
                return log_error_errno(k, "[render.%s]: %s", t->name, error ?: "cannot parse template");
        for (size_t i = 0; i < t->n_vars; i++)
                if (strncmp(t->vars[i], "secret.", 7) == 0)
                        t->uses_secret = true;
        t->mode = rc->mode >= 0 ? (mode_t) rc->mode : t->uses_secret ? 0640 : 0644;
        component_set(&t->component, COMPONENT_STARTING, "%s not rendered yet", t->target);
        return 0;
}

int renderer_new(Manager *m, Renderer **ret) {
        _cleanup_(renderer_freep) Renderer *r = calloc(1, sizeof(Renderer));
        _cleanup_free_ char *rb = NULL;
        int k;

        if (!r)
                return -ENOMEM;
        r->manager = m;
        k = reloader_new(m, &r->reloader);
        if (k < 0)
                return k;
        r->targets = calloc(MAX(m->config->n_renders, 1), sizeof(Target *));
        if (!r->targets)
                return -ENOMEM;
        if (m->config->n_renders > 0) {
                if (asprintf(&rb, "%s/rollback", m->config->state_dir) < 0)
                        return -ENOMEM;
                (void) mkdir(m->config->state_dir, 0750);
                if (mkdir(rb, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "cannot create %s: %m", rb);
        }
        for (size_t i = 0; i < m->config->n_renders; i++) {
                Target *t = NULL;
                k = target_new(r, m->config->renders[i], &t);
                if (t)
                        r->targets[r->n++] = t;
                if (k < 0)
                        return k;
                if (manager_register_component(m, &t->component) < 0)
                        return -E2BIG;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

Renderer *renderer_free(Renderer *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                target_free(r->targets[i]);
        free(r->targets);
        reloader_free(r->reloader);
        sd_event_source_disable_unref(r->defer);
        for (Waiter *w = r->waiters, *n; w; w = n) {
                n = w->next;
                free(w);
        }
        for (Waiter *w = r->next_waiters, *n; w; w = n) {
                n = w->next;
                free(w);
        }
        for (size_t j = 0; j < r->n_again_secrets; j++)
                free(r->again_secrets[j]);
        free(r->again_secrets);
        return mfree(r);
}

int render_check_config(const Config *c) {
        int ret = 0;

        for (size_t i = 0; i < c->n_renders; i++) {
                const RenderConfig *rc = c->renders[i];
                _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
                char **names = NULL;
                size_t tl, n = 0;
                int k;

                if (rc->template_path[0] == '/')
                        path = strdup(rc->template_path);
                else if (asprintf(&path, "%s/%s", AGENTD_TEMPLATE_DIR, rc->template_path) < 0)
                        path = NULL;
                if (!path)
                        return -ENOMEM;
                k = read_file(path, MAX_TEMPLATE_SIZE, &text, &tl);
                if (k < 0) {
                        log_error_errno(k, "[render.%s]: cannot read template %s: %s", rc->name, path,
                                        k == -EFBIG ? "larger than 1 MiB" : strerror(-k));
                        ret = ret ?: k;
                        continue;
                }
                k = template_variables(path, text, tl, &names, &n, &error);
                if (k < 0) {
                        log_error("[render.%s]: %s", rc->name, error ?: strerror(-k));
                        ret = ret ?: k;
                } else
                        template_names_free(names);
                if (rc->owner && !getpwnam(rc->owner)) {
                        log_error("[render.%s] owner=%s: no such user", rc->name, rc->owner);
                        ret = ret ?: -ENOENT;
                }
                if (rc->group && !getgrnam(rc->group)) {
                        log_error("[render.%s] group=%s: no such group", rc->name, rc->group);
                        ret = ret ?: -ENOENT;
                }
        }
        return ret;
}

size_t renderer_count(Renderer *r) {
        return r ? r->n : 0;
}
