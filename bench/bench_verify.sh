#!/usr/bin/env bash
# cdc-verify vs pg_comparator vs the read limit (COPY ... TO STDOUT of both
# tables in parallel), side by side in one run on one throwaway cluster.
#
# usage: bench/bench_verify.sh BUILD_DIR [ROWS...]      (default ROWS: 1000000)
#   e.g. bench/bench_verify.sh build-verify 1000000 10000000
#   BASE_BUILD=DIR adds "cdc-verify base" rows (another build, e.g. of the
#   previous commit) measured in the same rounds, for before/after figures.
#   ROUNDS=N (default 3): every command runs once per round, the commands
#   of a round one after the other, so a busy moment of the shared machine
#   falls on all of them alike; each row gives the median wall time and the
#   spread (min-max) over the rounds, each ratio the median and spread of
#   the per-round ratios.
#   BASE_MANY=1 also runs the base build on the table with many differences
#   (a build that fetches each row with a scan of the table takes hours).
#   JOBS_ROWS=N first measures --jobs 2 against --jobs 1 on 4 tables of N
#   rows (JOBS_ROUNDS rounds, default ROUNDS: median and spread); JOBS_ONLY=1
#   stops after it.
#
# Tables (each: id bigint PK, text, int, numeric(12,2), timestamptz), the
# same ROWS on both sides:
#   bench       0.01% differences in the target (a third deleted, a third
#               updated, a third inserted): cdc-verify vs pg_comparator.
#   bench_many  ~1% (10,000 for 1M rows), every one reported
#               (--max-report) and repaired (--repair-sql): the cost of the
#               differences, against
#   bench_none  no differences, the same options.
# Rows: "copy-out x2" is the read limit as first defined (plain text COPY of
# both tables, in parallel); "copy-sel x2" is COPY of the SELECT cdc-verify
# itself runs (binary, ORDER BY key): the server's share of a verify.
# cpu_s is user+sys of the command itself (for copy: both psql clients,
# not the servers); on a shared machine it is steadier than wall time.
# Wall time and peak RSS come from /usr/bin/time -v.
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
ROUNDS=${ROUNDS:-3}

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

# run NAME CMD...: one run of the command; appends "wall rss_mb cpu" to
# $dir/NAME.runs and keeps its first output line in $dir/NAME.first.
run() {
    local name=$1; shift
    /usr/bin/time -v -o "$dir/$name.time" "$@" > "$dir/$name.out" 2> "$dir/$name.err" || true
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; w=s}
                /Maximum resident set size/ {r=$2/1024}
                /(User|System) time \(seconds\)/ {c+=$2}
                END {printf "%s %.1f %.2f\n", w, r, c}' "$dir/$name.time" >> "$dir/$name.runs"
    head -n 1 "$dir/$name.out" | cut -c1-150 > "$dir/$name.first"
}

# stats FILE COL: "median min max" of column COL.
stats() {
    sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR]=$c} END {
        m = NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
        printf "%.2f %.2f %.2f\n", m, v[1], v[NR]}'
}

# row N TOOL NAME NOTE: median wall (spread), peak RSS, median CPU.
row() {
    local n=$1 tool=$2 name=$3 note=$4 w lo hi c rss
    read -r w lo hi < <(stats "$dir/$name.runs" 1)
    read -r c _ _ < <(stats "$dir/$name.runs" 3)
    rss=$(sort -g -k2,2 "$dir/$name.runs" | tail -n 1 | cut -d' ' -f2)
    printf "%-8s %-20s %7s %13s %8s %7s  %s\n" "$n" "$tool" "$w" "($lo-$hi)" "$rss" "$c" "$note"
}

# ratio LABEL A B GOAL: median and spread of A's wall / B's wall, round by round.
ratio() {
    local label=$1 a=$2 b=$3 goal=$4
    paste -d' ' "$dir/$a.runs" "$dir/$b.runs" | awk '{print $1 / $4}' > "$dir/ratio.tmp"
    read -r m lo hi < <(stats "$dir/ratio.tmp" 1)
    printf "%-8s ratio %-44s %5s (%s-%s)%s\n" "" "$label" "$m" "$lo" "$hi" "${goal:+  goal $goal}"
}

mk() { # mk TABLE ROWS: the same rows in source and target
    for db in source target; do
        psql -qX -d $db -v ON_ERROR_STOP=1 <<SQL
DROP TABLE IF EXISTS $1;
CREATE TABLE $1 (id bigint PRIMARY KEY, a text, b int, c numeric(12,2), d timestamptz);
INSERT INTO $1 SELECT g, md5(g::text), (g * 7) % 100000, g / 100.0,
    TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * interval '1 second' FROM generate_series(1, $2) g;
SQL
    done
}
spoil() { # spoil TABLE ROWS DIFFERENCES: a third deleted, updated, inserted
    local third=$(( $3 / 3 > 0 ? $3 / 3 : 1 ))
    psql -qX -d target -v ON_ERROR_STOP=1 <<SQL
DELETE FROM $1 WHERE id IN (SELECT g * 9973 % $2 + 1 FROM generate_series(1, $third) g);
UPDATE $1 SET b = -1 WHERE id IN (SELECT g * 7919 % $2 + 1 FROM generate_series(1, $third) g);
INSERT INTO $1 SELECT $2 + g, 'new', 0, 0, now() FROM generate_series(1, $third) g;
SQL
}

# ---- --jobs: 4 tables, --jobs 2 / --jobs 1 ---------------------------------
# Each round runs both (alternating which goes first) on the same tables;
# prints each one's wall times, their median and spread (min..max), and the
# median of the per-round ratios. Source and target share this machine's
# cores, so the gain is bounded by them.
bench_jobs() {
    local n=$1 rounds=${JOBS_ROUNDS:-${ROUNDS:-3}} t r j w first
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
    jobs_stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "median %.2f spread %.2f..%.2f", m, v[1], v[NR]}'; }
    echo "--jobs on 4 tables of $n rows, $rounds rounds; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
    printf "  --jobs 1 wall_s: %s  (%s)\n" "$(jobs_stats "${w1[@]}")" "${w1[*]}"
    printf "  --jobs 2 wall_s: %s  (%s)\n" "$(jobs_stats "${w2[@]}")" "${w2[*]}"
    printf "  --jobs 2 / --jobs 1: %s  (%s)\n" "$(jobs_stats "${ratios[@]}")" "${ratios[*]}"
    for t in 1 2 3 4; do for db in source target; do psql -qX -d $db -c "DROP TABLE jbench$t"; done; done
}
if [[ -n ${JOBS_ROWS:-} ]]; then
    bench_jobs "$JOBS_ROWS"
    [[ ${JOBS_ONLY:-0} != 1 ]] || exit 0
fi

echo "median (min-max) of $ROUNDS rounds; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %-20s %7s %13s %8s %7s  %s\n" rows tool wall_s spread rss_mb cpu_s notes
for n in "${sizes[@]}"; do
    rm -f "$dir"/*.runs
    mk bench "$n"; mk bench_many "$n"; mk bench_none "$n"
    spoil bench "$n" $(( n / 10000 ))
    many=$(( n / 100 ))
    spoil bench_many "$n" "$many"
    for db in source target; do psql -qX -d $db -c 'VACUUM ANALYZE'; done
    common=(--source "$src" --target "$tgt" --store=false --progress never)
    manyopts=(--max-report "$many" --repair-sql "$dir/repair.sql")
    sel="COPY (SELECT id, a, b, c, d FROM bench ORDER BY id) TO STDOUT (FORMAT binary)"
    for ((r = 0; r < ROUNDS; r++)); do
        run copy bash -c "psql -qX -d source -c 'COPY bench TO STDOUT' >/dev/null & psql -qX -d target -c 'COPY bench TO STDOUT' >/dev/null & wait"
        run copysel bash -c "psql -qX -d source -c '$sel' >/dev/null & psql -qX -d target -c '$sel' >/dev/null & wait"
        [[ -z $base ]] || run base "$base" "${common[@]}" --table bench
        run verify "$verify" "${common[@]}" --table bench
        if [[ $have_pgc == 1 ]]; then
            run pgc pg_comparator --max-ratio=1.0 \
                "pgsql://$PGUSER@$PGHOST:$PGPORT/source/public.bench?id:a,b,c,d" \
                "pgsql://$PGUSER@$PGHOST:$PGPORT/target/public.bench?id:a,b,c,d"
        fi
        run none "$verify" "${common[@]}" "${manyopts[@]}" --table bench_none
        run many "$verify" "${common[@]}" "${manyopts[@]}" --table bench_many
        if [[ -n $base && -n ${BASE_MANY:-} ]]; then
            run basenone "$base" "${common[@]}" "${manyopts[@]}" --table bench_none
            run basemany "$base" "${common[@]}" "${manyopts[@]}" --table bench_many
        fi
    done
    row "$n" "copy-out x2" copy "read limit"
    row "$n" "copy-sel x2" copysel "the verifier's own query, binary, ordered"
    [[ -z $base ]] || row "$n" "cdc-verify base" base "$(cat "$dir/base.first")"
    row "$n" "cdc-verify" verify "$(cat "$dir/verify.first")"
    if [[ $have_pgc == 1 ]]; then
        pd=$(grep -cE '^(UPDATE|INSERT|DELETE) ' "$dir/pgc.out" || true)
        row "$n" "pg_comparator" pgc "$pd differences (client only; server RSS not counted)"
    fi
    row "$n" "cdc-verify none" none "bench_none, --max-report $many --repair-sql: $(cut -c1-60 "$dir/none.first")"
    row "$n" "cdc-verify many" many "bench_many: $(cut -c1-90 "$dir/many.first")"
    if [[ -n $base && -n ${BASE_MANY:-} ]]; then
        row "$n" "cdc-verify base none" basenone "$(cut -c1-60 "$dir/basenone.first")"
        row "$n" "cdc-verify base many" basemany "$(cut -c1-90 "$dir/basemany.first")"
    fi
    if [[ $have_pgc == 1 ]]; then
        ratio "cdc-verify / pg_comparator (bench)" verify pgc "<= 0.5"
        [[ -z $base ]] || ratio "cdc-verify base / pg_comparator (bench)" base pgc ""
    else
        echo "         pg_comparator unavailable (apt-get install postgresql-comparator)"
    fi
    ratio "cdc-verify many / none ($many differences)" many none "<= 1.3"
    [[ -z $base || -z ${BASE_MANY:-} ]] || ratio "cdc-verify base many / none" basemany basenone ""
    [[ -z $base ]] || ratio "cdc-verify / cdc-verify base (bench)" verify base ""
    ratio "cdc-verify / copy-out (bench)" verify copy ""
done
