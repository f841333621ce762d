#!/usr/bin/env bash
# Start the local dev stack in DIR: PostgreSQL (source + target databases),
# the mock Kafka cluster and the schema registry mock, all in the background.
#
# usage: stack-up.sh [--fast] DIR
#
# Writes DIR/stack.env (source it: `. DIR/stack.env`):
#   PGHOST PGPORT PGUSER SOURCE_DSN TARGET_DSN BROKERS REGISTRY_URL BROKER_CMD
# Send broker commands with devstack/broker-cmd.sh DIR 'down 1'; answers and
# logs are in DIR/broker.out, DIR/broker.log, DIR/registry.log, DIR/pg/pg.log.
# Stop everything with devstack/stack-down.sh DIR.
#
# Environment: CDC_BUILD_ROOT (build dir holding devstack/cdc-mock-broker;
# default <repo>/build), STACK_BROKERS (default 3), STACK_TOPICS (space
# separated NAME:PARTITIONS), REGISTRY_PORT (default: a free one).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
fast=()
if [[ ${1:-} == --fast ]]; then fast=(--fast); shift; fi
if [[ $# -ne 1 ]]; then
    echo "usage: stack-up.sh [--fast] DIR" >&2
    exit 2
fi
mkdir -p "$1"
dir=$(cd "$1" && pwd)
build=${CDC_BUILD_ROOT:-$here/../build}
broker_bin=$build/devstack/cdc-mock-broker
registry_bin=$build/devstack/cdc-registry-mock
for b in "$broker_bin" "$registry_bin"; do
    if [[ ! -x $b ]]; then
        echo "stack-up.sh: $b not found: build first (ninja -C $build) or set CDC_BUILD_ROOT" >&2
        exit 1
    fi
done
if [[ -f $dir/broker.pid || -f $dir/registry.pid ]]; then
    echo "stack-up.sh: a stack seems to run in $dir already; stack-down.sh $dir first" >&2
    exit 1
fi

# A half-started stack is worse than none: undo on any failure.
trap 'echo "stack-up.sh: failed, stopping what was started" >&2; "$here/stack-down.sh" "$dir" >&2 || true' ERR

# Waits (bounded) until FILE has a first line starting with PREFIX.
wait_line() {
    local file=$1 prefix=$2 pid=$3
    for _ in $(seq 150); do
        if head -1 "$file" 2>/dev/null | grep -q "^$prefix "; then return 0; fi
        kill -0 "$pid" 2>/dev/null || { echo "stack-up.sh: process $pid died, see logs in $dir" >&2; return 1; }
        sleep 0.1
    done
    echo "stack-up.sh: no '$prefix' line in $file after 15s" >&2
    return 1
}

# As root, pg-up.sh hands DIR/pg to the postgres user, who must be able
# to traverse DIR (mktemp -d makes it 0700).
if [[ $(id -u) -eq 0 ]]; then chmod o+x "$dir"; fi
"$here/pg-up.sh" "${fast[@]}" "$dir/pg" >"$dir/pg.env.tmp"
# shellcheck disable=SC1091
. "$dir/pg.env.tmp"
rm -f "$dir/pg.env.tmp"

# The broker reads commands on stdin; a FIFO kept open by a holder process
# lets any later shell send commands without the broker seeing EOF (which
# would make it exit).
rm -f "$dir/broker.in"
mkfifo "$dir/broker.in"
topic_args=()
for t in ${STACK_TOPICS:-}; do topic_args+=(--topic "$t"); done
nohup "$broker_bin" --brokers "${STACK_BROKERS:-3}" "${topic_args[@]}" \
    <"$dir/broker.in" >"$dir/broker.out" 2>"$dir/broker.log" &
echo $! >"$dir/broker.pid"
nohup sleep infinity >"$dir/broker.in" 2>/dev/null &
echo $! >"$dir/broker-fifo.pid"
wait_line "$dir/broker.out" BOOTSTRAP "$(cat "$dir/broker.pid")"
brokers=$(head -1 "$dir/broker.out" | cut -d' ' -f2)

nohup "$registry_bin" --port "${REGISTRY_PORT:-0}" </dev/null \
    >"$dir/registry.out" 2>"$dir/registry.log" &
echo $! >"$dir/registry.pid"
wait_line "$dir/registry.out" LISTEN "$(cat "$dir/registry.pid")"
registry=$(head -1 "$dir/registry.out" | cut -d' ' -f2)

cat >"$dir/stack.env" <<ENV
PGHOST=$PGHOST
PGPORT=$PGPORT
PGUSER=$PGUSER
SOURCE_DSN='host=$PGHOST port=$PGPORT user=$PGUSER dbname=source'
TARGET_DSN='host=$PGHOST port=$PGPORT user=$PGUSER dbname=target'
BROKERS=$brokers
REGISTRY_URL=$registry
BROKER_CMD=$dir/broker.in
ENV
trap - ERR
cat "$dir/stack.env"
