#!/bin/sh
# Every dynamic symbol the shared library exports must start with pneumo_
# (hidden visibility keeps internals out of the ABI).
set -eu
lib="$1"
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}')
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
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libpneumo.so.0" ] || { echo "FAIL: soname is '$soname', expected libpneumo.so.0"; exit 1; }
echo "ok: $count exported symbols, all pneumo_*, soname $soname"
