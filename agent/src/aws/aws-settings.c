/* SPDX-License-Identifier: MIT */
/*
 * The aws layer's configuration tables. Defaults follow the AWS SDKs where
 * they have one (five attempts, IMDS token TTL of six hours) and cloud-init
 * for the boot deadline (240 s before IMDS is given up). Values are checked
 * here, key by key, so the config engine can name file:line; checks that
 * need several keys run in the _verify() functions after every file.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "aws-settings.h"
#include "parse-util.h"

static const char *const service_names[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SECRETSMANAGER] = "secretsmanager",
        [AWS_SERVICE_LOGS] = "logs",
        [AWS_SERVICE_MONITORING] = "monitoring",
        [AWS_SERVICE_AUTOSCALING] = "autoscaling",
};
static const char *const service_env_ids[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SECRETSMANAGER] = "SECRETS_MANAGER",
        [AWS_SERVICE_LOGS] = "CLOUDWATCH_LOGS",
        [AWS_SERVICE_MONITORING] = "CLOUDWATCH",
        [AWS_SERVICE_AUTOSCALING] = "AUTO_SCALING",
};

const char *aws_service_to_string(AwsService s) {
        return s < _AWS_SERVICE_MAX ? service_names[s] : NULL;
}

const char *aws_service_env_id(AwsService s) {
        return s < _AWS_SERVICE_MAX ? service_env_ids[s] : NULL;
}

int conf_parse_attempts(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 20, field);
        if (r < 0)
                *reason = "not a number from 1 to 20";
        return r;
}

int conf_parse_token_ttl(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);
        if (r < 0 || u < USEC_PER_SEC || u > 21600 * USEC_PER_SEC) {
                *reason = "IMDS token TTL must be a duration from 1s to 6h";
                return -EINVAL;
        }
        *(unsigned *) field = (unsigned) (u / USEC_PER_SEC);
        return 0;
}

int conf_parse_refresh_min(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);

        /* Below a second a refused login would turn into a stream of
         * GetSecretValue calls; past an hour it no longer closes the
         * rotation window. */
        if (r < 0 || (u != 0 && (u < USEC_PER_SEC || u > USEC_PER_HOUR))) {
                *reason = "not 0 (off) or a duration from 1s to 1h";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

int conf_parse_region(const char *v, void *field, const char **reason) {
        for (const char *p = v; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
                        *reason = "not a region name (example: eu-central-1)";
                        return -EINVAL;
                }
        return conf_parse_string(v, field, reason);
}

#define IMDS_ITEM(k, p, f) { k, p, offsetof(ImdsSettings, f) }
static const ConfItem imds_items[] = {
        IMDS_ITEM("enabled", conf_parse_bool, enabled),
        IMDS_ITEM("endpoint", conf_parse_url, endpoint),
        IMDS_ITEM("boot_deadline", conf_parse_duration, boot_deadline),
        IMDS_ITEM("timeout", conf_parse_duration, timeout),
        IMDS_ITEM("token_ttl", conf_parse_token_ttl, token_ttl),
        {}
};

#define AWS_ITEM(k, p, f) { k, p, offsetof(AwsSettings, f) }
static const ConfItem aws_items[] = {
        AWS_ITEM("region", conf_parse_region, region),
        AWS_ITEM("endpoint_url", conf_parse_url, endpoint_url),
        AWS_ITEM("endpoint_url_secretsmanager", conf_parse_url, service_endpoint_url[AWS_SERVICE_SECRETSMANAGER]),
        AWS_ITEM("endpoint_url_logs", conf_parse_url, service_endpoint_url[AWS_SERVICE_LOGS]),
        AWS_ITEM("endpoint_url_monitoring", conf_parse_url, service_endpoint_url[AWS_SERVICE_MONITORING]),
        AWS_ITEM("endpoint_url_autoscaling", conf_parse_url, service_endpoint_url[AWS_SERVICE_AUTOSCALING]),
        AWS_ITEM("max_attempts", conf_parse_attempts, max_attempts),
        AWS_ITEM("connect_timeout", conf_parse_duration, connect_timeout),
        AWS_ITEM("request_timeout", conf_parse_duration, request_timeout),
        AWS_ITEM("max_response_size", conf_parse_size, max_response_size),
        AWS_ITEM("ca_bundle", conf_parse_abs_path, ca_bundle),
        {}
};

#define SECRET_ITEM(k, p, f) { k, p, offsetof(SecretSettings, f) }
static const ConfItem secret_items[] = {
        SECRET_ITEM("id", conf_parse_string, id),
        SECRET_ITEM("version_stage", conf_parse_string, version_stage),
        SECRET_ITEM("refresh", conf_parse_duration, refresh),
        SECRET_ITEM("refresh_min", conf_parse_refresh_min, refresh_min),
        {}
};

int imds_settings_init(ImdsSettings *s) {
        *s = (ImdsSettings) {
                .enabled = true,
                .boot_deadline = 240 * USEC_PER_SEC,    /* as cloud-init on EC2 */
                .timeout = 2 * USEC_PER_SEC,
                .token_ttl = 21600,
        };
        return 0;
}

void imds_settings_done(ImdsSettings *s) {
        s->endpoint = mfree(s->endpoint);
}

int aws_settings_init(AwsSettings *s) {
        *s = (AwsSettings) {
                .max_attempts = 5,
                .connect_timeout = 5 * USEC_PER_SEC,
                .request_timeout = 30 * USEC_PER_SEC,
                .max_response_size = 8ULL << 20,
        };
        return 0;
}

void aws_settings_done(AwsSettings *s) {
        s->region = mfree(s->region);
        s->endpoint_url = mfree(s->endpoint_url);
        s->ca_bundle = mfree(s->ca_bundle);
        for (size_t i = 0; i < _AWS_SERVICE_MAX; i++)
                s->service_endpoint_url[i] = mfree(s->service_endpoint_url[i]);
}

int secret_settings_init(SecretSettings *s) {
        s->version_stage = strdup("AWSCURRENT");
        s->refresh = 5 * USEC_PER_MINUTE;
        s->refresh_min = 10 * USEC_PER_SEC;    /* the default check interval */
        return s->version_stage ? 0 : -ENOMEM;
}

void secret_settings_done(SecretSettings *s) {
        s->id = mfree(s->id);
        s->version_stage = mfree(s->version_stage);
}

static int secret_init_item(void *item) {
        return secret_settings_init(item);
}

static void secret_done_item(void *item) {
        secret_settings_done(item);
}

const ConfSection imds_conf_section = {
        .name = "imds",
        .items = imds_items,
};

const ConfSection aws_conf_section = {
        .name = "aws",
        .items = aws_items,
};

const ConfSection secret_conf_section = {
        .name = "secret",
        .items = secret_items,
        .named = true,
        .max = SECRET_SETTINGS_MAX,
        .size = sizeof(SecretSettings),
        .name_offset = offsetof(SecretSettings, name),
        .init = secret_init_item,
        .done = secret_done_item,
};

int imds_settings_verify(const ImdsSettings *s, char **ret_error) {
        if (s->timeout == 0)
                return conf_error(ret_error, "[imds]: timeout= must be greater than 0");
        return 0;
}

int aws_settings_verify(const AwsSettings *s, char **ret_error) {
        if (s->connect_timeout == 0)
                return conf_error(ret_error, "[aws]: connect_timeout= must be greater than 0");
        if (s->request_timeout == 0)
                return conf_error(ret_error, "[aws]: request_timeout= must be greater than 0");
        return 0;
}

int secret_settings_verify(SecretSettings *const *list, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                if (isempty(list[i]->id))
                        return conf_error(ret_error, "[secret.%s]: id= is required (a secret ARN or name)",
                                          list[i]->name);
                if (isempty(list[i]->version_stage))
                        return conf_error(ret_error, "[secret.%s]: version_stage= must not be empty",
                                          list[i]->name);
        }
        return 0;
}
