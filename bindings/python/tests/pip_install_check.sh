#!/bin/sh
# pip_install_check.sh PYTHON LIBRARY SRCDIR MODEL EXAMPLE
# Offline install of the package into a fresh venv (pip --no-index
# --no-build-isolation: setuptools and wheel from the system), then run the
# chat example from it against LIBRARY.  Exit 77 (skip) when no Python here
# has setuptools and wheel.
set -eu
lib=$2 src=$3 model=$4 example=$5
py=
for cand in "$1" /usr/bin/python3; do
    if "$cand" -c 'import setuptools, wheel, venv' 2>/dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || { echo "no python3 with setuptools and wheel: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
mkdir "$tmp/src"
cp -R "$src/pyproject.toml" "$src/README.md" "$src/lfm2moe" "$tmp/src/"
"$py" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --no-index --no-build-isolation "$tmp/src"
cd "$tmp"
out=$(printf 'Hello\nAnd again\n' | LFM2MOE_LIBRARY="$lib" PYTHONPATH= "$tmp/venv/bin/python" \
      "$example" "$model" --max-tokens 8 --seed 7 --threads 1 2>"$tmp/err")
cat "$tmp/err"
echo "$out"
LFM2MOE_LIBRARY="$lib" "$tmp/venv/bin/python" -c \
    'import lfm2moe, sys; sys.exit(0 if lfm2moe.__file__.startswith(sys.prefix) else 1)'
# Two turns, each with a stats line.
[ "$(grep -c 'tokens, .* tok/s' "$tmp/err")" -eq 2 ]
