/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Rendered configuration files, one per [render.NAME]. A render round takes
 * the targets that need it, and for each:
 *
 *   render the template (system.* and pm.* here, the rest from the owner's
 *   lookup: identity, secrets, tags, vars)
 *   → identical to the file on disk? stop here: no write, no reload
 *   → stage it next to the target (".NAME.agentd-new", an AtomicFile: owner
 *     and mode set before the first byte is written, fsynced)
 *   → run validate= on the staged file (nginx -t, php-fpm -t)
 *   → keep the current file for `agentctl rollback NAME` (in the state dir,
 *     not next to the target, where nginx's include glob would load it)
 *   → rename over the target, fsync the directory
 *
 * and then reloads each distinct service of the changed targets once
 * (reload.c). Invalid output never replaces a good file; a failed target
 * keeps its last good file and shows the error (template:line:column for
 * template errors, the validator's output with every secret value, raw
 * and in each escaped form, replaced by "***"). Something other than a
 * regular file at a target (a symlink, a FIFO) is refused, not followed.
 *
 * Rounds never overlap: a request during a round runs as one more round.
 * Every completion is delivered from a deferred event source, never from
 * inside the call that asked for it.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "callback.h"
#include "component.h"
#include "render-settings.h"
#include "template.h"

typedef struct Renderer Renderer;

enum {
        RENDER_EVENT_DONE = 1,          /* a requested round ended: error is its first failure */
        RENDER_EVENT_ROLLED_BACK,       /* renderer_rollback() finished; name: the target */
};

/* Receives each secret value to redact; ctx is the renderer's. */
typedef void (*RenderRedactAdd)(const char *value, size_t len, void *ctx);

typedef struct RenderHooks {
        /* Template variables other than system.* and pm.*; -ENOENT if unknown. */
        TemplateLookup lookup;
        /* Calls add() once for every secret value currently loaded, with no
         * cap on their number (values under 4 bytes are not redacted).
         * A negative return (out of memory) withholds the whole text. */
        int (*foreach_secret)(void *userdata, RenderRedactAdd add, void *ctx);
        void *userdata;
} RenderHooks;

/* targets: the [render.*] settings (copied); state_dir:
 * where rollback copies are kept (STATE/rollback/NAME). Resolves owners and
 * groups and reads each template once here (logging what is wrong). */
int renderer_new(sd_event *e, RenderSettings *const *targets, size_t n, const char *state_dir,
                 const RenderHooks *hooks, Renderer **ret);
Renderer *renderer_free(Renderer *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Renderer *, renderer_free);

size_t renderer_count(Renderer *r);
/* One Component per target ("render.NAME"), valid while r lives. */
int renderer_add_components(Renderer *r, ComponentList *l);

/* Render the targets that use secret `secret` (NULL: all targets). done
 * (optional) gets RENDER_EVENT_DONE when that round is over. */
int renderer_request(Renderer *r, const char *secret, AgentCallback done, void *userdata);
/* Put back the previous file of target NAME and reload its service; done
 * gets RENDER_EVENT_ROLLED_BACK (error: the reload's). Returns -ENOENT (no
 * such target), -EBUSY (a round runs), -ENODATA (nothing to roll back to)
 * or a file error without calling done. */
int renderer_rollback(Renderer *r, const char *name, AgentCallback done, void *userdata);

/* Pure helpers, exposed for tests. */
/* "validate-x {}" with {} → the shell-quoted path. */
char *render_command_expand(const char *command, const char *path);
/* Replaces, in the NUL-terminated buf, every occurrence of value (len
 * bytes), raw and in the escaped form of every template format, by "***",
 * and a prefix of any of them cut off at the end of buf. Values under 4
 * bytes are left alone: they would shred the text and are not secrets
 * worth the name (a port, "true"). */
void render_redact_value(char *buf, const char *value, size_t len);
