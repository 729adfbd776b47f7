#!/bin/sh
# HTML reports: pneumo-train --report-html and pneumo-evaluate
# --html on a small synthetic dataset, checked as text (self-contained, the
# expected sections, 9 embedded images), then the training report rendered in
# headless Chromium, whose screenshot must not be blank.
# 36 images per class in train (9 in val and test, so the 3x3 grid is full),
# 2 epochs at 96 px: a few seconds.
# $1: pneumo-synth, $2: pneumo-train, $3: pneumo-evaluate, $4: report_png_stats,
# [$5: a directory to keep out.html, eval.html and shot.png in, to look at them].
# Skips (exit 77) after the text checks when chromium is not installed
# (Debian: apt-get install -y chromium).
set -eu
synth=$(realpath "$1")
train=$(realpath "$2")
evaluate=$(realpath "$3")
stats=$(realpath "$4")
keep=${5:-}
tmp=$(mktemp -d)
profile=$(mktemp -d)
trap 'rm -rf "$tmp" "$profile"' EXIT
fail() { echo "FAIL: $*"; for f in "$tmp"/*.txt; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done; exit 1; }
expect() { grep -qF -- "$1" "$2" || fail "$2 lacks '$1'"; }
self_contained() {
    head -c 15 "$1" | grep -q '<!DOCTYPE html>' || fail "$1 is not HTML"
    grep -Eq '(src|href)="https?:|url\(https?:|@import' "$1" && fail "$1 refers to the network"
    grep -q '<script' "$1" && fail "$1 has a script"
    [ "$(grep -o 'data:image/png;base64,' "$1" | wc -l)" = 9 ] || fail "$1: the image grid does not hold 9 images"
    expect '>Confusion matrix</text>' "$1"
    expect '>ROC curve</text>' "$1"
    expect 'AUC = ' "$1"
    expect '<th>weighted avg</th>' "$1"
    expect 'probability of being Pneumonia case<br>Actual case: ' "$1"
    expect 'Total params' "$1"
}

"$synth" "$tmp/ds" --count 36 --size 96 > "$tmp/synth.txt" 2>&1 || fail "pneumo-synth exited with $?"
(cd "$tmp" && "$train" --data ds --size 96 --epochs 2 --test ds/test --threads 2 \
    --report-html out.html) > "$tmp/train.txt" 2>&1 || fail "pneumo-train exited with $?"
expect "html report: out.html" "$tmp/train.txt"
[ -s "$tmp/out.html" ] || fail "out.html not written"
self_contained "$tmp/out.html"
expect '>Loss</text>' "$tmp/out.html"
expect '>Accuracy</text>' "$tmp/out.html"
expect 'Evaluation: Validation set' "$tmp/out.html"
expect 'Evaluation: Test set' "$tmp/out.html"
expect 'Test images: predicted probability and actual class' "$tmp/out.html"
expect '<th>training data</th><td>ds/train (72 images)</td>' "$tmp/out.html"
# the default: report.html next to the text report
(cd "$tmp" && mkdir -p sub && "$train" --data ds --size 96 --epochs 1 --threads 2 --quiet \
    --report sub/r.txt) > "$tmp/train2.txt" 2>&1 || fail "pneumo-train (default html path) exited with $?"
[ -s "$tmp/sub/report.html" ] || fail "sub/report.html not written next to sub/r.txt"
(cd "$tmp" && "$evaluate" --model model.safetensors ds/test --html eval.html) > "$tmp/evaluate.txt" 2>&1 ||
    fail "pneumo-evaluate exited with $?"
self_contained "$tmp/eval.html"
expect 'Evaluation: ds/test' "$tmp/eval.html"
# a missing directory is an error naming the path
(cd "$tmp" && "$evaluate" --model model.safetensors ds/test --html no/such/eval.html) > "$tmp/bad.txt" 2>&1 &&
    fail "pneumo-evaluate succeeded writing into a missing directory"
grep -q 'no/such/eval.html' "$tmp/bad.txt" || fail "the error does not name no/such/eval.html"
rm -f "$tmp/bad.txt"
ls -a "$tmp" | grep -q '\.tmp\.' && fail "temporary file left behind"
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$tmp/out.html" "$tmp/eval.html" "$keep/"
fi

chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "skipped: chromium is not installed (apt-get install -y chromium); the HTML text checks passed"
    exit 77
fi
# HOME keeps chromium's crash handler and caches out of the user's home.
(cd "$tmp" && HOME="$profile" timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$tmp/shot.png" --window-size=1200,2400 "file://$tmp/out.html") \
    > "$tmp/chromium.txt" 2>&1 || fail "chromium exited with $?"
[ -s "$tmp/shot.png" ] || fail "no screenshot"
set -- $("$stats" "$tmp/shot.png") || fail "cannot read the screenshot"
echo "screenshot: ${1}x${2}, $3 gray levels, $4% of pixels darker than the page background"
[ "$1" = 1200 ] && [ "$2" = 2400 ] || fail "screenshot is ${1}x${2}, expected 1200x2400"
[ "$3" -gt 20 ] || fail "only $3 distinct gray levels: blank page?"
awk "BEGIN { exit !($4 > 2.0) }" || fail "only $4% of pixels drawn: blank page?"
[ -n "$keep" ] && cp "$tmp/shot.png" "$keep/"
echo "ok"
