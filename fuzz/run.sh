#!/bin/sh
# Build the fuzz targets (clang, ASan+UBSan) and run each for a bounded time.
#   fuzz/run.sh [SECONDS_PER_TARGET] (default 60)
# Crashes land in fuzz/artifacts/; turn each into a golden case under
# tests/fixtures/decode/ once fixed.
set -eu
secs=${1:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$src/build-fuzz}
if [ ! -d "$build" ]; then
    # The library is instrumented for coverage too (fuzzer-no-link), or
    # libFuzzer would only see the harness.
    CC=clang meson setup "$build" "$src" -Dfuzz=true -Db_sanitize=address,undefined \
        -Dc_args=-fsanitize=fuzzer-no-link \
        -Db_lundef=false
fi
ninja -C "$build" fuzz/fuzz_decode_json fuzz/fuzz_decode_avro fuzz/fuzz_registry_response
mkdir -p "$src/fuzz/artifacts"
seed=$(mktemp -d)
trap 'rm -rf "$seed"' EXIT
mkdir -p "$seed/json" "$seed/avro" "$seed/reg"
cp "$src"/tests/fixtures/decode/*/value.json "$src"/tests/fixtures/debezium/*.json "$seed/json/" 2>/dev/null || true
for f in "$src"/tests/fixtures/decode/*/value.json; do
    name=$(basename "$(dirname "$f")")
    cp "$f" "$seed/json/$name.json"
    # The target's first byte picks the key/value split; '@' (64 % 8 == 0)
    # keeps the whole rest as the value, so the seed is a valid record and
    # the differential check starts from inputs the fast path takes. The
    # compact form is what the JsonConverter writes (and what the
    # recently-used-schema shortcut expects).
    { printf '@'; cat "$f"; } > "$seed/json/$name.whole"
    # (the invalid-JSON cases have no compact form)
    if command -v jq >/dev/null 2>&1 && c=$(jq -c . "$f" 2>/dev/null); then
        printf '@%s' "$c" > "$seed/json/$name.compact"
    fi
done
for f in "$src"/tests/fixtures/decode/*/schema.avsc; do
    cp "$f" "$seed/reg/$(basename "$(dirname "$f")").avsc"
done
printf '\002\006\002\002z\000\000' > "$seed/avro/min"
for t in json avro reg; do
    case $t in
    json) bin=fuzz_decode_json ;;
    avro) bin=fuzz_decode_avro ;;
    reg) bin=fuzz_registry_response ;;
    esac
    echo "== $bin for ${secs}s"
    LSAN_OPTIONS="suppressions=$src/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" "$build/fuzz/$bin" -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 \
        -artifact_prefix="$src/fuzz/artifacts/$bin-" "$seed/$t"
done
