#!/bin/sh
# check_fat_jar.sh BUILD BUILD_AARCH64 MODEL (CI, after both builds)
# Assembles the two-platform jar, checks it lists both JNI libraries
# (unzip -l), and runs the Java chat example from it on this x86-64 machine
# with no library path option.
set -eu
build=$1 cross=$2 model=$3
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sh "$here/../assemble_jar.sh" "$build/bindings/java/lfm2moe.jar" \
    "$cross/bindings/java/liblfm2moe_jni.so" "$tmp/lfm2moe.jar"
list=$(unzip -l "$tmp/lfm2moe.jar")
for p in linux-x86_64 linux-aarch64; do
    echo "$list" | grep -q "ai/lfm2moe/native/$p/liblfm2moe_jni.so" || { echo "no $p library"; exit 1; }
done
echo "$list" | grep native/
sh "$here/run_chat_example.sh" java "$tmp/lfm2moe.jar:$build/bindings/java/lfm2moe-chat-example.jar" "$model"
