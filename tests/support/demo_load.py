"""Loads the demo's sample data into the AWS emulator: an EventBridge queue in two regions and a
Security Hub queue, each with a few realistic events. Prints nothing but what it did."""

import json
import os
import sys

import boto3

ENDPOINT = os.environ["DEVO_AWS_TEST_ENDPOINT"]
ACCOUNT = "123456789012"


def sqs(region):
    return boto3.client(
        "sqs",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )


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


def send(region, queue, bodies):
    client = sqs(region)
    url = client.create_queue(QueueName=queue)["QueueUrl"]
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


if __name__ == "__main__":
    main()
