//! The HTML report: one self-contained file (inline CSS and SVG, no script, nothing fetched)
//! with the Gantt timeline, the DAG drawn as levels with dependency edges and the critical
//! path highlighted, the detail view and the analysis.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use orchestrace::run::ToolStatus;

use super::text::{compact, params_text, result_text, status_mark, strategy_name};
use crate::analysis::{
    critical_tools, format_duration as dur, timing_segments, Analysis, CriticalPathBasis,
};
use crate::model::{Orchestration, Trace};

use escape_html as esc;

/// Escapes text for HTML content and attribute values (control characters but newlines
/// become spaces).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --crit: #c2255c; --ok: #2b8a3e; --err: #e03131; --skip: #e8590c; --bar: #4dabf7;
  --fg: #212529; --muted: #868e96; --line: #dee2e6; --bg: #f8f9fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  margin: 0; background: #fff; }
header { background: #1c2541; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 6px; font-size: 22px; }
header .meta { margin: 0; color: #ced4da; font-size: 13px; }
header .meta b { color: #fff; }
main { padding: 8px 32px 40px; max-width: 1240px; }
section { margin-top: 28px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 8px; }
.note { background: #fff3bf; border-left: 4px solid #fab005; padding: 6px 12px; margin: 12px 0; }
.summary { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
  min-width: 150px; }
.card .v { font-size: 20px; font-weight: 600; }
.card .k { color: var(--muted); font-size: 12px; }
svg { max-width: 100%; height: auto; background: #fff; }
svg text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg .muted { fill: var(--muted); }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .bar { fill: var(--bar); }
svg .bar.critical { fill: var(--crit); }
svg .bar.error { stroke: var(--err); stroke-width: 2; }
svg .bar.skipped { fill: var(--skip); opacity: .7; }
svg .queue { fill: #ced4da; }
svg .parallel { fill: #d3f9d8; }
svg .band { fill: #2f9e44; }
svg .level-row { fill: #f1f3f5; }
svg .node rect { fill: #fff; stroke: #adb5bd; stroke-width: 1.5; }
svg .node.critical rect { stroke: var(--crit); stroke-width: 3; }
svg .node.error rect { fill: #fff5f5; }
svg .node.skipped rect { fill: #fff4e6; }
svg .edge { fill: none; stroke: #adb5bd; stroke-width: 1.5; }
svg .edge.unused { stroke-dasharray: 5 4; }
svg .edge.critical { stroke: var(--crit); stroke-width: 3; }
.legend span { margin-right: 16px; color: var(--muted); font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px;
  margin-right: 4px; }
.footer-lines { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg);
  padding: 8px 12px; border-radius: 6px; display: inline-block; }
.level { border: 1px solid var(--line); border-radius: 6px; margin: 12px 0; }
.level > h3 { background: var(--bg); padding: 8px 12px; margin: 0; border-bottom: 1px solid var(--line); }
.tool { padding: 8px 12px; border-bottom: 1px dashed var(--line); }
.tool:last-child { border-bottom: 0; }
.tool .head { font-weight: 600; }
.tool .head .st { font-weight: 400; }
.st.ok { color: var(--ok); } .st.error { color: var(--err); } .st.skipped, .st.cancelled { color: var(--skip); }
.crit { color: var(--crit); font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0 0 18px; }
dt { color: var(--muted); } dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace;
  font-size: 13px; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.critical td:first-child { border-left: 3px solid var(--crit); }
ol.suggestions li { margin: 6px 0; }
.gain { color: var(--ok); font-weight: 600; }
.kind { color: var(--muted); font-size: 12px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
"#;

/// Writes the HTML report of a trace.
pub fn write_html<W: Write + ?Sized>(out: &mut W, trace: &Trace, a: &Analysis) -> io::Result<()> {
    let orch = trace.orchestration();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>orchestrace · trace {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(&a.trace_id)
    );
    let title = if a.plan_data {
        "Execution Trace"
    } else {
        "Trace Detail"
    };
    let _ = write!(
        h,
        "<header><h1>{title}</h1><p class=\"meta\">trace <b>{}</b>",
        esc(&a.trace_id)
    );
    if let Some(p) = orch.as_ref().and_then(|o| o.plan_id.as_ref()) {
        let _ = write!(h, " · plan <b>{}</b>", esc(p));
    }
    let _ = write!(
        h,
        " · {} span{} · {}</p></header>\n<main>\n",
        trace.spans.len(),
        if trace.spans.len() == 1 { "" } else { "s" },
        esc(&trace.services().join(", "))
    );
    for n in &a.notes {
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(n));
    }
    summary_cards(&mut h, a);
    h.push_str("<section id=\"timeline\"><h2>Timeline</h2>\n");
    match &orch {
        Some(o) => gantt_plan(&mut h, o, a),
        None => gantt_tree(&mut h, trace),
    }
    h.push_str(
        "<p class=\"legend\"><span><i class=\"swatch\" style=\"background:var(--crit)\"></i>critical path</span>\
         <span><i class=\"swatch\" style=\"background:var(--bar)\"></i>off the path</span>\
         <span><i class=\"swatch\" style=\"background:#ced4da\"></i>queued</span>\
         <span><i class=\"swatch\" style=\"background:var(--skip)\"></i>skipped</span>\
         <span><i class=\"swatch\" style=\"background:#d3f9d8\"></i>2+ running at once</span></p>\n",
    );
    let saved = if a.time_saved_ms > 0.0 {
        format!(
            "Time Saved: {} ({:.0}% faster)",
            dur(a.time_saved_ms),
            a.time_saved_pct
        )
    } else {
        "Time Saved: none".to_owned()
    };
    let _ = writeln!(
        h,
        "<div class=\"footer-lines\">Execution Strategy: {}<br>Total Time: {} (vs {} if serial)<br>{}</div>",
        esc(&strategy_name(a.execution_strategy)),
        dur(a.total_duration_ms),
        dur(a.serial_duration_ms),
        saved
    );
    h.push_str("</section>\n");
    match &orch {
        Some(o) => {
            h.push_str("<section id=\"dag\"><h2>Plan: levels and dependencies</h2>\n");
            dag_plan(&mut h, o, a);
            h.push_str(
                "<p class=\"legend\"><span>— dependency the data flow reads</span>\
                 <span>- - declared, never read by the data flow</span>\
                 <span class=\"crit\">━ critical path</span></p></section>\n",
            );
            h.push_str("<section id=\"detail\"><h2>Trace Detail</h2>\n");
            detail_plan(&mut h, o, a);
        }
        None => {
            h.push_str("<section id=\"dag\"><h2>Span tree</h2>\n");
            dag_tree(&mut h, trace, a);
            h.push_str("</section>\n<section id=\"detail\"><h2>Spans</h2>\n");
            detail_tree(&mut h, trace, a);
        }
    }
    h.push_str("</section>\n");
    analysis_section(&mut h, a);
    let _ = write!(
        h,
        "</main>\n<footer style=\"padding:12px 32px;color:#868e96;font-size:12px\">orchestrace {} · {}</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(trace.format.as_str())
    );
    out.write_all(h.as_bytes())
}

fn summary_cards(h: &mut String, a: &Analysis) {
    h.push_str("<div class=\"summary\">");
    let mut card = |k: &str, v: String| {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    };
    card("strategy", strategy_name(a.execution_strategy));
    card("makespan", dur(a.total_duration_ms));
    card("if serial", dur(a.serial_duration_ms));
    card(
        "time saved",
        format!("{} ({:.0}%)", dur(a.time_saved_ms), a.time_saved_pct),
    );
    card("critical path", dur(a.critical_path_ms));
    if let Some(lb) = a.level_barrier_ms {
        card("level by level", dur(lb));
    }
    h.push_str("</div>\n");
}

const LABEL_W: f64 = 220.0;
const BAR_W: f64 = 880.0;
const ROW_H: f64 = 26.0;

fn axis(h: &mut String, top: f64, bottom: f64, total_ms: f64) {
    for k in 0..=5 {
        let x = LABEL_W + BAR_W * k as f64 / 5.0;
        let _ = write!(
            h,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text class=\"muted\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{}\">{}</text>",
            top - 6.0,
            match k {
                0 => "start",
                5 => "end",
                _ => "middle",
            },
            esc(&dur(total_ms * k as f64 / 5.0))
        );
    }
}

/// Intervals where two or more of `spans` overlap.
fn overlaps(spans: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut ev: Vec<(u64, i32)> = Vec::new();
    for &(s, e) in spans {
        if e > s {
            ev.push((s, 1));
            ev.push((e, -1));
        }
    }
    ev.sort_by_key(|&(t, d)| (t, d));
    let mut out = Vec::new();
    let mut n = 0;
    let mut from = 0;
    for (t, d) in ev {
        let before = n;
        n += d;
        if before < 2 && n >= 2 {
            from = t;
        } else if before >= 2 && n < 2 && t > from {
            out.push((from, t));
        }
    }
    out
}

fn gantt_plan(h: &mut String, o: &Orchestration, a: &Analysis) {
    let critical = critical_tools(o, a);
    let t0 = o.start_ns();
    let span = o.end_ns().saturating_sub(t0).max(1) as f64;
    let x = |t: u64| LABEL_W + (t.saturating_sub(t0) as f64 / span) * BAR_W;
    let rows = o.levels.len() + o.tools.len();
    let top = 30.0;
    let height = top + rows as f64 * ROW_H + 40.0;
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"gantt\" width=\"{:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {:.0} {height:.0}\" role=\"img\" aria-label=\"Gantt chart of the tools\">",
        LABEL_W + BAR_W + 20.0,
        LABEL_W + BAR_W + 20.0
    );
    let ran: Vec<(u64, u64)> = o
        .tools
        .iter()
        .filter(|t| t.ran())
        .map(|t| (t.start_ns, t.end_ns))
        .collect();
    let bottom = top + rows as f64 * ROW_H;
    for (s, e) in overlaps(&ran) {
        let _ = write!(
            h,
            "<rect class=\"parallel\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{} running in parallel</title></rect>",
            x(s),
            (x(e) - x(s)).max(1.0),
            bottom - top,
            esc(&dur((e - s) as f64 / 1e6))
        );
    }
    axis(h, top, bottom, span / 1e6);
    let mut y = top;
    for level in &o.levels {
        let _ = write!(
            h,
            "<rect class=\"level-row\" x=\"0\" y=\"{y:.1}\" width=\"{:.0}\" height=\"{ROW_H:.0}\" opacity=\".6\"/>\
             <text x=\"6\" y=\"{:.1}\" font-weight=\"600\">Level {} ({}) · {}</text>",
            LABEL_W,
            y + 17.0,
            level.index,
            esc(level.mode.as_str()),
            esc(&dur(level.duration_ms()))
        );
        y += ROW_H;
        for &ti in &level.tools {
            let t = &o.tools[ti];
            let _ = write!(
                h,
                "<text x=\"18\" y=\"{:.1}\"><tspan class=\"st {}\">{}</tspan> {}</text>",
                y + 17.0,
                esc(t.status.as_str()),
                status_mark(t.status.as_str()),
                esc(&t.id)
            );
            if let Some(q) = t.queue_wait_ms.filter(|&q| q > 0.0) {
                let from = t.start_ns.saturating_sub((q * 1e6) as u64).max(t0);
                let _ = write!(
                    h,
                    "<rect class=\"queue\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\"><title>{} queued {}</title></rect>",
                    x(from),
                    y + 7.0,
                    (x(t.start_ns) - x(from)).max(0.5),
                    esc(&t.id),
                    esc(&dur(q))
                );
            }
            if !t.ran() {
                // Never ran: a diamond marker where it was skipped (kept inside the chart)
                // and its status as the label, on the side with room.
                let what = if t.status == ToolStatus::Cancelled {
                    "cancelled"
                } else {
                    "skipped"
                };
                let cx = x(t.start_ns).clamp(LABEL_W + 7.0, LABEL_W + BAR_W - 7.0);
                let cy = y + 13.0;
                let _ = write!(
                    h,
                    "<path class=\"bar skipped marker\" data-tool=\"{}\" d=\"M{:.1} {:.1} l6 6 l-6 6 l-6 -6 z\"><title>{} ({}) · {what}</title></path>",
                    esc(&t.id),
                    cx,
                    cy - 6.0,
                    esc(&t.id),
                    esc(&t.tool),
                );
                let (tx, anchor) = if cx + 90.0 > LABEL_W + BAR_W {
                    (cx - 10.0, "end")
                } else {
                    (cx + 10.0, "start")
                };
                let _ = write!(
                    h,
                    "<text class=\"muted\" x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{what}</text>",
                    y + 17.0
                );
                y += ROW_H;
                continue;
            }
            let mut class = String::from("bar");
            if critical[ti] {
                class.push_str(" critical");
            }
            if t.status == ToolStatus::Error {
                class.push_str(" error");
            }
            if !t.ran() {
                class.push_str(" skipped");
            }
            let _ = write!(
                h,
                "<rect class=\"{class}\" data-tool=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" rx=\"3\"><title>{} ({}) · {} · {}{}</title></rect>",
                esc(&t.id),
                x(t.start_ns),
                y + 4.0,
                (x(t.end_ns) - x(t.start_ns)).max(2.0),
                esc(&t.id),
                esc(&t.tool),
                esc(t.status.as_str()),
                esc(&dur(t.duration_ms())),
                if critical[ti] { " · critical path" } else { "" },
            );
            // The duration after the bar, or inside its end when the bar reaches the edge.
            let label = esc(&dur(t.duration_ms()));
            if x(t.end_ns) + 70.0 > LABEL_W + BAR_W && x(t.end_ns) - x(t.start_ns) > 70.0 {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#fff\" style=\"fill:#fff\">{label}</text>",
                    x(t.end_ns) - 6.0,
                    y + 17.0
                );
            } else {
                let _ = write!(
                    h,
                    "<text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\">{label}</text>",
                    x(t.end_ns) + 6.0,
                    y + 17.0
                );
            }
            y += ROW_H;
        }
    }
    h.push_str("</svg>\n");
}

fn gantt_tree(h: &mut String, trace: &Trace) {
    // Per span, its stretches of the critical path in time order.
    let mut crit: Vec<Vec<(u64, u64)>> = vec![Vec::new(); trace.spans.len()];
    for (j, a, b) in timing_segments(trace) {
        crit[j].push((a, b));
    }
    let t0 = trace.start_ns();
    let span = trace.end_ns().saturating_sub(t0).max(1) as f64;
    let x = |t: u64| LABEL_W + (t.saturating_sub(t0) as f64 / span) * BAR_W;
    let order = trace.tree_order();
    let top = 30.0;
    let bottom = top + order.len() as f64 * ROW_H;
    let height = bottom + 40.0;
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"gantt\" width=\"{:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {:.0} {height:.0}\" role=\"img\" aria-label=\"Gantt chart of the spans\">",
        LABEL_W + BAR_W + 20.0,
        LABEL_W + BAR_W + 20.0
    );
    let leaves: Vec<(u64, u64)> = {
        let children = trace.children();
        (0..trace.spans.len())
            .filter(|&i| children[i].is_empty())
            .map(|i| (trace.spans[i].start_ns, trace.spans[i].end_ns))
            .collect()
    };
    for (s, e) in overlaps(&leaves) {
        let _ = write!(
            h,
            "<rect class=\"parallel\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            x(s),
            (x(e) - x(s)).max(1.0),
            bottom - top
        );
    }
    axis(h, top, bottom, span / 1e6);
    for (row, &(i, depth)) in order.iter().enumerate() {
        let s = &trace.spans[i];
        let y = top + row as f64 * ROW_H;
        let status = if s.is_error() { "error" } else { "ok" };
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\"><tspan class=\"st {status}\">{}</tspan> {}</text>",
            6.0 + 12.0 * depth.min(10) as f64,
            y + 17.0,
            status_mark(status),
            esc(&cut_chars(&s.name, 26usize.saturating_sub(depth.min(10))))
        );
        let class = if s.is_error() { "bar error" } else { "bar" };
        let _ = write!(
            h,
            "<rect class=\"{class}\" data-tool=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\" rx=\"3\"><title>{} · {}{}</title></rect>",
            esc(&s.span_id),
            x(s.start_ns),
            y + 4.0,
            (x(s.end_ns) - x(s.start_ns)).max(2.0),
            esc(&s.name),
            esc(&dur(s.duration_ns() as f64 / 1e6)),
            s.service
                .as_ref()
                .map(|v| format!(" · {}", esc(v)))
                .unwrap_or_default()
        );
        for &(a, b) in &crit[i] {
            let _ = write!(
                h,
                "<rect class=\"crit-seg\" fill=\"#c2255c\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"18\"><title>critical path</title></rect>",
                x(a),
                y + 4.0,
                (x(b) - x(a)).max(1.0)
            );
        }
    }
    h.push_str("</svg>\n");
}

fn cut_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

const NODE_W: f64 = 170.0;
const NODE_H: f64 = 46.0;
const COL_W: f64 = 250.0;
const NODE_GAP: f64 = 22.0;

fn dag_plan(h: &mut String, o: &Orchestration, a: &Analysis) {
    let critical = critical_tools(o, a);
    let mut pos = vec![(0.0f64, 0.0f64); o.tools.len()];
    let mut max_rows = 0;
    for (col, level) in o.levels.iter().enumerate() {
        max_rows = max_rows.max(level.tools.len());
        for (row, &ti) in level.tools.iter().enumerate() {
            pos[ti] = (
                20.0 + col as f64 * COL_W,
                40.0 + row as f64 * (NODE_H + NODE_GAP),
            );
        }
    }
    let width = 40.0 + o.levels.len().max(1) as f64 * COL_W;
    let height = 60.0 + max_rows.max(1) as f64 * (NODE_H + NODE_GAP);
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dag\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"The plan as levels with dependency edges\">\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#adb5bd\"/></marker>\
         <marker id=\"arrow-crit\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c2255c\"/></marker></defs>"
    );
    for (col, level) in o.levels.iter().enumerate() {
        let _ = write!(
            h,
            "<text class=\"muted\" x=\"{:.1}\" y=\"22\">Level {} ({})</text>",
            20.0 + col as f64 * COL_W,
            level.index,
            esc(level.mode.as_str())
        );
    }
    let crit_edges: HashSet<(&str, &str)> = a
        .critical_path
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    let crit_edge = |from: &str, to: &str| crit_edges.contains(&(from, to));
    for (ti, t) in o.tools.iter().enumerate() {
        let sources = t.data_flow_sources(o.plan_mapping(&t.id));
        for d in &t.depends_on {
            let Some(di) = o.index_of(d) else { continue };
            let (x1, y1) = (pos[di].0 + NODE_W, pos[di].1 + NODE_H / 2.0);
            let (x2, y2) = (pos[ti].0, pos[ti].1 + NODE_H / 2.0);
            let mut class = String::from("edge");
            let crit = crit_edge(d, &t.id);
            if crit {
                class.push_str(" critical");
            }
            if !sources.contains(d) {
                class.push_str(" unused");
            }
            let mid = (x1 + x2) / 2.0;
            let _ = write!(
                h,
                "<path class=\"{class}\" d=\"M{x1:.1},{y1:.1} C{mid:.1},{y1:.1} {mid:.1},{y2:.1} {x2:.1},{y2:.1}\" marker-end=\"url(#{})\"><title>{} → {}</title></path>",
                if crit { "arrow-crit" } else { "arrow" },
                esc(d),
                esc(&t.id)
            );
        }
    }
    for (ti, t) in o.tools.iter().enumerate() {
        let (x, y) = pos[ti];
        let mut class = String::from("node");
        if critical[ti] {
            class.push_str(" critical");
        }
        if t.status == ToolStatus::Error {
            class.push_str(" error");
        }
        if !t.ran() {
            class.push_str(" skipped");
        }
        let _ = write!(
            h,
            "<g class=\"{class}\" data-tool=\"{}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_W:.0}\" height=\"{NODE_H:.0}\" rx=\"6\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-weight=\"600\"><tspan class=\"st {}\">{}</tspan> {}</text>\
             <text class=\"muted\" x=\"{:.1}\" y=\"{:.1}\">{} · {}</text><title>{} ({})</title></g>",
            esc(&t.id),
            x + 10.0,
            y + 19.0,
            esc(t.status.as_str()),
            status_mark(t.status.as_str()),
            esc(&cut_chars(&t.id, 20)),
            x + 10.0,
            y + 36.0,
            esc(&cut_chars(&t.tool, 14)),
            esc(&dur(t.duration_ms())),
            esc(&t.id),
            esc(t.status.as_str())
        );
    }
    h.push_str("</svg>\n");
}

fn dag_tree(h: &mut String, trace: &Trace, a: &Analysis) {
    let order = trace.tree_order();
    let mut pos = vec![(0.0f64, 0.0f64); trace.spans.len()];
    let mut max_depth = 0;
    for (row, &(i, depth)) in order.iter().enumerate() {
        max_depth = max_depth.max(depth);
        pos[i] = (20.0 + depth as f64 * 200.0, 20.0 + row as f64 * 34.0);
    }
    let width = 60.0 + (max_depth + 1) as f64 * 200.0;
    let height = 40.0 + order.len() as f64 * 34.0;
    let _ = write!(
        h,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"dag\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" aria-label=\"The span tree\">"
    );
    let on_path = path_set(a);
    for (i, s) in trace.spans.iter().enumerate() {
        if let Some(p) = s.parent {
            let crit = on_path.contains(s.span_id.as_str())
                && on_path.contains(trace.spans[p].span_id.as_str());
            let (x1, y1) = (pos[p].0 + 12.0, pos[p].1 + 26.0);
            let (x2, y2) = (pos[i].0, pos[i].1 + 13.0);
            let _ = write!(
                h,
                "<path class=\"edge{}\" d=\"M{x1:.1},{y1:.1} L{x1:.1},{y2:.1} L{x2:.1},{y2:.1}\"/>",
                if crit { " critical" } else { "" }
            );
        }
    }
    for &(i, _) in &order {
        let s = &trace.spans[i];
        let (x, y) = pos[i];
        let mut class = String::from("node");
        if on_path.contains(s.span_id.as_str()) {
            class.push_str(" critical");
        }
        if s.is_error() {
            class.push_str(" error");
        }
        let _ = write!(
            h,
            "<g class=\"{class}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"180\" height=\"26\" rx=\"5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{} <tspan class=\"muted\">{}</tspan></text><title>{}</title></g>",
            x + 8.0,
            y + 17.0,
            esc(&cut_chars(&s.name, 18)),
            esc(&dur(s.duration_ns() as f64 / 1e6)),
            esc(&s.name)
        );
    }
    h.push_str("</svg>\n");
}

fn detail_plan(h: &mut String, o: &Orchestration, a: &Analysis) {
    let critical = critical_tools(o, a);
    for level in &o.levels {
        let _ = write!(
            h,
            "<div class=\"level\"><h3>Level {} ({}): {}",
            level.index,
            esc(level.mode.as_str()),
            esc(&dur(level.duration_ms()))
        );
        if !level.depends_on_groups.is_empty() {
            let after: Vec<String> = level
                .depends_on_groups
                .iter()
                .map(|g| g.to_string())
                .collect();
            let _ = write!(
                h,
                " <span class=\"kind\">after level {}</span>",
                after.join(", ")
            );
        }
        h.push_str("</h3>\n");
        for &ti in &level.tools {
            let t = &o.tools[ti];
            let _ = write!(
                h,
                "<div class=\"tool\" id=\"tool-{}\"><div class=\"head\"><span class=\"st {}\">{} {}</span> {} [{}]",
                esc(&t.id),
                esc(t.status.as_str()),
                status_mark(t.status.as_str()),
                esc(t.status.as_str()),
                esc(&t.id),
                esc(&dur(t.duration_ms()))
            );
            let parallel_with = o.parallel_with(ti);
            if !parallel_with.is_empty() {
                let _ = write!(
                    h,
                    " <span class=\"kind\">(parallel with {})</span>",
                    esc(&parallel_with.join(", "))
                );
            }
            if critical[ti] {
                h.push_str(" <span class=\"crit\">◆ critical path</span>");
            }
            h.push_str("</div><dl>");
            let mut dd = |k: &str, v: &str| {
                let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
            };
            dd("Tool", &t.tool);
            if let Some(asset) = &t.asset_id {
                dd("Asset", asset);
            }
            if !t.depends_on.is_empty() {
                dd("Depends on", &format!("[{}]", t.depends_on.join(", ")));
            }
            for e in &t.data_flow {
                dd(
                    &format!("Data flow: {}", e.key),
                    &format!(
                        "{}  →  {}",
                        compact(&e.expression, true),
                        e.value
                            .as_ref()
                            .map_or_else(|| "(unresolved)".to_owned(), |v| compact(v, false))
                    ),
                );
            }
            if let Some(p) = &t.params {
                dd("Params", &params_text(p));
            }
            if let Some(r) = result_text(t) {
                dd("Result", &r);
            }
            if let Some(q) = t.queue_wait_ms.filter(|&q| q >= 0.05) {
                dd("Queued", &dur(q));
            }
            if t.retry_count > 0 {
                dd("Retries", &t.retry_count.to_string());
            }
            if t.fallback_used {
                dd("Fallback", "used");
            }
            if t.cache_hit {
                dd("Cache", "hit");
            }
            if t.status == ToolStatus::Error {
                let what = [t.error_type.as_deref(), t.error_message.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                dd("Error", if what.is_empty() { "failed" } else { &what });
            }
            if let Some(r) = &t.skip_reason {
                dd(
                    if t.status == ToolStatus::Cancelled {
                        "Cancelled"
                    } else {
                        "Skipped"
                    },
                    r,
                );
            }
            h.push_str("</dl></div>\n");
        }
        h.push_str("</div>\n");
    }
}

fn detail_tree(h: &mut String, trace: &Trace, a: &Analysis) {
    h.push_str(
        "<table><tr><th>span</th><th>service</th><th>kind</th><th>start</th><th>duration</th><th>status</th><th>attributes</th></tr>\n",
    );
    let t0 = trace.start_ns();
    let on_path = path_set(a);
    for (i, depth) in trace.tree_order() {
        let s = &trace.spans[i];
        let status = if s.is_error() { "error" } else { "ok" };
        let attrs: Vec<String> = s
            .attributes
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k}={}", compact(v, true)))
            .collect();
        let _ = writeln!(
            h,
            "<tr{}><td style=\"padding-left:{}px\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"st {status}\">{status}</td><td><code>{}</code></td></tr>",
            if on_path.contains(s.span_id.as_str()) { " class=\"critical\"" } else { "" },
            10 + 16 * depth.min(12),
            esc(&s.name),
            esc(s.service.as_deref().unwrap_or("")),
            s.kind.as_str(),
            esc(&dur(s.start_ns.saturating_sub(t0) as f64 / 1e6)),
            esc(&dur(s.duration_ns() as f64 / 1e6)),
            esc(&cut_chars(&attrs.join(", "), 160))
        );
    }
    h.push_str("</table>\n");
}

fn analysis_section(h: &mut String, a: &Analysis) {
    h.push_str("<section id=\"analysis\"><h2>Performance Analysis</h2>\n<table>");
    let names: std::collections::HashMap<&str, &str> = a
        .tools
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                if a.plan_data {
                    t.id.as_str()
                } else {
                    t.tool.as_str()
                },
            )
        })
        .collect();
    let path = |ids: &[String]| {
        ids.iter()
            .map(|id| {
                names
                    .get(id.as_str())
                    .copied()
                    .unwrap_or(id.as_str())
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let mut row = |k: &str, v: String, note: String| {
        let _ = write!(
            h,
            "<tr><th>{}</th><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(k),
            esc(&v),
            esc(&note)
        );
    };
    row(
        "Makespan",
        dur(a.total_duration_ms),
        "first start → last end".into(),
    );
    row(
        "Serial sum",
        dur(a.serial_duration_ms),
        if a.plan_data {
            "sum of tool durations".into()
        } else {
            "sum of span self times".into()
        },
    );
    row(
        "Time saved",
        dur(a.time_saved_ms),
        format!("{:.1}% of serial", a.time_saved_pct),
    );
    row(
        "Critical path",
        dur(a.critical_path_ms),
        format!(
            "{} ({})",
            path(&a.critical_path),
            match a.critical_path_basis {
                CriticalPathBasis::Dependencies => "by dependencies",
                CriticalPathBasis::Timing => "by timing",
            }
        ),
    );
    if let Some(lb) = a.level_barrier_ms {
        row(
            "Level barrier",
            dur(lb),
            "level by level, each level waiting for its slowest tool".into(),
        );
    }
    if a.timing_critical_path != a.critical_path {
        row("Timing path", String::new(), path(&a.timing_critical_path));
    }
    h.push_str("</table>\n<table><tr>");
    for c in [
        "tool", "type", "level", "order", "start", "duration", "status", "slack",
    ] {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    let on_path = path_set(a);
    for t in &a.tools {
        let _ = writeln!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"st {}\">{}</td><td class=\"num\">{}</td></tr>",
            if on_path.contains(t.id.as_str()) { " class=\"critical\"" } else { "" },
            esc(if a.plan_data { &t.id } else { &t.tool }),
            esc(if a.plan_data { &t.tool } else { "" }),
            t.group,
            t.order,
            esc(&dur(t.start_ms)),
            esc(&dur(t.duration_ms)),
            esc(t.status.as_str()),
            esc(t.status.as_str()),
            esc(&dur(t.slack_ms))
        );
    }
    h.push_str("</table>\n<h3>Suggestions</h3>\n");
    if a.suggestions.is_empty() {
        h.push_str("<p>None: nothing stands out in this trace.</p>\n");
    } else {
        h.push_str("<ol class=\"suggestions\">\n");
        for s in &a.suggestions {
            let _ = writeln!(
                h,
                "<li>{} <span class=\"gain\">~{}</span> <span class=\"kind\">{}</span></li>",
                esc(&s.message),
                esc(&dur(s.estimated_gain_ms)),
                s.kind.as_str()
            );
        }
        h.push_str("</ol>\n");
    }
    h.push_str("</section>\n");
}

/// The ids on the critical path, for constant-time membership tests per row.
fn path_set(a: &Analysis) -> HashSet<&str> {
    a.critical_path.iter().map(String::as_str).collect()
}
