#!/bin/sh
# pneumo-preview prints what the pipeline sees and writes a labelled PNG grid.
# $1: pneumo-preview, $2: make_fixture_dataset (writes PNG datasets, checks PNGs).
set -eu
preview=$(realpath "$1")
fixture=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/out.txt" ] && cat "$tmp/out.txt"; [ -f "$tmp/err.txt" ] && cat "$tmp/err.txt"; exit 1; }
expect() { grep -qF -- "$1" "$2" || fail "$2 lacks '$1'"; }

# A small dataset: 3 Normal, 5 Opacity and one file that is not an image.
"$fixture" "$tmp/ds" 3 5 --size 40 30 --broken
(cd "$tmp" && "$preview" ds --size 64 --augment --count 4 --seed 1 --out grid.png) \
    > "$tmp/out.txt" 2> "$tmp/err.txt" || fail "preview exited with $?"
expect "Found 8 images belonging to 2 classes." "$tmp/out.txt"
expect "class 0: Normal, 3 images" "$tmp/out.txt"
expect "class 1: Opacity, 5 images" "$tmp/out.txt"
# sklearn 'balanced' weights printed as Python's dict repr: 8/6 and 8/10
expect "class weights: {0: 1.3333333333333333, 1: 0.8}" "$tmp/out.txt"
expect "skipped: ds/Opacity/broken.png: " "$tmp/out.txt"
expect "grid: 4 images, 2 x 2 tiles of 64 px -> grid.png" "$tmp/out.txt"
[ "$(grep -c '^  [0-9]*: \(Normal\|Opacity\)  ds/' "$tmp/out.txt")" = 4 ] || fail "4 samples not listed"
# 2 x 2 tiles of 64 px, gaps of 8 px, two label lines at font scale 1 (19 px)
[ "$("$fixture" --check-png "$tmp/grid.png")" = "152 190" ] || fail "grid.png size: $("$fixture" --check-png "$tmp/grid.png")"
ls -a "$tmp" | grep -q '\.tmp\.' && fail "temporary file left behind"

# The same seed gives the same grid; without --augment one label line.
(cd "$tmp" && "$preview" ds --size 64 --augment --count 4 --seed 1 --out grid2.png) > /dev/null
cmp -s "$tmp/grid.png" "$tmp/grid2.png" || fail "same seed, different grid"
"$preview" "$tmp/ds" --size 250 --count 8 --out "$tmp/plain.png" > "$tmp/out.txt"
# 3 x 3 layout, tiles capped at 200 px, one label line at font scale 3 (33 px)
[ "$("$fixture" --check-png "$tmp/plain.png")" = "632 731" ] || fail "plain.png size: $("$fixture" --check-png "$tmp/plain.png")"
"$preview" "$tmp/ds" --count 0 --out "$tmp/none.png" > "$tmp/out.txt"
[ -e "$tmp/none.png" ] && fail "--count 0 wrote a grid"

# The article's counts: 1082 Normal, 3110 Opacity (1x1 images).
"$fixture" "$tmp/article" 1082 3110 --size 1 1
"$preview" "$tmp/article" --size 8 --count 0 > "$tmp/out.txt" || fail "article counts"
expect "Found 4192 images belonging to 2 classes." "$tmp/out.txt"
expect "class weights: {0: 1.9371534195933457, 1: 0.6739549839228296}" "$tmp/out.txt"

# Errors: usage -> 2, runtime -> 1 with the library's message naming the path.
set +e
"$preview" > /dev/null 2>&1; [ $? -eq 2 ] || fail "no DIR: want exit 2"
"$preview" "$tmp/ds" --count -1 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--count -1: want exit 2"
"$preview" "$tmp/ds" --size 0 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--size 0: want exit 2"
"$preview" "$tmp/ds" --bogus > /dev/null 2>&1; [ $? -eq 2 ] || fail "--bogus: want exit 2"
"$preview" --help > /dev/null 2>&1; [ $? -eq 0 ] || fail "--help: want exit 0"
"$preview" "$tmp/missing" > /dev/null 2> "$tmp/err.txt"; [ $? -eq 1 ] || fail "missing DIR: want exit 1"
grep -qF "$tmp/missing" "$tmp/err.txt" || fail "missing DIR not named"
"$preview" "$tmp/ds" --size 16 --out "$tmp/no/such/dir/g.png" > /dev/null 2> "$tmp/err.txt"
[ $? -eq 1 ] || fail "unwritable --out: want exit 1"
grep -qF "$tmp/no/such/dir/g.png" "$tmp/err.txt" || fail "unwritable --out not named"
set -e
rm -f "$tmp/out.txt" "$tmp/err.txt"
echo "ok: pneumo-preview"
