#!/bin/sh
# The example programs produce what the article and README promise.
set -eu
summary=$(realpath "$1")
quickstart=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$summary" > "$tmp/summary.txt"
for want in "conv2d (Conv2D)              (None, 498, 498, 32)      320" \
            "max_pooling2d_4 (MaxPooling2D) (None, 13, 13, 64)" \
            "flatten (Flatten)            (None, 10816)             0" \
            "dense_2 (Dense)              (None, 1)                 65" \
            "Total params: 1,467,137"; do
    grep -qF "$want" "$tmp/summary.txt" || { echo "FAIL: summary lacks '$want'"; cat "$tmp/summary.txt"; exit 1; }
done
"$summary" --size 128 | grep -qF "(None, 126, 126, 32)" || { echo "FAIL: --size 128"; exit 1; }
if "$summary" --size 50 2>"$tmp/err"; then echo "FAIL: --size 50 accepted"; exit 1; fi
grep -q "minimum size is 94" "$tmp/err" || { echo "FAIL: no clear error for --size 50"; cat "$tmp/err"; exit 1; }

(cd "$tmp" && "$quickstart" --size 96 --steps 3 --batch 4) > "$tmp/quick.txt"
grep -q "identical predictions" "$tmp/quick.txt" || { echo "FAIL: quickstart"; cat "$tmp/quick.txt"; exit 1; }
grep -q "percent confirmed that this is a" "$tmp/quick.txt" || { echo "FAIL: no diagnosis"; exit 1; }
[ -s "$tmp/quickstart.safetensors" ] || { echo "FAIL: no model file"; exit 1; }
echo "ok: pneumo-summary and pneumo-quickstart"
