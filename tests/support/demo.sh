#!/usr/bin/env bash
# The demo, with the AWS emulator up (run through with-moto.sh).
#   demo.sh       every service devo-aws has, against the emulator's sample data, delivered over
#                 mutual TLS to a local receiver the demo starts (demo_receiver.py, certificates
#                 made with openssl); then what arrived, per tag, and the run's summary.
#   demo.sh dry   `devo-aws all --dry-run` on EventBridge and Security Hub samples: every event
#                 printed with its tag, nothing delivered.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
product="$root/target/demo/aws"
python="$root/.venv/bin/python"
bin="${DEVO_AWS_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/devo-aws}"
mode="${1:-run}"
rm -rf "$product" && mkdir -p "$product/config" "$product/certs" "$product/state"
certs="$product/certs"

# A CA, the receiver's certificate for localhost, and the client certificate devo-aws presents.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=demo CA" \
  -keyout "$certs/ca.key" -out "$certs/chain.crt" 2>/dev/null
for who in server demo; do
  san=$([ "$who" = server ] && echo "subjectAltName=DNS:localhost" || echo "subjectAltName=DNS:demo.devo-aws.test")
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$who" \
    -keyout "$certs/$who.key" -out "$certs/$who.csr" 2>/dev/null
  openssl x509 -req -in "$certs/$who.csr" -CA "$certs/chain.crt" -CAkey "$certs/ca.key" \
    -CAcreateserial -days 365 -extfile <(echo "$san") -out "$certs/$who.crt" 2>/dev/null
done
chmod 600 "$certs"/*.key

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
services="      service-events-all:
        cloudwatch_sqs_queue_name: demo-events
        auto_event_type: true
        regions: [us-east-1, eu-west-1]
      sqs-cloudwatch-consumer:
        cloudwatch_sqs_queue_name: demo-securityhub
        regions: [us-east-1]"
if [ "$mode" = dry ]; then
  "$python" "$root/tests/support/demo_load.py"
else
  "$python" "$root/tests/support/demo_load.py" --all
  services="$services
      audit-events-all:
        types: [audits_api, audits_s3]
        audit_sqs_queue_name: demo-cloudtrail
        start_time: $start
        delay_seconds: 0
        regions: [us-east-1]
      metrics-all:
        namespaces: [Demo/App]
        statistics: [Sum, Maximum]
        period_seconds: 300
        delay_seconds: 0
        start_time: $start
        regions: [us-east-1]
      custom_service:
        types: [logs]
        log_groups: /demo/app
        delay_seconds: 0
        start_time: $start
        regions: [us-east-1]
      non-cloudwatch-logs:
        types: [flowlogs, cloudfrontlogs, alblogs, elblogs, waflogs, s3accesslogs, route53logs, guarddutyfindings, networkfirewalllogs, configlogs, archive, umbrella_dns, securitylake]
        archive_sqs_queue_name: demo-archive
        securitylake_sqs_queue_name: demo-securitylake
        umbrella_dns_sqs_queue_name: demo-umbrella
        kinds:
          umbrella_dns:
            split: lines
            tag: sec.cisco.umbrella.dns
            keys: '^dnslogs/'
        vpcflowlogs_sqs_queue_name: demo-flowlogs
        cloudfrontlogs_sqs_queue_name: demo-cloudfront
        alblogs_sqs_queue_name: demo-alb
        elblogs_sqs_queue_name: demo-elb
        waflogs_sqs_queue_name: demo-waf
        s3accesslogs_sqs_queue_name: demo-s3access
        route53logs_sqs_queue_name: demo-route53
        guarddutyfindings_sqs_queue_name: demo-guardduty
        networkfirewalllogs_sqs_queue_name: demo-firewall
        configlogs_sqs_queue_name: demo-config
        auto_event_type: true
        regions: [us-east-1]"
fi
cat >"$product/config/config.yaml" <<YAML
globals:
  id: 1
  name: demo
  persistence:
    type: filesystem
    config:
      directory_name: state
outputs:
  devo_1:
    type: devo_platform
    config:
      address: localhost
      port: $port
      type: SSL
      chain: chain.crt
      cert: demo.crt
      key: demo.key
inputs:
  aws:
    id: 1
    enabled: true
    services:
$services
YAML
export AWS_ENDPOINT_URL="$DEVO_AWS_TEST_ENDPOINT" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
if [ "$mode" = dry ]; then
  echo "demo: devo-aws all --dry-run --config $product/config/config.yaml" >&2
  exec "$bin" all --dry-run --config "$product/config/config.yaml"
fi

received="$product/received.tsv"
: >"$received"
"$python" "$root/tests/support/demo_receiver.py" "$port" "$certs/chain.crt" "$certs/server.crt" \
  "$certs/server.key" "$received" &
receiver=$!
trap 'kill "$receiver" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.1
done
echo "demo: devo-aws all --config $product/config/config.yaml (Devo: a mutual-TLS receiver on localhost:$port)" >&2
status=0
"$bin" all --config "$product/config/config.yaml" || status=$?
echo
echo "What the receiver got, per tag ($received):"
cut -f1 "$received" | sort | uniq -c | sort -k2
echo "$(wc -l <"$received") events in all; devo-aws exited $status"
exit "$status"
