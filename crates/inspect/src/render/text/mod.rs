//! The terminal views: trace detail (the box layout), timeline (a Gantt chart on a shared
//! time axis) and performance analysis, and the text helpers they share.
//!
//! Every string read from a trace goes through [`clean`] before it reaches the terminal.
//! Runs with more tools than [`RenderOptions::max_rows`] are summarized ([`select`]) in the
//! detail, timeline and analysis views, and the suggestions cut to that many, unless
//! [`RenderOptions::with_all_rows`] asks for every row. Span trees without plan data list
//! their first [`MAX_ROWS`] spans. Every view is linear (or `n log n`) in the spans: no
//! per-row scan of all spans or of the whole critical path.

mod analysis;
mod detail;
mod select;
mod timeline;

pub use analysis::{write_analysis, write_notes};
pub use detail::write_detail;
pub use timeline::write_timeline;

use std::io::{self, Write};

use serde_json::Value;

use orchestrace::plan::Strategy;

use super::{clean, Line, RenderOptions};
use crate::model::ToolCall;

pub(super) fn emit<W: Write + ?Sized>(
    out: &mut W,
    line: &Line,
    opts: &RenderOptions,
) -> io::Result<()> {
    writeln!(out, "{}", line.clone().trim_end().render(opts.color()))
}

pub(crate) fn status_mark(status: &str) -> &'static str {
    match status {
        "ok" => "✓",
        "error" => "✗",
        "skipped" => "○",
        "cancelled" => "⊘",
        _ => "·",
    }
}

pub(super) fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Compact JSON of a value, strings without quotes when `bare`.
pub(crate) fn compact(v: &Value, bare: bool) -> String {
    match v {
        Value::String(s) if bare => clean(s),
        other => clean(&other.to_string()),
    }
}

/// `keywords=["server"], metrics=["count"]` for an object, compact JSON otherwise.
pub(crate) fn params_text(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), compact(v, false)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => "{}".to_owned(),
        other => compact(other, true),
    }
}

pub(crate) fn bytes_text(n: i64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The result summary: `42 rows (1.2 KB)`.
pub(crate) fn result_text(t: &ToolCall) -> Option<String> {
    match (t.result_count, t.result_size_bytes) {
        (Some(1), Some(b)) => Some(format!("1 row ({})", bytes_text(b))),
        (Some(n), Some(b)) => Some(format!("{n} rows ({})", bytes_text(b))),
        (Some(1), None) => Some("1 row".to_owned()),
        (Some(n), None) => Some(format!("{n} rows")),
        (None, Some(b)) => Some(bytes_text(b)),
        (None, None) => None,
    }
}

/// The strategy as the views write it: `DAG`, `Parallel`, `Serial`.
pub(crate) fn strategy_name(s: Option<Strategy>) -> String {
    match s {
        Some(Strategy::Dag) => "DAG".to_owned(),
        Some(other) => title_case(other.as_str()),
        None => "unknown (no plan data)".to_owned(),
    }
}

/// Rows shown at most in the tree and timeline of a trace without plan data.
pub(super) const MAX_ROWS: usize = 200;

impl Line {
    pub(super) fn chain(mut self, other: Line) -> Line {
        self.0.extend(other.0);
        self
    }
}
