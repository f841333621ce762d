#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster in DIR, for tests and local work.
#
# usage: pg-up.sh [--fast] DIR [PORT]
#
#   DIR    cluster home: DIR/data (PGDATA), DIR/pg.log, unix socket in DIR.
#          Created and initialised on first use; later calls just start it
#          again (same port as last time unless PORT is given), which is how
#          the harness restarts PostgreSQL for fault tests.
#   PORT   TCP port on 127.0.0.1; default: a free one, found by trying.
#   --fast fsync/synchronous_commit/full_page_writes off. Tests only: a
#          crash of the machine loses data; a crash of postgres does not.
#
# Prints KEY=VALUE lines on stdout (also written to DIR/pg.env):
#   PGHOST=127.0.0.1  PGPORT=...  PGUSER=postgres  PGDATA=...  PGSOCKET=DIR
# and creates the databases "source" and "target". Trust authentication,
# listening on loopback only. Run as root, the server runs as "postgres"
# (PostgreSQL refuses to run as root) and DIR is chowned to it.
# Environment: PG_BINDIR (default: the newest /usr/lib/postgresql/*/bin).
# Exit codes: 0 up, 1 failed, 2 usage, 3 PostgreSQL server binaries missing.
set -euo pipefail

fast=0
if [[ ${1:-} == --fast ]]; then fast=1; shift; fi
if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: pg-up.sh [--fast] DIR [PORT]" >&2
    exit 2
fi
want_port=${2:-}

bindir=${PG_BINDIR:-}
if [[ -z $bindir ]]; then
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [[ -x $d/initdb ]]; then bindir=$d; break; fi
    done
fi
if [[ -z $bindir || ! -x $bindir/initdb || ! -x $bindir/pg_ctl ]]; then
    echo "pg-up.sh: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
         "install postgresql-15 or set PG_BINDIR" >&2
    exit 3
fi

mkdir -p "$1"
dir=$(cd "$1" && pwd)
data=$dir/data

# PostgreSQL will not run as root: hand the directory to "postgres".
as_pg=()
if [[ $(id -u) -eq 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
        echo "pg-up.sh: running as root but there is no 'postgres' user" >&2
        exit 1
    fi
    chown postgres:postgres "$dir"
    chmod 700 "$dir"
    as_pg=(runuser -u postgres --)
    if ! "${as_pg[@]}" test -w "$dir"; then
        echo "pg-up.sh: user postgres cannot write $dir (a parent directory is" \
             "not searchable?); use a directory under /tmp" >&2
        exit 1
    fi
fi

if [[ ! -f $data/PG_VERSION ]]; then
    initdb_opts=(-D "$data" -U postgres --auth=trust -E UTF8 --no-locale)
    if [[ $fast -eq 1 ]]; then initdb_opts+=(--no-sync); fi
    "${as_pg[@]}" "$bindir/initdb" "${initdb_opts[@]}" >"$dir/initdb.log" 2>&1 || {
        echo "pg-up.sh: initdb failed, see $dir/initdb.log" >&2
        exit 1
    }
    {
        echo "# added by devstack/pg-up.sh"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        # Debezium-style sources need logical decoding; tests open many sessions.
        echo "wal_level = logical"
        echo "max_connections = 200"
        echo "max_wal_senders = 10"
        echo "max_replication_slots = 10"
        # Several clusters may run side by side on a small test machine.
        echo "shared_buffers = 32MB"
        if [[ $fast -eq 1 ]]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | "${as_pg[@]}" tee -a "$data/postgresql.conf" >/dev/null
fi

port_free() {
    # A successful connect means someone listens there.
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_on() {
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" -l "$dir/pg.log" -w -t 60 \
        -o "-p $1" start >&2
}

if "${as_pg[@]}" "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port=$(cat "$dir/port")
else
    if [[ -z $want_port && -f $dir/port ]]; then want_port=$(cat "$dir/port"); fi
    port=
    if [[ -n $want_port ]]; then
        start_on "$want_port" || {
            echo "pg-up.sh: cannot start on port $want_port (in use?), see $dir/pg.log" >&2
            exit 1
        }
        port=$want_port
    else
        # Try a bounded number of random ports; another process may grab a
        # port between our check and the bind, so a failed start retries.
        for _ in $(seq 20); do
            p=$((20000 + RANDOM % 40000))
            port_free "$p" || continue
            if start_on "$p"; then port=$p; break; fi
            grep -q "could not bind\|Address already in use" "$dir/pg.log" 2>/dev/null || {
                echo "pg-up.sh: PostgreSQL failed to start, see $dir/pg.log" >&2
                exit 1
            }
        done
        if [[ -z $port ]]; then
            echo "pg-up.sh: no free port found after 20 tries" >&2
            exit 1
        fi
    fi
    echo "$port" | "${as_pg[@]}" tee "$dir/port" >/dev/null
fi

"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30 || {
    echo "pg-up.sh: server on port $port not ready after 30s, see $dir/pg.log" >&2
    exit 1
}

psql=("$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
for db in source target; do
    if [[ -z $("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
        "${psql[@]}" -c "CREATE DATABASE $db" >&2
    fi
done

env_text="PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATA=$data
PGSOCKET=$dir"
echo "$env_text" | "${as_pg[@]}" tee "$dir/pg.env"
