/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the renderer asks of the manager (RenderHooks): the template
 * variables the manager holds, and every secret value for redaction.
 *   instance.id .region .availability_zone .type .ami_id .local_ipv4
 *            .account_id .life_cycle .role      (IMDS identity)
 *   tags.KEY                                     (instance tags, if enabled)
 *   secret.NAME / secret.NAME.FIELD              (Secrets Manager)
 *   vars.KEY                                     ([vars] in the config)
 * (system.* and pm.* are the renderer's own: system-vars.h.)
 */

#include "render.h"

typedef struct Manager Manager;

/* TemplateLookup; userdata: the Manager. */
int manager_template_lookup(void *userdata, const char *name, TemplateValue *ret);
/* RenderHooks.foreach_secret; userdata: the Manager. */
int manager_foreach_secret(void *userdata, RenderRedactAdd add, void *ctx);

static inline RenderHooks manager_render_hooks(Manager *m) {
        return (RenderHooks) { .lookup = manager_template_lookup, .foreach_secret = manager_foreach_secret,
                               .userdata = m };
}
