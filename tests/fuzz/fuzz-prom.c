/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text a plugin serves on its metrics= URL (metric-prom.c).
 * Invariants: every sample's name is in Prometheus's alphabet, its value
 * finite, its labels within the limit; a bad line is counted, never fatal.
 */
#include <math.h>

#include "fuzz.h"
#include "metric-prom.h"

static void on_sample(const char *name, PromType type, const PromLabel *labels, size_t n, double v, void *userdata) {
        if (!*name || strlen(name) > PROM_MAX_NAME || !isfinite(v) || n > PROM_MAX_LABELS)
                __builtin_trap();
        for (size_t i = 0; i < n; i++)
                if (!labels[i].name[0] || strlen(labels[i].value) > PROM_MAX_LINE)
                        __builtin_trap();
        (*(unsigned *) userdata)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        unsigned seen = 0, bad = 0;
        int r;

        if (size > 65536)
                return 0;
        r = prom_parse((const char *) data, size, on_sample, &seen, &bad);
        if (r < 0 || (unsigned) r != seen)
                __builtin_trap();
        return 0;
}
