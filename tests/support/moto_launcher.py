"""The AWS emulator for devo-aws's tests, demo and benchmark: moto's server, run with
moto_server's own arguments (-H HOST -p PORT), plus what moto lacks for our services:

1. CloudTrail LookupEvents (moto answers 500): served from events loaded through
   POST /moto-api/devo-aws/cloudtrail-events {"region": ..., "events": [...]}, newest first,
   with StartTime/EndTime, LookupAttributes, MaxResults and NextToken.
2. A record of the STS AssumeRole calls (GET /moto-api/devo-aws/assumed-roles), so tests can
   see the role chain and its external id; and a refusal, as AWS would refuse them, of requests
   signed with an access key that starts with BAD (moto accepts any key).
3. Faults on demand for the fault tests: POST /moto-api/devo-aws/faults
   {"op": "ReceiveMessage", "status": 500, "code": "InternalFailure", "times": 2,
    "delay_ms": 0, "cut": false, "drop": false} makes the next `times` calls of that operation
   (the end of their X-Amz-Target, the Action of a query-protocol call such as STS AssumeRole,
   or GetObject for S3 object reads; with "match", only calls
   whose path or body contain that text, such as a test's own queue or bucket) wait `delay_ms`,
   then answer the error (with "message" as its text, if given); with `cut` send only half of the body moto answered before closing the
   connection (with `"reset": true`, resetting it); with `drop` close the connection without answering; with "trickle_ms" send the
   body in pieces of "piece" bytes (8 KiB) that far apart.
4. Conditional S3 writes (PutObject with If-Match or If-None-Match) made atomic as in S3: moto
   checks the condition, then stores, with nothing between to keep two writers apart.
5. SQS calls that change a queue, one at a time: moto checks that a message is visible, then
   marks it received, with nothing between to keep two concurrent receivers apart, so under load
   it hands one message to two consumers (SQS gives it to one in the normal case); and its
   DeleteMessage rebuilds the queue's message list and assigns it back, so two deletes at once
   can each undo the other's (a delivered message left in flight, then delivered again; seen as
   "10 messages still in flight after a clean run"). Receives, deletes, sends and visibility
   changes run under a lock per queue, taken in turn, each long poll turned into short polls.
6. CloudWatch over Smithy RPC v2 CBOR (what aws-sdk-cloudwatch speaks): each request is
   decoded, replayed to moto over its JSON protocol, and the answer encoded back to CBOR, its
   timestamps typed by botocore's model of the service.
8. GetMetricData result statuses on demand: a fault {"op": "GetMetricData", "result_status":
   "InternalError" | "Forbidden" | "PartialData"} marks every result of the next answer so; with
   PartialData the answer holds the first half of each result's datapoints and a NextToken that
   brings the rest, as CloudWatch does.
7. S3's ExpectedBucketOwner (moto ignores it): a GET or HEAD whose x-amz-expected-bucket-owner
   is not the account that created the bucket is refused with 403 AccessDenied, as S3 does.
9. CloudWatch cross-account observability for CloudWatch Logs (moto ignores it): every account
   is linked to every other. FilterLogEvents with a log group's ARN as logGroupIdentifier reads
   that account's group; DescribeLogGroups with includeLinkedAccounts lists the groups of every
   account in the region.
10. The same for CloudWatch metrics: ListMetrics with IncludeLinkedAccounts lists every
   account's metrics (or OwningAccount's) with their OwningAccounts; GetMetricData asks each
   query naming an AccountId of that account.
11. CloudTrail ListPublicKeys (moto lacks it): the keys loaded through
   POST /moto-api/devo-aws/cloudtrail-public-keys {"region": ..., "keys": [{"Fingerprint": ...,
   "Value": <base64 of the DER, PKCS #1>}]}, each valid from a year ago to a year ahead.
"""

import argparse
import datetime
import io
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

import botocore.session
import cbor2
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

CBOR_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801"
# Older models spell the target with the com.amazonaws.cloudtrail.v20131101. prefix.
LOOKUP_TARGET = "CloudTrail_20131101.LookupEvents"
SEED_PATH = "/moto-api/devo-aws/cloudtrail-events"
KEYS_PATH = "/moto-api/devo-aws/cloudtrail-public-keys"
PUBLIC_KEYS_TARGET = "CloudTrail_20131101.ListPublicKeys"
ASSUMED_PATH = "/moto-api/devo-aws/assumed-roles"
FAULTS_PATH = "/moto-api/devo-aws/faults"
RECEIVE_TARGET = "AmazonSQS.ReceiveMessage"
LOGS_FILTER_TARGET = "Logs_20140328.FilterLogEvents"
LOGS_DESCRIBE_TARGET = "Logs_20140328.DescribeLogGroups"
# The other SQS calls that change a queue's message list or its messages' state.
SQS_CHANGES = {"AmazonSQS." + op for op in (
    "DeleteMessage", "DeleteMessageBatch", "SendMessage", "SendMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue")}
BAD_KEY_PREFIX = "BAD"
INVALID_TOKEN = "The security token included in the request is invalid."
UTC = datetime.timezone.utc


def epoch(value):
    """A timestamp as epoch seconds, from a number, an ISO string or a datetime."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def plain(value):
    """CBOR-decoded request values made JSON-friendly (datetimes as epoch seconds)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return value


def typed(shape, value):
    """A JSON answer with its timestamps turned into datetimes, following the model's shape."""
    if value is None or shape is None:
        return value
    if shape.type_name == "structure":
        return {k: typed(shape.members.get(k), v) for k, v in value.items() if v is not None}
    if shape.type_name == "list":
        return [typed(shape.member, v) for v in value]
    if shape.type_name == "map":
        return {k: typed(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return datetime.datetime.fromtimestamp(epoch(value), tz=UTC)
    if shape.type_name == "double" and isinstance(value, int):
        return float(value)
    return value


def access_key_of(environ):
    """The access key in a SigV4 Authorization header."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=")[1].split("/")[0]
    except IndexError:
        return ""


def region_of(environ):
    """The region in a SigV4 Authorization header's credential scope."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        return auth.split("Credential=")[1].split("/")[2]
    except IndexError:
        return "us-east-1"


def respond(start_response, status, body, content_type, extra=()):
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body)))] + list(extra),
    )
    return [body]


class FairLock:
    """A lock taken in the order it was asked for. Python's own lock is not fair: a queue's
    receivers, polling in a loop, could keep a delete or a visibility change waiting for seconds,
    which SQS (serving every call at once) never does."""

    def __init__(self):
        self.cond = threading.Condition()
        self.next_ticket = 0
        self.serving = 0

    def __enter__(self):
        with self.cond:
            ticket = self.next_ticket
            self.next_ticket += 1
            while ticket != self.serving:
                self.cond.wait()

    def __exit__(self, *exc):
        with self.cond:
            self.serving += 1
            self.cond.notify_all()


class Extensions:
    def __init__(self, app):
        self.app = app
        self.cloudwatch = botocore.session.get_session().get_service_model("cloudwatch")
        self.trail = {}
        self.public_keys = {}
        self.assumed = []
        self.faults = []
        self.partial_pages = {}
        self.lock = threading.Lock()
        self.conditional_writes = threading.Lock()
        # One lock per queue: moto's races are within a queue, and tests use queues of their own.
        self.queue_locks = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == SEED_PATH and environ.get("REQUEST_METHOD") == "POST":
            return self.seed(environ, start_response)
        if path == KEYS_PATH and environ.get("REQUEST_METHOD") == "POST":
            loaded = json.loads(self.body(environ))
            with self.lock:
                self.public_keys.setdefault(loaded["region"], []).extend(loaded["keys"])
            return respond(start_response, "200 OK", b"{}", "application/json")
        if path == FAULTS_PATH and environ.get("REQUEST_METHOD") == "POST":
            with self.lock:
                self.faults.append(json.loads(self.body(environ)))
            return respond(start_response, "200 OK", b"{}", "application/json")
        fault = self.take_fault(environ)
        if fault is not None:
            return self.inject(fault, environ, start_response)
        if path == ASSUMED_PATH:
            with self.lock:
                body = json.dumps(self.assumed).encode()
            return respond(start_response, "200 OK", body, "application/json")
        if access_key_of(environ).startswith(BAD_KEY_PREFIX):
            return self.refuse(environ, start_response)
        if not self.owner_expected(environ, path):
            body = (b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
                    b"<RequestId>devo-aws-test</RequestId></Error>")
            return respond(start_response, "403 Forbidden", body, "application/xml")
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            self.record_assume_role(environ)
        if environ.get("REQUEST_METHOD") == "PUT" and (
                "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ):
            with self.conditional_writes:
                return list(self.app(environ, start_response))
        if environ.get("HTTP_X_AMZ_TARGET", "") == RECEIVE_TARGET:
            return self.receive_one_at_a_time(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "") in SQS_CHANGES:
            raw = Extensions.body(environ)
            environ["wsgi.input"] = io.BytesIO(raw)
            with self.queue_lock(json.loads(raw or b"{}").get("QueueUrl", "")):
                return list(self.app(environ, start_response))
        if path.startswith(CBOR_PREFIX):
            return self.cloudwatch_cbor(environ, start_response, path[len(CBOR_PREFIX):])
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(LOOKUP_TARGET):
            return self.lookup_events(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "").endswith(PUBLIC_KEYS_TARGET):
            return self.list_public_keys(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "") in (LOGS_FILTER_TARGET, LOGS_DESCRIBE_TARGET):
            return self.linked_logs(environ, start_response)
        return self.app(environ, start_response)

    def linked_logs(self, environ, start_response):
        """Item 9: a linked account's log group by its ARN; linked accounts' groups listed."""
        from moto.logs.models import logs_backends
        raw = self.body(environ)
        params = json.loads(raw or b"{}")
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        identifier = params.get("logGroupIdentifier", "")
        if target == LOGS_FILTER_TARGET and identifier.startswith("arn:"):
            parts = identifier.split(":", 6)
            region, account, name = parts[3], parts[4], parts[6]
            events, token, searched = logs_backends[account][region].filter_log_events(
                name, params.get("logStreamNames", []), params.get("startTime"),
                params.get("endTime"), params.get("limit"), params.get("nextToken"),
                params.get("filterPattern"), params.get("interleaved", False))
            body = json.dumps({"events": events, "nextToken": token,
                               "searchedLogStreams": searched}).encode()
            return respond(start_response, "200 OK", body, "application/x-amz-json-1.1")
        if target == LOGS_DESCRIBE_TARGET and params.get("includeLinkedAccounts"):
            region = region_of(environ)
            prefix = params.get("logGroupNamePrefix") or ""
            groups = []
            for account in list(logs_backends.keys()):
                backend = logs_backends[account][region]
                groups.extend(g.to_describe_dict() for g in backend.groups.values()
                              if g.name.startswith(prefix))
            body = json.dumps({"logGroups": groups}).encode()
            return respond(start_response, "200 OK", body, "application/x-amz-json-1.1")
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))
        return self.app(environ, start_response)

    @staticmethod
    def owner_expected(environ, path):
        """False when the request names an expected bucket owner that does not own the bucket."""
        expected = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
        if not expected or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return True
        from moto.s3.models import s3_backends
        bucket = path.strip("/").split("/")[0]
        for account in list(s3_backends.keys()):
            regions = s3_backends[account]
            if "global" in regions and bucket in regions["global"].buckets:
                return account == expected
        return True

    def queue_lock(self, url):
        """The lock of the queue at `url` (its last path part: the URL's host varies)."""
        name = url.rstrip("/").rsplit("/", 1)[-1]
        with self.lock:
            return self.queue_locks.setdefault(name, FairLock())

    def receive_one_at_a_time(self, environ, start_response):
        """ReceiveMessage under the receive lock; a long poll becomes short polls until a message
        comes or the wait ends."""
        request = json.loads(self.body(environ) or b"{}")
        deadline = time.monotonic() + float(request.get("WaitTimeSeconds") or 0)
        request["WaitTimeSeconds"] = 0
        body = json.dumps(request).encode()
        while True:
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            attempt = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
            with self.queue_lock(request.get("QueueUrl", "")):
                answer = b"".join(self.app(attempt, capture))
            done = (not captured["status"].startswith("200") or time.monotonic() >= deadline
                    or json.loads(answer or b"{}").get("Messages"))
            if done:
                headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
                start_response(captured["status"], headers + [("Content-Length", str(len(answer)))])
                return [answer]
            time.sleep(0.1)

    def take_fault(self, environ):
        """The fault rule for this request, if one is armed (each use counts down)."""
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        path = environ.get("PATH_INFO", "")
        with self.lock:
            armed = any(rule.get("times", 1) > 0 for rule in self.faults)
        if not armed:
            return None
        raw = Extensions.body(environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        text = path + raw.decode(errors="replace")
        is_get_object = (environ.get("REQUEST_METHOD") == "GET" and not path.startswith("/moto-api")
                         and path.strip("/").count("/") >= 1)
        with self.lock:
            for rule in self.faults:
                op = rule["op"]
                matches = rule.get("match", "") in text
                query_action = ("Action=" + op + "&") in text + "&"
                if rule.get("times", 1) > 0 and matches and (
                        target.endswith("." + op) or (op == "GetObject" and is_get_object)
                        or query_action):
                    rule["times"] = rule.get("times", 1) - 1
                    return dict(rule)
        return None

    def inject(self, fault, environ, start_response):
        time.sleep(fault.get("delay_ms", 0) / 1000)
        if fault.get("drop"):
            # The connection goes away with no answer at all (a dead load balancer, a reset).
            sock = environ["werkzeug.socket"]
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            return []
        if fault.get("cut"):
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return lambda data: None

            body = b"".join(self.app(environ, capture))
            headers = [(k, v) for k, v in captured["headers"] if k.lower() not in ("content-length", "connection")]
            write = start_response(captured["status"], headers + [("Content-Length", str(len(body))), ("Connection", "close")])
            if fault.get("reset"):
                # Half the body, then a reset (SO_LINGER 0) instead of a clean close.
                write(body[: len(body) // 2])
                sock = environ["werkzeug.socket"]
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                return []
            return [body[: len(body) // 2]]
        if fault.get("trickle_ms"):
            # The body in pieces (8 KiB unless "piece" says), `trickle_ms` apart: an object that
            # takes long to read.
            body = b"".join(self.app(environ, start_response))
            pause, piece = fault["trickle_ms"] / 1000, fault.get("piece", 8192)

            def pieces():
                for start in range(0, len(body), piece):
                    if start:
                        time.sleep(pause)
                    yield body[start:start + piece]
            return pieces()
        if "status" not in fault:
            return self.app(environ, start_response)
        status = f"{fault['status']} Injected"
        code = fault.get("code", "InternalFailure")
        message = fault.get("message", "injected by the fault tests")
        if environ.get("HTTP_X_AMZ_TARGET"):
            body = json.dumps({"__type": code, "message": message}).encode()
            return respond(start_response, status, body, "application/x-amz-json-1.0",
                           [("x-amzn-query-error", f"{code};Sender")])
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            # The query protocol (STS): its errors come wrapped.
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                    f"<Message>{message}</Message></Error>"
                    "<RequestId>devo-aws-test</RequestId></ErrorResponse>").encode()
            return respond(start_response, status, body, "text/xml")
        body = (f"<Error><Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>devo-aws-test</RequestId></Error>").encode()
        return respond(start_response, status, body, "application/xml")

    @staticmethod
    def refuse(environ, start_response):
        """InvalidClientTokenId in the protocol the caller speaks."""
        if environ.get("HTTP_X_AMZ_TARGET"):
            body = json.dumps({"__type": "InvalidClientTokenId", "message": INVALID_TOKEN}).encode()
            return respond(start_response, "403 Forbidden", body, "application/x-amz-json-1.0",
                           [("x-amzn-query-error", "InvalidClientTokenId;Sender")])
        body = ("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
                f"<Message>{INVALID_TOKEN}</Message></Error><RequestId>devo-aws-test</RequestId>"
                "</ErrorResponse>").encode()
        return respond(start_response, "403 Forbidden", body, "text/xml")

    def record_assume_role(self, environ):
        """Notes an STS AssumeRole call, then puts its body back for moto."""
        raw = Extensions.body(environ)
        environ["wsgi.input"] = io.BytesIO(raw)
        form = dict(urllib.parse.parse_qsl(raw.decode(errors="replace")))
        if form.get("Action") == "AssumeRole":
            with self.lock:
                self.assumed.append({k: form.get(k) for k in ("RoleArn", "RoleSessionName", "ExternalId")})

    @staticmethod
    def body(environ):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return environ["wsgi.input"].read(length) if length else b""

    def seed(self, environ, start_response):
        loaded = json.loads(self.body(environ))
        with self.lock:
            self.trail.setdefault(loaded["region"], []).extend(loaded["events"])
        return respond(start_response, "200 OK", b"{}", "application/json")

    def list_public_keys(self, environ, start_response):
        """Item 11: the keys loaded for the region of the request."""
        self.body(environ)
        now = time.time()
        with self.lock:
            keys = [dict(k, ValidityStartTime=now - 365 * 86400, ValidityEndTime=now + 365 * 86400)
                    for k in self.public_keys.get(region_of(environ), [])]
        body = json.dumps({"PublicKeyList": keys}).encode()
        return respond(start_response, "200 OK", body, "application/x-amz-json-1.1")

    def lookup_events(self, environ, start_response):
        request = json.loads(self.body(environ) or b"{}")
        with self.lock:
            events = list(self.trail.get(region_of(environ), []))
        start = epoch(request["StartTime"]) if "StartTime" in request else None
        end = epoch(request["EndTime"]) if "EndTime" in request else None
        attributes = request.get("LookupAttributes") or []
        by_key = {"EventId": "EventId", "EventName": "EventName", "EventSource": "EventSource",
                  "Username": "Username", "ReadOnly": "ReadOnly", "AccessKeyId": "AccessKeyId"}

        def wanted(e):
            t = epoch(e["EventTime"])
            if start is not None and t < start:
                return False
            if end is not None and t > end:
                return False
            for a in attributes:
                field = by_key.get(a["AttributeKey"])
                if field and str(e.get(field)) != a["AttributeValue"]:
                    return False
            return True

        chosen = sorted((e for e in events if wanted(e)), key=lambda e: epoch(e["EventTime"]), reverse=True)
        offset = int(request.get("NextToken") or 0)
        size = min(int(request.get("MaxResults") or 50), 50)
        page = chosen[offset:offset + size]
        answer = {"Events": [dict(e, EventTime=epoch(e["EventTime"])) for e in page]}
        if offset + size < len(chosen):
            answer["NextToken"] = str(offset + size)
        return respond(start_response, "200 OK", json.dumps(answer).encode(), "application/x-amz-json-1.1")

    def mark_results(self, parsed, request_text):
        """Applies an armed result_status fault to a GetMetricData answer."""
        with self.lock:
            rule = next((r for r in self.faults
                         if r.get("op") == "GetMetricData" and "result_status" in r
                         and r.get("times", 1) > 0 and r.get("match", "") in request_text), None)
            if rule is None:
                return
            rule["times"] = rule.get("times", 1) - 1
            status = rule["result_status"]
            results = parsed.get("MetricDataResults", [])
            if status == "PartialData":
                rest = []
                for r in results:
                    half = len(r.get("Timestamps", [])) // 2
                    rest.append(dict(r, Timestamps=r.get("Timestamps", [])[half:],
                                     Values=r.get("Values", [])[half:], StatusCode="Complete"))
                    r["Timestamps"], r["Values"] = r.get("Timestamps", [])[:half], r.get("Values", [])[:half]
                    r["StatusCode"] = "PartialData"
                token = f"devo-aws-partial:{len(self.partial_pages)}:{time.monotonic()}"
                self.partial_pages[token] = {"MetricDataResults": rest}
                parsed["NextToken"] = token
            else:
                for r in results:
                    r["StatusCode"] = status
                    r["Messages"] = [{"Code": status, "Value": "injected by the fault tests"}]

    def cloudwatch_json(self, environ, operation, request, account=None):
        """`request` replayed to moto over CloudWatch's JSON protocol (as `account`, when
        given): its status and parsed answer."""
        body = json.dumps(request).encode()
        forwarded = dict(environ)
        forwarded.update({
            "PATH_INFO": "/",
            "CONTENT_TYPE": "application/x-amz-json-1.0",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"{CLOUDWATCH_TARGET}.{operation}",
            "wsgi.input": io.BytesIO(body),
        })
        forwarded.pop("HTTP_SMITHY_PROTOCOL", None)
        if account:
            forwarded["HTTP_X_MOTO_ACCOUNT_ID"] = account
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            return lambda data: None

        answer = b"".join(self.app(forwarded, capture))
        status = captured.get("status", "500 Internal Server Error")
        parsed = json.loads(answer) if answer.strip() else {}
        if not status.startswith("2"):
            parsed = {"__type": parsed.get("__type") or parsed.get("code") or "InternalFailure",
                      "message": parsed.get("message") or parsed.get("Message") or answer.decode(errors="replace")}
        return status, parsed

    def linked_metrics(self, environ, request):
        """Item 10: ListMetrics with IncludeLinkedAccounts lists the metrics of every account
        (or of OwningAccount) in one page, each with its OwningAccounts entry."""
        from moto.cloudwatch.models import cloudwatch_backends
        from moto.iam.models import get_account_id_from
        own = get_account_id_from(access_key_of(environ))
        accounts = [own] + [a for a in list(cloudwatch_backends.keys()) if a != own]
        if request.get("OwningAccount"):
            accounts = [request["OwningAccount"]]
        asked = {k: v for k, v in request.items()
                 if k not in ("IncludeLinkedAccounts", "OwningAccount", "NextToken")}
        metrics, owners = [], []
        for account in accounts:
            token = None
            while True:
                status, parsed = self.cloudwatch_json(
                    environ, "ListMetrics", dict(asked, **({"NextToken": token} if token else {})), account)
                if not status.startswith("2"):
                    return status, parsed
                page = parsed.get("Metrics", [])
                metrics.extend(page)
                owners.extend([account] * len(page))
                token = parsed.get("NextToken")
                if not token:
                    break
        return "200 OK", {"Metrics": metrics, "OwningAccounts": owners}

    def linked_metric_data(self, environ, request):
        """Item 10: GetMetricData whose queries name an AccountId: each account's queries asked
        of that account, the results put together."""
        by_account = {}
        for query in request.get("MetricDataQueries", []):
            by_account.setdefault(query.get("AccountId"), []).append(query)
        results = []
        for account, queries in by_account.items():
            status, parsed = self.cloudwatch_json(
                environ, "GetMetricData", dict(request, MetricDataQueries=queries), account)
            if not status.startswith("2"):
                return status, parsed
            results.extend(parsed.get("MetricDataResults", []))
        return "200 OK", {"MetricDataResults": results}

    def cloudwatch_cbor(self, environ, start_response, operation):
        raw = self.body(environ)
        request = plain(cbor2.loads(raw)) if raw else {}
        token = request.get("NextToken", "")
        if operation == "GetMetricData" and token.startswith("devo-aws-partial:"):
            with self.lock:
                status, parsed = "200 OK", self.partial_pages.pop(token, {"MetricDataResults": []})
        elif operation == "ListMetrics" and request.get("IncludeLinkedAccounts"):
            status, parsed = self.linked_metrics(environ, request)
        elif operation == "GetMetricData" and any(
                q.get("AccountId") for q in request.get("MetricDataQueries", [])):
            status, parsed = self.linked_metric_data(environ, request)
        else:
            status, parsed = self.cloudwatch_json(environ, operation, request)
            if status.startswith("2") and operation == "GetMetricData":
                self.mark_results(parsed, json.dumps(request))
        if status.startswith("2"):
            shape = self.cloudwatch.operation_model(operation).output_shape
            out = cbor2.dumps(typed(shape, parsed), datetime_as_timestamp=True, timezone=UTC)
        else:
            out = cbor2.dumps(parsed)
        return respond(start_response, status, out, "application/cbor", [("smithy-protocol", "rpc-v2-cbor")])

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, Extensions(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
