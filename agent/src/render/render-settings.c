/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "render"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"
#include "log.h"
#include "render-settings.h"
#include "template.h"

#define ITEM(k, p, f) { k, p, offsetof(RenderSettings, f) }
static const ConfItem render_items[] = {
        ITEM("template", conf_parse_string, template_path),
        ITEM("target", conf_parse_abs_path, target),
        ITEM("format", render_parse_format, format),
        ITEM("mode", render_parse_mode, mode),
        ITEM("owner", conf_parse_name, owner),
        ITEM("group", conf_parse_name, group),
        ITEM("validate", conf_parse_string, validate),
        ITEM("reload", conf_parse_unit, reload),
        ITEM("reload_command", conf_parse_string, reload_command),
        ITEM("reload_if_running", conf_parse_bool, reload_if_running),
        {}
};

const ConfSection render_conf_section = {
        .name = "render",
        .items = render_items,
        .named = true,
        .max = RENDER_MAX,
        .size = sizeof(RenderSettings),
        .name_offset = offsetof(RenderSettings, name),
        .init = render_settings_init,
        .done = render_settings_done,
};

int render_settings_init(void *item) {
        RenderSettings *s = item;

        *s = (RenderSettings) { .format = -1, .mode = -1 };
        return 0;
}

void render_settings_done(void *item) {
        RenderSettings *s = item;

        free(s->template_path);
        free(s->target);
        free(s->owner);
        free(s->group);
        free(s->validate);
        free(s->reload);
        free(s->reload_command);
}

int render_parse_mode(const char *v, void *field, const char **reason) {
        char *end;
        long m;

        errno = 0;
        m = strtol(v, &end, 8);
        if (isempty(v) || *end || errno || m < 0 || m > 07777) {
                *reason = "not an octal file mode (example: 0640)";
                return -EINVAL;
        }
        /* A rendered config file is data: nothing to execute as someone else. */
        if (m & 07000) {
                *reason = "setuid, setgid and sticky bits are refused";
                return -EINVAL;
        }
        if (m & 0002) {
                *reason = "world-writable modes are refused";
                return -EINVAL;
        }
        *(int *) field = (int) m;
        return 0;
}

int render_parse_format(const char *v, void *field, const char **reason) {
        int f = template_format_from_string(v);

        if (f < 0) {
                *reason = "not a template format (nginx, php-fpm, env, json, raw)";
                return -EINVAL;
        }
        *(int *) field = f;
        return 0;
}

int render_settings_verify(RenderSettings *const *list, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                const RenderSettings *s = list[i];
                const char *missing = isempty(s->template_path) ? "template=" : isempty(s->target) ? "target=" : NULL;

                if (missing)
                        return conf_error(ret_error, "[render.%s]: %s is required", s->name, missing);
                if (s->target[strlen(s->target) - 1] == '/')
                        return conf_error(ret_error, "[render.%s]: target=%s names a directory, not a file",
                                          s->name, s->target);
                for (size_t j = 0; j < i; j++)
                        if (streq(list[j]->target, s->target))
                                return conf_error(ret_error, "[render.%s] and [render.%s] both write %s",
                                                  list[j]->name, s->name, s->target);
        }
        return 0;
}

char *render_settings_template_path(const RenderSettings *s) {
        char *p;

        if (s->template_path[0] == '/')
                return strdup(s->template_path);
        if (asprintf(&p, "%s/%s", AGENTD_TEMPLATE_DIR, s->template_path) < 0)
                return NULL;
        return p;
}

int render_check_config(RenderSettings *const *list, size_t n) {
        int ret = 0;

        for (size_t i = 0; i < n; i++) {
                const RenderSettings *s = list[i];
                _cleanup_free_ char *path = NULL, *text = NULL, *error = NULL;
                char **names = NULL;
                size_t tl, nn = 0;
                int k;

                path = render_settings_template_path(s);
                if (!path)
                        return log_oom();
                k = read_file_bounded(path, TEMPLATE_SIZE_MAX, 0, &text, &tl);
                if (k < 0) {
                        log_error_errno(k, "[render.%s]: cannot read template %s: %s", s->name, path,
                                        k == -EFBIG ? "larger than 1 MiB" : k == -EBADFD ? "not a regular file" :
                                        strerror(-k));
                        ret = ret ?: k;
                        continue;
                }
                k = template_variables(path, text, tl, &names, &nn, &error);
                if (k < 0) {
                        log_error("[render.%s]: %s", s->name, error ?: strerror(-k));
                        ret = ret ?: k;
                } else
                        template_names_free(names);
                if (s->owner && !getpwnam(s->owner)) {
                        log_error("[render.%s] owner=%s: no such user", s->name, s->owner);
                        ret = ret ?: -ENOENT;
                }
                if (s->group && !getgrnam(s->group)) {
                        log_error("[render.%s] group=%s: no such group", s->name, s->group);
                        ret = ret ?: -ENOENT;
                }
        }
        return ret;
}
