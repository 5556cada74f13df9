#!/usr/bin/env bash
# Runs every benchmark of benches/ once, on this machine, and prints the tables of
# benches/README.md. Usage: benches/run.sh [--wait]   (--wait: until the load average is < 0.5)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

if [[ "${1:-}" == "--wait" ]]; then
  for _ in $(seq 30); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$load" 'BEGIN { exit !(l < 0.5) }' && break
    echo "load average $load, waiting…" >&2
    sleep 60
  done
fi

# Peak RSS of the child processes comes from GNU time when it is there.
if [[ ! -x /usr/bin/time ]] && command -v apt-get >/dev/null; then
  apt-get install -y time >/dev/null 2>&1 || echo "no /usr/bin/time: RSS from /proc VmHWM polling" >&2
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$target/criterion" "$target/bench-results"
cargo bench --no-run
mkdir -p "$target/bench-results"
{
  echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) ($(nproc) cores online)"
  echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
  echo "kernel: $(uname -sr); $(rustc --version)"
  echo "load average (1, 5, 15 min) before the build: $load_before; before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$target/bench-results/machine.txt"

cargo bench --bench scheduling
cargo bench --bench span_overhead
cargo bench --bench makespan
cargo bench --bench export_scale
echo "load average (1, 5, 15 min) after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$target/bench-results/machine.txt"

python3 benches/report.py "$target"
