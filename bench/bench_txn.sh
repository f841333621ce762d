#!/usr/bin/env bash
# cdc-apply --transactions against the default on one stream of
# multi-table source transactions (orders + order_lines: an order created
# with 1-4 lines, a line added or removed with the order's count, an order
# deleted with its lines; Debezium JSON with schema, transaction metadata
# on, 3 + 3 partitions and the transaction topic), 3 rounds each, the two
# modes alternating, each round from the start with a group of its own
# into the emptied target (no foreign key: the default mode needs none).
# Time = from the first commit until the stored positions reach the end
# offsets (the group join, the same in both modes, is left out).
# Prints the median, min and max of each mode and the ratio.
#
# usage: bench/bench_txn.sh BUILD_DIR [TRANSACTIONS]   (default 5000)
# It runs the 'bench' case of tests/apply/test_txn.c (a local PostgreSQL
# and the mock broker, as the tests use).
set -euo pipefail
build=$(cd "${1:?usage: bench/bench_txn.sh BUILD_DIR [TRANSACTIONS]}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
CDC_BUILD_ROOT=$build CDC_SOURCE_ROOT=$src CDC_SHARED_ROOT=$src/../shared \
    exec "$build/tests/test-apply-txn-bench" bench "${2:-5000}"
