/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Memory for secrets (secret values, the role's secret key and session
 * token): pages of their own, mapped with mmap() and marked MADV_DONTDUMP,
 * so a core dump (systemd-coredump, a debugger's gcore) never holds them,
 * and wiped before they are unmapped. A page or more per allocation: meant
 * for the few long-lived copies, not for every buffer.
 *
 * stack_wipe(): a copy on the stack outlives the call that made it (cJSON
 * parses a number through a 64-byte stack buffer; our own formatting does
 * too); calling this after parsing a secret wipes the stack below the
 * caller's frame, where those calls ran.
 */

#include <stddef.h>

/* Zeroed; NULL when out of memory. */
void *secure_malloc(size_t n);
/* Wipes and unmaps; NULL-safe. Only for secure_malloc()'d memory. */
void secure_free(void *p);
char *secure_strndup(const char *s, size_t n);
char *secure_strdup(const char *s);

#define STACK_WIPE_SIZE (16U * 1024U)
void stack_wipe(void);
