//! Assembly: the builder's `build`, the [`Telemetry`] it yields, its `tracing` layer, and the
//! one-line setups [`layer()`] and [`init`].

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

use super::capture::{Capture, CaptureProcessor};
use super::exporter::{redact_url, OtlpExporter};
use super::guard::{ExportStats, TelemetryGuard};
use super::processor::ExportProcessor;
use super::settings::{env, TelemetryBuilder, TelemetryError, DEFAULT_SERVICE_NAME};

/// Instrumentation scope name of our spans.
pub const SCOPE_NAME: &str = "orchestrace";

/// The targets whose spans never become OpenTelemetry spans: the export stack's own.
pub const EXPORT_STACK_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "rustls",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];

impl TelemetryBuilder {
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

    /// Builds the pipeline. Export happens only with a usable endpoint (and without
    /// `OTEL_SDK_DISABLED=true`).
    ///
    /// Settings that cannot be used do not fail the build: they are ignored, and the
    /// [`warnings`](TelemetryBuilder::warnings) about them are printed to stderr (unless
    /// [`with_warnings_printed(false)`](TelemetryBuilder::with_warnings_printed)) and kept on
    /// the result ([`Telemetry::warnings`]). It fails only when the export thread or its
    /// runtime cannot be started.
    pub fn build(self) -> Result<Telemetry, TelemetryError> {
        let resolved = self.resolve();
        let mut warnings = resolved.warnings.clone();
        let resource = self.resource();
        let mut provider = SdkTracerProvider::builder().with_resource(resource.clone());
        let capture = self.capture.then(|| Arc::new(Capture::default()));
        if let Some(c) = &capture {
            provider = provider.with_span_processor(CaptureProcessor(c.clone()));
        }
        let stats = Arc::new(ExportStats::default());
        let mut endpoint = None;
        if let Some(url) = &resolved.endpoint {
            let runtime = super::export_runtime("orchestrace-otlp")?;
            let exporter = {
                let _entered = runtime.enter();
                OtlpExporter::new(&resolved, url, &resource)
            };
            match exporter {
                Ok(exporter) => {
                    let processor = ExportProcessor::start(
                        resolved.processor.clone(),
                        stats.clone(),
                        &resource,
                        runtime,
                        exporter,
                    )
                    .map_err(TelemetryError::Exporter)?;
                    provider = provider.with_span_processor(processor);
                    endpoint = Some(redact_url(url));
                }
                Err(e) => {
                    runtime.shutdown_background();
                    warnings.push(format!(
                        "cannot export to {}: {e}: spans are not exported",
                        redact_url(url)
                    ));
                }
            }
        }
        if self.print_warnings {
            for w in &warnings {
                eprintln!("warning: orchestrace: {w}");
            }
        }
        Ok(Telemetry {
            provider: provider.build(),
            capture,
            stats,
            endpoint,
            shutdown_timeout: self.shutdown_timeout,
            warnings,
        })
    }
}

/// A built tracing pipeline. Get its layer with [`Telemetry::layer`], add the layer to your
/// subscriber, and keep the [`TelemetryGuard`] from [`Telemetry::guard`] alive while you trace.
#[derive(Debug)]
pub struct Telemetry {
    pub(super) provider: SdkTracerProvider,
    pub(super) capture: Option<Arc<Capture>>,
    pub(super) stats: Arc<ExportStats>,
    /// Where spans go, shown without credentials.
    pub(super) endpoint: Option<String>,
    pub(super) shutdown_timeout: Duration,
    warnings: Vec<String>,
}

impl Telemetry {
    /// Starts from the environment variables (never fails; see
    /// [`TelemetryBuilder::from_env`]).
    pub fn builder() -> Result<TelemetryBuilder, TelemetryError> {
        TelemetryBuilder::from_env()
    }

    /// The settings that were ignored when this pipeline was built, one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The `tracing_subscriber` layer that turns spans into OpenTelemetry spans.
    ///
    /// It ignores the spans and events of the export stack itself (`h2`, `hyper`, `tonic`,
    /// `tower`, `reqwest`, `rustls`, `opentelemetry*`): exporting them would feed the exporter
    /// its own traffic.
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

fn export_stack_filter() -> tracing_subscriber::filter::Targets {
    EXPORT_STACK_TARGETS.iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::TRACE),
        |t, target| t.with_target(*target, tracing_subscriber::filter::LevelFilter::OFF),
    )
}

/// Builds the pipeline from the environment and returns its layer and guard: the one-line way
/// to add orchestrace's tracing beside a host's own layers. Settings problems are printed as
/// warnings, not returned.
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
