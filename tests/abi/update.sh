#!/bin/sh
# Regenerate the ABI baseline tests/abi/libpneumo.abi from a built libpneumo.so.
#
# Run this only to record a deliberate, reviewed ABI change (new functions, a
# reserved field put to use, or a soname bump): see docs/abi.md. The usual way:
#
#   meson setup build-abi -Dbuildtype=debugoptimized   # gcc, with -g
#   ninja -C build-abi abi-baseline
#
# or by hand: tests/abi/update.sh build-abi/lib/libpneumo.so
#
# The output does not depend on the build or source directory (no paths:
# locations are file base names and lines; hashed type ids), so two builds of
# the same sources give the same file. Record it from a GCC build with debug info (the CI's
# debugoptimized builds); a clang build gives an equivalent ABI (abidiff finds no
# difference) but a textually different file.
#
# Usage: update.sh LIBRARY [OUTPUT]   (OUTPUT defaults to tests/abi/libpneumo.abi)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
lib="${1:?usage: update.sh path/to/libpneumo.so [output]}"
out="${2:-$here/libpneumo.abi}"

command -v abidw >/dev/null 2>&1 || {
    echo "update.sh: abidw not found (Debian package abigail-tools)" >&2; exit 1; }
[ -f "$lib" ] || { echo "update.sh: no library at $lib" >&2; exit 1; }
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
    echo "update.sh: $lib has no debug info; build with -Dbuildtype=debugoptimized (or -g)" >&2
    exit 1
fi
if readelf -p .comment "$lib" 2>/dev/null | grep -qi clang; then
    echo "update.sh: warning: $lib was built with clang; the committed baseline comes from GCC" >&2
fi

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# Every type reachable from an exported function is recorded, including the
# private layouts behind the opaque handles: tests/check_abi.sh ignores changes
# there. (abidw/abidiff's --headers-dir filter is not used: it also hides
# changes of system typedefs such as int32_t -> int64_t in a parameter.)
abidw --no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed \
      --drop-undefined-syms --type-id-style hash \
      --out-file "$tmp" "$lib"
# Sanity check: the baseline must describe the exported functions.
nfun=$(grep -c '<elf-symbol name=' "$tmp" || true)
[ "$nfun" -ge 40 ] || { echo "update.sh: only $nfun symbols in the ABI dump of $lib" >&2; exit 1; }
mv "$tmp" "$out"
trap - EXIT
echo "update.sh: wrote $out ($nfun exported symbols) from $lib"
