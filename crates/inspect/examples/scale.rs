//! Scale benchmark: generates a trace of one shape, then loads, analyzes and renders it,
//! printing the time of each step. Run under `/usr/bin/time -f '%e s %M KB'` for the peak
//! memory (see `benches/README.md`).
//!
//! ```sh
//! cargo run --release -p orchestrace-inspect --example scale -- tools 10000
//! ```
//!
//! A third argument `print` writes the rendered views to standard output as well.

#[path = "../tests/gen/mod.rs"]
mod gen;

use std::time::Instant;

use orchestrace_inspect::{self as inspect, RenderOptions};

fn main() {
    let mut args = std::env::args().skip(1);
    let shape = args.next().unwrap_or_else(|| "tools".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let print = args.next().as_deref() == Some("print");
    let text = match shape.as_str() {
        "tools" => gen::orchestrace_run(n, false),
        "chain" => gen::orchestrace_run(n, true),
        "wide" => gen::wide(n),
        "deep" => gen::deep(n),
        "lines" => gen::json_lines(n),
        "spans" => gen::many_spans(n),
        other => {
            eprintln!("unknown shape {other}: tools, chain, wide, deep, lines or spans");
            std::process::exit(2);
        }
    };
    eprintln!("{shape} {n}: {} MB of JSON", text.len() / (1024 * 1024));
    let t = Instant::now();
    let trace = inspect::load_str(&text).expect("the generated trace loads");
    drop(text);
    let load = t.elapsed();
    let t = Instant::now();
    let a = inspect::analyze(&trace);
    let analysis = t.elapsed();
    let t = Instant::now();
    let mut out = Vec::new();
    let opts = RenderOptions::new();
    inspect::write_detail(&mut out, &trace, &a, &opts).unwrap();
    inspect::write_timeline(&mut out, &trace, &a, &opts).unwrap();
    inspect::write_analysis(&mut out, &trace, &a, &opts).unwrap();
    let views = t.elapsed();
    if print {
        use std::io::Write;
        std::io::stdout().write_all(&out).unwrap();
    }
    println!(
        "{shape} {n}: {} spans; load {:.3} s, analyze {:.3} s, views {:.3} s ({} lines); makespan {} ms",
        trace.spans.len(),
        load.as_secs_f64(),
        analysis.as_secs_f64(),
        views.as_secs_f64(),
        out.iter().filter(|&&b| b == b'\n').count(),
        a.total_duration_ms
    );
}
