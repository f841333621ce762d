#!/usr/bin/env bash
# Unit test: the Prometheus config and alert rules in deploy/prometheus are
# valid (promtool check config / check rules) and every alert behaves as
# tests/deploy/cdc-alerts.test.yml says (promtool test rules).
# Skips (77) when promtool is not installed.
set -euo pipefail
src=${CDC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/need.sh"
need promtool prometheus
cd "$src"
promtool check rules deploy/prometheus/cdc-alerts.yml
promtool check config deploy/prometheus/prometheus.yml
promtool test rules tests/deploy/cdc-alerts.test.yml

# Every alert in the rules file has at least one test case, and each has
# the two annotations operators rely on.
python3 - <<'PY'
import sys, yaml
rules = yaml.safe_load(open("deploy/prometheus/cdc-alerts.yml"))
tests = yaml.safe_load(open("tests/deploy/cdc-alerts.test.yml"))
alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
fired, quiet = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fired if a.get("exp_alerts") else quiet).add(a["alertname"])
bad = []
for r in alerts:
    n = r["alert"]
    if n not in fired:
        bad.append(f"{n}: no test case where it fires")
    if n not in quiet:
        bad.append(f"{n}: no test case where it stays quiet")
    ann = r.get("annotations", {})
    for k in ("summary", "description"):
        if not ann.get(k):
            bad.append(f"{n}: no {k} annotation")
    if "severity" not in r.get("labels", {}):
        bad.append(f"{n}: no severity label")
for b in bad:
    print("FAIL", b)
print(f"{len(alerts)} alerts, each tested firing and quiet" if not bad else "")
sys.exit(1 if bad else 0)
PY
