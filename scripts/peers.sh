#!/usr/bin/env bash
# Builds the real peers the integration tests talk to, from the pinned Go modules in
# tests/peers/ (see tests/peers/README.md): Jaeger v2 and a small OpenTelemetry Collector.
#
#   eval "$(bash scripts/peers.sh)"   # sets JAEGER_BIN and OTELCOL_BIN
#
# Binaries go to ${ORCHESTRACE_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestrace/peers}/<hash>/,
# where <hash> covers the go.mod, go.sum and main.go files; a run finds them there and builds
# nothing. Only the two KEY=/path lines go to stdout, progress goes to stderr.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
  echo "peers.sh: 'go' is not on PATH; install Go 1.26 or newer (https://go.dev/dl/) to build Jaeger and the collector" >&2
  exit 1
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peers="$root/tests/peers"
inputs=(jaeger/go.mod jaeger/go.sum otelcol/go.mod otelcol/go.sum otelcol/main.go)

hash="$(
  cd "$peers"
  for f in "${inputs[@]}"; do
    printf '== %s\n' "$f"
    cat "$f"
  done | if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi | cut -c1-16
)"
base="${ORCHESTRACE_PEERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestrace/peers}"
out="$base/$hash"
mkdir -p "$out"

# Test binaries may call this script in parallel: one builds, the others wait for it.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out/.lock"
  flock 9
fi

tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT

build() { # build NAME MODULE_DIR PACKAGE
  local name="$1" dir="$2" pkg="$3"
  if [ -x "$out/$name" ]; then
    echo "peers.sh: $name up to date in $out" >&2
    return
  fi
  echo "peers.sh: building $name ($pkg) into $out, this takes minutes..." >&2
  tmp="$(mktemp -d "$out/.build.XXXXXX")"
  # A complete go.sum is committed, so the module graph is read-only; CGO off for a static
  # binary that needs no C toolchain.
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$tmp/$name" "$pkg") >&2
  mv -f "$tmp/$name" "$out/$name"
  rmdir "$tmp"
  tmp=""
}

build jaeger "$peers/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
build otelcol "$peers/otelcol" .

echo "JAEGER_BIN=$out/jaeger"
echo "OTELCOL_BIN=$out/otelcol"
