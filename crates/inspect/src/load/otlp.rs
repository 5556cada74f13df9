//! OTLP JSON: `{"resourceSpans": …}` as opentelemetry-proto's serde writes it (camelCase, hex
//! ids, 64-bit numbers as strings, kinds and codes as integers), the collector's file exporter,
//! Tempo's `{"batches": …}`, and the wrappers of Jaeger v3 (`result`) and Tempo v2 (`trace`).
//!
//! Two readers share the span conversion: [`read_otlp`] over a parsed [`Value`], and
//! [`read_otlp_raw`] over the document's text, which parses one span at a time (the
//! containers are borrowed slices of the text), so a large file never becomes one tree of
//! values.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use orchestrace::dataflow::type_name;
use orchestrace::semconv as attr;

use super::values::{array, invalid, optional_id, prefix, required_id, required_u64, u64_value};
use super::{LoadError, LoadErrorKind};
use crate::model::{SpanEvent, SpanKind, SpanLink, SpanStatus, StatusCode, TraceSpan};

/// `Some(spans)` when the document has an OTLP layout.
pub(super) fn read_otlp(doc: &Value) -> Result<Option<Vec<TraceSpan>>, LoadError> {
    let Value::Object(obj) = doc else {
        return Ok(None);
    };
    for (wrapper, inner) in [("result", "resourceSpans"), ("trace", "resourceSpans")] {
        if let Some(w @ Value::Object(_)) = obj.get(wrapper) {
            if w.get(inner).is_some() || w.get("batches").is_some() {
                return read_otlp(w).map_err(|e| prefix(e, wrapper));
            }
        }
    }
    let (key, resources) = match (obj.get("resourceSpans"), obj.get("batches")) {
        (Some(r), _) => ("resourceSpans", r),
        (None, Some(b)) => ("batches", b),
        (None, None) => return Ok(None),
    };
    let mut spans = Vec::new();
    for (ri, rs) in array(resources, key)?.iter().enumerate() {
        let place = format!("{key}[{ri}]");
        let service = rs
            .pointer("/resource/attributes")
            .map(|a| otlp_attributes(a).map_err(|e| prefix(e, &format!("{place}.resource"))))
            .transpose()?
            .and_then(|attrs| {
                attrs
                    .get(attr::SERVICE_NAME)
                    .and_then(|v| v.as_str().map(str::to_owned))
            });
        let (skey, scopes) = match (rs.get("scopeSpans"), rs.get("instrumentationLibrarySpans")) {
            (Some(s), _) => ("scopeSpans", s),
            (None, Some(s)) => ("instrumentationLibrarySpans", s),
            (None, None) => continue,
        };
        for (si, ss) in array(scopes, &format!("{place}.{skey}"))?
            .iter()
            .enumerate()
        {
            let splace = format!("{place}.{skey}[{si}]");
            let list = ss.get("spans").unwrap_or(&Value::Null);
            for (k, s) in array(list, &format!("{splace}.spans"))?.iter().enumerate() {
                let span = otlp_span(s, service.as_deref())
                    .map_err(|e| prefix(e, &format!("{splace}.spans[{k}]")))?;
                spans.push(span);
            }
        }
    }
    Ok(Some(spans))
}

fn otlp_span(s: &Value, service: Option<&str>) -> Result<TraceSpan, LoadError> {
    if !s.is_object() {
        return Err(invalid(format!(
            "expected a span object, found {}",
            type_name(s)
        )));
    }
    let trace_id = required_id(s, "traceId", 16)?;
    let span_id = required_id(s, "spanId", 8)?;
    let parent_span_id = optional_id(s, "parentSpanId", 8)?;
    let start_ns = required_u64(s, "startTimeUnixNano")?;
    let end_ns = required_u64(s, "endTimeUnixNano")?.max(start_ns);
    let kind = match s.get("kind") {
        None | Some(Value::Null) => SpanKind::Unspecified,
        Some(v) => {
            otlp_kind(v).ok_or_else(|| invalid(format!("unknown span kind {v}")).at("kind"))?
        }
    };
    let attributes = match s.get("attributes") {
        Some(a) => otlp_attributes(a).map_err(|e| prefix(e, "attributes"))?,
        None => Map::new(),
    };
    let status = match s.get("status") {
        Some(st @ Value::Object(_)) => {
            let code = match st.get("code") {
                None | Some(Value::Null) => StatusCode::Unset,
                Some(v) => otlp_status(v)
                    .ok_or_else(|| invalid(format!("unknown status code {v}")).at("status.code"))?,
            };
            SpanStatus {
                code,
                message: st
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            }
        }
        _ => SpanStatus::default(),
    };
    let mut links = Vec::new();
    for (i, l) in array(s.get("links").unwrap_or(&Value::Null), "links")?
        .iter()
        .enumerate()
    {
        let at = format!("links[{i}]");
        links.push(SpanLink {
            trace_id: required_id(l, "traceId", 16).map_err(|e| prefix(e, &at))?,
            span_id: required_id(l, "spanId", 8).map_err(|e| prefix(e, &at))?,
            attributes: match l.get("attributes") {
                Some(a) => {
                    otlp_attributes(a).map_err(|e| prefix(e, &format!("{at}.attributes")))?
                }
                None => Map::new(),
            },
        });
    }
    let mut events = Vec::new();
    for (i, ev) in array(s.get("events").unwrap_or(&Value::Null), "events")?
        .iter()
        .enumerate()
    {
        let at = format!("events[{i}]");
        events.push(SpanEvent {
            time_ns: match ev.get("timeUnixNano") {
                None | Some(Value::Null) => start_ns,
                Some(v) => u64_value(v).ok_or_else(|| {
                    invalid(format!("expected nanoseconds, found {v}"))
                        .at(format!("{at}.timeUnixNano"))
                })?,
            },
            name: ev
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            attributes: match ev.get("attributes") {
                Some(a) => {
                    otlp_attributes(a).map_err(|e| prefix(e, &format!("{at}.attributes")))?
                }
                None => Map::new(),
            },
        });
    }
    Ok(TraceSpan {
        trace_id,
        span_id,
        parent_span_id,
        parent: None,
        name: s
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        service: service.map(str::to_owned),
        kind,
        start_ns,
        end_ns,
        attributes,
        status,
        links,
        events,
    })
}

fn otlp_kind(v: &Value) -> Option<SpanKind> {
    let n = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => match s.trim_start_matches("SPAN_KIND_") {
            "UNSPECIFIED" => 0,
            "INTERNAL" => 1,
            "SERVER" => 2,
            "CLIENT" => 3,
            "PRODUCER" => 4,
            "CONSUMER" => 5,
            other => other.parse().ok()?,
        },
        _ => return None,
    };
    Some(match n {
        0 => SpanKind::Unspecified,
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        _ => return None,
    })
}

fn otlp_status(v: &Value) -> Option<StatusCode> {
    let n = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => match s.trim_start_matches("STATUS_CODE_") {
            "UNSET" => 0,
            "OK" => 1,
            "ERROR" => 2,
            other => other.parse().ok()?,
        },
        _ => return None,
    };
    Some(match n {
        0 => StatusCode::Unset,
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => return None,
    })
}

/// `[{"key", "value": AnyValue}]` as a JSON object (later keys win).
fn otlp_attributes(v: &Value) -> Result<Map<String, Value>, LoadError> {
    let mut out = Map::new();
    for (i, kv) in array(v, "")?.iter().enumerate() {
        let Some(key) = kv.get("key").and_then(Value::as_str) else {
            return Err(LoadError::new(LoadErrorKind::MissingField("key")).at(format!("[{i}]")));
        };
        let value = match kv.get("value") {
            None | Some(Value::Null) => Value::Null,
            Some(v) => any_value(v).map_err(|e| prefix(e, &format!("[{i}].value")))?,
        };
        out.insert(key.to_owned(), value);
    }
    Ok(out)
}

/// An OTLP `AnyValue` as plain JSON.
fn any_value(v: &Value) -> Result<Value, LoadError> {
    let Value::Object(m) = v else {
        return Err(invalid(format!(
            "expected an AnyValue object, found {}",
            type_name(v)
        )));
    };
    if let Some(s) = m.get("stringValue") {
        return Ok(s.clone());
    }
    if let Some(b) = m.get("boolValue") {
        return Ok(match b {
            Value::String(s) => s.parse::<bool>().map(Value::Bool).unwrap_or(b.clone()),
            other => other.clone(),
        });
    }
    if let Some(i) = m.get("intValue") {
        return Ok(match i {
            Value::String(s) => s
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| i.clone()),
            other => other.clone(),
        });
    }
    if let Some(d) = m.get("doubleValue") {
        return Ok(match d {
            Value::String(s) => s
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| d.clone()),
            other => other.clone(),
        });
    }
    if let Some(a) = m.get("arrayValue") {
        let items = array(a.get("values").unwrap_or(&Value::Null), "arrayValue.values")?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(any_value(item).map_err(|e| prefix(e, &format!("arrayValue.values[{i}]")))?);
        }
        return Ok(Value::Array(out));
    }
    if let Some(kv) = m.get("kvlistValue") {
        return otlp_attributes(kv.get("values").unwrap_or(&Value::Null))
            .map(Value::Object)
            .map_err(|e| prefix(e, "kvlistValue.values"));
    }
    if let Some(b) = m.get("bytesValue") {
        return Ok(b.clone());
    }
    Ok(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Streaming over the text

/// An object's members, values borrowed from the text; `None` when it is not an object.
type RawObject<'a> = std::collections::HashMap<String, &'a RawValue>;

fn raw_object(raw: &RawValue) -> Option<RawObject<'_>> {
    serde_json::from_str(raw.get()).ok()
}

/// An array's items, borrowed from the text (`null` is empty); the same error as [`array`]
/// for anything else.
fn raw_array<'a>(raw: &'a RawValue, name: &str) -> Result<Vec<&'a RawValue>, LoadError> {
    match serde_json::from_str::<Option<Vec<&RawValue>>>(raw.get()) {
        Ok(items) => Ok(items.unwrap_or_default()),
        Err(_) => {
            let v: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
            Err(invalid(format!("expected an array, found {}", type_name(&v))).at(name))
        }
    }
}

/// [`read_otlp`] over a document's text: `None` when it is not an object with an OTLP layout.
/// Each span is parsed on its own and converted before the next is read.
pub(super) fn read_otlp_raw(
    doc: &RawValue,
    spans: &mut Vec<TraceSpan>,
) -> Result<Option<()>, LoadError> {
    let Some(obj) = raw_object(doc) else {
        return Ok(None);
    };
    for wrapper in ["result", "trace"] {
        if let Some(w) = obj.get(wrapper) {
            if let Some(inner) = raw_object(w) {
                if inner.contains_key("resourceSpans") || inner.contains_key("batches") {
                    return read_otlp_raw(w, spans).map_err(|e| prefix(e, wrapper));
                }
            }
        }
    }
    let (key, resources) = match (obj.get("resourceSpans"), obj.get("batches")) {
        (Some(r), _) => ("resourceSpans", *r),
        (None, Some(b)) => ("batches", *b),
        (None, None) => return Ok(None),
    };
    for (ri, rs) in raw_array(resources, key)?.into_iter().enumerate() {
        let place = format!("{key}[{ri}]");
        let Some(rs) = raw_object(rs) else { continue };
        let service = match rs.get("resource") {
            Some(r) => resource_service(r).map_err(|e| prefix(e, &format!("{place}.resource")))?,
            None => None,
        };
        let (skey, scopes) = match (rs.get("scopeSpans"), rs.get("instrumentationLibrarySpans")) {
            (Some(s), _) => ("scopeSpans", *s),
            (None, Some(s)) => ("instrumentationLibrarySpans", *s),
            (None, None) => continue,
        };
        for (si, ss) in raw_array(scopes, &format!("{place}.{skey}"))?
            .into_iter()
            .enumerate()
        {
            let splace = format!("{place}.{skey}[{si}]");
            let Some(list) = raw_object(ss).and_then(|o| o.get("spans").copied()) else {
                continue;
            };
            let items = raw_array(list, &format!("{splace}.spans"))?;
            spans.reserve(items.len());
            for (k, s) in items.into_iter().enumerate() {
                let value: Value = serde_json::from_str(s.get()).unwrap_or(Value::Null);
                let span = otlp_span(&value, service.as_deref())
                    .map_err(|e| prefix(e, &format!("{splace}.spans[{k}]")))?;
                spans.push(span);
            }
        }
    }
    Ok(Some(()))
}

/// `service.name` of a resource.
fn resource_service(resource: &RawValue) -> Result<Option<String>, LoadError> {
    let value: Value = serde_json::from_str(resource.get()).unwrap_or(Value::Null);
    let Some(a) = value.pointer("/attributes") else {
        return Ok(None);
    };
    Ok(otlp_attributes(a)?
        .get(attr::SERVICE_NAME)
        .and_then(|v| v.as_str().map(str::to_owned)))
}
