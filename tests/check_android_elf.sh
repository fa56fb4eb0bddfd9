#!/bin/sh
# check_android_elf.sh LIB...: each aarch64 shared object is ready for
# Android: every LOAD segment aligned to 16 KiB (devices with 16 KiB pages,
# Android 15+), and no dependency beyond libc, libm, libdl and the dynamic
# loader (pthreads are in libc on Android; glibc's libpthread is accepted).
set -eu
for lib in "$@"; do
    align=$(readelf -lW "$lib" | awk '$1 == "LOAD" {print $NF}')
    [ -n "$align" ] || { echo "$lib: no LOAD segments"; exit 1; }
    for a in $align; do
        if [ $((a)) -lt 16384 ]; then
            echo "$lib: a LOAD segment is aligned to $a, below 16 KiB (link with -z max-page-size=16384)"
            readelf -lW "$lib"
            exit 1
        fi
    done
    needed=$(readelf -dW "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    for n in $needed; do
        case $n in
        libc.so | libc.so.6 | libm.so | libm.so.6 | libdl.so | libdl.so.2 | libpthread.so.0 | \
            ld-linux-aarch64.so.1) ;;
        *) echo "$lib: unexpected dependency $n"; exit 1 ;;
        esac
    done
    echo "$lib: LOAD alignment $(echo $align | tr '\n' ' '), needs: $(echo $needed | tr '\n' ' ')"
done
