//! `orchestrace inspect`: the inspector views of a trace read from a file, Jaeger or Tempo.
//!
//! Exit codes: 0 rendered; 2 a bad file or usage (the message names the file and the place);
//! 3 the source could not be reached or has no such trace.

use std::io::Write;

use orchestrace_inspect::{self as inspect, FetchError, RenderOptions, Trace};

use super::args::{InspectArgs, View};
use super::output::OutputFile;
use super::sanitize::clean;
use super::{code, Failure};

pub(crate) fn inspect(args: InspectArgs) -> Result<u8, Failure> {
    // A bad --html path is found before the trace is read or fetched.
    let html = args
        .views
        .html
        .as_deref()
        .map(|p| OutputFile::open("--html", p))
        .transpose()?;
    if let Some(n) = args.last {
        return last_runs(&args, n);
    }
    let trace = load(&args)?;
    show(&trace, html, args.views.view, args.json, args.views.all)?;
    Ok(code::OK)
}

/// `--jaeger URL --last N`: the last runs, newest first, each analysed; one line each (or
/// their analyses as a JSON array).
fn last_runs(args: &InspectArgs, n: usize) -> Result<u8, Failure> {
    let Some([url]) = args.jaeger.as_deref() else {
        return Err(Failure::invalid(
            "--last takes --jaeger URL without a TRACE_ID",
        ));
    };
    let lookback = inspect::time::parse_duration(&args.since).ok_or_else(|| {
        Failure::invalid(format!(
            "--since {}: expected a duration such as 90s, 30m, 2h or 7d",
            clean(&args.since)
        ))
    })?;
    let mut search = inspect::JaegerSearch::new(args.service.clone(), n);
    search.lookback = lookback;
    search.operation = args
        .workflow
        .as_ref()
        .map(|w| format!("{} {w}", orchestrace::semconv::OP_INVOKE_WORKFLOW));
    for a in &args.attrs {
        let Some((k, v)) = a.split_once('=') else {
            return Err(Failure::invalid(format!(
                "--attr {}: expected KEY=VALUE",
                clean(a)
            )));
        };
        search.attributes.push((k.to_owned(), v.to_owned()));
    }
    let traces = inspect::search_jaeger(url, &search, &inspect::FetchOptions::default())
        .map_err(fetch_failure)?;
    let analyses: Vec<inspect::Analysis> = traces.iter().map(inspect::analyze).collect();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        super::json::write_pretty(&mut out, &analyses)
    } else {
        write_runs(&mut out, &traces, &analyses)
    };
    written.or_else(super::ignore_broken_pipe)?;
    Ok(code::OK)
}

fn write_runs(
    out: &mut dyn Write,
    traces: &[Trace],
    analyses: &[inspect::Analysis],
) -> std::io::Result<()> {
    if traces.is_empty() {
        return writeln!(out, "no runs found");
    }
    writeln!(
        out,
        "{:<32}  {:>10}  {:>10}  {:>10}  {:>6}  critical path",
        "trace", "makespan", "serial", "saved", "tools"
    )?;
    for (t, a) in traces.iter().zip(analyses) {
        let tools = t.orchestration().map_or(0, |o| o.tools.len());
        writeln!(
            out,
            "{:<32}  {:>10}  {:>10}  {:>10}  {:>6}  {}",
            clean(&t.trace_id),
            inspect::format_duration(a.total_duration_ms),
            inspect::format_duration(a.serial_duration_ms),
            inspect::format_duration(a.time_saved_ms),
            tools,
            clean(&a.critical_path.join(" → ")),
        )?;
    }
    Ok(())
}

fn load(args: &InspectArgs) -> Result<Trace, Failure> {
    let from_backend = |backend, pair: &[String]| -> Result<Trace, Failure> {
        let [url, id] = pair else {
            return Err(Failure::invalid(
                "expected URL and TRACE_ID (or --jaeger URL --last N for the latest runs)",
            ));
        };
        inspect::fetch(backend, url, id).map_err(fetch_failure)
    };
    match (&args.file, &args.jaeger, &args.tempo) {
        (Some(path), None, None) => inspect::load_file(path).map_err(Failure::invalid),
        (None, Some(pair), None) => from_backend(inspect::Backend::Jaeger, pair),
        (None, None, Some(pair)) => from_backend(inspect::Backend::Tempo, pair),
        _ => Err(Failure::invalid(
            "give one trace source: FILE, --jaeger URL TRACE_ID or --tempo URL TRACE_ID",
        )),
    }
}

fn fetch_failure(e: FetchError) -> Failure {
    if e.is_unavailable() {
        Failure::source(e)
    } else {
        Failure::invalid(e)
    }
}

/// Prints the views of a trace (or, with `json`, the analysis as JSON) to stdout, and writes
/// the HTML report when asked. Colour only on a terminal, and never with `NO_COLOR` set.
fn show(
    trace: &Trace,
    html: Option<OutputFile>,
    view: View,
    json: bool,
    all: bool,
) -> Result<(), Failure> {
    let analysis = inspect::analyze(trace);
    if let Some(out) = html {
        write_html(out, trace, &analysis)?;
    }
    let mut out = std::io::stdout().lock();
    let written = if json {
        super::json::write_pretty(&mut out, &analysis)
    } else {
        write_views(
            &mut out,
            trace,
            &analysis,
            view,
            &RenderOptions::for_stdout().with_all_rows(all),
        )
    };
    written.or_else(super::ignore_broken_pipe)
}

/// Prints the chosen views of a trace to `out` (stdout's colour rules).
pub(crate) fn write_views_to(
    out: &mut dyn Write,
    trace: &Trace,
    view: View,
    all: bool,
) -> Result<(), Failure> {
    let analysis = inspect::analyze(trace);
    let opts = RenderOptions::for_stdout().with_all_rows(all);
    write_views(out, trace, &analysis, view, &opts).or_else(super::ignore_broken_pipe)
}

/// Writes the self-contained HTML report of a trace.
pub(crate) fn write_html_file(out: OutputFile, trace: &Trace) -> Result<(), Failure> {
    write_html(out, trace, &inspect::analyze(trace))
}

fn write_html(out: OutputFile, trace: &Trace, analysis: &inspect::Analysis) -> Result<(), Failure> {
    let mut html = Vec::new();
    inspect::write_html(&mut html, trace, analysis)
        .map_err(|e| Failure::invalid(format!("cannot render the HTML report: {e}")))?;
    out.write(&html)
}

/// The trace id line, the notes, then the chosen views separated by blank lines.
pub(crate) fn write_views(
    out: &mut dyn Write,
    trace: &Trace,
    analysis: &inspect::Analysis,
    view: View,
    opts: &RenderOptions,
) -> std::io::Result<()> {
    writeln!(out, "trace {}", clean(&trace.trace_id))?;
    if view == View::None {
        return Ok(());
    }
    inspect::write_notes(out, analysis, opts)?;
    let (detail, timeline, perf) = match view {
        View::Detail => (true, false, false),
        View::Timeline => (false, true, false),
        View::Analysis => (false, false, true),
        View::All => (true, true, true),
        View::None => (false, false, false),
    };
    if detail {
        writeln!(out)?;
        inspect::write_detail(out, trace, analysis, opts)?;
    }
    if timeline {
        writeln!(out)?;
        inspect::write_timeline(out, trace, analysis, opts)?;
    }
    if perf {
        writeln!(out)?;
        inspect::write_analysis(out, trace, analysis, opts)?;
    }
    Ok(())
}
