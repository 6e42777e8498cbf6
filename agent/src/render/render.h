/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Rendered configuration files, one per [render.NAME]. A render round takes
 * the targets that need it, and for each:
 *
 *   render the template (identity, secrets, tags, vars)
 *   → identical to the file on disk? stop here: no write, no reload
 *   → stage it next to the target (".NAME.agentd-new", owner and mode set
 *     before the first byte is written, fsynced)
 *   → run validate= on the staged file (nginx -t, php-fpm -t)
 *   → keep the current file for `agentctl rollback NAME` (in the state dir,
 *     not next to the target, where nginx's include glob would load it)
 *   → rename over the target, fsync the directory
 *
 * and then reloads each distinct service of the changed targets once
 * (reload.c). Invalid output never replaces a good file; a failed target
 * keeps its last good file and shows the error (template:line:column for
 * template errors, the validator's output with secrets redacted).
 *
 * Rounds never overlap: a request during a round runs as one more round.
 */

#include <stdbool.h>

#include "component.h"
#include "conf.h"

typedef struct Manager Manager;
typedef struct Renderer Renderer;

/* error: 0 if every target is in place, else the first failure. */
typedef void (*RenderDone)(Manager *m, int error, const char *reason, void *userdata);

int renderer_new(Manager *m, Renderer **ret);
Renderer *renderer_free(Renderer *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Renderer *, renderer_free);

size_t renderer_count(Renderer *r);
/* Render the targets that use secret `secret` (NULL: all targets). done
 * (optional) runs when that round is over. */
int renderer_request(Renderer *r, const char *secret, RenderDone done, void *userdata);
/* Put back the previous file of target NAME and reload its service. */
int renderer_rollback(Renderer *r, const char *name, RenderDone done, void *userdata);

/* For --check-config: every [render.*] template readable and well-formed,
 * every owner/group known. Logs each problem; returns the first error. */
int render_check_config(const Config *c);

/* Pure helpers, exposed for tests. */
/* "validate-x {}" with {} → the shell-quoted path. */
char *render_command_expand(const char *command, const char *path);
/* Replace every occurrence of any of the n secrets in buf by "***". */
void render_redact(char *buf, const char *const *secrets, const size_t *lengths, size_t n);
