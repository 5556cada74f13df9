//! Jaeger query-API JSON: `{"data": [trace, …]}` or one trace object
//! (`{"traceID", "spans", "processes"}`); ids with dropped leading zeros or not hex at all.

use serde_json::{Map, Value};

use orchestrace::dataflow::type_name;
use orchestrace::semconv as attr;

use super::values::{array, invalid, optional_id, prefix, required_id, required_u64, u64_value};
use super::{LoadError, LoadErrorKind};
use crate::model::{SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode, TraceSpan};

/// `Some(spans)` when the document has a Jaeger layout.
pub(super) fn read_jaeger(doc: &Value) -> Result<Option<Vec<TraceSpan>>, LoadError> {
    let Value::Object(obj) = doc else {
        return Ok(None);
    };
    if obj.contains_key("spans") && (obj.contains_key("traceID") || obj.contains_key("processes")) {
        return jaeger_trace(doc).map(Some);
    }
    let Some(data) = obj.get("data") else {
        return Ok(None);
    };
    if data.is_null() {
        // `{"data": null, "errors": [...]}`: Jaeger's answer for a missing trace.
        return Ok(Some(Vec::new()));
    }
    let mut spans = Vec::new();
    for (i, t) in array(data, "data")?.iter().enumerate() {
        spans.append(&mut jaeger_trace(t).map_err(|e| prefix(e, &format!("data[{i}]")))?);
    }
    Ok(Some(spans))
}

fn jaeger_trace(t: &Value) -> Result<Vec<TraceSpan>, LoadError> {
    let empty = Map::new();
    let processes = t
        .get("processes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = Vec::new();
    for (i, s) in array(t.get("spans").unwrap_or(&Value::Null), "spans")?
        .iter()
        .enumerate()
    {
        let span = jaeger_span(s, t, processes).map_err(|e| prefix(e, &format!("spans[{i}]")))?;
        out.push(span);
    }
    Ok(out)
}

fn jaeger_span(
    s: &Value,
    trace: &Value,
    processes: &Map<String, Value>,
) -> Result<TraceSpan, LoadError> {
    if !s.is_object() {
        return Err(invalid(format!(
            "expected a span object, found {}",
            type_name(s)
        )));
    }
    let trace_id = match optional_id(s, "traceID", 16)? {
        Some(id) => id,
        None => required_id(trace, "traceID", 16)?,
    };
    let span_id = required_id(s, "spanID", 8)?;
    let start_us = required_u64(s, "startTime")?;
    let duration_us = match s.get("duration") {
        None | Some(Value::Null) => 0,
        Some(v) => u64_value(v)
            .ok_or_else(|| invalid(format!("expected microseconds, found {v}")).at("duration"))?,
    };
    let attributes =
        jaeger_tags(s.get("tags").unwrap_or(&Value::Null)).map_err(|e| prefix(e, "tags"))?;
    let mut parent = None;
    let mut references = Vec::new();
    for (i, r) in array(s.get("references").unwrap_or(&Value::Null), "references")?
        .iter()
        .enumerate()
    {
        let at = format!("references[{i}]");
        let rt = r
            .get("refType")
            .and_then(Value::as_str)
            .unwrap_or("CHILD_OF")
            .to_ascii_uppercase();
        let ref_trace = match optional_id(r, "traceID", 16).map_err(|e| prefix(e, &at))? {
            Some(id) => id,
            None => trace_id.clone(),
        };
        let ref_span = required_id(r, "spanID", 8).map_err(|e| prefix(e, &at))?;
        references.push((rt, ref_trace, ref_span));
    }
    // Jaeger's own rule: the first CHILD_OF in the same trace, else the first FOLLOWS_FROM.
    let parent_ref = references
        .iter()
        .position(|r| r.1 == trace_id && r.0 == "CHILD_OF")
        .or_else(|| {
            references
                .iter()
                .position(|r| r.1 == trace_id && r.0 == "FOLLOWS_FROM")
        });
    let mut links = Vec::new();
    for (i, (rt, tid, sid)) in references.iter().enumerate() {
        if Some(i) == parent_ref {
            parent = Some(sid.clone());
            if rt == "CHILD_OF" {
                continue;
            }
        }
        let mut attributes = Map::new();
        attributes.insert(
            attr::OPENTRACING_REF_TYPE.into(),
            Value::String(rt.to_ascii_lowercase()),
        );
        links.push(SpanLink {
            trace_id: tid.clone(),
            span_id: sid.clone(),
            attributes,
        });
    }
    let mut events = Vec::new();
    for (i, l) in array(s.get("logs").unwrap_or(&Value::Null), "logs")?
        .iter()
        .enumerate()
    {
        let at = format!("logs[{i}]");
        let time_us = required_u64(l, "timestamp").map_err(|e| prefix(e, &at))?;
        let mut fields = jaeger_tags(l.get("fields").unwrap_or(&Value::Null))
            .map_err(|e| prefix(e, &format!("{at}.fields")))?;
        let name = match fields.get(attr::JAEGER_LOG_EVENT).and_then(Value::as_str) {
            Some(n) => {
                let n = n.to_owned();
                fields.remove(attr::JAEGER_LOG_EVENT);
                n
            }
            None => String::new(),
        };
        events.push(SpanEvent {
            time_ns: time_us.saturating_mul(1000),
            name,
            attributes: fields,
        });
    }
    let service = s
        .get("processID")
        .and_then(Value::as_str)
        .and_then(|p| processes.get(p))
        .or_else(|| s.get("process"))
        .and_then(|p| p.get("serviceName"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let kind = match attributes
        .get(attr::JAEGER_SPAN_KIND)
        .and_then(Value::as_str)
    {
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some("internal") => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    };
    let error = match attributes.get(attr::JAEGER_ERROR) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    } || attributes
        .get(attr::OTEL_STATUS_CODE)
        .and_then(Value::as_str)
        == Some("ERROR");
    let status = SpanStatus {
        code: if error {
            StatusCode::Error
        } else if attributes
            .get(attr::OTEL_STATUS_CODE)
            .and_then(Value::as_str)
            == Some("OK")
        {
            StatusCode::Ok
        } else {
            StatusCode::Unset
        },
        message: attributes
            .get(attr::OTEL_STATUS_DESCRIPTION)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let start_ns = start_us.saturating_mul(1000);
    Ok(TraceSpan {
        trace_id,
        span_id,
        parent_span_id: parent,
        parent: None,
        name: s
            .get("operationName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        service,
        kind,
        start_ns,
        end_ns: start_ns.saturating_add(duration_us.saturating_mul(1000)),
        attributes,
        status,
        links,
        events,
    })
}

/// `[{"key", "type", "value"}]` as a JSON object, values converted by type.
fn jaeger_tags(v: &Value) -> Result<Map<String, Value>, LoadError> {
    let mut out = Map::new();
    for (i, tag) in array(v, "")?.iter().enumerate() {
        let Some(key) = tag.get("key").and_then(Value::as_str) else {
            return Err(LoadError::new(LoadErrorKind::MissingField("key")).at(format!("[{i}]")));
        };
        let value = tag.get("value").cloned().unwrap_or(Value::Null);
        let ty = tag
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
            .to_ascii_lowercase();
        let value = match (ty.as_str(), &value) {
            ("bool", Value::String(s)) => s.parse::<bool>().map(Value::Bool).unwrap_or(value),
            ("int64", Value::String(s)) => s.parse::<i64>().map(Value::from).unwrap_or(value),
            ("float64", Value::String(s)) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(value),
            _ => value,
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}
