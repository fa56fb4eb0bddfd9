#!/bin/sh
# build_jar.sh [-m MANIFEST] [-r PATH_IN_JAR=FILE]... JAVAC JAR OUT.jar CLASSDIR CLASSPATH
#              JAVAC_FLAGS... -- SOURCES...
# Compiles SOURCES into a fresh CLASSDIR, adds the resources (-r, e.g. the
# JNI library under ai/lfm2moe/native/PLATFORM/) and packs it as OUT.jar,
# with MANIFEST's entries if given.
set -e
manifest=
resources=
while getopts m:r: opt; do
    case $opt in
    m) manifest=$OPTARG ;;
    r) resources="$resources $OPTARG" ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
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
for r in $resources; do
    mkdir -p "$dir/$(dirname "${r%%=*}")"
    cp "${r#*=}" "$dir/${r%%=*}"
done
rm -f "$out"
if [ -n "$manifest" ]; then
    "$jar" cfm "$out" "$manifest" -C "$dir" .
else
    "$jar" cf "$out" -C "$dir" .
fi
