#!/bin/sh
# Exports of the shared library:
#   - every defined dynamic symbol starts with pneumo_ (hidden visibility and the
#     linker version script lib/libpneumo.map keep internals out of the ABI);
#   - every one of them carries the symbol version LIBPNEUMO_0 (the version
#     script was applied; an unversioned or differently versioned export fails);
#   - a few core functions are present and the soname is libpneumo.so.0.
# Usage: check_exports.sh path/to/libpneumo.so
set -eu
lib="$1"
expected_version=LIBPNEUMO_0
expected_soname=libpneumo.so.0

# nm from binutils >= 2.35 appends @@VERSION to versioned names: strip it here,
# the versions are checked with objdump below.
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {sub(/@.*/, "", $3); print $3}' | sort -u)
count=$(printf '%s\n' "$exports" | grep -c . || true)
if [ "$count" -lt 40 ]; then
    echo "FAIL: only $count exported symbols in $lib (expected the public API)"
    exit 1
fi
bad=$(printf '%s\n' "$exports" | grep -v '^pneumo_' || true)
if [ -n "$bad" ]; then
    echo "FAIL: symbols outside the pneumo_ prefix are exported from $lib:"
    printf '%s\n' "$bad"
    exit 1
fi
for sym in pneumo_version pneumo_model_create pneumo_model_save pneumo_tensor_create; do
    printf '%s\n' "$exports" | grep -qx "$sym" || { echo "FAIL: $sym is not exported"; exit 1; }
done

# objdump -T: "ADDR l/g FLAGS SECTION SIZE [VERSION] NAME". Defined symbols have a
# section other than *UND*; the version node itself is an *ABS* entry named
# LIBPNEUMO_0. The version column is "(NAME)" for hidden (non-default)
# versions and absent for unversioned symbols, so take the last two fields.
versions=$(objdump -T "$lib" | awk '
    NF >= 5 && $1 ~ /^[0-9a-f]+$/ && $0 !~ /\*UND\*/ {
        name = $NF; ver = (NF >= 7) ? $(NF - 1) : "(none)"
        if (name ~ /^pneumo_/) print name, ver
    }')
if ! objdump -T "$lib" | grep -q "ABS.*$expected_version"; then
    echo "FAIL: $lib defines no $expected_version version node (was lib/libpneumo.map applied?)"
    exit 1
fi
unversioned=$(printf '%s\n' "$versions" | awk -v v="$expected_version" '$2 != v' || true)
if [ -n "$unversioned" ]; then
    echo "FAIL: exports without the $expected_version symbol version (name, version):"
    printf '%s\n' "$unversioned"
    exit 1
fi
nversioned=$(printf '%s\n' "$versions" | grep -c . || true)
if [ "$nversioned" -ne "$count" ]; then
    echo "FAIL: nm lists $count exports but objdump shows $nversioned versioned pneumo_ symbols"
    exit 1
fi

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "$expected_soname" ] || { echo "FAIL: soname is '$soname', expected $expected_soname"; exit 1; }
echo "ok: $count exported symbols, all pneumo_* with version $expected_version, soname $soname"
