//! Export: OTLP over gRPC or HTTP/protobuf, in-process capture, the layer and its guard.
//!
//! Configuration follows the OpenTelemetry environment variables, each overridable from code:
//! `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`,
//! `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_SDK_DISABLED` and `OTEL_BSP_*` (read by the SDK's batch
//! processor).
//!
//! Exporting never blocks the traced code: spans go through the SDK's batch processor, whose
//! queue is bounded (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048) and which drops, and we count,
//! what does not fit. Shutdown is bounded too: [`TelemetryGuard`] waits at most its shutdown
//! timeout (default 5 s) for the last batch, then gives up, and reports once how many spans
//! could not be delivered.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Default bound on how long shutdown waits for the last spans.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Service name when neither code nor environment sets one.
pub const DEFAULT_SERVICE_NAME: &str = "orchestrace";
/// Instrumentation scope name of our spans.
pub const SCOPE_NAME: &str = "orchestrace";

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC, usually on port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, usually on port 4318 at `/v1/traces`.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Parses the `OTEL_EXPORTER_OTLP_PROTOCOL` spelling (`grpc`, `http/protobuf`; `http` too).
    pub fn parse(s: &str) -> Result<Self, TelemetryError> {
        match s.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" | "http" => Ok(OtlpProtocol::HttpProtobuf),
            other => Err(TelemetryError::Config(format!(
                "unsupported OTLP protocol {other:?}: use grpc or http/protobuf"
            ))),
        }
    }
}

/// Telemetry setup failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TelemetryError {
    /// A setting (from code or the environment) is invalid.
    Config(String),
    /// The OTLP exporter could not be built.
    Exporter(String),
}

impl fmt::Display for TelemetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TelemetryError::Config(m) => write!(f, "telemetry configuration: {m}"),
            TelemetryError::Exporter(m) => write!(f, "cannot set up the OTLP exporter: {m}"),
        }
    }
}

impl std::error::Error for TelemetryError {}

/// Builds the tracing pipeline: an OTLP exporter, in-process capture, or both.
#[derive(Debug, Clone)]
pub struct TelemetryBuilder {
    endpoint: Option<String>,
    endpoint_is_full: bool,
    protocol: Option<OtlpProtocol>,
    headers: Vec<(String, String)>,
    service_name: Option<String>,
    shutdown_timeout: Duration,
    capture: bool,
    export_disabled: bool,
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        TelemetryBuilder {
            endpoint: None,
            endpoint_is_full: false,
            protocol: None,
            headers: Vec::new(),
            service_name: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            capture: false,
            export_disabled: false,
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_headers(raw: &str) -> Result<Vec<(String, String)>, TelemetryError> {
    raw.split(',')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| TelemetryError::Config(format!("header {kv:?} is not key=value")))?;
            Ok((k.trim().to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl TelemetryBuilder {
    /// Nothing configured: no export, no capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends spans to this OTLP endpoint. For HTTP a base URL gets `/v1/traces` appended
    /// (like `OTEL_EXPORTER_OTLP_ENDPOINT`); a URL already ending in `/v1/traces` is kept.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self.endpoint_is_full = false;
        self
    }

    /// Sets the transport.
    pub fn with_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Adds a header (gRPC metadata) sent with every export.
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// Sets `service.name`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Bounds how long shutdown waits for the last spans (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Also keeps every span in memory, for [`TelemetryGuard::captured`].
    pub fn with_capture(mut self, on: bool) -> Self {
        self.capture = on;
        self
    }

    /// Reads the OpenTelemetry environment variables over the current settings (settings made
    /// in code afterwards win).
    pub fn from_env() -> Result<Self, TelemetryError> {
        let mut b = Self::default();
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            b.export_disabled = true;
        }
        if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            b.endpoint = Some(url);
            b.endpoint_is_full = true;
        } else if let Some(url) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            b.endpoint = Some(url);
        }
        if let Some(p) =
            env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            b.protocol = Some(OtlpProtocol::parse(&p)?);
        }
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(raw) = env(var) {
                b.headers.extend(parse_headers(&raw)?);
            }
        }
        b.service_name = env("OTEL_SERVICE_NAME");
        Ok(b)
    }

    /// The endpoint spans will be sent to, if any, after protocol defaults are applied.
    pub fn resolved_endpoint(&self) -> Option<String> {
        if self.export_disabled {
            return None;
        }
        let url = self.endpoint.as_ref()?.trim_end_matches('/').to_owned();
        Some(match self.protocol() {
            OtlpProtocol::HttpProtobuf
                if !self.endpoint_is_full && !url.ends_with("/v1/traces") =>
            {
                format!("{url}/v1/traces")
            }
            _ => url,
        })
    }

    fn protocol(&self) -> OtlpProtocol {
        self.protocol.unwrap_or(OtlpProtocol::Grpc)
    }

    fn resource(&self) -> Resource {
        // The builder's detectors read OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
        let mut r = Resource::builder();
        if let Some(name) = &self.service_name {
            r = r.with_service_name(name.clone());
        } else if env("OTEL_SERVICE_NAME").is_none()
            && !env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="))
        {
            r = r.with_service_name(DEFAULT_SERVICE_NAME);
        }
        r.build()
    }

    fn exporter(&self, endpoint: &str) -> Result<opentelemetry_otlp::SpanExporter, TelemetryError> {
        let timeout = self.shutdown_timeout.min(Duration::from_secs(10));
        let retry = opentelemetry_otlp::RetryPolicy::recommended()
            .with_max_retries(3)
            .with_initial_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(1));
        let built = match self.protocol() {
            OtlpProtocol::Grpc => {
                let mut metadata = opentelemetry_otlp::tonic_types::metadata::MetadataMap::new();
                for (k, v) in &self.headers {
                    let key = k.to_ascii_lowercase();
                    let key =
                        tonic::metadata::MetadataKey::from_bytes(key.as_bytes()).map_err(|_| {
                            TelemetryError::Config(format!("invalid header name {k:?}"))
                        })?;
                    let value = v.parse().map_err(|_| {
                        TelemetryError::Config(format!("invalid value for header {k:?}"))
                    })?;
                    metadata.insert(key, value);
                }
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .with_timeout(timeout)
                    .with_metadata(metadata)
                    .with_retry_policy(retry)
                    .build()
            }
            OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(endpoint)
                .with_timeout(timeout)
                .with_headers(self.headers.iter().cloned().collect::<HashMap<_, _>>())
                .with_retry_policy(retry)
                .build(),
        };
        built.map_err(|e| TelemetryError::Exporter(format!("{endpoint}: {e}")))
    }

    /// Builds the pipeline. Export happens only with an endpoint (and without
    /// `OTEL_SDK_DISABLED=true`).
    pub fn build(self) -> Result<Telemetry, TelemetryError> {
        let mut provider = SdkTracerProvider::builder().with_resource(self.resource());
        let capture = self.capture.then(|| Arc::new(Capture::default()));
        if let Some(c) = &capture {
            provider = provider.with_span_processor(CaptureProcessor(c.clone()));
        }
        let endpoint = self.resolved_endpoint();
        let stats = Arc::new(ExportStats::default());
        let mut io_runtime = None;
        if let Some(url) = &endpoint {
            // The gRPC channel needs a Tokio reactor for its connections. It gets one of its
            // own, so export works whatever runtime the host has (or had: the CLI flushes
            // after its runtime is gone) and never competes with the host's tasks.
            let inner = if self.protocol() == OtlpProtocol::Grpc {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("orchestrace-otlp")
                    .enable_all()
                    .build()
                    .map_err(|e| {
                        TelemetryError::Exporter(format!("cannot start the export runtime: {e}"))
                    })?;
                let exporter = {
                    let _entered = rt.enter();
                    self.exporter(url)?
                };
                io_runtime = Some(rt);
                exporter
            } else {
                self.exporter(url)?
            };
            let exporter = CountingExporter {
                inner,
                stats: stats.clone(),
            };
            let batch = BatchSpanProcessor::builder(exporter).build();
            provider = provider.with_span_processor(CountingProcessor {
                inner: batch,
                stats: stats.clone(),
            });
        }
        Ok(Telemetry {
            provider: provider.build(),
            capture,
            stats,
            endpoint,
            shutdown_timeout: self.shutdown_timeout,
            _io_runtime: IoRuntime(io_runtime),
        })
    }
}

/// The export runtime, shut down in the background when dropped (dropping a runtime from
/// inside another one would panic).
#[derive(Debug)]
struct IoRuntime(Option<tokio::runtime::Runtime>);

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// A built tracing pipeline. Get its layer with [`Telemetry::layer`], add the layer to your
/// subscriber, and keep the [`TelemetryGuard`] from [`Telemetry::guard`] alive while you trace.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    capture: Option<Arc<Capture>>,
    stats: Arc<ExportStats>,
    endpoint: Option<String>,
    shutdown_timeout: Duration,
    // Kept alive for the gRPC exporter; dropped after the provider.
    _io_runtime: IoRuntime,
}

impl Telemetry {
    /// Starts from the environment variables.
    pub fn builder() -> Result<TelemetryBuilder, TelemetryError> {
        TelemetryBuilder::from_env()
    }

    /// The `tracing_subscriber` layer that turns spans into OpenTelemetry spans.
    ///
    /// It ignores the spans and events of the export stack itself (`h2`, `hyper`, `tonic`,
    /// `tower`, `reqwest`, `opentelemetry*`): exporting them would feed the exporter its own
    /// traffic.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer(SCOPE_NAME))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_filter(export_stack_filter())
    }

    /// The guard that flushes and shuts the pipeline down (bounded) when dropped.
    pub fn guard(self) -> TelemetryGuard {
        TelemetryGuard { inner: Some(self) }
    }
}

/// The targets whose spans never become OpenTelemetry spans: the export stack's own.
pub const EXPORT_STACK_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];

fn export_stack_filter() -> tracing_subscriber::filter::Targets {
    EXPORT_STACK_TARGETS.iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::TRACE),
        |t, target| t.with_target(*target, tracing_subscriber::filter::LevelFilter::OFF),
    )
}

/// Builds the pipeline from the environment and returns its layer and guard: the one-line way
/// to add orchestrace's tracing beside a host's own layers.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
///
/// let (otel, _guard) = orchestrace::telemetry::layer().expect("telemetry");
/// tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(otel)
///     .init();
/// ```
pub fn layer<S>() -> Result<(impl Layer<S> + Send + Sync + 'static, TelemetryGuard), TelemetryError>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let telemetry = TelemetryBuilder::from_env()?.build()?;
    let layer = telemetry.layer();
    Ok((layer, telemetry.guard()))
}

/// The whole setup for apps that want it: a global subscriber with a `fmt` layer (filtered by
/// `RUST_LOG`, default `info`), and the OTLP layer from the environment. Keep the guard alive.
pub fn init() -> Result<TelemetryGuard, TelemetryError> {
    use tracing_subscriber::prelude::*;
    let telemetry = TelemetryBuilder::from_env()?.build()?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_filter(filter))
        .with(telemetry.layer())
        .try_init()
        .map_err(|e| TelemetryError::Config(format!("a global subscriber is already set: {e}")))?;
    Ok(telemetry.guard())
}

/// What export achieved, reported at shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Where spans went, if anywhere.
    pub endpoint: Option<String>,
    /// Spans handed to the exporter pipeline.
    pub ended: u64,
    /// Spans the receiver accepted.
    pub exported: u64,
    /// Spans that did not arrive: rejected, failed, queue overflow, or cut off by the shutdown
    /// timeout.
    pub dropped: u64,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

impl ExportSummary {
    /// The one warning to print when spans were lost, naming the endpoint and the count.
    pub fn warning(&self) -> Option<String> {
        if self.dropped == 0 {
            return None;
        }
        let endpoint = self.endpoint.as_deref().unwrap_or("the exporter");
        let why = self
            .last_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        Some(format!(
            "{} of {} spans were not exported to {endpoint}{why}",
            self.dropped, self.ended
        ))
    }
}

/// Flushes and shuts the pipeline down when dropped (or on [`TelemetryGuard::shutdown`]),
/// waiting at most the shutdown timeout. Dropping it prints the lost-spans warning, once, to
/// stderr; call `shutdown` to handle the summary yourself.
#[derive(Debug)]
pub struct TelemetryGuard {
    inner: Option<Telemetry>,
}

impl TelemetryGuard {
    /// The spans captured so far as OTLP JSON (`{"resourceSpans": …}`, the collector file
    /// exporter's shape), when capture is on.
    pub fn captured(&self) -> Option<serde_json::Value> {
        // The capture processor is synchronous: every ended span is already there. (Flushing
        // the provider would also wait on the OTLP exporter.)
        let capture = self.inner.as_ref()?.capture.as_ref()?;
        Some(capture.otlp_json())
    }

    /// Whether spans are being exported, and where.
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.as_ref()?.endpoint.as_deref()
    }

    /// Flushes and shuts down, waiting at most the shutdown timeout.
    pub fn shutdown(mut self) -> ExportSummary {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> ExportSummary {
        let Some(t) = self.inner.take() else {
            return ExportSummary {
                endpoint: None,
                ended: 0,
                exported: 0,
                dropped: 0,
                last_error: None,
            };
        };
        let provider = t.provider.clone();
        let timeout = t.shutdown_timeout;
        // The SDK's shutdown has been known to hang on a dead collector; run it on its own
        // thread and stop waiting at the bound.
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("orchestrace-otel-shutdown".into())
            .spawn(move || {
                let _ = provider.shutdown_with_timeout(timeout);
                let _ = tx.send(());
            });
        if let Ok(_handle) = spawned {
            // Past the bound the thread is left to finish (or not) on its own.
            let _ = rx.recv_timeout(timeout + Duration::from_millis(250));
        }
        let s = &t.stats;
        let ended = s.ended.load(Ordering::SeqCst);
        let exported = s.exported.load(Ordering::SeqCst);
        let mut last_error = s
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if last_error.is_none() && exported < ended {
            last_error = Some(format!(
                "dropped from a full queue or not answered within the {} ms shutdown timeout",
                timeout.as_millis()
            ));
        }
        ExportSummary {
            endpoint: t.endpoint.clone(),
            ended,
            exported,
            dropped: ended.saturating_sub(exported),
            last_error,
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.inner.is_some() {
            if let Some(w) = self.shutdown_inner().warning() {
                eprintln!("warning: orchestrace: {w}");
            }
        }
    }
}

#[derive(Debug, Default)]
struct ExportStats {
    ended: AtomicU64,
    exported: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Counts the spans handed to the batch processor.
#[derive(Debug)]
struct CountingProcessor {
    inner: BatchSpanProcessor,
    stats: Arc<ExportStats>,
}

impl SpanProcessor for CountingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.stats.ended.fetch_add(1, Ordering::Relaxed);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts the spans the receiver accepted, and keeps the last error.
#[derive(Debug)]
struct CountingExporter<E> {
    inner: E,
    stats: Arc<ExportStats>,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.stats.exported.fetch_add(n, Ordering::SeqCst);
            }
            Err(e) => {
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Spans kept in memory.
#[derive(Debug, Default)]
struct Capture {
    spans: Mutex<Vec<SpanData>>,
    resource: Mutex<Option<Resource>>,
}

impl Capture {
    fn otlp_json(&self) -> serde_json::Value {
        let spans = self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let resource = self
            .resource
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| Resource::builder_empty().build());
        let data = TracesData {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        serde_json::to_value(&data).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug)]
struct CaptureProcessor(Arc<Capture>);

impl SpanProcessor for CaptureProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0
            .spans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self.0.resource.lock().unwrap_or_else(|p| p.into_inner()) = Some(resource.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_protocols_parse() {
        assert_eq!(
            parse_headers("a=1, b = x%20y ,").unwrap(),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        assert!(parse_headers("novalue").is_err());
        assert_eq!(
            OtlpProtocol::parse("http/protobuf").unwrap(),
            OtlpProtocol::HttpProtobuf
        );
        assert!(OtlpProtocol::parse("http/json").is_err());
    }

    #[test]
    fn http_endpoints_get_the_traces_path() {
        let b = TelemetryBuilder::new()
            .with_endpoint("http://127.0.0.1:4318/")
            .with_protocol(OtlpProtocol::HttpProtobuf);
        assert_eq!(
            b.resolved_endpoint().unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        let b = TelemetryBuilder::new().with_endpoint("http://127.0.0.1:4317");
        assert_eq!(b.resolved_endpoint().unwrap(), "http://127.0.0.1:4317");
        assert_eq!(TelemetryBuilder::new().resolved_endpoint(), None);
    }
}
