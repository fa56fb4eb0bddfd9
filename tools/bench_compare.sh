#!/bin/sh
# Side-by-side speed against llama.cpp on the same GGUF file, same threads:
# runs `lfm2moe bench` and llama-bench interleaved (ours, theirs, ours,
# theirs, ... ROUNDS times each, one timed run per invocation after each
# tool's own warm-up) and prints, per test, the median of each engine, the
# ratio of the medians, each engine's spread and the read bandwidth the
# machine gave our tg runs (measured by `lfm2moe bench --bw` right before
# each one).  The bandwidth of shared machines moves from minute to minute:
# only interleaved runs compare the two engines fairly.
#
#   tools/bench_compare.sh -m FILE [-M OUR_FILE] [-t 2] [-p 512] [-n 64] [-d 0[,4096...]]
#       [-R 5] [-b BUILD_DIR] [-l LLAMA_RUN]
# -M: the file our bench runs, when it is not FILE itself: the same weights
# rewritten by `lfm2moe quantize --repack FILE OUR_FILE` (which llama.cpp
# cannot read).
# LLAMA_RUN defaults to shared/ref-llama/run beside the checkout (or beside
# its parent, for git worktrees).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
model= ourmodel= threads=2 p=512 n=64 depth=0 rounds=5 build="$here/build"
llama="$here/../shared/ref-llama/run"
[ -x "$llama" ] || llama="$here/../../shared/ref-llama/run"
while getopts m:M:t:p:n:d:R:b:l: o; do
    case $o in
    m) model=$OPTARG ;; M) ourmodel=$OPTARG ;; t) threads=$OPTARG ;; p) p=$OPTARG ;; n) n=$OPTARG ;;
    d) depth=$OPTARG ;; R) rounds=$OPTARG ;; b) build=$OPTARG ;; l) llama=$OPTARG ;;
    *) sed -n '2,15p' "$0" >&2; exit 2 ;;
    esac
done
[ -n "$model" ] && [ -f "$model" ] || { echo "bench_compare: -m FILE (an existing GGUF) is required" >&2; exit 2; }
[ -n "$ourmodel" ] || ourmodel=$model
[ -f "$ourmodel" ] || { echo "bench_compare: no file $ourmodel (-M)" >&2; exit 2; }
ours="$build/examples/lfm2moe"
[ -x "$ours" ] || { echo "bench_compare: no $ours (build first)" >&2; exit 2; }
[ -x "$llama" ] || { echo "bench_compare: no llama.cpp runner at $llama (-l)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# into the page cache: ours through our own mapping (the library maps files
# MADV_HUGEPAGE, so pages it faults in may come as 2 MiB folios, which
# `cat` would have read as small ones; a 256-token prefill reads every
# expert), then theirs if it is another file
"$ours" bench -m "$ourmodel" -t "$threads" -p 256 -n 0 -r 1 > /dev/null
[ "$ourmodel" = "$model" ] || cat "$model" > /dev/null

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')," \
     "file $(basename "$model"), threads $threads, $rounds interleaved rounds"
echo "# load before: $(uptime | sed 's/.*load average/load average/')"
[ "$ourmodel" = "$model" ] || echo "# our file: $(basename "$ourmodel") (the same weights, lfm2moe quantize --repack)"
echo "# ours:   $ours bench -m FILE -t $threads -p $p -n $n -d $depth -r 1 --bw"
echo "# theirs: $llama llama-bench -m FILE -t $threads -p $p -n $n -d $depth -r 1"
i=1
while [ "$i" -le "$rounds" ]; do
    # ours: | model | size | params | threads | test | t/s | spread |, then "bw TEST: ... X GB/s; share Y%"
    "$ours" bench -m "$ourmodel" -t "$threads" -p "$p" -n "$n" -d "$depth" -r 1 --bw > "$tmp/ours.$i"
    awk -F'|' '$6 ~ /(pp|tg)[0-9]/ { t=$6; gsub(/^ +| +$/, "", t); v=$7; gsub(/ /, "", v); print "ours\t" t "\t" v }
               /^bw / { t=$0; sub(/^bw /, "", t); sub(/:.*/, "", t)
                        b=$0; sub(/.*measured before each run\) /, "", b); sub(/ GB.*/, "", b)
                        s=$0; sub(/.*share /, "", s); sub(/%.*/, "", s)
                        print "bw\t" t "\t" b; print "share\t" t "\t" s }' "$tmp/ours.$i" >> "$tmp/samples"
    "$llama" llama-bench -m "$model" -t "$threads" -p "$p" -n "$n" -d "$depth" -r 1 -o md \
        > "$tmp/theirs.$i" 2> "$tmp/theirs.err" || { cat "$tmp/theirs.err" >&2; exit 1; }
    # theirs: | model | size | params | backend | threads | test | t/s |
    awk -F'|' '$7 ~ /(pp|tg)[0-9]/ { t=$7; gsub(/^ +| +$/, "", t); v=$8; sub(/±.*/, "", v); gsub(/ /, "", v); print "theirs\t" t "\t" v }' \
        "$tmp/theirs.$i" >> "$tmp/samples"
    printf '# round %d: %s\n' "$i" "$(awk -F'\t' -v from="${mark:-0}" 'NR > from && ($1=="ours"||$1=="theirs") { printf "%s %s %s; ", $1, $2, $3 }' "$tmp/samples")" >&2
    mark=$(wc -l < "$tmp/samples")
    i=$((i + 1))
done
echo "# load after: $(uptime | sed 's/.*load average/load average/')"
echo
echo "| test | threads | ours t/s (median, min-max) | llama.cpp t/s (median, min-max) | ratio of medians | read bandwidth during our tg (GB/s, median) | our weight traffic / bandwidth |"
echo "|---|---|---|---|---|---|---|"
awk -F'\t' -v th="$threads" '
function med(key,   n, i, j, t, a) {
    n = cnt[key]; for (i = 1; i <= n; i++) a[i] = val[key, i]
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    lo[key] = a[1]; hi[key] = a[n]
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ key = $1 SUBSEP $2; val[key, ++cnt[key]] = $3; if (!seen[$2]++) order[++ntest] = $2 }
END {
    for (k = 1; k <= ntest; k++) {
        t = order[k]; o = med("ours" SUBSEP t); l = med("theirs" SUBSEP t)
        bw = cnt["bw" SUBSEP t] ? sprintf("%.1f", med("bw" SUBSEP t)) : ""
        sh = cnt["share" SUBSEP t] ? sprintf("%.0f%%", med("share" SUBSEP t)) : ""
        printf "| %s | %s | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) | **%.2fx** | %s | %s |\n", t, th,
            o, lo["ours" SUBSEP t], hi["ours" SUBSEP t], l, lo["theirs" SUBSEP t], hi["theirs" SUBSEP t],
            (l > 0 ? o / l : 0), bw, sh
    }
}' "$tmp/samples"
