/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Configuration: the plugin's own file (/etc/agentd/ingest.conf, INI) and
 * one schema file per dataset (/etc/agentd/datasets.d/NAME.conf). Both are
 * read once at start; a bad value is refused with the file, line and key.
 * See docs/ingest.md for every key.
 */

#include "util.h"

#define FIELDS_MAX 64
#define KEYS_MAX 8
#define DATASETS_MAX 256
#define CLAIM_BATCH_MAX 64      /* jobs a worker claims and completes in one transaction */

typedef enum FieldType {
        FIELD_STRING,
        FIELD_INT,
        FIELD_FLOAT,
        FIELD_BOOL,
        FIELD_TIMESTAMP,
} FieldType;

typedef struct Field {
        char *name;
        FieldType type;
        bool required;
        bool is_key;
        uint64_t max_length;    /* string: characters (UTF-8 code points) */
        bool has_min, has_max;
        double min, max;        /* int, float */
} Field;

typedef struct Dataset {
        char *name;             /* from the file name; the URL segment */
        char *table;
        Field fields[FIELDS_MAX];
        size_t n_fields;
        size_t keys[KEYS_MAX];  /* indexes into fields, in key order */
        size_t n_keys;
        uint64_t max_records;   /* per request */
        uint64_t max_errors;    /* bad records listed in a 422 */
} Dataset;

typedef struct IngestConfig {
        char *listen;           /* unix socket path */
        char *datasets_dir;
        char *credentials;      /* path of the credentials file */
        char *instance_id;
        uint64_t max_body;      /* bytes on the wire */
        uint64_t max_decoded;   /* bytes after gunzip */
        uint64_t max_buffered;  /* request bodies held in memory, all requests together */
        uint64_t max_queue;     /* queued+failed jobs before 429 */
        uint64_t db_threads;
        uint64_t max_pending;   /* requests waiting for a DB thread before 503 */
        usec_t drain_timeout;
        usec_t stats_interval;
        uint64_t max_connections;       /* then the oldest waiting connection is closed for a new one */
        uint64_t max_per_peer;          /* connections of one uid */
        usec_t request_timeout;         /* a whole request (line, headers, body) */
        /* [database] */
        char *db_host;
        char *db_socket;
        uint64_t db_port;
        char *db_name;
        usec_t db_timeout;
        /* [worker] */
        uint64_t batch_size;
        uint64_t claim_batch;   /* small jobs claimed together, 1 to CLAIM_BATCH_MAX */
        uint64_t max_attempts;
        usec_t lease;
        usec_t poll_interval;
        usec_t backoff_base, backoff_max;

        Dataset **datasets;
        size_t n_datasets;
} IngestConfig;

int config_load(const char *path, IngestConfig **ret);
IngestConfig *config_free(IngestConfig *c);
static inline void config_freep(IngestConfig **c) {
        config_free(*c);
}

/* Parses one dataset file; name is the dataset's name. Errors are logged
 * with the file and line. */
int dataset_load(const char *path, const char *name, Dataset **ret);
Dataset *dataset_free(Dataset *d);
const Dataset *config_dataset(const IngestConfig *c, const char *name);
const char *field_type_to_string(FieldType t);
