"""AWS service side of fakeaws: SigV4 verification, parameter validation and the
operations of Secrets Manager, CloudWatch Logs, CloudWatch (metrics) and Auto
Scaling.

Design: `handle(state, service, operation, req)` takes a parsed HTTP request
(`Request`: method, raw path, header list, body), authenticates and validates
it and returns (access key id, result); `render_success` / `render_error` turn
that into status, headers and body.  Errors are raised as `AWSError` and
rendered by the protocol of the service (JSON 1.1 `{"__type", "message"}` or Query XML `<ErrorResponse>`).
Signatures are verified by re-signing with botocore's own SigV4Auth restricted
to the header names the client listed in SignedHeaders.  Parameters are checked
against botocore's service model (ParamValidator plus the max/enum constraints
it does not check); Query form fields are first folded into the nested shape.
No secret value, key, token or body is ever logged from here.
"""

import base64
import datetime
import hmac
import json
import math
import re
import uuid
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

import botocore.session
import botocore.validate
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

SERVICES = {
    # signing name: (botocore model name, protocol, JSON target prefix)
    "secretsmanager": ("secretsmanager", "json", "secretsmanager"),
    "logs": ("logs", "json", "Logs_20140328"),
    "monitoring": ("cloudwatch", "query", None),
    "autoscaling": ("autoscaling", "query", None),
}
QUERY_ACTIONS_HINT = {"PutMetricData": "monitoring", "CompleteLifecycleAction": "autoscaling",
                      "RecordLifecycleActionHeartbeat": "autoscaling",
                      "DescribeAutoScalingInstances": "autoscaling"}
MAX_SKEW = 300
RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                  1827, 2192, 2557, 2922, 3288, 3653}

_session = botocore.session.get_session()
_models = {}
_validator = botocore.validate.ParamValidator()


def service_model(signing_name):
    if signing_name not in _models:
        _models[signing_name] = _session.get_service_model(SERVICES[signing_name][0])
    return _models[signing_name]


class AWSError(Exception):
    def __init__(self, code, message, status=400, sender=True):
        super().__init__(message)
        self.code, self.message, self.status, self.sender = code, message, status, sender


def amz_time(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_amz_time(text):
    return datetime.datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


# --------------------------------------------------------------------- requests
class Request:
    """What fakeaws.py hands us: method, raw path (with query), headers as a list
    of (name, value) in arrival order, body bytes."""

    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default


def error_names(protocol):
    if protocol == "json":
        return {"unknown_key": "UnrecognizedClientException", "bad_sig": "InvalidSignatureException",
                "expired": "ExpiredTokenException", "missing": "MissingAuthenticationTokenException",
                "incomplete": "IncompleteSignatureException", "throttle": "ThrottlingException",
                "validation": "ValidationException", "unknown_op": "UnknownOperationException"}
    return {"unknown_key": "InvalidClientTokenId", "bad_sig": "SignatureDoesNotMatch",
            "expired": "ExpiredToken", "missing": "MissingAuthenticationToken",
            "incomplete": "IncompleteSignature", "throttle": "Throttling",
            "validation": "ValidationError", "unknown_op": "InvalidAction"}


def render_error(service, operation, err, request_id):
    protocol = SERVICES[service][1] if service in SERVICES else "json"
    if protocol == "json":
        code = err.code
        if service == "logs" and "#" not in code and code not in (
                "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
                "MissingAuthenticationTokenException", "IncompleteSignatureException"):
            code = "com.amazonaws.logs#" + code
        body = json.dumps({"__type": code, "message": err.message}).encode()
        ctype = "application/x-amz-json-1.1"
    else:
        ns = service_model(service).metadata["xmlNamespace"]
        body = ('<ErrorResponse xmlns="%s"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message>'
                '</Error><RequestId>%s</RequestId></ErrorResponse>' % (
                    ns, "Sender" if err.sender else "Receiver", escape(err.code), escape(err.message),
                    request_id)).encode()
        ctype = "text/xml"
    return err.status, {"Content-Type": ctype, "x-amzn-RequestId": request_id}, body


def infer_service(req):
    """Service when the Authorization header does not name one."""
    target = req.header("X-Amz-Target") or ""
    for name, (_, proto, prefix) in SERVICES.items():
        if prefix and target.startswith(prefix + "."):
            return name
    action = dict(query_fields(req)).get("Action")
    return QUERY_ACTIONS_HINT.get(action)


def query_fields(req):
    fields = parse_qsl(urlsplit(req.path).query, keep_blank_values=True)
    ctype = (req.header("Content-Type") or "").lower()
    if req.body and (ctype.startswith("application/x-www-form-urlencoded") or not ctype):
        try:
            fields += parse_qsl(req.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise AWSError("MalformedQueryString", "The request body is not valid UTF-8")
    return fields


def operation_of(service, req):
    protocol = SERVICES[service][1]
    if protocol == "json":
        target = req.header("X-Amz-Target") or ""
        prefix, _, op = target.partition(".")
        return op if prefix == SERVICES[service][2] else (target or None)
    return dict(query_fields(req)).get("Action")


# ------------------------------------------------------------------------ SigV4
_AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+(.*)$", re.S)


def parse_authorization(value):
    m = _AUTH_RE.match(value or "")
    if not m:
        return None
    parts = {}
    for item in m.group(1).split(","):
        k, _, v = item.strip().partition("=")
        parts[k.strip()] = v.strip()
    try:
        akid, date, region, service, term = parts["Credential"].split("/")
        signed = [h for h in parts["SignedHeaders"].split(";") if h]
        sig = parts["Signature"]
    except (KeyError, ValueError):
        return None
    if term != "aws4_request" or not signed:
        return None
    return {"akid": akid, "date": date, "region": region, "service": service,
            "signed": signed, "signature": sig}


class _Verifier(SigV4Auth):
    """botocore's signer, restricted to the headers the client signed."""

    def __init__(self, creds, service, region, signed, headers):
        super().__init__(creds, service, region)
        self._signed = signed
        self._raw_headers = headers

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in self._signed:
            for k, v in self._raw_headers:
                if k.lower() == name:
                    hm[name] = v
        return hm


class _S3Verifier(_Verifier, S3SigV4Auth):
    """S3's flavour: the path as sent (no normalisation), and the payload hash taken
    from x-amz-content-sha256 (botocore's canonical_request reads the header)."""


def compute_signature(req, auth, secret, token):
    url = "http://%s%s" % (req.header("Host") or "localhost", req.path)
    headers = {k: v for k, v in req.headers}
    areq = AWSRequest(method=req.method, url=url, headers=headers, data=req.body)
    areq.context["timestamp"] = req.header("X-Amz-Date")
    verifier = _S3Verifier if auth["service"] == "s3" else _Verifier
    signer = verifier(Credentials(auth["akid"], secret, token), auth["service"], auth["region"],
                      auth["signed"], req.headers)
    canonical = signer.canonical_request(areq)
    return signer.signature(signer.string_to_sign(areq, canonical), areq)


def authenticate(state, service, req, names=None):
    """Raises AWSError unless the request is correctly signed by live credentials.
    Returns the access key id. `names`: the service's error codes, for a service
    outside SERVICES (S3)."""
    names = names or error_names(SERVICES[service][1])
    query = service not in SERVICES or SERVICES[service][1] == "query"
    raw = req.header("Authorization")
    if not raw:
        raise AWSError(names["missing"], "Missing Authentication Token", 403)
    auth = parse_authorization(raw)
    if auth is None:
        raise AWSError(names["incomplete"], "Authorization header requires 'Credential', "
                       "'Signature' and 'SignedHeaders' parameters. Authorization=AWS4-HMAC-SHA256", 400)
    amz_date = req.header("X-Amz-Date")
    if not amz_date:
        raise AWSError(names["incomplete"], "Authorization header requires existence of either a "
                       "'X-Amz-Date' or a 'Date' header.", 400)
    try:
        t = parse_amz_time(amz_date)
    except ValueError:
        raise AWSError(names["incomplete"], "Date must be in ISO-8601 'basic format'. Got '%s'."
                       % amz_date[:32], 400)
    now = state.now()
    if t < now - MAX_SKEW:
        raise AWSError(names["bad_sig"], "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
            amz_date, amz_time(now - MAX_SKEW), amz_time(now)), 403)
    if t > now + MAX_SKEW:
        raise AWSError(names["bad_sig"], "Signature not yet current: %s is still later than %s (%s + 5 min.)"
                       % (amz_date, amz_time(now + MAX_SKEW), amz_time(now)), 403)
    if auth["date"] != amz_date[:8]:
        raise AWSError(names["bad_sig"], "Credential should be scoped to a valid date: %s" % amz_date[:8], 403)
    if auth["region"] != state.instance["region"]:
        raise AWSError(names["bad_sig"], "Credential should be scoped to a valid region.", 403)
    kind, cred = state.lookup_key(auth["akid"])
    if kind is None:
        raise AWSError(names["unknown_key"], "The security token included in the request is invalid." if not query
                       else "The security token included in the request is invalid.", 403)
    token = req.header("X-Amz-Security-Token")
    if kind == "session":
        if not token or not hmac.compare_digest(token.encode(), cred["Token"].encode()):
            raise AWSError(names["unknown_key"], "The security token included in the request is invalid.", 403)
        secret = cred["SecretAccessKey"]
    else:
        if token:
            raise AWSError(names["unknown_key"], "The security token included in the request is invalid.", 403)
        secret = cred
    try:
        expected = compute_signature(req, auth, secret, token)
    except Exception:
        expected = ""
    if not hmac.compare_digest(expected.encode(), auth["signature"].encode()):
        raise AWSError(names["bad_sig"], "The request signature we calculated does not match the signature "
                       "you provided. Check your AWS Secret Access Key and signing method. Consult the "
                       "service documentation for details.", 403)
    if kind == "session" and cred["expiration"] <= now:
        raise AWSError(names["expired"], "The security token included in the request is expired",
                       403 if query else 400)
    return auth["akid"]


# ------------------------------------------------------------------ validation
def _query_tree(fields):
    tree = {}
    for key, value in fields:
        if key in ("Action", "Version"):
            continue
        node, parts = tree, key.split(".")
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {} if nxt is None else {"": nxt}
            node = nxt
        if isinstance(node.get(parts[-1]), dict):
            node[parts[-1]][""] = value
        else:
            node[parts[-1]] = value
    return tree


def _bad(path, what):
    raise AWSError("ValidationError", "1 validation error detected: Value at '%s' failed to satisfy "
                   "constraint: %s" % (path, what))


def _from_query(raw, shape, path):
    t = shape.type_name
    if t == "structure":
        if not isinstance(raw, dict):
            _bad(path, "Member must be a structure")
        out = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in raw:
                out[name] = _from_query(raw[key], member, (path + "." if path else "") + key)
        return out
    if t == "list":
        if raw == "" or raw == {"": ""}:
            return []
        if not isinstance(raw, dict):
            _bad(path, "Member must be a list")
        items = raw if shape.serialization.get("flattened") else raw.get("member", {})
        if not isinstance(items, dict):
            _bad(path, "Member must be a list")
        try:
            indexed = sorted((int(k), v) for k, v in items.items() if k != "")
        except ValueError:
            _bad(path, "list index must be a number")
        return [_from_query(v, shape.member, "%s.member.%d" % (path, i)) for i, v in indexed]
    if t == "map":
        if not isinstance(raw, dict):
            _bad(path, "Member must be a map")
        out = {}
        for i, entry in (raw.get("entry") or {}).items():
            if isinstance(entry, dict) and "key" in entry:
                out[entry["key"]] = _from_query(entry.get("value", ""), shape.value, path)
        return out
    if isinstance(raw, dict):
        if "" in raw and len(raw) == 1:
            raw = raw[""]
        else:
            _bad(path, "Member must be a scalar")
    if t in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            _bad(path, "Member must be an integer")
    if t in ("double", "float"):
        try:
            return float(raw)
        except ValueError:
            _bad(path, "Member must be a number")
    if t == "boolean":
        if raw.lower() not in ("true", "false"):
            _bad(path, "Member must be a boolean")
        return raw.lower() == "true"
    if t == "timestamp":
        try:
            return datetime.datetime.fromtimestamp(float(raw), datetime.timezone.utc)
        except (ValueError, OverflowError, OSError):
            pass
        try:
            ts = datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return ts if ts.tzinfo else ts.replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            _bad(path, "Member must be an ISO 8601 timestamp")
    if t == "blob":
        try:
            return base64.b64decode(raw, validate=True)
        except ValueError:
            _bad(path, "Member must be base64")
    return raw


def _extra_checks(value, shape, path, problems):
    """max lengths / ranges and enums, which botocore's validator leaves out."""
    meta = shape.metadata
    t = shape.type_name
    if t == "structure" and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                _extra_checks(value[name], member, (path + "." if path else "") + name, problems)
    elif t == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            problems.append("Value at '%s' failed to satisfy constraint: Member must have length less "
                            "than or equal to %d" % (path, meta["max"]))
        for i, v in enumerate(value):
            _extra_checks(v, shape.member, "%s.%d" % (path, i + 1), problems)
    elif t == "map" and isinstance(value, dict):
        for v in value.values():
            _extra_checks(v, shape.value, path, problems)
    elif t == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            problems.append("Value at '%s' failed to satisfy constraint: Member must have length less "
                            "than or equal to %d" % (path, meta["max"]))
        if meta.get("enum") and value not in meta["enum"]:
            problems.append("Value at '%s' failed to satisfy constraint: Member must satisfy enum value "
                            "set: [%s]" % (path, ", ".join(meta["enum"])))
    elif t in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        if "max" in meta and value > meta["max"]:
            problems.append("Value at '%s' failed to satisfy constraint: Member must have value less "
                            "than or equal to %d" % (path, meta["max"]))


def _format_botocore_error(err):
    reason, name, extra = err
    name = name.lstrip(".") or "input"
    if reason == "missing required field":
        p = (name + "." if name != "input" else "") + extra["required_name"]
        return "Value null at '%s' failed to satisfy constraint: Member must not be null" % p
    if reason == "unknown field":
        return "Unknown parameter '%s' in %s" % (extra["unknown_param"], name)
    if reason == "invalid type":
        return "Value at '%s' failed to satisfy constraint: Member must be of type %s" % (
            name, " or ".join(extra["valid_types"]))
    if reason == "invalid length":
        return "Value at '%s' failed to satisfy constraint: Member must have length greater than or " \
               "equal to %s" % (name, extra["min_allowed"])
    if reason == "invalid range":
        return "Value at '%s' failed to satisfy constraint: Member must have value greater than or " \
               "equal to %s" % (name, extra["min_allowed"])
    return "Value at '%s' is invalid: %s" % (name, reason)


def parse_params(service, operation, req):
    model = service_model(service)
    try:
        op = model.operation_model(operation)
    except Exception:
        raise AWSError(error_names(SERVICES[service][1])["unknown_op"],
                       "The action or operation requested is invalid. Verify that the action is typed "
                       "correctly." if SERVICES[service][1] == "json" else
                       "The action %s is not valid for this web service." % (operation or "")[:100])
    code = "InvalidParameterException" if service == "logs" else error_names(SERVICES[service][1])["validation"]
    try:
        if SERVICES[service][1] == "json":
            if not req.body.strip():
                params = {}
            else:
                try:
                    params = json.loads(req.body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError, RecursionError):
                    raise AWSError("SerializationException", "Start of structure or map found where not "
                                   "expected." if req.body[:1] == b"[" else "Malformed JSON body")
            if not isinstance(params, dict):
                raise AWSError("SerializationException", "Request body must be a JSON object")
        else:
            params = _from_query(_query_tree(query_fields(req)), op.input_shape, "")
    except AWSError as e:
        if e.code == "ValidationError":
            e.code = code
        raise
    shape = op.input_shape
    problems = []
    if shape is not None:
        report = _validator.validate(params, shape)
        problems += [_format_botocore_error(e) for e in report._errors]
        if not problems:
            _extra_checks(params, shape, "", problems)
    if problems:
        raise AWSError(code, "%d validation error%s detected: %s" % (
            len(problems), "" if len(problems) == 1 else "s", "; ".join(problems[:10])))
    return params


# ------------------------------------------------------------------- dispatch
def handle(state, service, operation, req):
    """Authenticate, validate and execute.  Returns (akid, result); raises AWSError."""
    if service not in SERVICES:
        raise AWSError("UnknownServiceException", "fakeaws does not emulate service %r" % service[:64])
    akid = None
    try:
        akid = authenticate(state, service, req)
        if service == "monitoring" and len(req.body) > 1048576:
            raise AWSError("RequestEntityTooLarge", "Request size %d exceeded 1048576 bytes" % len(req.body), 413)
        params = parse_params(service, operation, req)
        fn = HANDLERS.get((service, operation))
        if fn is None:
            names = error_names(SERVICES[service][1])
            raise AWSError(names["unknown_op"], "fakeaws does not implement %s" % operation)
        with state.lock:
            return akid, fn(state, params)
    except AWSError as e:
        e.akid = akid
        raise


def render_success(service, operation, result, request_id):
    if SERVICES[service][1] == "json":
        return {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}, \
            json.dumps(result).encode()
    model = service_model(service)
    ns = model.metadata["xmlNamespace"]
    out_shape = model.operation_model(operation).output_shape
    wrapped = ""
    if out_shape is not None and out_shape.serialization.get("resultWrapper"):
        wrapped = "<%sResult>%s</%sResult>" % (operation, result or "", operation)
    body = '<%sResponse xmlns="%s">%s<ResponseMetadata><RequestId>%s</RequestId>' \
           '</ResponseMetadata></%sResponse>' % (operation, ns, wrapped, request_id, operation)
    return {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()


# ------------------------------------------------------------ secrets manager
def _sm_secret(state, params, action):
    sec = state.find_secret(params["SecretId"])
    if sec is None:
        raise AWSError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
    if sec["deny"]:
        raise AWSError("AccessDeniedException", "User: arn:aws:sts::%s:assumed-role/%s/%s is not authorized "
                       "to perform: secretsmanager:%s on resource: %s because no identity-based policy "
                       "allows the secretsmanager:%s action" % (
                           state.instance["account_id"], state.instance["role"], state.instance["instance_id"],
                           action, params["SecretId"], action))
    return sec


def sm_get_secret_value(state, p):
    sec = _sm_secret(state, p, "GetSecretValue")
    vid, stage = p.get("VersionId"), p.get("VersionStage")
    if vid is not None:
        ver = sec["versions"].get(vid)
        if ver is None:
            raise AWSError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret value for VersionId: %s" % vid)
        if stage is not None and stage not in ver["stages"]:
            raise AWSError("InvalidRequestException", "You provided a VersionStage that is not associated "
                           "to the provided VersionId.")
    else:
        stage = stage or "AWSCURRENT"
        found = [(v, d) for v, d in sec["versions"].items() if stage in d["stages"]]
        if not found:
            raise AWSError("ResourceNotFoundException",
                           "Secrets Manager can't find the specified secret value for staging label: %s" % stage)
        vid, ver = found[0]
    if sec["kms_fail"]:
        raise AWSError("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using "
                       "the provided KMS key.")
    sec["accessed"] = state.now()
    out = {"ARN": sec["arn"], "Name": sec["name"], "VersionId": vid, "VersionStages": list(ver["stages"]),
           "CreatedDate": ver["created"]}
    if "string" in ver:
        out["SecretString"] = ver["string"]
    else:
        out["SecretBinary"] = base64.b64encode(ver["binary"]).decode()
    return out


def sm_describe_secret(state, p):
    sec = _sm_secret(state, p, "DescribeSecret")
    out = {"ARN": sec["arn"], "Name": sec["name"], "LastChangedDate": sec["changed"],
           "CreatedDate": sec["created"], "RotationEnabled": False,
           "VersionIdsToStages": {v: list(d["stages"]) for v, d in sec["versions"].items() if d["stages"]}}
    if "accessed" in sec:
        out["LastAccessedDate"] = float(int(sec["accessed"] // 86400 * 86400))
    return out


def sm_list_secret_version_ids(state, p):
    sec = _sm_secret(state, p, "ListSecretVersionIds")
    versions = [{"VersionId": v, "VersionStages": list(d["stages"]), "CreatedDate": d["created"]}
                for v, d in sec["versions"].items() if d["stages"] or p.get("IncludeDeprecated")]
    return {"ARN": sec["arn"], "Name": sec["name"], "Versions": versions}


# ----------------------------------------------------------------------- logs
def _group(state, name):
    g = state.log_groups.get(name)
    if g is None:
        raise AWSError("ResourceNotFoundException", "The specified log group does not exist.")
    return g


def logs_create_log_group(state, p):
    if p["logGroupName"] in state.log_groups:
        raise AWSError("ResourceAlreadyExistsException", "The specified log group already exists")
    state.log_groups[p["logGroupName"]] = state._new_group(p["logGroupName"])
    return {}


def logs_create_log_stream(state, p):
    g = _group(state, p["logGroupName"])
    if p["logStreamName"] in g["streams"]:
        raise AWSError("ResourceAlreadyExistsException", "The specified log stream already exists")
    g["streams"][p["logStreamName"]] = state._new_stream(p["logGroupName"], p["logStreamName"])
    return {}


def logs_put_retention_policy(state, p):
    g = _group(state, p["logGroupName"])
    if p["retentionInDays"] not in RETENTION_DAYS:
        raise AWSError("InvalidParameterException", "1 validation error detected: Value '%d' at "
                       "'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: "
                       "[%s]" % (p["retentionInDays"], ", ".join(str(d) for d in sorted(RETENTION_DAYS))))
    g["retentionInDays"] = p["retentionInDays"]
    return {}


MAX_STORED_EVENTS = 200000


def logs_put_log_events(state, p):
    g = _group(state, p["logGroupName"])
    st = g["streams"].get(p["logStreamName"])
    if st is None:
        raise AWSError("ResourceNotFoundException", "The specified log stream does not exist.")
    events = p["logEvents"]
    if len(events) > 10000:
        raise AWSError("InvalidParameterException", "1 validation error detected: Value at 'logEvents' "
                       "failed to satisfy constraint: Member must have length less than or equal to 10000")
    sizes = [len(e["message"].encode("utf-8")) + 26 for e in events]
    for i, n in enumerate(sizes):
        if n > 1048576:
            raise AWSError("InvalidParameterException", "Log event too large: event %d is %d bytes with the "
                           "26-byte overhead; the maximum is 1048576" % (i, n))
    size = sum(sizes)
    if size > 1048576:
        raise AWSError("InvalidParameterException", "Upload too large: %d bytes exceeds limit of 1048576" % size)
    for a, b in zip(events, events[1:]):
        if b["timestamp"] < a["timestamp"]:
            raise AWSError("InvalidParameterException",
                           "Log events in a single PutLogEvents request must be in chronological order.")
    if events[-1]["timestamp"] - events[0]["timestamp"] > 24 * 3600 * 1000:
        raise AWSError("InvalidParameterException",
                       "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
    now_ms = int(state.now() * 1000)
    too_new_start = next((i for i, e in enumerate(events) if e["timestamp"] > now_ms + 2 * 3600 * 1000), None)
    too_old_end = sum(1 for e in events if e["timestamp"] < now_ms - 14 * 86400 * 1000)
    expired_end = 0
    if g["retentionInDays"]:
        expired_end = sum(1 for e in events if e["timestamp"] < now_ms - g["retentionInDays"] * 86400 * 1000)
    rejected = {}
    if too_new_start is not None:
        rejected["tooNewLogEventStartIndex"] = too_new_start
    if too_old_end:
        rejected["tooOldLogEventEndIndex"] = too_old_end
    if expired_end:
        rejected["expiredLogEventEndIndex"] = expired_end
    accept = events[max(too_old_end, expired_end): too_new_start if too_new_start is not None else len(events)]
    for e in accept:
        st["events"].append({"timestamp": e["timestamp"], "message": e["message"], "ingestionTime": now_ms})
        st["storedBytes"] += len(e["message"].encode("utf-8"))
    st["received"] = st.get("received", 0) + len(accept)
    if len(st["events"]) > MAX_STORED_EVENTS:
        del st["events"][:len(st["events"]) - MAX_STORED_EVENTS]
    if accept:
        st["firstEventTimestamp"] = min(st.get("firstEventTimestamp", accept[0]["timestamp"]), accept[0]["timestamp"])
        st["lastEventTimestamp"] = max(st.get("lastEventTimestamp", 0), accept[-1]["timestamp"])
        st["lastIngestionTime"] = now_ms
    out = {"nextSequenceToken": "%056d" % (len(st["events"]) + 1)}
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


def _page(items, p):
    start = 0
    if p.get("nextToken"):
        try:
            start = int(p["nextToken"])
        except ValueError:
            raise AWSError("InvalidParameterException", "The specified nextToken is invalid.")
    limit = p.get("limit") or 50
    out, more = items[start:start + limit], start + limit < len(items)
    return out, (str(start + limit) if more else None)


def logs_describe_log_groups(state, p):
    prefix = p.get("logGroupNamePrefix") or ""
    groups = [{"logGroupName": n, "creationTime": g["creationTime"], "metricFilterCount": 0,
               "arn": g["arn"], "storedBytes": sum(s["storedBytes"] for s in g["streams"].values()),
               **({"retentionInDays": g["retentionInDays"]} if g["retentionInDays"] else {})}
              for n, g in sorted(state.log_groups.items()) if n.startswith(prefix)]
    page, token = _page(groups, p)
    return {"logGroups": page, **({"nextToken": token} if token else {})}


def logs_describe_log_streams(state, p):
    name = p.get("logGroupName") or (p.get("logGroupIdentifier") or "").split(":log-group:")[-1].rstrip("*").rstrip(":")
    g = _group(state, name)
    prefix = p.get("logStreamNamePrefix") or ""
    streams = []
    for n, s in g["streams"].items():
        if n.startswith(prefix):
            d = {k: v for k, v in s.items() if k != "events"}
            d["uploadSequenceToken"] = "%056d" % (len(s["events"]) + 1)
            streams.append(d)
    if p.get("orderBy") == "LastEventTime":
        streams.sort(key=lambda s: s.get("lastEventTimestamp", 0))
    else:
        streams.sort(key=lambda s: s["logStreamName"])
    if p.get("descending"):
        streams.reverse()
    page, token = _page(streams, p)
    return {"logStreams": page, **({"nextToken": token} if token else {})}


# ------------------------------------------------------------------ cloudwatch
def _finite(path, v):
    if math.isnan(v) or math.isinf(v):
        raise AWSError("InvalidParameterValue", "The value %s for parameter %s is invalid." % (
            "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"), path))


def cw_put_metric_data(state, p):
    data = p["MetricData"]
    if len(data) > 1000:
        raise AWSError("InvalidParameterValue", "The collection MetricData must not have a size greater than 1000.")
    if not data:
        raise AWSError("MissingParameter", "The parameter MetricData is required.")
    for i, d in enumerate(data, 1):
        pre = "MetricData.member.%d." % i
        if "Value" in d:
            _finite(pre + "Value", d["Value"])
        for j, v in enumerate(d.get("Values") or [], 1):
            _finite("%sValues.member.%d" % (pre, j), v)
        for j, v in enumerate(d.get("Counts") or [], 1):
            _finite("%sCounts.member.%d" % (pre, j), v)
        for k, v in (d.get("StatisticValues") or {}).items():
            _finite(pre + "StatisticValues." + k, v)
        if len(d.get("Values") or []) > 150:
            raise AWSError("InvalidParameterValue", "The collection %sValues must not have a size greater "
                           "than 150." % pre)
        if d.get("Counts") and len(d["Counts"]) != len(d.get("Values") or []):
            raise AWSError("InvalidParameterValue", "The parameters %sValues and %sCounts must be of the "
                           "same size." % (pre, pre))
        if sum(1 for k in ("Value", "StatisticValues", "Values") if k in d) > 1:
            raise AWSError("InvalidParameterCombination", "The parameters %sValue, %sValues and "
                           "%sStatisticValues are mutually exclusive." % (pre, pre, pre))
        if d.get("StorageResolution", 60) not in (1, 60):
            raise AWSError("InvalidParameterValue", "The value %s for parameter %sStorageResolution is "
                           "invalid." % (d["StorageResolution"], pre))
    now = state.now()
    for d in data:
        rec = {"Namespace": p["Namespace"], "MetricName": d["MetricName"],
               "Dimensions": {x["Name"]: x["Value"] for x in d.get("Dimensions") or []},
               "Timestamp": d["Timestamp"].timestamp() if "Timestamp" in d else now, "received": now}
        for k in ("Value", "Values", "Counts", "StatisticValues", "Unit", "StorageResolution"):
            if k in d:
                rec[k] = d[k]
        state.metric_data.append(rec)
    if len(state.metric_data) > 200000:
        del state.metric_data[:len(state.metric_data) - 200000]
    return ""


# ----------------------------------------------------------------- autoscaling
def _find_action(state, p, op):
    token, iid = p.get("LifecycleActionToken"), p.get("InstanceId")
    if not token and not iid:
        raise AWSError("ValidationError", "Either LifecycleActionToken or InstanceId must be specified")
    for h in state.pending_hooks:
        if h["asg"] == p["AutoScalingGroupName"] and h["hook"] == p["LifecycleHookName"] and \
                ((token and h["token"] == token) or (not token and h["instance_id"] == iid)):
            return h
    if token:
        raise AWSError("ValidationError", "No active Lifecycle Action found with token %s" % token)
    raise AWSError("ValidationError", "No active Lifecycle Action found with instance ID %s" % iid)


def as_complete_lifecycle_action(state, p):
    if p["LifecycleActionResult"] not in ("CONTINUE", "ABANDON"):
        raise AWSError("ValidationError", "Value %s for parameter LifecycleActionResult is invalid. It must "
                       "be CONTINUE or ABANDON" % p["LifecycleActionResult"][:64])
    h = _find_action(state, p, "CompleteLifecycleAction")
    state.pending_hooks.remove(h)
    state.lifecycle_results.append(dict(h, result=p["LifecycleActionResult"], time=state.now(),
                                        by="token" if p.get("LifecycleActionToken") else "instance_id"))
    return ""


def as_record_heartbeat(state, p):
    h = _find_action(state, p, "RecordLifecycleActionHeartbeat")
    h["heartbeats"] += 1
    h["last_heartbeat"] = state.now()
    return ""


def as_describe_instances(state, p):
    inst = state.instance
    asg = inst["tags"].get("aws:autoscaling:groupName")
    ids = p.get("InstanceIds")
    if not asg or (ids and inst["instance_id"] not in ids):
        return "<AutoScalingInstances/>"
    lifecycle = "InService"
    terminated = [r for r in state.lifecycle_results
                  if r["instance_id"] == inst["instance_id"] and "TERMINATING" in r["transition"]]
    if state.pending_hooks:
        lifecycle = "Terminating:Wait" if "TERMINATING" in state.pending_hooks[0]["transition"] else "Pending:Wait"
    elif terminated:
        lifecycle = "Terminating:Proceed"       # the hook was completed: on its way out
    elif state.target_lifecycle_state == "Terminated":
        lifecycle = "Terminating"               # IMDS runs ahead: the hook is not active yet
    elif state.target_lifecycle_state:
        lifecycle = state.target_lifecycle_state
    return ("<AutoScalingInstances><member><InstanceId>%s</InstanceId><InstanceType>%s</InstanceType>"
            "<AutoScalingGroupName>%s</AutoScalingGroupName><AvailabilityZone>%s</AvailabilityZone>"
            "<LifecycleState>%s</LifecycleState><HealthStatus>HEALTHY</HealthStatus>"
            "<ProtectedFromScaleIn>false</ProtectedFromScaleIn></member></AutoScalingInstances>") % tuple(
        escape(x) for x in (inst["instance_id"], inst["instance_type"], asg, inst["availability_zone"], lifecycle))


HANDLERS = {
    ("secretsmanager", "GetSecretValue"): sm_get_secret_value,
    ("secretsmanager", "DescribeSecret"): sm_describe_secret,
    ("secretsmanager", "ListSecretVersionIds"): sm_list_secret_version_ids,
    ("logs", "CreateLogGroup"): logs_create_log_group,
    ("logs", "CreateLogStream"): logs_create_log_stream,
    ("logs", "PutLogEvents"): logs_put_log_events,
    ("logs", "DescribeLogGroups"): logs_describe_log_groups,
    ("logs", "DescribeLogStreams"): logs_describe_log_streams,
    ("logs", "PutRetentionPolicy"): logs_put_retention_policy,
    ("monitoring", "PutMetricData"): cw_put_metric_data,
    ("autoscaling", "CompleteLifecycleAction"): as_complete_lifecycle_action,
    ("autoscaling", "RecordLifecycleActionHeartbeat"): as_record_heartbeat,
    ("autoscaling", "DescribeAutoScalingInstances"): as_describe_instances,
}


def new_request_id():
    return str(uuid.uuid4())
