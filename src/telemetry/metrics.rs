//! Metrics: an observer of runs that records the GenAI duration histograms and the
//! orchestration metrics a dashboard needs, and the OTLP pipeline that exports them.
//!
//! ```no_run
//! use orchestrace::telemetry::metrics::Metrics;
//! use orchestrace::Orchestrator;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = Metrics::builder().with_workflow("ops-assistant").with_env()?.build()?;
//! // Share the provider with the host's own instruments, if it likes:
//! opentelemetry::global::set_meter_provider(metrics.meter_provider().clone());
//! let orchestrator = Orchestrator::builder()
//!     .with_observer(metrics.observer())
//!     .build();
//! // … run plans …
//! metrics.shutdown(); // or let it drop: the last export, bounded by the shutdown timeout
//! # drop(orchestrator);
//! # Ok(()) }
//! ```
//!
//! Instruments (names in [`semconv::metrics`](crate::semconv::metrics)): per tool
//! `gen_ai.execute_tool.duration` (s, the tool's duration as its span has it),
//! `orchestration.tool.queue_wait` (s), `orchestration.tool.runs` by status,
//! `orchestration.tool.retries`, `.fallbacks`, `.cache_hits`, `.critical_path`; per run
//! `gen_ai.invocation.duration` (s), `orchestration.run.makespan`, `.serial_duration`,
//! `.time_saved`, `.critical_path` (all s) and `orchestration.runs` by status. Attributes are
//! low-cardinality only: workflow name, tool name and type, status, strategy, error type.
//!
//! Configuration, each overridable from code: `OTEL_METRICS_EXPORTER` (`otlp`, the default,
//! or `none`), `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`,
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, the default, or
//! `delta`), `OTEL_METRIC_EXPORT_INTERVAL` (ms, default 60000), `OTEL_SERVICE_NAME` and
//! `OTEL_SDK_DISABLED=true` (no metrics at all). As for spans, export happens only when an
//! endpoint is set.

use std::fmt;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::KeyValue;
#[cfg(any(feature = "grpc", feature = "http-proto"))]
use opentelemetry_otlp::WithExportConfig;
#[cfg(feature = "http-proto")]
use opentelemetry_otlp::WithHttpConfig as _;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};
use opentelemetry_sdk::Resource;

use super::export::{OtlpProtocol, TelemetryError, DEFAULT_SERVICE_NAME, SCOPE_NAME};
use crate::execute::{Observer, RunStart};
use crate::run::{RunReport, ToolRun, ToolStatus};
use crate::semconv::{self as attr, metrics as names};

/// Default bound on how long shutdown waits for the last export.
pub const DEFAULT_METRICS_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Histogram bucket boundaries for durations in seconds (those the GenAI conventions advise
/// for operation durations).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Stands in for the OTLP metric exporter when no transport is compiled in (never built).
#[cfg(not(any(feature = "grpc", feature = "http-proto")))]
type NoExporter = Boxed;

/// Builds the metrics pipeline: an OTLP exporter (or any [`PushMetricExporter`]) behind a
/// periodic reader.
pub struct MetricsBuilder {
    endpoint: Option<String>,
    protocol: Option<OtlpProtocol>,
    temporality: Option<Temporality>,
    interval: Option<Duration>,
    shutdown_timeout: Duration,
    service_name: Option<String>,
    workflow: Option<String>,
    disabled: bool,
    exporter: Option<Boxed>,
}

/// A type-erased exporter (the SDK's exporter trait is not object safe).
struct Boxed(Arc<dyn ErasedExporter>);

impl fmt::Debug for Boxed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("exporter")
    }
}

trait ErasedExporter: Send + Sync {
    fn export<'a>(
        &'a self,
        m: &'a opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> futures::future::BoxFuture<'a, opentelemetry_sdk::error::OTelSdkResult>;
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult;
    fn shutdown_with_timeout(&self, t: Duration) -> opentelemetry_sdk::error::OTelSdkResult;
    fn temporality(&self) -> Temporality;
}

impl<E: PushMetricExporter> ErasedExporter for E {
    fn export<'a>(
        &'a self,
        m: &'a opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> futures::future::BoxFuture<'a, opentelemetry_sdk::error::OTelSdkResult> {
        Box::pin(PushMetricExporter::export(self, m))
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        PushMetricExporter::force_flush(self)
    }
    fn shutdown_with_timeout(&self, t: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        PushMetricExporter::shutdown_with_timeout(self, t)
    }
    fn temporality(&self) -> Temporality {
        PushMetricExporter::temporality(self)
    }
}

impl PushMetricExporter for Boxed {
    async fn export(
        &self,
        metrics: &opentelemetry_sdk::metrics::data::ResourceMetrics,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.export(metrics).await
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, t: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(t)
    }
    fn temporality(&self) -> Temporality {
        self.0.temporality()
    }
}

impl fmt::Debug for MetricsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsBuilder")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("temporality", &self.temporality)
            .field("interval", &self.interval)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("workflow", &self.workflow)
            .field("disabled", &self.disabled)
            .field("custom_exporter", &self.exporter.is_some())
            .finish()
    }
}

impl Default for MetricsBuilder {
    fn default() -> Self {
        MetricsBuilder {
            endpoint: None,
            protocol: None,
            temporality: None,
            interval: None,
            shutdown_timeout: DEFAULT_METRICS_SHUTDOWN_TIMEOUT,
            service_name: None,
            workflow: None,
            disabled: false,
            exporter: None,
        }
    }
}

/// Parses `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`; any
/// case). `lowmemory` is not supported and is an error, as is anything else.
pub fn parse_temporality(value: &str) -> Result<Temporality, TelemetryError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("cumulative") {
        Ok(Temporality::Cumulative)
    } else if v.eq_ignore_ascii_case("delta") {
        Ok(Temporality::Delta)
    } else {
        Err(TelemetryError::Config(format!(
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE={v:?}: use cumulative or delta"
        )))
    }
}

impl MetricsBuilder {
    /// Applies the environment variables (see the [module docs](self)) over what is set.
    pub fn with_env(self) -> Result<Self, TelemetryError> {
        self.with_vars(env)
    }

    fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Result<Self, TelemetryError> {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            self.disabled = true;
        }
        match var("OTEL_METRICS_EXPORTER").as_deref().map(str::trim) {
            None | Some("otlp") => {}
            Some("none") => self.disabled = true,
            Some(other) => {
                return Err(TelemetryError::Config(format!(
                    "OTEL_METRICS_EXPORTER={other:?}: use otlp or none"
                )))
            }
        }
        if let Some(url) = var("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        {
            // The OTLP exporter reads the variables itself (and appends /v1/metrics to a
            // generic HTTP endpoint); here it is only noted that there is one.
            self.endpoint.get_or_insert(url);
        }
        if let Some(p) = var("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"))
        {
            let p = OtlpProtocol::parse(&p)?;
            self.protocol.get_or_insert(p);
        }
        if let Some(t) = var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            let t = parse_temporality(&t)?;
            self.temporality.get_or_insert(t);
        }
        if let Some(ms) = var("OTEL_METRIC_EXPORT_INTERVAL") {
            let ms: u64 = ms.trim().parse().map_err(|_| {
                TelemetryError::Config(format!(
                    "OTEL_METRIC_EXPORT_INTERVAL={ms:?} is not a number of milliseconds"
                ))
            })?;
            self.interval
                .get_or_insert(Duration::from_millis(ms.max(1)));
        }
        if self.service_name.is_none() {
            self.service_name = var("OTEL_SERVICE_NAME");
        }
        Ok(self)
    }

    /// Exports to this OTLP endpoint (`http://host:4317` for gRPC; for HTTP the full URL,
    /// `…/v1/metrics`).
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The OTLP transport.
    pub fn with_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Cumulative (the default, what Prometheus expects) or delta temporality.
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = Some(temporality);
        self
    }

    /// How often metrics are exported (default 60 s).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// How long shutdown waits for the last export (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The `service.name` resource attribute (default: `OTEL_SERVICE_NAME`, else
    /// `orchestrace`).
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// The `gen_ai.workflow.name` the observer records (by default each run's plan id, which
    /// is also what the command line names its workflows). Give it the
    /// [`Runner`](crate::Runner)'s workflow name when the runs come through one named
    /// otherwise.
    pub fn with_workflow(mut self, name: impl Into<String>) -> Self {
        self.workflow = Some(name.into());
        self
    }

    /// No metrics at all: the observer records nothing and nothing is exported.
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }

    /// Exports through `exporter` instead of OTLP (tests, other backends).
    pub fn with_exporter<E: PushMetricExporter>(mut self, exporter: E) -> Self {
        self.exporter = Some(Boxed(Arc::new(exporter)));
        self
    }

    fn resource(&self) -> Resource {
        let mut r = Resource::builder();
        if let Some(name) = &self.service_name {
            r = r.with_service_name(name.clone());
        } else if env("OTEL_RESOURCE_ATTRIBUTES").is_none_or(|a| !a.contains("service.name=")) {
            r = r.with_service_name(DEFAULT_SERVICE_NAME);
        }
        r.build()
    }

    #[cfg(not(any(feature = "grpc", feature = "http-proto")))]
    fn otlp(
        &self,
        endpoint: &str,
    ) -> Result<(NoExporter, Option<tokio::runtime::Runtime>), TelemetryError> {
        Err(TelemetryError::Exporter(format!(
            "{endpoint}: OTLP export is not compiled in (enable the `grpc` or `http-proto` feature)"
        )))
    }

    #[cfg(any(feature = "grpc", feature = "http-proto"))]
    fn otlp(
        &self,
        endpoint: &str,
    ) -> Result<
        (
            opentelemetry_otlp::MetricExporter,
            Option<tokio::runtime::Runtime>,
        ),
        TelemetryError,
    > {
        let temporality = self.temporality.unwrap_or(Temporality::Cumulative);
        let timeout = self.shutdown_timeout.min(Duration::from_secs(10));
        let failed = |e: &dyn fmt::Display| TelemetryError::Exporter(format!("{endpoint}: {e}"));
        match self.protocol.unwrap_or(OtlpProtocol::Grpc) {
            #[cfg(feature = "grpc")]
            OtlpProtocol::Grpc => {
                // As for spans: the gRPC channel gets a Tokio reactor of its own.
                let rt = super::export::export_runtime("orchestrace-otlp-metrics")?;
                let exporter = {
                    let _entered = rt.enter();
                    opentelemetry_otlp::MetricExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoint)
                        .with_timeout(timeout)
                        .with_temporality(temporality)
                        .build()
                        .map_err(|e| failed(&e))?
                };
                Ok((exporter, Some(rt)))
            }
            #[cfg(feature = "http-proto")]
            OtlpProtocol::HttpProtobuf => {
                let url = endpoint.trim_end_matches('/');
                let url = if url.ends_with("/v1/metrics") {
                    url.to_owned()
                } else {
                    format!("{url}/v1/metrics")
                };
                let exporter = opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(url)
                    .with_timeout(timeout)
                    .with_headers(Default::default())
                    .with_temporality(temporality)
                    .build()
                    .map_err(|e| failed(&e))?;
                Ok((exporter, None))
            }
            #[allow(unreachable_patterns)]
            other => Err(TelemetryError::Exporter(format!(
                "{endpoint}: {other:?} export is not compiled in (enable the `grpc` or `http-proto` feature)"
            ))),
        }
    }

    /// Builds the pipeline.
    pub fn build(self) -> Result<Metrics, TelemetryError> {
        let mut provider = SdkMeterProvider::builder().with_resource(self.resource());
        let mut io_runtime = None;
        let mut exporting = false;
        if !self.disabled {
            if let Some(exporter) = self.exporter {
                let mut reader = PeriodicReader::builder(exporter);
                if let Some(i) = self.interval {
                    reader = reader.with_interval(i);
                }
                provider = provider.with_reader(reader.build());
                exporting = true;
            } else if let Some(url) = &self.endpoint {
                let (exporter, rt) = self.otlp(url)?;
                let mut reader = PeriodicReader::builder(exporter);
                if let Some(i) = self.interval {
                    reader = reader.with_interval(i);
                }
                provider = provider.with_reader(reader.build());
                io_runtime = rt;
                exporting = true;
            }
        }
        let provider = provider.build();
        let instruments =
            (!self.disabled).then(|| Arc::new(Instruments::new(&provider.meter(SCOPE_NAME))));
        Ok(Metrics {
            provider,
            instruments,
            workflow: self
                .workflow
                .map(|w| KeyValue::new(attr::GEN_AI_WORKFLOW_NAME, w)),
            exporting,
            shutdown_timeout: self.shutdown_timeout,
            io_runtime,
            shut_down: false,
        })
    }
}

/// A built metrics pipeline: the meter provider (share it with the host's own instruments),
/// the observer factory, and the flush at the end. Dropping it shuts the provider down,
/// waiting at most the shutdown timeout for the last export.
pub struct Metrics {
    provider: SdkMeterProvider,
    instruments: Option<Arc<Instruments>>,
    workflow: Option<KeyValue>,
    exporting: bool,
    shutdown_timeout: Duration,
    io_runtime: Option<tokio::runtime::Runtime>,
    shut_down: bool,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.instruments.is_some())
            .field("exporting", &self.exporting)
            .field("workflow", &self.workflow.as_ref().map(|w| &w.value))
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A builder with the defaults (no export until an endpoint or exporter is given).
    pub fn builder() -> MetricsBuilder {
        MetricsBuilder::default()
    }

    /// The meter provider, for the host's own instruments (or
    /// `opentelemetry::global::set_meter_provider`).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.provider
    }

    /// Whether metrics are recorded (not disabled).
    pub fn is_enabled(&self) -> bool {
        self.instruments.is_some()
    }

    /// Whether an exporter is attached.
    pub fn is_exporting(&self) -> bool {
        self.exporting
    }

    /// The observer factory, for
    /// [`OrchestratorBuilder::with_observer`](crate::execute::OrchestratorBuilder::with_observer).
    pub fn observer(
        &self,
    ) -> impl for<'a> Fn(&RunStart<'a>) -> Box<dyn Observer + 'a> + Send + Sync + 'static {
        let instruments = self.instruments.clone();
        let workflow = self.workflow.clone();
        move |run: &RunStart<'_>| -> Box<dyn Observer> {
            match &instruments {
                Some(i) => {
                    let workflow = workflow.clone().unwrap_or_else(|| {
                        KeyValue::new(attr::GEN_AI_WORKFLOW_NAME, run.plan.plan().plan_id.clone())
                    });
                    Box::new(RunMetrics::start(i.clone(), workflow, run))
                }
                None => Box::new(Nothing),
            }
        }
    }

    /// Exports what has been recorded now.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        self.provider
            .force_flush()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))
    }

    /// Shuts the provider down: the last export, waiting at most the shutdown timeout
    /// (the SDK's own shutdown has no deadline, so it runs on a thread of its own and is left
    /// behind when late). Returns whether it finished in time.
    pub fn shutdown(mut self) -> bool {
        self.shutdown_within()
    }

    fn shutdown_within(&mut self) -> bool {
        if std::mem::replace(&mut self.shut_down, true) {
            return true;
        }
        let provider = self.provider.clone();
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("orchestrace-metrics-shutdown".into())
            .spawn(move || {
                let _ = tx.send(provider.shutdown());
            });
        let in_time = spawned.is_ok()
            && matches!(
                rx.recv_timeout(self.shutdown_timeout),
                Ok(Ok(())) | Ok(Err(_))
            );
        if let Some(rt) = self.io_runtime.take() {
            rt.shutdown_background();
        }
        if !in_time && self.exporting {
            eprintln!(
                "orchestrace: metrics shutdown did not finish within {:?}; the last export may be lost",
                self.shutdown_timeout
            );
        }
        in_time
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        self.shutdown_within();
    }
}

/// The instruments, made once per provider.
#[derive(Debug)]
struct Instruments {
    tool_duration: Histogram<f64>,
    invocation_duration: Histogram<f64>,
    makespan: Histogram<f64>,
    serial: Histogram<f64>,
    saved: Histogram<f64>,
    critical_path: Histogram<f64>,
    runs: Counter<u64>,
    tool_runs: Counter<u64>,
    queue_wait: Histogram<f64>,
    retries: Counter<u64>,
    fallbacks: Counter<u64>,
    cache_hits: Counter<u64>,
    on_critical_path: Counter<u64>,
}

impl Instruments {
    fn new(m: &Meter) -> Self {
        let seconds = |name: &'static str, description: &'static str| {
            m.f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        let count = |name: &'static str, unit: &'static str, description: &'static str| {
            m.u64_counter(name)
                .with_unit(unit)
                .with_description(description)
                .build()
        };
        Instruments {
            tool_duration: seconds(names::EXECUTE_TOOL_DURATION, "Duration of tool executions."),
            invocation_duration: seconds(
                names::INVOCATION_DURATION,
                "Duration of workflow invocations.",
            ),
            makespan: seconds(names::RUN_MAKESPAN, "First tool start to last tool end."),
            serial: seconds(
                names::RUN_SERIAL_DURATION,
                "Sum of the tool durations of a run.",
            ),
            saved: seconds(names::RUN_TIME_SAVED, "Serial duration minus makespan."),
            critical_path: seconds(names::RUN_CRITICAL_PATH, "Length of the critical path."),
            runs: count(names::RUNS, "{run}", "Runs, by status."),
            tool_runs: count(names::TOOL_RUNS, "{tool}", "Tools that ended, by status."),
            queue_wait: seconds(names::TOOL_QUEUE_WAIT, "Time between ready and start."),
            retries: count(names::TOOL_RETRIES, "{retry}", "Retries made."),
            fallbacks: count(names::TOOL_FALLBACKS, "{fallback}", "Fallbacks taken."),
            cache_hits: count(
                names::TOOL_CACHE_HITS,
                "{hit}",
                "Results served from the cache.",
            ),
            on_critical_path: count(
                names::TOOL_CRITICAL_PATH,
                "{tool}",
                "Tools on a run's critical path.",
            ),
        }
    }
}

/// The observer of a disabled pipeline.
struct Nothing;
impl Observer for Nothing {}

/// The metrics observer of one run.
struct RunMetrics<'a> {
    instruments: Arc<Instruments>,
    plan: &'a crate::schedule::AnalyzedPlan,
    workflow: KeyValue,
    strategy: KeyValue,
    nested: bool,
}

impl<'a> RunMetrics<'a> {
    fn start(instruments: Arc<Instruments>, workflow: KeyValue, run: &RunStart<'a>) -> Self {
        RunMetrics {
            instruments,
            plan: run.plan,
            workflow,
            strategy: KeyValue::new(attr::EXECUTION_STRATEGY, run.plan.strategy().as_str()),
            nested: super::spans::in_host_invocation(),
        }
    }
}

fn tool_attrs(rec: &ToolRun) -> [KeyValue; 2] {
    [
        KeyValue::new(attr::GEN_AI_TOOL_NAME, rec.tool.clone()),
        KeyValue::new(attr::GEN_AI_TOOL_TYPE, attr::tool_type(&rec.tool)),
    ]
}

/// A tool's duration as its span has it: from its start to the end of its last call, in
/// seconds. The span ends when the tool's task leaves it for the last time, which is when
/// the last call returned — not when the scheduler gets round to collecting the result (by
/// then other tools may have run on the same thread). A tool that made no call (a cache hit,
/// a data-flow failure) ends when it is recorded.
pub(crate) fn tool_seconds(rec: &ToolRun) -> f64 {
    let end = rec.attempts.iter().map(|a| a.end).max().or(rec.ended_at);
    match (rec.started_at, end) {
        (Some(s), Some(e)) => e.saturating_sub(s).as_secs_f64(),
        _ => 0.0,
    }
}

fn run_status(report: &RunReport) -> &'static str {
    if report.succeeded() {
        "ok"
    } else if report.cancelled() {
        "cancelled"
    } else {
        "error"
    }
}

impl Observer for RunMetrics<'_> {
    fn tool_ended(&mut self, rec: &ToolRun) {
        let i = &self.instruments;
        let [name, kind] = tool_attrs(rec);
        let status = KeyValue::new(attr::STATUS, rec.status.as_str());
        i.tool_runs.add(1, &[name.clone(), kind.clone(), status]);
        if rec.started_at.is_none() {
            return;
        }
        let mut attrs = vec![name, kind];
        i.queue_wait.record(rec.queue_wait().as_secs_f64(), &attrs);
        if rec.retry_count > 0 {
            i.retries.add(u64::from(rec.retry_count), &attrs);
        }
        if rec.fallback_used {
            i.fallbacks.add(1, &attrs);
        }
        if rec.cache_hit {
            i.cache_hits.add(1, &attrs);
        }
        match (&rec.error, rec.status) {
            (Some(e), _) => attrs.push(KeyValue::new(attr::ERROR_TYPE, e.kind.clone())),
            (None, ToolStatus::Cancelled) => {
                attrs.push(KeyValue::new(attr::ERROR_TYPE, "cancelled"))
            }
            _ => {}
        }
        i.tool_duration.record(tool_seconds(rec), &attrs);
    }

    fn run_finished(&mut self, report: &RunReport) {
        let i = &self.instruments;
        let s = &report.summary;
        let run = [self.workflow.clone(), self.strategy.clone()];
        i.makespan.record(s.total_duration_ms / 1000.0, &run);
        i.serial.record(s.serial_duration_ms / 1000.0, &run);
        i.saved.record(s.time_saved_ms / 1000.0, &run);
        i.critical_path.record(s.critical_path_ms / 1000.0, &run);
        let status = run_status(report);
        i.runs.add(
            1,
            &[
                self.workflow.clone(),
                self.strategy.clone(),
                KeyValue::new(attr::STATUS, status),
            ],
        );
        let mut invocation = vec![
            KeyValue::new(attr::GEN_AI_OPERATION_NAME, attr::OP_INVOKE_WORKFLOW),
            KeyValue::new(attr::GEN_AI_INVOCATION_IS_NESTED, self.nested),
            self.workflow.clone(),
        ];
        if status != "ok" {
            // The first failure's class (low-cardinality: timeout, panic, data_flow, …).
            let kind = report
                .tools
                .iter()
                .filter(|t| t.status == ToolStatus::Error)
                .min_by_key(|t| t.ended_at)
                .and_then(|t| t.error.as_ref())
                .map_or(status.to_owned(), |e| e.kind.clone());
            invocation.push(KeyValue::new(attr::ERROR_TYPE, kind));
        }
        i.invocation_duration
            .record(report.duration.as_secs_f64(), &invocation);
        for id in &s.critical_path {
            if let Some(t) = self.plan.plan().tool_index(id) {
                let tool = &self.plan.plan().tools[t].tool;
                i.on_critical_path.add(
                    1,
                    &[
                        self.workflow.clone(),
                        KeyValue::new(attr::GEN_AI_TOOL_NAME, tool.clone()),
                    ],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests;
