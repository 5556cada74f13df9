//! Settings: the OpenTelemetry environment variables, overridden from code.
//!
//! A telemetry setting never stops the host: a value that cannot be used is ignored with one
//! warning naming the variable (or the builder call), the value and what is used instead.
//! The warnings are kept on the builder ([`TelemetryBuilder::warnings`]) and printed by
//! [`TelemetryBuilder::build`] unless the host takes them first.

use std::fmt;
use std::time::Duration;

use super::exporter::redact_url;

/// Default bound on how long shutdown waits for the last spans.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Service name when neither code nor environment sets one.
pub const DEFAULT_SERVICE_NAME: &str = "orchestrace";

/// `OTEL_BSP_MAX_QUEUE_SIZE` default: spans waiting for export.
pub(crate) const DEFAULT_MAX_QUEUE_SIZE: usize = 2_048;
/// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` default: spans in one request.
pub(crate) const DEFAULT_MAX_BATCH_SIZE: usize = 512;
/// Estimated encoded bytes in one request: a quarter of the 4 MiB gRPC message limit of the
/// Collector's receiver, so an estimate that is off by a lot still fits.
pub(crate) const DEFAULT_MAX_BATCH_BYTES: usize = 1024 * 1024;
/// `OTEL_BSP_SCHEDULE_DELAY` default: how long a partial batch waits.
pub(crate) const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_millis(1_000);
/// `OTEL_BSP_EXPORT_TIMEOUT` default: one export attempt.
pub(crate) const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// `OTEL_BSP_MAX_CONCURRENT_EXPORTS` default: requests in flight.
pub(crate) const DEFAULT_MAX_CONCURRENT_EXPORTS: usize = 2;
/// Longest a span's end waits for room in a full queue.
pub(crate) const DEFAULT_MAX_WAIT_PER_SPAN: Duration = Duration::from_millis(250);
/// Longest all span ends of one pipeline wait for room, together.
pub(crate) const DEFAULT_WAIT_BUDGET: Duration = Duration::from_secs(10);
/// Retries of one failed export (retryable failures only).
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 3;

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

/// Telemetry setup failed: only what cannot work at all (settings problems are warnings).
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

/// Where a setting came from, for warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Code(&'static str),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Code(call) => write!(f, "{call}"),
            Origin::Env(var) => write!(f, "{var}"),
        }
    }
}

/// The export processor's settings (`OTEL_BSP_*` and ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcessorSettings {
    pub(crate) max_queue_size: usize,
    pub(crate) max_batch_size: usize,
    pub(crate) max_batch_bytes: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) export_timeout: Duration,
    pub(crate) max_concurrent_exports: usize,
    pub(crate) max_wait_per_span: Duration,
    pub(crate) wait_budget: Duration,
    pub(crate) max_retries: u32,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        ProcessorSettings {
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            schedule_delay: DEFAULT_SCHEDULE_DELAY,
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            max_concurrent_exports: DEFAULT_MAX_CONCURRENT_EXPORTS,
            max_wait_per_span: DEFAULT_MAX_WAIT_PER_SPAN,
            wait_budget: DEFAULT_WAIT_BUDGET,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

/// Builds the tracing pipeline: an OTLP exporter, in-process capture, or both.
///
/// Start from [`TelemetryBuilder::from_env`] (or [`TelemetryBuilder::new`] for code only),
/// override with the `with_*` setters, then [`build`](TelemetryBuilder::build).
#[derive(Debug, Clone)]
pub struct TelemetryBuilder {
    endpoint: Option<(String, Origin)>,
    endpoint_is_full: bool,
    protocol: Option<OtlpProtocol>,
    headers: Vec<(String, String)>,
    pub(super) service_name: Option<String>,
    pub(super) shutdown_timeout: Duration,
    pub(super) capture: bool,
    export_disabled: bool,
    pub(super) processor: ProcessorSettings,
    env_warnings: Vec<String>,
    pub(super) print_warnings: bool,
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
            processor: ProcessorSettings::default(),
            env_warnings: Vec::new(),
            print_warnings: true,
        }
    }
}

pub(super) fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A source of variables: the process environment, or a map in tests.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses `key=value,key2=value2` (values percent-decoded). Entries that are not `key=value`
/// are left out and named in the warnings.
fn parse_headers(raw: &str, origin: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut headers = Vec::new();
    let mut warnings = Vec::new();
    for kv in raw.split(',').filter(|kv| !kv.trim().is_empty()) {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                headers.push((k.trim().to_owned(), percent_decode(v.trim())));
            }
            _ => warnings.push(format!(
                "{origin}: ignored the entry {:?}: not key=value",
                kv.trim()
            )),
        }
    }
    (headers, warnings)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `%XX` escapes decoded; anything else (a lone `%`, non-hex digits, non-ASCII text) kept as
/// it is; invalid UTF-8 after decoding becomes U+FFFD.
pub(super) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads a positive count or milliseconds from `var`, warning about anything else.
fn env_number(
    env: Lookup<'_>,
    var: &'static str,
    warnings: &mut Vec<String>,
    default: u64,
) -> Option<u64> {
    let raw = env(var)?;
    match raw.trim().parse::<u64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            warnings.push(format!(
                "{var}={:?} is not a positive whole number: ignored, using {default}",
                raw.trim()
            ));
            None
        }
    }
}

/// An endpoint with its scheme (added when missing), or why it cannot be used.
fn normalize_endpoint(raw: &str, origin: &Origin) -> Result<(String, Option<String>), String> {
    let trimmed = raw.trim();
    let shown = redact_url(trimmed);
    let (url, note) = if trimmed.contains("://") {
        (trimmed.to_owned(), None)
    } else {
        let url = format!("http://{trimmed}");
        let note = format!(
            "{origin}={shown:?} has no scheme: using {}",
            redact_url(&url)
        );
        (url, Some(note))
    };
    let uri: http::Uri = url.parse().map_err(|e| {
        format!("{origin}={shown:?} is not a URL ({e}): ignored, spans are not exported")
    })?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(format!(
                "{origin}={shown:?} has the scheme {other:?}, not http or https: ignored, spans are not exported"
            ))
        }
        None => {
            return Err(format!(
                "{origin}={shown:?} is not a URL: ignored, spans are not exported"
            ))
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!(
            "{origin}={shown:?} has no host: ignored, spans are not exported"
        ));
    }
    Ok((url, note))
}

/// The settings resolved for building: where to, how, and what was ignored.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: OtlpProtocol,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) processor: ProcessorSettings,
    pub(crate) warnings: Vec<String>,
}

impl TelemetryBuilder {
    /// Nothing configured: no export, no capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends spans to this OTLP endpoint. For HTTP a base URL gets `/v1/traces` appended
    /// (like `OTEL_EXPORTER_OTLP_ENDPOINT`); a URL already ending in `/v1/traces` is kept. A
    /// plain `host:port` means `http://host:port`; `https://` uses TLS with the system's
    /// root certificates.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some((url.into(), Origin::Code("with_endpoint")));
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

    /// Also keeps every span in memory, for [`TelemetryGuard::captured`](super::TelemetryGuard::captured).
    pub fn with_capture(mut self, on: bool) -> Self {
        self.capture = on;
        self
    }

    /// Spans waiting for export at most (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048). When the
    /// queue is full, ending a span waits for room (bounded), then drops the span.
    pub fn with_max_queue_size(mut self, spans: usize) -> Self {
        self.processor.max_queue_size = spans.max(1);
        self
    }

    /// Spans in one export request at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512).
    pub fn with_max_export_batch_size(mut self, spans: usize) -> Self {
        self.processor.max_batch_size = spans.max(1);
        self
    }

    /// Estimated encoded bytes in one export request at most (default 1 MiB, a quarter of the
    /// usual 4 MiB receiver limit). A single span larger than this goes alone.
    pub fn with_max_export_batch_bytes(mut self, bytes: usize) -> Self {
        self.processor.max_batch_bytes = bytes.max(1);
        self
    }

    /// How long a partial batch waits before it is sent (`OTEL_BSP_SCHEDULE_DELAY`, default
    /// 1 s). Full batches go at once.
    pub fn with_scheduled_delay(mut self, delay: Duration) -> Self {
        self.processor.schedule_delay = delay;
        self
    }

    /// Bound on one export attempt (`OTEL_BSP_EXPORT_TIMEOUT`, default 10 s).
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.processor.export_timeout = timeout;
        self
    }

    /// Export requests in flight at once (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`, default 2).
    pub fn with_max_concurrent_exports(mut self, n: usize) -> Self {
        self.processor.max_concurrent_exports = n.max(1);
        self
    }

    /// How long ending one span may wait for room in a full queue (default 250 ms), and how
    /// long all span ends may wait in total (default 10 s). Past either, spans are dropped
    /// and counted. Once one wait runs out, spans are dropped without waiting until an export
    /// succeeds again, so a stalled collector costs the traced code at most one wait.
    pub fn with_backpressure(mut self, per_span: Duration, total: Duration) -> Self {
        self.processor.max_wait_per_span = per_span;
        self.processor.wait_budget = total;
        self
    }

    /// Retries of a failed export when the failure is worth retrying (default 3).
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.processor.max_retries = retries;
        self
    }

    /// Whether [`build`](TelemetryBuilder::build) prints the settings warnings to stderr
    /// (default true). Turn it off to report [`warnings`](TelemetryBuilder::warnings) yourself.
    pub fn with_warnings_printed(mut self, on: bool) -> Self {
        self.print_warnings = on;
        self
    }

    /// Reads the OpenTelemetry environment variables (settings made in code afterwards win).
    ///
    /// Never fails: a variable that cannot be used is ignored with a warning (see
    /// [`warnings`](TelemetryBuilder::warnings)). The `Result` is kept so that callers written
    /// against earlier versions still compile.
    pub fn from_env() -> Result<Self, TelemetryError> {
        Ok(Self::from_lookup(&env))
    }

    fn from_lookup(env: Lookup<'_>) -> Self {
        let mut b = Self::default();
        let mut w = Vec::new();
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            b.export_disabled = true;
        }
        if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            b.endpoint = Some((url, Origin::Env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")));
            b.endpoint_is_full = true;
        } else if let Some(url) = env("OTEL_EXPORTER_OTLP_ENDPOINT") {
            b.endpoint = Some((url, Origin::Env("OTEL_EXPORTER_OTLP_ENDPOINT")));
        }
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Some(p) = env(var) {
                match OtlpProtocol::parse(&p) {
                    Ok(p) => {
                        b.protocol = Some(p);
                        break;
                    }
                    Err(_) => w.push(format!(
                        "{var}={:?} is not supported (use grpc or http/protobuf): ignored",
                        p.trim()
                    )),
                }
            }
        }
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(raw) = env(var) {
                let (headers, warnings) = parse_headers(&raw, var);
                b.headers.extend(headers);
                w.extend(warnings);
            }
        }
        b.service_name = env("OTEL_SERVICE_NAME");
        let d = ProcessorSettings::default();
        let p = &mut b.processor;
        if let Some(n) = env_number(
            env,
            "OTEL_BSP_MAX_QUEUE_SIZE",
            &mut w,
            d.max_queue_size as u64,
        ) {
            p.max_queue_size = n as usize;
        }
        if let Some(n) = env_number(
            env,
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            &mut w,
            d.max_batch_size as u64,
        ) {
            p.max_batch_size = n as usize;
        }
        if let Some(ms) = env_number(
            env,
            "OTEL_BSP_SCHEDULE_DELAY",
            &mut w,
            d.schedule_delay.as_millis() as u64,
        ) {
            p.schedule_delay = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number(
            env,
            "OTEL_BSP_EXPORT_TIMEOUT",
            &mut w,
            d.export_timeout.as_millis() as u64,
        ) {
            p.export_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = env_number(
            env,
            "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
            &mut w,
            d.max_concurrent_exports as u64,
        ) {
            p.max_concurrent_exports = n as usize;
        }
        b.env_warnings = w;
        b
    }

    /// Everything the settings ask for that cannot be done, one line each, saying what is
    /// ignored and what is used instead. Empty when all is well.
    pub fn warnings(&self) -> Vec<String> {
        self.resolve().warnings
    }

    /// The endpoint spans will be sent to, if any, after defaults are applied (a scheme when
    /// missing, `/v1/traces` for HTTP).
    pub fn resolved_endpoint(&self) -> Option<String> {
        self.resolve().endpoint
    }

    fn protocol(&self) -> OtlpProtocol {
        self.protocol.unwrap_or(OtlpProtocol::Grpc)
    }

    /// Applies defaults and checks what can only be checked on the final values.
    pub(crate) fn resolve(&self) -> Resolved {
        let mut warnings = self.env_warnings.clone();
        let protocol = self.protocol();
        let mut endpoint = None;
        if let (false, Some((raw, origin))) = (self.export_disabled, &self.endpoint) {
            match normalize_endpoint(raw, origin) {
                Ok((url, note)) => {
                    warnings.extend(note);
                    let (base, query) = match url.split_once('?') {
                        Some((b, q)) => (b, format!("?{q}")),
                        None => (url.as_str(), String::new()),
                    };
                    let base = base.trim_end_matches('/');
                    endpoint = Some(match protocol {
                        OtlpProtocol::HttpProtobuf
                            if !self.endpoint_is_full && !base.ends_with("/v1/traces") =>
                        {
                            format!("{base}/v1/traces{query}")
                        }
                        _ => format!("{base}{query}"),
                    });
                }
                Err(w) => warnings.push(w),
            }
        }
        let mut headers = Vec::new();
        for (k, v) in &self.headers {
            let name_ok = http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).is_ok();
            let value_ok = http::HeaderValue::from_str(v).is_ok();
            if !name_ok {
                warnings.push(format!("header {k:?} is not a valid header name: ignored"));
            } else if !value_ok {
                warnings.push(format!(
                    "header {k:?} has a value that cannot be sent (control characters): ignored"
                ));
            } else {
                headers.push((k.to_ascii_lowercase(), v.clone()));
            }
        }
        let mut processor = self.processor.clone();
        // A small queue with the default batch size simply sends smaller batches; a batch
        // size set larger than the queue is worth a word.
        if processor.max_batch_size > processor.max_queue_size
            && processor.max_batch_size != DEFAULT_MAX_BATCH_SIZE
        {
            warnings.push(format!(
                "the export batch size ({}) is larger than the queue ({}): using {}",
                processor.max_batch_size, processor.max_queue_size, processor.max_queue_size
            ));
        }
        processor.max_batch_size = processor.max_batch_size.min(processor.max_queue_size);
        Resolved {
            endpoint,
            protocol,
            headers,
            processor,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_and_malformed_entries_are_named() {
        let (h, w) = parse_headers("a=1, b = x%20y ,novalue,=v", "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(
            h,
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        assert_eq!(
            w,
            vec![
                "OTEL_EXPORTER_OTLP_HEADERS: ignored the entry \"novalue\": not key=value",
                "OTEL_EXPORTER_OTLP_HEADERS: ignored the entry \"=v\": not key=value",
            ]
        );
    }

    #[test]
    fn percent_decoding_never_splits_a_character() {
        // A `%` followed by a multi-byte character used to slice inside it and panic.
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("é%"), "é%");
        assert_eq!(percent_decode("%é"), "%é");
        assert_eq!(percent_decode("%2"), "%2");
        assert_eq!(percent_decode("%41%zz%c3%a9"), "A%zzé");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        let (h, w) = parse_headers("k=%aé", "OTEL_EXPORTER_OTLP_HEADERS");
        assert_eq!(h, vec![("k".into(), "%aé".into())]);
        assert!(w.is_empty());
    }

    #[test]
    fn protocols_parse() {
        assert_eq!(
            OtlpProtocol::parse("http/protobuf").unwrap(),
            OtlpProtocol::HttpProtobuf
        );
        assert_eq!(OtlpProtocol::parse(" grpc ").unwrap(), OtlpProtocol::Grpc);
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
        assert!(TelemetryBuilder::new()
            .with_endpoint("https://collector.example:4317")
            .warnings()
            .is_empty());
    }

    #[test]
    fn an_endpoint_without_a_scheme_is_http_with_one_warning() {
        let b = TelemetryBuilder::new().with_endpoint("localhost:4317");
        assert_eq!(b.resolved_endpoint().unwrap(), "http://localhost:4317");
        assert_eq!(
            b.warnings(),
            vec!["with_endpoint=\"localhost:4317\" has no scheme: using http://localhost:4317"]
        );
    }

    #[test]
    fn an_unusable_endpoint_turns_export_off_with_one_warning() {
        let b = TelemetryBuilder::new().with_endpoint("ftp://u:pw@host/x");
        assert_eq!(b.resolved_endpoint(), None);
        assert_eq!(
            b.warnings(),
            vec!["with_endpoint=\"ftp://host/x\" has the scheme \"ftp\", not http or https: ignored, spans are not exported"]
        );
        let b = TelemetryBuilder::new().with_endpoint("http://");
        assert_eq!(b.resolved_endpoint(), None);
        assert_eq!(b.warnings().len(), 1, "{:?}", b.warnings());
    }

    #[test]
    fn bad_header_names_and_values_are_ignored_with_a_warning() {
        let b = TelemetryBuilder::new()
            .with_endpoint("http://127.0.0.1:4317")
            .with_header("bad name", "v")
            .with_header("ok", "line\nbreak")
            .with_header("Authorization", "Bearer x");
        let r = b.resolve();
        assert_eq!(r.headers, vec![("authorization".into(), "Bearer x".into())]);
        assert_eq!(
            r.warnings,
            vec![
                "header \"bad name\" is not a valid header name: ignored",
                "header \"ok\" has a value that cannot be sent (control characters): ignored",
            ]
        );
    }

    #[test]
    fn the_batch_is_never_larger_than_the_queue() {
        let r = TelemetryBuilder::new()
            .with_max_queue_size(16)
            .with_max_export_batch_size(1000)
            .resolve();
        assert_eq!(r.processor.max_batch_size, 16);
        assert_eq!(
            r.warnings,
            vec!["the export batch size (1000) is larger than the queue (16): using 16"]
        );
    }

    fn from_vars(vars: &[(&str, &str)]) -> TelemetryBuilder {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        TelemetryBuilder::from_lookup(&move |k: &str| {
            map.get(k).filter(|v| !v.trim().is_empty()).cloned()
        })
    }

    #[test]
    fn environment_problems_are_one_warning_each_and_the_rest_applies() {
        let b = from_vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret,broken,x=%aé"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "20"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "0"),
            ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "3"),
        ]);
        assert_eq!(
            b.warnings(),
            vec![
                "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\" is not supported (use grpc or http/protobuf): ignored",
                "OTEL_EXPORTER_OTLP_HEADERS: ignored the entry \"broken\": not key=value",
                "OTEL_BSP_MAX_QUEUE_SIZE=\"lots\" is not a positive whole number: ignored, using 2048",
                "OTEL_BSP_EXPORT_TIMEOUT=\"0\" is not a positive whole number: ignored, using 10000",
                "OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4317\" has no scheme: using http://localhost:4317",
            ]
        );
        let r = b.resolve();
        assert_eq!(r.endpoint.as_deref(), Some("http://localhost:4317"));
        assert_eq!(r.protocol, OtlpProtocol::Grpc);
        assert_eq!(
            r.headers,
            vec![
                ("api-key".into(), "s3cret".into()),
                ("x".into(), "%aé".into())
            ]
        );
        assert_eq!(r.processor.max_queue_size, DEFAULT_MAX_QUEUE_SIZE);
        assert_eq!(r.processor.max_batch_size, 100);
        assert_eq!(r.processor.schedule_delay, Duration::from_millis(20));
        assert_eq!(r.processor.export_timeout, DEFAULT_EXPORT_TIMEOUT);
        assert_eq!(r.processor.max_concurrent_exports, 3);
    }

    #[test]
    fn code_overrides_the_environment() {
        let b = from_vars(&[
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://env:4318/custom",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
        ]);
        assert_eq!(
            b.resolved_endpoint().as_deref(),
            Some("http://env:4318/custom")
        );
        let b = b.with_endpoint("http://code:4318").with_max_queue_size(8);
        let r = b.resolve();
        assert_eq!(r.endpoint.as_deref(), Some("http://code:4318/v1/traces"));
        assert_eq!(r.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(r.processor.max_queue_size, 8);
        assert!(from_vars(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://x:4317")
        ])
        .resolved_endpoint()
        .is_none());
    }
}
