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

/// The report of a trace as a self-contained HTML page (no script; inline CSS and SVG): the
/// inspector's full report up to [`FULL_REPORT_MAX_SPANS`] spans, above it a bounded page
/// with the inspector's summarised views (levels, critical path, slowest and failed tools)
/// that says so and links the full analysis (`analysis_url`).
pub(crate) fn report_html(trace: &Trace, analysis: &Analysis, analysis_url: &str) -> String {
    if trace.spans.len() > FULL_REPORT_MAX_SPANS {
        return summarised_html(analysis, trace.spans.len(), analysis_url);
    }
    let mut out = Vec::new();
    if orchestrace_inspect::write_html(&mut out, trace, analysis).is_err() {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Rows each list of the summarised page shows at most.
const SUMMARY_ROWS: usize = 20;

/// The bounded page of a large trace, from its analysis alone (the trace itself is not
/// needed): the figures, the levels, the critical path (its ends), the slowest and the failed
/// tools, the suggestions and notes, and a line saying it is summarised.
pub(crate) fn summarised_html(a: &Analysis, spans: usize, analysis_url: &str) -> String {
    use crate::web::esc;
    use orchestrace_inspect::format_duration as dur;
    use std::fmt::Write as _;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>orchestrace · trace {id}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:0 24px 24px}}\
         table{{border-collapse:collapse}}th,td{{padding:3px 10px;text-align:left;\
         border-bottom:1px solid #ddd}}td.num{{text-align:right}}.note{{color:#8a5a00}}\
         .error{{color:#b00020}}</style>\n</head>\n<body>\n\
         <header><h1>Execution Trace</h1><p class=\"meta\">trace <b>{id}</b> · {spans} spans · \
         {tools} tools</p></header>\n<main>\n\
         <p class=\"note\" id=\"summarised\">Summarised: this trace has {spans} spans, more than \
         the {max} the full report (timeline, graph, every tool) is drawn for. Every tool is in \
         the <a href=\"{url}\">analysis JSON</a>.</p>\n",
        id = esc(&a.trace_id),
        tools = a.tools.len(),
        max = FULL_REPORT_MAX_SPANS,
        url = esc(analysis_url),
    );
    for n in a.notes.iter().take(SUMMARY_ROWS) {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(n));
    }
    let mut levels: std::collections::BTreeMap<usize, usize> = Default::default();
    for t in &a.tools {
        *levels.entry(t.group).or_default() += 1;
    }
    let widest = levels.values().copied().max().unwrap_or(0);
    let _ = write!(
        h,
        "<section id=\"analysis\"><h2>Analysis</h2><table>\
         <tr><th>makespan</th><td class=\"num\">{}</td></tr>\
         <tr><th>serial duration</th><td class=\"num\">{}</td></tr>\
         <tr><th>time saved</th><td class=\"num\">{} ({:.1}%)</td></tr>\
         <tr><th>critical path</th><td class=\"num\">{} · {} tools</td></tr>\
         <tr><th>levels</th><td class=\"num\">{} (widest: {} tools)</td></tr>",
        dur(a.total_duration_ms),
        dur(a.serial_duration_ms),
        dur(a.time_saved_ms),
        a.time_saved_pct,
        dur(a.critical_path_ms),
        a.critical_path.len(),
        levels.len(),
        widest,
    );
    if let Some(b) = a.level_barrier_ms {
        let _ = write!(
            h,
            "<tr><th>with a barrier per level</th><td class=\"num\">{}</td></tr>",
            dur(b)
        );
    }
    h.push_str("</table></section>\n");
    let cp = &a.critical_path;
    let half = SUMMARY_ROWS / 2;
    let path = if cp.len() <= SUMMARY_ROWS {
        cp.iter().map(|t| esc(t)).collect::<Vec<_>>().join(" → ")
    } else {
        format!(
            "{} → … {} more … → {}",
            cp[..half]
                .iter()
                .map(|t| esc(t))
                .collect::<Vec<_>>()
                .join(" → "),
            cp.len() - 2 * half,
            cp[cp.len() - half..]
                .iter()
                .map(|t| esc(t))
                .collect::<Vec<_>>()
                .join(" → ")
        )
    };
    let _ = writeln!(
        h,
        "<section id=\"critical-path\"><h2>Critical path</h2><p>{path}</p></section>"
    );
    let tool_table = |h: &mut String,
                      title: &str,
                      id: &str,
                      tools: &[&orchestrace_inspect::ToolTiming],
                      total: usize| {
        let _ = write!(
            h,
            "<section id=\"{id}\"><h2>{title}</h2><table><tr><th>tool id</th><th>tool</th>\
             <th>level</th><th>duration</th><th>status</th><th>slack</th></tr>"
        );
        for t in tools {
            let status = t.status.as_str();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"{status}\">{status}</td><td class=\"num\">{}</td></tr>",
                esc(&t.id),
                esc(&t.tool),
                t.group,
                dur(t.duration_ms),
                dur(t.slack_ms),
            );
        }
        h.push_str("</table>");
        if total > tools.len() {
            let _ = write!(h, "<p>… and {} more.</p>", total - tools.len());
        }
        h.push_str("</section>\n");
    };
    let mut slowest: Vec<&orchestrace_inspect::ToolTiming> = a.tools.iter().collect();
    let n = SUMMARY_ROWS.min(slowest.len());
    if n > 0 {
        slowest.select_nth_unstable_by(n - 1, |x, y| y.duration_ms.total_cmp(&x.duration_ms));
        slowest.truncate(n);
        slowest.sort_by(|x, y| y.duration_ms.total_cmp(&x.duration_ms));
    }
    tool_table(&mut h, "Slowest tools", "slowest", &slowest, slowest.len());
    let failed: Vec<&orchestrace_inspect::ToolTiming> =
        a.tools.iter().filter(|t| is_error(t)).collect();
    if !failed.is_empty() {
        let shown = &failed[..failed.len().min(SUMMARY_ROWS)];
        tool_table(&mut h, "Failed tools", "failed", shown, failed.len());
    }
    if !a.suggestions.is_empty() {
        h.push_str("<section id=\"suggestions\"><h2>Suggestions</h2><ol>");
        for s in a.suggestions.iter().take(SUMMARY_ROWS) {
            let _ = write!(
                h,
                "<li>{} <span>(up to {})</span></li>",
                esc(&s.message),
                dur(s.estimated_gain_ms)
            );
        }
        h.push_str("</ol></section>\n");
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

/// Whether a tool of an analysis failed.
pub(crate) fn is_error(t: &orchestrace_inspect::ToolTiming) -> bool {
    t.status.as_str() == "error"
}

/// Reads back a cached analysis (the JSON [`analysis_json`] wrote).
pub(crate) fn parse_analysis(text: &str) -> Option<Analysis> {
    serde_json::from_str(text).ok()
}
