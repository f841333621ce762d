#!/usr/bin/env python3
"""Unit test: the Grafana dashboard and provisioning in deploy/grafana agree
with the code.

- the dashboard is modern JSON (schemaVersion >= 36) using only stat,
  timeseries, table and bargauge panels (plus rows), each with a title,
  a description and a unit, laid out without overlaps;
- every PromQL expression (panels and template variables) names only metrics
  declared in consumer/apply_metrics_catalog.c or verify/verify_metrics_catalog.c (histogram series with their _bucket /
  _sum / _count suffixes), the process_* metrics of core/metrics_process.c, plus
  Prometheus' own `up`; label matchers,
  grouping labels and {{legend}} labels exist on those metrics;
  rate()/increase() windows are $__rate_interval or $__range;
- every datasource reference uses a uid (and type) provisioned in
  provisioning/datasources;
- every SQL query is a single read-only SELECT on state tables and columns
  created by schemas/state/*.sql, and the dead-letter panel never selects the raw
  key/value bytes.
"""
import json
import os
import re
import sys

SRC = os.environ.get("CDC_SOURCE_ROOT") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DASH_DIR = os.path.join(SRC, "deploy", "grafana", "dashboards")
DS_DIR = os.path.join(SRC, "deploy", "grafana", "provisioning", "datasources")
ALLOWED_PANELS = {"stat", "timeseries", "table", "bargauge", "row"}
DEPRECATED = {"graph", "singlestat", "table-old", "grafana-piechart-panel",
              "grafana-worldmap-panel", "gauge-old"}
SCOPE_LABELS = {"job", "instance"}          # added by the scrape
PROMQL_WORDS = {"and", "or", "unless", "offset", "bool", "by", "without", "on",
                "ignoring", "group_left", "group_right", "inf", "nan", "atan2"}

failures = []


def fail(where, msg):
    failures.append(f"{where}: {msg}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- catalog
CATALOGS = [os.path.join("consumer", "apply_metrics_catalog.c"), os.path.join("verify", "verify_metrics_catalog.c")]


def load_catalog():
    metrics = {}
    for rel in CATALOGS:
        text = read(os.path.join(SRC, rel))
        lsets = {}
        for m in re.finditer(r"static const char \*const (L_\w+)\[\] = \{(.*?)\};", text, re.S):
            lsets[m.group(1)] = set(re.findall(r'"(\w+)"', m.group(2)))
        for m in re.finditer(r'\[CDC_M\w+\]\s*=\s*\{"(cdc_\w+)",(.*?),\s*([CGH]),\s*(L_\w+)', text,
                             re.S):
            name, kind, lset = m.group(1), m.group(3), m.group(4)
            if lset not in lsets:
                fail(rel, f"cannot resolve label set {lset} of {name}")
                continue
            labels = lsets[lset] | SCOPE_LABELS
            if kind == "H":
                metrics[name + "_bucket"] = labels | {"le"}
                metrics[name + "_sum"] = labels
                metrics[name + "_count"] = labels
            else:
                metrics[name] = labels
    if len(metrics) < 20:
        fail("metric catalogs", f"parsed only {len(metrics)} metrics; parser out of date?")
    metrics["up"] = set(SCOPE_LABELS)
    # The standard process metrics, declared in core/metrics_process.c (process_descs).
    for m in re.finditer(r'\{"(process_\w+)"', read(os.path.join(SRC, "core", "metrics_process.c"))):
        metrics[m.group(1)] = set(SCOPE_LABELS)
    return metrics


# ------------------------------------------------------------ state schema
def load_state_schema():
    """Tables and columns as the migrations in schemas/state leave them."""
    mig_dir = os.path.join(SRC, "schemas", "state")
    text = "\n".join(read(os.path.join(mig_dir, fn))
                     for fn in sorted(os.listdir(mig_dir)) if fn.endswith(".sql"))
    coltype = (r'(\w+)\s+(?:text|integer|bigint|bigserial|bytea|jsonb|timestamptz|'
               r'double precision|boolean|numeric)\b')
    tables = {}
    for m in re.finditer(r'CREATE TABLE IF NOT EXISTS :"schema"\.(\w+) \((.*?)\);', text, re.S):
        cols = set(re.findall(r'(?:^|,|\()\s*' + coltype, m.group(2)))
        cols.discard("PRIMARY")
        tables[m.group(1)] = cols
    # Added columns: ALTER TABLE :"schema".t ADD COLUMN c type, or the same
    # through format('ALTER TABLE %I.t ADD COLUMN c type', ...).
    for m in re.finditer(r'ALTER TABLE (?::"schema"|%I)\.(\w+) ADD COLUMN (?:IF NOT EXISTS )?'
                         + coltype, text):
        tables.setdefault(m.group(1), set()).add(m.group(2))
    for need in ("verify_runs", "dead_letter"):
        if not tables.get(need):
            fail("schemas/state", f"could not parse the columns of {need}; parser out of date?")
    if "scope" not in tables.get("verify_runs", set()):
        fail("schemas/state", "could not parse verify_runs.scope (an added column); parser out of date?")
    return tables


# ------------------------------------------------------------ datasources
def load_datasources():
    out = {}
    for fn in sorted(os.listdir(DS_DIR)):
        if not fn.endswith((".yaml", ".yml")):
            continue
        text = read(os.path.join(DS_DIR, fn))
        try:
            import yaml
            doc = yaml.safe_load(text)
            items = [(d.get("uid"), d.get("type")) for d in doc.get("datasources", [])]
        except ImportError:   # fall back to the flat layout this file uses
            items = []
            for block in re.split(r"\n\s*- name:", text)[1:]:
                uid = re.search(r"\n\s*uid:\s*(\S+)", block)
                typ = re.search(r"\n\s*type:\s*(\S+)", block)
                items.append((uid and uid.group(1), typ and typ.group(1)))
        for uid, typ in items:
            if not uid:
                fail(fn, "datasource without a pinned uid")
            else:
                out[uid] = typ
    return out


PG_TYPES = {"postgres", "grafana-postgresql-datasource"}


def check_ds(where, ref, datasources, want=None):
    if not isinstance(ref, dict) or "uid" not in ref:
        fail(where, f"datasource must be a {{type, uid}} reference, got {ref!r}")
        return None
    uid = ref["uid"]
    if uid not in datasources:
        fail(where, f"datasource uid {uid!r} is not provisioned ({sorted(datasources)})")
        return None
    typ = datasources[uid]
    rtyp = ref.get("type")
    same = rtyp == typ or (rtyp in PG_TYPES and typ in PG_TYPES)
    if rtyp and not same:
        fail(where, f"datasource {uid} has type {typ}, referenced as {rtyp}")
    if want and not (typ == want or (want in PG_TYPES and typ in PG_TYPES)):
        fail(where, f"expected a {want} datasource, got {uid} ({typ})")
    return typ


# ------------------------------------------------------------------ PromQL
SEL = re.compile(r'([a-zA-Z_:][\w:]*)?\s*\{([^{}]*)\}')
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
GROUP = re.compile(r'\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)')


def check_promql(where, expr, metrics, legend=None):
    if "$" in expr:
        for w in re.findall(r"\[([^\]]*)\]", expr):
            if not re.fullmatch(r"\$__rate_interval|\$__range|\d+[smhd]|\$__interval", w):
                fail(where, f"range [{w}]: use $__rate_interval or $__range")
    for fn, w in re.findall(r"\b(rate|increase|irate)\s*\([^\[]*\[([^\]]*)\]", expr):
        if w not in ("$__rate_interval", "$__range"):
            fail(where, f"{fn}(...[{w}]): use $__rate_interval (or $__range)")
    used = set()
    e = expr
    # 1. selectors with label matchers
    for m in SEL.finditer(expr):
        name, body = m.group(1), m.group(2)
        if name in PROMQL_WORDS:   # e.g. "by {" never happens, but be safe
            name = None
        names = [name] if name else []
        pairs = MATCHER.findall(body)
        leftover = MATCHER.sub("", body).replace(",", "").strip()
        if leftover:
            fail(where, f"cannot parse matchers {{{body}}}")
        for lab, op, val in pairs:
            if lab == "__name__":
                alts = val.split("|") if op == "=~" else [val]
                if not all(re.fullmatch(r"[a-zA-Z_:][\w:]*", a) for a in alts):
                    fail(where, f"__name__ matcher {val!r} must be literal names")
                names += alts
        if not names:
            fail(where, f"selector {{{body}}} without a metric name")
        for n in names:
            used.add(n)
            if n not in metrics:
                fail(where, f"unknown metric {n} (not in the metric catalogs)")
                continue
            for lab, _, _ in pairs:
                if lab != "__name__" and lab not in metrics[n]:
                    fail(where, f"{n} has no label {lab!r} (has {sorted(metrics[n])})")
    e = SEL.sub(lambda m: " " + (m.group(1) or "") + " ", e)
    e = re.sub(r'"(?:[^"\\]|\\.)*"', " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    grouping = set()
    for m in GROUP.finditer(e):
        grouping |= {x.strip() for x in m.group(2).split(",") if x.strip()}
    e = GROUP.sub(" ", e)
    e = re.sub(r"\$\{?\w+(?::\w+)?\}?", " ", e)
    for m in re.finditer(r"(?<![\w.$:])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()", e):
        tok = m.group(1)
        if tok.lower() in PROMQL_WORDS:
            continue
        used.add(tok)
        if tok not in metrics:
            fail(where, f"unknown metric {tok} (not in the metric catalogs)")
    known = set()
    for n in used:
        known |= metrics.get(n, set())
    for lab in grouping:
        if lab not in known:
            fail(where, f"grouping label {lab!r} is on none of {sorted(used)}")
    if legend:
        for lab in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
            if lab not in known:
                fail(where, f"legend label {lab!r} is on none of {sorted(used)}")
    return used


# --------------------------------------------------------------------- SQL
WRITE_SQL = re.compile(r"\b(insert|update|delete|drop|alter|truncate|create|grant|copy)\b", re.I)


def check_sql(where, sql, tables, title):
    body = sql.strip()
    if not re.match(r"(?is)^select\b", body):
        fail(where, "SQL must be a single SELECT")
    if ";" in body:
        fail(where, "SQL must be one statement (no ';')")
    if WRITE_SQL.search(re.sub(r"'[^']*'", "''", body)):
        fail(where, "SQL contains a write or DDL keyword")
    aliases = {}
    for m in re.finditer(r"\bcdc\.(\w+)(?:\s+(?:AS\s+)?(\w+))?", body, re.I):
        tbl, alias = m.group(1), m.group(2)
        if tbl not in tables:
            fail(where, f"cdc.{tbl} is not a state table (schemas/state has {sorted(tables)})")
            continue
        if not alias or alias.upper() in ("WHERE", "ORDER", "GROUP", "LIMIT", "JOIN", "ON"):
            fail(where, f"give cdc.{tbl} an alias and qualify its columns (alias.column)")
            continue
        aliases[alias] = tbl
    if not aliases:
        fail(where, "SQL reads no cdc.* state table")
    refs = re.findall(r"\b(\w+)\.(\w+)\b", re.sub(r"'[^']*'", "''", body))
    for a, col in refs:
        if a == "cdc":
            continue
        if a not in aliases:
            fail(where, f"{a}.{col}: unknown table alias")
        elif col not in tables[aliases[a]]:
            fail(where, f"{aliases[a]} has no column {col!r} (has {sorted(tables[aliases[a]])})")
    for a, tbl in aliases.items():
        if tbl == "dead_letter":
            for col in ("key", "value", "headers"):
                if (a, col) in refs:
                    fail(where, f"dead letter panel selects raw {col}; show topic/partition/offset/error")
            if re.search(rf"\b{a}\.\*|select\s+\*", body, re.I):
                fail(where, "dead letter panel must not SELECT *")
    return set(aliases.values())


# ------------------------------------------------------------------- main
def overlap(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and
            a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def check_dashboard(path, metrics, tables, datasources):
    name = os.path.basename(path)
    d = json.loads(read(path))
    if not d.get("uid"):
        fail(name, "no dashboard uid")
    if int(d.get("schemaVersion", 0)) < 36:
        fail(name, f"schemaVersion {d.get('schemaVersion')} < 36")
    if "__inputs" in json.dumps(d.get("__inputs", "")) and d.get("__inputs"):
        fail(name, "__inputs only works for UI import; provisioning needs pinned uids")
    if "${DS_" in read(path):
        fail(name, "${DS_...} references do not resolve in provisioned dashboards")
    for v in d.get("templating", {}).get("list", []):
        where = f"{name} variable {v.get('name')}"
        if v.get("type") == "query":
            typ = check_ds(where, v.get("datasource"), datasources)
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "")
            if typ == "prometheus":
                if not m:
                    fail(where, f"expected label_values(selector, label), got {q!r}")
                else:
                    used = check_promql(where, m.group(1), metrics)
                    if not any(m.group(2) in metrics.get(u, ()) for u in used):
                        fail(where, f"label {m.group(2)} is on none of {sorted(used)}")
    panels = []
    for p in d.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))   # collapsed rows
    types = {p.get("type") for p in panels}
    seen_ids = set()
    prom_metrics, sql_tables, titles = set(), set(), []
    for p in panels:
        t = p.get("type")
        where = f"{name} panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in seen_ids:
            fail(where, "duplicate panel id")
        seen_ids.add(p.get("id"))
        if t in DEPRECATED or t not in ALLOWED_PANELS:
            fail(where, f"panel type {t!r} not allowed (use {sorted(ALLOWED_PANELS - {'row'})})")
        titles.append(p.get("title", ""))
        if t == "row":
            continue
        if not p.get("title") or not p.get("description"):
            fail(where, "panel needs a title and a description")
        if "unit" not in p.get("fieldConfig", {}).get("defaults", {}):
            fail(where, "panel needs fieldConfig.defaults.unit")
        pds = p.get("datasource")
        ptyp = check_ds(where, pds, datasources)
        if not p.get("targets"):
            fail(where, "panel without targets")
        for tg in p.get("targets", []):
            tw = f"{where} target {tg.get('refId')}"
            ttyp = check_ds(tw, tg.get("datasource", pds), datasources)
            if ttyp == "prometheus":
                if not tg.get("expr"):
                    fail(tw, "prometheus target without expr")
                    continue
                prom_metrics |= check_promql(tw, tg["expr"], metrics, tg.get("legendFormat"))
            elif ttyp in PG_TYPES:
                if not tg.get("rawSql") or not tg.get("rawQuery"):
                    fail(tw, "PostgreSQL target needs rawQuery with rawSql")
                    continue
                sql_tables |= check_sql(tw, tg["rawSql"], tables, p.get("title"))
                if tg.get("format") == "time_series" and not re.search(r'AS\s+"?time"?', tg["rawSql"], re.I):
                    fail(tw, "time_series format needs a column named time")
            elif ttyp is not None:
                fail(tw, f"unexpected datasource type {ttyp}")
            if ptyp and ttyp and ptyp != ttyp:
                fail(tw, "target datasource differs from the panel's (use -- Mixed -- explicitly)")
    # layout
    boxes = [(p.get("id"), p.get("gridPos")) for p in panels]
    for i, (ia, a) in enumerate(boxes):
        if not a or a["x"] + a["w"] > 24:
            fail(name, f"panel {ia}: bad gridPos {a}")
            continue
        for ib, b in boxes[i + 1:]:
            if b and overlap(a, b):
                fail(name, f"panels {ia} and {ib} overlap")
    return types, prom_metrics, sql_tables, titles


def main():
    metrics = load_catalog()
    tables = load_state_schema()
    datasources = load_datasources()
    if "prometheus" not in datasources.values():
        fail("datasources", "no Prometheus datasource provisioned")
    if not PG_TYPES & set(datasources.values()):
        fail("datasources", "no PostgreSQL datasource provisioned")
    files = sorted(f for f in os.listdir(DASH_DIR) if f.endswith(".json"))
    if "cdc-data-quality.json" not in files:
        fail("dashboards", "cdc-data-quality.json missing")
    for f in files:
        types, used, sqlt, titles = check_dashboard(os.path.join(DASH_DIR, f), metrics, tables, datasources)
        if f == "cdc-data-quality.json":
            for row in ("Pipeline health", "Lag", "Throughput", "Errors", "Data quality"):
                if not any(t.startswith(row) for t in titles):
                    fail(f, f"row {row!r} missing")
            for need in ("cdc_verify_consistency_score", "cdc_event_lag_seconds_bucket",
                         "cdc_replication_lag_seconds", "cdc_consumer_lag_messages",
                         "cdc_errors_total", "cdc_dead_letter_total", "cdc_connection_up"):
                if need not in used:
                    fail(f, f"no panel shows {need}")
            for need in ("verify_runs", "dead_letter"):
                if need not in sqlt:
                    fail(f, f"no SQL panel reads cdc.{need}")
        print(f"{f}: {len(titles)} panels, types {sorted(types)}, "
              f"{len(used)} metric names, state tables {sorted(sqlt)}")
    for x in failures:
        print("FAIL", x)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
