/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What the aws layer reads from the configuration, and the tables that
 * read it: [imds], [aws] and one [secret.NAME] per secret. The daemon lists
 * these ConfSection objects (with the place of each settings struct in its
 * Config) and hands them to the config engine (conf-parser.h); nothing here
 * knows the daemon.
 *
 * Settings structs are owned by the daemon's Config. Subsystems that follow
 * SIGHUP reloads keep a pointer and are given the new one with
 * foo_set_settings(); the others copy what they need at construction.
 */

#include <stdbool.h>
#include <stdint.h>

#include "conf-parser.h"
#include "macro.h"

typedef enum AwsService {
        AWS_SERVICE_SECRETSMANAGER,
        AWS_SERVICE_LOGS,
        AWS_SERVICE_MONITORING,
        AWS_SERVICE_AUTOSCALING,
        _AWS_SERVICE_MAX,
} AwsService;

/* The endpoint prefix and SigV4 name: "secretsmanager"; NULL if invalid. */
const char *aws_service_to_string(AwsService s);
/* The SDK's service id for AWS_ENDPOINT_URL_<ID>, e.g. "SECRETS_MANAGER". */
const char *aws_service_env_id(AwsService s);

/* [imds] */
typedef struct ImdsSettings {
        bool enabled;
        char *endpoint;                 /* NULL: AWS_EC2_METADATA_SERVICE_ENDPOINT, else the default */
        usec_t boot_deadline;           /* how long identity retries at boot */
        usec_t timeout;                 /* per request, connecting included */
        unsigned token_ttl;             /* seconds */
} ImdsSettings;

/* [aws] */
typedef struct AwsSettings {
        char *region;
        char *endpoint_url;
        char *service_endpoint_url[_AWS_SERVICE_MAX];  /* endpoint_url_<service> */
        unsigned max_attempts;
        usec_t connect_timeout;
        usec_t request_timeout;
        uint64_t max_response_size;
        char *ca_bundle;                /* PEM file; AWS_CA_BUNDLE wins */
} AwsSettings;

/* [secret.NAME] */
#define SECRET_SETTINGS_MAX 64

typedef struct SecretSettings {
        char *name;                     /* NAME; owned by the config engine's list */
        char *id;                       /* ARN or name; required */
        char *version_stage;
        usec_t refresh;
        /* A consumer told the value was refused (a `mysql` check's error
         * 1045: rotated under us) fetches it again at once, at most once
         * per refresh_min; 0: never. The manager applies it. */
        usec_t refresh_min;
} SecretSettings;

extern const ConfSection imds_conf_section;
extern const ConfSection aws_conf_section;
extern const ConfSection secret_conf_section;

/* Defaults. 0, or -ENOMEM. */
int imds_settings_init(ImdsSettings *s);
int aws_settings_init(AwsSettings *s);
int secret_settings_init(SecretSettings *s);
/* Free the fields (not the struct; a secret's name is the list's). */
void imds_settings_done(ImdsSettings *s);
void aws_settings_done(AwsSettings *s);
void secret_settings_done(SecretSettings *s);

/* Checks across keys, once every file is read. On error, -EINVAL and
 * *ret_error (optional) names the section: "[secret.db]: id= is required". */
int imds_settings_verify(const ImdsSettings *s, char **ret_error);
int aws_settings_verify(const AwsSettings *s, char **ret_error);
int secret_settings_verify(SecretSettings *const *list, size_t n, char **ret_error);

/* The value syntaxes only these sections use. */
int conf_parse_region(const char *v, void *field, const char **reason);        /* char * */
int conf_parse_attempts(const char *v, void *field, const char **reason);      /* unsigned, 1..20 */
int conf_parse_token_ttl(const char *v, void *field, const char **reason);     /* unsigned seconds, 1s..6h */
int conf_parse_refresh_min(const char *v, void *field, const char **reason);   /* usec_t, 0 or 1s..1h */
