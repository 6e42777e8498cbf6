/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <time.h>

#include "metric-publish.h"

void metric_format_timestamp(usec_t t, char buf[static 32]) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&s, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                strcpy(buf, "1970-01-01T00:00:00Z");
}

/* RFC 3986 unreserved characters stay, everything else is %XX, as the
 * Query protocol's form encoding wants. */
static void put_encoded(FILE *f, const char *s) {
        static const char hex[] = "0123456789ABCDEF";

        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '_' || *p == '.' || *p == '~')
                        fputc(*p, f);
                else {
                        fputc('%', f);
                        fputc(hex[*p >> 4], f);
                        fputc(hex[*p & 15], f);
                }
}

static void put_dim(FILE *f, size_t item, size_t k, const char *name, const char *value) {
        fprintf(f, "&MetricData.member.%zu.Dimensions.member.%zu.Name=", item, k);
        put_encoded(f, name);
        fprintf(f, "&MetricData.member.%zu.Dimensions.member.%zu.Value=", item, k);
        put_encoded(f, value);
}

static bool has_dim(const MetricDatum *d, const char *name) {
        for (size_t i = 0; i < d->n_dims; i++)
                if (streq(d->dims[2 * i], name))
                        return true;
        return false;
}

/* One item, "&MetricData.member.N...." */
static void put_item(FILE *f, size_t item, const MetricDatum *d, const MetricPublishDims *dims) {
        char ts[32];
        size_t k = 0;

        metric_format_timestamp(d->timestamp, ts);
        fprintf(f, "&MetricData.member.%zu.MetricName=", item);
        put_encoded(f, d->name);
        fprintf(f, "&MetricData.member.%zu.Unit=", item);
        put_encoded(f, metric_unit_to_string(d->unit));
        fprintf(f, "&MetricData.member.%zu.Timestamp=", item);
        put_encoded(f, ts);
        if (d->aggregated)
                for (size_t i = 0; i < dims->n_aggregation; i++)
                        put_dim(f, item, ++k, dims->aggregation[i].name, dims->aggregation[i].value);
        else {
                for (size_t i = 0; i < d->n_dims && k < METRIC_MAX_DIMS; i++)
                        put_dim(f, item, ++k, d->dims[2 * i], d->dims[2 * i + 1]);
                for (size_t i = 0; i < dims->n_append && k < METRIC_MAX_DIMS; i++)
                        if (!has_dim(d, dims->append[i].name))
                                put_dim(f, item, ++k, dims->append[i].name, dims->append[i].value);
        }
        if (d->distribution) {
                for (size_t i = 0; i < d->n_values && i < METRIC_MAX_VALUES; i++)
                        fprintf(f, "&MetricData.member.%zu.Values.member.%zu=%.17g", item, i + 1, d->values[i]);
                for (size_t i = 0; i < d->n_values && i < METRIC_MAX_VALUES; i++)
                        fprintf(f, "&MetricData.member.%zu.Counts.member.%zu=%.17g", item, i + 1, d->counts[i]);
        } else
                fprintf(f,
                        "&MetricData.member.%zu.StatisticValues.SampleCount=%.17g"
                        "&MetricData.member.%zu.StatisticValues.Sum=%.17g"
                        "&MetricData.member.%zu.StatisticValues.Minimum=%.17g"
                        "&MetricData.member.%zu.StatisticValues.Maximum=%.17g",
                        item, d->count, item, d->sum, item, d->min, item, d->max);
}

int metric_publish_build(const char *ns, const MetricPublishDims *dims, const MetricDatum *items, size_t n,
                         size_t max_items, size_t max_bytes, char **ret_body, size_t *ret_len,
                         size_t *ret_consumed, size_t *ret_sent) {
        _cleanup_free_ char *body = NULL, *one = NULL;
        size_t len = 0, one_len = 0, used = 0, sent = 0;
        _cleanup_fclose_ FILE *f = NULL, *g = NULL;

        max_items = MIN(max_items, (size_t) METRIC_PUBLISH_MAX_ITEMS);
        max_bytes = MIN(max_bytes, (size_t) METRIC_PUBLISH_MAX_BODY);
        f = open_memstream(&body, &len);
        g = open_memstream(&one, &one_len);
        if (!f || !g)
                return -ENOMEM;
        fputs("Action=PutMetricData&Version=2010-08-01&Namespace=", f);
        put_encoded(f, ns);
        for (; used < n && sent < max_items; used++) {
                const MetricDatum *d = &items[used];
                if (d->aggregated && dims->n_aggregation == 0)
                        continue;
                rewind(g);
                put_item(g, sent + 1, d, dims);
                if (fflush(g) != 0 || fflush(f) != 0)
                        return -ENOMEM;
                one_len = (size_t) ftell(g);
                if (len + one_len > max_bytes) {
                        if (sent == 0)
                                return -E2BIG;
                        break;
                }
                if (fwrite(one, 1, one_len, f) != one_len)
                        return -ENOMEM;
                sent++;
        }
        if (fflush(f) != 0)
                return -ENOMEM;
        *ret_consumed = used;
        *ret_sent = sent;
        *ret_len = sent > 0 ? len : 0;
        if (fclose(TAKE_PTR(f)) != 0)
                return -ENOMEM;
        *ret_body = sent > 0 ? TAKE_PTR(body) : NULL;
        return 0;
}
