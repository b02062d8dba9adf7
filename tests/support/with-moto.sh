#!/usr/bin/env bash
# Runs a command with the AWS emulator up: installs moto into .venv if needed, starts it on a
# free loopback port, exports DEVO_AWS_TEST_ENDPOINT, runs "$@", and stops moto afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv="$root/.venv"
if ! "$venv/bin/python" -c 'import moto.server, cbor2, kubernetes_validate' 2>/dev/null; then
  echo "with-moto: installing moto, cbor2 and kubernetes-validate into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.2,<5.3' 'cbor2>=5,<7' \
    'kubernetes-validate>=1.30,<2'
fi
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp -t moto.XXXXXX.log)
"$venv/bin/python" "$root/tests/support/moto_launcher.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if "$venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/', timeout=1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "with-moto: moto exited early:" >&2; cat "$log" >&2; exit 1
  fi
  sleep 0.1
done
export DEVO_AWS_TEST_ENDPOINT="$endpoint"
echo "with-moto: moto at $endpoint" >&2
"$@"
