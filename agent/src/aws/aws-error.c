/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>

#include "aws-error.h"
#include "json-util.h"
#include "macro.h"

static void copy_clean(char *dst, size_t n, const char *src, size_t len) {
        size_t j = 0;

        for (size_t i = 0; i < len && j + 1 < n; i++) {
                unsigned char c = (unsigned char) src[i];
                dst[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
        }
        dst[j] = 0;
}

/* "com.amazonaws.x#Code" or "Code:http://..." → "Code" */
static void copy_code(char *dst, size_t n, const char *src) {
        const char *hash = strrchr(src, '#');
        size_t len;

        if (hash)
                src = hash + 1;
        len = strcspn(src, ":");
        copy_clean(dst, n, src, len);
}

/* Text between <tag> and </tag>, with the five XML entities decoded. */
static bool xml_element(const char *body, const char *tag, char *dst, size_t n) {
        char open[64], close[64];
        const char *s, *e;
        size_t j = 0;

        snprintf(open, sizeof(open), "<%s>", tag);
        snprintf(close, sizeof(close), "</%s>", tag);
        s = strstr(body, open);
        if (!s)
                return false;
        s += strlen(open);
        e = strstr(s, close);
        if (!e)
                return false;
        while (s < e && j + 1 < n) {
                static const struct { const char *ent; char c; } ents[] = {
                        { "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' }, { "&quot;", '"' }, { "&apos;", '\'' },
                };
                bool done = false;
                if (*s == '&')
                        for (size_t k = 0; k < ELEMENTSOF(ents); k++) {
                                size_t l = strlen(ents[k].ent);
                                if ((size_t) (e - s) >= l && strncmp(s, ents[k].ent, l) == 0) {
                                        dst[j++] = ents[k].c;
                                        s += l;
                                        done = true;
                                        break;
                                }
                        }
                if (done)
                        continue;
                dst[j++] = ((unsigned char) *s < 0x20) ? ' ' : *s;
                s++;
        }
        dst[j] = 0;
        return true;
}

int aws_error_parse(const char *body, size_t len, const char *error_type_header, AwsError *e) {
        const char *p = body;

        memset(e, 0, sizeof(*e));
        if (!body)
                body = p = "";
        while (p < body + len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
                p++;

        if (*p == '{') {
                _cleanup_(cJSON_Deletep) cJSON *j = cJSON_ParseWithLength(body, len);
                if (j) {
                        const char *t = json_get_string(j, "__type") ?: json_get_string(j, "code") ?: json_get_string(j, "Code");
                        const char *m = json_get_string(j, "message") ?: json_get_string(j, "Message");
                        if (t)
                                copy_code(e->code, sizeof(e->code), t);
                        if (m)
                                copy_clean(e->message, sizeof(e->message), m, strlen(m));
                }
        } else if (*p == '<') {
                char tmp[sizeof(e->code)];
                /* Bodies are NUL-terminated by the HTTP layer. */
                if (xml_element(body, "Code", tmp, sizeof(tmp)))
                        copy_code(e->code, sizeof(e->code), tmp);
                (void) xml_element(body, "Message", e->message, sizeof(e->message));
        }
        if (!e->code[0] && !isempty(error_type_header))
                copy_code(e->code, sizeof(e->code), error_type_header);
        return e->code[0] ? 0 : -EBADMSG;
}

static bool in_list(const char *code, const char *const *list, size_t n) {
        if (isempty(code))
                return false;
        for (size_t i = 0; i < n; i++)
                if (streq(code, list[i]))
                        return true;
        return false;
}

bool aws_error_code_is_throttle(const char *code) {
        static const char *const codes[] = {
                "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                "TooManyRequestsException", "ProvisionedThroughputExceededException",
                "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
                "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
                "EC2ThrottledException",
        };
        return in_list(code, codes, ELEMENTSOF(codes));
}

bool aws_error_code_is_expired_credentials(const char *code) {
        static const char *const codes[] = {
                "ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired",
        };
        return in_list(code, codes, ELEMENTSOF(codes));
}

bool aws_error_code_is_clock_skew(const char *code) {
        static const char *const codes[] = {
                "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture",
                "InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure",
        };
        return in_list(code, codes, ELEMENTSOF(codes));
}

/* Signature errors count as skew only when the clocks really differ by more
 * than AWS tolerates (5 minutes; 4 to be early). */
#define SKEW_THRESHOLD_USEC (4ULL * 60 * 1000000)

AwsErrorClass aws_error_classify(int transport_error, long status, const char *code, unsigned long long skew_usec) {
        if (transport_error < 0) {
                switch (transport_error) {
                case -ETIMEDOUT:
                case -ECONNREFUSED:
                case -ECONNRESET:
                case -EHOSTUNREACH:
                case -EBADMSG:
                case -EIO:
                        return AWS_ERROR_TRANSIENT;
                default:
                        return AWS_ERROR_FATAL;         /* -EFBIG, -EKEYREJECTED, -EINVAL, -ENOMEM */
                }
        }
        if (status >= 200 && status < 300)
                return AWS_ERROR_NONE;
        if (aws_error_code_is_throttle(code) || status == 429)
                return AWS_ERROR_THROTTLE;
        if (aws_error_code_is_expired_credentials(code))
                return AWS_ERROR_EXPIRED_CREDENTIALS;
        if (skew_usec > SKEW_THRESHOLD_USEC && aws_error_code_is_clock_skew(code))
                return AWS_ERROR_CLOCK_SKEW;
        if (status == 500 || status == 502 || status == 503 || status == 504 ||
            streq_ptr(code, "RequestTimeout") || streq_ptr(code, "RequestTimeoutException") ||
            streq_ptr(code, "InternalFailure") || streq_ptr(code, "ServiceUnavailable"))
                return AWS_ERROR_TRANSIENT;
        return AWS_ERROR_FATAL;
}

const char *aws_error_class_to_string(AwsErrorClass c) {
        static const char *const names[] = {
                [AWS_ERROR_NONE] = "none", [AWS_ERROR_THROTTLE] = "throttled",
                [AWS_ERROR_TRANSIENT] = "transient", [AWS_ERROR_EXPIRED_CREDENTIALS] = "expired-credentials",
                [AWS_ERROR_CLOCK_SKEW] = "clock-skew", [AWS_ERROR_FATAL] = "fatal",
        };
        return c < ELEMENTSOF(names) ? names[c] : "unknown";
}
