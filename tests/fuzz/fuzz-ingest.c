/* SPDX-License-Identifier: MIT */
/*
 * The ingestion plugin's untrusted bytes (plugins/ingest): a request body
 * as it arrives (body.c: chunk by chunk, gzip inflated on the fly, within
 * the wire and decoded limits), parsed and validated as NDJSON, a JSON
 * array or CSV against a dataset's schema (records.c, fields.c); and the
 * header values the API decides on before the body: Content-Type, the
 * Bearer key (compared in constant time), the job id of GET
 * /api/ingest/jobs/{id}.
 *
 *   byte 0  bits 0-1: format (0 NDJSON, 1 JSON, 2 CSV, 3 from the
 *           Content-Type part); bit 2: the second dataset; bit 3: the body
 *           is sent gzipped (compressed here: the inflater sees a real
 *           stream, cut into chunks); bit 4: the body bytes are fed as
 *           gzip data as they are (a hostile "gzip" body)
 *   byte 1  chunk-size seed
 *   then    body [\n--\n Content-Type] [\n--\n key or job id]
 *
 * Invariants: the verdict is one of 0/400/413/422; an accepted body gives
 * exactly n_records lines, each a JSON array of one string (valid UTF-8)
 * or null per schema field, and no more records than max_records; an
 * error body is a JSON object naming its kind, listing at most max_errors
 * problems; a gzip round trip gives back the body; over-limit bodies are
 * refused with -EFBIG, never buffered past one chunk beyond the limit.
 */
#include <cjson/cJSON.h>

#include "body.h"
#include "conf.h"
#include "credentials.h"
#include "fields.h"
#include "fuzz.h"
#include "records.h"

#define MAX_WIRE 65536
#define MAX_DECODED (4 * 65536)

/* The unit tests' dataset (every type, min/max, small limits) and the
 * integration tests' (required fields, larger limits). */
static const char *const dataset_text[2] = {
        "[dataset]\ntable = events\nkey = id\nmax_records = 5\nmax_errors = 2\n"
        "[field.id]\ntype = string\nmax_length = 4\n"
        "[field.ts]\ntype = timestamp\n"
        "[field.n]\ntype = int\nmin = 0\nmax = 100\n"
        "[field.f]\ntype = float\n"
        "[field.b]\ntype = bool\n",
        "[dataset]\ntable = events\nkey = id\nmax_records = 1000\nmax_errors = 3\n"
        "[field.id]\ntype = string\nmax_length = 64\n"
        "[field.ts]\ntype = timestamp\nrequired = yes\n"
        "[field.kind]\ntype = string\nmax_length = 8\nrequired = yes\n"
        "[field.value]\ntype = float\n"
        "[field.count]\ntype = int\nmin = 0\n"
        "[field.ok]\ntype = bool\n",
};
static Dataset *datasets[2];
static Credentials creds = {
        .keys = { (char *) "test-key-0123456789abcdef", (char *) "rotated-key-abcdef0123456789" },
        .key_names = { (char *) "test", (char *) "rotated" },
        .n_keys = 2,
};

static void setup(void) {
        if (datasets[0])
                return;
        log_set_max_level(LOG_CRIT);
        for (size_t i = 0; i < 2; i++) {
                char path[] = "/tmp/fuzz-ingest-XXXXXX";
                int fd = mkstemp(path);
                size_t n = strlen(dataset_text[i]);
                if (fd < 0 || write(fd, dataset_text[i], n) != (ssize_t) n || dataset_load(path, "ev", &datasets[i]) < 0)
                        abort();
                close(fd);
                unlink(path);
        }
}

static void check_records(const Dataset *d, const Records *r) {
        FUZZ_ASSERT(r->status == 0 || r->status == 400 || r->status == 413 || r->status == 422);
        if (r->status == 0) {
                const char *p = r->out.data;
                size_t lines = 0;

                FUZZ_ASSERT(r->n_records > 0 && r->n_records <= d->max_records && p);
                FUZZ_ASSERT(strlen(p) == r->out.len);
                while (*p) {
                        const char *nl = strchr(p, '\n');
                        cJSON *a, *v;
                        size_t k = 0;

                        FUZZ_ASSERT(nl);
                        a = cJSON_ParseWithLength(p, (size_t) (nl - p));
                        FUZZ_ASSERT(cJSON_IsArray(a));
                        cJSON_ArrayForEach(v, a) {
                                FUZZ_ASSERT(cJSON_IsNull(v) || cJSON_IsString(v));
                                if (cJSON_IsString(v))
                                        FUZZ_ASSERT(utf8_valid(v->valuestring, strlen(v->valuestring), NULL));
                                k++;
                        }
                        FUZZ_ASSERT(k == d->n_fields);
                        cJSON_Delete(a);
                        lines++;
                        p = nl + 1;
                }
                FUZZ_ASSERT(lines == r->n_records);
        } else {
                cJSON *e = cJSON_ParseWithLength(r->error.data, r->error.len), *list;

                FUZZ_ASSERT(cJSON_IsObject(e));
                FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItem(e, "error")));
                FUZZ_ASSERT(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
                list = cJSON_GetObjectItem(e, "bad_records");
                FUZZ_ASSERT(r->status == 422 || !list);
                if (list)
                        FUZZ_ASSERT((size_t) cJSON_GetArraySize(list) <= d->max_errors &&
                                    (size_t) cJSON_GetArraySize(list) <= r->n_bad);
                cJSON_Delete(e);
        }
}

/* The body through body.c as MHD hands it over: chunks of the fuzzer's
 * sizes. Returns body_feed/body_finish's verdict. */
static int receive(Body *b, const char *p, size_t n, uint32_t seed) {
        size_t pos = 0;
        int r = 0;

        while (pos < n) {
                size_t c;
                seed = seed * 1103515245u + 12345u;
                c = 1 + (seed >> 16) % (seed & 0x100 ? 16 : 4096);
                c = MIN(c, n - pos);
                r = body_feed(b, p + pos, c);
                if (r < 0) {
                        FUZZ_ASSERT(r == -EFBIG || r == -EBADMSG);
                        /* Refused within one chunk of the limit. */
                        FUZZ_ASSERT(b->data.len <= b->max_decoded + 65536 + 4096);
                        return r;
                }
                FUZZ_ASSERT(b->wire <= b->max_wire && b->data.len <= b->max_decoded);
                pos += c;
        }
        return body_finish(b);
}

static void check_headers(const char *value, size_t len) {
        BodyFormat f;
        uint64_t id;
        const char *name = credentials_check_key(&creds, value, len);

        FUZZ_ASSERT(!name || (len == strlen(creds.keys[0]) && memcmp(value, creds.keys[0], len) == 0) ||
                    (len == strlen(creds.keys[1]) && memcmp(value, creds.keys[1], len) == 0));
        if (body_format_from_content_type(value, &f) == 0)
                FUZZ_ASSERT(f == FORMAT_NDJSON || f == FORMAT_JSON || f == FORMAT_CSV);
        if (parse_uint(value, UINT64_MAX / 2, &id) == 0)
                FUZZ_ASSERT(id <= UINT64_MAX / 2);
        if (len < 96) {
                char out[27];
                if (timestamp_normalise(value, out) == 0)
                        FUZZ_ASSERT(strlen(out) == 26 && out[4] == '-' && out[10] == ' ' && out[19] == '.');
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[3];
        size_t lens[3], n;
        const Dataset *d;
        BodyFormat f;
        Records rec;
        Body body;
        uint32_t seed;
        bool ok_format = true;
        int r;

        if (size < 2 || size > MAX_WIRE)
                return 0;
        setup();
        d = datasets[(data[0] >> 2) & 1];
        seed = data[1] * 2654435761u + 7;
        n = fuzz_split(data + 2, size - 2, parts, lens, 3);
        for (size_t i = 1; i < n; i++)
                check_headers(parts[i], lens[i]);

        if ((data[0] & 3) == 3)
                ok_format = n > 1 && body_format_from_content_type(parts[1], &f) == 0;
        else
                f = (BodyFormat) (data[0] & 3);

        if (data[0] & 16) {
                /* Hostile gzip: whatever the bytes are, a verdict. */
                body_init(&body, true, MAX_WIRE, MAX_DECODED);
                r = receive(&body, parts[0], lens[0], seed);
        } else if (data[0] & 8) {
                Buf z = {};
                FUZZ_ASSERT(gzip_compress(parts[0], lens[0], &z) == 0);
                body_init(&body, true, 4 * MAX_WIRE, MAX_DECODED);
                r = receive(&body, z.data, z.len, seed);
                FUZZ_ASSERT(r == 0);
                FUZZ_ASSERT(body.data.len == lens[0] && memcmp(body.data.data, parts[0], lens[0]) == 0);
                buf_done(&z);
        } else {
                /* Small limits: a few bodies are over them. */
                body_init(&body, false, MAX_WIRE / 4, MAX_WIRE / 4);
                r = receive(&body, parts[0], lens[0], seed);
                FUZZ_ASSERT(r == 0 || (r == -EFBIG && lens[0] > MAX_WIRE / 4));
        }
        if (r == 0 && ok_format) {
                FUZZ_ASSERT(body.data.data && body.data.data[body.data.len] == 0);
                FUZZ_ASSERT(records_process(d, f, body.data.data, body.data.len, &rec) == 0);
                check_records(d, &rec);
                records_done(&rec);
        }
        body_done(&body);
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
        return 0;
}
