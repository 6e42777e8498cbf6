#!/usr/bin/python3
"""Writes the seed inputs of tests/fuzz/corpus/TARGET/seed-* from the
project's own fixtures: the config examples of docs/configuration.md and
the integration stack, the shipped templates, the AWS emulator's IMDS and
Secrets Manager answers, the unit tests' hostile cases. Run it again when
the fixtures change; crash regressions (crash-*) are never touched.

    tests/fuzz/seeds.py
"""

import gzip
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from stack import stack_config  # noqa: E402

SEP = b"\n--\n"


def seeds():
    out = {t: [] for t in ("config", "template", "imds", "aws-response", "control", "values", "log-line",
                           "statsd", "ingest")}

    # config: every ini block of the docs, the stack's config, and drop-ins.
    doc = open(os.path.join(REPO, "docs", "configuration.md"), encoding="utf-8").read()
    blocks = [b.encode() for b in re.findall(r"```ini\n(.*?)```", doc, re.S)]
    out["config"] += blocks
    stack = stack_config("/tmp/x", 8080, "/srv/www").encode()
    out["config"].append(stack)
    out["config"].append(stack + SEP + b"[health]\nlisten = unix:/run/a.sock, 127.0.0.1:9\n" + SEP +
                         b"[check.db]\ntype = mysql\nsecret = db\n")
    out["config"].append(b"[agent]\nlog_level = debug\n\x00[evil]\n")
    out["config"].append(b"[render.a]\nmode = 04644\ntemplate = /x\ntarget = /y\n")
    out["config"].append(b"[vars]\n" + b"".join(b"k%d = v\n" % i for i in range(300)))

    # template: a format byte (0 raw, 1 nginx, 2 php-fpm, 3 env, 4 json), the
    # template, then values.
    values = [b'p"a\'ss;w}o{r d$x${HOME}\\\\#\xc3\xa9%', b"$pool", b"a\nb\rc`d", b"\xff\xfe", b"plain"]
    for i, name in enumerate(("app.env.in", "nginx-site.conf.in", "php-fpm-pool.conf.in")):
        text = open(os.path.join(REPO, "agent", "templates", name), "rb").read()
        for fmt in range(5):
            out["template"].append(bytes([fmt]) + text + SEP + SEP.join(values))
    out["template"].append(b"\x00{{#a}}{{^b.x}}{{c}}{{/b.x}}{{/a}}{{! c }}{{u.x}}{{e.y}}" + SEP + b"v")
    out["template"].append(b"\x04{\"k\": \"{{x}}\"}" + SEP + b"\x01\x1f\"\\")
    out["template"].append(b"\x01{{{x}}}{{&x}}{{>p}}{{=<% %>=}}{{a..b}}{{#a}}" + SEP + b"v")

    # imds: credential and identity documents, listings, dates.
    creds = {"Code": "Success", "LastUpdated": "2026-11-25T22:00:00Z", "Type": "AWS-HMAC",
             "AccessKeyId": "ASIAABCDEFGHIJKLMNOP", "SecretAccessKey": "s" * 40, "Token": "t" * 300,
             "Expiration": "2026-11-26T04:00:00Z"}
    out["imds"].append(json.dumps(creds, indent=2).encode())
    out["imds"].append(json.dumps(dict(creds, Expiration="2026-12-01T00:00:00+1:2")).encode())
    out["imds"].append(json.dumps(dict(creds, Expiration="2026-11-26T04:00:00.123456+02:00")).encode())
    out["imds"].append(json.dumps({"accountId": "123456789012", "architecture": "x86_64",
                                   "region": "eu-central-1", "instanceId": "i-0123456789abcdef0",
                                   "privateIp": "10.0.1.5"}).encode())
    out["imds"] += [b"agentd-instance-role\n", b"Name\naws:autoscaling:groupName\n\nteam\n",
                    b"Wed, 25 Nov 2026 23:00:00 GMT", b"i-0123456789abcdef0", b"eu-central-1a"]

    # aws-response: error bodies (JSON 1.1, Query XML), secrets.
    out["aws-response"] += [
        b'{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","message":"not found"}',
        b'{"__type":"ThrottlingException","Message":"Rate exceeded"}',
        b'<ErrorResponse xmlns="https://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Sender</Type>'
        b'<Code>Throttling</Code><Message>Rate &amp; &lt;exceeded&gt;</Message></Error>'
        b'<RequestId>x</RequestId></ErrorResponse>',
        b'ExpiredTokenException:http://internal.amazon.com/\n{"message":"expired"}',
        json.dumps({"ARN": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:db-AbCdEf", "Name": "db",
                    "VersionId": "v1", "SecretString": json.dumps(
                        {"username": "app", "password": 'p"w$', "port": 3306, "ssl": True, "big": 1e19,
                         "nested": {}})}).encode(),
        b'{"VersionId":"v3","SecretBinary":"AAEC/w=="}',
        json.dumps({"ARN": "arn", "Name": "db", "VersionIdsToStages": {
            "v1": ["AWSPREVIOUS"], "v2": ["AWSCURRENT", "AWSPENDING"]}}).encode(),
    ]

    # control: one connection's bytes.
    out["control"] += [b'{"command":"status"}\n', b'{"command":"later"}\n', b'{"command":"twice"}\n',
                       b'{"command":"fail"}\n', b'{"command":"status","name":"x"}', b'{"command":"nope"}\n',
                       b"[1,2]\n", b'{"command":5}\n', b"x" * 70000]

    # values: one value of each syntax.
    out["values"] += [b"1h30m", b"250ms", b"2d", b"30", b"10MiB", b"1G", b"yes", b"65535", b"10%",
                      b"unix:/run/agentd/health.sock, 127.0.0.1:8081, [::1]:8081, *:8081",
                      b"db.internal:3306", b"[fe80::1]:22", b"https://example.invalid/x", b"nginx.service",
                      b"18446744073709551615s", b"9999999999999999999d"]
    # log-line: an options byte (bits 0-1 max_event 40/64/300/4096, bit 2 the
    # multiline pattern, bit 3 flush after each chunk), a chunking byte, the
    # file's bytes, then the pattern and a timestamp_format (test_logs.py's).
    php = (b"[01-Dec-2026 06:00:00 +0000] PHP Fatal error: boom\nStack trace:\n#0 /app/index.php(3): f()\n"
           b"#1 {main}\n[01-Dec-2026 06:00:01 +0000] last\n")
    lines = [b"complete line\nno newline yet", b"one\r\ntwo\r\nthree", b"bad \xff\xfe byte\nraw \xc3\x28 \xed\xa0\x80 end\n",
             b"e1\ne2\n\n\ne3\n", b"A" * 5000 + b"\n" + b"B" * 300 + b"\n", "\u00e9\u4e2d\U0001f600".encode() * 200 + b"\n",
             b"x" * 70 + b"\xe2\x82" + b"\n", b"\n", b""]
    for opt in range(16):
        text = lines[opt % len(lines)] if opt & 4 == 0 else php
        out["log-line"].append(bytes([opt, opt * 37 % 256]) + text + SEP + b"^\\[" + SEP + b"[%d-%b-%Y %H:%M:%S %z]")
    out["log-line"].append(b"\x07\x01" + php + SEP + b"^(\\[|[0-9]{4}-)" + SEP + b"%Y-%m-%dT%H:%M:%S")

    # statsd: datagrams separated by SEP (test-statsd.c's lines).
    out["statsd"] += [
        b"app.hits:3|c|@0.5|#route:/home,bare,env:prod\nq:-2|g\nt:12.5|ms|T1656581400|c:abc\nu:alice|s\nh:1|h",
        b"c:1|c\nc:1|c|@0.25\r\ng:5|g\ng:+2|g\ng:-10|g\nu:a|s\nu:b|s\nu:a|s\nbad\n\n" + SEP + b"t:5|ms\nother:1|c" + SEP
        + b"c:1|g",
        b"x:1|q\nx:-1|ms\nx:1|c|@0\nx:1|c|@1.5\nx:1|c|zz\n:1|c\nx:1|c|#k:\x01\nx:|s\nx:1e308|g\ng:+1e100|g\ng:+1e100|g",
        b"x:1|c|#" + b",".join(b"k%d:v" % i for i in range(30)),
        b"".join(b"s%d:%d|s|#a:b\n" % (i, i) for i in range(300)),
        b"".join(b"m%d:%d|ms|@0.1\n" % (i % 7, i) for i in range(200)),
    ]

    # ingest: an options byte (bits 0-1 format 0 NDJSON, 1 JSON, 2 CSV, 3 by
    # Content-Type; bit 2 the second dataset; bit 3 gzip round trip; bit 4
    # raw bytes as gzip), a chunking byte, the body [SEP Content-Type] [SEP
    # key / job id] (test-records.c, ingest_fixture.py, test_ingest_api.py).
    ev = json.dumps({"id": "r000001", "ts": "2026-01-02T03:04:05.5+01:00", "kind": "click", "value": 0.5,
                     "count": 1, "ok": False}).encode()
    bodies = [
        (0, b'{"id":" a ","ts":"2026-01-02T03:04:05-01:30","n":7,"f":"2.5","b":true}\n\n{"id":"b\xc3\xa9","n":"42","b":"no"}'),
        (1, b'[{"id":"x","ts":1700000000.25}]'),
        (2, b'\xef\xbb\xbfn,id,b\r\n5,"q,""1",t\n\n,z,\n'),
        (0, b'{"id":"a"}\n[1]\n'),
        (1, b'[{"id":"a"},\n{"id":}]'),
        (2, b'id\n"unterminated\n'),
        (2, b"id,n\na\n"),
        (2, b"id,id\na,b\n"),
        (0, b"\n  \n"),
        (0, b'{"id":"toolong","n":101,"f":"x","b":2,"ts":"2026-02-31T00:00:00Z","zz":1}\n' * 4),
        (1, b'[{"ts":1e300},{"ts":-1e300},{"n":1e19},{"f":1e308},{"ts":"9999-12-31T23:59:59-23:59"}]'),
        (4 | 0, ev + b"\n" + ev.replace(b"r000001", b"r000002") + b"\n"),
        (4 | 1, b"[" + ev + b"]"),
        (4 | 2, b'id,ts,kind,value,count,ok\r\nr4,2026-06-01 12:00:00Z,"a,b",1.25,4,false\n'
                b'r5,2026-06-01T12:00:00.123456Z,"say ""hi""",,,\n'),
        (4 | 8 | 0, ev + b"\n"),
        (4 | 16 | 0, gzip.compress(ev + b"\n", mtime=0)),
        (4 | 16 | 0, b"not gzip"),
        (4 | 0, b"".join(json.dumps({"id": "r%d" % i, "ts": "2026-01-01T00:00:00Z", "kind": "k"}).encode() + b"\n"
                        for i in range(1001))),
    ]
    for opt, body in bodies:
        out["ingest"].append(bytes([opt, 7]) + body)
    out["ingest"].append(bytes([3, 1]) + ev + b"\n" + SEP + b"application/x-ndjson; charset=utf-8" + SEP
                         + b"test-key-0123456789abcdef")
    out["ingest"].append(bytes([7, 2]) + b"id,ts,kind\nr1,2026-01-01T00:00:00Z,k\n" + SEP + b" text/CSV" + SEP
                         + b"18446744073709551615")
    return out


def main():
    for target, inputs in seeds().items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
        for data in inputs:
            name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (target, len(inputs)))


if __name__ == "__main__":
    main()
