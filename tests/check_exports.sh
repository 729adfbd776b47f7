#!/bin/sh
# Exports of the shared library against the linker version script:
#   - every defined dynamic symbol starts with pneumo_ (hidden visibility and the
#     version script lib/libpneumo.map keep internals out of the ABI);
#   - the exported functions are exactly the ones the map lists, each with the
#     version of the node that lists it (LIBPNEUMO_0.2, ...): an unversioned
#     export, one in the wrong node or a listed function that is not exported
#     fails;
#   - every node but the first inherits the one before it, so a program that
#     needs a newer function fails at load time on an older library;
#   - a few core functions are present and the soname is libpneumo.so.SOVERSION.
# Usage: check_exports.sh path/to/libpneumo.so path/to/libpneumo.map SOVERSION
set -eu
lib="$1"
map="$2"
expected_soname="libpneumo.so.$3"

# nm from binutils >= 2.35 appends @@VERSION to versioned names: strip it here,
# the versions are checked with objdump below.
exports=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ {sub(/@.*/, "", $3); print $3}' | sort -u)
count=$(printf '%s\n' "$exports" | grep -c . || true)
if [ "$count" -lt 40 ]; then
    echo "FAIL: only $count exported symbols in $lib (expected the public API)"
    exit 1
fi
bad=$(printf '%s\n' "$exports" | grep -v '^pneumo_' || true)
if [ -n "$bad" ]; then
    echo "FAIL: symbols outside the pneumo_ prefix are exported from $lib:"
    printf '%s\n' "$bad"
    exit 1
fi
for sym in pneumo_version pneumo_model_create pneumo_model_save pneumo_tensor_create; do
    printf '%s\n' "$exports" | grep -qx "$sym" || { echo "FAIL: $sym is not exported"; exit 1; }
done

# The map as "symbol node" lines, and its nodes with the node each inherits
# ("node parent", "-" for the first). Comments are dropped first.
code=$(sed -e 's,/\*.*\*/,,g' -e '/\/\*/,/\*\//d' "$map")
listed=$(printf '%s\n' "$code" | awk '
    /^[A-Za-z0-9_.]+[ \t]*\{/ { node = $1; sub(/\{.*/, "", node); next }
    /^[ \t]*(global|local):/ { next }
    /^[ \t]*pneumo_[A-Za-z0-9_]*;/ { s = $1; sub(/;.*/, "", s); print s, node }' | sort)
nodes=$(printf '%s\n' "$code" | awk '
    /^[A-Za-z0-9_.]+[ \t]*\{/ { n = $1; sub(/\{.*/, "", n); order[++k] = n }
    /^\}/ { p = $0; sub(/^\}[ \t]*/, "", p); sub(/;.*/, "", p); parent[k] = p == "" ? "-" : p }
    END { for (i = 1; i <= k; i++) print order[i], parent[i] }')
prev=-
for n in $(printf '%s\n' "$nodes" | awk '{print $1}'); do
    case "$n" in
        LIBPNEUMO_[0-9]*.[0-9]*) ;;
        *) echo "FAIL: version node $n in $map is not named LIBPNEUMO_<major>.<minor>"; exit 1 ;;
    esac
    parent=$(printf '%s\n' "$nodes" | awk -v n="$n" '$1 == n {print $2}')
    if [ "$parent" != "$prev" ]; then
        echo "FAIL: node $n inherits '$parent', expected '$prev' (each node inherits the one before it)"
        exit 1
    fi
    prev=$n
done
dups=$(printf '%s\n' "$listed" | awk '{print $1}' | uniq -d)
[ -z "$dups" ] || { echo "FAIL: symbols listed in more than one node of $map:"; printf '%s\n' "$dups"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$exports" > "$tmp/exports"
printf '%s\n' "$listed" | awk '{print $1}' > "$tmp/listed"
unlisted=$(comm -13 "$tmp/listed" "$tmp/exports")
notexported=$(comm -23 "$tmp/listed" "$tmp/exports")
if [ -n "$unlisted" ] || [ -n "$notexported" ]; then
    [ -z "$unlisted" ] || { echo "FAIL: exported but not listed in $map:"; printf '%s\n' "$unlisted"; }
    [ -z "$notexported" ] || { echo "FAIL: listed in $map but not exported (PNEUMO_API missing?):"; printf '%s\n' "$notexported"; }
    exit 1
fi

# objdump -T: "ADDR l/g FLAGS SECTION SIZE [VERSION] NAME". Defined symbols have a
# section other than *UND*; a version node itself is an *ABS* entry. The
# version column is "(NAME)" for hidden (non-default) versions and absent for
# unversioned symbols, so take the last two fields.
versions=$(objdump -T "$lib" | awk '
    NF >= 5 && $1 ~ /^[0-9a-f]+$/ && $0 !~ /\*UND\*/ {
        name = $NF; ver = (NF >= 7) ? $(NF - 1) : "(none)"
        gsub(/[()]/, "", ver)
        if (name ~ /^pneumo_/) print name, ver
    }' | sort)
for n in $(printf '%s\n' "$nodes" | awk '{print $1}'); do
    objdump -T "$lib" | grep -q "ABS.*[ (]$n)\?\$" ||
        { echo "FAIL: $lib defines no $n version node (was lib/libpneumo.map applied?)"; exit 1; }
done
wrong=$(printf '%s\n%s\n' "$listed" "$versions" | sort | uniq -u || true)
if [ -n "$wrong" ]; then
    echo "FAIL: exports whose symbol version is not the node listing them (name, version; both sides):"
    printf '%s\n' "$wrong"
    exit 1
fi

soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "$expected_soname" ] || { echo "FAIL: soname is '$soname', expected $expected_soname"; exit 1; }
echo "ok: $count exported symbols, all pneumo_* in the nodes of $(basename "$map") ($(printf '%s\n' "$nodes" | awk '{print $1}' | paste -sd' ' -)), soname $soname"
