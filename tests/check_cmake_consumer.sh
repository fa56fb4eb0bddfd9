#!/bin/sh
# check_cmake_consumer.sh BUILDDIR SRCDIR VERSION MODEL PREFIX
# `meson install` into a scratch prefix (DESTDIR), then a CMake project finds
# it with find_package(lfm2moe VERSION EXACT) and builds a C and a C++
# (lfm2moe.hpp) program against lfm2moe::lfm2moe, which must run.  Exit 77
# (skip) without cmake.
set -eu
build=$1 src=$2 version=$3 model=$4
command -v cmake >/dev/null || { echo "no cmake: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >/dev/null
prefix=$tmp/root$5
cmake -S "$src/tests/cmake_consumer" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$prefix" \
    -DEXPECTED_VERSION="$version" -DCMAKE_BUILD_TYPE=Release >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; exit 1; }
cmake --build "$tmp/b" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$tmp/b/consumer_c" "$model"
out=$("$tmp/b/consumer_cpp" "$model")
echo "$out"
echo "$out" | grep -q 42
# linked against the installed copy, not the build tree's
ldd "$tmp/b/consumer_c" | grep -q "$tmp/root"
