#!/bin/sh
# build_jar.sh JAVAC JAR OUT.jar CLASSDIR CLASSPATH JAVAC_FLAGS... -- SOURCES...
# Compiles SOURCES into a fresh CLASSDIR and packs it as OUT.jar.
set -e
javac=$1 jar=$2 out=$3 dir=$4 cp=$5
shift 5
flags=
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    flags="$flags $1"
    shift
done
shift
rm -rf "$dir"
mkdir -p "$dir"
# shellcheck disable=SC2086
"$javac" $flags ${cp:+-cp "$cp"} -d "$dir" "$@"
"$jar" cf "$out" -C "$dir" .
