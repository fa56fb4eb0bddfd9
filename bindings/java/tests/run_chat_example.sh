#!/bin/sh
# run_chat_example.sh JAVA CLASSPATH MODEL
# Runs examples/java/Chat.java (compiled) for two turns, with no library
# path option (the jar carries its JNI library), and checks that each turn
# streamed a reply and printed its stats line.
set -eu
err=$(mktemp)
trap 'rm -f "$err"' EXIT
printf 'Hello\nAnd again\n' | env -u LD_LIBRARY_PATH "$1" -cp "$2" Chat "$3" 8 2>"$err"
cat "$err"
[ "$(grep -c 'tokens, .* tok/s' "$err")" -eq 2 ]
