/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <time.h>

#include "fields.h"
#include "records.h"

/*
 * Each record becomes an array of FIELDS_MAX slots (raw text or a cJSON
 * item) filled by the format's reader, then normalise_record() checks and
 * converts every slot. The first max_errors bad records are listed in the
 * 422 body; a malformed body (400) stops at the first error, with its line.
 */

typedef struct Slot {
        bool set;
        const cJSON *json;      /* JSON formats */
        const char *text;       /* CSV: NUL-terminated cell */
} Slot;

typedef struct Ctx {
        const Dataset *d;
        Records *r;
        size_t record;          /* 0-based index of the current record */
        size_t line;            /* 1-based line where it starts */
} Ctx;

int body_format_from_content_type(const char *ct, BodyFormat *ret) {
        static const struct { const char *type; BodyFormat f; } map[] = {
                { "application/x-ndjson", FORMAT_NDJSON }, { "application/ndjson", FORMAT_NDJSON },
                { "application/jsonl", FORMAT_NDJSON }, { "application/json", FORMAT_JSON },
                { "text/csv", FORMAT_CSV },
        };
        size_t n;

        if (!ct)
                return -EMEDIUMTYPE;
        while (*ct == ' ')
                ct++;
        n = strcspn(ct, "; ");
        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (strlen(map[i].type) == n && strncasecmp(ct, map[i].type, n) == 0) {
                        *ret = map[i].f;
                        return 0;
                }
        return -EMEDIUMTYPE;
}

static int add_bad(Ctx *x, const char *field, const char *fmt, ...) _printf_(3, 4);
static int add_bad(Ctx *x, const char *field, const char *fmt, ...) {
        Records *r = x->r;
        char reason[300];
        va_list ap;

        if (r->n_bad++ >= x->d->max_errors)
                return 0;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        if (buf_printf(&r->error, "%s{\"record\":%zu,\"line\":%zu,\"field\":", r->n_bad > 1 ? "," : "", x->record,
                       x->line) < 0 ||
            (field ? buf_json_string(&r->error, field, strlen(field)) : buf_puts(&r->error, "null")) < 0 ||
            buf_puts(&r->error, ",\"reason\":") < 0 || buf_json_string(&r->error, reason, strlen(reason)) < 0 ||
            buf_puts(&r->error, "}") < 0)
                return -ENOMEM;
        return 0;
}

/* Checks and converts one record's slots; appends its line to r->out when
 * it is valid. */
static int normalise_record(Ctx *x, const Slot *slots) {
        const Dataset *d = x->d;
        Records *r = x->r;
        size_t start = r->out.len, bad_before = r->n_bad;
        int k;

        if (buf_puts(&r->out, "[") < 0)
                return -ENOMEM;
        for (size_t i = 0; i < d->n_fields; i++) {
                const Field *f = &d->fields[i];
                const Slot *s = &slots[i];
                bool missing = !s->set || (s->json && cJSON_IsNull(s->json)) ||
                               (s->text && f->type != FIELD_STRING && !s->text[strspn(s->text, " \t\r\n")]);
                const char *why, *str;
                char val[64];
                size_t len = 0;

                if (i > 0 && buf_puts(&r->out, ",") < 0)
                        return -ENOMEM;
                if (missing) {
                        if (f->required && (k = add_bad(x, f->name, "required field missing")) < 0)
                                return k;
                        if (buf_puts(&r->out, "null") < 0)
                                return -ENOMEM;
                        continue;
                }
                why = field_convert(f, s->json, s->text, val, &str, &len);
                if (why) {
                        if ((k = add_bad(x, f->name, "%s (expected %s)", why, field_type_to_string(f->type))) < 0)
                                return k;
                        continue;
                }
                if (f->required && f->type == FIELD_STRING && len == 0) {
                        if ((k = add_bad(x, f->name, "required field is empty")) < 0)
                                return k;
                        continue;
                }
                if (buf_json_string(&r->out, str, len) < 0)
                        return -ENOMEM;
        }
        if (r->n_bad > bad_before) {
                r->n_bad_records++;
                r->out.len = start;     /* dropped; the whole request will be 422 anyway */
                return 0;
        }
        r->n_records++;
        return buf_puts(&r->out, "]\n");
}

static void set_error(Records *r, unsigned status, const char *kind, size_t line, const char *fmt, ...)
        _printf_(5, 6);
static void set_error(Records *r, unsigned status, const char *kind, size_t line, const char *fmt, ...) {
        char msg[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        r->status = status;
        r->error.len = 0;
        (void) buf_printf(&r->error, "{\"error\":\"%s\",", kind);
        if (line)
                (void) buf_printf(&r->error, "\"line\":%zu,", line);
        (void) buf_puts(&r->error, "\"message\":");
        (void) buf_json_string(&r->error, msg, strlen(msg));
        (void) buf_puts(&r->error, "}");
}

static bool too_many(Ctx *x) {
        if (x->record < x->d->max_records)
                return false;
        set_error(x->r, 413, "too_large", x->line, "more than %" PRIu64 " records in one request (dataset %s)",
                  x->d->max_records, x->d->name);
        return true;
}

/* One JSON object → slots; unknown member names are errors. */
static int object_record(Ctx *x, const cJSON *o) {
        size_t n = x->d->n_fields, next = 0;
        Slot slots[FIELDS_MAX];
        const cJSON *m;
        int k;

        memset(slots, 0, n * sizeof(Slot));     /* only the fields in use: this runs per record */
        cJSON_ArrayForEach(m, o) {
                size_t i;
                /* Clients mostly send the fields in one order: look where
                 * the last one was found first, then everywhere. */
                if (next < n && streq(x->d->fields[next].name, m->string))
                        i = next;
                else
                        for (i = 0; i < n; i++)
                                if (streq(x->d->fields[i].name, m->string))
                                        break;
                next = i + 1;
                if (i == n) {
                        if ((k = add_bad(x, m->string, "unknown field")) < 0)
                                return k;
                        x->r->n_bad_records++;
                        return 0;
                }
                slots[i] = (Slot) { .set = true, .json = m };
        }
        return normalise_record(x, slots);
}

static size_t line_of(const char *body, const char *pos) {
        size_t line = 1;
        for (const char *p = body; p < pos; p++)
                line += *p == '\n';
        return line;
}

static int parse_ndjson(Ctx *x, const char *body, size_t len) {
        const char *p = body, *end = body + len;
        int k;

        for (x->line = 1; p < end; x->line++) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t n = (nl ? nl : end) - p;
                const char *q = p;
                cJSON *o;

                while (q < p + n && isspace((unsigned char) *q))
                        q++;
                if (q == p + n) {
                        p += n + 1;
                        continue;
                }
                if (too_many(x))
                        return 0;
                o = cJSON_ParseWithLength(p, n);
                if (!o || !cJSON_IsObject(o)) {
                        set_error(x->r, 400, "malformed", x->line, o ? "line %zu is not a JSON object"
                                                                     : "line %zu is not valid JSON", x->line);
                        cJSON_Delete(o);
                        return 0;
                }
                k = object_record(x, o);
                cJSON_Delete(o);
                if (k < 0)
                        return k;
                x->record++;
                p += n + 1;
        }
        return 0;
}

static int parse_json(Ctx *x, const char *body, size_t len) {
        const char *err = NULL;
        cJSON *a = cJSON_ParseWithLengthOpts(body, len, &err, false), *o;
        int k = 0;

        if (!a) {
                x->line = line_of(body, err && err >= body && err <= body + len ? err : body);
                set_error(x->r, 400, "malformed", x->line, "not valid JSON (near line %zu)", x->line);
                return 0;
        }
        if (!cJSON_IsArray(a)) {
                set_error(x->r, 400, "malformed", 1, "a JSON array of objects is expected");
                cJSON_Delete(a);
                return 0;
        }
        x->line = 0;    /* records are numbered; lines are not tracked inside one document */
        cJSON_ArrayForEach(o, a) {
                if (too_many(x))
                        break;
                if (!cJSON_IsObject(o)) {
                        set_error(x->r, 400, "malformed", 0, "array element %zu is not an object", x->record);
                        break;
                }
                if ((k = object_record(x, o)) < 0)
                        break;
                x->record++;
        }
        cJSON_Delete(a);
        return k;
}

/* RFC 4180 reader: one row of cells, unquoted in place into `row`. Returns
 * the number of cells, 0 at the end, -EBADMSG when malformed. */
static int csv_row(const char **pp, const char *end, Buf *row, size_t *cells, size_t max_cells, size_t *line) {
        const char *p = *pp;
        size_t n = 0;

        if (p >= end)
                return 0;
        row->len = 0;
        for (;;) {
                if (n >= max_cells)
                        return -E2BIG;
                cells[n++] = row->len;
                if (p < end && *p == '"') {
                        for (p++;; p++) {
                                if (p >= end)
                                        return -EBADMSG;        /* unterminated quote */
                                if (*p == '"') {
                                        if (p + 1 < end && p[1] == '"')
                                                p++;
                                        else {
                                                p++;
                                                break;
                                        }
                                }
                                if (*p == '\n')
                                        (*line)++;
                                if (buf_add(row, p, 1) < 0)
                                        return -ENOMEM;
                        }
                        if (p < end && *p == '\r')
                                p++;
                        if (p < end && *p != ',' && *p != '\n')
                                return -EBADMSG;        /* text after a closing quote */
                } else {
                        const char *s = p;
                        while (p < end && *p != ',' && *p != '\n')
                                p++;
                        size_t l = p - s;
                        if (l && s[l - 1] == '\r')
                                l--;
                        if (memchr(s, '"', l))
                                return -EBADMSG;        /* a quote inside an unquoted cell */
                        if (buf_add(row, s, l) < 0)
                                return -ENOMEM;
                }
                if (buf_add(row, "", 1) < 0)   /* the cell's NUL */
                        return -ENOMEM;
                if (p >= end || *p == '\n') {
                        *pp = p < end ? p + 1 : p;
                        return (int) n;
                }
                p++;    /* the comma */
        }
}

static int parse_csv(Ctx *x, const char *body, size_t len) {
        const char *p = body, *end = body + len;
        size_t cells[FIELDS_MAX + 1], map[FIELDS_MAX + 1], n_cols, line = 1;
        Buf row = {};
        int n, k = 0;

        if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
                p += 3;         /* a UTF-8 BOM from spreadsheet exports */
        n = csv_row(&p, end, &row, cells, ELEMENTSOF(cells), &line);
        if (n <= 0) {
                set_error(x->r, 400, "malformed", 1, n == 0 ? "empty body: a CSV header row is expected"
                                                            : "header row: malformed CSV or too many columns");
                goto out;
        }
        n_cols = (size_t) n;
        for (size_t c = 0; c < n_cols; c++) {
                const char *name = row.data + cells[c];
                size_t i;
                for (i = 0; i < x->d->n_fields; i++)
                        if (streq(x->d->fields[i].name, name))
                                break;
                if (i == x->d->n_fields) {
                        x->line = 1;
                        set_error(x->r, 422, "schema", 1, "header column %zu (%.64s) is no field of dataset %s", c + 1,
                                  name, x->d->name);
                        goto out;
                }
                for (size_t e = 0; e < c; e++)
                        if (map[e] == i) {
                                set_error(x->r, 400, "malformed", 1, "header names column %s twice", name);
                                goto out;
                        }
                map[c] = i;
        }
        for (;;) {
                Slot slots[FIELDS_MAX];
                memset(slots, 0, x->d->n_fields * sizeof(Slot));
                line++;
                x->line = line;
                if (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))) {
                        p += *p == '\n' ? 1 : 2;        /* blank line */
                        continue;
                }
                n = csv_row(&p, end, &row, cells, ELEMENTSOF(cells), &line);
                if (n == 0)
                        break;
                if (n == -ENOMEM) {
                        k = -ENOMEM;
                        break;
                }
                if (n < 0) {
                        set_error(x->r, 400, "malformed", x->line, "line %zu: malformed CSV (%s)", x->line,
                                  n == -E2BIG ? "too many cells" : "quotes");
                        break;
                }
                if ((size_t) n != n_cols) {
                        set_error(x->r, 400, "malformed", x->line, "line %zu: %d cells where the header has %zu",
                                  x->line, n, n_cols);
                        break;
                }
                if (too_many(x))
                        break;
                for (size_t c = 0; c < n_cols; c++)
                        slots[map[c]] = (Slot) { .set = true, .text = row.data + cells[c] };
                if ((k = normalise_record(x, slots)) < 0)
                        break;
                x->record++;
        }
out:
        buf_done(&row);
        return k;
}

int records_process(const Dataset *d, BodyFormat f, const char *body, size_t len, Records *r) {
        Ctx x = { .d = d, .r = r };
        int k;

        *r = (Records) {};
        if (f == FORMAT_NDJSON)
                k = parse_ndjson(&x, body, len);
        else if (f == FORMAT_JSON)
                k = parse_json(&x, body, len);
        else
                k = parse_csv(&x, body, len);
        if (k < 0)
                return k;
        if (r->status)
                return 0;
        if (r->n_bad > 0) {
                Buf list = r->error;
                r->error = (Buf) {};
                r->status = 422;
                if (buf_printf(&r->error, "{\"error\":\"schema\",\"message\":\"%zu of %zu records do not match dataset %s (%zu problems; the first %zu are listed)\",\"bad_records\":[",
                               r->n_bad_records, x.record, d->name, r->n_bad, MIN(r->n_bad, (size_t) d->max_errors)) < 0 ||
                    (list.len && buf_add(&r->error, list.data, list.len) < 0) || buf_puts(&r->error, "]}") < 0) {
                        buf_done(&list);
                        return -ENOMEM;
                }
                buf_done(&list);
                return 0;
        }
        if (r->n_records == 0)
                set_error(r, 400, "malformed", 0, "no records in the body");
        return 0;
}

void records_done(Records *r) {
        buf_done(&r->out);
        buf_done(&r->error);
}
