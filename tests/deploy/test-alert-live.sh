#!/usr/bin/env bash
# Integration test, end to end (issue 9, item 5): an outage of every Kafka
# broker pages, and its end resolves the page. A local stack (PostgreSQL,
# mock Kafka), a running cdc-apply, Debian's Prometheus evaluating the
# shipped rules (deploy/prometheus/cdc-alerts.yml, on a copy whose `for:`
# durations are shortened to 5 s), Debian's Alertmanager, and a webhook
# receiver (python3, 127.0.0.1) that records every POST. All brokers down:
# the receiver gets CdcConnectionDown{component="kafka"} firing, with the
# rule's labels (severity) and the target's (job, instance); brokers up
# again: it gets the resolution.
# Skips (77) when prometheus or prometheus-alertmanager is missing.
set -euo pipefail
src=${CDC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${CDC_BUILD_ROOT:?CDC_BUILD_ROOT not set}
. "$src/tests/deploy/live-stack.sh"
live_need prometheus prometheus-alertmanager curl python3
live_start alert
die() { echo "FAIL $*"; for f in "$dir"/*.log "$dir"/webhook.jsonl; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done; exit 1; }
topic=alert.public.orders
bash "$src/devstack/broker-cmd.sh" "$dir" "create $topic 3" >/dev/null

mport=$(free_port)
"$bld/cdc-apply" --brokers "$BROKERS" --group alert-test --topics "$topic" \
  --target "$TARGET_DSN" --metrics-addr "127.0.0.1:$mport" \
  -X reconnect.backoff.max.ms=1000 2>"$dir/apply.log" &
pids+=($!)
until_ok 20 curl -sf "http://127.0.0.1:$mport/metrics" || die "cdc-apply never served /metrics"

# The webhook receiver: one JSON document per line per POST.
wport=$(free_port)
python3 - "$wport" "$dir/webhook.jsonl" >"$dir/webhook.log" 2>&1 <<'PY' &
import http.server, json, sys
port, path = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(path, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
pids+=($!)
touch "$dir/webhook.jsonl"

aport=$(free_port)
cat >"$dir/alertmanager.yml" <<EOF
route:
  receiver: hook
  group_by: [alertname, component]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$wport/
        send_resolved: true
EOF
prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/am" \
  --web.listen-address="127.0.0.1:$aport" --cluster.listen-address= 2>"$dir/alertmanager.log" &
pids+=($!)
until_ok 30 curl -sf "http://127.0.0.1:$aport/-/ready" || die "alertmanager did not become ready"

# The shipped rules, with every `for:` shortened so the test takes seconds.
sed -E 's/^( *)for: [0-9]+[smh]$/\1for: 5s/' "$src/deploy/prometheus/cdc-alerts.yml" >"$dir/rules.yml"
grep -q 'alert: CdcConnectionDown' "$dir/rules.yml" || die "no CdcConnectionDown rule"
pport=$(free_port)
cat >"$dir/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$dir/rules.yml"]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$aport"]}]
scrape_configs:
  - job_name: cdc-apply
    static_configs: [{targets: ["127.0.0.1:$mport"]}]
EOF
live_prometheus "$pport"
kafka_is() {
  curl -sf "http://127.0.0.1:$pport/api/v1/query" \
    --data-urlencode "query=cdc_connection_up{job=\"cdc-apply\",component=\"kafka\"} == $1" |
    grep -q '"value"'
}
until_ok 60 kafka_is 1 || die "prometheus never saw cdc_connection_up{component=\"kafka\"} 1"

# got STATUS: the receiver holds a notification of CdcConnectionDown for
# kafka with that status and the expected labels.
got() {
  python3 - "$dir/webhook.jsonl" "$1" "127.0.0.1:$mport" <<'PY'
import json, sys
path, status, instance = sys.argv[1:4]
for line in open(path):
    n = json.loads(line)
    for a in n.get("alerts", []):
        l = a.get("labels", {})
        if (l.get("alertname") == "CdcConnectionDown" and l.get("component") == "kafka"
                and a.get("status") == status and l.get("severity") == "critical"
                and l.get("job") == "cdc-apply" and l.get("instance") == instance
                and a.get("annotations", {}).get("runbook_url")):
            sys.exit(0)
sys.exit(1)
PY
}
got firing && die "CdcConnectionDown{component=kafka} fired while the brokers were up"

bash "$src/devstack/broker-cmd.sh" "$dir" "down -1" >/dev/null || die "down -1"
t0=$SECONDS
until_ok 90 got firing || die "no CdcConnectionDown{component=kafka} notification within 90 s of the outage"
echo "firing notification $((SECONDS - t0)) s after every broker went down"

bash "$src/devstack/broker-cmd.sh" "$dir" "up -1" >/dev/null || die "up -1"
t0=$SECONDS
until_ok 90 got resolved || die "no resolution of CdcConnectionDown{component=kafka} within 90 s of the brokers' return"
echo "resolved notification $((SECONDS - t0)) s after the brokers came back"
