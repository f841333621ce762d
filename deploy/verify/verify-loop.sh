#!/usr/bin/env bash
# Nightly cdc-verify for the compose stack (or any container runtime):
# runs once shortly after start, then every day at CDC_VERIFY_AT (HH:MM,
# container time, UTC by default). Each run stores its results in the
# target's cdc schema and rewrites the node_exporter textfile atomically.
#
# Environment:
#   CDC_VERIFY_SOURCE, CDC_VERIFY_TARGET   libpq conninfo / URIs (required)
#   CDC_VERIFY_AT            daily start time, default 02:30
#   CDC_VERIFY_TEXTFILE      default /var/lib/cdc/textfile/cdc_verify.prom
#   CDC_VERIFY_INITIAL_DELAY seconds before the first run, default 300
#                            (lets the initial snapshot finish)
#   CDC_VERIFY_ARGS          extra arguments, default "--all-tables --recheck 3"
#
# With cron instead, run the same command line once a day, e.g.
#   30 2 * * * cdc-verify --source ... --target ... --all-tables --recheck 3 \
#              --textfile /var/lib/node_exporter/textfile/cdc_verify.prom
set -uo pipefail
: "${CDC_VERIFY_SOURCE:?set CDC_VERIFY_SOURCE}" "${CDC_VERIFY_TARGET:?set CDC_VERIFY_TARGET}"
at=${CDC_VERIFY_AT:-02:30}
textfile=${CDC_VERIFY_TEXTFILE:-/var/lib/cdc/textfile/cdc_verify.prom}
read -r -a extra <<< "${CDC_VERIFY_ARGS:---all-tables --recheck 3}"

run() {
  echo "cdc-verify-loop: run starting at $(date -u +%FT%TZ)"
  cdc-verify --source "$CDC_VERIFY_SOURCE" --target "$CDC_VERIFY_TARGET" \
    --textfile "$textfile" --progress never "${extra[@]}"
  rc=$?
  case $rc in
    0) echo "cdc-verify-loop: all tables consistent" ;;
    1) echo "cdc-verify-loop: some table is below its threshold (see cdc.verify_runs)" ;;
    *) echo "cdc-verify-loop: cdc-verify failed with exit code $rc" ;;
  esac
}

trap 'exit 0' TERM INT
sleep "${CDC_VERIFY_INITIAL_DELAY:-300}" & wait $!
run
while :; do
  now=$(date +%s)
  next=$(date -d "today $at" +%s)
  ((next <= now)) && next=$(date -d "tomorrow $at" +%s)
  echo "cdc-verify-loop: next run at $(date -u -d "@$next" +%FT%TZ)"
  sleep $((next - now)) & wait $!
  run
done
