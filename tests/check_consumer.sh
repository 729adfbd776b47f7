#!/bin/sh
# Install the build into a scratch DESTDIR and build small C and C++ consumers
# against it with `pkg-config --cflags --libs libpneumo`, as a user would.
set -eu
build="$1"
src="$2"
cpp="$3"  # examples/cpp: the C++ consumer with its RAII wrapper
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name libpneumo.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: libpneumo.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$(pkg-config --cflags libpneumo)
libs=$(pkg-config --libs libpneumo)
libdir=$(dirname "$(dirname "$pc")")  # <root>/.../lib/<triplet>/pkgconfig
${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags "$src/consumer.c" -o "$tmp/consumer" $libs
${CXX:-c++} -std=c++17 -Wall -Wextra -Werror $cflags "$cpp/consumer.cpp" -o "$tmp/consumer_cpp" $libs
LD_LIBRARY_PATH="$libdir" "$tmp/consumer"
LD_LIBRARY_PATH="$libdir" "$tmp/consumer_cpp"
