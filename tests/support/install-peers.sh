#!/usr/bin/env bash
# Installs the real peers the end-to-end tests start, from Debian's packages, when missing:
# rsyslog with its OpenSSL driver (a syslog server with mutual TLS, playing Devo), and the
# shells whose completion scripts the tests try (zsh, fish; bash is there), and faketime (a host
# clock off AWS's), and Prometheus' promtool and Pushgateway, and openssl (to encrypt a test
# key as users do); and syslog-ng, unpacked (below).
set -euo pipefail
missing=()
for pkg in rsyslog rsyslog-openssl zsh fish faketime prometheus prometheus-pushgateway openssl; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-peers: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# syslog-ng, a second real receiver: its package conflicts with rsyslog's, so it is unpacked
# (with the libraries this machine lacks) into tests/support/syslog-ng/ instead of installed.
sng_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/syslog-ng"
if [ ! -x "$sng_root/usr/sbin/syslog-ng" ]; then
  debs=(syslog-ng-core)
  for lib in libivykis0 libnet1 libwrap0 libpcre3 libjson-c5 libglib2.0-0 libcap2; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q 'install ok installed' || debs+=("$lib")
  done
  echo "install-peers: unpacking ${debs[*]} into $sng_root" >&2
  download=$(mktemp -d)
  if ! (cd "$download" && apt-get download -qq "${debs[@]}" 2>/dev/null); then
    $sudo apt-get update -qq
    (cd "$download" && apt-get download -qq "${debs[@]}")
  fi
  mkdir -p "$sng_root"
  for deb in "$download"/*.deb; do dpkg-deb -x "$deb" "$sng_root"; done
  rm -rf "$download"
fi
