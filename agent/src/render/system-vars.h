/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The template variables that describe this machine, which the renderer
 * answers itself (the owner's lookup answers the rest: instance.*, tags.*,
 * secret.*, vars.*):
 *
 *   system.memory_mib .cpus
 *   pm.max_children .start_servers .min_spare_servers .max_spare_servers
 *                  (a php-fpm "dynamic" pool sized from memory)
 */

#include <stddef.h>

#include "template.h"

#define SYSTEM_VARS_NUMBER_MAX 24

typedef struct PmSizing {
        unsigned max_children, start_servers, min_spare_servers, max_spare_servers;
} PmSizing;

/* Pure: php-fpm "dynamic" pool sized for a machine with mem_mib of memory,
 * children of child_mib each, after reserving reserve_mib for the rest. */
PmSizing render_pm_sizing(unsigned long mem_mib, unsigned long child_mib, unsigned long reserve_mib);

/* system.* and pm.*: formats the number into buf (which must stay valid
 * while the value is used) and returns 0; -ENOENT for any other name. */
int system_vars_lookup(const char *name, char buf[static SYSTEM_VARS_NUMBER_MAX], TemplateValue *ret);
