#!/usr/bin/env bash
# Integration test: every panel of the Grafana dashboard returns data from
# the real programs. A local stack (PostgreSQL, mock Kafka), a Debezium-shaped
# workload with heartbeats, a snapshot and one undecodable record, a running
# cdc-apply (--errors-tolerance all), a cdc-verify run writing its textfile,
# Debian's node_exporter reading that textfile and Debian's Prometheus
# scraping both. Then each panel's PromQL (dashboard variables substituted)
# must parse and return at least one series, and each SQL panel must run on
# the real state schema and return at least one row.
# Skips (77) when prometheus or prometheus-node-exporter is missing.
set -euo pipefail
src=${CDC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${CDC_BUILD_ROOT:?CDC_BUILD_ROOT not set}
. "$src/tests/deploy/live-stack.sh"
live_need prometheus prometheus-node-exporter psql kcat curl python3
live_start dash
die() { echo "FAIL $*"; for f in "$dir"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }
topic=dbserver1.public.orders
bash "$src/devstack/broker-cmd.sh" "$dir" "create $topic 3" >/dev/null
bash "$src/devstack/broker-cmd.sh" "$dir" "create __debezium-heartbeat.dbserver1 1" >/dev/null

# Rows first (so that the second run can snapshot them), then live changes
# with heartbeats, then a record no decoder accepts (a dead letter).
lg() { "$bld/devstack/cdc-loadgen" --source "$SOURCE_DSN" --brokers "$BROKERS" --log-level warn "$@"; }
lg --reset --events 300 --workload insert >/dev/null
lg --snapshot --events 300 --workload mixed --toast --heartbeat-ms 100 --seed 2 >/dev/null
printf 'this is not a Debezium record\n' | kcat -P -b "$BROKERS" -t "$topic" -p 0 -k 'k' 2>/dev/null \
  || die "kcat could not produce the undecodable record"

mport=$(free_port)
"$bld/cdc-apply" --brokers "$BROKERS" --group dash-test \
  --topics "^($topic|__debezium-heartbeat\\.dbserver1)\$" --target "$TARGET_DSN" \
  --create-tables --errors-tolerance all --metrics-addr "127.0.0.1:$mport" \
  --batch-ms 50 -X session.timeout.ms=6000 2>"$dir/apply.log" &
pids+=($!)
until_ok 20 curl -sf "http://127.0.0.1:$mport/metrics" || die "cdc-apply never served /metrics"
caught_up() {
  local s t
  s=$(psql "$SOURCE_DSN" -Atc 'select count(*) from public.orders')
  t=$(psql "$TARGET_DSN" -Atc 'select count(*) from public.orders' 2>/dev/null || echo -1)
  [ "$s" = "$t" ] && [ "$(psql "$TARGET_DSN" -Atc 'select count(*) from cdc.dead_letter')" -ge 1 ]
}
until_ok 60 caught_up || die "cdc-apply did not catch up (and dead-letter the bad record) in 60 s"
# The bad record counts once as a dead letter and once as a decode error;
# the series alerts read exist at 0 before their first incident.
curl -sf "http://127.0.0.1:$mport/metrics" >"$dir/scrape.txt"
expect() { grep -qxF "$1" "$dir/scrape.txt" || die "scrape lacks '$1'"; }
expect 'cdc_dead_letter_total{table="unknown"} 1'
expect 'cdc_errors_total{stage="decode",error_type="poison"} 1'
expect 'cdc_errors_total{stage="apply",error_type="fatal"} 0'
expect 'cdc_retries_total{component="postgres",reason="apply"} 0'
expect 'cdc_dead_letter_total{table="public.orders"} 0'
expect 'cdc_live_check_rows_total{table="public.orders",result="mismatch"} 0'

mkdir -p "$dir/textfile"
"$bld/cdc-verify" --source "$SOURCE_DSN" --target "$TARGET_DSN" --table public.orders \
  --textfile "$dir/textfile/cdc-verify.prom" >"$dir/verify.log" 2>&1 || die "cdc-verify failed"

nport=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$nport" --collector.disable-defaults \
  --collector.textfile --collector.textfile.directory="$dir/textfile" 2>"$dir/node.log" &
pids+=($!)
pport=$(free_port)
cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: cdc-apply
    static_configs: [{targets: ["127.0.0.1:$mport"]}]
  - job_name: node
    static_configs: [{targets: ["127.0.0.1:$nport"]}]
EOF
live_prometheus "$pport"
# Keep changes flowing while Prometheus collects enough samples for rate().
lg --events 400 --workload mixed --heartbeat-ms 100 --seed 3 --rate 40 >/dev/null &
pids+=($!)
has_verify() { curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode 'query=cdc_verify_consistency_score' | grep -q '"value"'; }
until_ok 30 has_verify || die "prometheus never scraped the verify textfile"
sleep 12

python3 - "$src/deploy/grafana/dashboards/cdc-data-quality.json" "http://127.0.0.1:$pport" "$TARGET_DSN" <<'PY'
import json, re, subprocess, sys, urllib.parse, urllib.request
dash, prom, target = sys.argv[1:4]
d = json.load(open(dash))
subst = {"$__rate_interval": "30s", "$__range": "1m", "$instance": ".*", "$table": ".*"}
bad, checked = [], 0
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
for p in panels(d["panels"]):
    for t in p.get("targets", []):
        where = f"panel {p['id']} {p['title']!r} {t.get('refId')}"
        if "expr" in t:
            e = t["expr"]
            for k, v in subst.items():
                e = e.replace(k, v)
            url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": e})
            try:
                r = json.load(urllib.request.urlopen(url, timeout=10))
            except Exception as ex:  # a 400 is a parse error
                bad.append(f"{where}: query failed: {ex}: {e}")
                continue
            if r.get("status") != "success":
                bad.append(f"{where}: {r.get('error')}: {e}")
            elif not r["data"]["result"]:
                bad.append(f"{where}: no series: {e}")
            checked += 1
        elif "rawSql" in t:
            q = re.sub(r"\$__timeFilter\(([^)]*)\)", r"\1 > now() - interval '1 day'", t["rawSql"])
            # Grafana's "All" of the table variable, as ${table:sqlstring} renders it
            q = q.replace("${table:sqlstring}", "'public.orders'")
            out = subprocess.run(["psql", target, "-v", "ON_ERROR_STOP=1", "-Atc", q],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                bad.append(f"{where}: SQL failed: {out.stderr.strip()}")
            elif not out.stdout.strip():
                bad.append(f"{where}: no rows")
            checked += 1
for b in bad:
    print("FAIL", b)
print(f"{checked} panel queries checked against live data")
sys.exit(1 if bad or checked < 30 else 0)
PY
