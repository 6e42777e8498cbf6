/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "manager.h"
#include "secrets.h"

static int set_string(TemplateValue *ret, const char *s) {
        if (!s)
                return -ENOENT;
        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = s, .length = strlen(s) };
        return 0;
}

int manager_template_lookup(void *userdata, const char *name, TemplateValue *ret) {
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
                for (size_t i = 0; i < m->config->vars.n; i++)
                        if (streq(m->config->vars.names[i], name + 5))
                                return set_string(ret, m->config->vars.values[i]);
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
        return -ENOENT;
}

/* Every plain value and every field of every loaded secret, however
 * many: redaction must not stop at a count. */
int manager_foreach_secret(void *userdata, RenderRedactAdd add, void *ctx) {
        Manager *m = userdata;

        secrets_foreach_value(m->secrets, add, ctx);
        return 0;
}
