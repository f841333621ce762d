#!/usr/bin/env python3
"""The layering rule, checked on every #include of the layers' sources.

Layers (README, Layout):
  shared   core/, decode/ (library cdccore), public headers include/cdc/
  apply    consumer/ (library cdcapply), headers private to consumer/
  verify   verify/ (library cdcverify), headers private to verify/

A file may include:
  - system headers (<...> that name no project header);
  - include/cdc/ headers, spelt "cdc/NAME.h" (every layer);
  - headers of its own folder;
  - headers the build generates (cdc_config.h).
Anything else is a violation: core/ or decode/ including a consumer/ or
verify/ header (or each other's private ones), consumer/ including verify/
headers and the reverse, a header in include/cdc/ including anything but
include/cdc/.

Usage: check-layers.py [--root DIR] [--stamp FILE] [--self-test]
Prints one line per violation (file:line: what, and what to do) and exits 1;
exits 0 silently (touching --stamp) when the tree keeps the rule. The build
runs it on every `ninja` (meson.build, target check-layers) and the unit
suite runs it with --self-test, which also proves on a scratch tree that
each kind of violation is caught.
"""
import os
import re
import sys
import tempfile

# Folder -> layer. The order is only for messages.
LAYERS = {
    "include/cdc": "shared (public headers)",
    "core": "shared",
    "decode": "shared",
    "consumer": "apply",
    "verify": "verify",
}
GENERATED = {"cdc_config.h"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def project_headers(root):
    """basename -> [folder] of every header in a layer folder."""
    out = {}
    for d in LAYERS:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for f in sorted(os.listdir(full)):
            if f.endswith(".h"):
                out.setdefault(f, []).append(d)
    return out


def check(root):
    """Returns the list of violation lines for the tree at @root."""
    heads = project_headers(root)
    errors = []
    for d in LAYERS:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for f in sorted(os.listdir(full)):
            if not f.endswith((".c", ".h")):
                continue
            path = os.path.join(full, f)
            rel = f"{d}/{f}"
            with open(path, encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh, 1):
                    m = INCLUDE_RE.match(line)
                    if not m:
                        continue
                    why = verdict(root, d, m.group(1), m.group(2), heads)
                    if why:
                        errors.append(f"{rel}:{n}: #include {m.group(1)}{m.group(2)}"
                                      f"{'>' if m.group(1) == '<' else chr(34)}: {why}")
    return errors


def verdict(root, d, quote, name, heads):
    """None when folder @d may include @name, else the reason."""
    norm = os.path.normpath(name)
    if norm.startswith("cdc/") and "/" not in norm[4:]:
        if os.path.isfile(os.path.join(root, "include", norm)):
            return None
        if quote == "<":
            return None  # not ours (no such public header): a system one
        return f"no include/{norm} (public headers are include/cdc/NAME.h)"
    if norm in GENERATED:
        return None
    # A path that resolves next to the including file.
    if quote == '"':
        here = os.path.normpath(os.path.join(root, d, name))
        if os.path.isfile(here):
            owner = os.path.relpath(os.path.dirname(here), root)
            if owner in (d, "include/cdc"):
                return None
            return cross(d, owner)
        # Resolved through an include path ('.' is one: "decode/x.h").
        top = os.path.normpath(os.path.join(root, name))
        if os.path.isfile(top):
            owner = os.path.relpath(os.path.dirname(top), root)
            return None if owner == d else cross(d, owner)
    base = os.path.basename(norm)
    owners = heads.get(base, [])
    if not owners:
        if quote == "<":
            return None  # a system header
        return "not a header of this folder, include/cdc/ or the build"
    if d in owners and norm == base:
        return None
    return cross(d, owners[0])


def cross(d, owner):
    if d == "include/cdc":
        return (f"a public header may include only include/cdc/ headers, not {owner}/ "
                f"(move what it needs into include/cdc/ or the declaration out of it)")
    if owner in LAYERS:
        return (f"{d}/ ({LAYERS[d]}) may not include {owner}/'s private header "
                f"({LAYERS[owner]}); only include/cdc/ and its own folder")
    return f"{d}/ may not include {owner}/ headers; only include/cdc/ and its own folder"


def self_test():
    """Each kind of violation in a scratch tree is reported; a clean tree is not."""
    fails = []
    with tempfile.TemporaryDirectory() as t:
        def w(rel, text):
            p = os.path.join(t, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as fh:
                fh.write(text)
        w("include/cdc/buf.h", '#include <stddef.h>\n')
        w("core/buf.c", '#include "cdc/buf.h"\n#include "core_int.h"\n#include "cdc_config.h"\n')
        w("core/core_int.h", '#include "cdc/buf.h"\n')
        w("decode/decode_int.h", '#include "cdc/buf.h"\n')
        w("consumer/writer.h", '#include "cdc/buf.h"\n')
        w("consumer/writer.c", '#include "writer.h"\n#include <stdio.h>\n')
        w("verify/verify.h", '#include "cdc/buf.h"\n')
        w("verify/scan.c", '#include "verify.h"\n')
        if check(t):
            fails.append(f"clean scratch tree reported: {check(t)}")
        bad = {
            "core/bad1.c": '#include "writer.h"\n',               # core -> apply
            "decode/bad2.c": '#include "../verify/verify.h"\n',   # decode -> verify
            "core/bad3.c": '#include "decode_int.h"\n',          # core -> decode private
            "consumer/bad4.c": '#include "verify.h"\n',          # apply -> verify
            "verify/bad5.c": '#include "consumer/writer.h"\n',   # verify -> apply
            "verify/bad6.c": '#include <writer.h>\n',            # same, via -I
            "include/cdc/bad7.h": '#include "writer.h"\n',       # public -> apply
            "include/cdc/bad8.h": '#include "../../core/core_int.h"\n',  # public -> private
            "consumer/bad9.c": '#include "cdc/writer.h"\n',      # no such public header
        }
        for rel, text in bad.items():
            w(rel, text)
        got = check(t)
        for rel in bad:
            if not any(g.startswith(rel + ":") for g in got):
                fails.append(f"violation in {rel} ({bad[rel].strip()}) not reported")
        if len(got) != len(bad):
            fails.append(f"expected {len(bad)} violations, got {len(got)}: {got}")
    return fails


def main(argv):
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    stamp = None
    run_self_test = False
    i = 0
    while i < len(argv):
        if argv[i] == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
            i += 2
        elif argv[i] == "--stamp" and i + 1 < len(argv):
            stamp = argv[i + 1]
            i += 2
        elif argv[i] == "--self-test":
            run_self_test = True
            i += 1
        else:
            print(f"check-layers: unknown argument {argv[i]!r} "
                  "(use --root DIR, --stamp FILE, --self-test)", file=sys.stderr)
            return 2
    errors = check(root)
    if run_self_test:
        errors += [f"self-test: {f}" for f in self_test()]
    for e in errors:
        print(f"layering: {e}", file=sys.stderr)
    if errors:
        return 1
    if stamp:
        with open(stamp, "w") as fh:
            fh.write("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
