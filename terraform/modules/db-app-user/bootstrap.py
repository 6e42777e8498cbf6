# Creates the app's DB user once: a CloudFormation custom resource (main.tf).
# Through the RDS Data API with the master secret: CREATE USER ... IDENTIFIED BY
# RANDOM PASSWORD (MySQL makes the password: in no SQL text, no log, no state),
# GRANT on its own schema only, then the credentials into the app secret in the
# shape the multi-user rotation function reads (masterarn included). A secret
# that has a value already is left alone; Delete leaves the user (data stays).
import json
import re
import urllib.request

import boto3

IDENT = re.compile(r"^[A-Za-z0-9_]{1,32}$")
PRIVS = re.compile(r"^[A-Z]+( [A-Z]+)*(, ?[A-Z]+( [A-Z]+)*)*$")


def respond(event, status, reason):
    body = json.dumps({
        "Status": status, "Reason": reason[:250],
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"], "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"]}).encode()
    req = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                 headers={"Content-Type": ""})
    urllib.request.urlopen(req, timeout=30).close()


def create(p, sm, rds):
    user, db, privs = p["Username"], p["Database"], p["Privileges"]
    if not IDENT.match(user) or not IDENT.match(db):
        raise ValueError("Username and Database: 1-32 of A-Z a-z 0-9 _")
    if not PRIVS.match(privs) or "ALL" in privs or "GRANT" in privs:
        raise ValueError("Privileges: a list like SELECT, INSERT (no ALL, no GRANT)")
    try:
        sm.get_secret_value(SecretId=p["AppSecretArn"])
        return "the app secret has a value already: left alone"
    except sm.exceptions.ResourceNotFoundException:
        pass

    def sql(text, **params):
        return rds.execute_statement(
            resourceArn=p["ClusterArn"], secretArn=p["MasterSecretArn"], sql=text,
            parameters=[{"name": k, "value": {"stringValue": v}} for k, v in params.items()])

    n = sql("SELECT COUNT(*) FROM mysql.user WHERE user = :u AND host = '%'", u=user)
    verb = "ALTER" if n["records"][0][0]["longValue"] else "CREATE"
    r = sql("%s USER '%s'@'%%' IDENTIFIED BY RANDOM PASSWORD" % (verb, user))
    password = r["records"][0][2]["stringValue"]
    sql("CREATE DATABASE IF NOT EXISTS `%s`" % db)
    sql("GRANT %s ON `%s`.* TO '%s'@'%%'" % (privs, db, user))
    sm.put_secret_value(SecretId=p["AppSecretArn"], SecretString=json.dumps({
        "engine": "mysql", "host": p["Host"], "port": int(p["Port"]), "dbname": db,
        "username": user, "password": password, "masterarn": p["MasterSecretArn"]}))
    return "%sd user %s with %s on %s.*" % (verb.lower(), user, privs, db)


def handler(event, context, sm=None, rds=None):
    try:
        if event["RequestType"] == "Delete":
            msg = "delete: the user and its data stay"
        else:
            msg = create(event["ResourceProperties"], sm or boto3.client("secretsmanager"),
                         rds or boto3.client("rds-data"))
        status = "SUCCESS"
    except Exception as e:  # the answer must reach CloudFormation whatever failed
        status, msg = "FAILED", "%s: %s" % (type(e).__name__, e)
    print(status, msg)
    respond(event, status, msg)
