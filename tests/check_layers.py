#!/usr/bin/python3
"""Layer rule of lib/: every #include "..." goes down (or sideways) the layer order.

The order is the table under "## Layers" in docs/architecture.md, one row per
folder of lib/, lowest first:

    | layer | folder | holds | may include |
    |---|---|---|---|
    | 1 | `lib/core/` | ... | public headers |
    | 2 | `lib/format/` | ... | every layer below |

A file in lib/<layer>/ may include public headers ("pneumo/...") and headers of
its own layer or, per its "may include" cell, either every layer below
("every layer below") or only the layers named there in backquotes. A quoted
include that names no layer, a folder of lib/ missing from the table, or a
table row whose folder does not exist is an error too, so the table and the
tree cannot drift apart.

Usage: check_layers.py SOURCE_ROOT     check SOURCE_ROOT/lib against its docs
       check_layers.py --self-test     check that violations are caught
Exit status 0 when clean, 1 with one line per violation on stderr.
"""

import os
import re
import sys
import tempfile

SOURCE_SUFFIXES = ('.c', '.h', '.cc')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ROW = re.compile(r'^\|\s*(\d+)\s*\|\s*`lib/([a-z0-9_]+)/`\s*\|[^|]*\|([^|]*)\|\s*$')


def read_layers(doc_path):
    """[(name, allowed)] in order; allowed is None for every layer below."""
    layers = []
    in_section = False
    with open(doc_path, encoding='utf-8') as f:
        for line in f:
            if line.startswith('## '):
                in_section = line.strip() == '## Layers'
                continue
            m = ROW.match(line.rstrip('\n')) if in_section else None
            if not m:
                continue
            if int(m.group(1)) != len(layers) + 1:
                raise ValueError(f'{doc_path}: layer {m.group(2)} is numbered {m.group(1)}, '
                                 f'expected {len(layers) + 1}')
            cell = m.group(3).strip()
            if cell == 'every layer below':
                allowed = None
            else:
                allowed = set(re.findall(r'`([a-z0-9_]+)`', cell))
            layers.append((m.group(2), allowed))
    if not layers:
        raise ValueError(f'{doc_path}: no layer table under "## Layers"')
    return layers


def check(root):
    doc = os.path.join(root, 'docs', 'architecture.md')
    lib = os.path.join(root, 'lib')
    errors = []
    try:
        layers = read_layers(doc)
    except (OSError, ValueError) as e:
        return [str(e)]
    rank = {name: i for i, (name, _) in enumerate(layers)}
    allowed = dict(layers)

    folders = sorted(d for d in os.listdir(lib) if os.path.isdir(os.path.join(lib, d)))
    for d in folders:
        if d not in rank:
            errors.append(f'lib/{d}/: folder missing from the layer table of docs/architecture.md')
    for name, _ in layers:
        if name not in folders:
            errors.append(f'docs/architecture.md: layer {name} has no folder lib/{name}/')
        for other in allowed[name] or ():
            if other not in rank or rank[other] >= rank[name]:
                errors.append(f'docs/architecture.md: layer {name} may include {other}, '
                              f'which is not a layer below it')

    for d in folders:
        if d not in rank:
            continue
        for dirpath, _, files in os.walk(os.path.join(lib, d)):
            for fn in sorted(files):
                if not fn.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.join(dirpath, fn)
                rel = os.path.relpath(path, root)
                with open(path, encoding='utf-8') as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        top = target.split('/', 1)[0] if '/' in target else None
                        if top == 'pneumo' or top == d:
                            continue
                        if top not in rank:
                            errors.append(f'{rel}:{n}: "{target}" names no layer '
                                          f'(include lib headers as "<layer>/<file>")')
                        elif rank[top] > rank[d]:
                            errors.append(f'{rel}:{n}: "{target}": {d} (layer {rank[d] + 1}) '
                                          f'may not include {top} (layer {rank[top] + 1}), '
                                          f'which is above it')
                        elif allowed[d] is not None and top not in allowed[d]:
                            errors.append(f'{rel}:{n}: "{target}": {d} may include only '
                                          f'public headers and '
                                          f'{", ".join(sorted(allowed[d])) or "nothing else"}')
    return errors


def check_tree(doc, files):
    """check() on a temporary tree holding docs/architecture.md and files."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in {'docs/architecture.md': doc, **files}.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), 'w', encoding='utf-8') as f:
                f.write(text)
        return check(tmp)


def self_test():
    """A tree with one violation of each kind must give exactly those errors."""
    doc = ('# A\n\n## Layers\n\n| layer | folder | holds | may include |\n|---|---|---|---|\n'
           '| 1 | `lib/base/` | x | public headers |\n'
           '| 2 | `lib/mid/` | x | every layer below |\n'
           '| 3 | `lib/top/` | x | `base` |\n\n## Other\n\n'
           '| 4 | `lib/late/` | not part of the table | every layer below |\n')
    clean = {
        'lib/base/a.c': '#include "base/a.h"\n#include "pneumo/x.h"\n#include <stdio.h>\n',
        'lib/mid/m.c': '#include "base/a.h"\n#include "mid/m.h"\n',
        'lib/top/t.c': '#include "base/a.h"\n#include "top/t.h"\n',
    }
    bad = {
        'lib/base/a.c': '#include "base/a.h"\n#include "pneumo/x.h"\n#include "mid/m.h"\n',
        'lib/mid/m.c': '#include "base/a.h"\n#include "m.h"\n',
        'lib/top/t.c': '#include "base/a.h"\n  # include "mid/m.h"\n',
        'lib/stray/s.c': '\n',
    }
    expected = [
        'lib/stray/: folder missing',
        'lib/base/a.c:3: "mid/m.h": base (layer 1) may not include mid (layer 2)',
        'lib/mid/m.c:2: "m.h" names no layer',
        'lib/top/t.c:2: "mid/m.h": top may include only public headers and base',
    ]
    got = check_tree(doc, bad)
    if len(got) != len(expected) or not all(any(g.startswith(e) for g in got) for e in expected):
        print('self-test: expected errors starting with', *expected, 'got', *got,
              sep='\n  ', file=sys.stderr)
        return 1
    got = check_tree(doc, clean)
    if got:
        print('self-test: a clean tree gave', *got, sep='\n  ', file=sys.stderr)
        return 1
    print(f'self-test: {len(expected)} violations caught, a clean tree passes')
    return 0


def main(argv):
    if argv[1:] == ['--self-test']:
        return self_test()
    if len(argv) != 2:
        print(__doc__.split('\n\n')[-2], file=sys.stderr)
        return 2
    errors = check(argv[1])
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f'{len(errors)} layer violation(s); the order is in docs/architecture.md',
              file=sys.stderr)
        return 1
    print(f'lib/ includes follow the {len(read_layers(os.path.join(argv[1], "docs", "architecture.md")))}'
          '-layer order of docs/architecture.md')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
