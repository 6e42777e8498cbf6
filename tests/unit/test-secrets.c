/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "dontdump.h"
#include "secrets.h"
#include "secure-alloc.h"
#include "time-util.h"
#include "tests.h"

#define S(x) x, strlen(x)

static void test_secret_value_parse(void) {
        SecretValue v = {};
        const char *reason = NULL;

        CHECK_EQ_INT(secret_value_parse(S("{\"ARN\":\"arn:aws:secretsmanager:eu-central-1:1:secret:db-x\","
                                          "\"Name\":\"db\",\"VersionId\":\"v1\",\"SecretString\":"
                                          "\"{\\\"username\\\":\\\"app\\\",\\\"password\\\":\\\"p\\\\\\\"w\\\","
                                          "\\\"port\\\":3306,\\\"ssl\\\":true,\\\"nested\\\":{}}\"}"), &v, &reason), 0);
        CHECK_STREQ(v.version_id, "v1");
        CHECK(!v.binary);
        CHECK_EQ_INT(v.n_fields, 4);            /* the nested object is skipped */
        CHECK_STREQ(v.field_names[0], "username");
        CHECK_STREQ(v.field_values[1], "p\"w");
        CHECK_STREQ(v.field_values[2], "3306");
        CHECK_STREQ(v.field_values[3], "true");
        secret_value_done(&v);

        /* issue 16 #2: numbers past long long's range are not cast to it
         * (undefined behaviour, caught by UBSan's float-cast-overflow in
         * the ASan build); integers that fit print as digits. */
        CHECK_EQ_INT(secret_value_parse(S("{\"VersionId\":\"v1\",\"SecretString\":"
                                          "\"{\\\"a\\\":1e19,\\\"b\\\":-1e300,\\\"c\\\":9007199254740993,"
                                          "\\\"d\\\":-42,\\\"e\\\":0.5}\"}"), &v, &reason), 0);
        CHECK_EQ_INT(v.n_fields, 5);
        CHECK_STREQ(v.field_values[0], "1e+19");
        CHECK_STREQ(v.field_values[1], "-1.0000000000000001e+300");
        CHECK_STREQ(v.field_values[2], "9007199254740992");
        CHECK_STREQ(v.field_values[3], "-42");
        CHECK_STREQ(v.field_values[4], "0.5");
        secret_value_done(&v);

        /* A plain string is one value. */
        CHECK_EQ_INT(secret_value_parse(S("{\"VersionId\":\"v2\",\"SecretString\":\"just-a-token\"}"), &v, &reason), 0);
        CHECK_EQ_INT(v.n_fields, 0);
        CHECK_STREQ(v.value, "just-a-token");
        secret_value_done(&v);

        /* Binary is decoded. */
        CHECK_EQ_INT(secret_value_parse(S("{\"VersionId\":\"v3\",\"SecretBinary\":\"AAEC/w==\"}"), &v, &reason), 0);
        CHECK(v.binary);
        CHECK_EQ_INT(v.value_len, 4);
        CHECK(memcmp(v.value, "\x00\x01\x02\xff", 4) == 0);
        secret_value_done(&v);

        static const struct { const char *body, *reason; int error; } bad[] = {
                { "nope", "not a JSON object", -EBADMSG },
                { "{\"SecretString\":\"x\"}", "no VersionId", -EBADMSG },
                { "{\"VersionId\":\"v\"}", "neither SecretString nor SecretBinary", -EBADMSG },
                { "{\"VersionId\":\"v\",\"SecretString\":\"{\\\"a\\\": \"}", "not valid JSON", -EBADMSG },
                { "{\"VersionId\":\"v\",\"SecretBinary\":\"!!!=\"}", "not valid base64", -EBADMSG },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                reason = NULL;
                CHECK_EQ_INT(secret_value_parse(bad[i].body, strlen(bad[i].body), &v, &reason), bad[i].error);
                CHECK_CONTAINS(reason, bad[i].reason);
        }

        /* Oversized. */
        size_t n = SECRET_MAX_SIZE + 100;
        char *big = malloc(n + 64);
        strcpy(big, "{\"VersionId\":\"v\",\"SecretString\":\"");
        size_t l = strlen(big);
        memset(big + l, 'a', n);
        strcpy(big + l + n, "\"}");
        CHECK_EQ_INT(secret_value_parse(big, strlen(big), &v, &reason), -EFBIG);
        CHECK_CONTAINS(reason, "64 KiB");
        free(big);
}

/* A stack with no credentials and IMDS off: every AWS call fails at once,
 * which is enough to see how the subsystem answers. */
typedef struct Stack {
        sd_event *e;
        CurlGlue *glue;
        ImdsSettings is;
        AwsSettings as;
        Imds *imds;
        Credentials *cred;
        AwsClient *aws;
} Stack;

static void stack_up(Stack *k) {
        *k = (Stack) {};
        unsetenv("AWS_ACCESS_KEY_ID");
        unsetenv("AWS_SECRET_ACCESS_KEY");
        setenv("AWS_REGION", "eu-central-1", 1);
        CHECK_EQ_INT(sd_event_new(&k->e), 0);
        CHECK_EQ_INT(curl_glue_new(k->e, &k->glue), 0);
        CHECK_EQ_INT(imds_settings_init(&k->is), 0);
        k->is.enabled = false;
        CHECK_EQ_INT(aws_settings_init(&k->as), 0);
        k->as.endpoint_url = strdup("http://127.0.0.1:9");
        CHECK_EQ_INT(imds_new(k->e, k->glue, &k->is, &k->imds), 0);
        CHECK_EQ_INT(credentials_new(k->e, k->imds, &k->cred), 0);
        CHECK_EQ_INT(aws_client_new(k->e, k->glue, k->cred, &k->as, &k->aws), 0);
}

static void stack_down(Stack *k) {
        aws_client_free(k->aws);
        credentials_free(k->cred);
        imds_free(k->imds);
        aws_settings_done(&k->as);
        curl_glue_free(k->glue);
        sd_event_unref(k->e);
}

typedef struct Seen {
        unsigned loaded, changed, refreshed;
        int error;
        char reason[1200];
} Seen;

static void on_event(void *source, const AgentEvent *ev, void *userdata) {
        Seen *s = userdata;

        if (ev->type == SECRETS_EVENT_LOADED)
                s->loaded++;
        else if (ev->type == SECRETS_EVENT_CHANGED)
                s->changed++;
        else if (ev->type == SECRETS_EVENT_REFRESHED)
                s->refreshed++;
        s->error = ev->error;
        snprintf(s->reason, sizeof(s->reason), "%s", ev->reason ? ev->reason : "");
}

#define RUN_UNTIL(e, cond)                                                              \
        do {                                                                            \
                usec_t _end = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;             \
                while (!(cond) && now_usec(CLOCK_MONOTONIC) < _end)                     \
                        CHECK(sd_event_run((e), 100 * USEC_PER_MSEC) >= 0);             \
        } while (0)

/* No [secret.*]: LOADED and a refresh's answer still come from the loop
 * (an immediate answer freed the control client under agentctl's feet). */
static void test_none(void) {
        Stack k;
        Secrets *s = NULL;
        Seen seen = {}, refresh = {};

        stack_up(&k);
        CHECK_EQ_INT(secrets_new(k.e, k.aws, NULL, 0, on_event, &seen, &s), 0);
        CHECK_EQ_INT(secrets_count(s), 0);
        CHECK(secrets_all_loaded(s));
        CHECK_EQ_INT(secrets_start(s), 0);
        CHECK_EQ_INT(seen.loaded, 0);
        CHECK_EQ_INT(secrets_refresh_now(s, "db", on_event, &refresh), -ENOENT);
        CHECK_EQ_INT(secrets_refresh_now(s, NULL, on_event, &refresh), 0);
        CHECK_EQ_INT(refresh.refreshed, 0);
        CHECK_EQ_INT(secrets_refresh_now(s, NULL, on_event, &refresh), -EBUSY);
        RUN_UNTIL(k.e, seen.loaded > 0 && refresh.refreshed > 0);
        CHECK_EQ_INT(seen.loaded, 1);
        CHECK_EQ_INT(seen.error, 0);
        CHECK_EQ_INT(refresh.refreshed, 1);
        CHECK_EQ_INT(refresh.error, 0);
        secrets_free(s);
        stack_down(&k);
}

static void count_value(const char *v, size_t len, void *userdata) {
        (*(unsigned *) userdata)++;
}

/* A secret that cannot be fetched: LOADED names it and why, the status
 * says it, a forced refresh answers once with the error. */
static void test_unreachable(void) {
        Stack k;
        Secrets *s = NULL;
        Seen seen = {}, refresh = {};
        SecretSettings db = { .name = (char *) "db" }, *list[] = { &db };
        ComponentList l = {};
        const char *v;
        unsigned n = 0;

        stack_up(&k);
        CHECK_EQ_INT(secret_settings_init(&db), 0);
        db.id = strdup("arn:aws:secretsmanager:eu-central-1:123456789012:secret:db-AbCdEf");
        CHECK_EQ_INT(secrets_new(k.e, k.aws, list, 1, on_event, &seen, &s), 0);
        secret_settings_done(&db);      /* copied */
        CHECK_EQ_INT(secrets_add_components(s, &l), 0);
        CHECK_EQ_INT(l.n, 1);
        CHECK_STREQ(l.items[0]->name, "secret.db");
        CHECK_EQ_INT(l.items[0]->state, COMPONENT_STARTING);

        CHECK_EQ_INT(secrets_start(s), 0);
        RUN_UNTIL(k.e, seen.loaded > 0);
        CHECK_EQ_INT(seen.loaded, 1);
        CHECK(seen.error < 0);
        CHECK_CONTAINS(seen.reason, "[secret.db]");
        CHECK_CONTAINS(seen.reason, "no usable credentials");
        CHECK_EQ_INT(l.items[0]->state, COMPONENT_FAILED);
        CHECK_EQ_INT(secrets_lookup(s, "db", NULL, &v, NULL), -EAGAIN);
        CHECK_EQ_INT(secrets_lookup(s, "other", NULL, &v, NULL), -ENOENT);
        CHECK(!secrets_all_loaded(s));
        secrets_foreach_value(s, count_value, &n);
        CHECK_EQ_INT(n, 0);

        CHECK_EQ_INT(secrets_refresh_now(s, "db", on_event, &refresh), 0);
        CHECK_EQ_INT(refresh.refreshed, 0);
        RUN_UNTIL(k.e, refresh.refreshed > 0);
        CHECK_EQ_INT(refresh.refreshed, 1);
        CHECK(refresh.error < 0);
        CHECK_CONTAINS(refresh.reason, "[secret.db]");
        CHECK_EQ_INT(seen.changed, 0);
        CHECK_EQ_INT(seen.loaded, 1);

        component_list_done(&l);
        secrets_free(s);
        stack_down(&k);
}

/* issue 16 #6: secret values never in a core dump, and no copy left on
 * the stack (cJSON parses a number through a stack buffer; so did we). */
#define NUMERIC_SECRET S("{\"VersionId\":\"v\",\"SecretString\":" \
                           "\"{\\\"pin\\\":987654321987,\\\"pw\\\":\\\"s3cr3t-Pw\\\"}\"}")

static __attribute__((noinline)) void parse_numeric_secret(void) {
        SecretValue v = {};
        const char *reason = NULL;

        (void) secret_value_parse(NUMERIC_SECRET, &v, &reason);
        secret_value_done(&v);
}

static void test_dontdump(void) {
        SecretValue v = {};
        const char *reason = NULL;

        CHECK_EQ_INT(secret_value_parse(NUMERIC_SECRET, &v, &reason), 0);
        CHECK_EQ_INT(v.n_fields, 2);
        CHECK(v.value && dontdump(v.value));
        for (size_t i = 0; i < v.n_fields; i++)
                CHECK(dontdump(v.field_values[i]));
        CHECK(!dontdump(v.version_id));         /* the rest is ordinary heap */
        secret_value_done(&v);
        CHECK_EQ_INT(secret_value_parse(S("{\"VersionId\":\"v\",\"SecretBinary\":\"AAEC/w==\"}"), &v, &reason), 0);
        CHECK(dontdump(v.value));
        secret_value_done(&v);
}

/* The stack below the caller, where parse_numeric_secret()'s callees ran. */
static __attribute__((noinline)) bool stack_holds(const char *needle) {
        char area[STACK_WIPE_SIZE];

        __asm__ __volatile__("" : "=m"(area));  /* whatever is there */
        return memmem(area, sizeof(area), needle, strlen(needle)) != NULL;
}

static void test_no_copy_left(void) {
        parse_numeric_secret();
        /* valgrind rightly calls this a read of uninitialised memory. */
        if (!getenv("AGENTD_VALGRIND"))
                CHECK(!stack_holds("987654321987"));
}

TEST_MAIN(test_no_copy_left(); test_dontdump(); test_secret_value_parse(); test_none(); test_unreachable();)
