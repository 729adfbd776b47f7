#!/bin/sh
# ABI check: compare the built libpneumo.so with the committed
# baseline tests/abi/libpneumo.abi using abidiff (Debian abigail-tools).
#
#   passes   no change, or only additions (new functions, new enum constants
#            at the end): those keep every existing program working and need
#            no soname bump;
#   fails    anything else abidiff reports: a removed symbol, a symbol whose
#            version node changed (LIBPNEUMO_0.2, ...), a changed soname (abidiff exit
#            bit 8, "incompatible change"); a changed parameter or return type,
#            a changed size, layout or member type of a public struct, a
#            changed enum value (bit 4, "ABI change"); an abidiff error (bits 1, 2).
#            Opaque handle types (pneumo_model, ...) are excluded: their layout
#            is private.
#
# Additions are judged with `abidiff --no-added-syms` (an addition alone then
# gives exit 0) and listed afterwards for information. Renaming a scalar
# reserved field to a real field of the same type passes (a harmless rename for
# abidiff); taking space from a reserved[N] array is compatible by design but
# shows up as a type change: review the report and refresh the baseline
# (docs/abi.md).
#
# Skips (exit 77) when abidiff is missing, the library has no debug info (build
# with -Dbuildtype=debugoptimized or debug), or the library is for another
# architecture than the baseline. With PNEUMO_ABI_REQUIRED=1 (set by
# .ci/test-all) those conditions fail instead of skipping.
#
# Usage: check_abi.sh BASELINE LIBRARY HEADERS_DIR
set -u
baseline="$1"
lib="$2"
headers="$3"
refresh="refresh it deliberately with 'ninja -C <builddir> abi-baseline' (see docs/abi.md)"

skip() {
    if [ "${PNEUMO_ABI_REQUIRED:-0}" = 1 ]; then
        echo "FAIL (PNEUMO_ABI_REQUIRED=1): $*"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}

command -v abidiff >/dev/null 2>&1 || skip "abidiff not found; install the Debian package abigail-tools"
command -v abidw >/dev/null 2>&1 || skip "abidw not found; install the Debian package abigail-tools"
[ -f "$baseline" ] || { echo "FAIL: no ABI baseline at $baseline; $refresh"; exit 1; }
[ -f "$lib" ] || { echo "FAIL: no library at $lib"; exit 1; }
readelf -S "$lib" | grep -q '\.debug_info' ||
    skip "$lib has no debug info (release build?); abidiff needs -g: use -Dbuildtype=debugoptimized"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --no-corpus-path --out-file "$tmp/current.abi" "$lib" ||
    { echo "FAIL: abidw cannot read $lib"; exit 1; }
arch_of() { sed -n "1s/.*architecture='\([^']*\)'.*/\1/p" "$1"; }
want=$(arch_of "$baseline")
have=$(arch_of "$tmp/current.abi")
[ "$want" = "$have" ] || skip "the baseline is for $want, this library is $have"

# Opaque handles (`typedef struct pneumo_model pneumo_model;` with no body in a
# public header) are private to the library: their layout, and that of every
# internal type reached through them, may change freely. They are named here,
# taken from the headers. abidiff's own private-type filter (--headers-dir2) is
# not used: it goes by file base name (so lib/model/model.h counts as public,
# like include/pneumo/model.h) and it hides changes of system typedefs
# (a parameter going from int32_t to int64_t passes with it).
opaque=$(cat "$headers"/*.h | sed -n 's/^typedef struct \(pneumo_[A-Za-z0-9_]*\) \1;.*/\1/p' | sort -u | paste -sd'|' -)
{
    echo "[suppress_type]"
    echo "  label = opaque handle types (layout private to the library)"
    echo "  type_kind = struct"
    echo "  name_regexp = ^(${opaque:-pneumo_no_opaque_type})\$"
} >"$tmp/opaque.suppr"
run_abidiff() {
    abidiff "$@" --suppr "$tmp/opaque.suppr" "$baseline" "$lib"
}

echo "abidiff $baseline $lib"
run_abidiff --no-added-syms >"$tmp/report" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$tmp/report"
    [ $((rc & 1)) -ne 0 ] && echo "FAIL: abidiff reported an error (exit $rc)"
    [ $((rc & 2)) -ne 0 ] && echo "FAIL: abidiff usage error (exit $rc)"
    [ $((rc & 8)) -ne 0 ] && echo "FAIL: incompatible ABI change (removed symbols, or a changed soname; exit $rc)"
    [ $((rc & 12)) -eq 4 ] && echo "FAIL: ABI change (changed signatures or types; exit $rc)"
    echo "If the change is intended and compatible (e.g. a reserved field put to use), $refresh."
    echo "Otherwise keep the old signature and add a _v2 function instead."
    exit 1
fi

# Only informational from here on: what was added since the baseline.
if ! run_abidiff >"$tmp/added" 2>&1; then
    echo "note: compatible additions since the baseline (fine; record them in the baseline at release):"
    sed -n '/Added function/,$p' "$tmp/added"
fi
echo "ok: no incompatible ABI change against $(basename "$baseline")"
exit 0
