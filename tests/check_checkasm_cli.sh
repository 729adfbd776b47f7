#!/bin/sh
# checkasm's options: --bench=PATTERN keeps only the timings of the ops whose
# name contains PATTERN (every kind of line: conv, pooling, dense, Adam, sums),
# and --shapes lists per op and tier every shape tested, with its fallback mark.
#   check_checkasm_cli.sh CHECKASM
set -eu
checkasm=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# the timing lines follow the "layer kernel isa" header; the kernel column is
# characters 24-41 (after the 22-character layer name)
bench_ops() {
    sed -n '/^layer  *kernel  *isa/,$p' "$1" | tail -n +2 | grep . | cut -c24-41 | awk '{ print $1 }'
}
tiers=$("$checkasm" --list | awk '$1 == "op" { print NF - 1 }')
for pat in dense_bwd adam accumulate maxpool_bwd; do
    "$checkasm" --quick --test=accumulate --bench=$pat >"$tmp/out" || fail "--bench=$pat failed"
    bench_ops "$tmp/out" >"$tmp/ops"
    n=$(wc -l <"$tmp/ops")
    [ "$n" -ge "$tiers" ] || fail "--bench=$pat: $n timing lines for $tiers tiers: $(cat "$tmp/out")"
    if grep -v -- "$pat" "$tmp/ops" >"$tmp/other"; then
        fail "--bench=$pat timed other ops: $(sort -u "$tmp/other" | tr '\n' ' ')"
    fi
done
# dense_bwd: both dense backward ops, each at every tier
"$checkasm" --quick --test=accumulate --bench=dense_bwd >"$tmp/out"
bench_ops "$tmp/out" | sort | uniq -c >"$tmp/count"
[ "$(awk -v t="$tiers" '$1 == t' "$tmp/count" | wc -l)" -eq 2 ] || fail "--bench=dense_bwd: $(cat "$tmp/count")"

# --shapes: every shape of every op of the tested group, once per tier that has
# its own functions; without it only fallbacks are listed
"$checkasm" --quick --test=accumulate --shapes >"$tmp/out"
for len in 0 1 7 8 9 15 16 17 1003; do
    grep -q "accumulate  *shape    count $len\$" "$tmp/out" || fail "--shapes: no accumulate count $len"
done
"$checkasm" --quick --test=accumulate >"$tmp/out"
if grep -q "accumulate  *shape " "$tmp/out"; then fail "shapes listed without --shapes"; fi
echo "checkasm options: ok ($tiers tiers)"
