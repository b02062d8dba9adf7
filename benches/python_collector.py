"""The peer of `make bench`: an S3+SQS CloudTrail collector written the way Python collectors
are, with boto3 and Devo's own devo-sdk Sender (from PyPI): receive ten messages, get each object
they announce, gunzip it, split its Records, send each event, delete the messages; until the queue
is empty.

    python_collector.py QUEUE REGION HOST PORT KEY CERT CHAIN [DROPPED_EVENT_NAMES,...]

AWS_ENDPOINT_URL points boto3 at the emulator. It deletes once its sends returned, as such
collectors do: devo-sdk has no receipt to wait for.
"""

import gzip
import json
import os
import sys
from urllib.parse import unquote_plus

import boto3
from devo.sender import Sender, SenderConfigSSL


def main():
    queue, region, host, port, key, cert, chain = sys.argv[1:8]
    dropped = set(sys.argv[8].split(",")) if len(sys.argv) > 8 else set()
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    sender = Sender(
        config=SenderConfigSSL(
            address=(host, int(port)), key=key, cert=cert, chain=chain, check_hostname=False
        )
    )
    sent = 0
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        for message in messages:
            notification = json.loads(message["Body"])
            for record in notification.get("Records", []):
                bucket = record["s3"]["bucket"]["name"]
                key_name = unquote_plus(record["s3"]["object"]["key"])
                body = s3.get_object(Bucket=bucket, Key=key_name)["Body"].read()
                trail = json.loads(gzip.decompress(body))
                for event in trail.get("Records", []):
                    if event.get("eventName") in dropped:
                        continue
                    source = event.get("eventSource", "unknown").split(".")[0]
                    tag = "cloud.aws.cloudtrail.%s.%s.%s" % (
                        source,
                        event.get("recipientAccountId", "unknown"),
                        event.get("awsRegion", region),
                    )
                    sender.send(tag=tag, msg=json.dumps(event))
                    sent += 1
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)
            ],
        )
    sender.close()
    print("sent %d" % sent, file=sys.stderr)


if __name__ == "__main__":
    main()
