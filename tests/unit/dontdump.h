/* SPDX-License-Identifier: MIT */
#pragma once

/* Is p in a mapping the kernel leaves out of core dumps (MADV_DONTDUMP:
 * "dd" in its VmFlags in /proc/self/smaps)? */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline bool dontdump(const void *p) {
        FILE *f = fopen("/proc/self/smaps", "re");
        char line[512];
        bool in = false, dd = false;
        uintptr_t a = (uintptr_t) p;

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long lo, hi;
                if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
                        if (in)
                                break;
                        in = a >= lo && a < hi;
                } else if (in && strncmp(line, "VmFlags:", 8) == 0)
                        dd = strstr(line, " dd") != NULL;
        }
        fclose(f);
        return in && dd;
}
