#!/usr/bin/python3
"""Writes the seed inputs of tests/fuzz/corpus/TARGET/seed-* from the
project's own fixtures: the config examples of docs/configuration.md and
the integration stack, the shipped templates, the AWS emulator's IMDS and
Secrets Manager answers, the unit tests' hostile cases. Run it again when
the fixtures change; crash regressions (crash-*) are never touched.

    tests/fuzz/seeds.py
"""

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
    out = {t: [] for t in ("config", "template", "imds", "aws-response", "control", "values")}

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
