//! Telemetry: span names and attribute keys, the span tree of a run, redaction, and export.
//!
//! The executor hands its facts to the span tree (`spans.rs`) as they happen; this module decides how they
//! look as spans. Nothing here installs global state: hosts add the layer themselves (or call
//! `init()`), and without an OpenTelemetry layer the spans cost next to nothing.

pub mod attributes;
mod config;
mod export;
mod propagation;
mod redact;
mod spans;

pub use config::{TelemetryConfig, CAPTURE_CONTENT_ENV, VALUE_LIMIT_ENV};
pub use export::{
    init, layer, ExportSummary, OtlpProtocol, Telemetry, TelemetryBuilder, TelemetryError,
    TelemetryGuard, DEFAULT_SERVICE_NAME, DEFAULT_SHUTDOWN_TIMEOUT, EXPORT_STACK_TARGETS,
    SCOPE_NAME,
};
pub use propagation::{
    extract, inject, inject_baggage, ExtractCarrier, InjectCarrier, RemoteParent, BAGGAGE,
    MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES, MAX_TRACESTATE_LEN, MAX_TRACESTATE_MEMBERS,
    TRACEPARENT, TRACESTATE,
};
pub use redact::{Redactor, DEFAULT_VALUE_LIMIT, REDACTED};
pub(crate) use spans::{fallback_event, retry_event, RunSpans};
