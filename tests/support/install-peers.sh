#!/usr/bin/env bash
# Installs the real peers the end-to-end tests start, from Debian's packages, when missing:
# rsyslog with its OpenSSL driver (a syslog server with mutual TLS, playing Devo), and the
# shells whose completion scripts the tests try (zsh, fish; bash is there), and faketime (a host
# clock off AWS's), and Prometheus' promtool and Pushgateway.
set -euo pipefail
missing=()
for pkg in rsyslog rsyslog-openssl zsh fish faketime prometheus prometheus-pushgateway; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-peers: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
