#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need when it is missing, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --locked --all-targets
cargo test --locked --doc
