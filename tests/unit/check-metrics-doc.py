#!/usr/bin/env python3
"""Unit test: the metric catalogs (consumer/apply_metrics_catalog.c and
verify/verify_metrics_catalog.c), their HELP texts and README's metric table agree.

- every catalog metric has a README row and every README row a catalog
  metric (process_* are the standard ones of core/metrics_process.c);
- the type in README is the catalog's;
- the label names in README are the catalog's label set;
- label values README lists, e.g. `component (kafka, postgres, registry)`,
  each appear in the metric's HELP text, and every value the HELP text lists
  in parentheses appears among README's values for that metric.
"""
import os
import re
import sys

SRC = os.environ.get("CDC_SOURCE_ROOT") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TYPES = {"C": "counter", "G": "gauge", "H": "histogram"}
fails = []


CATALOGS = [os.path.join("consumer", "apply_metrics_catalog.c"), os.path.join("verify", "verify_metrics_catalog.c")]


def catalog():
    out = {}
    for rel in CATALOGS:
        text = open(os.path.join(SRC, rel)).read()
        lsets = {}
        for m in re.finditer(r"static const char \*const (L_\w+)\[\] = \{([^}]*)\};", text):
            lsets[m.group(1)] = re.findall(r'"(\w+)"', m.group(2))
        for m in re.finditer(
                r'\[CDC_M\w+\]\s*=\s*\{"(cdc_\w+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*([CGH]),\s*(L_\w+)',
                text):
            help_text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
            out[m.group(1)] = (TYPES[m.group(3)], lsets.get(m.group(4), []), help_text)
    if len(out) < 20:
        fails.append(f"parsed only {len(out)} catalog metrics; parser out of date?")
    return out


def split_top(s):
    """Split at commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def readme():
    text = open(os.path.join(SRC, "README.md")).read()
    start = text.index("| metric | type | labels |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`(\w+\*?)`", cells[0])
        types = [t.strip() for t in cells[1].split(",") if t.strip()]
        # Labels end where the prose starts (": ..." or " — ...").
        labels_text = re.split(r":\s| — ", cells[2], maxsplit=1)[0]
        labels = {}
        for item in split_top(labels_text):
            m = re.match(r"(\w+)(?:\s*\(([^)]*)\))?$", item)
            if m:
                vals = [v.strip() for v in m.group(2).split(",")] if m.group(2) else []
                labels[m.group(1)] = vals
            elif item and " " not in item:
                fails.append(f"README row {cells[0]}: cannot read label {item!r}")
            # anything else is prose about a metric without labels
        for i, n in enumerate(names):
            t = types[i] if len(types) == len(names) else (types[0] if types else "")
            rows[n] = (t, labels)
    return rows


cat = catalog()
doc = readme()
for name, (typ, labels, help_text) in sorted(cat.items()):
    if name not in doc:
        fails.append(f"{name}: in the catalog, missing from README's metric table")
        continue
    dtyp, dlabels = doc[name]
    if dtyp != typ:
        fails.append(f"{name}: README says {dtyp!r}, the catalog {typ!r}")
    if set(dlabels) != set(labels):
        fails.append(f"{name}: README labels {sorted(dlabels)}, catalog labels {sorted(labels)}")
    listed = {v for vals in dlabels.values() for v in vals}
    for v in sorted(listed):
        if not re.search(r"(?<![\w.])" + re.escape(v) + r"(?![\w])", help_text):
            fails.append(f"{name}: README lists label value {v!r}, its HELP text does not: {help_text!r}")
    for group in re.findall(r"\(([^()]*)\)", help_text):
        vals = [v.strip() for v in group.split(",")]
        # Only lists of plain label values (words), not prose in parentheses.
        if len(vals) < 2 or not all(re.fullmatch(r"[a-z_0-9.]+", v) for v in vals):
            continue
        for v in vals:
            if listed and v not in listed:
                fails.append(f"{name}: HELP lists {v!r}, README's label values do not")
for name in sorted(doc):
    if name not in cat and not name.startswith("process_"):
        fails.append(f"{name}: in README's metric table, not in the catalog")
for f in fails:
    print("FAIL", f)
print(f"{len(cat)} metrics: catalog, HELP and README agree" if not fails else "")
sys.exit(1 if fails else 0)
