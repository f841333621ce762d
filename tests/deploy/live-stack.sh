# Sourced by the live deploy tests (test-*-live.sh), after they set $src and
# $bld: the checks for the tools they need, a local stack (PostgreSQL, mock
# Kafka) in a fresh directory that is torn down on exit, and bounded polls.

# live_need TOOL...: skip the test (exit 77) unless every tool is installed.
live_need() {
  for b in "$@"; do
    command -v "$b" >/dev/null || { echo "$b not found (scripts/install-deps.sh installs it); skipping"; exit 77; }
  done
}

# live_cleanup: stop what the test started ($pids) and remove the stack.
live_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  CDC_BUILD_ROOT="$bld" bash "$src/devstack/stack-down.sh" --rm "$dir" >/dev/null 2>&1 || true
}

# live_start TAG: $dir (/tmp/cdc-TAG.XXXXXX), an empty $pids, the cleanup
# on exit, then the stack up and its environment (stack.env) exported.
live_start() {
  dir=$(mktemp -d "/tmp/cdc-$1.XXXXXX")
  pids=()
  trap live_cleanup EXIT
  CDC_BUILD_ROOT="$bld" bash "$src/devstack/stack-up.sh" --fast "$dir" >/dev/null
  set -a; . "$dir/stack.env"; set +a
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# until_ok SECONDS CMD...: bounded poll
until_ok() {
  local t=$1; shift
  for _ in $(seq $((t * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# live_prometheus PORT: Prometheus on 127.0.0.1:PORT with $dir/prometheus.yml
# (its pid in $pids), once it is ready. Needs die().
live_prometheus() {
  prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
    --web.listen-address="127.0.0.1:$1" 2>"$dir/prometheus.log" &
  pids+=($!)
  until_ok 30 curl -sf "http://127.0.0.1:$1/-/ready" || die "prometheus did not become ready"
}
