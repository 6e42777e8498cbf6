/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "render"

/*
 * The renderer owns its targets and runs rounds over them; reload.c owns
 * the service reloads. A round has two phases: every wanted target is
 * rendered, staged and validated (validators run in parallel), and when
 * none is pending any more, the services of the changed targets are
 * reloaded, each once. `pending` counts what is still busy; the round ends
 * when it drops to zero.
 *
 * Answers to requests are Waiters: allocated with their deferred event
 * source when the request is made (so running out of memory is the
 * request's error, not a lost answer), answered by enabling that source.
 * Whatever path finishes a request, even at once (a rollback without
 * reload), the caller hears back from the loop, never from inside its call.
 *
 * Everything that can carry a validator's or reload command's output goes
 * through renderer_redact() before it is logged, stored or returned.
 */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "fileio.h"
#include "json-util.h"
#include "list.h"
#include "log.h"
#include "parse-util.h"
#include "process.h"
#include "reload.h"
#include "render.h"
#include "system-vars.h"
#include "time-util.h"

#define VALIDATE_TIMEOUT (60 * USEC_PER_SEC)
#define REDACT_MIN 4U
#define REASON_MAX 900

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
        bool reload_if_running;
        char **vars;                    /* variables the template uses */
        size_t n_vars;
        bool uses_secret;
        char component_name[80];
        Component component;

        bool wanted;                    /* part of the current round */
        bool changed;                   /* installed a new file this round */
        AtomicFile staging;             /* written, being validated */
        Process *validator;
        unsigned installs;
        usec_t installed_at;
        usec_t last_validate;           /* how long validate= took, last time */
} Target;

typedef struct Waiter {
        Renderer *owner;
        AgentCallback done;
        void *userdata;
        int type, error;
        char *reason, *name;
        sd_event_source *defer;         /* off until the answer is known */
        LIST_FIELDS(struct Waiter, waiters);
} Waiter;

struct Renderer {
        sd_event *event;
        RenderHooks hooks;
        Reloader *reloader;
        Target **targets;
        size_t n;
        char number[SYSTEM_VARS_NUMBER_MAX];    /* the last system.* value looked up */

        bool running;
        bool again;                     /* requests arrived during the round */
        bool all_again;
        char **again_secrets;
        size_t n_again_secrets;
        Waiter *waiters;                /* for the current round */
        Waiter *next_waiters;           /* for the next round */
        Waiter *rollbacks;              /* rollbacks waiting for their reload */
        Waiter *answered;               /* answers waiting for their event */
        size_t pending;                 /* targets + reloads still busy */
        int error;
        char *reason;
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

static void redact_form(char *buf, const char *v, size_t len) {
        size_t bl = strlen(buf);
        char *hit;

        while ((hit = memmem(buf, bl, v, len))) {
                memcpy(hit, "***", 3);
                memmove(hit + 3, hit + len, bl - (size_t) (hit - buf) - len + 1);
                bl -= len - 3;
        }
        /* Output kept up to a limit can end inside a value: the start of
         * a value is as secret as the rest. */
        for (size_t l = MIN(len - 1, bl); l >= REDACT_MIN; l--)
                if (memcmp(buf + bl - l, v, l) == 0) {
                        memcpy(buf + bl - l, "***", 4);
                        break;
                }
}

void render_redact_value(char *buf, const char *value, size_t len) {
        if (!buf || len < REDACT_MIN)
                return;
        /* Escaped forms first: the raw value can be part of one. */
        for (TemplateFormat f = 0; f < _TEMPLATE_FORMAT_MAX; f++) {
                _cleanup_free_ char *e = NULL;
                size_t el;

                if (f == TEMPLATE_FORMAT_RAW || template_escape(f, value, len, &e, &el) < 0)
                        continue;
                if (el != len || memcmp(e, value, len) != 0)
                        redact_form(buf, e, el);
                explicit_wipe(e, el);
        }
        redact_form(buf, value, len);
}

static void on_redact_value(const char *value, size_t len, void *ctx) {
        render_redact_value(ctx, value, len);
}

/* Every loaded secret value, in every form, out of buf. When the values
 * cannot be listed, nothing of buf is shown. */
static void renderer_redact(Renderer *r, char *buf) {
        static const char withheld[] = "(output withheld: secrets could not be listed for redaction)";

        if (!buf || !r->hooks.foreach_secret || r->hooks.foreach_secret(r->hooks.userdata, on_redact_value, buf) >= 0)
                return;
        size_t l = strlen(buf);

        explicit_wipe(buf, l);
        if (l >= sizeof(withheld))
                strcpy(buf, withheld);
        else if (l >= 3)
                strcpy(buf, "***");
}

static int on_lookup(void *userdata, const char *name, TemplateValue *ret) {
        Renderer *r = userdata;
        int k = system_vars_lookup(name, r->number, ret);

        if (k != -ENOENT || !r->hooks.lookup)
                return k;
        return r->hooks.lookup(r->hooks.userdata, name, ret);
}

/* ---------------------------------------------------------------- answers */

static Waiter *waiter_free(Waiter *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->defer);
        free(w->reason);
        free(w->name);
        return mfree(w);
}

static void waiter_list_free(Waiter **head) {
        Waiter *w, *n;

        LIST_FOREACH_SAFE(waiters, w, n, *head) {
                LIST_REMOVE(waiters, *head, w);
                waiter_free(w);
        }
}

static int on_answer(sd_event_source *s, void *userdata) {
        Waiter *w = userdata;
        Renderer *r = w->owner;

        LIST_REMOVE(waiters, r->answered, w);
        agent_callback_invoke(w->done, r, &(AgentEvent) { .type = w->type, .error = w->error, .reason = w->reason,
                                                          .name = w->name }, w->userdata);
        waiter_free(w);
        return 0;
}

static int waiter_new(Renderer *r, AgentCallback done, void *userdata, int type, Waiter **ret) {
        Waiter *w = calloc(1, sizeof(*w));
        int k;

        if (!w)
                return -ENOMEM;
        *w = (Waiter) { .owner = r, .done = done, .userdata = userdata, .type = type };
        k = sd_event_add_defer(r->event, &w->defer, on_answer, w);
        if (k >= 0)
                k = sd_event_source_set_enabled(w->defer, SD_EVENT_OFF);
        if (k < 0) {
                waiter_free(w);
                return k;
        }
        *ret = w;
        return 0;
}

/* w has left its list: it is answered from the loop. A reason that cannot
 * be copied is dropped; the error stays. */
static void waiter_answer(Waiter *w, int error, const char *reason) {
        Renderer *r = w->owner;

        w->error = error;
        w->reason = reason ? strdup(reason) : NULL;
        LIST_PREPEND(waiters, r->answered, w);
        if (sd_event_source_set_enabled(w->defer, SD_EVENT_ONESHOT) < 0)
                log_error("cannot queue an answer: it is lost");
}

/* ------------------------------------------------------------------ files */

static bool target_exists(const Target *t) {
        struct stat st;
        return lstat(t->target, &st) == 0 && S_ISREG(st.st_mode);
}

/* What is at the target now, never following a symlink nor opening a
 * FIFO. *ret NULL: nothing there. */
static int target_read(const Target *t, char **ret, size_t *ret_len) {
        int k = read_file_bounded(t->target, TEMPLATE_OUTPUT_MAX, READ_FILE_NOFOLLOW, ret, ret_len);

        if (k == -ENOENT) {
                *ret = NULL;
                *ret_len = 0;
                return 0;
        }
        return k;
}

/* The target's directory must be root's alone: whoever else can write
 * there can swap the target for a link to /etc/shadow or a FIFO between
 * our calls. 0, or a negative errno after target_fail(). */
static void target_fail(Target *t, int error, const char *fmt, ...) _printf_(3, 4);
static int target_dir_check(Target *t) {
        struct stat st;
        int k = directory_check_private(t->target, &st);

        if (k == -EPERM)
                target_fail(t, k, "the directory of %s is writable by others than root (owner uid %u, group gid %u, "
                            "mode %04o); agentd does not write there", t->target, (unsigned) st.st_uid,
                            (unsigned) st.st_gid, (unsigned) (st.st_mode & 07777));
        else if (k < 0)
                target_fail(t, k, "cannot check the directory of %s: %s", t->target, strerror(-k));
        return k;
}

static const char *target_read_error(int k) {
        return k == -ELOOP ? "is a symbolic link; agentd does not follow it (remove it to let agentd write the file)" :
               k == -EBADFD ? "is not a regular file (a FIFO, socket, device or directory); agentd leaves it alone" :
               k == -EFBIG ? "is larger than 4 MiB" : NULL;
}

/* 1: the target is exactly data, with the right owner and mode. */
static int target_equals(const Target *t, const char *data, size_t len) {
        _cleanup_free_ char *cur = NULL;
        struct stat st;
        size_t cl;
        int k, same;

        k = target_read(t, &cur, &cl);
        if (k == -EFBIG)
                return 0;
        if (k < 0)
                return k;
        if (!cur)
                return 0;
        same = cl == len && memcmp(cur, data, len) == 0;
        explicit_wipe(cur, cl);
        /* Same bytes but wrong owner or mode: rewrite, do not keep it. */
        if (lstat(t->target, &st) < 0)
                return 0;
        return same && (st.st_mode & 07777) == t->mode && st.st_uid == t->uid && st.st_gid == t->gid;
}

/* ------------------------------------------------------------------ round */

static void round_maybe_end(Renderer *r);

static void round_error(Renderer *r, int error, const char *reason) {
        if (r->error != 0)
                return;
        r->error = error;
        free(r->reason);
        r->reason = strdup(reason);
}

static void target_fail(Target *t, int error, const char *fmt, ...) _printf_(3, 4);
static void target_fail(Target *t, int error, const char *fmt, ...) {
        Renderer *r = t->owner;
        _cleanup_free_ char *msg = NULL, *reason = NULL;
        bool stays = target_exists(t);
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (k < 0) {
                msg = NULL;
                log_oom();
        }
        renderer_redact(r, msg);
        /* Cut after redacting: a cut "***" reveals nothing. */
        if (msg && strlen(msg) > REASON_MAX)
                strcpy(msg + REASON_MAX - 3, "...");
        component_error(&t->component, t->installs > 0 || stays ? COMPONENT_DEGRADED : COMPONENT_FAILED,
                        "%s", msg ?: "out of memory");
        log_error("[render.%s]: %s%s", t->name, msg ?: "out of memory", stays ? "; the current file stays" : "");
        if (asprintf(&reason, "[render.%s]: %s", t->name, msg ?: "out of memory") < 0)
                reason = NULL;
        round_error(r, error, reason ?: "out of memory");
}

static void target_install(Target *t) {
        _cleanup_free_ char *cur = NULL;
        size_t cl = 0;
        char when[64];
        int k;

        /* Keep what is there now for `agentctl rollback`. */
        k = target_read(t, &cur, &cl);
        if (k < 0) {
                atomic_file_abort(&t->staging);
                return target_fail(t, k, "%s %s", t->target, target_read_error(k) ?: strerror(-k));
        }
        if (cur) {
                k = write_file_atomic(t->rollback_path, cur, cl, 0600, 0, 0);
                explicit_wipe(cur, cl);
                if (k < 0)
                        log_warning_errno(k, "[render.%s]: cannot keep the previous version in %s: %m",
                                          t->name, t->rollback_path);
        }
        k = atomic_file_commit(&t->staging);
        if (k < 0)
                return target_fail(t, k, "cannot move %s over %s: %s", t->staged, t->target, strerror(-k));
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
        _cleanup_free_ char *out = NULL;
        char why[128];

        t->validator = NULL;
        t->last_validate = res->duration;
        if (res->error == 0 && res->exited && res->exit_status == 0)
                target_install(t);
        else {
                atomic_file_abort(&t->staging);
                /* nginx -t quotes config lines: the staged file's escaped
                 * values. Redact the whole output before it is cut. */
                out = strdup(res->output);
                renderer_redact(r, out);
                target_fail(t, -EINVAL, "validation '%s' refused the new file (%s)%s%.600s", t->validate,
                            process_result_describe(res, why, sizeof(why)), !isempty(out) ? ": " : "",
                            out ?: "");
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

        if (target_dir_check(t) < 0)
                return;
        k = read_file_bounded(t->template_path, TEMPLATE_SIZE_MAX, 0, &text, &tl);
        if (k < 0)
                return target_fail(t, k, "cannot read template %s: %s", t->template_path,
                                   k == -EFBIG ? "larger than 1 MiB" : k == -EBADFD ? "not a regular file" :
                                   strerror(-k));
        k = template_render(t->template_path, text, tl, t->format, on_lookup, r, &out, &ol, &error);
        if (k < 0)
                return target_fail(t, k, "%s", error ?: strerror(-k));
        k = target_equals(t, out, ol);
        if (k != 0) {
                explicit_wipe(out, ol);
                free(out);
                if (k < 0)
                        return target_fail(t, k, "%s %s", t->target, target_read_error(k) ?: strerror(-k));
                if (t->component.state != COMPONENT_OK)
                        component_set(&t->component, COMPONENT_OK, "%s up to date", t->target);
                log_debug("[render.%s]: %s unchanged", t->name, t->target);
                return;
        }
        k = atomic_file_open(&t->staging, t->target, t->staged, t->mode, t->uid, t->gid);
        if (k >= 0) {
                k = atomic_file_write(&t->staging, out, ol);
                if (k >= 0)
                        k = atomic_file_sync(&t->staging);
                if (k < 0)
                        atomic_file_abort(&t->staging);
        }
        explicit_wipe(out, ol);
        free(out);
        if (k < 0)
                return target_fail(t, k, "cannot write %s: %s", t->staged, strerror(-k));
        if (!t->validate)
                return target_install(t);
        cmd = render_command_expand(t->validate, t->staged);
        if (!cmd) {
                atomic_file_abort(&t->staging);
                return target_fail(t, -ENOMEM, "out of memory");
        }
        k = process_spawn(r->event, cmd, &(ProcessOptions) { .timeout = VALIDATE_TIMEOUT }, on_validated, t,
                          &t->validator);
        if (k < 0) {
                atomic_file_abort(&t->staging);
                return target_fail(t, k, "cannot run validate command: %s", strerror(-k));
        }
        r->pending++;
}

typedef struct ReloadRequest {
        Renderer *renderer;
        char *what;
} ReloadRequest;

static void on_reloaded(void *source, const AgentEvent *ev, void *userdata) {
        ReloadRequest *q = userdata;
        Renderer *r = q->renderer;

        if (ev->error < 0) {
                _cleanup_free_ char *reason = strdup(strempty(ev->reason));

                /* A reload command's output may quote the config. */
                renderer_redact(r, reason);
                log_error("%s", reason ?: "reload failed");
                round_error(r, ev->error, reason ?: "reload failed");
                for (size_t i = 0; i < r->n; i++) {
                        Target *t = r->targets[i];
                        if (t->changed && streq_ptr(t->reload ?: t->reload_command, q->what))
                                component_error(&t->component, COMPONENT_DEGRADED, "installed, but %s",
                                                reason ?: "reload failed");
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
                        if (r->targets[j]->changed &&
                            streq_ptr(r->targets[j]->reload ?: r->targets[j]->reload_command, key))
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
                if ((t->reload_if_running ? reloader_reload_if_running : reloader_reload)(
                            r->reloader, t->reload, t->reload_command, on_reloaded, q) < 0) {
                        r->pending--;
                        free(q->what);
                        free(q);
                        log_error("[render.%s]: cannot start reload", t->name);
                }
        }
}

static void round_start(Renderer *r);

static void round_finish(Renderer *r) {
        Waiter *w, *n;
        char d[32];

        r->running = false;
        log_debug("render round done in %s: %s", format_duration(d, sizeof(d), now_usec(CLOCK_MONOTONIC) -
                  r->round_started), r->error ? strna(r->reason) : "ok");
        LIST_FOREACH_SAFE(waiters, w, n, r->waiters) {
                LIST_REMOVE(waiters, r->waiters, w);
                waiter_answer(w, r->error, r->error ? r->reason : NULL);
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
        Waiter *w;

        r->running = true;
        r->again = false;
        r->error = 0;
        r->reason = mfree(r->reason);
        r->round_started = now_usec(CLOCK_MONOTONIC);
        /* The next round's waiters are this round's now. */
        while ((w = r->next_waiters)) {
                LIST_REMOVE(waiters, r->next_waiters, w);
                LIST_PREPEND(waiters, r->waiters, w);
        }
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
        if (sd_event_add_defer(r->event, &r->defer, on_round_start, r) < 0) {
                log_oom();
                r->pending = 0;
                round_maybe_end(r);     /* answers the waiters, from their own events */
        }
}

int renderer_request(Renderer *r, const char *secret, AgentCallback done, void *userdata) {
        Waiter *w = NULL;
        int k;

        if (secret) {
                char **a = realloc(r->again_secrets, (r->n_again_secrets + 1) * sizeof(char *));
                if (!a)
                        return -ENOMEM;
                r->again_secrets = a;
                if (!(a[r->n_again_secrets] = strdup(secret)))
                        return -ENOMEM;
        }
        if (done) {
                k = waiter_new(r, done, userdata, RENDER_EVENT_DONE, &w);
                if (k < 0) {
                        if (secret)
                                free(r->again_secrets[r->n_again_secrets]);
                        return k;
                }
                LIST_APPEND(waiters, r->next_waiters, w);
        }
        if (secret)
                r->n_again_secrets++;
        else
                r->all_again = true;
        if (r->running)
                r->again = true;
        else
                round_start(r);
        return 0;
}

/* --------------------------------------------------------------- rollback */

static void on_rollback_reloaded(void *source, const AgentEvent *ev, void *userdata) {
        Waiter *w = userdata;
        Renderer *r = w->owner;
        _cleanup_free_ char *reason = ev->reason ? strdup(ev->reason) : NULL;

        renderer_redact(r, reason);
        LIST_REMOVE(waiters, r->rollbacks, w);
        waiter_answer(w, ev->error, ev->error < 0 ? reason ?: "reload failed" : NULL);
}

static Target *renderer_find(Renderer *r, const char *name) {
        for (size_t i = 0; i < r->n; i++)
                if (streq(r->targets[i]->name, name))
                        return r->targets[i];
        return NULL;
}

int renderer_rollback(Renderer *r, const char *name, AgentCallback done, void *userdata) {
        _cleanup_free_ char *prev = NULL, *cur = NULL;
        Waiter *w = NULL;
        size_t pl, cl = 0;
        Target *t;
        int k;

        t = renderer_find(r, name);
        if (!t)
                return -ENOENT;
        if (r->running)
                return -EBUSY;
        k = directory_check_private(t->target, NULL);
        if (k < 0) {
                log_error("[render.%s]: cannot roll back: the directory of %s is %s", t->name, t->target,
                          k == -EPERM ? "writable by others than root" : strerror(-k));
                return k;
        }
        k = read_file_bounded(t->rollback_path, TEMPLATE_OUTPUT_MAX, READ_FILE_NOFOLLOW, &prev, &pl);
        if (k < 0)
                return k == -ENOENT ? -ENODATA : k;
        /* Swap: the current file becomes the one to roll back to. */
        k = target_read(t, &cur, &cl);
        if (k >= 0)
                k = waiter_new(r, done, userdata, RENDER_EVENT_ROLLED_BACK, &w);
        if (k >= 0)
                k = write_file_atomic(t->target, prev, pl, t->mode, t->uid, t->gid);
        explicit_wipe(prev, pl);
        if (k < 0) {
                if (cur)
                        explicit_wipe(cur, cl);
                waiter_free(w);
                if (target_read_error(k))
                        log_error("[render.%s]: cannot roll back: %s %s", t->name, t->target, target_read_error(k));
                return k;
        }
        if (cur) {
                (void) write_file_atomic(t->rollback_path, cur, cl, 0600, 0, 0);
                explicit_wipe(cur, cl);
        }
        component_set(&t->component, COMPONENT_DEGRADED, "%s rolled back to the previous version", t->target);
        log_notice("[render.%s]: rolled back %s", t->name, t->target);
        if (!(w->name = strdup(t->name)))
                log_oom();
        if (!t->reload && !t->reload_command) {
                waiter_answer(w, 0, NULL);
                return 0;
        }
        LIST_PREPEND(waiters, r->rollbacks, w);
        k = (t->reload_if_running ? reloader_reload_if_running : reloader_reload)(
                r->reloader, t->reload, t->reload_command, on_rollback_reloaded, w);
        if (k < 0) {
                LIST_REMOVE(waiters, r->rollbacks, w);
                waiter_answer(w, k, "cannot start the reload");
        }
        return 0;
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
        const Target *t = container_of(c, const Target, component);
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
        atomic_file_abort(&t->staging);
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

static int target_new(Renderer *r, const RenderSettings *s, const char *state_dir, Target **ret) {
        _cleanup_free_ char *text = NULL, *error = NULL, *dir = NULL;
        Target *t;
        size_t tl;
        int k;

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *ret = t;
        t->owner = r;
        t->staging = (AtomicFile) ATOMIC_FILE_INIT;
        t->name = strdup(s->name);
        t->template_path = render_settings_template_path(s);
        t->target = strdup(s->target);
        dir = strdup(s->target);
        if (!t->name || !t->template_path || !t->target || !dir)
                return -ENOMEM;
        {
                /* render_settings_verify(): absolute, not ending in '/'. */
                const char *base = strrchr(s->target, '/') + 1;
                *strrchr(dir, '/') = 0;
                if (asprintf(&t->staged, "%s/.%s.agentd-new", dir, base) < 0 ||
                    asprintf(&t->rollback_path, "%s/rollback/%s", state_dir, s->name) < 0)
                        return -ENOMEM;
        }
        if ((s->validate && !(t->validate = strdup(s->validate))) ||
            (s->reload && !(t->reload = strdup(s->reload))) ||
            (s->reload_command && !(t->reload_command = strdup(s->reload_command))))
                return -ENOMEM;
        t->format = s->format >= 0 ? (TemplateFormat) s->format : format_guess(t->template_path);
        t->reload_if_running = s->reload_if_running;

        snprintf(t->component_name, sizeof(t->component_name), "render.%s", t->name);
        component_init(&t->component, t->component_name, true);
        t->component.append_json = target_append_json;

        /* Owner and group once, here: NSS lookups do not belong on the loop. */
        if (s->owner) {
                struct passwd *pw = getpwnam(s->owner);
                if (!pw)
                        return log_error_errno(ENOENT, "[render.%s] owner=%s: no such user", t->name, s->owner);
                t->uid = pw->pw_uid;
                t->gid = pw->pw_gid;
        }
        if (s->group) {
                struct group *gr = getgrnam(s->group);
                if (!gr)
                        return log_error_errno(ENOENT, "[render.%s] group=%s: no such group", t->name, s->group);
                t->gid = gr->gr_gid;
        }

        /* Which variables it uses: for secret dependencies and the mode. */
        k = read_file_bounded(t->template_path, TEMPLATE_SIZE_MAX, 0, &text, &tl);
        if (k < 0)
                return log_error_errno(k, "[render.%s]: cannot read template %s: %s", t->name, t->template_path,
                                       k == -EFBIG ? "larger than 1 MiB" : k == -EBADFD ? "not a regular file" :
                                       strerror(-k));
        k = template_variables(t->template_path, text, tl, &t->vars, &t->n_vars, &error);
        if (k < 0)
                return log_error_errno(k, "[render.%s]: %s", t->name, error ?: "cannot parse template");
        for (size_t i = 0; i < t->n_vars; i++)
                if (strncmp(t->vars[i], "secret.", 7) == 0)
                        t->uses_secret = true;
        t->mode = s->mode >= 0 ? (mode_t) s->mode : t->uses_secret ? 0640 : 0644;
        component_set(&t->component, COMPONENT_STARTING, "%s not rendered yet", t->target);
        return 0;
}

int renderer_new(sd_event *e, RenderSettings *const *targets, size_t n, const char *state_dir,
                 const RenderHooks *hooks, Renderer **ret) {
        _cleanup_(renderer_freep) Renderer *r = calloc(1, sizeof(Renderer));
        _cleanup_free_ char *rb = NULL;
        int k;

        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(e);
        if (hooks)
                r->hooks = *hooks;
        k = reloader_new(e, &r->reloader);
        if (k < 0)
                return k;
        r->targets = calloc(MAX(n, 1), sizeof(Target *));
        if (!r->targets)
                return -ENOMEM;
        if (n > 0) {
                if (asprintf(&rb, "%s/rollback", state_dir) < 0)
                        return -ENOMEM;
                (void) mkdir(state_dir, 0750);
                if (mkdir(rb, 0700) < 0 && errno != EEXIST)
                        return log_error_errno(errno, "cannot create %s: %m", rb);
        }
        for (size_t i = 0; i < n; i++) {
                Target *t = NULL;
                k = target_new(r, targets[i], state_dir, &t);
                if (t)
                        r->targets[r->n++] = t;
                if (k < 0)
                        return k;
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
        /* Pending reloads hold rollback waiters: drop the reloads first. */
        reloader_free(r->reloader);
        sd_event_source_disable_unref(r->defer);
        waiter_list_free(&r->waiters);
        waiter_list_free(&r->next_waiters);
        waiter_list_free(&r->rollbacks);
        waiter_list_free(&r->answered);
        for (size_t j = 0; j < r->n_again_secrets; j++)
                free(r->again_secrets[j]);
        free(r->again_secrets);
        free(r->reason);
        sd_event_unref(r->event);
        return mfree(r);
}

size_t renderer_count(Renderer *r) {
        return r ? r->n : 0;
}

int renderer_add_components(Renderer *r, ComponentList *l) {
        for (size_t i = 0; r && i < r->n; i++) {
                int k = component_list_add(l, &r->targets[i]->component);
                if (k < 0)
                        return k;
        }
        return 0;
}
