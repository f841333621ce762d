#!/usr/bin/env bash
# cdc-verify vs pg_comparator vs the read limit (COPY ... TO STDOUT of both
# tables in parallel), side by side in one run on one throwaway cluster.
#
# usage: bench/bench_verify.sh BUILD_DIR [ROWS...]      (default ROWS: 1000000)
#   e.g. bench/bench_verify.sh build-verify 1000000 10000000
#   BASE_BUILD=DIR adds a "cdc-verify base" row (another build, e.g. of the
#   previous commit) measured in the same run, for before/after figures.
#   JOBS_ROWS=N first measures --jobs 2 against --jobs 1 on 4 tables of N
#   rows (JOBS_ROUNDS rounds, default 3: median and spread); JOBS_ONLY=1
#   stops after it.
#
# Rows: "copy-out x2" is the read limit as first defined (plain text COPY of
# both tables, in parallel); "copy-sel x2" is COPY of the SELECT cdc-verify
# itself runs (binary, ORDER BY key): the server's share of a verify.
# cpu_s is user+sys of the command itself (for copy: both psql clients,
# not the servers); on a shared machine it is steadier than wall time.
#
# Each table: id bigint PK, text, int, numeric(12,2), timestamptz; the
# target gets 0.01% differences (a third deleted, a third updated, a third
# inserted). Wall time and peak RSS come from /usr/bin/time -v.
set -euo pipefail
build=${1:?usage: bench_verify.sh BUILD_DIR [ROWS...]}; shift
sizes=("${@:-1000000}")
here=$(cd "$(dirname "$0")/.." && pwd)
verify=$(cd "$build" && pwd)/cdc-verify
[[ -x $verify ]] || { echo "build $verify first" >&2; exit 2; }
base=
if [[ -n ${BASE_BUILD:-} ]]; then
    base=$(cd "$BASE_BUILD" && pwd)/cdc-verify
    [[ -x $base ]] || { echo "build $base first" >&2; exit 2; }
fi
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time (GNU time) is needed" >&2; exit 2; }

dir=$(mktemp -d /tmp/bench-verify.XXXXXX)
chmod 755 "$dir"
cleanup() { "$here/devstack/pg-down.sh" "$dir/pg" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
eval "$("$here/devstack/pg-up.sh" --fast "$dir/pg" | grep -E '^PG(HOST|PORT|USER)=' | sed 's/^/export /')"
src="host=$PGHOST port=$PGPORT user=$PGUSER dbname=source"
tgt="host=$PGHOST port=$PGPORT user=$PGUSER dbname=target"
have_pgc=0
if [[ -x /usr/bin/pg_comparator ]] && psql -qX -d source -c 'CREATE EXTENSION IF NOT EXISTS pgcmp' \
   && psql -qX -d target -c 'CREATE EXTENSION IF NOT EXISTS pgcmp'; then have_pgc=1; fi

# measure NAME CMD...: prints "wall_s rss_mb cpu_s" of the command (and
# children), best wall time of $REPEAT runs (the machine is shared: take the
# least disturbed run), peak RSS of all runs, least user+sys CPU.
REPEAT=${REPEAT:-3}
measure() {
    local name=$1; shift
    local best="" peak=0 cpu="" wall rss c
    for ((r = 0; r < REPEAT; r++)); do
        /usr/bin/time -v -o "$dir/$name.time" "$@" > "$dir/$name.out" 2> "$dir/$name.err" || true
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/$name.time")
        rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$dir/$name.time")
        c=$(awk -F': ' '/(User|System) time \(seconds\)/ {s+=$2} END {printf "%.2f", s}' "$dir/$name.time")
        if [[ -z $best ]] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$wall; fi
        if [[ -z $cpu ]] || awk -v a="$c" -v b="$cpu" 'BEGIN{exit !(a<b)}'; then cpu=$c; fi
        if awk -v a="$rss" -v b="$peak" 'BEGIN{exit !(a>b)}'; then peak=$rss; fi
    done
    echo "$best $peak $cpu"
}

# ---- --jobs: 4 tables, --jobs 2 / --jobs 1 ---------------------------------
# Each round runs both (alternating which goes first) on the same tables;
# prints each one's wall times, their median and spread (min..max), and the
# median of the per-round ratios. Source and target share this machine's
# cores, so the gain is bounded by them.
bench_jobs() {
    local n=$1 rounds=${JOBS_ROUNDS:-3} t r j w first
    for t in 1 2 3 4; do
        for db in source target; do
            psql -qX -d $db -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS jbench$t;
CREATE TABLE jbench$t (id bigint PRIMARY KEY, a text, b int, c numeric(12,2), d timestamptz);
INSERT INTO jbench$t SELECT g, md5(g::text), (g * 7) % 100000, g / 100.0,
    TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, $n) g;
SQL
        done
        psql -qX -d target -v ON_ERROR_STOP=1 -c "UPDATE jbench$t SET b = -1 WHERE id % 10000 = $t"
        for db in source target; do psql -qX -d $db -c "VACUUM ANALYZE jbench$t"; done
    done
    local args=(--source "$src" --target "$tgt" --store=false --progress never -o json)
    for t in 1 2 3 4; do args+=(--table "jbench$t"); done
    local w1=() w2=() ratios=()
    for ((r = 0; r < rounds; r++)); do
        declare -A wall=()
        if ((r % 2)); then first=(2 1); else first=(1 2); fi
        for j in "${first[@]}"; do
            /usr/bin/time -f %e -o "$dir/jobs$j.time" "$verify" "${args[@]}" --jobs "$j" \
                > "$dir/jobs$j.out" 2> "$dir/jobs$j.err" || true
            wall[$j]=$(tail -n 1 "$dir/jobs$j.time")
        done
        # Same results whatever --jobs (timings removed).
        if ! cmp -s <(sed 's/"duration_seconds":[^,]*,//' "$dir/jobs1.out") \
                    <(sed 's/"duration_seconds":[^,]*,//' "$dir/jobs2.out"); then
            echo "--jobs 2 and --jobs 1 disagree: see $dir/jobs*.out" >&2; exit 1
        fi
        w1+=("${wall[1]}"); w2+=("${wall[2]}")
        ratios+=("$(awk -v a="${wall[2]}" -v b="${wall[1]}" 'BEGIN{printf "%.3f", a/b}')")
        unset wall
    done
    stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median %.2f spread %.2f..%.2f", m, v[1], v[NR]}'; }
    echo "--jobs on 4 tables of $n rows, $rounds rounds; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf "  --jobs 1 wall_s: %s  (%s)\n" "$(stats "${w1[@]}")" "${w1[*]}"
    printf "  --jobs 2 wall_s: %s  (%s)\n" "$(stats "${w2[@]}")" "${w2[*]}"
    printf "  --jobs 2 / --jobs 1: %s  (%s)\n" "$(stats "${ratios[@]}")" "${ratios[*]}"
    for t in 1 2 3 4; do for db in source target; do psql -qX -d $db -c "DROP TABLE jbench$t"; done; done
}
if [[ -n ${JOBS_ROWS:-} ]]; then
    bench_jobs "$JOBS_ROWS"
    [[ ${JOBS_ONLY:-0} != 1 ]] || exit 0
fi

echo "best of $REPEAT runs each; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-10s %-16s %10s %10s %8s %s\n" rows tool wall_s rss_mb cpu_s notes
for n in "${sizes[@]}"; do
    for db in source target; do
        psql -qX -d $db -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS bench;
CREATE TABLE bench (id bigint PRIMARY KEY, a text, b int, c numeric(12,2), d timestamptz);
INSERT INTO bench SELECT g, md5(g::text), (g * 7) % 100000, g / 100.0,
    TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, $n) g;
SQL
    done
    k=$(( n / 10000 )); third=$(( k / 3 > 0 ? k / 3 : 1 ))
    psql -qX -d target -v ON_ERROR_STOP=1 <<SQL
DELETE FROM bench WHERE id IN (SELECT g * 9973 % $n + 1 FROM generate_series(1, $third) g);
UPDATE bench SET b = -1 WHERE id IN (SELECT g * 7919 % $n + 1 FROM generate_series(1, $third) g);
INSERT INTO bench SELECT $n + g, 'new', 0, 0, now() FROM generate_series(1, $third) g;
SQL
    for db in source target; do psql -qX -d $db -c 'VACUUM ANALYZE bench'; done

    read -r cw cr cc < <(measure copy bash -c "psql -qX -d source -c 'COPY bench TO STDOUT' >/dev/null & psql -qX -d target -c 'COPY bench TO STDOUT' >/dev/null & wait")
    printf "%-10s %-16s %10s %10s %8s %s\n" "$n" "copy-out x2" "$cw" "$cr" "$cc" "read limit"
    sel="COPY (SELECT id, a, b, c, d FROM bench ORDER BY id) TO STDOUT (FORMAT binary)"
    read -r sw sr sc < <(measure copysel bash -c "psql -qX -d source -c '$sel' >/dev/null & psql -qX -d target -c '$sel' >/dev/null & wait")
    printf "%-10s %-16s %10s %10s %8s %s\n" "$n" "copy-sel x2" "$sw" "$sr" "$sc" "the verifier's own query, binary, ordered"
    if [[ -n $base ]]; then
        read -r bw br bc < <(measure base "$base" --source "$src" --target "$tgt" --table bench --store=false --progress never)
        bres=$(head -n 1 "$dir/base.out" | cut -c1-150)
        printf "%-10s %-16s %10s %10s %8s %s\n" "$n" "cdc-verify base" "$bw" "$br" "$bc" "$bres"
    fi
    read -r vw vr vc < <(measure verify "$verify" --source "$src" --target "$tgt" --table bench --store=false --progress never)
    vres=$(head -n 1 "$dir/verify.out" | cut -c1-150)
    printf "%-10s %-16s %10s %10s %8s %s\n" "$n" "cdc-verify" "$vw" "$vr" "$vc" "$vres"
    if [[ $have_pgc == 1 ]]; then
        read -r pw pr pc < <(measure pgc pg_comparator --max-ratio=1.0 \
            "pgsql://$PGUSER@$PGHOST:$PGPORT/source/public.bench?id:a,b,c,d" \
            "pgsql://$PGUSER@$PGHOST:$PGPORT/target/public.bench?id:a,b,c,d")
        pd=$(grep -cE '^(UPDATE|INSERT|DELETE) ' "$dir/pgc.out" || true)
        printf "%-10s %-16s %10s %10s %8s %s\n" "$n" "pg_comparator" "$pw" "$pr" "$pc" "$pd differences (client only; server RSS not counted)"
        awk -v v="$vw" -v p="$pw" -v c="$cw" 'BEGIN { printf "%-10s ratios: verify/pg_comparator = %.2f (goal <= 0.5), verify/copy-out = %.2f (goal <= 1.3)\n", "", v/p, v/c }'
        [[ -z $base ]] || awk -v v="$bw" -v p="$pw" -v c="$cw" 'BEGIN { printf "%-10s base ratios: verify/pg_comparator = %.2f, verify/copy-out = %.2f\n", "", v/p, v/c }'
    else
        awk -v v="$vw" -v c="$cw" 'BEGIN { printf "%-10s ratios: verify/copy-out = %.2f (goal <= 1.3); pg_comparator unavailable\n", "", v/c }'
    fi
done
