#!/usr/bin/env bash
# Unit test: deploy/systemd units pass `systemd-analyze verify` with no
# warning (unknown keys are only warnings there, so any output fails), the
# restart policy is the one the runbook promises (restart on crashes, never
# on exit 1 or 2), the timer catches up missed nights, and the example
# configuration files are accepted by the programs the units start.
# Needs the built binaries (CDC_BUILD_ROOT). Skips (77) without systemd-analyze.
set -euo pipefail
src=${CDC_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${CDC_BUILD_ROOT:?CDC_BUILD_ROOT not set}
. "$(dirname "$0")/need.sh"
need systemd-analyze systemd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
for f in cdc-apply.service cdc-verify.service cdc-verify.timer; do
  # The units name the installed paths; verify them against the build.
  sed "s#/usr/local/bin/#$bld/#" "$src/deploy/systemd/$f" > "$tmp/$f"
done
out=$(systemd-analyze verify "$tmp/cdc-apply.service" "$tmp/cdc-verify.service" \
  "$tmp/cdc-verify.timer" 2>&1) || { echo "FAIL systemd-analyze verify: $out"; fail=1; }
if [ -n "$out" ]; then echo "FAIL systemd-analyze printed: $out"; fail=1; fi

want() { # file, regex, why
  grep -Eq "$2" "$src/deploy/systemd/$1" || { echo "FAIL $1: $3"; fail=1; }
}
want cdc-apply.service '^Restart=on-failure$' 'must restart after a crash'
want cdc-apply.service '^RestartPreventExitStatus=1 2$' 'must not restart-loop on exit 1 (poison record) or 2 (config)'
want cdc-apply.service '^KillSignal=SIGTERM$' 'SIGTERM is the clean stop'
want cdc-verify.service '^Type=oneshot$' 'a verify run is a oneshot'
want cdc-verify.timer '^Persistent=true$' 'a missed night must run at next boot'
want cdc-verify.timer '^Unit=cdc-verify.service$' 'the timer starts the verify service'
systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$src/deploy/systemd/cdc-verify.timer")" \
  >/dev/null || { echo "FAIL OnCalendar does not parse"; fail=1; }

# The example configuration files are what the units read: the programs
# must accept them as they are (exit 0 on --dump-config).
"$bld/cdc-apply" -c "$src/deploy/systemd/cdc-apply.conf.example" --dump-config >/dev/null \
  || { echo "FAIL cdc-apply rejects cdc-apply.conf.example"; fail=1; }
"$bld/cdc-verify" -c "$src/deploy/systemd/cdc-verify.conf.example" --dump-config >/dev/null \
  || { echo "FAIL cdc-verify rejects cdc-verify.conf.example"; fail=1; }

# A broken unit must fail this check (the check itself is not blind).
printf '[Service]\nExecStart=/nonexistent/cdc-apply\n' > "$tmp/broken.service"
if systemd-analyze verify "$tmp/broken.service" >/dev/null 2>&1; then
  echo "FAIL systemd-analyze accepted a unit with a missing binary"; fail=1
fi
[ $fail -eq 0 ] && echo "systemd units verified"
exit $fail
