#!/bin/sh
# pneumo-train --recipe and --seeds: the best recipe builds its network and
# records its settings, --seeds trains each seed exactly as `--seed K` would,
# its summary's figures are those pneumo-evaluate gives for each seed's model
# and their mean and sample SD, a finished seed is reused, and a folder
# trained with other settings is refused and left as it was.
set -eu
bindir=$(realpath "$1")
train="$bindir/pneumo-train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bindir/pneumo-synth" "$tmp/synth" --count 24 --size 96 > /dev/null
cd "$tmp"
common="--data synth --size 96 --epochs 1 --batch 8 --threads 2"

# the best recipe: compact batch-normalised network, its settings recorded
"$train" --recipe best $common --quiet --out best.safetensors || fail "--recipe best"
grep -qF "model compact" report.txt || fail "report does not name the compact model"
grep -qF "AdamW (weight decay 0.02) lr 0.002, cosine decay after 0 warm-up epochs, label smoothing 0.1" report.txt ||
    fail "report does not state the best recipe's optimizer"
grep -q "BatchNormalization" report.txt || fail "no BatchNormalization layer in the best recipe's model"
grep -q "GlobalAveragePooling2D" report.txt || fail "no GlobalAveragePooling2D layer in the best recipe's model"
grep -qF "brightness 0.75..1.25, contrast 0.75..1.25, gamma 0.8..1.25, crop 0.85..1," report.txt ||
    { sed -n 3p report.txt; fail "report does not state the best recipe's contrast, gamma and crop"; }
# the recipe's extras equal the flags: the same bits; --augment replaces set and extras
"$train" --recipe best $common --quiet --augment strong --contrast 0.75,1.25 --gamma 0.8,1.25 --crop 0.85 \
    --out best-flags.safetensors || fail "--recipe best with its intensity flags"
cmp -s best.safetensors best-flags.safetensors || fail "--recipe best differs from its own flags"
"$train" --recipe best $common --quiet --augment strong --out best-strong.safetensors || fail "--augment strong"
! grep -qF "contrast" report.txt || fail "--augment strong kept the recipe's contrast"
"$train" --recipe best $common --quiet --contrast off --gamma off --crop off --out best-off.safetensors ||
    fail "--contrast off --gamma off --crop off"
cmp -s best-strong.safetensors best-off.safetensors || fail "--contrast/--gamma/--crop off differ from --augment strong"
# resuming with a flag against the recorded architecture is refused
if "$train" $common --resume checkpoint.safetensors --model article 2> err.txt; then fail "--model conflict accepted"; fi
grep -qF "model compact" err.txt || { cat err.txt; fail "conflict does not name the recorded model"; }
if "$train" $common --recipe fastest 2> err.txt; then fail "--recipe fastest accepted"; fi
grep -qF -- "--recipe: wants article or best" err.txt || fail "no clear error for an unknown recipe"
if "$train" $common --augment wild 2> err.txt; then fail "--augment wild accepted"; fi
if "$train" $common --seeds 2 --out x.safetensors 2> err.txt; then fail "--seeds with --out accepted"; fi
grep -qF -- "--out cannot be used with --seeds" err.txt || fail "no clear error for --seeds with --out"

# two seeds, judged on synth/test
"$train" $common --seeds 2 --runs-dir runs --test synth/test --quiet || fail "--seeds 2"
for f in runs/seed-1/model.safetensors runs/seed-2/model.safetensors runs/seed-2/history.csv \
         runs/seed-2/report.txt runs/seed-2/report.html runs/summary.txt runs/summary.json; do
    [ -s "$f" ] || fail "--seeds did not write $f"
done
# a seed's run is exactly `pneumo-train --seed K`: same model bits
"$train" $common --seed 2 --quiet --out single.safetensors || fail "single run"
cmp -s single.safetensors runs/seed-2/model.safetensors || fail "seed 2 of --seeds differs from --seed 2"
# each seed's test accuracy as pneumo-evaluate measures it, and mean / SD of them
for s in 1 2; do
    "$bindir/pneumo-evaluate" --model runs/seed-$s/model.safetensors synth/test --threads 2 > eval-$s.txt
    sed -n 's/^loss: [0-9.]* - accuracy: \([0-9.]*\) .*/\1/p' eval-$s.txt > acc-$s.txt
done
/usr/bin/python3 - "$(cat acc-1.txt)" "$(cat acc-2.txt)" runs/summary.json <<'PY' || fail "summary.json disagrees"
import json, statistics, sys
a = [float(sys.argv[1]), float(sys.argv[2])]
j = json.load(open(sys.argv[3]))
got = [s["test"]["accuracy"] for s in j["seeds"]]
assert [s["seed"] for s in j["seeds"]] == [1, 2], j["seeds"]
for x, y in zip(a, got):
    assert abs(x - y) < 6e-5, (a, got)
assert abs(j["mean"]["test"]["accuracy"] - sum(got) / 2) < 2e-6, j["mean"]
assert abs(j["sd"]["test"]["accuracy"] - statistics.stdev(got)) < 2e-6, j["sd"]
for s in j["seeds"]:
    assert s["epochs"] == 1 and s["train_seconds"] > 0, s
    assert 0 <= s["val"]["recall_0"] <= 1 and 0 <= s["val"]["calibration_error"] <= 1, s
PY
grep -q "^mean " runs/summary.txt || fail "summary.txt has no mean row"
# again: nothing is trained, the summary is the same
cp runs/summary.json before.json
"$train" $common --seeds 2 --runs-dir runs --test synth/test > again.txt || fail "--seeds again"
[ "$(grep -c 'holds its finished run; not trained again' again.txt)" = 2 ] || fail "finished seeds trained again"
cmp -s before.json runs/summary.json || fail "summary changed on a re-run"
# other settings into the same folder: refused, nothing touched
sum=$(cat runs/seed-1/model.safetensors | cksum)
if "$train" $common --lr 0.01 --seeds 2 --runs-dir runs 2> err.txt > /dev/null; then fail "other settings accepted"; fi
grep -qF "was trained with other settings" err.txt || { cat err.txt; fail "no clear error for other settings"; }
[ "$(cat runs/seed-1/model.safetensors | cksum)" = "$sum" ] || fail "a finished seed's model was overwritten"
# validation carved out of the training folder (synth images are each their own patient)
"$train" $common --val-split 0.25 --out split.safetensors > split.txt || fail "--val-split 0.25"
grep -qF "validation: 0.25 of synth/train's patients of each class carved out" split.txt ||
    { cat split.txt; fail "--val-split does not say what it carved"; }
grep -q "^Found 12 images belonging to 2 classes" split.txt || { cat split.txt; fail "--val-split 0.25 of 48 images"; }
if "$train" --train synth/train --val synth/val --val-split 0.25 2> err.txt; then fail "--val-split with --val accepted"; fi
grep -qF -- "--val-split carves the validation set out of --train; leave out --val" err.txt || fail "no clear error for --val-split with --val"
if "$train" $common --split-group none 2> err.txt; then fail "--split-group without --val-split accepted"; fi
if "$train" $common --resume checkpoint.safetensors --val-split 0.5 2> err.txt; then fail "--val-split conflict accepted"; fi
grep -qF "val_split" err.txt || { cat err.txt; fail "conflict does not name val_split"; }
"$train" $common --val-split 0.25 --seeds 2 --runs-dir split-runs --quiet || fail "--seeds with --val-split"
grep -qF "validation: 0.25 of synth/train (split by patient, split seed 0)" split-runs/summary.txt || fail "summary does not name the carved validation set"
# contrast, gamma and crops on top of an augmentation set: applied, recorded, checked on resume
"$train" $common --quiet --out plain.safetensors --checkpoint plain-ck.safetensors || fail "plain run"
"$train" $common --quiet --contrast 0.8,1.2 --gamma 0.8,1.25 --crop 0.85 --out inten.safetensors \
    --checkpoint inten-ck.safetensors || fail "--contrast --gamma --crop"
if cmp -s plain.safetensors inten.safetensors; then fail "--contrast/--gamma/--crop changed nothing"; fi
if "$train" $common --resume inten-ck.safetensors --crop 0.5 2> err.txt; then fail "--crop conflict accepted"; fi
grep -qF "contrast/gamma/crop" err.txt || { cat err.txt; fail "conflict does not name the intensity settings"; }
if "$train" $common --no-augment --crop 0.9 2> err.txt; then fail "--crop with --no-augment accepted"; fi
if "$train" $common --contrast 1.2,0.8 2> err.txt; then fail "--contrast 1.2,0.8 accepted"; fi
grep -qF "wants LO,HI with 0 < LO <= HI" err.txt || fail "no clear error for --contrast 1.2,0.8"
echo "recipes and seeds ok"
