//! Export: OTLP over gRPC or HTTP/protobuf, in-process capture, the layer and its guard.
//!
//! Configuration follows the OpenTelemetry environment variables, each overridable from code
//! ([`settings`](TelemetryBuilder)): `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`, `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SDK_DISABLED` and
//! `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`,
//! `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BSP_MAX_CONCURRENT_EXPORTS`. A setting that cannot be
//! used is a warning, never a failure of the host.
//!
//! The parts, in the order a span goes through them:
//! - `processor`: our span processor — a bounded queue whose producers wait (bounded) for
//!   room instead of dropping, batches cut by count and by estimated bytes, several exports
//!   in flight on a dedicated thread, flush and shutdown with deadlines;
//! - `exporter`: one OTLP request per batch over gRPC or HTTP (TLS with the system roots for
//!   `https://`), bounded retries, messages with the whole cause and no credentials;
//! - `guard`: the bounded shutdown and the [`ExportSummary`] (`ended = exported + dropped`)
//!   with its one warning;
//! - `layer`: the builder's `build`, [`Telemetry`], its `tracing` layer, [`layer()`] and
//!   [`init`]; `capture`: spans kept in memory for the CLI's views.

mod capture;
mod exporter;
mod guard;
mod layer;
mod processor;
mod settings;
#[cfg(test)]
mod tests;

pub use guard::{ExportSummary, TelemetryGuard};
pub use layer::{init, layer, Telemetry, EXPORT_STACK_TARGETS, SCOPE_NAME};
pub use settings::{
    OtlpProtocol, TelemetryBuilder, TelemetryError, DEFAULT_SERVICE_NAME, DEFAULT_SHUTDOWN_TIMEOUT,
};

/// The runtime an exporter runs on: one worker of its own, so export works whatever runtime
/// the host has (or had: the CLI flushes after its runtime is gone) and never competes with
/// the host's tasks.
pub(crate) fn export_runtime(
    thread_name: &'static str,
) -> Result<tokio::runtime::Runtime, TelemetryError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(thread_name)
        .enable_all()
        .build()
        .map_err(|e| TelemetryError::Exporter(format!("cannot start the export runtime: {e}")))
}
