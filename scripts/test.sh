#!/usr/bin/env bash
# Runs the whole test suite: the README's test command. Installs what the tests need when it is
# missing, idempotently. Needs nothing outside the repository but a Rust toolchain (and Chromium).
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

cargo test --workspace --locked --all-targets
cargo test --workspace --locked --doc

# The examples run as a user would run them (no collector needed).
for example in quickstart custom_tool host_app; do
  cargo run --locked --quiet --example "$example" >/dev/null
done
