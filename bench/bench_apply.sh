#!/usr/bin/env bash
# cdc-apply throughput against the machine's limit for the same work, side
# by side in one run on one throwaway dev stack (devstack/stack-up.sh
# --fast), for one build or a base build and a new one.
#
# usage: bench/bench_apply.sh BUILD_DIR [BASE_BUILD_DIR [BASE_BUILD_DIR...]]
#   (the second base is named base2 in the tables, the third base3, ...)
#   env: ROUNDS (default 3), EVENTS_JSON (insert, default 100000),
#        EVENTS_MIXED_JSON (default 40000), EVENTS_AVRO (default 100000),
#        PARTITIONS (default 128), BATCH_ROWS (default 5000),
#        PERF=1 (record the last round of each build with perf into
#        DIR/perf-BUILD-N.data and print its top),
#        PERF_CG=dwarf (perf --call-graph mode; default fp),
#        PERF_KEEP=DIR (with PERF=1: keep the perf data there),
#        STREAMS (default "json-insert json-mixed avro-insert avro-mixed")
#
# Streams: insert-only, and mixed (a fifth of the events seed rows, the
# rest 60/20/20 update/insert/delete with hot keys); each as Debezium JSON
# with schema and as Avro through the registry mock. Each stream is
# produced once; every round and build consumes it from the start with a
# group of its own into the emptied target table.
#
# apply_s: from cdc-apply's first "assigned" log line to its "no records"
# line minus the idle wait (--exit-on-idle): consuming, decoding,
# compacting and committing everything. events/s = Kafka records / apply_s.
# limit: the machine's limit for the same work, measured right after each
# run: kcat consuming the same records (to /dev/null) while psql COPYs the
# same final rows into the emptied table (client side, text format, the
# path cdc-apply's COPY takes), both at once; limit_s is the wall time of
# both, limit/s = records / limit_s, ratio = events/s / limit/s.
# us/ev: cdc-apply's user + system CPU (all threads, the whole run) per
# record; kcat_us: kcat's CPU per record while it reads the same records
# (to /dev/null, printing only offsets) in the limit run: what librdkafka's
# fetching alone costs a consumer of this stream. main_us, wr_us, rdk_us:
# the same CPU split by thread (the loop: consume, decode, batch; the
# writer: COPY and merge; librdkafka's), sampled from /proc every 0.5 s
# while it runs (the last sample, during the idle wait). busy: cdc_apply_batch_duration_seconds_sum (scraped from
# /metrics while it runs) / apply_s, the share of the drain during which
# the target was applying a batch. rss_MB: peak RSS (/usr/bin/time -v).
# The summary gives the median and [min-max] over the rounds. On a shared
# or small machine the wall-clock figures move with whatever else runs;
# the CPU figure moves much less, so compare builds by it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
new=$(cd "${1:?usage: bench_apply.sh BUILD_DIR [BASE_BUILD_DIR]}" && pwd)
builds=(new)
declare -A bdir=([new]=$new)
if [[ -n ${2:-} ]]; then
    builds=()
    for ((i = 2; i <= $#; i++)); do
        b=base$((i > 2 ? i - 1 : 0))
        b=${b%0}
        bdir[$b]=$(cd "${!i}" && pwd)
        builds+=("$b")
    done
    builds+=(new)
fi
loadgen=$new/devstack/cdc-loadgen
for x in "${bdir[@]/%//cdc-apply}" "$loadgen" /usr/bin/time "$(command -v kcat)" \
    "$(command -v curl)"; do
    [[ -x $x ]] || { echo "bench_apply.sh: $x missing (build first; GNU time, kcat, curl needed)" >&2; exit 2; }
done
rounds=${ROUNDS:-3}
parts=${PARTITIONS:-128}
batch=${BATCH_ROWS:-5000}
idle=3

dir=$(mktemp -d /tmp/bench_apply.XXXXXX)
scraper=
cleanup() {
    [[ -n $scraper ]] && kill "$scraper" 2>/dev/null
    "$here/devstack/stack-down.sh" --rm "$dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
CDC_BUILD_ROOT=$new STACK_BROKERS=1 "$here/devstack/stack-up.sh" --fast "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/stack.env"
export PGHOST PGPORT PGUSER

bcmd() { "$here/devstack/broker-cmd.sh" "$dir" "$1" >/dev/null; }
# CPU seconds so far of the cdc-apply whose command line names group $1,
# by thread kind: "main writer rdkafka other" (from /proc/PID/task/*/stat).
thread_cpu() {
    local p
    for p in $(pgrep -f -- "$1"); do
        [[ $(cat "/proc/$p/comm" 2>/dev/null) == cdc-apply ]] || continue
        cat /proc/"$p"/task/*/stat 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{
            c = $0; sub(/^[0-9]+ \(/, "", c); name = c; sub(/\) .*/, "", name); sub(/^.*\) /, "", c)
            split(c, f, " "); t = (f[12] + f[13]) / hz
            if (name == "cdc-apply") m += t; else if (name == "cdc-writer") w += t
            else if (name ~ /^rdk:/) r += t; else o += t
        } END { printf "%.3f %.3f %.3f %.3f\n", m, w, r, o }'
        return 0
    done
    return 1
}
ms() { date -d "$1" +%s%3N; }
ddl="(id bigint PRIMARY KEY, customer text, amount numeric(12,2), status text,
 created_at timestamptz, updated_at timestamp(6), qty int, note text, tags text[],
 attrs jsonb, flag boolean, ref uuid, ship_date date)"

res=$dir/results
: >"$res"
printf '%-5s %-7s %-5s %2s %7s %7s %8s %7s %8s %6s %6s %5s %6s %6s %6s %6s %6s\n' build stream fmt rd events \
    apply_s events/s limit_s limit/s ratio us/ev busy rss_MB kcat_us main_us wr_us rdk_us
n=0
for fmt in json avro; do
    for wl in insert mixed; do
        n=$((n + 1))
        [[ " ${STREAMS:-json-insert json-mixed avro-insert avro-mixed} " == *" $fmt-$wl "* ]] || continue
        events=${EVENTS_JSON:-100000}
        [[ $wl == mixed ]] && events=${EVENTS_MIXED_JSON:-40000}
        [[ $fmt == avro ]] && events=${EVENTS_AVRO:-100000}
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
        psql -qX -d source -c "\\copy public.$table TO '$dir/rows$n.txt'"
        rows=$(wc -l <"$dir/rows$n.txt")
        for rd in $(seq "$rounds"); do
            for bld in "${builds[@]}"; do
                apply=${bdir[$bld]}/cdc-apply
                tag=$bld-$n-$rd
                # A run that fails (e.g. its random metrics port is taken on
                # a shared machine) is said and run again, once.
                for try in 1 2; do
                    psql -qX -d target -c "TRUNCATE public.$table"
                    port=$((20000 + RANDOM % 20000))
                    args=(--brokers "$BROKERS" --group "g$tag-$try" --topics "$topic"
                          --target "$TARGET_DSN" --batch-rows "$batch" --exit-on-idle "$idle"
                          --metrics-addr "127.0.0.1:$port")
                    [[ $fmt == avro ]] && args+=(--schema-registry "$REGISTRY_URL")
                    run=("$apply")
                    [[ -n ${PERF:-} && $rd == "$rounds" ]] &&
                        run=(perf record -q --call-graph "${PERF_CG:-fp}" -o "$dir/perf-$tag.data" -- "$apply")
                    # The last /metrics answer before the exit (the idle wait
                    # leaves seconds for it).
                    rm -f "$dir/metrics-$tag"
                    rm -f "$dir/threads-$tag"
                    (while sleep 0.5; do
                        curl -sf "http://127.0.0.1:$port/metrics" >"$dir/m.tmp" 2>/dev/null &&
                            mv "$dir/m.tmp" "$dir/metrics-$tag"
                        thread_cpu "g$tag-$try" >"$dir/t.tmp" && mv "$dir/t.tmp" "$dir/threads-$tag"
                    done) &
                    scraper=$!
                    st=0
                    /usr/bin/time -v -o "$dir/time-$tag" "${run[@]}" "${args[@]}" \
                        >"$dir/apply-$tag.log" 2>&1 || st=$?
                    kill "$scraper" 2>/dev/null
                    wait "$scraper" 2>/dev/null || true
                    scraper=
                    [[ $st == 0 ]] && break
                    echo "WARNING: $bld round $rd: cdc-apply exited $st (try $try):" \
                        "$(tail -2 "$dir/apply-$tag.log")" >&2
                    [[ $try == 2 ]] && exit 1
                done
                t0=$(ms "$(grep -m1 ' assigned ' "$dir/apply-$tag.log" | cut -d' ' -f1)")
                t1=$(ms "$(grep -m1 'no records for' "$dir/apply-$tag.log" | cut -d' ' -f1)")
                apply_ms=$((t1 - t0 - idle * 1000))
                rss=$(awk '/Maximum resident/ {printf "%.0f", $6 / 1024}' "$dir/time-$tag")
                cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$dir/time-$tag")
                read -r th_main th_wr th_rdk _ <"$dir/threads-$tag" 2>/dev/null || th_main=0 th_wr=0 th_rdk=0
                busy_s=$(awk '$1 == "cdc_apply_batch_duration_seconds_sum" {print $2}' \
                    "$dir/metrics-$tag" 2>/dev/null || true)
                got=$(psql -qXAt -d target -c "SELECT count(*) FROM public.$table")
                [[ $got == "$rows" ]] ||
                    echo "WARNING: $table ($bld): source $rows rows, target $got (broker dropped records?)" >&2
                # The limit: kcat reads the records while psql COPYs the rows.
                psql -qX -d target -c "TRUNCATE public.$table"
                c0=$(date +%s%3N)
                /usr/bin/time -v -o "$dir/ktime-$tag" \
                    kcat -q -C -b "$BROKERS" -t "$topic" -o beginning -e -f '%o\n' >/dev/null &
                kc=$!
                psql -qX -d target -c "\\copy public.$table FROM '$dir/rows$n.txt'"
                wait "$kc"
                c1=$(date +%s%3N)
                limit_ms=$((c1 - c0))
                kcpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$dir/ktime-$tag")
                awk -v b="$bld" -v s="$wl" -v f="$fmt" -v rd="$rd" -v e="$records" -v a="$apply_ms" \
                    -v l="$limit_ms" -v m="$rss" -v u="$cpu" -v bz="${busy_s:-0}" -v k="$kcpu" \
                    -v tm="$th_main" -v tw="$th_wr" -v tr="$th_rdk" 'BEGIN {
                    eps = e / (a / 1000); lps = e / (l / 1000);
                    printf "%-5s %-7s %-5s %2d %7d %7.2f %8.0f %7.2f %8.0f %6.2f %6.2f %5.2f %6d %6.2f %6.2f %6.2f %6.2f\n",
                           b, s, f, rd, e, a / 1000, eps, l / 1000, lps, eps / lps, u * 1e6 / e,
                           bz / (a / 1000), m, k * 1e6 / e, tm * 1e6 / e, tw * 1e6 / e, tr * 1e6 / e }' | tee -a "$res"
                if [[ -f $dir/perf-$tag.data ]]; then
                    # (|| true: head closing the pipe must not end the run under pipefail)
                    perf report -q -g none -i "$dir/perf-$tag.data" --no-children --sort dso,symbol \
                        2>/dev/null | grep -v '^$' | head -15 >&2 || true
                    if [[ -n ${PERF_KEEP:-} ]]; then
                        mkdir -p "$PERF_KEEP" && cp "$dir/perf-$tag.data" "$PERF_KEEP/"
                    fi
                fi
            done
        done
        rm -f "$dir/rows$n.txt"
    done
done

# Median [min-max] over the rounds, per build, of the figures the goals
# (issue #13) name.
echo
printf '%-34s' figure
printf ' %-24s' "${builds[@]}"
printf ' %s\n' goal
summary() { # label stream fmt column goal
    local line="" b
    for b in "${builds[@]}"; do
        line+=$(awk -v b="$b" -v s="$2" -v f="$3" -v c="$4" '$1 == b && $2 == s && $3 == f {print $c}' "$res" |
            sort -g | awk '{v[NR] = $1} END {if (!NR) {printf "%-24s", "-"; exit}
                m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
                printf "%-24s", sprintf("%.2f [%.2f-%.2f]", m, v[1], v[NR])}')
        line+=" "
    done
    printf '%-34s %s %s\n' "$1" "$line" "$5"
}
summary "CPU us/event, JSON with schema" insert json 11 "<= 6"
summary "CPU us/event, Avro" insert avro 11 "<= 4"
summary "kcat CPU us/record, JSON (reading only)" insert json 14 "-"
summary "kcat CPU us/record, Avro (reading only)" insert avro 14 "-"
summary "  JSON: loop thread us/event" insert json 15 "-"
summary "  JSON: writer thread us/event" insert json 16 "-"
summary "  JSON: librdkafka threads us/event" insert json 17 "-"
summary "  Avro: loop thread us/event" insert avro 15 "-"
summary "  Avro: writer thread us/event" insert avro 16 "-"
summary "  Avro: librdkafka threads us/event" insert avro 17 "-"
summary "insert JSON / machine limit" insert json 10 ">= 1.0"
summary "mixed JSON / machine limit" mixed json 10 ">= 0.7"
summary "mixed Avro / machine limit" mixed avro 10 ">= 0.7"
summary "target busy / wall, insert JSON" insert json 12 ">= 0.8"
summary "target busy / wall, insert Avro" insert avro 12 ">= 0.8"
summary "peak RSS MB, insert JSON" insert json 13 "<= 256"
summary "peak RSS MB, mixed JSON" mixed json 13 "<= 256"
