//! Fetching a trace from a backend: Jaeger's query API and Tempo's API, both at
//! `GET {base}/api/traces/{trace_id}`.
//!
//! The request runs on its own thread with a blocking client, so it may be called from
//! anywhere, async code included. A source that cannot be reached, answers 404 or has no such
//! trace is a [`FetchErrorKind`] apart from a body that does not parse (a [`LoadError`]), so
//! callers can tell "the backend is not there" from "the backend sent something unreadable".

use std::fmt;
use std::time::Duration;

use super::load::{load_bytes, LoadError, LoadErrorKind};
use super::model::Trace;

/// How long a fetch may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

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
            FetchErrorKind::Unreachable(_) | FetchErrorKind::NotFound | FetchErrorKind::Status(_)
        )
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
                write!(f, "{}: cannot reach the source: {e}", self.url)
            }
            FetchErrorKind::NotFound => write!(f, "{}: no such trace", self.url),
            FetchErrorKind::Status(code) => {
                write!(f, "{}: the source answered HTTP {code}", self.url)
            }
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

/// Fetches a trace from a backend.
pub fn fetch(backend: Backend, base_url: &str, trace_id: &str) -> Result<Trace, FetchError> {
    let url = trace_url(base_url, trace_id)?;
    let fail = |kind| FetchError {
        url: url.clone(),
        kind,
    };
    let request_url = url.clone();
    let response = std::thread::spawn(move || get(&request_url))
        .join()
        .unwrap_or_else(|_| {
            Err(FetchErrorKind::Unreachable(
                "the HTTP client panicked".into(),
            ))
        });
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

fn get(url: &str) -> Result<(u16, Vec<u8>), FetchErrorKind> {
    let client = reqwest::blocking::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| FetchErrorKind::Unreachable(one_line(&e)))?;
    let response = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .map_err(|e| FetchErrorKind::Unreachable(one_line(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .map_err(|e| FetchErrorKind::Unreachable(one_line(&e)))?;
    Ok((status, body.to_vec()))
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
