/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A request body as it arrives, chunk by chunk, with `Content-Encoding:
 * gzip` inflated on the fly (zlib: Debian's libmicrohttpd 0.9.75 does not
 * decode request bodies). Both limits are checked as bytes come in, so an
 * oversized body or a gzip bomb is refused after at most one chunk past the
 * limit, never buffered whole.
 */

#include <zlib.h>

#include "util.h"

typedef struct Body {
        Buf data;               /* decoded bytes */
        bool gzip, z_ready, z_ended;
        z_stream z;
        uint64_t wire;          /* bytes received */
        uint64_t max_wire, max_decoded;
} Body;

void body_init(Body *b, bool gzip, uint64_t max_wire, uint64_t max_decoded);
/* 0; -EFBIG over a limit (413); -EBADMSG not gzip (400); -ENOMEM. */
int body_feed(Body *b, const char *p, size_t n);
/* -EBADMSG when a gzip stream was cut short. */
int body_finish(Body *b);
void body_done(Body *b);

/* The stored payload is gzip (level 1): a job's records compress 5-10x,
 * and that is InnoDB pages, redo log and purge work the database saves. */
int gzip_compress(const char *p, size_t n, Buf *out);
