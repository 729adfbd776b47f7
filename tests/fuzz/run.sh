#!/usr/bin/env bash
# Run the libFuzzer targets of a -Dfuzz=true build, one after the other.
#   tests/fuzz/run.sh BUILDDIR SECONDS [TARGET...]
# SECONDS per target: CI runs about 40, a campaign hours (add libFuzzer options
# through FUZZ_ARGS, e.g. FUZZ_ARGS=-jobs=4). The working corpus of each target
# lives in $FUZZ_WORK/<target> (default BUILDDIR/fuzz-work), started from the
# regression corpus (tests/fuzz/corpus/<target>) and the generated seeds.
# A crash, leak, timeout or out-of-memory leaves its reproducer in
# $FUZZ_WORK/<target>/artifacts; copy it into tests/fuzz/corpus/<target>/ with
# the fix so that the ordinary suites replay it. Exits non-zero on a finding.
# Prints one summary line per target: executions, cov, ft, corpus size.
set -uo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK:-$build/fuzz-work}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image model json checkpoint dataset http)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for t in "${targets[@]}"; do
    bin=$build/tests/fuzz/fuzz_$t
    if [ ! -x "$bin" ]; then
        echo "run.sh: $bin missing (configure with CC=clang -Dfuzz=true)" >&2
        exit 2
    fi
    mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
    dict=()
    case $t in
    image) dict=(-dict="$src/image.dict"); max_len=65536 ;;
    model | checkpoint) dict=(-dict="$src/model.dict"); max_len=65536 ;;
    json) dict=(-dict="$src/json.dict"); max_len=16384 ;;
    http) dict=(-dict="$src/http.dict"); max_len=8192 ;;
    *) max_len=4096 ;;
    esac
    log=$work/$t/fuzz.log
    # -close_fd_mask=1: the dataset target's library never prints, libFuzzer's
    # stats go to stderr
    "$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
        -max_len=$max_len -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" \
        ${FUZZ_ARGS:-} "$work/$t/corpus" "$src/corpus/$t" "$build/tests/fuzz/seeds/$t" \
        >"$log" 2>&1
    rc=$?
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    findings=$(find "$work/$t/artifacts" -type f | wc -l)
    echo "fuzz $t: ${execs:-?} executions in ${seconds}s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}, findings $findings (exit $rc)"
    if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
        status=1
        grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -20
    fi
done
exit $status
