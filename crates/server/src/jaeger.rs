//! Browsing a Jaeger query service (v3 API, OTLP JSON answers), bounded in size and time.

use std::time::Duration;

use serde_json::{json, Value};

use crate::inspector;

/// Most bytes read from one Jaeger answer (64 MiB).
pub const MAX_JAEGER_BYTES: u64 = 64 * 1024 * 1024;
/// Time allowed for one Jaeger request.
pub const JAEGER_TIMEOUT: Duration = Duration::from_secs(10);

fn options() -> orchestrace_inspect::FetchOptions {
    orchestrace_inspect::FetchOptions::new()
        .with_max_bytes(MAX_JAEGER_BYTES)
        .with_timeout(JAEGER_TIMEOUT)
}

/// A trace by id (Jaeger's v3 API first) into the inspector's trace model.
pub(crate) fn fetch_trace(base: &str, id: &str) -> Result<inspector::Trace, String> {
    orchestrace_inspect::fetch_with(orchestrace_inspect::Backend::Jaeger, base, id, &options())
        .map_err(|e| e.to_string())
}

/// Searches a service's traces of the last `lookback`: newest first, one row per trace.
pub(crate) fn search(
    base: &str,
    service: &str,
    lookback: Duration,
    limit: usize,
) -> Result<Value, String> {
    let mut query = orchestrace_inspect::JaegerSearch::new(service, limit);
    query.lookback = lookback;
    let traces =
        orchestrace_inspect::search_jaeger(base, &query, &options()).map_err(|e| e.to_string())?;
    Ok(Value::Array(
        traces
            .iter()
            .map(|t| {
                let root = t
                    .roots()
                    .first()
                    .map(|&i| t.spans[i].name.clone())
                    .unwrap_or_default();
                let (s, e) = (t.start_ns(), t.end_ns());
                json!({"trace_id": t.trace_id, "root": root, "start": orchestrace_inspect::time::rfc3339(s),
                       "duration_ms": e.saturating_sub(s) as f64 / 1e6,
                       "span_count": t.spans.len()})
            })
            .collect(),
    ))
}
