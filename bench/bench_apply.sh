#!/usr/bin/env bash
# cdc-apply throughput against raw COPY of the same rows, side by side in
# one run on one throwaway dev stack (devstack/stack-up.sh --fast).
#
# usage: bench/bench_apply.sh BUILD_DIR
#   env: EVENTS_JSON (default 10000), EVENTS_AVRO (default 120000),
#        PERF=1 (record cdc-apply with perf into DIR/perfN.data and print its top),
#        PERF_CG=dwarf (perf --call-graph mode; default fp, which loses
#        callers in a build without frame pointers),
#        PERF_KEEP=DIR (with PERF=1: copy perfN.data there before the stack
#        directory is removed, for perf report -g on callers),
#        PARTITIONS (default 12), BATCH_ROWS (default 5000)
#
# Streams: insert-only, and mixed (a fifth of the events seed rows, the
# rest 60/20/20 update/insert/delete with hot keys); each as Debezium JSON
# with schema and as Avro through the registry mock. The mock broker keeps
# only ~5 MB / 100k messages per partition, so JSON-with-schema streams
# (~1.5 KB a record) are smaller than the Avro ones.
#
# apply_s: from cdc-apply's first "assigned" log line to its "no records"
# line minus the idle wait (--exit-on-idle), i.e. consuming, decoding,
# compacting and committing everything; group join and the idle wait are
# excluded. events/s = Kafka records / apply_s (tombstones included, as
# they are consumed too). Peak RSS: /usr/bin/time -v of the whole run.
# copy_s: the target table (its final rows) dumped with COPY TO, truncated,
# then loaded with psql \copy FROM (client-side, text format, the same
# path cdc-apply's COPY takes); rows/s = rows / copy_s. ratio = events/s /
# raw rows/s; for the insert stream events == rows, so it is the fair one.
# cpu_s: cdc-apply's user + system CPU time for the whole run (its
# librdkafka threads included); ev/cpu_s = records / cpu_s. On a shared or
# small machine the wall-clock figures move with whatever else runs; the
# CPU figure moves much less, so compare builds by it.
set -euo pipefail
build=${1:?usage: bench_apply.sh BUILD_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
apply=$build/cdc-apply
loadgen=$build/devstack/cdc-loadgen
for x in "$apply" "$loadgen" /usr/bin/time; do
    [[ -x $x ]] || { echo "bench_apply.sh: $x missing (build first; GNU time needed)" >&2; exit 2; }
done
events_json=${EVENTS_JSON:-10000}
events_avro=${EVENTS_AVRO:-120000}
parts=${PARTITIONS:-12}
batch=${BATCH_ROWS:-5000}
idle=3

dir=$(mktemp -d /tmp/bench_apply.XXXXXX)
cleanup() { "$here/devstack/stack-down.sh" --rm "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
CDC_BUILD_ROOT=$build STACK_BROKERS=1 "$here/devstack/stack-up.sh" --fast "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/stack.env"
export PGHOST PGPORT PGUSER

bcmd() { "$here/devstack/broker-cmd.sh" "$dir" "$1" >/dev/null; }
ms() { date -d "$1" +%s%3N; }
ddl="(id bigint PRIMARY KEY, customer text, amount numeric(12,2), status text,
 created_at timestamptz, updated_at timestamp(6), qty int, note text, tags text[],
 attrs jsonb, flag boolean, ref uuid, ship_date date)"

printf '%-7s %-5s %8s %8s %9s %9s %8s %9s %6s %7s %6s %9s\n' stream fmt events rows apply_s \
    events/s copy_s rows/s ratio rss_MB cpu_s ev/cpu_s
n=0
for fmt in json avro; do
    for wl in insert mixed; do
        n=$((n + 1))
        events=$events_json
        [[ $fmt == avro ]] && events=$events_avro
        prefix=bench$n
        table=orders_$n
        topic=$prefix.public.$table
        bcmd "create $topic $parts"
        lg=("$loadgen" --log-level error --source "$SOURCE_DSN" --brokers "$BROKERS"
            --topic-prefix "$prefix" --table "$table" --format "$fmt" --partitions "$parts"
            --txn-size 50 --seed "$n")
        [[ $fmt == avro ]] && lg+=(--schema-registry "$REGISTRY_URL")
        if [[ $wl == insert ]]; then
            "${lg[@]}" --reset --workload insert --events "$events" --summary-json "$dir/s$n.json" >/dev/null
            records=$(jq .records "$dir/s$n.json")
        else
            "${lg[@]}" --reset --workload insert --events $((events / 5)) \
                --summary-json "$dir/s${n}a.json" >/dev/null
            "${lg[@]}" --workload mixed --events $((events - events / 5)) \
                --summary-json "$dir/s$n.json" >/dev/null
            records=$(( $(jq .records "$dir/s${n}a.json") + $(jq .records "$dir/s$n.json") ))
        fi
        psql -qX -d target -c "CREATE TABLE public.$table $ddl" >/dev/null
        args=(--brokers "$BROKERS" --group "g$n" --topics "$topic" --target "$TARGET_DSN"
              --batch-rows "$batch" --exit-on-idle "$idle" --metrics-addr "")
        [[ $fmt == avro ]] && args+=(--schema-registry "$REGISTRY_URL")
        run=("$apply")
        [[ -n ${PERF:-} ]] && run=(perf record -q --call-graph "${PERF_CG:-fp}" -o "$dir/perf$n.data" -- "$apply")
        /usr/bin/time -v -o "$dir/time$n" "${run[@]}" "${args[@]}" >"$dir/apply$n.log" 2>&1
        t0=$(ms "$(grep -m1 ' assigned ' "$dir/apply$n.log" | cut -d' ' -f1)")
        t1=$(ms "$(grep -m1 'no records for' "$dir/apply$n.log" | cut -d' ' -f1)")
        apply_ms=$((t1 - t0 - idle * 1000))
        rss=$(awk '/Maximum resident/ {printf "%.0f", $6 / 1024}' "$dir/time$n")
        cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$dir/time$n")
        # Raw COPY of the same final rows into the same (emptied) table.
        psql -qX -d target -c "\\copy public.$table TO '$dir/rows$n.txt'"
        rows=$(wc -l <"$dir/rows$n.txt")
        # The mock broker drops the oldest records beyond ~5 MB a partition:
        # then the figures are not of the whole stream. Say so.
        src_rows=$(psql -qXAt -d source -c "SELECT count(*) FROM public.$table")
        [[ $src_rows == "$rows" ]] ||
            echo "WARNING: $table: source $src_rows rows, target $rows (broker dropped records?)" >&2
        psql -qX -d target -c "TRUNCATE public.$table"
        c0=$(date +%s%3N)
        psql -qX -d target -c "\\copy public.$table FROM '$dir/rows$n.txt'"
        c1=$(date +%s%3N)
        copy_ms=$((c1 - c0))
        awk -v s="$wl" -v f="$fmt" -v e="$records" -v r="$rows" -v a="$apply_ms" -v c="$copy_ms" \
            -v m="$rss" -v u="$cpu" 'BEGIN {
                eps = e / (a / 1000); rps = r / (c / 1000);
                printf "%-7s %-5s %8d %8d %9.2f %9.0f %8.2f %9.0f %6.2f %7d %6.2f %9.0f\n",
                       s, f, e, r, a / 1000, eps, c / 1000, rps, eps / rps, m, u, e / u }'
        rm -f "$dir/rows$n.txt"
        if [[ -n ${PERF:-} ]]; then
            # (|| true: head closing the pipe must not end the run under pipefail)
            perf report -q -g none -i "$dir/perf$n.data" --no-children --sort dso,symbol \
                2>/dev/null | grep -v '^$' | head -15 >&2 || true
            if [[ -n ${PERF_KEEP:-} ]]; then
                mkdir -p "$PERF_KEEP" && cp "$dir/perf$n.data" "$PERF_KEEP/"
            fi
        fi
    done
done
