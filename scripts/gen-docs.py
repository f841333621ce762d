#!/usr/bin/env python3
"""README's option and metric tables, generated from the programs' own tables.

Each program prints its rows with the hidden flag --help-markdown: the
option rows come from the same configuration table as --help (core/config.c),
the metric rows from the program's metric catalog (consumer/apply_metrics_catalog.c,
verify/verify_metrics_catalog.c) with the HELP texts a scrape shows. This script puts
them between README.md's marker comments:

  <!-- BEGIN generated: cdc-apply options -->  ...  <!-- END generated: cdc-apply options -->
  (also cdc-verify options, cdc-decode options, metrics)

Usage: gen-docs.py [--build DIR] [--readme FILE] (--write | --check)
  --write  rewrite the sections in README.md
  --check  exit 1 with a diff when README.md differs from the generated text
           (the unit test 'docs')
DIR is the meson build directory (default: $CDC_BUILD_ROOT, else ./build).
"""
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PROGRAMS = ["cdc-apply", "cdc-verify", "cdc-decode"]
METRIC_HEADER = "| metric | type | labels | meaning |\n| --- | --- | --- | --- |\n"


def program_sections(build, prog):
    """{'options': text, 'metrics': text} as the program prints them."""
    exe = os.path.join(build, prog)
    try:
        out = subprocess.run([exe, "--help-markdown"], check=True, capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        sys.exit(f"gen-docs: cannot run {exe} --help-markdown ({e}); build first (ninja -C {build})")
    sections, name = {}, None
    for line in out.splitlines(keepends=True):
        m = re.fullmatch(r"<!-- (\w+) -->\n", line)
        if m:
            name = m.group(1)
            sections[name] = ""
        elif name is None:
            sys.exit(f"gen-docs: {prog} --help-markdown printed {line!r} before a section line")
        else:
            sections[name] += line
    return sections


def generated(build):
    """Section name -> generated text (rows ending in a newline)."""
    out, metrics = {}, {}
    for prog in PROGRAMS:
        s = program_sections(build, prog)
        if "options" not in s:
            sys.exit(f"gen-docs: {prog} --help-markdown printed no options section")
        out[f"{prog} options"] = s["options"]
        for row in s.get("metrics", "").splitlines(keepends=True):
            metrics[row.split("|")[1].strip()] = row
    # One table for both programs, by name as a scrape lists them; the
    # standard process_* ones last.
    order = sorted(metrics, key=lambda n: (n.startswith("`process_"), n))
    out["metrics"] = METRIC_HEADER + "".join(metrics[n] for n in order)
    return out


def replace_sections(text, gen):
    """README text with every generated section replaced; exits on a missing marker."""
    for name, body in gen.items():
        begin = f"<!-- BEGIN generated: {name} -->\n"
        end = f"<!-- END generated: {name} -->"
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            sys.exit(f"gen-docs: README.md lacks the markers {begin.strip()} ... {end}; "
                     "add them where the table goes")
        text = text[:i + len(begin)] + body + text[j:]
    return text


def main(argv):
    build = os.environ.get("CDC_BUILD_ROOT") or os.path.join(ROOT, "build")
    readme = os.path.join(ROOT, "README.md")
    mode = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--build", "--readme") and i + 1 < len(argv):
            if a == "--build":
                build = argv[i + 1]
            else:
                readme = argv[i + 1]
            i += 2
        elif a in ("--write", "--check"):
            mode = a
            i += 1
        else:
            sys.exit(f"gen-docs: unknown argument {a!r} (use --build DIR, --readme FILE, "
                     "--write or --check)")
    if not mode:
        sys.exit("gen-docs: say --write (update README.md) or --check (compare only)")
    with open(readme, encoding="utf-8") as f:
        old = f.read()
    new = replace_sections(old, generated(build))
    if mode == "--write":
        if new != old:
            with open(readme, "w", encoding="utf-8") as f:
                f.write(new)
        return 0
    if new == old:
        print(f"{readme}: option and metric tables match the programs")
        return 0
    sys.stdout.writelines(difflib.unified_diff(old.splitlines(keepends=True),
                                               new.splitlines(keepends=True),
                                               "README.md", "generated", n=1))
    print(f"FAIL {readme} differs from the programs' tables: change the table in the code "
          "(option help, metric catalog), then run scripts/gen-docs.py --write")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
