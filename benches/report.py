#!/usr/bin/env python3
"""Prints the benchmark tables (markdown) from one `cargo bench` run.

Reads criterion's estimates (target/criterion/*/*/new/estimates.json, the median of each
benchmark) and the whole-process figures the harness-less benches wrote to
target/bench-results/. Run by benches/run.sh; `python3 benches/report.py [TARGET_DIR]`.
"""
import json
import os
import sys

TARGET = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CARGO_TARGET_DIR", "target")
CRIT = os.path.join(TARGET, "criterion")
RESULTS = os.path.join(TARGET, "bench-results")


def median_ns(group, bench):
    path = os.path.join(CRIT, group.replace("/", "_"), bench.replace("/", "_"), "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def load(name):
    with open(os.path.join(RESULTS, name)) as f:
        return json.load(f)


def yes(ok):
    return "yes" if ok else "**no**"


def machine():
    path = os.path.join(RESULTS, "machine.txt")
    if os.path.exists(path):
        print("```")
        print(open(path).read().rstrip())
        print("```\n")


def scheduling():
    print("### 1. Scheduling overhead, untraced (time per tool, median)\n")
    print("| shape | driven by | orchestrace | dagrs 0.9 | ratio | goal ≤ 1.00 met? |")
    print("|---|---|---:|---:|---:|---|")
    shapes = [("independent_10000", 10000), ("chain_1000", 1000), ("random_dag_10000", 10000)]
    for shape, n in shapes:
        g = f"scheduling/{shape}"
        for harness in ["block_on", "in_task", "current_thread"]:
            ours = median_ns(g, f"orchestrace/{harness}") / n / 1e3
            theirs = median_ns(g, f"dagrs/{harness}") / n / 1e3
            r = ours / theirs
            print(f"| {shape} | {harness} | {ours:.2f} µs | {theirs:.2f} µs | {r:.2f} | {yes(r <= 1.0)} |")
        unl = median_ns(g, "orchestrace_unlimited/block_on") / n / 1e3
        theirs = median_ns(g, "dagrs/block_on") / n / 1e3
        print(f"| {shape} | block_on, no concurrency limit | {unl:.2f} µs | {theirs:.2f} µs | {unl / theirs:.2f} | {yes(unl <= theirs)} |")
    print()


def span_overhead():
    info = load("span_overhead.json")
    n = info["tools_per_run"]
    print("### 2. Span overhead (per span, median)\n")
    print(f"Our tool span: {info['tool_span_attributes']} attributes, {info['tool_span_links']} links; "
          f"measured as (traced − untraced) / {n} over a run of {n} tools "
          f"({info['levels_per_run']} levels).\n")
    print("| processor | orchestrace tool span | bare tracing-opentelemetry span | ratio (goal ≤ 1.5) | bare span + arrays + 2 links | ratio | OpenTelemetry SDK directly (floor) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    untraced = median_ns("span_overhead/orchestrace_tool", "untraced")
    for p in ["noop", "batch"]:
        traced = median_ns("span_overhead/orchestrace_tool", f"traced_{p}")
        ours = (traced - untraced) / n
        bare = median_ns("span_overhead/single_span", f"bare_tracing_otel_{p}")
        links = median_ns("span_overhead/single_span", f"bare_tracing_otel_links_{p}")
        sdk = median_ns("span_overhead/single_span", f"otel_sdk_{p}")
        label = "do-nothing" if p == "noop" else "batch (SDK default)"
        print(f"| {label} | {ours / 1e3:.2f} µs | {bare / 1e3:.2f} µs | {ours / bare:.2f} ({yes(ours / bare <= 1.5)}) "
              f"| {links / 1e3:.2f} µs | {ours / links:.2f} | {sdk / 1e3:.2f} µs |")
    print(f"\nUntraced run: {untraced / n / 1e3:.2f} µs a tool; traced (do-nothing processor): "
          f"{median_ns('span_overhead/orchestrace_tool', 'traced_noop') / n / 1e3:.2f} µs a tool.\n")


def makespan():
    m = load("makespan.json")
    o, b = m["ours"], m["barriers"]
    print("### 3. Makespan / critical path (median over runs)\n")
    print(f"{m['dags']} seeded DAGs × {m['runs_per_dag']} runs.\n")
    print("| | orchestrace (dataflow) | level-by-level with barriers | ratio | goal ≤ 1.02 met? |")
    print("|---|---:|---:|---:|---|")
    print(f"| makespan / critical path (measured durations), median | {o['ratio_median']:.4f} | {b['ratio_median']:.4f} "
          f"| {o['ratio_median'] / b['ratio_median']:.3f} | {yes(o['ratio_median'] <= 1.02)} |")
    print(f"| same, worst run | {o['ratio_worst']:.4f} | {b['ratio_worst']:.4f} | {o['ratio_worst'] / b['ratio_worst']:.3f} | {yes(o['ratio_worst'] <= 1.02)} |")
    print(f"| makespan / critical path (nominal durations), median | {o['nominal_ratio_median']:.4f} | {b['nominal_ratio_median']:.4f} "
          f"| {o['nominal_ratio_median'] / b['nominal_ratio_median']:.3f} | |")
    print(f"| makespan, median | {o['makespan_ms_median']:.1f} ms | {b['makespan_ms_median']:.1f} ms "
          f"| {m['ours_over_barriers_median']:.3f} (per run) | |")
    print()


def export():
    e = load("export_scale.json")
    print("### 4. Export at scale (OTLP/gRPC, in-process receiver; medians)\n")
    print(f"{e['tools']} tools, {e['levels']} levels: {e['cli']['emitted']} spans emitted per run.\n")
    print("| program | spans received / emitted (every run) | wall time | peak RSS | goals: 0 dropped / ≤ 150 MB |")
    print("|---|---|---:|---:|---|")
    names = {
        "cli": "`orchestrace run --otlp` (CLI)",
        "library": "library, export only (host app)",
        "bare": "alternative: bare tracing-opentelemetry, same spans",
        "bare_bounded": "bare, `parallel_with` bounded to 128 ids (not ours)",
    }
    for k in ["cli", "library", "bare", "bare_bounded"]:
        r = e[k]
        rec = r["received"]
        frac = ", ".join(f"{x}/{r['emitted']}" for x in rec)
        all_in = all(x == r["emitted"] for x in rec)
        rss = r["peak_rss_mb_median"]
        goals = f"{yes(all_in)} / {yes(rss <= 150)}" if k in ("cli", "library") else ""
        print(f"| {names[k]} | {frac} | {r['wall_ms_median'] / 1e3:.2f} s | {rss:.0f} MB | {goals} |")
    for k in ["cli", "library", "bare"]:
        errs = {s["stderr"] for s in e[k]["samples"] if s["stderr"]}
        for err in errs:
            print(f"\n{k} stderr: `{err}`")
    print()


if __name__ == "__main__":
    machine()
    scheduling()
    span_overhead()
    makespan()
    export()
