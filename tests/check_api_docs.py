#!/usr/bin/python3
"""API reference check, meson test 'api-docs' in suite 'abi'.

Fails when
  1. docs/api.md is not what tests/gen_api_docs.py generates from the current
     headers (a header changed and the reference was not regenerated);
  2. a function declared with PNEUMO_API, a public type, an enum constant (such
     as every status code) or a macro has no entry in docs/api.md;
  3. a PNEUMO_API function has no doc comment in its header (a new function
     must come with its documentation; KNOWN_UNDOCUMENTED lists the old ones);
  4. with --library: the shared library exports a symbol that no public header
     declares (so it is neither documented nor part of the intended API), or a
     header declares a PNEUMO_API function that the library does not export
     (programs using it would fail to link).

    /usr/bin/python3 tests/check_api_docs.py [--root SRC] [--library libpneumo.so]

Fix 1 with `/usr/bin/python3 tests/gen_api_docs.py` (or `ninja -C <builddir>
api-docs`) and commit docs/api.md. Standard library only.
"""

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_api_docs  # noqa: E402

# Every public function has a doc comment; keep it that way.
KNOWN_UNDOCUMENTED = set()

REGEN = "/usr/bin/python3 tests/gen_api_docs.py   (or: ninja -C <builddir> api-docs)"


def exported_symbols(lib):
    nm = shutil.which("nm")
    if nm is None:
        return None
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         stdout=subprocess.PIPE, universal_newlines=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] in "TDBRVWi" and len(parts[1]) == 1:
            names.add(parts[2].split("@")[0])
    return names


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="check docs/api.md against the headers")
    ap.add_argument("--root", default=os.path.dirname(here))
    ap.add_argument("--library", default=None, help="built libpneumo.so to compare exports with")
    args = ap.parse_args(argv)

    errors = []
    headers = gen_api_docs.parse_api(args.root)
    items = [it for h in headers for it in h.items]
    functions = {it.name: it for it in items if it.kind == "function"}
    if len(functions) < 40:
        errors.append("only %d PNEUMO_API functions found in include/pneumo/*.h; "
                      "is the parser broken?" % len(functions))

    api_md = os.path.join(args.root, "docs", "api.md")
    try:
        with open(api_md, encoding="utf-8") as f:
            current = f.read()
    except OSError as e:
        current = ""
        errors.append("cannot read %s: %s" % (api_md, e))

    # 2. every name has an entry (heading, or a table row for enum constants).
    headings = set(re.findall(r"^### `(\w+)`$", current, flags=re.M))
    rows = set(re.findall(r"^\| `(\w+)` \|", current, flags=re.M))
    missing = [it.name for it in items if it.name not in headings]
    missing += [name for it in items for name, _, _ in it.members if name not in rows]
    if missing:
        errors.append("not documented in docs/api.md (%d): %s%s" % (
            len(missing), ", ".join(missing[:20]), ", ..." if len(missing) > 20 else ""))

    # 1. up to date with the headers.
    expected = gen_api_docs.generate(args.root)
    if current and current != expected:
        diff = list(difflib.unified_diff(current.splitlines(), expected.splitlines(),
                                         "docs/api.md (committed)",
                                         "docs/api.md (from the headers)", lineterm="", n=1))
        shown = "\n".join(diff[:80]) + ("\n..." if len(diff) > 80 else "")
        errors.append("docs/api.md is out of date with include/pneumo/*.h; regenerate it:\n"
                      "    %s\n%s" % (REGEN, shown))

    # 3. doc comments on functions.
    undocumented = sorted(n for n, it in functions.items()
                          if not it.doc.strip() and n not in KNOWN_UNDOCUMENTED)
    if undocumented:
        errors.append("PNEUMO_API functions without a /** doc comment */ in their header: "
                      + ", ".join(undocumented))
    fixed = sorted(n for n in KNOWN_UNDOCUMENTED if n in functions and functions[n].doc.strip())
    if fixed:
        print("note: now documented, remove from KNOWN_UNDOCUMENTED in %s: %s"
              % (os.path.basename(__file__), ", ".join(fixed)))

    # 4. exports versus declarations.
    nexported = None
    if args.library:
        exported = exported_symbols(args.library)
        if exported is None:
            print("note: nm not found; exported symbols not compared")
        else:
            nexported = len(exported)
            declared = set(functions) | {it.name for it in items if it.kind == "variable"}
            extra = sorted(exported - declared)
            absent = sorted(declared - exported)
            if extra:
                errors.append("exported by %s but declared in no public header (hence "
                              "undocumented): %s" % (os.path.basename(args.library),
                                                     ", ".join(extra)))
            if absent:
                errors.append("declared with PNEUMO_API but not exported by %s: %s"
                              % (os.path.basename(args.library), ", ".join(absent)))

    if errors:
        for e in errors:
            print("FAIL: " + e)
        return 1
    ntypes = sum(1 for it in items if it.kind not in ("function", "variable", "macro"))
    nconst = sum(len(it.members) for it in items)
    print("ok: docs/api.md is up to date and documents %d functions, %d types, %d enum "
          "constants and %d macros%s" % (
              len(functions), ntypes, nconst, sum(1 for it in items if it.kind == "macro"),
              "" if nexported is None else
              "; the library's %d exports are exactly the declared functions" % nexported))
    return 0


if __name__ == "__main__":
    sys.exit(main())
