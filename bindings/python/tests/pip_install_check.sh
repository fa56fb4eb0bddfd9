#!/bin/sh
# pip_install_check.sh PYTHON SRCROOT VERSION
# The install users do, offline: a venv (--system-site-packages: meson-python,
# meson, ninja from Debian) and `pip install --no-index --no-build-isolation
# ./bindings/python` from a copy of the source tree without build
# directories, as in a fresh clone.  Then, in new processes with no LFM2MOE_*
# variables: the package loads the library it carries, its version is
# meson's, and the demo model generates through `python -m lfm2moe`, the
# iterator, agenerate and the example.  Exit 77 (skip) without meson-python.
set -eu
src=$2 version=$3
py=
for cand in "$1" /usr/bin/python3; do
    if "$cand" -c 'import mesonpy, venv' 2>/dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || { echo "no python3 with meson-python (Debian: python3-mesonpy): skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/clone"
tar -C "$src" --exclude='./build*' --exclude=./.git --exclude=./tests/golden -cf - . |
    tar -C "$tmp/clone" -xf -
"$py" -m venv --system-site-packages "$tmp/venv"
(cd "$tmp/clone" && "$tmp/venv/bin/python" -m pip install -q --no-index --no-build-isolation \
    ./bindings/python)
model=$src/models/lfm2moe-demo-f32.gguf
cd "$tmp"
# A clean environment: nothing tells the package where the library is.
run() { env -i PATH=/usr/bin:/bin HOME="$tmp" "$tmp/venv/bin/python" "$@"; }
run -m lfm2moe version
out=$(run -m lfm2moe generate -m "$model" -p "What is 17 plus 25?" --chat --temp 0 -n 24)
echo "$out"
echo "$out" | grep -q 42
run - "$model" "$version" "$tmp/venv" <<'PY'
import asyncio, os, sys
import lfm2moe
model_path, version, venv = sys.argv[1:]
assert not [k for k in os.environ if k.startswith("LFM2MOE_")]
assert lfm2moe.__version__ == version, (lfm2moe.__version__, version)
assert lfm2moe.library_version() == version
assert lfm2moe.library_path().startswith(venv), lfm2moe.library_path()
assert lfm2moe.__file__.startswith(venv)
with lfm2moe.Model(model_path) as model, lfm2moe.Session(model, n_ctx=256, threads=1) as s:
    prompt = model.apply_chat_template([{"role": "user", "content": "What is 17 plus 25?"}])
    text = s.generate(prompt, max_tokens=24, temperature=0).text()
    s.reset()
    async def collect():
        return "".join([p async for p in s.agenerate(prompt, max_tokens=24, temperature=0)])
    assert asyncio.run(collect()) == text, text
    s.decode(model.tokenize("Hello"))
    logits = s.logits
    try:
        import numpy
        assert isinstance(logits, numpy.ndarray) and logits.shape == (model.info.n_vocab,)
        assert not logits.flags.owndata and not logits.flags.writeable
    except ImportError:
        assert isinstance(logits, memoryview)
print("installed package OK:", repr(text), type(logits).__name__)
PY
# LFM2MOE_LIBRARY still overrides the bundled library.
if env -i PATH=/usr/bin:/bin LFM2MOE_LIBRARY="$tmp/none.so" "$tmp/venv/bin/python" -c 'import lfm2moe' \
        2>"$tmp/err"; then
    echo "LFM2MOE_LIBRARY was ignored"; exit 1
fi
grep -q "none.so" "$tmp/err"
printf 'Hello\nAnd again\n' | run "$src/examples/python/chat.py" "$model" --max-tokens 8 \
    --seed 7 --threads 1 2>"$tmp/err"
cat "$tmp/err"
[ "$(grep -c 'tokens, .* tok/s' "$tmp/err")" -eq 2 ]
