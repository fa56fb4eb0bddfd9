#!/bin/sh
# Build and test under sanitizers.
#
#   tests/run_sanitized.sh          ASan + UBSan build in build-asan, the whole suite
#   tests/run_sanitized.sh thread   TSan build in build-tsan, the concurrency test
#                                   (sessions with worker pools on several threads,
#                                   cancellation from another thread)
#
# Run from anywhere; build directories are made next to this repository's
# meson.build.  Extra arguments after the mode go to `meson test`.
# Leaks are errors (detect_leaks=1); any UBSan report stops the program
# (halt_on_error=1), so a finding fails its test.
#
# The python-* / java-* tests load the library into an interpreter that is
# not instrumented: they run with the sanitizer runtime preloaded and leak
# detection off (the interpreters' own allocations are not ours).  The
# packaging tests (python-pip-install builds its own library, cmake-consumer
# links an uninstrumented program) are left to the plain build.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-address}
[ $# -gt 0 ] && shift

case "$mode" in
address|asan)
    dir="$root/build-asan"
    [ -f "$dir/build.ninja" ] || meson setup "$dir" "$root" -Db_sanitize=address,undefined \
        -Dbuildtype=debugoptimized
    ninja -C "$dir"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    # the C suite (every test but the ones hosted by a Python or Java interpreter)
    hosted='^\(python\|java\)-'
    # not rerun here: the packaging checks (they rebuild the tree themselves)
    # and the Python-driven schema validation (an uninstrumented interpreter
    # loading the library; the C `structured` test runs the same constrained
    # generation under the sanitizers)
    packaging='^\(python-pip-install\|cmake-consumer\|json-schema-valid\)$'
    # test names without meson's "project[:suite] / " prefix (printed once
    # any test has a suite, e.g. golden-*)
    list_tests() { meson test -C "$dir" --no-rebuild --list 2>/dev/null | sed 's|^.* / ||'; }
    c_tests=$(list_tests | grep -v -e "$hosted" |
              grep -v -e "$packaging" || true)
    # shellcheck disable=SC2086
    meson test -C "$dir" --print-errorlogs "$@" $c_tests
    b_tests=$(list_tests | grep -e "$hosted" |
              grep -v -e "$packaging" || true)
    if [ -n "$b_tests" ]; then
        cc=$(meson introspect "$dir" --compilers 2>/dev/null |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["host"]["c"]["exelist"][0])' \
             2>/dev/null || echo cc)
        pre="$($cc -print-file-name=libasan.so):$($cc -print-file-name=libubsan.so)"
        # shellcheck disable=SC2086
        LD_PRELOAD="$pre" \
        ASAN_OPTIONS=detect_leaks=0:handle_segv=0:allow_user_segv_handler=1:verify_asan_link_order=0 \
            meson test -C "$dir" --print-errorlogs "$@" $b_tests
    fi
    ;;
thread|tsan)
    dir="$root/build-tsan"
    [ -f "$dir/build.ninja" ] || meson setup "$dir" "$root" -Db_sanitize=thread \
        -Dbuildtype=debugoptimized
    ninja -C "$dir"
    export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
    meson test -C "$dir" --print-errorlogs "$@" concurrency
    ;;
*)
    echo "usage: $0 [address|thread] [meson test args...]" >&2
    exit 2
    ;;
esac
