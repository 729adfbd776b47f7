#!/bin/sh
# ABI check (issue 6 item 4): compare the built libpneumo.so with the committed
# baseline tests/abi/libpneumo.abi using abidiff (Debian abigail-tools).
#
#   passes   no change, or only additions (new functions or variables): those
#            keep every existing program working and need no soname bump;
#   fails    anything else abidiff reports: a removed symbol (abidiff exit bit 8,
#            "incompatible"), a changed function signature, parameter or return
#            type, a struct/enum layout change, a changed symbol version or
#            soname (exit bit 4, "ABI change"), or an abidiff error (bits 1, 2).
#
# Additions are judged with `abidiff --no-added-syms` (an addition alone then
# gives exit 0) and listed afterwards for information. Putting a reserved field
# of an option struct to use is compatible by design but still shows up as a
# type change: review the report and refresh the baseline (docs/abi.md).
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
abidw --headers-dir "$headers" --no-corpus-path --out-file "$tmp/current.abi" "$lib" ||
    { echo "FAIL: abidw cannot read $lib"; exit 1; }
arch_of() { sed -n "1s/.*architecture='\([^']*\)'.*/\1/p" "$1"; }
want=$(arch_of "$baseline")
have=$(arch_of "$tmp/current.abi")
[ "$want" = "$have" ] || skip "the baseline is for $want, this library is $have"

echo "abidiff $baseline $lib"
abidiff --no-added-syms --headers-dir2 "$headers" "$baseline" "$lib" >"$tmp/report" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$tmp/report"
    [ $((rc & 1)) -ne 0 ] && echo "FAIL: abidiff reported an error (exit $rc)"
    [ $((rc & 2)) -ne 0 ] && echo "FAIL: abidiff usage error (exit $rc)"
    [ $((rc & 8)) -ne 0 ] && echo "FAIL: incompatible ABI change (removed symbols; exit $rc)"
    [ $((rc & 12)) -eq 4 ] && echo "FAIL: ABI change (changed signatures or types; exit $rc)"
    echo "If the change is intended and compatible (e.g. a reserved field put to use), $refresh."
    echo "Otherwise keep the old signature and add a _v2 function instead."
    exit 1
fi

# Only informational from here on: what was added since the baseline.
abidiff --headers-dir2 "$headers" "$baseline" "$lib" >"$tmp/added" 2>&1
if [ $? -ne 0 ]; then
    echo "note: compatible additions since the baseline (fine; record them in the baseline at release):"
    sed -n '/Added function/,$p' "$tmp/added"
fi
echo "ok: no incompatible ABI change against $(basename "$baseline")"
exit 0
