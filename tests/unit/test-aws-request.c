/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "aws.h"
#include "tests.h"

static const char *env_vals[8][2];

static const char *fake_getenv(const char *n) {
        for (size_t i = 0; i < 8 && env_vals[i][0]; i++)
                if (strcmp(env_vals[i][0], n) == 0)
                        return env_vals[i][1];
        return NULL;
}

static void set_env(size_t i, const char *k, const char *v) {
        env_vals[i][0] = k;
        env_vals[i][1] = v;
        if (i + 1 < 8)
                env_vals[i + 1][0] = NULL;
}

static void test_endpoints(void) {
        AwsSettings settings, *c = &settings;
        char *u = NULL;

        CHECK_EQ_INT(aws_settings_init(c), 0);
        env_vals[0][0] = NULL;
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_SECRETSMANAGER, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "https://secretsmanager.eu-central-1.amazonaws.com");
        free(u);
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_MONITORING, "us-east-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "https://monitoring.us-east-1.amazonaws.com");
        free(u);
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_LOGS, NULL, c, fake_getenv, &u), -ENXIO);

        /* Config: global, then per service. */
        c->endpoint_url = strdup("http://127.0.0.1:1/");
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_LOGS, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "http://127.0.0.1:1");
        free(u);
        c->service_endpoint_url[AWS_SERVICE_LOGS] = strdup("http://127.0.0.1:2");
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_LOGS, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "http://127.0.0.1:2");
        free(u);
        /* The environment beats the config, the service-specific one first. */
        set_env(0, "AWS_ENDPOINT_URL", "http://127.0.0.1:3");
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_LOGS, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "http://127.0.0.1:3");
        free(u);
        set_env(1, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "http://127.0.0.1:4");
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_LOGS, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "http://127.0.0.1:4");
        free(u);
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_SECRETSMANAGER, "eu-central-1", c, fake_getenv, &u), 0);
        CHECK_STREQ(u, "http://127.0.0.1:3");
        free(u);
        set_env(0, "AWS_ENDPOINT_URL", "file:///etc/passwd");
        env_vals[1][0] = NULL;
        CHECK_EQ_INT(aws_endpoint_resolve(AWS_SERVICE_SECRETSMANAGER, "eu-central-1", c, fake_getenv, &u), -EINVAL);
        aws_settings_done(c);

        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_SECRETSMANAGER), "SECRETS_MANAGER");
        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_AUTOSCALING), "AUTO_SCALING");
        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_MONITORING), "CLOUDWATCH");
}

static void test_form_encode(void) {
        char *s = aws_form_encode("a b&c=d/é~._-");
        CHECK_STREQ(s, "a%20b%26c%3Dd%2F%C3%A9~._-");
        free(s);
}

TEST_MAIN(test_endpoints(); test_form_encode();)
