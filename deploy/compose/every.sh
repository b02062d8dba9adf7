#!/bin/sh
# every SECONDS -- COMMAND...: runs COMMAND, waits for it to end, then sleeps what is left of
# SECONDS, and again, forever. One run at a time: a run that takes longer than SECONDS is
# followed at once by the next. Give devo-aws a --deadline well under SECONDS. On SIGTERM
# (docker stop) the run in progress gets the signal, winds down, and the loop ends.
set -u
interval=$1
shift
[ "$1" = "--" ] && shift
child=""
trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 0' TERM INT
while :; do
  started=$(date +%s)
  "$@" &
  child=$!
  wait "$child"
  child=""
  left=$((interval - ($(date +%s) - started)))
  if [ "$left" -gt 0 ]; then
    sleep "$left" &
    child=$!
    wait "$child"
    child=""
  fi
done
