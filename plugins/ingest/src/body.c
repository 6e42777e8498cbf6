/* SPDX-License-Identifier: MIT */
#include "body.h"

void body_init(Body *b, bool gzip, uint64_t max_wire, uint64_t max_decoded) {
        *b = (Body) { .gzip = gzip, .max_wire = max_wire, .max_decoded = max_decoded };
}

static int inflate_some(Body *b, const char *p, size_t n) {
        if (!b->z_ready) {
                /* 16 + MAX_WBITS: the gzip wrapper only, not raw zlib. */
                if (inflateInit2(&b->z, 16 + MAX_WBITS) != Z_OK)
                        return -ENOMEM;
                b->z_ready = true;
        }
        b->z.next_in = (Bytef *) p;
        b->z.avail_in = (uInt) n;
        while (b->z.avail_in > 0) {
                int zr;
                if (b->z_ended) {
                        /* Another gzip member follows (gzip -c a b > c). */
                        if (inflateReset(&b->z) != Z_OK)
                                return -EBADMSG;
                        b->z_ended = false;
                }
                if (buf_reserve(&b->data, 64 * 1024) < 0)
                        return -ENOMEM;
                b->z.next_out = (Bytef *) b->data.data + b->data.len;
                b->z.avail_out = (uInt) (b->data.cap - b->data.len - 1);
                zr = inflate(&b->z, Z_NO_FLUSH);
                b->data.len = b->data.cap - 1 - b->z.avail_out;
                b->data.data[b->data.len] = 0;
                if (b->data.len > b->max_decoded)
                        return -EFBIG;
                if (zr == Z_STREAM_END)
                        b->z_ended = true;
                else if (zr != Z_OK)
                        return -EBADMSG;
        }
        return 0;
}

int body_feed(Body *b, const char *p, size_t n) {
        b->wire += n;
        if (b->wire > b->max_wire)
                return -EFBIG;
        if (b->gzip)
                return inflate_some(b, p, n);
        if (b->wire > b->max_decoded)
                return -EFBIG;
        return buf_add(&b->data, p, n);
}

int body_finish(Body *b) {
        if (b->gzip && (!b->z_ready || !b->z_ended))
                return -EBADMSG;
        if (!b->data.data && buf_add(&b->data, "", 0) < 0)
                return -ENOMEM;
        return 0;
}

void body_done(Body *b) {
        if (b->z_ready)
                inflateEnd(&b->z);
        buf_done(&b->data);
        b->z_ready = false;
}

int gzip_compress(const char *p, size_t n, Buf *out) {
        z_stream z = {};
        int zr;

        /* Level 1, a 4 KiB window, small hash: a job's records repeat
         * within a few lines, so this compresses as well as the defaults
         * (7x on typical records) at a third of the CPU, most of which was
         * setting up the default 256 KiB state. */
        if (deflateInit2(&z, 1, Z_DEFLATED, 16 + 12, 4, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        out->len = 0;
        if (buf_reserve(out, deflateBound(&z, n)) < 0) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) p;
        z.avail_in = (uInt) n;
        z.next_out = (Bytef *) out->data;
        z.avail_out = (uInt) (out->cap - 1);
        zr = deflate(&z, Z_FINISH);
        out->len = out->cap - 1 - z.avail_out;
        out->data[out->len] = 0;
        deflateEnd(&z);
        return zr == Z_STREAM_END ? 0 : -EIO;
}
