#!/usr/bin/env bash
# Stop the cluster pg-up.sh started in DIR. The files stay (pg-up.sh DIR
# starts it again); remove DIR yourself, or pass --rm.
#
# usage: pg-down.sh [--immediate] [--rm] DIR
#   --immediate  stop without a shutdown checkpoint, like a crash (recovery
#                runs on the next start): for fault tests.
#   --rm         delete DIR once the server is down.
# Not running is not an error. Every wait is bounded (30 s, then SIGKILL).
set -euo pipefail

mode=fast
rm_dir=0
while [[ ${1:-} == --* ]]; do
    case $1 in
    --immediate) mode=immediate ;;
    --rm) rm_dir=1 ;;
    *) echo "usage: pg-down.sh [--immediate] [--rm] DIR" >&2; exit 2 ;;
    esac
    shift
done
if [[ $# -ne 1 ]]; then
    echo "usage: pg-down.sh [--immediate] [--rm] DIR" >&2
    exit 2
fi
dir=$1
data=$dir/data

bindir=${PG_BINDIR:-}
if [[ -z $bindir ]]; then
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [[ -x $d/pg_ctl ]]; then bindir=$d; break; fi
    done
fi

as_pg=()
if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then as_pg=(runuser -u postgres --); fi

if [[ -f $data/postmaster.pid ]]; then
    pid=$(head -1 "$data/postmaster.pid")
    if [[ -n $bindir ]] &&
        "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -m "$mode" -w -t 30 stop >&2 2>/dev/null; then
        :
    elif [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        # pg_ctl could not stop it in time: do not leave a server behind.
        echo "pg-down.sh: pg_ctl stop failed, killing postmaster $pid" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
fi

if [[ $rm_dir -eq 1 ]]; then rm -rf -- "$dir"; fi
