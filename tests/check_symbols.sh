#!/bin/sh
# Fails if the shared library exports any symbol that is not lfm2moe_*.
set -eu
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
[ -n "$syms" ] || { echo "no exported symbols found in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^lfm2moe_' || true)
if [ -n "$bad" ]; then
    echo "symbols outside the lfm2moe_ namespace are exported:"
    printf '%s\n' "$bad"
    exit 1
fi
echo "$(printf '%s\n' "$syms" | wc -l) exported symbols, all lfm2moe_*"
