#!/bin/sh
# The programs never lose a user's work: options are checked and
# named, output paths are checked before training, an interrupted run keeps
# the previous outputs and prints the command that resumes, --resume takes
# every setting from the checkpoint (bit-identical to an uninterrupted run; a
# conflicting flag is refused before anything runs; a checkpoint from before the
# settings were recorded keeps its size and takes the rest from the flags), and
# main-job.sh refuses a folder that is not there.
#   check_cli_safety.sh BINDIR SOURCE_ROOT
set -eu
bindir=$(realpath "$1")
src=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
train="$bindir/pneumo-train"

# --version, unknown options and missing values are named
"$train" --version | grep -q "^pneumo-train (libpneumo " || fail "pneumo-train --version"
"$bindir/pneumo-diagnose" --version | grep -q "^pneumo-diagnose (libpneumo " || fail "pneumo-diagnose --version"
if "$train" --data x --frobnicate 2>"$tmp/err"; then fail "unknown option accepted"; fi
grep -qF -- "--frobnicate: unknown option" "$tmp/err" || fail "unknown option not named: $(cat "$tmp/err")"
if "$train" --data x --epochs 2>"$tmp/err"; then fail "missing value accepted"; fi
grep -qF -- "--epochs: needs a value" "$tmp/err" || fail "missing value not named: $(cat "$tmp/err")"
if "$bindir/pneumo-diagnose" --frob m.safetensors 2>"$tmp/err"; then fail "diagnose: unknown option accepted"; fi
grep -qF -- "--frob: unknown option" "$tmp/err" || fail "diagnose: unknown option not named"
# --help lists every option with its default
"$train" --help > "$tmp/help"
for opt in --data --train --val --test --size --epochs --batch --lr --seed --threads --no-augment \
           --patience --out --best --checkpoint --resume --history --report --report-html --quiet; do
    line=$(grep -e "^  $opt " "$tmp/help") || fail "--help lacks $opt"
    case $opt in --no-augment) ;; *) echo "$line" | grep -q "default" || fail "--help: no default for $opt" ;; esac
done

"$bindir/pneumo-synth" "$tmp/syn" --count 24 --size 96 > /dev/null
cd "$tmp"
# every output path is checked before any training
for flag in --out --best --checkpoint --history --report --report-html; do
    if "$train" --data syn --size 96 --epochs 1 "$flag" /no/such/dir/x > out.txt 2> err.txt; then
        fail "$flag in a missing folder accepted"
    fi
    grep -qF -- "$flag /no/such/dir/x: folder /no/such/dir does not exist" err.txt || fail "$flag: $(cat err.txt)"
    if grep -q "Epoch" out.txt; then fail "$flag: training ran before the check"; fi
done

# Ctrl-C: stops after a step, keeps the previous outputs, prints the resume command
echo "previous history" > history.csv
echo "previous model" > model.safetensors
run="--data syn --size 96 --epochs 30 --batch 4 --threads 1 --patience 0 --no-augment --seed 7 --quiet"
# shellcheck disable=SC2086
"$train" $run 2> int.err &
pid=$!
n=0
while [ ! -s checkpoint.safetensors ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
[ -s checkpoint.safetensors ] || fail "no checkpoint after 60 s"
kill -INT $pid
status=0
wait $pid || status=$?
[ $status -ne 0 ] || fail "an interrupted run exited 0"
grep -q "stopping after this step" int.err || fail "no message on Ctrl-C: $(cat int.err)"
grep -q -- "--resume 'checkpoint.safetensors'" int.err || fail "no resume command: $(cat int.err)"
[ "$(cat history.csv)" = "previous history" ] || fail "an interrupted run replaced history.csv"
[ "$(cat model.safetensors)" = "previous model" ] || fail "an interrupted run replaced the model"
# --resume takes every setting from the checkpoint; a conflicting flag is an error
# naming the flag and both values, before anything runs
cp checkpoint.safetensors ck-before
for conflict in "--size 128|size 96" "--epochs 5|epochs 30" "--batch 8|batch 4" "--lr 0.01|lr 0.001" \
                "--seed 8|seed 7" "--threads 2|threads 1" "--patience 3|patience 0" \
                "--threshold 0.7|threshold 0.5" "--class-names A,B|class_names (the defaults)"; do
    flag=${conflict%%|*}
    stored=${conflict#*|}
    # shellcheck disable=SC2086
    if "$train" --data syn $flag --resume checkpoint.safetensors > out.txt 2> err.txt; then
        fail "$flag conflict accepted"
    fi
    grep -qF -- "$flag conflicts with the checkpoint checkpoint.safetensors ($stored)" err.txt ||
        fail "$flag conflict: $(cat err.txt)"
    if grep -q "Epoch" out.txt; then fail "$flag: training ran before the conflict was found"; fi
done
cmp -s checkpoint.safetensors ck-before || fail "a refused resume changed the checkpoint"
# resumed without any setting flag, the run ends bit-identical to an uninterrupted one
# shellcheck disable=SC2086
"$train" $run --checkpoint ref-ck.safetensors --out ref.safetensors --history ref.csv --report ref.txt \
    --report-html ref.html 2> err.txt || fail "reference run: $(cat err.txt)"
"$train" --data syn --quiet --resume checkpoint.safetensors --out resumed.safetensors 2> err.txt ||
    fail "resume without --size: $(cat err.txt)"
# the same flags as recorded are no conflict
"$train" --data syn --size 96 --epochs 30 --lr 0.001 --no-augment --quiet --resume ref-ck.safetensors \
    --checkpoint same-ck.safetensors --out same.safetensors 2> err.txt || fail "resume with the same flags: $(cat err.txt)"
/usr/bin/python3 - ref.safetensors resumed.safetensors ref-ck.safetensors old-ck.safetensors odd-ck.safetensors <<'PY' ||
import json, struct, sys
def split(path):
    d = open(path, "rb").read()
    n = struct.unpack("<Q", d[:8])[0]
    return d[8:8 + n], d[8 + n:]
ref, resumed = split(sys.argv[1])[1], split(sys.argv[2])[1]
if ref != resumed:
    sys.exit("resumed run's weights and optimizer state differ from the uninterrupted run's")
# a checkpoint as written before the settings were recorded
head, data = split(sys.argv[3])
h = json.loads(head)
card = json.loads(h["__metadata__"]["model_card"])
def write(path, settings):
    if settings is None:
        del card["provenance"]["training_settings"]
    else:
        card["provenance"]["training_settings"] = settings
    h["__metadata__"]["model_card"] = json.dumps(card)
    new = json.dumps(h).encode()
    new += b" " * (len(head) - len(new))
    open(path, "wb").write(struct.pack("<Q", len(new)) + new + data)
# a setting this program does not know, and one it cannot use
write(sys.argv[5], "size=96\nepochs=30\nfrobnicate=1\n")
write(sys.argv[4], None)
PY
    fail "resume is not bit-identical (or the old checkpoint could not be made)"
if "$train" --data syn --resume odd-ck.safetensors 2> err.txt; then fail "an unknown recorded setting accepted"; fi
grep -qF "records the setting frobnicate=1, which this pneumo-train cannot honour" err.txt ||
    fail "unknown recorded setting: $(cat err.txt)"
# an old checkpoint: its size, the flags for the rest (defaults where not given), --lr refused
if "$train" --data syn --lr 0.01 --resume old-ck.safetensors 2> err.txt; then fail "--lr with an old checkpoint accepted"; fi
grep -q -- "--lr conflicts with --resume" err.txt || fail "old checkpoint --lr: $(cat err.txt)"
"$train" --data syn --epochs 31 --batch 4 --threads 1 --no-augment --quiet --resume old-ck.safetensors \
    --checkpoint old-next.safetensors --out old.safetensors 2> err.txt || fail "resume an old checkpoint: $(cat err.txt)"

# pneumo-diagnose warns about a model that was never trained, not about a trained one
img=$(find syn/val -name '*.png' | sort | head -n 1)
"$bindir/pneumo-diagnose" --model resumed.safetensors "$img" > /dev/null 2> diag.err
if grep -q "never trained" diag.err; then fail "diagnose warns about a trained model"; fi
# the same file with train_steps 0 (JSON whitespace keeps the header length)
/usr/bin/python3 -c '
import re, sys
d = open(sys.argv[1], "rb").read()
d = re.sub(rb"\"train_steps\":\"([0-9]+)\"", lambda m: b"\"train_steps\":\"0\"" + b" " * (len(m.group(1)) - 1), d, 1)
open(sys.argv[2], "wb").write(d)' resumed.safetensors untrained.safetensors
"$bindir/pneumo-diagnose" --model untrained.safetensors "$img" > /dev/null 2> diag.err \
    || fail "diagnose with an untrained model: $(cat diag.err)"
grep -q "was never trained (train_steps 0)" diag.err || fail "no warning for an untrained model"
for p in pneumo-evaluate pneumo-preview pneumo-quickstart pneumo-summary pneumo-synth; do
    "$bindir/$p" --version | grep -q "^$p (libpneumo " || fail "$p --version"
    if "$bindir/$p" --frobnicate x > /dev/null 2> err.txt; then fail "$p accepted an unknown option"; fi
    grep -qF -- "--frobnicate: unknown option" err.txt || fail "$p: unknown option not named: $(cat err.txt)"
done

# main-job.sh with a folder that does not exist is an error
# the modern-recipe knobs are recorded, and a resume with other values is refused
"$train" --data syn --size 96 --epochs 2 --batch 4 --threads 1 --patience 0 --no-augment --seed 7 --quiet \
    --weight-decay 0.05 --label-smoothing 0.1 --lr-schedule cosine --warmup-epochs 1 \
    --checkpoint knobs-ck.safetensors --out knobs.safetensors --history knobs.csv --report knobs.txt \
    --report-html knobs.html 2> err.txt || fail "training with the knobs: $(cat err.txt)"
for key in "weight_decay=0.050000000000000003" "label_smoothing=0.10000000000000001" "lr_schedule=cosine" \
           "warmup_epochs=1"; do
    grep -aqF "$key" knobs-ck.safetensors || fail "the checkpoint does not record $key"
done
for flag in "--weight-decay 0.1" "--label-smoothing 0" "--lr-schedule constant" "--warmup-epochs 0"; do
    # shellcheck disable=SC2086
    if "$train" --data syn $flag --resume knobs-ck.safetensors > out.txt 2> err.txt; then
        fail "$flag conflict accepted"
    fi
    grep -qF -- "conflicts with the checkpoint knobs-ck.safetensors" err.txt || fail "$flag conflict: $(cat err.txt)"
done
# an article run's checkpoint records none of them, and refuses them on resume
if grep -aq "weight_decay" ref-ck.safetensors; then fail "a default run records weight_decay"; fi
if "$train" --data syn --weight-decay 0.1 --resume ref-ck.safetensors > out.txt 2> err.txt; then
    fail "--weight-decay accepted for a run without it"
fi
"$train" --help | grep -q -- "--lr-schedule K" || fail "--help lacks --lr-schedule"
if BUILD="$bindir/.." OUT="$tmp/job" sh "$src/examples/main-job.sh" /no/such/folder > job.out 2> job.err; then
    fail "main-job.sh trained without its data folder"
fi
grep -q "does not exist" job.err || fail "main-job.sh: $(cat job.err)"
echo "ok: options, output paths, Ctrl-C, resume and main-job.sh keep the user's work"
