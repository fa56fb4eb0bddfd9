#!/bin/sh
# assemble_jar.sh NATIVE.jar AARCH64_JNI.so OUT.jar
# The jar for every supported Linux: the native build's lfm2moe.jar (its
# classes and linux-x86_64 JNI library) plus the aarch64 cross build's
# liblfm2moe_jni.so as ai/lfm2moe/native/linux-aarch64/.  Run after both
# builds, e.g. in CI:
#   sh bindings/java/assemble_jar.sh build/bindings/java/lfm2moe.jar \
#       build-aarch64/bindings/java/liblfm2moe_jni.so build/lfm2moe-VERSION.jar
set -eu
jar_in=$1 so=$2 out=$3
readelf -h "$so" | grep -q 'Machine:.*AArch64' || { echo "$so is not an aarch64 library"; exit 1; }
jar=${JAR:-jar}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/ai/lfm2moe/native/linux-aarch64"
cp "$so" "$tmp/ai/lfm2moe/native/linux-aarch64/liblfm2moe_jni.so"
cp "$jar_in" "$tmp/out.jar"
"$jar" uf "$tmp/out.jar" -C "$tmp" ai/lfm2moe/native/linux-aarch64/liblfm2moe_jni.so
mv "$tmp/out.jar" "$out"
