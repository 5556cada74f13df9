//! The one trace model every source loads into, and the plan-aware view read from it.
//!
//! - [`trace`](Trace): spans ([`TraceSpan`]) with normalized ids, parents, attributes as
//!   JSON values, links ([`SpanLink`]), events ([`SpanEvent`]) and services. Traces without
//!   orchestrace attributes (any service's trace) are shown as a span tree.
//! - [`Orchestration`]: the orchestrace attributes read back into tools ([`ToolCall`]) and
//!   levels ([`LevelRun`]), in the library's run vocabulary.
//! - [`Trace::from_report`]: the same model built from a run's report, without spans.

mod orchestration;
mod report;
mod trace;

pub use orchestration::{parse_status, LevelRun, Orchestration, ToolCall};
#[cfg(test)]
pub(crate) use trace::span as trace_span_for_tests;
pub use trace::{
    SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode, Trace, TraceFormat, TraceSpan,
};
