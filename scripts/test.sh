#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

# Headless Chromium for the HTML report check (tests/inspect_html.rs): Debian's package, installed
# once when missing (CHROMIUM=/path/to/browser points the test at another one).
if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium
fi

# otelite, an independent OTLP receiver with a query API, for the end-to-end tests
# (tests/otelite.rs). Pinned; built once into ~/.cargo/bin.
OTELITE_VERSION=0.1.156
export OTELITE_BIN="${OTELITE_BIN:-${CARGO_HOME:-$HOME/.cargo}/bin/otelite}"
if ! "$OTELITE_BIN" --version 2>/dev/null | grep -q "otelite $OTELITE_VERSION"; then
  cargo install --locked "otelite@$OTELITE_VERSION"
fi

cargo test --locked --all-targets
cargo test --locked --doc

# The examples run as a user would run them (no collector needed).
for example in quickstart custom_tool host_app; do
  cargo run --locked --quiet --example "$example" >/dev/null
done
