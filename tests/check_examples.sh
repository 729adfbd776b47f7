#!/bin/sh
# The example programs produce what the article and README promise.
set -eu
summary=$(realpath "$1")
quickstart=$(realpath "$2")
bindir=$(dirname "$summary")
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
# the main job on synthetic data: generate, train, evaluate, diagnose
"$bindir/pneumo-synth" "$tmp/synth" --count 32 --size 96 > "$tmp/synth.txt"
grep -q "SYNTHETIC" "$tmp/synth.txt" || { echo "FAIL: pneumo-synth does not say its data is synthetic"; exit 1; }
(cd "$tmp" && "$bindir/pneumo-train" --data synth --size 96 --epochs 2 --batch 8 --test synth/test) > "$tmp/train.txt" \
    || { echo "FAIL: pneumo-train"; cat "$tmp/train.txt"; exit 1; }
for want in "Total params:" "Found 64 images belonging to 2 classes." "class weights: {0: 1.0, 1: 1.0}" \
            "Epoch 2/2" "val_accuracy:" "precision    recall  f1-score   support"; do
    grep -qF "$want" "$tmp/train.txt" || { echo "FAIL: pneumo-train output lacks '$want'"; cat "$tmp/train.txt"; exit 1; }
done
for f in model.safetensors history.csv report.txt; do
    [ -s "$tmp/$f" ] || { echo "FAIL: pneumo-train did not write $f"; exit 1; }
done
[ "$(wc -l < "$tmp/history.csv")" -eq 3 ] || { echo "FAIL: history.csv should have a header and 2 epochs"; exit 1; }
"$bindir/pneumo-evaluate" --model "$tmp/model.safetensors" "$tmp/synth/val" > "$tmp/eval.txt" \
    || { echo "FAIL: pneumo-evaluate"; exit 1; }
grep -q "weighted avg" "$tmp/eval.txt" || { echo "FAIL: no classification report"; exit 1; }
grep -Eq "^Calibration error \(ECE, 10 bins\): 0\.[0-9]{4}$" "$tmp/eval.txt" || { echo "FAIL: no ECE line"; cat "$tmp/eval.txt"; exit 1; }
# temperature scaling and a target-sensitivity threshold, both fitted on val and stored in the model
(cd "$tmp" && "$bindir/pneumo-train" --data synth --size 96 --epochs 1 --batch 8 --calibrate temperature \
    --threshold sensitivity:0.9 --out cal.safetensors --checkpoint cal-ck.safetensors --history cal.csv \
    --report cal.txt) > "$tmp/cal.out" || { echo "FAIL: pneumo-train --calibrate"; cat "$tmp/cal.out"; exit 1; }
t=$(sed -n 's/^temperature scaling (fitted on the validation set): T = \([0-9.]*\)$/\1/p' "$tmp/cal.out")
[ -n "$t" ] || { echo "FAIL: no fitted temperature"; cat "$tmp/cal.out"; exit 1; }
grep -q "^operating threshold (sensitivity:0.9 on the validation set): 0\.[0-9]*$" "$tmp/cal.out" \
    || { echo "FAIL: no sensitivity threshold"; cat "$tmp/cal.out"; exit 1; }
stored=$(strings "$tmp/cal.safetensors" | grep -o 'temperature[^0-9]*[0-9.e-]*' | head -1 | sed 's/.*://')
awk -v a="$stored" -v b="$t" 'BEGIN { d = a - b; exit !(a != 1 && d < 0.00006 && d > -0.00006) }' \
    || { echo "FAIL: the model file carries temperature '$stored', printed T = $t"; exit 1; }
if "$bindir/pneumo-train" --data "$tmp/synth" --calibrate platt 2> "$tmp/err"; then echo "FAIL: --calibrate platt accepted"; exit 1; fi
grep -qF -- "--calibrate: wants 'none' or 'temperature'" "$tmp/err" || { echo "FAIL: --calibrate error"; cat "$tmp/err"; exit 1; }
# an ensemble of the two models with flip TTA, evaluated and diagnosed
"$bindir/pneumo-evaluate" --model "$tmp/model.safetensors" --model "$tmp/cal.safetensors" --tta flip \
    "$tmp/synth/val" > "$tmp/ens.txt" || { echo "FAIL: pneumo-evaluate of an ensemble"; exit 1; }
grep -q "^ensemble: mean probability of 2 models, each image and its mirror$" "$tmp/ens.txt" \
    || { echo "FAIL: ensemble evaluation"; cat "$tmp/ens.txt"; exit 1; }
grep -q "weighted avg" "$tmp/ens.txt" || { echo "FAIL: no report for the ensemble"; exit 1; }
"$bindir/pneumo-diagnose" --model "$tmp/model.safetensors" --model "$tmp/cal.safetensors" --tta flip --json \
    "$tmp/synth/test/Opacity/synth_00000.png" > "$tmp/ens.json" || { echo "FAIL: diagnose with an ensemble"; exit 1; }
grep -q '"models": 2, "tta": "flip"' "$tmp/ens.json" || { echo "FAIL: ensemble diagnosis"; cat "$tmp/ens.json"; exit 1; }
if "$bindir/pneumo-diagnose" --model "$tmp/model.safetensors" --tta mirror x.png 2> "$tmp/err"; then
    echo "FAIL: --tta mirror accepted"; exit 1
fi
grep -qF -- "--tta: wants 'none' or 'flip'" "$tmp/err" || { echo "FAIL: --tta error"; cat "$tmp/err"; exit 1; }
good="$tmp/synth/test/Opacity/synth_00000.png"
"$bindir/pneumo-diagnose" --model "$tmp/model.safetensors" "$good" > "$tmp/diag.txt" \
    || { echo "FAIL: pneumo-diagnose on a good image"; exit 1; }
grep -Eq "I am [0-9]+\.[0-9]{2}% percent confirmed that this is a (Pneumonia|Normal) case" "$tmp/diag.txt" \
    || { echo "FAIL: diagnosis sentence"; cat "$tmp/diag.txt"; exit 1; }
printf 'not an image' > "$tmp/bad.png"
if "$bindir/pneumo-diagnose" --model "$tmp/model.safetensors" --json "$tmp/bad.png" "$good" > "$tmp/diag.json" 2>&1; then
    echo "FAIL: pneumo-diagnose exit status 0 with a bad file"; exit 1
fi
grep -q '"error": ".*bad.png: not a JPEG or PNG image"' "$tmp/diag.json" || { echo "FAIL: JSON error line"; cat "$tmp/diag.json"; exit 1; }
grep -q '"probability_pneumonia": ' "$tmp/diag.json" || { echo "FAIL: the good file was not diagnosed"; exit 1; }
echo "ok: pneumo-summary, pneumo-quickstart, pneumo-synth, pneumo-train, pneumo-evaluate, pneumo-diagnose"
