/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <unistd.h>

#include "sequence.h"
#include "config.h"
#include "credentials.h"
#include "health.h"
#include "manager.h"
#include "log.h"
#include "json-util.h"
#include "time-util.h"

static const char *health_names[] = { "healthy", "degraded", "failed" };

static int add_versions(cJSON *agent) {
        cJSON *v = cJSON_AddObjectToObject(agent, "versions");
        const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

        if (!v ||
            !cJSON_AddStringToObject(v, "agentd", AGENTD_VERSION) ||
            !cJSON_AddStringToObject(v, "libcurl", cv && cv->version ? cv->version : "unknown") ||
            !cJSON_AddStringToObject(v, "cjson", cJSON_Version()))
                return -ENOMEM;
        return 0;
}

int manager_status_build(Manager *m, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        _cleanup_(component_list_done) ComponentList components = {};
        cJSON *agent, *ident = NULL, *comps, *boot = NULL, *sources;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int health = manager_health(m), r;
        char buf[64];

        if (!o)
                return -ENOMEM;
        agent = cJSON_AddObjectToObject(o, "agent");
        if (!agent ||
            !cJSON_AddStringToObject(agent, "state", manager_state_to_string(manager_state(m))) ||
            !cJSON_AddStringToObject(agent, "health", health_names[health]) ||
            json_add_string_or_null(agent, "status", m->core.detail) < 0 ||
            json_add_string_or_null(agent, "last_error", m->core.last_error) < 0 ||
            !cJSON_AddNumberToObject(agent, "pid", getpid()) ||
            !cJSON_AddNumberToObject(agent, "uptime_sec", (double) (now - m->start_monotonic) / USEC_PER_SEC) ||
            !cJSON_AddStringToObject(agent, "started_at", format_rfc3339(buf, sizeof(buf), m->start_realtime)) ||
            !cJSON_AddStringToObject(agent, "log_level", log_level_to_string(log_get_max_level())) ||
            add_versions(agent) < 0)
                return -ENOMEM;
        sources = cJSON_AddArrayToObject(agent, "config_files");
        if (!sources)
                return -ENOMEM;
        for (size_t i = 0; i < m->config->n_sources; i++)
                cJSON_AddItemToArray(sources, cJSON_CreateString(m->config->sources[i]));

        if (m->identity.instance_id) {
                r = identity_to_json(&m->identity, &ident);
                if (r < 0)
                        return r;
                cJSON_AddItemToObject(o, "identity", ident);
        } else
                cJSON_AddNullToObject(o, "identity");

        if (m->credentials && credentials_current(m->credentials)) {
                const AwsCredentials *a = credentials_current(m->credentials);
                cJSON *cr = cJSON_AddObjectToObject(o, "credentials");
                /* The key id identifies; the secret and token never leave. */
                if (!cr ||
                    !cJSON_AddStringToObject(cr, "source", credentials_source(m->credentials)) ||
                    !cJSON_AddStringToObject(cr, "access_key_id", a->access_key_id) ||
                    json_add_string_or_null(cr, "expiration", a->expiration == USEC_INFINITY ? NULL :
                                            format_rfc3339(buf, sizeof(buf), a->expiration)) < 0)
                        return -ENOMEM;
        } else
                cJSON_AddNullToObject(o, "credentials");

        r = sequence_to_json(m->bootstrap, &boot);
        if (r < 0)
                return r;
        cJSON_AddItemToObject(o, "bootstrap", boot);
        if (m->drain) {
                cJSON *drain = NULL;
                r = sequence_to_json(m->drain, &drain);
                if (r < 0)
                        return r;
                cJSON_AddItemToObject(o, "drain", drain);
                if (json_add_string_or_null(drain, "trigger", m->drain_trigger) < 0 ||
                    !cJSON_AddBoolToObject(drain, "exit_when_done", m->exit_after_drain))
                        return -ENOMEM;
        } else
                cJSON_AddNullToObject(o, "drain");

        {
                unsigned code;
                size_t n;
                Check *const *list = check_set_checks(m->checks, &n);
                const char *hs = health_status_compute(manager_health_agent_state(m), m->draining, list, n, &code);
                cJSON *checks, *h = cJSON_AddObjectToObject(o, "health");
                if (!h || !cJSON_AddStringToObject(h, "status", hs) || !cJSON_AddNumberToObject(h, "http_status", code) ||
                    !cJSON_AddBoolToObject(h, "draining", m->draining) ||
                    !(checks = cJSON_AddArrayToObject(h, "checks")))
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        cJSON *c;
                        r = check_to_json(list[i], &c);
                        if (r < 0)
                                return r;
                        cJSON_AddItemToArray(checks, c);
                }
        }

        comps = cJSON_AddArrayToObject(o, "subsystems");
        if (!comps)
                return -ENOMEM;
        r = manager_collect_components(m, &components);
        if (r < 0)
                return r;
        for (size_t i = 0; i < components.n; i++) {
                cJSON *c;
                r = component_to_json(components.items[i], &c);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(comps, c);
        }
        *ret = TAKE_PTR(o);
        return 0;
}
