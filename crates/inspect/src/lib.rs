//! The inspector: reads a trace back — from an OTLP JSON file, Jaeger's query-API JSON, or
//! straight from Jaeger or Tempo — into one [`Trace`] model, analyzes it ([`analyze`]) and
//! renders the views: trace detail, timeline, performance analysis, and a self-contained HTML
//! report.
//!
//! - [`model`](Trace): spans with normalized ids, parents, attributes as JSON values, links,
//!   events and services; [`Trace::orchestration`] reads the orchestrace attributes back into
//!   tools and levels.
//! - loading: [`load_file`], [`load_str`], [`Trace::from_otlp_json`],
//!   [`Trace::from_jaeger_json`], [`Trace::from_json`]; errors are one [`LoadError`].
//! - sources: [`fetch_jaeger`], [`fetch_tempo`] (`GET {base}/api/traces/{id}`); errors are one
//!   [`FetchError`].
//! - [`analyze`] → [`Analysis`], whose JSON is `orchestrace inspect --json`.
//! - renderers: [`write_detail`], [`write_timeline`], [`write_analysis`] (any `io::Write`,
//!   [`RenderOptions`] for width and colour) and [`write_html`].
//!
//! ```
//! use orchestrace_inspect::{self, RenderOptions};
//!
//! let otlp = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": [
//!     {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
//!      "name": "GET /", "startTimeUnixNano": "1700000000000000000",
//!      "endTimeUnixNano": "1700000000250000000"}]}]}]});
//! let trace = inspect::Trace::from_otlp_json(&otlp)?;
//! let analysis = inspect::analyze(&trace);
//! assert_eq!(analysis.makespan_ms, 250.0);
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

pub use analysis::{
    analyze, format_duration, Analysis, CriticalPathBasis, Suggestion, SuggestionKind, ToolTiming,
};
pub use load::{load_bytes, load_file, load_str, LoadError, LoadErrorKind, MAX_TRACE_BYTES};
pub use model::{
    DataFlowEntry, Event, Level, Link, Orchestration, Span, SpanKind, SpanStatus, StatusCode,
    ToolCall, Trace, TraceFormat,
};
pub use render::{
    write_analysis, write_detail, write_html, write_notes, write_timeline, RenderOptions,
    DEFAULT_WIDTH, MIN_WIDTH,
};
pub use source::{
    fetch, fetch_jaeger, fetch_tempo, trace_url, Backend, FetchError, FetchErrorKind, FETCH_TIMEOUT,
};
