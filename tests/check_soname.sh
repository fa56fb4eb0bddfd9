#!/bin/sh
# check_soname.sh LIB VERSION: the shared library's SONAME is
# liblfm2moe.so.MAJOR, MAJOR being the first part of meson's project version
# (README.md, "ABI policy").
set -eu
lib=$1 version=$2
major=${version%%.*}
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "SONAME of $lib: $soname (project version $version)"
[ "$soname" = "liblfm2moe.so.$major" ]
