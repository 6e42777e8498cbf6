/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * [render.NAME]: one rendered file each.
 *
 *   template = nginx-site.conf.in   relative: in AGENTD_TEMPLATE_DIR
 *   target = /etc/nginx/sites-enabled/app.conf
 *   format = nginx                  nginx, php-fpm, env, json, raw
 *                                   (unset: guessed from the template's name)
 *   mode = 0640                     unset: 0640 if it uses a secret, else 0644
 *   owner = www-data, group = www-data
 *   validate = nginx -t -q -c {}    "{}" is the staged file
 *   reload = nginx.service          reloaded over D-Bus
 *   reload_command = nginx -s reload   when systemd is not reachable
 *   reload_if_running = yes         ReloadOrTryRestartUnit: never starts the
 *                                   unit (the daemon sets it when reload=
 *                                   names a plugin's unit)
 *
 * The section, its parsers and defaults live here; the daemon lists
 * render_conf_section in its ConfTable and hands the parsed items to
 * renderer_new().
 */

#include <stddef.h>

#include "conf-parser.h"

#define AGENTD_TEMPLATE_DIR "/usr/share/agentd/templates"
#define RENDER_MAX 64

typedef struct RenderSettings {
        char *name;             /* NAME of [render.NAME] */
        char *template_path;
        char *target;
        int format;             /* TemplateFormat; -1: from the template's name */
        int mode;               /* -1: 0640 if it uses a secret, else 0644 */
        char *owner;
        char *group;
        char *validate;         /* command, "{}" → the staged file */
        char *reload;           /* systemd unit, reloaded over D-Bus */
        char *reload_command;   /* when systemd is not reachable */
        bool reload_if_running; /* leave a unit that is not running alone */
} RenderSettings;

extern const ConfSection render_conf_section;

int render_settings_init(void *item);
void render_settings_done(void *item);

/* Value syntaxes of the section, exposed for tests. */
int render_parse_mode(const char *v, void *field, const char **reason);         /* int */
int render_parse_format(const char *v, void *field, const char **reason);       /* int (TemplateFormat) */

/* Across sections, after all files: template= and target= set, no two
 * sections writing one target. *ret_error: "[render.NAME]: ...". */
int render_settings_verify(RenderSettings *const *list, size_t n, char **ret_error);

/* The template's path: absolute as given, else in AGENTD_TEMPLATE_DIR. */
char *render_settings_template_path(const RenderSettings *s);

/* For `agentd --check-config`: every template readable and well-formed,
 * every owner/group known. Logs each problem; returns the first error. */
int render_check_config(RenderSettings *const *list, size_t n);
