#!/usr/bin/env bash
# The demo: with the AWS emulator up (run through with-moto.sh), loads sample events and runs
# `devo-aws all --dry-run` on a config in the seed's layout under target/demo/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
product="$root/target/demo/aws"
rm -rf "$product" && mkdir -p "$product/config" "$product/certs" "$product/state"
"$root/.venv/bin/python" "$root/tests/support/demo_load.py"
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
      address: collector-eu.devo.io
      port: 443
      type: SSL
      chain: chain.crt
      cert: demo.crt
      key: demo.key
inputs:
  aws:
    id: 1
    enabled: true
    services:
      service-events-all:
        cloudwatch_sqs_queue_name: demo-events
        auto_event_type: true
        regions: [us-east-1, eu-west-1]
      sqs-cloudwatch-consumer:
        cloudwatch_sqs_queue_name: demo-securityhub
        regions: [us-east-1]
YAML
echo "demo: devo-aws all --dry-run --config $product/config/config.yaml" >&2
AWS_ENDPOINT_URL="$DEVO_AWS_TEST_ENDPOINT" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
  "${DEVO_AWS_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/devo-aws}" all --dry-run --config "$product/config/config.yaml"
