#!/bin/sh
# Where a decoded token's time goes: `perf record` over `lfm2moe bench`
# decoding (no prefill), then the samples grouped by op: matrix products
# by weight type and layout, attention, element-wise ops, activation
# encoding, the thread pool's waits (spinning, yielding, sleeping), the
# kernel (page faults, scheduling) and the rest.
#
#   tools/profile_decode.sh -m FILE [-t 2] [-n 64] [-b BUILD_DIR]
#
# Needs perf (Debian: linux-perf) and permission to sample the process
# (root or kernel.perf_event_paranoid <= 1).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
model= threads=2 n=64 build="$here/build"
while getopts m:t:n:b: o; do
    case $o in
    m) model=$OPTARG ;; t) threads=$OPTARG ;; n) n=$OPTARG ;; b) build=$OPTARG ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
    esac
done
[ -n "$model" ] && [ -f "$model" ] || { echo "profile_decode: -m FILE is required" >&2; exit 2; }
command -v perf > /dev/null || { echo "profile_decode: perf is not installed" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/profile_decode.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cat "$model" > /dev/null
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'), file $(basename "$model"), threads $threads, tg$n"
echo "# perf record -o DATA $build/examples/lfm2moe bench -m FILE -t $threads -p 0 -n $n -r 3"
perf record -q -o "$tmp/perf.data" "$build/examples/lfm2moe" bench -m "$model" -t "$threads" \
    -p 0 -n "$n" -r 3 > "$tmp/bench.txt" 2> "$tmp/perf.err" || { cat "$tmp/perf.err" >&2; exit 1; }
grep "tg$n" "$tmp/bench.txt" | sed 's/^/# /'
perf report -q -i "$tmp/perf.data" --no-children --sort symbol --percent-limit 0 2> /dev/null |
awk '
/%/ {
    p = $1; sub(/%/, "", p); s = $3
    if (s ~ /^gr_/)                                   g = "matmul, R16 layout (Q4_0/Q8_0)"
    else if (s ~ /q4_0|q8_0/ && s ~ /^(gt_|mm_|dot_)/) g = "matmul, Q4_0/Q8_0 rows"
    else if (s ~ /q4_K|q5_K/)                         g = "matmul, Q4_K/Q5_K"
    else if (s ~ /q6_K/)                              g = "matmul, Q6_K (output head, ffn_down)"
    else if (s ~ /q2_K|q3_K|q4_1|q5_0|q5_1/)          g = "matmul, other quantized types"
    else if (s ~ /dot_f32|dot_f16|dot_bf16|tile_f32/)  g = "matmul, float (router)"
    else if (s ~ /attn|attention/)                    g = "attention"
    else if (s ~ /act_q8|quantize_act/)               g = "activation encoding"
    else if (s ~ /rmsnorm|silu|axpy|rope|shortconv|router|moe_route|softmax|memmove|memcpy|memset/) g = "element-wise (norms, SwiGLU, RoPE, conv, routing, copies)"
    else if (s ~ /worker_main|pool_run|run_chunks|sched_yield|futex|pthread/) g = "thread pool: waits and hand-off"
    else if ($2 == "[k]")                             g = "kernel (scheduling, page faults, ...)"
    else                                              g = "other"
    t[g] += p
}
END { for (g in t) printf "| %s | %.1f%% |\n", g, t[g] }' | sort -t'|' -k3 -rn > "$tmp/groups"
echo
echo "| where | share of samples |"
echo "|---|---|"
cat "$tmp/groups"
