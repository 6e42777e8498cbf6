/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The configuration engine: INI files (inih) read against tables of
 * sections and keys. It knows no subsystem. Each subsystem declares the
 * sections it owns (a ConfSection with its key table, value parsers and
 * defaults) next to its settings struct; the daemon lists them with the
 * place of each in its Config (a ConfSectionRef) and hands the list here.
 *
 * Plain sections ([aws]) fill one settings struct. Named sections
 * ([secret.NAME]) add one item per NAME to a ConfList; NAME is limited to
 * letters, digits, '_' and '-' (at most 64), since it ends up in template
 * variables and file names. Anything not in a table, and any value that
 * does not parse, is an error naming file:line, section and key.
 */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

/* Stores the parsed value into field; 0, or a negative errno with reason. */
typedef int (*ConfParser)(const char *value, void *field, const char **reason);

typedef struct ConfItem {
        const char *key;
        ConfParser parse;
        size_t offset;          /* of the field in the section's struct */
} ConfItem;

typedef struct ConfList {
        void **items;
        size_t n;
} ConfList;

typedef struct ConfSection {
        const char *name;               /* "aws"; for named sections the kind, "secret" */
        const ConfItem *items;          /* NULL: free-form, every key goes to set() */
        int (*set)(void *section, const char *key, const char *value, const char **reason);
        /* Named sections only: */
        bool named;
        size_t max;                     /* at most this many */
        size_t size;                    /* of one item */
        size_t name_offset;             /* the item's `char *name` */
        int (*init)(void *item);        /* defaults; optional */
        void (*done)(void *item);       /* frees the fields (not the item, not the name); optional */
} ConfSection;

typedef struct ConfSectionRef {
        const ConfSection *section;
        size_t offset;                  /* in the root: the settings struct, or the ConfList */
} ConfSectionRef;

typedef struct ConfTable {
        const ConfSectionRef *refs;
        size_t n;
} ConfTable;

/* Parse one file into root. On error *ret_error (optional) gets
 * "FILE:LINE: message". */
int conf_parse_file(const ConfTable *t, void *root, const char *filename, char **ret_error);

/* path: a directory (MAIN in it, then DROPIN/ *.conf in lexical order), a
 * single file, or missing (-ENOENT). Appends each file read to sources. */
int conf_parse_path(const ConfTable *t, void *root, const char *path, const char *main_name,
                    const char *dropin_dir, char ***sources, size_t *n_sources, char **ret_error);

/* Frees every item of a named-section list. */
void conf_list_free(ConfList *l, const ConfSection *s);
/* The item called name, or NULL. */
void *conf_list_find(const ConfList *l, const ConfSection *s, const char *name);
static inline const char *conf_list_item_name(const ConfSection *s, const void *item) {
        return *(char *const *) ((const char *) item + s->name_offset);
}

/* Formats a verification error: "[KIND.NAME]: message". */
int conf_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);

bool conf_name_valid(const char *name);

/* Value syntaxes shared by many sections (subsystem-specific ones live
 * with their settings). */
int conf_parse_string(const char *v, void *field, const char **reason);
int conf_parse_duration(const char *v, void *field, const char **reason);
int conf_parse_size(const char *v, void *field, const char **reason);
int conf_parse_bool(const char *v, void *field, const char **reason);
int conf_parse_url(const char *v, void *field, const char **reason);
int conf_parse_abs_path(const char *v, void *field, const char **reason);
int conf_parse_socket_path(const char *v, void *field, const char **reason);   /* absolute, < 108 bytes */
int conf_parse_name(const char *v, void *field, const char **reason);          /* user or group */
int conf_parse_unit(const char *v, void *field, const char **reason);          /* NAME.service */
int conf_parse_port(const char *v, void *field, const char **reason);
int conf_parse_log_level(const char *v, void *field, const char **reason);
