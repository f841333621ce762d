#!/usr/bin/env bash
# Unit test: deploy/alertmanager/alertmanager.yml is valid (amtool
# check-config), routes by severity as deploy/README.md says (critical ->
# pagerduty + email, warning -> slack + email, anything else -> email), keeps
# no secret inline, and every alert in the rules file has a runbook_url whose
# section exists in docs/runbook.md with its three parts.
# Skips (77) when amtool is not installed.
set -euo pipefail
src=${CDC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/need.sh"
need amtool prometheus-alertmanager
cd "$src"
am=deploy/alertmanager/alertmanager.yml
amtool check-config "$am"
fail=0
route() { # expected receivers, labels...
  local want=$1; shift
  local got
  got=$(amtool config routes test --config.file="$am" "$@" 2>/dev/null)
  [ "$got" = "$want" ] || { echo "FAIL route for $*: got '$got', want '$want'"; fail=1; }
}
route email,pagerduty severity=critical alertname=CdcConnectionDown
route email,slack severity=warning alertname=CdcDeadLetters table=public.orders
route email severity=info

python3 - "$am" <<'PY' || fail=1
import re, sys, yaml
am = yaml.safe_load(open(sys.argv[1]))
bad = []
# Secrets come from files: no inline key, URL or password.
for k in ("smtp_auth_password", "slack_api_url"):
    if k in am.get("global", {}):
        bad.append(f"global.{k} is inline: use {k}_file")
for r in am["receivers"]:
    for pd in r.get("pagerduty_configs", []):
        if "routing_key" in pd or "service_key" in pd:
            bad.append(f"{r['name']}: inline PagerDuty key")
    for sl in r.get("slack_configs", []):
        if "api_url" in sl:
            bad.append(f"{r['name']}: inline Slack URL")
if set(am["route"]["group_by"]) < {"pipeline", "table"}:
    bad.append("route does not group by pipeline and table")
inh = am.get("inhibit_rules", [])
if not any("CdcApplyDown" in " ".join(i.get("source_matchers", [])) and
           "CdcApplyStalled" in " ".join(i.get("target_matchers", [])) for i in inh):
    bad.append("CdcApplyDown does not inhibit the stall alert")

rules = yaml.safe_load(open("deploy/prometheus/cdc-alerts.yml"))
book = open("docs/runbook.md").read()
sections = {}
for m in re.finditer(r"^## (\w+)\n(.*?)(?=^## |\Z)", book, re.S | re.M):
    sections[m.group(1)] = m.group(2)
for g in rules["groups"]:
    for r in g["rules"]:
        if "alert" not in r:
            continue
        n = r["alert"]
        url = r.get("annotations", {}).get("runbook_url", "")
        if not url.endswith("docs/runbook.md#" + n.lower()):
            bad.append(f"{n}: runbook_url {url!r} does not point at docs/runbook.md#{n.lower()}")
        body = sections.get(n)
        if body is None:
            bad.append(f"{n}: no '## {n}' section in docs/runbook.md")
            continue
        for part in ("**Means.**", "**Confirm.**", "**Fix.**"):
            if part not in body:
                bad.append(f"{n}: runbook section lacks {part}")
for n in sections:
    if not any(r.get("alert") == n for g in rules["groups"] for r in g["rules"]):
        bad.append(f"docs/runbook.md has a section for unknown alert {n}")
for b in bad:
    print("FAIL", b)
sys.exit(1 if bad else 0)
PY
[ $fail -eq 0 ] && echo "alertmanager config and runbook checked"
exit $fail
