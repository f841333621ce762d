#!/usr/bin/env python3
"""Unit test: schemas/embed_sql.py embeds the migrations in order and
refuses, with one line naming the file, what would let a database skip a
migration or a schema name break out of a quote.

Usage: check-embed.py EMBED_SQL SCHEMAS_STATE_DIR BAD_DIR OUT_DIR
"""
import os
import subprocess
import sys

embed, state, bad, out = sys.argv[1:5]
failures = 0


def run(files):
    target = os.path.join(out, 'check-embed.c')
    p = subprocess.run([sys.executable, embed, target, 'x'] + files,
                       capture_output=True, text=True)
    return p.returncode, p.stderr, target


def refuse(files, want):
    global failures
    rc, err, _ = run(files)
    if rc != 1 or want not in err or err.count('\n') != 1:
        print('FAIL: %s: want exit 1 and one line with %r, got %d %r' % (files, want, rc, err))
        failures += 1


base = os.path.join(state, '0001_base.sql')
gaps = os.path.join(state, '0003_gaps.sql')
refuse([base, gaps], 'without gaps; have 0001, 0003')
refuse([base, base], 'version 1 is also')
refuse([base, embed], 'is named NNNN_description.sql')
quoted = os.path.join(bad, '0001_placeholder_in_quote.sql')
refuse([quoted], quoted + ':5: :"schema" inside a string or dollar quote')

files = sorted(os.path.join(state, f) for f in os.listdir(state) if f.endswith('.sql'))
rc, err, target = run(files[::-1])   # any order in, version order out
text = open(target).read() if rc == 0 else ''
want = ['{%d, "%s",' % (int(os.path.basename(f)[:4]), os.path.basename(f)[5:-4]) for f in files]
pos = [text.find(w) for w in want]
if rc != 0 or -1 in pos or pos != sorted(pos):
    print('FAIL: embedding %s: rc %d %r, entries at %s' % (files, rc, err, pos))
    failures += 1
sys.exit(1 if failures else 0)
