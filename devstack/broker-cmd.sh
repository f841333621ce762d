#!/usr/bin/env bash
# Send one command to the mock broker of a stack-up.sh stack and print its
# answer. Exit 0 on OK, 1 on ERR or no answer within 10 s.
#
# usage: broker-cmd.sh DIR 'down 1'     (see cdc-mock-broker --help)
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: broker-cmd.sh DIR COMMAND" >&2
    exit 2
fi
dir=$1
out=$dir/broker.out
[[ -p $dir/broker.in ]] || { echo "broker-cmd.sh: no stack in $dir" >&2; exit 1; }
# Answers are appended to broker.out in order: wait for the line after the
# ones already there. One sender at a time.
before=$(wc -l <"$out")
echo "$2" >"$dir/broker.in"
for _ in $(seq 100); do
    if [[ $(wc -l <"$out") -gt $before ]]; then
        answer=$(sed -n "$((before + 1))p" "$out")
        echo "$answer"
        [[ $answer == OK ]]
        exit
    fi
    sleep 0.1
done
echo "broker-cmd.sh: no answer within 10s" >&2
exit 1
