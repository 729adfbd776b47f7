#!/bin/sh
# The main job: train the article's model, then diagnose an image with it.
#
#   examples/main-job.sh [DATA_DIR] [extra pneumo-train options]
#
# DATA_DIR holds train/ and val/ (and optionally test/) with one sub-folder per
# class, like the Kaggle "pneumonia-xray-images" download or ../shared/data/
# chest_xray_224; it runs the article's full settings (500x500, 25 epochs with
# early stopping), which takes hours on a laptop CPU. Without DATA_DIR, a small
# SYNTHETIC dataset (not X-rays) is generated with pneumo-synth and trained at
# 128x128 for 5 epochs, so the whole flow runs in a few minutes. A DATA_DIR that
# does not exist is an error (exit 2), never a silent switch to synthetic data.
set -eu
build=${BUILD:-build}
bin="$build/examples"
out=${OUT:-main-job}
mkdir -p "$out"
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ] && [ ! -d "$1" ]; then
    echo "main-job.sh: data folder $1 does not exist (leave it out to train on synthetic data)" >&2
    exit 2
fi
if [ $# -ge 1 ] && [ -d "$1" ]; then
    data=$1
    shift
    echo "== training on $data (the article's settings)"
    "$bin/pneumo-train" --data "$data" --out "$out/model.safetensors" --history "$out/history.csv" \
        --report "$out/report.txt" "$@"
else
    data="$out/synthetic"
    echo "== no data folder given: generating a SYNTHETIC dataset (not X-rays) in $data"
    "$bin/pneumo-synth" "$data" --count 200 --size 128
    echo "== training on the synthetic data at 128x128"
    "$bin/pneumo-train" --data "$data" --test "$data/test" --size 128 --epochs 5 \
        --out "$out/model.safetensors" --history "$out/history.csv" --report "$out/report.txt" "$@"
fi
image=$(find "$data/val" -type f \( -iname '*.jpeg' -o -iname '*.jpg' -o -iname '*.png' \) | sort | head -n 1)
echo "== diagnosing $image"
"$bin/pneumo-diagnose" --model "$out/model.safetensors" "$image"
if [ -x "$bin/pneumo-serve" ]; then
    echo "== to serve it to a browser: $bin/pneumo-serve --model $out/model.safetensors   (http://127.0.0.1:8080/)"
fi
