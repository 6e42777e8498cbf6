/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "system-vars.h"

#define PHP_CHILD_MIB 64UL
#define PHP_RESERVE_MIB 768UL   /* nginx, agentd, the OS, page cache headroom */

PmSizing render_pm_sizing(unsigned long mem_mib, unsigned long child_mib, unsigned long reserve_mib) {
        unsigned long usable = mem_mib > reserve_mib ? mem_mib - reserve_mib : mem_mib / 4;
        PmSizing p;

        p.max_children = (unsigned) CLAMP(usable / MAX(child_mib, 1UL), 2UL, 256UL);
        p.min_spare_servers = MAX(1U, p.max_children / 8);
        p.max_spare_servers = MAX(p.min_spare_servers + 1, p.max_children / 4);
        p.start_servers = CLAMP(p.min_spare_servers + (p.max_spare_servers - p.min_spare_servers) / 2,
                                p.min_spare_servers, p.max_spare_servers);
        return p;
}

static unsigned long memory_mib(void) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        if (pages <= 0 || size <= 0)
                return 0;
        return (unsigned long) pages / 1024 * (unsigned long) size / 1024;
}

static int set_number(char *buf, TemplateValue *ret, unsigned long n) {
        int l = snprintf(buf, SYSTEM_VARS_NUMBER_MAX, "%lu", n);
        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = buf, .length = (size_t) l };
        return 0;
}

int system_vars_lookup(const char *name, char buf[static SYSTEM_VARS_NUMBER_MAX], TemplateValue *ret) {
        if (streq(name, "system.memory_mib"))
                return set_number(buf, ret, memory_mib());
        if (streq(name, "system.cpus"))
                return set_number(buf, ret, (unsigned long) MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L));
        if (strncmp(name, "pm.", 3) == 0) {
                PmSizing p = render_pm_sizing(memory_mib(), PHP_CHILD_MIB, PHP_RESERVE_MIB);
                if (streq(name + 3, "max_children"))
                        return set_number(buf, ret, p.max_children);
                if (streq(name + 3, "start_servers"))
                        return set_number(buf, ret, p.start_servers);
                if (streq(name + 3, "min_spare_servers"))
                        return set_number(buf, ret, p.min_spare_servers);
                if (streq(name + 3, "max_spare_servers"))
                        return set_number(buf, ret, p.max_spare_servers);
        }
        return -ENOENT;
}
