#!/bin/sh
# build_aar.sh JAR OUT.aar WORKDIR CLASSES.jar LIBLFM2MOE_JNI.so LIBLFM2MOE.so ANDROIDMANIFEST.xml
# Packs an Android library archive (a zip) for arm64-v8a:
#   AndroidManifest.xml, classes.jar (the ai.lfm2moe classes),
#   jni/arm64-v8a/liblfm2moe_jni.so (what the Java classes load; it carries
#   the library) and jni/arm64-v8a/liblfm2moe.so (for NDK code using the C API).
set -eu
jar=$1 out=$2 dir=$3 classes=$4 jni=$5 lib=$6 manifest=$7
rm -rf "$dir"
mkdir -p "$dir/jni/arm64-v8a"
cp "$manifest" "$dir/AndroidManifest.xml"
# classes.jar without the desktop JNI libraries (none in a cross build's jar).
cp "$classes" "$dir/classes.jar"
cp "$jni" "$dir/jni/arm64-v8a/liblfm2moe_jni.so"
cp "$lib" "$dir/jni/arm64-v8a/liblfm2moe.so"
rm -f "$out"
# `jar cfM`: a plain zip (no META-INF/MANIFEST.MF), as an aar is.
"$jar" cfM "$out" -C "$dir" .
