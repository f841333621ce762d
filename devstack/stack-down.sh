#!/usr/bin/env bash
# Stop everything stack-up.sh started in DIR and leave nothing running.
# The directory (logs, PostgreSQL data) stays; pass --rm to delete it.
#
# usage: stack-down.sh [--rm] DIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
rm_dir=0
if [[ ${1:-} == --rm ]]; then rm_dir=1; shift; fi
if [[ $# -ne 1 ]]; then
    echo "usage: stack-down.sh [--rm] DIR" >&2
    exit 2
fi
dir=$1
status=0

# SIGTERM, wait up to 10 s, then SIGKILL: bounded, and nothing survives.
stop_pidfile() {
    local f=$1 pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stack-down.sh: pid $pid ignored SIGTERM for 10s, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
            status=1
        fi
    fi
    rm -f "$f"
}

stop_pidfile "$dir/registry.pid"
stop_pidfile "$dir/broker.pid"
stop_pidfile "$dir/broker-fifo.pid"
rm -f "$dir/broker.in" "$dir/stack.env"
if [[ -d $dir/pg ]]; then "$here/pg-down.sh" "$dir/pg" || status=1; fi
if [[ $rm_dir -eq 1 ]]; then rm -rf -- "$dir"; fi
exit $status
