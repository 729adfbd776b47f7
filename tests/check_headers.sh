#!/bin/sh
# Header hygiene: every public header include/pneumo/*.h
# compiles on its own, first thing in a translation unit, as
#   C11   with -std=c11   -pedantic-errors -Wall -Wextra -Werror (+ a few more)
#   C++17 with -std=c++17 -pedantic-errors -Wall -Wextra -Werror (+ a few more)
# and a second #include of the same header is harmless (include guard). The
# C++ unit also redeclares every PNEUMO_API function of the header inside
# extern "C", so a declaration that slipped outside the header's extern "C"
# block fails to compile. The umbrella pneumo/pneumo.h must include every header.
# The generated pneumo/version.h comes from the build directory.
#
# Usage: check_headers.sh SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR CC [CC args...]
# The C++ compiler is $CXX, else the one matching CC (gcc -> g++, clang ->
# clang++, cc -> c++).
set -eu
src_inc="$1"
build_inc="$2"
shift 2
[ $# -gt 0 ] || set -- cc

cc_name=$(basename "$(eval "echo \${$#}")")
if [ -n "${CXX:-}" ]; then
    cxx="$CXX"
else
    case "$cc_name" in
        *clang*) cxx=$(printf '%s' "$cc_name" | sed 's/clang/clang++/') ;;
        *gcc*) cxx=$(printf '%s' "$cc_name" | sed 's/gcc/g++/') ;;
        *) cxx=c++ ;;
    esac
fi

c_flags="-std=c11 -pedantic-errors -Wall -Wextra -Werror -Wstrict-prototypes
    -Wmissing-prototypes -Wshadow -Wundef -Wcast-qual -Wredundant-decls -Wconversion"
cxx_flags="-std=c++17 -pedantic-errors -Wall -Wextra -Werror -Wshadow -Wundef
    -Wcast-qual -Wredundant-decls -Wold-style-cast -Wzero-as-null-pointer-constant -Wconversion"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
count=0
have_cxx=1
command -v "$cxx" >/dev/null 2>&1 || { echo "note: no C++ compiler '$cxx'; C++17 checks skipped"; have_cxx=0; }

for h in "$src_inc"/pneumo/*.h; do
    name=$(basename "$h")
    count=$((count + 1))
    base="$tmp/${name%.h}"
    printf '#include <pneumo/%s>\n#include <pneumo/%s>\n' "$name" "$name" >"$base.c"
    # shellcheck disable=SC2086
    if ! "$@" $c_flags -I"$src_inc" -I"$build_inc" -c "$base.c" -o "$base.o" 2>"$base.c.log"; then
        echo "FAIL: pneumo/$name does not compile on its own as C11:"
        cat "$base.c.log"
        failed=$((failed + 1))
    fi
    [ $have_cxx = 1 ] || continue
    {
        printf '#include <pneumo/%s>\n#include <pneumo/%s>\n' "$name" "$name"
        # Redeclare every PNEUMO_API function of this header with C linkage:
        # if the header declared it outside extern "C", C++ rejects the
        # conflicting linkage at compile time (instead of a link error later).
        echo '#pragma GCC diagnostic push'
        echo '#pragma GCC diagnostic ignored "-Wredundant-decls"'
        echo 'extern "C" {'
        sed -e 's:/\*.*\*/::g' "$h" | tr '\n' ' ' | sed 's/;/;\n/g' |
            sed -n 's/.*PNEUMO_API[^(]*[^A-Za-z0-9_]\(pneumo_[A-Za-z0-9_]*\) *(.*/\1/p' |
            while read -r fn; do
                echo "decltype($fn) $fn;"
            done
        echo '}'
        echo '#pragma GCC diagnostic pop'
        echo 'int main() { return 0; }'
    } >"$base.cpp"
    # shellcheck disable=SC2086
    if ! "$cxx" $cxx_flags -I"$src_inc" -I"$build_inc" -c "$base.cpp" -o "$base.cpp.o" 2>"$base.cpp.log"; then
        echo "FAIL: pneumo/$name does not compile on its own as C++17:"
        cat "$base.cpp.log"
        failed=$((failed + 1))
    fi
done

# The umbrella header includes every other public header.
for h in "$src_inc"/pneumo/*.h; do
    name=$(basename "$h")
    [ "$name" = pneumo.h ] && continue
    grep -q "^#include \"pneumo/$name\"" "$src_inc/pneumo/pneumo.h" || {
        echo "FAIL: pneumo/pneumo.h does not include pneumo/$name"
        failed=$((failed + 1))
    }
done

if [ "$failed" -ne 0 ]; then
    echo "FAIL: $failed header check(s) failed"
    exit 1
fi
langs="C11"
[ $have_cxx = 1 ] && langs="C11 and C++17 ($cxx)"
echo "ok: $count public headers compile on their own as $langs with -Wall -Wextra -Werror -pedantic-errors"
