"""Loads the demo's sample data into the AWS emulator, for every service devo-aws has:
EventBridge queues in two regions, a Security Hub queue, CloudTrail events for LookupEvents and a
trail file in S3, CloudWatch metrics, a CloudWatch Logs group, and one bucket per S3 log kind
(VPC Flow Logs, CloudFront, ALB, CLB, WAF, S3 access, Route 53, GuardDuty, Network Firewall,
Config) that announces its objects on a queue of its own; the S3 objects are the test files of
tests/data/formats, shaped as AWS writes them. Prints what it did."""

import base64
import gzip
import hashlib
import json
import os
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3

ENDPOINT = os.environ["DEVO_AWS_TEST_ENDPOINT"]
ACCOUNT = "123456789012"


FORMATS = Path(__file__).resolve().parent.parent / "data" / "formats"


def client(service, region="us-east-1"):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


def sqs(region):
    return client("sqs", region)


def event(eid, source, detail_type, region, detail, time="2026-11-28T09:00:00Z"):
    return {
        "version": "0",
        "id": eid,
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": time,
        "region": region,
        "resources": [],
        "detail": detail,
    }


def create_queue(client, queue):
    """`queue`, with a dead-letter queue that takes a message received 5 times (as production
    queues should have: devo-aws warns of a queue without one)."""
    dlq = client.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    return client.create_queue(QueueName=queue, Attributes={"RedrivePolicy": policy})["QueueUrl"]


def send(region, queue, bodies):
    client = sqs(region)
    url = create_queue(client, queue)
    client.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": json.dumps(b)} for i, b in enumerate(bodies)],
    )
    print(f"demo: {len(bodies)} messages in {queue} ({region})", file=sys.stderr)


def main():
    for region in ("us-east-1", "eu-west-1"):
        send(region, "demo-events", [
            event(f"{region}-ec2", "aws.ec2", "EC2 Instance State-change Notification", region,
                  {"instance-id": "i-0abcd1234ef567890", "state": "running"}),
            event(f"{region}-s3", "aws.s3", "Object Created", region,
                  {"bucket": {"name": "demo-bucket"}, "object": {"key": "reports/2026/11/28.csv", "size": 1024}}),
            event(f"{region}-guardduty", "aws.guardduty", "GuardDuty Finding", region,
                  {"severity": 5, "type": "Recon:EC2/PortProbeUnprotectedPort"}),
        ])
    send("us-east-1", "demo-securityhub", [
        event("hub-1", "aws.securityhub", "Security Hub Findings - Imported", "us-east-1", {
            "findings": [
                {"SchemaVersion": "2018-10-08", "Id": "finding-1", "AwsAccountId": ACCOUNT,
                 "Region": "us-east-1", "Title": "S3 bucket allows public read",
                 "Severity": {"Label": "HIGH"}},
                {"SchemaVersion": "2018-10-08", "Id": "finding-2", "AwsAccountId": ACCOUNT,
                 "Region": "us-east-1", "Title": "Root account used",
                 "Severity": {"Label": "CRITICAL"}},
            ]
        }),
    ])


# (type, queue, test file, key as AWS writes it, gzipped)
S3_KINDS = [
    ("alblogs", "demo-alb", "alb.log",
     "AWSLogs/123456789012/elasticloadbalancing/us-east-2/2018/07/02/123456789012_elasticloadbalancing_us-east-2_app.my-loadbalancer.50dc6c495c0c9188_20180702T2225Z_10.0.0.1_a1b2c3.log.gz", True),
    ("elblogs", "demo-elb", "clb.log",
     "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2015/05/13/123456789012_elasticloadbalancing_eu-west-1_my-loadbalancer_20150513T2340Z_172.160.001.192_5zvk2pvf.log", False),
    ("waflogs", "demo-waf", "waf.log",
     "AWSLogs/111122223333/WAFLogs/ap-southeast-2/STMTest/2019/12/13/23/50/111122223333_waflogs_ap-southeast-2_STMTest_20191213T2350Z_a1b2c3.log.gz", True),
    ("s3accesslogs", "demo-s3access", "s3access.log", "s3-access/2019-02-06-00-00-38-5E4D87FC1EXAMPLE", False),
    ("route53logs", "demo-route53", "route53.log",
     "AWSLogs/626345947581/vpcdnsquerylogs/vpc-01e31a7c/2021/12/11/vpc-01e31a7c.2021-12-11T22:45:00Z.a1b2c3.log.gz", True),
    ("guarddutyfindings", "demo-guardduty", "guardduty.jsonl",
     "guardduty/AWSLogs/973743533182/GuardDuty/us-east-2/2022/01/28/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d.jsonl.gz", True),
    ("networkfirewalllogs", "demo-firewall", "networkfirewall.log",
     "AWSLogs/123456789012/network-firewall/alert/us-east-1/2025/10/17/10/123456789012_network-firewall_alert_us-east-1_test-firewall_202510171030_a1b2c3.log.gz", True),
    ("configlogs", "demo-config", "awsconfig-snapshot.json",
     "AWSLogs/123456789012/Config/us-east-2/2016/9/27/ConfigSnapshot/123456789012_Config_us-east-2_ConfigSnapshot_20160927T183939Z_16da64e4-cb65-4846-b061-e6c3ba43cb96.json.gz", True),
    ("flowlogs", "demo-flowlogs", "tgw-default.log",
     "AWSLogs/123456789012/vpcflowlogs/eu-west-3/2023/11/14/123456789012_vpcflowlogs_eu-west-3_tgw-attach-0123456789abcdef0_20231114T2215Z_a1b2c3.log.gz", True),
]


def announcing_bucket(queue):
    """A bucket named after `queue` that announces each object created in it on `queue`."""
    url = create_queue(sqs("us-east-1"), queue)
    arn = sqs("us-east-1").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3 = client("s3")
    s3.create_bucket(Bucket=queue)
    s3.put_bucket_notification_configuration(Bucket=queue, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return s3


# A Control Tower log-archive bucket: CloudTrail, AWS Config and VPC flow logs of an organisation's
# accounts, all announced on one queue (`types: [archive]`).
ARCHIVE = [
    ("VPC flow logs", "tgw-flow-otel.log",
     "o-demo123456/AWSLogs/123456789012/vpcflowlogs/us-east-1/2023/11/14/123456789012_vpcflowlogs_us-east-1_tgw_20231114T2215Z_d4e5f6.log.gz"),
    ("AWS Config", "awsconfig-snapshot.json",
     "o-demo123456/AWSLogs/123456789012/Config/us-east-2/2016/9/27/ConfigSnapshot/123456789012_Config_us-east-2_ConfigSnapshot_20160927T183939Z_16da64e4.json.gz"),
]


def put_archive(now):
    s3 = announcing_bucket("demo-archive")
    for what, file, key in ARCHIVE:
        s3.put_object(Bucket="demo-archive", Key=key, Body=gzip.compress((FORMATS / file).read_bytes()))
        print(f"demo: archive: {what} at s3://demo-archive/{key.split('/AWSLogs/')[0]}/AWSLogs/...", file=sys.stderr)
    account = "210987654321"
    records = [{"eventVersion": "1.09", "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "eu-west-1",
                "eventID": f"org-{i}", "recipientAccountId": account} for i in range(2)]
    key = (f"o-demo123456/AWSLogs/{account}/CloudTrail/eu-west-1/{now:%Y/%m/%d}/"
           f"{account}_CloudTrail_eu-west-1_{now:%Y%m%dT%H%MZ}_org.json.gz")
    trail_file = json.dumps({"Records": records}).encode()
    s3.put_object(Bucket="demo-archive", Key=key, Body=gzip.compress(trail_file))
    put_digest(s3, now, account, [(key, hashlib.sha256(trail_file).hexdigest())])
    print("demo: archive: an organisation trail's file and its signed digest at s3://demo-archive/o-demo123456/AWSLogs/...", file=sys.stderr)


def put_digest(s3, now, account, files):
    """The trail's digest of the hour naming `files` (key, SHA-256 of the uncompressed bytes), made
    as CloudTrail makes it: signed SHA256withRSA with a demo key whose public half the emulator's
    ListPublicKeys gives (the first digest of its chain)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    fingerprint = hashlib.md5(der).hexdigest()
    request = urllib.request.Request(
        f"{ENDPOINT}/moto-api/devo-aws/cloudtrail-public-keys", method="POST",
        data=json.dumps({"region": "eu-west-1", "keys": [
            {"Fingerprint": fingerprint, "Value": base64.b64encode(der).decode()}]}).encode())
    urllib.request.urlopen(request).read()
    name = (f"o-demo123456/AWSLogs/{account}/CloudTrail-Digest/eu-west-1/{now:%Y/%m/%d}/"
            f"{account}_CloudTrail-Digest_eu-west-1_org-trail_us-east-1_{now:%Y%m%dT%H%M%SZ}.json.gz")
    end = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = json.dumps({
        "awsAccountId": account,
        "digestStartTime": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "digestEndTime": end, "digestS3Bucket": "demo-archive", "digestS3Object": name,
        "digestPublicKeyFingerprint": fingerprint, "digestSignatureAlgorithm": "SHA256withRSA",
        "previousDigestS3Bucket": None, "previousDigestS3Object": None,
        "previousDigestHashValue": None, "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
        "logFiles": [{"s3Bucket": "demo-archive", "s3Object": k, "hashValue": h, "hashAlgorithm": "SHA-256"}
                     for k, h in files],
    }).encode()
    to_sign = f"{end}\ndemo-archive/{name}\n{hashlib.sha256(digest).hexdigest()}\nnull".encode()
    signature = key.sign(to_sign, padding.PKCS1v15(), hashes.SHA256()).hex()
    s3.put_object(Bucket="demo-archive", Key=name, Body=gzip.compress(digest),
                  Metadata={"signature": signature, "signature-algorithm": "SHA256withRSA"})


def put_defined():
    """Cisco Umbrella DNS logs, a kind the demo's config defines (`kinds:`), on a queue of its own."""
    key = "dnslogs/2020-07-23/2020-07-23-23-50-demo.csv.gz"
    announcing_bucket("demo-umbrella").put_object(
        Bucket="demo-umbrella", Key=key, Body=gzip.compress((FORMATS / "umbrella-dns.csv").read_bytes()))
    print(f"demo: umbrella_dns (defined in the config): s3://demo-umbrella/{key}", file=sys.stderr)


# Amazon Security Lake, read as a subscriber: real OCSF objects (tests/data/securitylake) in the
# lake's layout, announced on the subscriber's queue as Security Lake announces them.
LAKE = [
    ("v2-cloudtrail-updatetrail.parquet", "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-2/accountId=123456789012/eventDay=20221110/demo-1.gz.parquet"),
    ("v2-route53-example0.parquet", "aws/ROUTE53/2.0/region=us-east-1/accountId=123456789012/eventDay=20230307/demo-2.gz.parquet"),
    ("v1-securityhub-example0.gz.parquet", "aws/SH_FINDINGS/1.0/region=us-east-1/accountId=123456789100/eventDay=20230307/demo-3.gz.parquet"),
]


def put_security_lake():
    bucket = "aws-security-data-lake-us-east-1-demo"
    s3 = client("s3")
    s3.create_bucket(Bucket=bucket)
    url = create_queue(sqs("us-east-1"), "demo-securitylake")
    lake = FORMATS.parent / "securitylake"
    for file, key in LAKE:
        s3.put_object(Bucket=bucket, Key=key, Body=(lake / file).read_bytes())
        notice = {"source": "aws.s3", "time": "2026-11-28T09:00:00Z", "account": ACCOUNT, "region": "us-east-1",
                  "resources": [f"arn:aws:s3:::{bucket}"],
                  "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": len((lake / file).read_bytes())},
                             "request-id": "demo", "requester": "securitylake.amazonaws.com"}}
        sqs("us-east-1").send_message(QueueUrl=url, MessageBody=json.dumps(notice))
    print(f"demo: securitylake: {len(LAKE)} OCSF Parquet objects (CloudTrail, Route 53, Security Hub) "
          f"in s3://{bucket}/aws/..., announced on demo-securitylake", file=sys.stderr)


def put_objects(now):
    put_archive(now)
    put_defined()
    put_security_lake()
    for kind, queue, file, key, gzipped in S3_KINDS:
        body = (FORMATS / file).read_bytes()
        announcing_bucket(queue).put_object(Bucket=queue, Key=key, Body=gzip.compress(body) if gzipped else body)
        print(f"demo: {kind}: s3://{queue}/{key.rsplit('/', 1)[-1]} announced on {queue}", file=sys.stderr)
    day = now.strftime("%Y/%m/%d")
    stamp = now.strftime("%Y%m%dT%H%MZ")
    records = [{"eventVersion": "1.09", "eventTime": (now - timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": "s3.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                "eventID": f"trail-{m}", "recipientAccountId": ACCOUNT}
               for m, name in ((9, "CreateBucket"), (8, "PutBucketPolicy"), (7, "DeleteBucket"))]
    key = f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{day}/{ACCOUNT}_CloudTrail_us-east-1_{stamp}_demo.json.gz"
    announcing_bucket("demo-cloudtrail").put_object(
        Bucket="demo-cloudtrail", Key=key, Body=gzip.compress(json.dumps({"Records": records}).encode()))
    print(f"demo: audits_s3: {len(records)} CloudTrail records in s3://demo-cloudtrail/...{stamp}_demo.json.gz", file=sys.stderr)
    fields = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
              "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
              "cs-protocol cs-bytes time-taken")
    lines = [f"{now:%Y-%m-%d}\t{now:%H:%M:0}{i}\tFRA56-P1\t{1000 + i}\t203.0.113.{i}\tGET\td111111abcdef8.cloudfront.net"
             f"\t/index.html\t200\t-\tMozilla/5.0%20(X11)\t-\t-\tHit\treq-{i}\texample.com\thttps\t120\t0.002"
             for i in range(3)]
    announcing_bucket("demo-cloudfront").put_object(
        Bucket="demo-cloudfront", Key=f"cf/E2EXAMPLE.{now:%Y-%m-%d-%H}.demo.gz",
        Body=gzip.compress(f"#Version: 1.0\n#Fields: {fields}\n{chr(10).join(lines)}\n".encode()))
    print(f"demo: cloudfrontlogs: {len(lines)} requests in s3://demo-cloudfront/cf/E2EXAMPLE...gz", file=sys.stderr)


def put_cursors(now):
    """What the services pulled by time read: LookupEvents, metrics, a log group."""
    at = int(now.timestamp())
    events = [{"EventId": f"api-{i}", "EventName": name, "EventTime": at - 600 + i * 60,
               "EventSource": "iam.amazonaws.com", "Username": "alice",
               "CloudTrailEvent": json.dumps({"eventVersion": "1.09", "eventTime": datetime.fromtimestamp(at - 600 + i * 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                              "eventSource": "iam.amazonaws.com", "eventName": name, "awsRegion": "us-east-1",
                                              "eventID": f"api-{i}", "recipientAccountId": ACCOUNT})}
              for i, name in enumerate(("CreateUser", "AttachUserPolicy", "CreateAccessKey"))]
    request = urllib.request.Request(f"{ENDPOINT}/moto-api/devo-aws/cloudtrail-events", method="POST",
                                     data=json.dumps({"region": "us-east-1", "events": events}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    print(f"demo: audits_api: {len(events)} IAM events for LookupEvents", file=sys.stderr)
    points = [{"MetricName": "Requests", "Dimensions": [{"Name": "Api", "Value": "checkout"}],
               "Timestamp": now - timedelta(minutes=m), "Value": float(10 * m), "Unit": "Count"}
              for m in range(5, 20, 5)]
    client("cloudwatch").put_metric_data(Namespace="Demo/App", MetricData=points)
    print(f"demo: metrics: {len(points)} datapoints in Demo/App", file=sys.stderr)
    logs = client("logs")
    logs.create_log_group(logGroupName="/demo/app")
    logs.create_log_stream(logGroupName="/demo/app", logStreamName="web-1")
    logs.put_log_events(logGroupName="/demo/app", logStreamName="web-1", logEvents=[
        {"timestamp": (at - 300 + i) * 1000, "message": f"GET /checkout 200 {12 + i}ms"} for i in range(3)])
    print("demo: logs: 3 events in /demo/app", file=sys.stderr)


if __name__ == "__main__":
    main()
    if "--all" in sys.argv:
        moment = datetime.now(timezone.utc)
        put_objects(moment)
        put_cursors(moment)
        # Past the second AWS's clock is read in, so the log events are inside the first window.
        time.sleep(1.1)
