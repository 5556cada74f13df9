//! Browsing a Jaeger query service (v3 API, OTLP JSON answers), bounded in size and time.

use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::inspector;

/// Most bytes read from one Jaeger answer (64 MiB).
pub const MAX_JAEGER_BYTES: u64 = 64 * 1024 * 1024;
/// Time allowed for one Jaeger request.
pub const JAEGER_TIMEOUT: Duration = Duration::from_secs(10);

fn get(url: &str) -> Result<Vec<u8>, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(JAEGER_TIMEOUT)
        .build()
        .map_err(|e| format!("Jaeger client: {e}"))?;
    let response = client
        .get(url)
        .header("Accept", "application/json")
        .send()
        .map_err(|e| format!("Jaeger at {url} is unreachable: {e}"))?;
    let status = response.status();
    let mut body = Vec::new();
    response
        .take(MAX_JAEGER_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("Jaeger at {url}: reading the answer failed: {e}"))?;
    if body.len() as u64 > MAX_JAEGER_BYTES {
        return Err(format!(
            "Jaeger at {url}: the answer is over {} MiB",
            MAX_JAEGER_BYTES >> 20
        ));
    }
    if !status.is_success() {
        return Err(format!("Jaeger at {url} answered {status}"));
    }
    Ok(body)
}

fn enc(s: &str) -> String {
    crate::web::url_segment(s)
}

/// `GET {base}/api/v3/traces/{id}` into the inspector's trace model.
pub(crate) fn fetch_trace(base: &str, id: &str) -> Result<inspector::Trace, String> {
    let url = format!("{}/api/v3/traces/{}", base.trim_end_matches('/'), enc(id));
    inspector::load_any(&get(&url)?)
}

/// Searches a service's traces of the last `lookback`: newest first, one row per trace.
pub(crate) fn search(
    base: &str,
    service: &str,
    lookback: Duration,
    limit: usize,
) -> Result<Value, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let min = now.saturating_sub(lookback.as_nanos() as u64);
    let url = format!(
        "{}/api/v3/traces?query.service_name={}&query.start_time_min={}&query.start_time_max={}&query.search_depth={limit}",
        base.trim_end_matches('/'),
        enc(service),
        enc(&crate::time::rfc3339(min)),
        enc(&crate::time::rfc3339(now)),
    );
    let doc: Value = serde_json::from_slice(&get(&url)?)
        .map_err(|e| format!("Jaeger at {url}: the answer is not JSON: {e}"))?;
    let result = doc.get("result").unwrap_or(&doc);
    let mut traces: std::collections::BTreeMap<String, (u64, u64, String, usize)> =
        Default::default();
    let num = |v: Option<&Value>| -> u64 {
        match v {
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(v) => v.as_u64().unwrap_or(0),
            None => 0,
        }
    };
    let list = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for rs in list(result, "resourceSpans") {
        for ss in list(&rs, "scopeSpans") {
            for span in list(&ss, "spans") {
                let Some(tid) = span.get("traceId").and_then(Value::as_str) else {
                    continue;
                };
                let (s, e) = (
                    num(span.get("startTimeUnixNano")),
                    num(span.get("endTimeUnixNano")),
                );
                let entry = traces.entry(tid.to_ascii_lowercase()).or_insert((
                    u64::MAX,
                    0,
                    String::new(),
                    0,
                ));
                entry.0 = entry.0.min(s);
                entry.1 = entry.1.max(e);
                entry.3 += 1;
                let parent = span
                    .get("parentSpanId")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if parent.is_empty() {
                    entry.2 = span
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned();
                }
            }
        }
    }
    let mut rows: Vec<_> = traces.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1 .0));
    rows.truncate(limit);
    Ok(Value::Array(
        rows.into_iter()
            .map(|(id, (s, e, name, n))| {
                json!({"trace_id": id, "root": name, "start": crate::time::rfc3339(s),
                       "duration_ms": e.saturating_sub(s) as f64 / 1e6, "span_count": n})
            })
            .collect(),
    ))
}
