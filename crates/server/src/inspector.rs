//! The one place this crate calls the inspector (`orchestrace-inspect`): loading OTLP JSON into
//! its trace model, analysing it, and rendering its HTML report. Everything else in the server
//! goes through these functions, so a change of the inspector's names touches this file alone.

use serde_json::Value;

/// The inspector's trace model.
pub(crate) type Trace = orchestrace_inspect::Trace;

/// The inspector's analysis of a trace (its JSON is `orchestrace inspect --json`).
pub(crate) type Analysis = orchestrace_inspect::Analysis;

/// Reads an OTLP JSON document (`{"resourceSpans": …}`) into the inspector's trace model.
pub(crate) fn load_otlp(doc: &Value) -> Result<Trace, String> {
    Trace::from_otlp_json(doc).map_err(|e| e.to_string())
}

/// Analyses a trace exactly as `orchestrace inspect --json` does.
pub(crate) fn analyze(trace: &Trace) -> Analysis {
    orchestrace_inspect::analyze(trace)
}

/// The JSON text `orchestrace inspect --json` prints for this analysis (pretty, one trailing
/// newline).
pub(crate) fn analysis_json(analysis: &Analysis) -> String {
    let mut s = serde_json::to_string_pretty(analysis).unwrap_or_else(|_| "null".into());
    s.push('\n');
    s
}

/// Spans from which the trace page shows the inspector's summarised text views instead of
/// its full HTML report (whose timeline, graph and detail list every tool).
pub(crate) const FULL_REPORT_MAX_SPANS: usize = 2_000;

/// Most bytes of summarised text a page carries.
const SUMMARY_MAX_BYTES: usize = 1 << 20;

/// The report of a trace as a self-contained HTML page (no script; inline CSS and SVG): the
/// inspector's full report up to [`FULL_REPORT_MAX_SPANS`] spans, above it a bounded page
/// with the inspector's summarised views (levels, critical path, slowest and failed tools)
/// that says so and links the full analysis (`analysis_url`).
pub(crate) fn report_html(trace: &Trace, analysis: &Analysis, analysis_url: &str) -> String {
    if trace.spans.len() > FULL_REPORT_MAX_SPANS {
        return summarised_html(trace, analysis, analysis_url);
    }
    let mut out = Vec::new();
    if orchestrace_inspect::write_html(&mut out, trace, analysis).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

fn summarised_html(trace: &Trace, a: &Analysis, analysis_url: &str) -> String {
    use crate::web::esc;
    let opts = orchestrace_inspect::RenderOptions::new().with_all_rows(false);
    let mut text = Vec::new();
    let _ = orchestrace_inspect::write_analysis(&mut text, trace, a, &opts);
    text.push(b'\n');
    let _ = orchestrace_inspect::write_timeline(&mut text, trace, a, &opts);
    let mut text = String::from_utf8_lossy(&text).into_owned();
    let mut cut = false;
    if text.len() > SUMMARY_MAX_BYTES {
        let mut end = SUMMARY_MAX_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>orchestrace · trace {id}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:0 24px 24px}}\
         pre{{font-size:13px;overflow-x:auto}}.note{{color:#8a5a00}}</style>\n</head>\n<body>\n\
         <header><h1>Execution Trace</h1><p class=\"meta\">trace <b>{id}</b> · {spans} spans · \
         {tools} tools</p></header>\n<main>\n\
         <p class=\"note\" id=\"summarised\">Summarised: this trace has {spans} spans, more than \
         the {max} the full report (timeline, graph, every tool) is drawn for. Below are the \
         inspector's summarised views; every tool is in the <a href=\"{url}\">analysis JSON</a>.</p>\n\
         <pre>{body}</pre>{more}\n</main>\n</body>\n</html>\n",
        id = esc(&a.trace_id),
        spans = trace.spans.len(),
        tools = a.tools.len(),
        max = FULL_REPORT_MAX_SPANS,
        url = esc(analysis_url),
        body = esc(&text),
        more = if cut { "<p class=\"note\">(cut at 1 MiB)</p>" } else { "" },
    )
}

/// Whether a tool of an analysis failed.
pub(crate) fn is_error(t: &orchestrace_inspect::ToolTiming) -> bool {
    t.status.as_str() == "error"
}

/// Reads back a cached analysis (the JSON [`analysis_json`] wrote).
pub(crate) fn parse_analysis(text: &str) -> Option<Analysis> {
    serde_json::from_str(text).ok()
}
