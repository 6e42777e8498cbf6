/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "aws.h"
#include "credentials.h"
#include "identity.h"
#include "time-util.h"
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
        Config *c;
        char *u = NULL;

        CHECK_EQ_INT(config_new(&c), 0);
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
        config_free(c);

        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_SECRETSMANAGER), "SECRETS_MANAGER");
        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_AUTOSCALING), "AUTO_SCALING");
        CHECK_STREQ(aws_service_env_id(AWS_SERVICE_MONITORING), "CLOUDWATCH");
}

static void test_form_encode(void) {
        char *s = aws_form_encode("a b&c=d/é~._-");
        CHECK_STREQ(s, "a%20b%26c%3Dd%2F%C3%A9~._-");
        free(s);
}

static void test_refresh_time(void) {
        usec_t now = 1800000000ULL * USEC_PER_SEC;

        CHECK_EQ_INT(credentials_refresh_time(now, USEC_INFINITY, 0.5), USEC_INFINITY);
        /* Six-hour credentials: 5 to 15 minutes before expiry. */
        for (double r = 0; r < 1; r += 0.1) {
                usec_t exp = now + 6 * USEC_PER_HOUR, t = credentials_refresh_time(now, exp, r);
                CHECK(t <= exp - 5 * USEC_PER_MINUTE);
                CHECK(t >= exp - 15 * USEC_PER_MINUTE);
        }
        /* Short-lived: after half, before two thirds of the remaining life. */
        usec_t exp = now + 60 * USEC_PER_SEC;
        CHECK(credentials_refresh_time(now, exp, 0) == now + 30 * USEC_PER_SEC);
        CHECK(credentials_refresh_time(now, exp, 0.99) < now + 40 * USEC_PER_SEC);
        /* Nearly or already expired: now. */
        CHECK_EQ_INT(credentials_refresh_time(now, now + 3 * USEC_PER_SEC, 0.5), now);
        CHECK(credentials_refresh_time(now, now + 10 * USEC_PER_SEC, 0.5) > now);
        CHECK_EQ_INT(credentials_refresh_time(now, now - 10 * USEC_PER_SEC, 0.5), now);
}

static void test_parse_imds_credentials(void) {
        AwsCredentials a = {};
        const char *reason = NULL;
        usec_t t;

        CHECK_EQ_INT(credentials_parse_imds("{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\","
                                            "\"SecretAccessKey\":\"abc/def+ghi\",\"Token\":\"tok==\","
                                            "\"Expiration\":\"2026-11-26T04:00:00Z\"}", &a, &reason), 0);
        CHECK_STREQ(a.access_key_id, "ASIAABCDEFGHIJKLMNOP");
        CHECK_STREQ(a.session_token, "tok==");
        CHECK_EQ_INT(parse_rfc3339("2026-11-26T04:00:00Z", &t), 0);
        CHECK_EQ_INT(a.expiration, t);
        aws_credentials_done(&a);

        static const struct { const char *json, *reason; } bad[] = {
                { "not json", "not a JSON object" },
                { "[]", "not a JSON object" },
                { "{\"Code\":\"Failure\"}", "Code" },
                { "{\"Code\":\"Success\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "AccessKeyId" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"asia-lower-case-key\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "AccessKeyId" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"Token\":\"t\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "SecretAccessKey" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"SecretAccessKey\":\"x\",\"Token\":\"a b\",\"Expiration\":\"2026-11-26T04:00:00Z\"}", "Token" },
                { "{\"Code\":\"Success\",\"AccessKeyId\":\"ASIAABCDEFGHIJKLMNOP\",\"SecretAccessKey\":\"x\",\"Token\":\"t\",\"Expiration\":\"tomorrow\"}", "Expiration" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                reason = NULL;
                CHECK_EQ_INT(credentials_parse_imds(bad[i].json, &a, &reason), -EBADMSG);
                CHECK_CONTAINS(reason, bad[i].reason);
        }
}

static void test_identity_validators(void) {
        CHECK(identity_valid_instance_id("i-0123456789abcdef0"));
        CHECK(identity_valid_instance_id("i-12345678"));
        CHECK(!identity_valid_instance_id("i-0123456789ABCDEF0"));
        CHECK(!identity_valid_instance_id("i-1234"));
        CHECK(!identity_valid_instance_id("0123456789abcdef0"));
        CHECK(!identity_valid_instance_id("i-0123456789abcdef0\n"));
        CHECK(!identity_valid_instance_id(NULL));
        CHECK(identity_valid_region("eu-central-1"));
        CHECK(!identity_valid_region("eu central"));
        CHECK(!identity_valid_region("eucentral"));
        CHECK(!identity_valid_region("EU-CENTRAL-1"));
        CHECK(identity_valid_token("t3.medium", 255));
        CHECK(!identity_valid_token("t3 medium", 255));
        CHECK(!identity_valid_token("", 255));
        CHECK(!identity_valid_token("abcdef", 5));
}

TEST_MAIN(test_endpoints(); test_form_encode(); test_refresh_time(); test_parse_imds_credentials();
          test_identity_validators();)
