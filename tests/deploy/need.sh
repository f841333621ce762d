# Sourced by the static deploy checks (check-*.sh).
# need TOOL PACKAGE: skip the test (exit 77) unless TOOL is installed,
# naming the Debian package that installs it.
need() {
  if ! command -v "$1" >/dev/null; then
    echo "$1 not found (Debian: apt-get install $2); skipping"
    exit 77
  fi
}
