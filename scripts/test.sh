#!/usr/bin/env bash
# Runs the whole test suite: the README's test command. Installs what the tests need when it is
# missing, idempotently. Needs nothing outside the repository but a Rust toolchain and Go (Chromium
# is installed when missing; Jaeger and the Collector are built from tests/peers/).
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

# The real Jaeger and Collector (tests/real_stack.rs), built from their pinned Go modules once
# into a cache (~13 min cold on 2 cores, seconds when cached), beside the Rust build.
peers_env="$(mktemp)"
bash scripts/peers.sh >"$peers_env" &
peers_pid=$!

cargo test --workspace --locked --lib --bins --tests --examples --no-run
# Benchmarks are compiled here, and run by `cargo bench` (see benches/README.md).
cargo test --workspace --locked --benches --no-run

if ! wait "$peers_pid"; then
  echo "test.sh: building Jaeger and the Collector failed (scripts/peers.sh, above)" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1090
. "$peers_env"
set +a
rm -f "$peers_env"

cargo test --workspace --locked --lib --bins --tests --examples
cargo test --workspace --locked --doc

# The examples run as a user would run them (no collector needed).
for example in quickstart custom_tool host_app; do
  cargo run --locked --quiet --example "$example" >/dev/null
done
