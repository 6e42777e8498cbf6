/* SPDX-License-Identifier: MIT */
/*
 * The [imds], [aws] and [secret.NAME] tables, read by the config engine
 * alone: every key, the defaults, and errors that name file:line.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "aws-settings.h"
#include "tests.h"

typedef struct Root {
        ImdsSettings imds;
        AwsSettings aws;
        ConfList secrets;
} Root;

static const ConfSectionRef refs[] = {
        { &imds_conf_section, offsetof(Root, imds) },
        { &aws_conf_section, offsetof(Root, aws) },
        { &secret_conf_section, offsetof(Root, secrets) },
};
static const ConfTable table = { refs, ELEMENTSOF(refs) };

static char path[] = "/tmp/test-aws-settings-XXXXXX";

static void root_init(Root *r) {
        *r = (Root) {};
        CHECK_EQ_INT(imds_settings_init(&r->imds), 0);
        CHECK_EQ_INT(aws_settings_init(&r->aws), 0);
}

static void root_done(Root *r) {
        imds_settings_done(&r->imds);
        aws_settings_done(&r->aws);
        conf_list_free(&r->secrets, &secret_conf_section);
}

/* Parses content; returns the error (caller frees) or NULL. */
static char *parse(Root *r, const char *content) {
        FILE *f = fopen(path, "we");
        char *error = NULL;
        int k;

        CHECK(f != NULL);
        if (!f)
                exit(EXIT_FAILURE);
        fputs(content, f);
        fclose(f);
        k = conf_parse_file(&table, r, path, &error);
        if (k >= 0) {
                CHECK(error == NULL);
                return NULL;
        }
        return error ? error : strdup("(no message)");
}

static void test_defaults(void) {
        Root r;
        char *e = NULL;

        root_init(&r);
        CHECK(r.imds.enabled);
        CHECK(r.imds.endpoint == NULL);
        CHECK_EQ_INT(r.imds.boot_deadline, 240 * USEC_PER_SEC);
        CHECK_EQ_INT(r.imds.timeout, 2 * USEC_PER_SEC);
        CHECK_EQ_INT(r.imds.token_ttl, 21600);
        CHECK(r.aws.region == NULL);
        CHECK(r.aws.endpoint_url == NULL);
        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++)
                CHECK(r.aws.service_endpoint_url[s] == NULL);
        CHECK_EQ_INT(r.aws.max_attempts, 5);
        CHECK_EQ_INT(r.aws.connect_timeout, 5 * USEC_PER_SEC);
        CHECK_EQ_INT(r.aws.request_timeout, 30 * USEC_PER_SEC);
        CHECK_EQ_INT(r.aws.max_response_size, 8 << 20);
        CHECK_EQ_INT(imds_settings_verify(&r.imds, &e), 0);
        CHECK_EQ_INT(aws_settings_verify(&r.aws, &e), 0);
        CHECK(e == NULL);

        /* A section with only an id gets the stage and refresh defaults. */
        e = parse(&r, "[secret.db]\nid = db-credentials\n");
        CHECK(e == NULL);
        free(e);
        CHECK_EQ_INT(r.secrets.n, 1);
        if (r.secrets.n == 1) {
                SecretSettings *s = r.secrets.items[0];
                CHECK_STREQ(s->name, "db");
                CHECK_STREQ(s->id, "db-credentials");
                CHECK_STREQ(s->version_stage, "AWSCURRENT");
                CHECK_EQ_INT(s->refresh, 5 * USEC_PER_MINUTE);
                CHECK_EQ_INT(s->refresh_min, 10 * USEC_PER_SEC);
        }
        root_done(&r);
}

static void test_every_key(void) {
        Root r;
        char *e;

        root_init(&r);
        e = parse(&r,
                  "[imds]\n"
                  "enabled = no\n"
                  "endpoint = http://127.0.0.1:1338/\n"
                  "boot_deadline = 30s\n"
                  "timeout = 500ms\n"
                  "token_ttl = 1h\n"
                  "[aws]\n"
                  "region = eu-central-1\n"
                  "endpoint_url = http://127.0.0.1:4566\n"
                  "endpoint_url_secretsmanager = http://127.0.0.1:1\n"
                  "endpoint_url_logs = http://127.0.0.1:2\n"
                  "endpoint_url_monitoring = http://127.0.0.1:3\n"
                  "endpoint_url_autoscaling = https://127.0.0.1:4\n"
                  "max_attempts = 3\n"
                  "connect_timeout = 1s\n"
                  "request_timeout = 10s\n"
                  "max_response_size = 4MiB\n"
                  "[secret.db]\n"
                  "id = arn:aws:secretsmanager:eu-central-1:123456789012:secret:db-AbCdEf\n"
                  "version_stage = AWSPENDING\n"
                  "refresh = 10m\n"
                  "refresh_min = 30s\n"
                  "[secret.api-key]\n"
                  "id = api\n"
                  "refresh_min = 0\n");
        CHECK(e == NULL);
        free(e);
        CHECK(!r.imds.enabled);
        CHECK_STREQ(r.imds.endpoint, "http://127.0.0.1:1338/");
        CHECK_EQ_INT(r.imds.boot_deadline, 30 * USEC_PER_SEC);
        CHECK_EQ_INT(r.imds.timeout, 500 * USEC_PER_MSEC);
        CHECK_EQ_INT(r.imds.token_ttl, 3600);
        CHECK_STREQ(r.aws.region, "eu-central-1");
        CHECK_STREQ(r.aws.endpoint_url, "http://127.0.0.1:4566");
        CHECK_STREQ(r.aws.service_endpoint_url[AWS_SERVICE_SECRETSMANAGER], "http://127.0.0.1:1");
        CHECK_STREQ(r.aws.service_endpoint_url[AWS_SERVICE_LOGS], "http://127.0.0.1:2");
        CHECK_STREQ(r.aws.service_endpoint_url[AWS_SERVICE_MONITORING], "http://127.0.0.1:3");
        CHECK_STREQ(r.aws.service_endpoint_url[AWS_SERVICE_AUTOSCALING], "https://127.0.0.1:4");
        CHECK_EQ_INT(r.aws.max_attempts, 3);
        CHECK_EQ_INT(r.aws.connect_timeout, USEC_PER_SEC);
        CHECK_EQ_INT(r.aws.request_timeout, 10 * USEC_PER_SEC);
        CHECK_EQ_INT(r.aws.max_response_size, 4 << 20);
        CHECK_EQ_INT(r.secrets.n, 2);
        SecretSettings *db = conf_list_find(&r.secrets, &secret_conf_section, "db");
        CHECK(db != NULL);
        if (db) {
                CHECK_STREQ(db->version_stage, "AWSPENDING");
                CHECK_EQ_INT(db->refresh, 10 * USEC_PER_MINUTE);
                CHECK_EQ_INT(db->refresh_min, 30 * USEC_PER_SEC);
        }
        SecretSettings *api = conf_list_find(&r.secrets, &secret_conf_section, "api-key");
        CHECK(api != NULL);
        if (api)
                CHECK_EQ_INT(api->refresh_min, 0);
        CHECK_EQ_INT(secret_settings_verify((SecretSettings *const *) r.secrets.items, r.secrets.n, NULL), 0);

        /* A later file wins, key by key. */
        e = parse(&r, "[aws]\nregion = us-east-1\n[secret.db]\nrefresh = 1m\n");
        CHECK(e == NULL);
        free(e);
        CHECK_STREQ(r.aws.region, "us-east-1");
        CHECK_EQ_INT(r.aws.max_attempts, 3);
        CHECK_EQ_INT(r.secrets.n, 2);
        if (db) {
                CHECK_EQ_INT(db->refresh, USEC_PER_MINUTE);
                CHECK_STREQ(db->version_stage, "AWSPENDING");
        }
        root_done(&r);
}

/* Each bad value fails with FILE:LINE, the key and why. */
static void expect_error(const char *content, unsigned line, const char *what) {
        Root r;
        char where[300], *e;

        snprintf(where, sizeof(where), "%s:%u: ", path, line);
        root_init(&r);
        e = parse(&r, content);
        CHECK(e != NULL);
        if (e) {
                CHECK_CONTAINS(e, where);
                CHECK_CONTAINS(e, what);
        }
        free(e);
        root_done(&r);
}

static void test_errors(void) {
        expect_error("[imds]\n\nenabled = perhaps\n", 3, "enabled=perhaps: not a boolean");
        expect_error("[imds]\nendpoint = ftp://169.254.169.254\n", 2, "not an http");
        expect_error("[imds]\nboot_deadline = soon\n", 2, "boot_deadline=soon: not a duration");
        expect_error("[imds]\ntimeout = 2 parsecs\n", 2, "timeout=");
        expect_error("[imds]\ntoken_ttl = 7h\n", 2, "from 1s to 6h");
        expect_error("[imds]\ntoken_ttl = 500ms\n", 2, "from 1s to 6h");
        expect_error("[imds]\nregion = eu-central-1\n", 2, "[imds]: unknown key 'region'");
        expect_error("[aws]\n# c\nregion = EU West\n", 3, "not a region name");
        expect_error("[aws]\nendpoint_url = file:///etc/passwd\n", 2, "not an http");
        expect_error("[aws]\nendpoint_url_sqs = http://127.0.0.1\n", 2, "unknown key 'endpoint_url_sqs'");
        expect_error("[aws]\nendpoint_url_logs = 127.0.0.1:1\n", 2, "endpoint_url_logs=");
        expect_error("[aws]\nmax_attempts = 0\n", 2, "from 1 to 20");
        expect_error("[aws]\nmax_attempts = 21\n", 2, "from 1 to 20");
        expect_error("[aws]\nconnect_timeout = -1s\n", 2, "connect_timeout=");
        expect_error("[aws]\nrequest_timeout = 1 fortnight\n", 2, "request_timeout=");
        expect_error("[aws]\nmax_response_size = 10mb\n", 2, "not a size");
        expect_error("[secret.db]\nid = x\nrefresh = often\n", 3, "refresh=often: not a duration");
        expect_error("[secret.db]\nid = x\nrefresh_min = 500ms\n", 3,
                     "refresh_min=500ms: not 0 (off) or a duration from 1s to 1h");
        expect_error("[secret.db]\nid = x\nrefresh_min = 2h\n", 3,
                     "refresh_min=2h: not 0 (off) or a duration from 1s to 1h");
        expect_error("[secret.db]\nid = x\nstage = AWSCURRENT\n", 3, "unknown key 'stage'");
        expect_error("# x\n[secret.a/b]\nid = x\n", 2, "invalid name 'a/b'");
        expect_error("# x\n[secret.]\nid = x\n", 2, "invalid name");
        expect_error("[secrets.db]\nid = x\n", 1, "unknown section [secrets.db]");

        /* More than 64 secrets: refused, on the line of the 65th. */
        {
                size_t n = (SECRET_SETTINGS_MAX + 1) * 32, len = 0;
                char *big = malloc(n);
                for (unsigned i = 0; i <= SECRET_SETTINGS_MAX; i++)
                        len += (size_t) snprintf(big + len, n - len, "[secret.s%u]\nid = x\n", i);
                expect_error(big, 2 * SECRET_SETTINGS_MAX + 2, "more than 64 [secret.*] sections");
                free(big);
        }
}

static void test_verify(void) {
        Root r;
        char *e = NULL;

        root_init(&r);
        r.imds.timeout = 0;
        CHECK_EQ_INT(imds_settings_verify(&r.imds, &e), -EINVAL);
        CHECK_CONTAINS(e, "[imds]: timeout= must be greater than 0");
        e = mfree(e);
        r.aws.connect_timeout = 0;
        CHECK_EQ_INT(aws_settings_verify(&r.aws, &e), -EINVAL);
        CHECK_CONTAINS(e, "[aws]: connect_timeout=");
        e = mfree(e);
        r.aws.connect_timeout = USEC_PER_SEC;
        r.aws.request_timeout = 0;
        CHECK_EQ_INT(aws_settings_verify(&r.aws, &e), -EINVAL);
        CHECK_CONTAINS(e, "[aws]: request_timeout=");
        e = mfree(e);

        /* id= is required; an empty version_stage= would name no stage. */
        e = parse(&r, "[secret.db]\nversion_stage = AWSCURRENT\n");
        CHECK(e == NULL);
        CHECK_EQ_INT(secret_settings_verify((SecretSettings *const *) r.secrets.items, r.secrets.n, &e), -EINVAL);
        CHECK_CONTAINS(e, "[secret.db]: id= is required");
        e = mfree(e);
        e = parse(&r, "[secret.db]\nid = db\nversion_stage =\n");
        CHECK(e == NULL);
        CHECK_EQ_INT(secret_settings_verify((SecretSettings *const *) r.secrets.items, r.secrets.n, &e), -EINVAL);
        CHECK_CONTAINS(e, "[secret.db]: version_stage=");
        e = mfree(e);
        root_done(&r);
}

static void test_services(void) {
        CHECK_STREQ(aws_service_to_string(AWS_SERVICE_SECRETSMANAGER), "secretsmanager");
        CHECK_STREQ(aws_service_to_string(AWS_SERVICE_LOGS), "logs");
        CHECK_STREQ(aws_service_to_string(AWS_SERVICE_MONITORING), "monitoring");
        CHECK_STREQ(aws_service_to_string(AWS_SERVICE_AUTOSCALING), "autoscaling");
        CHECK(aws_service_to_string(_AWS_SERVICE_MAX) == NULL);
        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_LOGS), "CLOUDWATCH_LOGS");
        CHECK(aws_service_env_id(_AWS_SERVICE_MAX) == NULL);
}

static void run(void) {
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0)
                exit(EXIT_FAILURE);
        close(fd);
        test_defaults();
        test_every_key();
        test_errors();
        test_verify();
        test_services();
        unlink(path);
}

TEST_MAIN(run();)
