//! The inspector: reads a trace back — from an OTLP JSON file, Jaeger's query-API JSON, or
//! straight from Jaeger or Tempo — into one [`Trace`] model, analyzes it ([`analyze`]) and
//! renders the views: trace detail, timeline, performance analysis, and a self-contained HTML
//! report.
//!
//! - model: a [`Trace`] of [`TraceSpan`]s (normalized ids, parents, attributes as JSON
//!   values, [`SpanLink`]s, [`SpanEvent`]s, services); [`Trace::orchestration`] reads the
//!   orchestrace attributes back into [`ToolCall`]s and [`LevelRun`]s in the library's run
//!   vocabulary; [`Trace::from_report`] builds the same model from a run's report.
//! - loading: [`load_file`], [`load_str`], [`Trace::from_otlp_json`],
//!   [`Trace::from_jaeger_json`], [`Trace::from_json`]; errors are one [`LoadError`].
//! - sources: [`fetch_jaeger`], [`fetch_tempo`] (`GET {base}/api/traces/{id}`), bounded in
//!   bytes and time ([`FetchOptions`]); errors are one [`FetchError`].
//! - [`analyze`] → [`Analysis`], whose JSON is `orchestrace inspect --json`.
//! - renderers: [`write_detail`], [`write_timeline`], [`write_analysis`] (any `io::Write`,
//!   [`RenderOptions`] for width, colour and summarizing large runs) and [`write_html`].
//!
//! ```
//! use orchestrace_inspect::{self as inspect, RenderOptions};
//!
//! let otlp = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [
//!     {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
//!      "name": "GET /", "startTimeUnixNano": "1700000000000000000",
//!      "endTimeUnixNano": "1700000000250000000"}]}]}]});
//! let trace = inspect::Trace::from_otlp_json(&otlp)?;
//! let analysis = inspect::analyze(&trace);
//! assert_eq!(analysis.total_duration_ms, 250.0);
//! let mut out = Vec::new();
//! inspect::write_timeline(&mut out, &trace, &analysis, &RenderOptions::new())?;
//! assert!(String::from_utf8(out)?.contains("Total Time: 250ms"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod analysis;
mod load;
mod model;
mod render;
mod source;
pub mod time;

pub use analysis::{
    analyze, format_duration, Analysis, CriticalPathBasis, Suggestion, SuggestionKind, ToolTiming,
};
pub use load::{
    load_bytes, load_file, load_file_with_limit, load_str, LoadError, LoadErrorKind,
    MAX_TRACE_BYTES,
};
pub use model::{
    parse_status, LevelRun, Orchestration, SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode,
    ToolCall, Trace, TraceFormat, TraceSpan,
};
pub use render::{
    clean, escape_html, write_analysis, write_detail, write_html, write_notes, write_timeline,
    RenderOptions, DEFAULT_MAX_ROWS, DEFAULT_WIDTH, MIN_WIDTH,
};
pub use source::{
    fetch, fetch_jaeger, fetch_tempo, fetch_with, search_jaeger, trace_url, Backend, FetchError,
    FetchErrorKind, FetchOptions, JaegerSearch, FETCH_TIMEOUT, MAX_RESPONSE_BYTES,
};
