/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "aws-error.h"
#include "tests.h"

#define S(x) x, strlen(x)

static void test_parse(void) {
        AwsError e;

        CHECK_EQ_INT(aws_error_parse(S("{\"__type\":\"com.amazonaws.secretsmanager#ResourceNotFoundException\","
                                       "\"message\":\"Secrets Manager can't find the specified secret.\"}"), NULL, &e), 0);
        CHECK_STREQ(e.code, "ResourceNotFoundException");
        CHECK_STREQ(e.message, "Secrets Manager can't find the specified secret.");

        CHECK_EQ_INT(aws_error_parse(S("{\"__type\":\"ThrottlingException\",\"Message\":\"Rate exceeded\"}"), NULL, &e), 0);
        CHECK_STREQ(e.code, "ThrottlingException");
        CHECK_STREQ(e.message, "Rate exceeded");

        CHECK_EQ_INT(aws_error_parse(S("<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
                                       "<Error><Type>Sender</Type><Code>InvalidParameterValue</Code>"
                                       "<Message>The value &quot;NaN&quot; &lt;bad&gt;</Message></Error>"
                                       "<RequestId>x</RequestId></ErrorResponse>"), NULL, &e), 0);
        CHECK_STREQ(e.code, "InvalidParameterValue");
        CHECK_STREQ(e.message, "The value \"NaN\" <bad>");

        /* Code only in the header. */
        CHECK_EQ_INT(aws_error_parse(S(""), "AccessDeniedException:http://internal.amazon.com/", &e), 0);
        CHECK_STREQ(e.code, "AccessDeniedException");

        /* Garbage: no code, no crash, bounded copies. */
        CHECK_EQ_INT(aws_error_parse(S("<html>502 Bad Gateway</html>"), NULL, &e), -EBADMSG);
        CHECK_EQ_INT(aws_error_parse(S("{\"__type\": 5}"), NULL, &e), -EBADMSG);
        CHECK_EQ_INT(aws_error_parse(S("{not json"), NULL, &e), -EBADMSG);
        CHECK_EQ_INT(aws_error_parse(NULL, 0, NULL, &e), -EBADMSG);
        CHECK_EQ_INT(aws_error_parse(S("<Code>unterminated"), NULL, &e), -EBADMSG);

        char big[4096];
        memset(big, 'A', sizeof(big));
        memcpy(big, "{\"__type\":\"", 11);
        memcpy(big + sizeof(big) - 3, "\"}", 3);
        CHECK_EQ_INT(aws_error_parse(big, strlen(big), NULL, &e), 0);
        CHECK_EQ_INT(strlen(e.code), sizeof(e.code) - 1);

        /* Control characters never reach a log line. */
        CHECK_EQ_INT(aws_error_parse(S("{\"__type\":\"X\",\"message\":\"a\\nb\\u001b[31m\"}"), NULL, &e), 0);
        CHECK(strchr(e.message, '\n') == NULL && strchr(e.message, 0x1b) == NULL);
}

static void test_classify(void) {
        const unsigned long long skew = 10ULL * 60 * 1000000;

        CHECK_EQ_INT(aws_error_classify(0, 200, NULL, 0), AWS_ERROR_NONE);
        CHECK_EQ_INT(aws_error_classify(0, 400, "ThrottlingException", 0), AWS_ERROR_THROTTLE);
        CHECK_EQ_INT(aws_error_classify(0, 400, "Throttling", 0), AWS_ERROR_THROTTLE);
        CHECK_EQ_INT(aws_error_classify(0, 429, "Whatever", 0), AWS_ERROR_THROTTLE);
        CHECK_EQ_INT(aws_error_classify(0, 500, "InternalFailure", 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(0, 503, "ServiceUnavailable", 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(0, 502, "HTTP502", 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(-ETIMEDOUT, 0, NULL, 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(-ECONNRESET, 0, NULL, 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(-ECONNREFUSED, 0, NULL, 0), AWS_ERROR_TRANSIENT);
        CHECK_EQ_INT(aws_error_classify(-EFBIG, 0, NULL, 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(-EKEYREJECTED, 0, NULL, 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "ValidationException", 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "ValidationError", 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "AccessDeniedException", 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "ResourceNotFoundException", 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "ExpiredTokenException", 0), AWS_ERROR_EXPIRED_CREDENTIALS);
        CHECK_EQ_INT(aws_error_classify(0, 403, "ExpiredToken", 0), AWS_ERROR_EXPIRED_CREDENTIALS);
        /* A bad signature is skew only when the clocks really differ. */
        CHECK_EQ_INT(aws_error_classify(0, 400, "InvalidSignatureException", 0), AWS_ERROR_FATAL);
        CHECK_EQ_INT(aws_error_classify(0, 400, "InvalidSignatureException", skew), AWS_ERROR_CLOCK_SKEW);
        CHECK_EQ_INT(aws_error_classify(0, 403, "SignatureDoesNotMatch", skew), AWS_ERROR_CLOCK_SKEW);
        CHECK_EQ_INT(aws_error_classify(0, 403, "RequestTimeTooSkewed", skew), AWS_ERROR_CLOCK_SKEW);
        CHECK_EQ_INT(aws_error_classify(0, 403, "UnrecognizedClientException", skew), AWS_ERROR_FATAL);
}

TEST_MAIN(test_parse(); test_classify();)
