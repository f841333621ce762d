#!/usr/bin/env bash
# The demo: a local stack (PostgreSQL source + target, a Kafka-protocol
# broker, a schema registry stand-in), a Debezium-shaped workload made in the
# source, cdc-apply until caught up, then cdc-verify. Leaves nothing running.
#
# usage: scripts/demo.sh [EVENTS]     (default 10000; 24 partitions keep every
# partition under the mock broker's ~5 MB retention)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
events=${1:-10000}

bash scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

dir=$(mktemp -d /tmp/cdc-demo.XXXXXX)
apply_pid=""
cleanup() {
  [ -n "$apply_pid" ] && kill "$apply_pid" 2>/dev/null || true
  CDC_BUILD_ROOT="$root/build" bash devstack/stack-down.sh --rm "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "starting the stack in $dir"
CDC_BUILD_ROOT="$root/build" bash devstack/stack-up.sh --fast "$dir" >/dev/null
set -a; . "$dir/stack.env"; set +a
bash devstack/broker-cmd.sh "$dir" "create dbserver1.public.orders 24" >/dev/null

step "making $events changes in the source and producing their Debezium records"
build/devstack/cdc-loadgen --source "$SOURCE_DSN" --brokers "$BROKERS" --reset \
  --events "$events" --workload mixed --toast --pk-changes 20 --log-level warn

step "cdc-apply --group migration-consumer (until idle for 3 s)"
build/cdc-apply --brokers "$BROKERS" --group migration-consumer \
  --topics dbserver1.public.orders --target "$TARGET_DSN" --create-tables \
  --metrics-addr 127.0.0.1:0 --exit-on-idle 3 2> "$dir/apply.log" &
apply_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/.*serving metrics on \(http[^ ]*\).*/\1/p' "$dir/apply.log" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
# Keep the last scrape taken while it ran: the process exits when idle.
while kill -0 "$apply_pid" 2>/dev/null; do
  curl -sf "$url" -o "$dir/metrics.tmp" && mv "$dir/metrics.tmp" "$dir/metrics.txt" || true
  sleep 0.5
done
wait "$apply_pid" && rc=0 || rc=$?
apply_pid=""
grep -E "ERROR|WARN" "$dir/apply.log" || true
echo "cdc-apply exited with $rc"

step "row counts"
printf 'source: %s rows\ntarget: %s rows\n' \
  "$(psql "$SOURCE_DSN" -Atc 'select count(*) from public.orders')" \
  "$(psql "$TARGET_DSN" -Atc 'select count(*) from public.orders')"

step "a few metrics (last scrape)"
grep -E '^cdc_(events_total|apply_rows_total|apply_batches_total|replication_lag_seconds|last_applied_source_timestamp_seconds|table_consistency_score)' \
  "$dir/metrics.txt" || true
awk '/^cdc_consumer_lag_messages/ {n++; s += $NF} END {printf "consumer lag over %d partitions: %d records\n", n, s}' \
  "$dir/metrics.txt"

step "cdc-verify --table public.orders"
build/cdc-verify --source "$SOURCE_DSN" --target "$TARGET_DSN" --table public.orders
