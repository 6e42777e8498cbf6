/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The variables templates see:
 *   instance.id .region .availability_zone .type .ami_id .local_ipv4
 *            .account_id .life_cycle .role      (IMDS identity)
 *   tags.KEY                                     (instance tags, if enabled)
 *   secret.NAME / secret.NAME.FIELD              (Secrets Manager)
 *   vars.KEY                                     ([vars] in the config)
 *   system.memory_mib .cpus                      (this machine)
 *   pm.max_children .start_servers .min_spare_servers .max_spare_servers
 *                                                (php-fpm sized from memory)
 */

#include <stddef.h>

#include "template.h"

typedef struct Manager Manager;

/* TemplateLookup for a Manager. */
int render_lookup(void *userdata, const char *name, TemplateValue *ret);

typedef struct PmSizing {
        unsigned max_children, start_servers, min_spare_servers, max_spare_servers;
} PmSizing;

/* Pure: php-fpm "dynamic" pool sized for a machine with mem_mib of memory,
 * children of child_mib each, after reserving reserve_mib for the rest. */
PmSizing render_pm_sizing(unsigned long mem_mib, unsigned long child_mib, unsigned long reserve_mib);
