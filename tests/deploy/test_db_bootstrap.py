#!/usr/bin/python3
"""terraform/modules/db-app-user/bootstrap.py, the CloudFormation custom resource that
creates the application's DB user once, run here as CloudFormation would run it: the
event's ResponseURL is a real HTTP server on loopback that receives the answer. The
RDS Data API and Secrets Manager are stand-ins that record the calls (boto3 is not a
Debian 12 test dependency; the function takes the clients as arguments).

Usage: test_db_bootstrap.py SOURCE_ROOT"""

import http.server
import importlib.util
import json
import sys
import threading
import types
import unittest

SRC = sys.argv.pop(1) if len(sys.argv) > 1 else "."
PASSWORD = "Gen3rated-by-MySQL-pw"


def load():
    sys.modules.setdefault("boto3", types.ModuleType("boto3"))   # only boto3.client is used, and not here
    spec = importlib.util.spec_from_file_location("bootstrap", SRC + "/terraform/modules/db-app-user/bootstrap.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class NotFound(Exception):
    pass


class FakeSecrets:
    class exceptions:
        ResourceNotFoundException = NotFound

    def __init__(self, value=None):
        self.value, self.puts = value, []

    def get_secret_value(self, SecretId):
        if self.value is None:
            raise NotFound("no AWSCURRENT")
        return {"SecretString": self.value}

    def put_secret_value(self, SecretId, SecretString):
        self.puts.append((SecretId, json.loads(SecretString)))


class FakeDataApi:
    def __init__(self, user_exists=False):
        self.sql, self.user_exists = [], user_exists

    def execute_statement(self, resourceArn, secretArn, sql, parameters=()):
        self.sql.append((resourceArn, secretArn, sql, list(parameters)))
        if sql.startswith("SELECT COUNT(*)"):
            return {"records": [[{"longValue": 1 if self.user_exists else 0}]]}
        if "RANDOM PASSWORD" in sql:
            return {"records": [[{"stringValue": "app"}, {"stringValue": "%"}, {"stringValue": PASSWORD},
                                 {"longValue": 1}]]}
        return {"numberOfRecordsUpdated": 0}


class Receiver(http.server.BaseHTTPRequestHandler):
    answers = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.answers.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class BootstrapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mod = load()
        cls.server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def event(self, kind="Create", **props):
        p = {"ServiceToken": "arn:aws:lambda:eu-central-1:123456789012:function:x",
             "ClusterArn": "arn:aws:rds:eu-central-1:123456789012:cluster:php-app",
             "MasterSecretArn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-1",
             "AppSecretArn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:php-app/db-app-x",
             "Host": "php-app.cluster-x.eu-central-1.rds.amazonaws.com", "Port": "3306",
             "Database": "app", "Username": "app", "Privileges": "SELECT, INSERT, UPDATE, DELETE"}
        p.update(props)
        return {"RequestType": kind, "ResponseURL": "http://127.0.0.1:%d/cfn" % self.server.server_port,
                "StackId": "stack", "RequestId": "req-1", "LogicalResourceId": "AppUser", "ResourceProperties": p}

    def run_handler(self, event, sm, rds):
        Receiver.answers.clear()
        self.mod.handler(event, None, sm=sm, rds=rds)
        self.assertEqual(len(Receiver.answers), 1, "exactly one answer to CloudFormation")
        return Receiver.answers[0]

    def test_create_makes_the_user_and_fills_the_secret(self):
        sm, rds = FakeSecrets(), FakeDataApi()
        ans = self.run_handler(self.event(), sm, rds)
        self.assertEqual(ans["Status"], "SUCCESS", ans)
        self.assertEqual((ans["RequestId"], ans["LogicalResourceId"], ans["PhysicalResourceId"]), ("req-1", "AppUser", "AppUser"))
        statements = [s for _, _, s, _ in rds.sql]
        self.assertEqual(statements[1], "CREATE USER 'app'@'%' IDENTIFIED BY RANDOM PASSWORD")
        self.assertEqual(statements[3], "GRANT SELECT, INSERT, UPDATE, DELETE ON `app`.* TO 'app'@'%'")
        # The master secret authorises every statement; no statement carries a password.
        for arn, secret, sql, _ in rds.sql:
            self.assertEqual(secret, "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-1")
            self.assertNotIn(PASSWORD, sql)
        self.assertEqual(sm.puts, [("arn:aws:secretsmanager:eu-central-1:123456789012:secret:php-app/db-app-x", {
            "engine": "mysql", "host": "php-app.cluster-x.eu-central-1.rds.amazonaws.com", "port": 3306,
            "dbname": "app", "username": "app", "password": PASSWORD,
            "masterarn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-1"})])
        self.assertNotIn(PASSWORD, json.dumps(ans))

    def test_an_existing_user_without_a_secret_gets_a_new_password(self):
        sm, rds = FakeSecrets(), FakeDataApi(user_exists=True)
        self.assertEqual(self.run_handler(self.event(), sm, rds)["Status"], "SUCCESS")
        self.assertIn("ALTER USER 'app'@'%' IDENTIFIED BY RANDOM PASSWORD", [s for _, _, s, _ in rds.sql])
        self.assertEqual(sm.puts[0][1]["password"], PASSWORD)

    def test_a_secret_with_a_value_is_left_alone(self):
        sm, rds = FakeSecrets(value='{"username": "app_clone"}'), FakeDataApi()
        for kind in ("Create", "Update"):
            ans = self.run_handler(self.event(kind), sm, rds)
            self.assertEqual(ans["Status"], "SUCCESS")
            self.assertIn("left alone", ans["Reason"])
        self.assertEqual((rds.sql, sm.puts), ([], []))

    def test_delete_touches_nothing(self):
        sm, rds = FakeSecrets(), FakeDataApi()
        ans = self.run_handler(self.event("Delete", PhysicalResourceId="AppUser"), sm, rds)
        self.assertEqual(ans["Status"], "SUCCESS")
        self.assertEqual((rds.sql, sm.puts), ([], []))

    def test_bad_properties_fail_with_a_reason_and_run_no_sql(self):
        for props, why in (({"Username": "app'; DROP USER root; --"}, "Username"),
                           ({"Database": "a`b"}, "Database"),
                           ({"Privileges": "ALL PRIVILEGES"}, "Privileges"),
                           ({"Privileges": "SELECT, GRANT OPTION"}, "Privileges"),
                           ({"Privileges": "SELECT; DROP TABLE x"}, "Privileges")):
            sm, rds = FakeSecrets(), FakeDataApi()
            ans = self.run_handler(self.event(**props), sm, rds)
            self.assertEqual(ans["Status"], "FAILED", props)
            self.assertIn(why, ans["Reason"])
            self.assertEqual((rds.sql, sm.puts), ([], []), props)

    def test_a_failing_api_still_answers(self):
        class Broken(FakeDataApi):
            def execute_statement(self, **kw):
                raise RuntimeError("BadRequestException: HttpEndpoint is not enabled")
        ans = self.run_handler(self.event(), FakeSecrets(), Broken())
        self.assertEqual(ans["Status"], "FAILED")
        self.assertIn("HttpEndpoint is not enabled", ans["Reason"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
