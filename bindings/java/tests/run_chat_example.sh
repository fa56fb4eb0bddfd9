#!/bin/sh
# run_chat_example.sh JAVA LIBDIR CLASSPATH MODEL
# Runs examples/java/Chat.java (compiled) for two turns and checks that each
# turn streamed a reply and printed its stats line.
set -eu
err=$(mktemp)
trap 'rm -f "$err"' EXIT
printf 'Hello\nAnd again\n' | "$1" -Djava.library.path="$2" -cp "$3" Chat "$4" 8 2>"$err"
cat "$err"
[ "$(grep -c 'tokens, .* tok/s' "$err")" -eq 2 ]
