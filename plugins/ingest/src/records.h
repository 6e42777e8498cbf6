/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Step (2) of the ingestion flow, as pure functions: a request body (NDJSON,
 * a JSON array or CSV with a header row) is parsed, each record validated
 * against its dataset's schema and preprocessed: types coerced, strings
 * trimmed and checked as UTF-8, timestamps normalised to UTC.
 *
 * The output is what the job stores and the workers read: one line a
 * record, a JSON array with one string (or null) per schema field in schema
 * order, each already in the text form MySQL takes for the column type
 * ("42", "0.5", "1", "2026-01-02 03:04:05.000000"). Workers then need no
 * schema logic of their own beyond the column list.
 *
 * No I/O, no logging: the HTTP layer turns the result into 400/413/422
 * answers whose JSON bodies are built here.
 */

#include "conf.h"

typedef enum BodyFormat {
        FORMAT_NDJSON,
        FORMAT_JSON,
        FORMAT_CSV,
} BodyFormat;

/* From a Content-Type value (parameters such as charset=utf-8 ignored);
 * -EMEDIUMTYPE when it is none of the three (→ 415). */
int body_format_from_content_type(const char *ct, BodyFormat *ret);

typedef struct Records {
        unsigned status;        /* 0: valid; else 400, 413 or 422 */
        Buf out;                /* the normalised records (status 0) */
        size_t n_records;
        Buf error;              /* the JSON error body (status != 0) */
        size_t n_bad;           /* problems found (the first max_errors are listed) */
        size_t n_bad_records;   /* records with at least one */
} Records;

/* Returns 0 (see r->status for the verdict) or -ENOMEM. */
int records_process(const Dataset *d, BodyFormat f, const char *body, size_t len, Records *r);
void records_done(Records *r);
