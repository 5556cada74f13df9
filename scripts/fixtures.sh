#!/usr/bin/env bash
# Rewrites tests/fixtures/real/ from the real Jaeger and Collector (built by scripts/peers.sh):
# one run of examples/plans/ci_ops.json through the collector into Jaeger, saved as Jaeger's
# /api/traces/{id} and /api/v3/traces/{id} answers and the collector's file-exporter output.
set -euo pipefail
cd "$(dirname "$0")/.."
ORCHESTRACE_WRITE_FIXTURES=1 cargo test --locked --test real_stack fixtures -- --nocapture
ls -l tests/fixtures/real/
