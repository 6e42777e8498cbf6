/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "manager.h"
#include "render-vars.h"
#include "secrets.h"

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

static int set_string(TemplateValue *ret, const char *s) {
        if (!s)
                return -ENOENT;
        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = s, .length = strlen(s) };
        return 0;
}

/* Numbers are formatted into a per-name static slot: the value must stay
 * valid until the renderer copied it, which it does at once. */
static int set_number(TemplateValue *ret, unsigned long n) {
        static char buf[8][24];
        static unsigned slot;
        char *b = buf[slot++ % 8];
        snprintf(b, sizeof(buf[0]), "%lu", n);
        return set_string(ret, b);
}

int render_lookup(void *userdata, const char *name, TemplateValue *ret) {
        Manager *m = userdata;
        const Identity *id = &m->identity;

        if (strncmp(name, "instance.", 9) == 0) {
                static const struct { const char *key; size_t off; } keys[] = {
                        { "id", offsetof(Identity, instance_id) },
                        { "region", offsetof(Identity, region) },
                        { "availability_zone", offsetof(Identity, availability_zone) },
                        { "type", offsetof(Identity, instance_type) },
                        { "ami_id", offsetof(Identity, ami_id) },
                        { "local_ipv4", offsetof(Identity, local_ipv4) },
                        { "account_id", offsetof(Identity, account_id) },
                        { "life_cycle", offsetof(Identity, life_cycle) },
                        { "role", offsetof(Identity, role) },
                };
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (streq(name + 9, keys[i].key))
                                return set_string(ret, *(char *const *) ((const char *) id + keys[i].off));
                return -ENOENT;
        }
        if (strncmp(name, "tags.", 5) == 0)
                return set_string(ret, identity_tag(id, name + 5));
        if (strncmp(name, "vars.", 5) == 0) {
                for (size_t i = 0; i < m->config->n_vars; i++)
                        if (streq(m->config->var_names[i], name + 5))
                                return set_string(ret, m->config->var_values[i]);
                return -ENOENT;
        }
        if (strncmp(name, "secret.", 7) == 0) {
                char sname[80];
                const char *dot = strchr(name + 7, '.'), *v = NULL;
                size_t l = dot ? (size_t) (dot - name - 7) : strlen(name + 7), len = 0;
                int r;

                if (l == 0 || l >= sizeof(sname))
                        return -ENOENT;
                memcpy(sname, name + 7, l);
                sname[l] = 0;
                r = secrets_lookup(m->secrets, sname, dot ? dot + 1 : NULL, &v, &len);
                if (r < 0)
                        return r;
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = v, .length = len };
                return 0;
        }
        if (streq(name, "system.memory_mib"))
                return set_number(ret, memory_mib());
        if (streq(name, "system.cpus"))
                return set_number(ret, (unsigned long) MAX(sysconf(_SC_NPROCESSORS_ONLN), 1L));
        if (strncmp(name, "pm.", 3) == 0) {
                PmSizing p = render_pm_sizing(memory_mib(), PHP_CHILD_MIB, PHP_RESERVE_MIB);
                if (streq(name + 3, "max_children"))
                        return set_number(ret, p.max_children);
                if (streq(name + 3, "start_servers"))
                        return set_number(ret, p.start_servers);
                if (streq(name + 3, "min_spare_servers"))
                        return set_number(ret, p.min_spare_servers);
                if (streq(name + 3, "max_spare_servers"))
                        return set_number(ret, p.max_spare_servers);
                return -ENOENT;
        }
        return -ENOENT;
}
