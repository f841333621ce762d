#!/usr/bin/env python3
"""Unit test (static; no Docker engine needed): docker-compose.yml is
well-formed and consistent with the files it mounts.

- YAML parses; every service has an image or a build; depends_on names
  exist; named volumes are declared; bind-mounted repo paths exist;
- every long-running service has a healthcheck (or says why not);
- "$" is only used as $$, ${VAR...} or $VAR (compose interpolation);
- the Debezium connector configs are JSON with topic.prefix dbserver1 and
  heartbeats on, and cdc-apply's topic regex covers the data topics and
  the heartbeat topic of that prefix and serves metrics where
  prometheus.yml scrapes them;
- the Dockerfile's build stage uses scripts/install-deps.sh.
Skips (77) without the python3 yaml module.
"""
import json
import os
import re
import sys

SRC = os.environ.get("CDC_SOURCE_ROOT") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
try:
    import yaml
except ImportError:
    print("python3 yaml module missing; skipping")
    sys.exit(77)

fails = []
text = open(os.path.join(SRC, "docker-compose.yml")).read()
for m in re.finditer(r"\$(?!\$|\{[A-Za-z_]\w*(?:[:?-][^}]*)?\}|[A-Za-z_])", text.replace("$$", "")):
    fails.append(f"bad interpolation near: {text[max(0, m.start()-30):m.start()+10]!r}")
doc = yaml.safe_load(text)
services = doc.get("services", {})
volumes = set((doc.get("volumes") or {}).keys())
oneshot = {"register-connector"}
for name, s in services.items():
    if "image" not in s and "build" not in s:
        fails.append(f"{name}: no image or build")
    deps = s.get("depends_on", [])
    for d in (deps if isinstance(deps, list) else deps.keys()):
        if d not in services:
            fails.append(f"{name}: depends_on unknown service {d}")
    for v in s.get("volumes", []):
        src = v.split(":")[0]
        if src.startswith("."):
            if not os.path.exists(os.path.join(SRC, src)):
                fails.append(f"{name}: mounts missing path {src}")
        elif src not in volumes:
            fails.append(f"{name}: volume {src} not declared")
    if name not in oneshot and "healthcheck" not in s and name != "cdc-verify":
        fails.append(f"{name}: no healthcheck")

for fn in ("pg-source.json", "pg-source-avro.json"):
    c = json.load(open(os.path.join(SRC, "deploy", "debezium", fn)))
    if c.get("topic.prefix") != "dbserver1":
        fails.append(f"{fn}: topic.prefix must be dbserver1")
    if int(c.get("heartbeat.interval.ms", "0")) <= 0:
        fails.append(f"{fn}: heartbeats off (the lag alert relies on them)")
    if c.get("database.hostname") not in services:
        fails.append(f"{fn}: database.hostname is not a compose service")

apply = services.get("cdc-apply", {})
cmd = " ".join(apply.get("command", []))
m = re.search(r"--topics '([^']*)'", cmd)
if not m:
    fails.append("cdc-apply: no --topics '...'")
else:
    rx = re.compile(m.group(1).replace("$$", "$"))
    for t in ("dbserver1.public.orders", "dbserver1.public.customers", "__debezium-heartbeat.dbserver1"):
        if not rx.search(t):
            fails.append(f"cdc-apply --topics does not match {t}")
    for t in ("connect_offsets", "dbserver10.public.x"):
        if rx.search(t):
            fails.append(f"cdc-apply --topics matches {t}")
if "--metrics-addr 0.0.0.0:9187" not in cmd:
    fails.append("cdc-apply must serve metrics on 0.0.0.0:9187 for Prometheus")
prom = yaml.safe_load(open(os.path.join(SRC, "deploy", "prometheus", "prometheus.yml")))
targets = {j["job_name"]: t for j in prom["scrape_configs"] for sc in j.get("static_configs", []) for t in sc["targets"]}
if targets.get("cdc-apply") != "cdc-apply:9187":
    fails.append("prometheus.yml: job cdc-apply must scrape cdc-apply:9187")
if targets.get("node", "").split(":")[0] not in services:
    fails.append("prometheus.yml: job node must scrape the node-exporter service")
ams = [t for a in prom.get("alerting", {}).get("alertmanagers", []) for sc in a.get("static_configs", []) for t in sc["targets"]]
if not ams or any(t.split(":")[0] not in services for t in ams):
    fails.append("prometheus.yml: alerting must point at the compose alertmanager service")
am = services.get("alertmanager", {})
amconf = open(os.path.join(SRC, "deploy", "alertmanager", "alertmanager.yml")).read()
for sec in ("pagerduty_routing_key", "slack_webhook_url", "smtp_password"):
    if sec not in am.get("secrets", []) or sec not in doc.get("secrets", {}):
        fails.append(f"alertmanager: secret {sec} is not a compose secret")
    if "/run/secrets/" + sec not in amconf:
        fails.append(f"alertmanager.yml does not read /run/secrets/{sec}")
if "pipeline" not in prom.get("global", {}).get("external_labels", {}):
    fails.append("prometheus.yml: external label 'pipeline' (alert grouping) is missing")
verify = services.get("cdc-verify", {})
tf = verify.get("environment", {}).get("CDC_VERIFY_TEXTFILE", "")
shared = [v for v in verify.get("volumes", []) if tf.startswith(v.split(":")[1])]
ne = services.get("node-exporter", {})
if not shared or not any(v.split(":")[0] == shared[0].split(":")[0] for v in ne.get("volumes", [])):
    fails.append("cdc-verify textfile volume is not shared with node-exporter")
dockerfile = open(os.path.join(SRC, "Dockerfile")).read()
if "scripts/install-deps.sh" not in dockerfile or "FROM debian:bookworm" not in dockerfile:
    fails.append("Dockerfile: build stage must be debian:bookworm with scripts/install-deps.sh")
for f in fails:
    print("FAIL", f)
print(f"{len(services)} services checked" if not fails else "")
sys.exit(1 if fails else 0)
