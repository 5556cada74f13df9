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

/// The self-contained HTML report of a trace (no script; inline CSS and SVG).
pub(crate) fn report_html(trace: &Trace, analysis: &Analysis) -> String {
    let mut out = Vec::new();
    if orchestrace_inspect::write_html(&mut out, trace, analysis).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}
