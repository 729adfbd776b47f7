#!/bin/sh
# Data-parallel training over MPI (pneumo-train-mpi): the weights, history and
# evaluation after 2 epochs on 1, 2 and 4 ranks are the same bits for a fixed
# --parts, with the sliced exchange (the default) and the gather; --resume continues a run on another rank count with the same
# result; a cancel on one rank stops every rank (no hang) with one message.
# The compact BatchNormalization network (--model compact) gives the same model
# files (weights, moving statistics, optimizer state) on 1, 2 and 4 ranks, on
# every rank of a run and after a resume on another rank count.
# Small synthetic images (pneumo-synth), a global batch of 7 so the last batch
# of an epoch (40 = 5 * 7 + 5) is partial.
#   check_mpi.sh PNEUMO_SYNTH PNEUMO_TRAIN_MPI
set -eu
synth=$1
train=$2
mpirun=$(command -v mpirun || true)
if [ -z "$mpirun" ]; then
    echo "check_mpi: mpirun not found (install openmpi-bin)" >&2
    exit 1
fi
# the CI runs as root; Open MPI refuses that without these
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI does not free everything at MPI_Finalize: under the sanitizer job keep
# ASan and UBSan but not the leak check (test_parallel covers the library's leaks)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
# loopback only, no high-speed-network probing (quiet and fast in containers)
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$synth" "$tmp/data" --count 20 --size 100 --seed 3 >/dev/null

run() { # NP NAME [extra args]
    np=$1 name=$2
    shift 2
    timeout 120 "$mpirun" --oversubscribe -np "$np" "$train" --data "$tmp/data" --test "$tmp/data/test" \
        --size 94 --epochs 2 --batch 7 --parts 4 --threads 1 --patience 0 \
        --out "$tmp/$name.safetensors" --checkpoint "$tmp/$name.ckpt" --history "$tmp/$name.csv" \
        --report "$tmp/$name.txt" --weights-out "$tmp/$name.bin" --quiet "$@"
}
strip_seconds() { cut -d, -f1-6 "$1"; }
# the evaluation lines of a report (its first line names the rank count)
evaluation() { sed -n '/^validation:/,$p' "$1"; }

for np in 1 2 4; do
    run $np np$np
    [ -s "$tmp/np$np.bin" ] || { echo "check_mpi: $np ranks wrote no weights" >&2; exit 1; }
done
for np in 2 4; do
    run $np gather$np --exchange gather
done
for name in np2 np4 gather2 gather4; do
    if ! cmp -s "$tmp/np1.bin" "$tmp/$name.bin"; then
        echo "check_mpi: the weights of run $name differ from 1 rank" >&2
        exit 1
    fi
    if [ "$(strip_seconds "$tmp/np1.csv")" != "$(strip_seconds "$tmp/$name.csv")" ]; then
        echo "check_mpi: the history of run $name differs from 1 rank:" >&2
        cat "$tmp/np1.csv" "$tmp/$name.csv" >&2
        exit 1
    fi
    if [ "$(evaluation "$tmp/np1.txt")" != "$(evaluation "$tmp/$name.txt")" ]; then
        echo "check_mpi: the evaluation of run $name differs from 1 rank" >&2
        exit 1
    fi
done
[ "$(wc -l < "$tmp/np1.csv")" -eq 3 ] || { echo "check_mpi: history without 2 epochs" >&2; exit 1; }
grep -q "ROC AUC" "$tmp/np1.txt" || { echo "check_mpi: the report has no test evaluation" >&2; exit 1; }

# resume: 1 epoch on 2 ranks, then the second epoch on 4 ranks
run 2 part --epochs 1
run 4 resumed --resume "$tmp/part.ckpt"
if ! cmp -s "$tmp/np1.bin" "$tmp/resumed.bin"; then
    echo "check_mpi: a run resumed on 4 ranks differs from the uninterrupted one" >&2
    exit 1
fi

# a cancel on rank 1 after its 2nd batch stops all 4 ranks, reported once by rank 0
if run 4 cancel --cancel-at 1:2 2>"$tmp/cancel.err"; then
    echo "check_mpi: a cancelled run exited with status 0" >&2
    exit 1
fi
if [ "$(grep -c "training stopped" "$tmp/cancel.err")" -ne 1 ]; then
    echo "check_mpi: expected one 'training stopped' message:" >&2
    cat "$tmp/cancel.err" >&2
    exit 1
fi
grep -q "rank 0: training stopped: .*cancelled" "$tmp/cancel.err" || {
    echo "check_mpi: rank 0 did not report the cancel:" >&2
    cat "$tmp/cancel.err" >&2
    exit 1
}
# BatchNormalization: the moving statistics move by every part's batch
# statistics in part order on every rank, so the saved models (which hold them)
# are the same bits on every rank count and every rank
for np in 1 2 4; do
    run $np bn$np --model compact --save-every-rank
done
run 4 bngather4 --model compact --save-every-rank --exchange gather
for name in bn2 bn4 bngather4; do
    if ! cmp -s "$tmp/bn1.bin" "$tmp/$name.bin"; then
        echo "check_mpi: the BatchNormalization weights of run $name differ from 1 rank" >&2
        exit 1
    fi
    if ! cmp "$tmp/bn1.safetensors" "$tmp/$name.safetensors" >&2; then
        echo "check_mpi: the BatchNormalization model of run $name differs from 1 rank" >&2
        exit 1
    fi
    if [ "$(strip_seconds "$tmp/bn1.csv")" != "$(strip_seconds "$tmp/$name.csv")" ]; then
        echo "check_mpi: the BatchNormalization history of run $name differs from 1 rank:" >&2
        cat "$tmp/bn1.csv" "$tmp/$name.csv" >&2
        exit 1
    fi
done
for model in bn2.safetensors.rank1 bn4.safetensors.rank1 bn4.safetensors.rank3 bngather4.safetensors.rank1; do
    if ! cmp "$tmp/${model%.rank*}" "$tmp/$model" >&2; then
        echo "check_mpi: rank ${model##*.rank}'s BatchNormalization model of run ${model%%.*} differs from rank 0's" >&2
        exit 1
    fi
done
# resume a BatchNormalization run (1 epoch on 2 ranks) on 4 ranks: the moving
# statistics come from the checkpoint
run 2 bnpart --model compact --epochs 1
run 4 bnresumed --resume "$tmp/bnpart.ckpt"
if ! cmp "$tmp/bn1.safetensors" "$tmp/bnresumed.safetensors" >&2; then
    echo "check_mpi: a BatchNormalization run resumed on 4 ranks differs from the uninterrupted one" >&2
    exit 1
fi
echo "check_mpi: 1, 2 and 4 ranks agree bit for bit (sliced and gather, with and without"
echo "check_mpi: BatchNormalization, on every rank); resume and cancel work"
