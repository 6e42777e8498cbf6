/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fileio.h"
#include "json-util.h"
#include "log-checkpoint.h"

uint64_t log_hash(const void *p, size_t n) {
        const unsigned char *b = p;
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= UINT64_C(0x100000001b3);
        }
        return h;
}

int log_hash_fd(int fd, uint64_t *ret_hash, uint32_t *ret_len) {
        char buf[LOG_HASH_BYTES];
        ssize_t n;

        n = pread(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        *ret_hash = log_hash(buf, (size_t) n);
        *ret_len = (uint32_t) n;
        return 0;
}

void log_checkpoint_done(LogCheckpoint *c) {
        for (size_t i = 0; i < c->n_files; i++)
                free(c->files[i].path);
        free(c->files);
        free(c->cursor);
        *c = (LogCheckpoint) {};
}

int log_checkpoint_add_file(LogCheckpoint *c, const LogFilePosition *f) {
        LogFilePosition *a;

        if (c->n_files >= LOG_CHECKPOINT_MAX_FILES)
                return -E2BIG;
        a = realloc(c->files, (c->n_files + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->files = a;
        a[c->n_files] = *f;
        a[c->n_files].path = strdup(f->path);
        if (!a[c->n_files].path)
                return -ENOMEM;
        c->n_files++;
        return 0;
}

/* Numbers go as strings: a uint64 does not fit a JSON double. */
static int get_u64(const cJSON *o, const char *key, uint64_t *ret) {
        const char *s = json_get_string(o, key);
        char *end;

        if (!s || !*s)
                return -EBADMSG;
        errno = 0;
        *ret = strtoull(s, &end, 10);
        return errno || *end ? -EBADMSG : 0;
}

int log_checkpoint_load(const char *path, LogCheckpoint *ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        LogCheckpoint c = {};
        const cJSON *files, *f;
        const char *cursor;
        int r;

        r = read_file_bounded(path, 1024 * 1024, READ_FILE_NOFOLLOW, &text, NULL);
        if (r < 0)
                return r;
        doc = cJSON_Parse(text);
        if (!cJSON_IsObject(doc))
                return -EBADMSG;
        cursor = json_get_string(doc, "cursor");
        if (cursor && !(c.cursor = strdup(cursor)))
                return -ENOMEM;
        files = cJSON_GetObjectItemCaseSensitive(doc, "files");
        cJSON_ArrayForEach(f, files) {
                LogFilePosition p = {};
                uint64_t hl;
                p.path = (char *) json_get_string(f, "path");
                if (!p.path || p.path[0] != '/' || get_u64(f, "dev", &p.dev) < 0 || get_u64(f, "ino", &p.ino) < 0 ||
                    get_u64(f, "offset", &p.offset) < 0 || get_u64(f, "hash", &p.hash) < 0 ||
                    get_u64(f, "hash_len", &hl) < 0 || hl > LOG_HASH_BYTES) {
                        log_checkpoint_done(&c);
                        return -EBADMSG;
                }
                p.hash_len = (uint32_t) hl;
                r = log_checkpoint_add_file(&c, &p);
                if (r < 0) {
                        log_checkpoint_done(&c);
                        return r;
                }
        }
        *ret = c;
        return 0;
}

static cJSON *add_u64(cJSON *o, const char *key, uint64_t v) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        return cJSON_AddStringToObject(o, key, buf);
}

int log_checkpoint_save(const char *path, const LogCheckpoint *c) {
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_CreateObject();
        _cleanup_free_ char *text = NULL;
        cJSON *files;

        if (!doc || !(files = cJSON_AddArrayToObject(doc, "files")))
                return -ENOMEM;
        if (c->cursor && !cJSON_AddStringToObject(doc, "cursor", c->cursor))
                return -ENOMEM;
        for (size_t i = 0; i < c->n_files; i++) {
                const LogFilePosition *p = &c->files[i];
                cJSON *f = cJSON_CreateObject();
                if (!f || !cJSON_AddItemToArray(files, f))
                        return cJSON_Delete(f), -ENOMEM;
                if (!cJSON_AddStringToObject(f, "path", p->path) || !add_u64(f, "dev", p->dev) ||
                    !add_u64(f, "ino", p->ino) || !add_u64(f, "offset", p->offset) || !add_u64(f, "hash", p->hash) ||
                    !add_u64(f, "hash_len", p->hash_len))
                        return -ENOMEM;
        }
        text = cJSON_PrintUnformatted(doc);
        if (!text)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600, getuid(), getgid());
}
