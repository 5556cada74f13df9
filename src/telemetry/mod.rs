//! Telemetry: the span observer that turns a run's facts into the span tree, and the OTLP
//! export pipeline a host app or the CLI installs.
//!
//! Nothing here installs global state: hosts add the layer themselves (or call [`init`]), and
//! without an OpenTelemetry layer the spans cost next to nothing.

mod export;
pub mod metrics;
mod spans;

pub use export::{
    init, layer, ExportSummary, OtlpProtocol, Telemetry, TelemetryBuilder, TelemetryError,
    TelemetryGuard, DEFAULT_SERVICE_NAME, DEFAULT_SHUTDOWN_TIMEOUT, EXPORT_STACK_TARGETS,
    SCOPE_NAME,
};
pub(crate) use spans::observe as observe_spans;
pub use spans::{in_host_invocation, ROOT_SPAN_NAME};
