#!/bin/sh
# Source formatting check, meson test 'format' (suite 'style').
#
#   tests/check_format.sh          check; exit 1 naming every file that differs
#   tests/check_format.sh --fix    rewrite the files so that the check passes
#
# 1. C and C++ sources (tracked *.c *.h *.cc *.cpp *.hpp) are laid out as
#    .clang-format says: clang-format --dry-run --Werror on each.
# 2. Every tracked text file follows .editorconfig's basics: no trailing
#    whitespace, no tab characters, LF line ends and a final newline. Fuzzing
#    inputs (tests/fuzz/corpus/) and binary files are left out.
#
# Exits 77 (skipped) only when clang-format is missing, unless
# PNEUMO_STYLE_REQUIRED=1 (as .ci/test-all sets), when that is a failure too.
# CLANG_FORMAT names the program (default: clang-format-14, else clang-format).
set -u
cd "$(dirname "$0")/.." || exit 1

fix=0
case "${1:-}" in
    --fix) fix=1 ;;
    "") ;;
    *) echo "usage: $0 [--fix]" >&2; exit 2 ;;
esac

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
    for c in clang-format-14 clang-format; do
        if command -v "$c" > /dev/null 2>&1; then
            cf=$c
            break
        fi
    done
fi
if [ -z "$cf" ] || ! command -v "$cf" > /dev/null 2>&1; then
    if [ "${PNEUMO_STYLE_REQUIRED:-0}" = 1 ]; then
        echo "FAIL: clang-format not found (PNEUMO_STYLE_REQUIRED=1; apt-get install clang-format)"
        exit 1
    fi
    echo "SKIP: clang-format not found (apt-get install clang-format)"
    exit 77
fi

list=$(mktemp) || exit 1
trap 'rm -f "$list" "$list.c"' EXIT
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    git ls-files > "$list"
else
    find . -path ./.git -prune -o -path './build*' -prune -o -type f -print | sed 's|^\./||' > "$list"
fi
grep -E '\.(c|h|cc|cpp|hpp)$' "$list" > "$list.c"

bad=0
if [ "$fix" = 1 ]; then
    tr '\n' '\0' < "$list.c" | xargs -0 -P 2 -n 16 "$cf" -i --style=file || exit 1
else
    # --dry-run --Werror prints each difference as an error and fails the file.
    if ! tr '\n' '\0' < "$list.c" | xargs -0 -P 2 -n 16 "$cf" --dry-run --Werror --style=file \
            --ferror-limit=3; then
        echo "FAIL: C/C++ sources differ from .clang-format (fix: sh tests/check_format.sh --fix)"
        bad=1
    fi
fi

# .editorconfig basics over text files (grep -I skips binary files).
tab=$(printf '\t')
cr=$(printf '\r')
while IFS= read -r f; do
    case "$f" in tests/fuzz/corpus/*) continue ;; esac
    [ -f "$f" ] && [ -s "$f" ] || continue
    grep -Iq . "$f" || continue
    if [ "$fix" = 1 ]; then
        sed -i -e 's/[ \t\r]*$//' "$f"
        [ -z "$(tail -c 1 "$f")" ] || echo >> "$f"
        continue
    fi
    if grep -n "[ $tab]$" "$f" > /dev/null; then
        echo "$f:$(grep -n "[ $tab]$" "$f" | head -1 | cut -d: -f1): trailing whitespace"
        bad=1
    fi
    if grep -n "$tab" "$f" > /dev/null; then
        echo "$f:$(grep -n "$tab" "$f" | head -1 | cut -d: -f1): tab character (indent with spaces)"
        bad=1
    fi
    if grep -q "$cr\$" "$f"; then
        echo "$f: CRLF line ends"
        bad=1
    fi
    if [ -n "$(tail -c 1 "$f")" ]; then
        echo "$f: no newline at the end of the file"
        bad=1
    fi
done < "$list"

n=$(wc -l < "$list.c")
if [ "$bad" = 0 ]; then
    [ "$fix" = 1 ] && echo "formatted $n C/C++ files with $("$cf" --version)" ||
        echo "ok: $n C/C++ files match .clang-format ($("$cf" --version)); text files follow .editorconfig"
fi
exit "$bad"
