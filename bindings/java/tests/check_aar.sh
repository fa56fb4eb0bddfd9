#!/bin/sh
# check_aar.sh AAR: the Android archive has the layout Android's build tools
# expect (listed with unzip -l): AndroidManifest.xml, classes.jar with the
# ai.lfm2moe classes, and the arm64-v8a native libraries.
set -eu
aar=$1
list=$(unzip -l "$aar")
echo "$list"
for entry in AndroidManifest.xml classes.jar jni/arm64-v8a/liblfm2moe.so \
             jni/arm64-v8a/liblfm2moe_jni.so; do
    echo "$list" | awk '{print $4}' | grep -qx "$entry" || { echo "missing: $entry"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unzip -q "$aar" classes.jar -d "$tmp"
unzip -l "$tmp/classes.jar" | awk '{print $4}' | grep -qx 'ai/lfm2moe/Model.class' ||
    { echo "classes.jar has no ai/lfm2moe/Model.class"; exit 1; }
echo "aar layout OK"
