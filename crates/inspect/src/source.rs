//! Fetching a trace from a backend: Jaeger's query API and Tempo's API, both at
//! `GET {base}/api/traces/{trace_id}`.
//!
//! The request runs on its own thread with a blocking client, so it may be called from
//! anywhere, async code included. A source that cannot be reached, answers 404 or has no such
//! trace is a [`FetchErrorKind`] apart from a body that does not parse (a [`LoadError`]), so
//! callers can tell "the backend is not there" from "the backend sent something unreadable".

use std::fmt;
use std::io::Read;
use std::time::{Duration, Instant};

use super::load::{load_bytes, LoadError, LoadErrorKind};
use super::model::Trace;
use crate::render::clean;

/// How long a fetch may take in total: connection, request and the whole answer.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest answer read (the same as the largest trace file).
pub const MAX_RESPONSE_BYTES: u64 = crate::load::MAX_TRACE_BYTES;

/// Limits of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    max_bytes: u64,
    timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_bytes: MAX_RESPONSE_BYTES,
            timeout: FETCH_TIMEOUT,
        }
    }
}

impl FetchOptions {
    /// [`MAX_RESPONSE_BYTES`] and [`FETCH_TIMEOUT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The most bytes of an answer read; a longer answer (whatever its `Content-Length`
    /// says) fails with [`FetchErrorKind::TooLarge`].
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The total time a fetch may take; past it, [`FetchErrorKind::Timeout`].
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A trace backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// Jaeger's query service (`/api/traces/{id}` → `{"data": [...]}`).
    Jaeger,
    /// Grafana Tempo (`/api/traces/{id}` → OTLP JSON, `batches` or `resourceSpans`).
    Tempo,
}

impl Backend {
    /// `Jaeger` or `Tempo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Jaeger => "Jaeger",
            Backend::Tempo => "Tempo",
        }
    }
}

/// A trace that could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    url: String,
    kind: FetchErrorKind,
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The trace id is not 1 to 32 hex digits.
    InvalidTraceId(String),
    /// The base URL is not an `http://` URL (`https://` needs TLS, which this build lacks).
    InvalidUrl(String),
    /// No connection, a timeout, or a transport error.
    Unreachable(String),
    /// The backend has no such trace (404, or an empty answer).
    NotFound,
    /// Any other HTTP status.
    Status(u16),
    /// The answer is longer than the limit (in bytes) it was read under.
    TooLarge(u64),
    /// No complete answer within the fetch timeout.
    Timeout(Duration),
    /// The body is not a readable trace.
    Body(LoadError),
}

impl FetchError {
    /// What went wrong.
    pub fn kind(&self) -> &FetchErrorKind {
        &self.kind
    }

    /// The URL asked.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the source is at fault (unreachable, no such trace, an HTTP error) rather than
    /// the request (a bad trace id or URL) or the body.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            FetchErrorKind::Unreachable(_)
                | FetchErrorKind::NotFound
                | FetchErrorKind::Status(_)
                | FetchErrorKind::TooLarge(_)
                | FetchErrorKind::Timeout(_)
        )
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = clean(&self.url);
        match &self.kind {
            FetchErrorKind::InvalidTraceId(id) => {
                write!(f, "invalid trace id {id:?}: expected 1 to 32 hex digits")
            }
            FetchErrorKind::InvalidUrl(u) if u.starts_with("https://") => write!(
                f,
                "invalid URL {u:?}: https is not supported (this build has no TLS); use http://"
            ),
            FetchErrorKind::InvalidUrl(u) => {
                write!(f, "invalid URL {u:?}: expected http://HOST[:PORT][/PATH]")
            }
            FetchErrorKind::Unreachable(e) => {
                write!(f, "{url}: cannot reach the source: {}", clean(e))
            }
            FetchErrorKind::NotFound => write!(f, "{url}: no such trace"),
            FetchErrorKind::Status(code) => {
                write!(f, "{url}: the source answered HTTP {code}")
            }
            FetchErrorKind::TooLarge(limit) => write!(
                f,
                "{url}: the answer is larger than the limit of {limit} bytes; reading stopped there"
            ),
            FetchErrorKind::Timeout(t) => write!(
                f,
                "{url}: no complete answer within the fetch timeout of {}",
                crate::analysis::format_duration(t.as_secs_f64() * 1000.0)
            ),
            FetchErrorKind::Body(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            FetchErrorKind::Body(e) => Some(e),
            _ => None,
        }
    }
}

/// The URL of a trace on a backend: `{base}/api/traces/{id}` (the id lowercased).
pub fn trace_url(base: &str, trace_id: &str) -> Result<String, FetchError> {
    let id = trace_id.trim();
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(FetchError {
            url: String::new(),
            kind: FetchErrorKind::InvalidTraceId(trace_id.to_owned()),
        });
    }
    let base = base.trim().trim_end_matches('/');
    let rest = base.strip_prefix("http://");
    if !matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/')) {
        return Err(FetchError {
            url: base.to_owned(),
            kind: FetchErrorKind::InvalidUrl(base.to_owned()),
        });
    }
    Ok(format!("{base}/api/traces/{}", id.to_ascii_lowercase()))
}

/// Fetches a trace from Jaeger's query API (`http://localhost:16686`, say).
pub fn fetch_jaeger(base_url: &str, trace_id: &str) -> Result<Trace, FetchError> {
    fetch(Backend::Jaeger, base_url, trace_id)
}

/// Fetches a trace from Tempo's API (`http://localhost:3200`, say).
pub fn fetch_tempo(base_url: &str, trace_id: &str) -> Result<Trace, FetchError> {
    fetch(Backend::Tempo, base_url, trace_id)
}

/// Fetches a trace from a backend, under the default [`FetchOptions`].
pub fn fetch(backend: Backend, base_url: &str, trace_id: &str) -> Result<Trace, FetchError> {
    fetch_with(backend, base_url, trace_id, &FetchOptions::default())
}

/// Fetches a trace from a backend under the given limits. From Jaeger the current API is
/// asked first (`/api/v3/traces/{id}`, OTLP JSON with nanosecond times), then the older
/// `/api/traces/{id}` for a Jaeger that has no v3 API.
pub fn fetch_with(
    backend: Backend,
    base_url: &str,
    trace_id: &str,
    opts: &FetchOptions,
) -> Result<Trace, FetchError> {
    let url = trace_url(base_url, trace_id)?;
    if backend == Backend::Jaeger {
        let v3 = url.replacen("/api/traces/", "/api/v3/traces/", 1);
        match fetch_url(backend, &v3, opts) {
            Ok(trace) => return Ok(trace),
            // Unreachable, too large, too slow: the same for the older API.
            Err(e)
                if !matches!(
                    e.kind(),
                    FetchErrorKind::NotFound | FetchErrorKind::Status(_)
                ) =>
            {
                return Err(e)
            }
            Err(_) => {}
        }
    }
    fetch_url(backend, &url, opts)
}

/// What [`search_jaeger`] looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaegerSearch {
    /// `service.name` of the traces' root service.
    pub service: String,
    /// Span name that must occur (`invoke_workflow ci-ops-42` for one workflow's runs).
    pub operation: Option<String>,
    /// How far back to look.
    pub lookback: Duration,
    /// How many traces, newest first.
    pub limit: usize,
    /// Attributes some span of the trace must carry (compared as text), checked here: the
    /// v3 HTTP API has no attribute filter.
    pub attributes: Vec<(String, String)>,
}

impl JaegerSearch {
    /// The last `limit` traces of `service` in the past hour.
    pub fn new(service: impl Into<String>, limit: usize) -> Self {
        JaegerSearch {
            service: service.into(),
            operation: None,
            lookback: Duration::from_secs(3600),
            limit,
            attributes: Vec::new(),
        }
    }
}

/// Searches Jaeger's v3 API (`GET {base}/api/v3/traces?query.service_name=…`) and returns the
/// matching traces, newest first, at most `search.limit`, bounded like a fetch.
pub fn search_jaeger(
    base_url: &str,
    search: &JaegerSearch,
    opts: &FetchOptions,
) -> Result<Vec<Trace>, FetchError> {
    // A valid id only to check the base URL the same way.
    let base = trace_url(base_url, "0")?;
    let base = base.trim_end_matches("/api/traces/0");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let min = now.saturating_sub(search.lookback);
    let mut url = format!(
        "{base}/api/v3/traces?query.service_name={}&query.start_time_min={}&query.start_time_max={}&query.num_traces={}",
        query_escape(&search.service),
        crate::time::rfc3339(min.as_nanos() as u64),
        crate::time::rfc3339((now + Duration::from_secs(1)).as_nanos() as u64),
        search.limit.max(1),
    );
    if let Some(op) = &search.operation {
        url.push_str(&format!("&query.operation_name={}", query_escape(op)));
    }
    let merged = match fetch_url(Backend::Jaeger, &url, opts) {
        Ok(t) => t,
        Err(e) if matches!(e.kind(), FetchErrorKind::NotFound) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    // The answer merges every trace into one document: split it by trace id.
    let format = merged.format;
    let mut by_id: std::collections::HashMap<String, Vec<crate::TraceSpan>> = Default::default();
    for span in merged.spans {
        by_id.entry(span.trace_id.clone()).or_default().push(span);
    }
    let mut traces: Vec<Trace> = by_id
        .into_values()
        .map(|spans| Trace::new(spans, format))
        .filter(|t| {
            search.attributes.iter().all(|(k, v)| {
                t.spans.iter().any(|s| {
                    s.attr(k).is_some_and(|a| match a {
                        serde_json::Value::String(text) => text == v,
                        other => serde_json::from_str::<serde_json::Value>(v)
                            .is_ok_and(|wanted| wanted == *other),
                    })
                })
            })
        })
        .collect();
    traces.sort_by_key(|t| std::cmp::Reverse(t.start_ns()));
    traces.truncate(search.limit);
    Ok(traces)
}

/// Percent-encodes a query value.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One GET of a trace document under the limits, into the trace model.
fn fetch_url(backend: Backend, url: &str, opts: &FetchOptions) -> Result<Trace, FetchError> {
    let url = url.to_owned();
    let fail = |kind| FetchError {
        url: url.clone(),
        kind,
    };
    let request_url = url.clone();
    let opts = *opts;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(get(&request_url, &opts));
    });
    // The client's own deadline ends the request; this one only guards against a client
    // that overstays it.
    let response = match rx.recv_timeout(opts.timeout + Duration::from_secs(1)) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            Err(FetchErrorKind::Timeout(opts.timeout))
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(FetchErrorKind::Unreachable(
            "the HTTP client panicked".into(),
        )),
    };
    let (status, body) = response.map_err(fail)?;
    if status == 404 {
        return Err(fail(FetchErrorKind::NotFound));
    }
    if !(200..300).contains(&status) {
        return Err(fail(FetchErrorKind::Status(status)));
    }
    match load_bytes(&body) {
        Ok(trace) => Ok(trace),
        Err(e) if matches!(e.kind(), LoadErrorKind::NoSpans | LoadErrorKind::Empty) => {
            Err(fail(FetchErrorKind::NotFound))
        }
        Err(e) => Err(fail(FetchErrorKind::Body(
            e.in_file(format!("{} answer from {url}", backend.as_str())),
        ))),
    }
}

fn get(url: &str, opts: &FetchOptions) -> Result<(u16, Vec<u8>), FetchErrorKind> {
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| FetchErrorKind::Unreachable(one_line(&e)))?;
    let timed_out = |e: &reqwest::Error| e.is_timeout() || started.elapsed() >= opts.timeout;
    let mut response = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .map_err(|e| {
            if timed_out(&e) {
                FetchErrorKind::Timeout(opts.timeout)
            } else {
                FetchErrorKind::Unreachable(one_line(&e))
            }
        })?;
    let status = response.status().as_u16();
    if response
        .content_length()
        .is_some_and(|n| n > opts.max_bytes)
    {
        return Err(FetchErrorKind::TooLarge(opts.max_bytes));
    }
    let mut body = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if started.elapsed() >= opts.timeout {
            return Err(FetchErrorKind::Timeout(opts.timeout));
        }
        let n = match response.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(FetchErrorKind::Timeout(opts.timeout))
            }
            Err(_) if started.elapsed() >= opts.timeout => {
                return Err(FetchErrorKind::Timeout(opts.timeout))
            }
            Err(e) => return Err(FetchErrorKind::Unreachable(one_line(&e))),
        };
        if n == 0 {
            break;
        }
        if body.len() as u64 + n as u64 > opts.max_bytes {
            return Err(FetchErrorKind::TooLarge(opts.max_bytes));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok((status, body))
}

/// The root cause of an error, on one line (reqwest's outer layers only repeat the URL).
fn one_line(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string().replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(
            query_escape("invoke_workflow ci-ops/42"),
            "invoke_workflow%20ci-ops%2F42"
        );
    }

    #[test]
    fn urls_and_ids_are_checked() {
        assert_eq!(
            trace_url("http://localhost:16686/", "ABC123").unwrap(),
            "http://localhost:16686/api/traces/abc123"
        );
        assert_eq!(
            trace_url("http://grafana/tempo", "0af7651916cd43dd8448eb211c80319c").unwrap(),
            "http://grafana/tempo/api/traces/0af7651916cd43dd8448eb211c80319c"
        );
        assert_eq!(
            trace_url("http://x", "not-hex").unwrap_err().to_string(),
            "invalid trace id \"not-hex\": expected 1 to 32 hex digits"
        );
        assert_eq!(
            trace_url("localhost:16686", "ab").unwrap_err().to_string(),
            "invalid URL \"localhost:16686\": expected http://HOST[:PORT][/PATH]"
        );
        assert_eq!(
            trace_url("https://tempo", "ab").unwrap_err().to_string(),
            "invalid URL \"https://tempo\": https is not supported (this build has no TLS); use http://"
        );
    }
}
