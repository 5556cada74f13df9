//! Reading traces: format detection and the parsers.
//!
//! One entry point per input ([`load_file`], [`load_str`], [`Trace::from_json`],
//! [`Trace::from_otlp_json`], [`Trace::from_jaeger_json`]) and one model out. Accepted:
//!
//! - OTLP JSON: `{"resourceSpans": …}` (ours, the collector's file exporter — also as JSON
//!   lines, one document per line), Tempo's `{"batches": …}`, Jaeger v3's
//!   `{"result": {"resourceSpans": …}}` and Tempo v2's `{"trace": …}`; `scopeSpans` or the
//!   older `instrumentationLibrarySpans`; ids in hex (any case) or base64; kinds and status
//!   codes as integers or enum names; 64-bit numbers as strings or numbers.
//! - Jaeger query-API JSON: `{"data": [trace, …]}` or one trace object
//!   (`{"traceID", "spans", "processes"}`); ids with dropped leading zeros or not hex at all.
//!
//! Errors are one [`LoadError`]: the file, the place (`line:column` for syntax, a JSON path
//! such as `resourceSpans[0].scopeSpans[0].spans[3].traceId` for structure) and the problem.

use std::fmt;
use std::path::Path;

use orchestrace::dataflow::type_name;
use serde_json::{Map, Value};

use super::model::{Event, Link, Span, SpanKind, SpanStatus, StatusCode, Trace, TraceFormat};

/// Largest trace file read (256 MiB).
pub const MAX_TRACE_BYTES: u64 = 256 * 1024 * 1024;

/// A trace that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    file: Option<String>,
    place: Option<String>,
    kind: LoadErrorKind,
}

/// What is wrong with a trace document.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io(String),
    /// The file is larger than [`MAX_TRACE_BYTES`].
    TooLarge(u64),
    /// Nothing but white space.
    Empty,
    /// Not UTF-8.
    NotUtf8,
    /// JSON syntax.
    Syntax(String),
    /// Valid JSON, but no known trace layout.
    UnknownFormat,
    /// A required field is missing.
    MissingField(&'static str),
    /// A field has the wrong type or an unreadable value.
    InvalidValue(String),
    /// The document holds no spans (for example Jaeger's `{"data": []}`).
    NoSpans,
}

impl LoadError {
    /// An error of this kind, without file or place.
    pub fn new(kind: LoadErrorKind) -> Self {
        LoadError {
            file: None,
            place: None,
            kind,
        }
    }

    /// Sets the place (a JSON path or `line:column`), unless one is already set.
    pub fn at(mut self, place: impl Into<String>) -> Self {
        if self.place.is_none() {
            self.place = Some(place.into());
        }
        self
    }

    /// Sets the file name (or URL), unless one is already set.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.into());
        }
        self
    }

    /// What is wrong.
    pub fn kind(&self) -> &LoadErrorKind {
        &self.kind
    }

    /// The file, when known.
    pub fn file(&self) -> Option<&str> {
        self.file.as_deref()
    }

    /// The place in the file, when known.
    pub fn place(&self) -> Option<&str> {
        self.place.as_deref()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(place) = &self.place {
            write!(f, "{place}: ")?;
        }
        match &self.kind {
            LoadErrorKind::Io(e) => write!(f, "cannot read the trace: {e}"),
            LoadErrorKind::TooLarge(n) => write!(
                f,
                "the trace file is {n} bytes, over the limit of {MAX_TRACE_BYTES}"
            ),
            LoadErrorKind::Empty => write!(f, "the trace file is empty"),
            LoadErrorKind::NotUtf8 => write!(f, "the trace file is not UTF-8 text"),
            LoadErrorKind::Syntax(e) => write!(f, "invalid JSON: {e}"),
            LoadErrorKind::UnknownFormat => write!(
                f,
                "not a trace: expected OTLP JSON (resourceSpans, batches) or Jaeger JSON (data, or traceID and spans)"
            ),
            LoadErrorKind::MissingField(name) => write!(f, "missing field `{name}`"),
            LoadErrorKind::InvalidValue(e) => write!(f, "{e}"),
            LoadErrorKind::NoSpans => write!(f, "the trace has no spans"),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads a trace file in any supported format. Errors name the file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Trace, LoadError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(LoadErrorKind::Io(io_message(&e))).in_file(&name))?;
    if meta.len() > MAX_TRACE_BYTES {
        return Err(LoadError::new(LoadErrorKind::TooLarge(meta.len())).in_file(&name));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| LoadError::new(LoadErrorKind::Io(io_message(&e))).in_file(&name))?;
    load_bytes(&bytes).map_err(|e| e.in_file(name))
}

fn io_message(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Reads a trace from bytes (UTF-8, an optional BOM, one JSON document or JSON lines).
pub fn load_bytes(bytes: &[u8]) -> Result<Trace, LoadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(bytes, e.valid_up_to());
        LoadError::new(LoadErrorKind::NotUtf8).at(format!("{line}:{col}"))
    })?;
    load_str(text)
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, col)
}

/// Reads a trace from text: one JSON document, or several (JSON lines, as the collector's
/// file exporter writes them), whose spans are merged.
pub fn load_str(text: &str) -> Result<Trace, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(LoadError::new(LoadErrorKind::Empty));
    }
    let mut docs: Vec<(usize, Value)> = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let offset = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let skipped = text[offset..].len() - text[offset..].trim_start().len();
                let (line, _) = line_col(text.as_bytes(), offset + skipped);
                docs.push((line, v));
            }
            Some(Err(e)) => {
                return Err(
                    LoadError::new(LoadErrorKind::Syntax(strip_position(&e))).at(format!(
                        "{}:{}",
                        e.line(),
                        e.column()
                    )),
                )
            }
        }
    }
    let many = docs.len() > 1;
    let mut spans = Vec::new();
    let mut format = None;
    for (line, doc) in docs {
        let (f, mut s) = read_document(&doc).map_err(|e| {
            if many {
                let place = e.place.clone().unwrap_or_default();
                LoadError {
                    place: Some(if place.is_empty() {
                        format!("line {line}")
                    } else {
                        format!("line {line}, {place}")
                    }),
                    ..e
                }
            } else {
                e
            }
        })?;
        format.get_or_insert(f);
        spans.append(&mut s);
    }
    if spans.is_empty() {
        return Err(LoadError::new(LoadErrorKind::NoSpans));
    }
    Ok(Trace::new(spans, format.unwrap_or(TraceFormat::Otlp)))
}

/// serde_json's message without its trailing " at line L column C".
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl Trace {
    /// Reads a trace from a parsed JSON document in any supported format.
    pub fn from_json(doc: &Value) -> Result<Trace, LoadError> {
        let (format, spans) = read_document(doc)?;
        if spans.is_empty() {
            return Err(LoadError::new(LoadErrorKind::NoSpans));
        }
        Ok(Trace::new(spans, format))
    }

    /// Reads OTLP JSON: `{"resourceSpans": …}` as opentelemetry-proto's serde writes it
    /// (camelCase, hex ids, 64-bit numbers as strings, kinds and codes as integers), and the
    /// other OTLP layouts of the module documentation.
    pub fn from_otlp_json(doc: &Value) -> Result<Trace, LoadError> {
        let spans = read_otlp(doc)?.ok_or_else(|| LoadError::new(LoadErrorKind::UnknownFormat))?;
        if spans.is_empty() {
            return Err(LoadError::new(LoadErrorKind::NoSpans));
        }
        Ok(Trace::new(spans, TraceFormat::Otlp))
    }

    /// Reads Jaeger query-API JSON: `{"data": [trace, …]}` or one trace object.
    pub fn from_jaeger_json(doc: &Value) -> Result<Trace, LoadError> {
        let spans =
            read_jaeger(doc)?.ok_or_else(|| LoadError::new(LoadErrorKind::UnknownFormat))?;
        if spans.is_empty() {
            return Err(LoadError::new(LoadErrorKind::NoSpans));
        }
        Ok(Trace::new(spans, TraceFormat::Jaeger))
    }
}

fn read_document(doc: &Value) -> Result<(TraceFormat, Vec<Span>), LoadError> {
    if let Some(spans) = read_otlp(doc)? {
        return Ok((TraceFormat::Otlp, spans));
    }
    if let Some(spans) = read_jaeger(doc)? {
        return Ok((TraceFormat::Jaeger, spans));
    }
    if let Value::Array(items) = doc {
        // An array of documents (of either format).
        let mut all = Vec::new();
        let mut format = None;
        for (i, item) in items.iter().enumerate() {
            let (f, mut s) = read_document(item).map_err(|e| prefix(e, &format!("[{i}]")))?;
            format.get_or_insert(f);
            all.append(&mut s);
        }
        if let Some(f) = format {
            return Ok((f, all));
        }
    }
    Err(LoadError::new(LoadErrorKind::UnknownFormat))
}

fn prefix(mut e: LoadError, path: &str) -> LoadError {
    e.place = Some(match e.place.take() {
        Some(p) if p.starts_with('[') => format!("{path}{p}"),
        Some(p) => format!("{path}.{p}"),
        None => path.to_owned(),
    });
    e
}

fn invalid(message: impl Into<String>) -> LoadError {
    LoadError::new(LoadErrorKind::InvalidValue(message.into()))
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], LoadError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        _ => Err(invalid(format!("expected an array, found {}", type_name(v))).at(name)),
    }
}

// ---------------------------------------------------------------------------------------------
// OTLP

/// `Some(spans)` when the document has an OTLP layout.
fn read_otlp(doc: &Value) -> Result<Option<Vec<Span>>, LoadError> {
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
                    .get("service.name")
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

fn otlp_span(s: &Value, service: Option<&str>) -> Result<Span, LoadError> {
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
        links.push(Link {
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
        events.push(Event {
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
    Ok(Span {
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

fn u64_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn required_u64(s: &Value, field: &'static str) -> Result<u64, LoadError> {
    match s.get(field) {
        None | Some(Value::Null) => Err(LoadError::new(LoadErrorKind::MissingField(field))),
        Some(v) => u64_value(v).ok_or_else(|| {
            invalid(format!("expected nanoseconds since the epoch, found {v}")).at(field)
        }),
    }
}

fn required_id(s: &Value, field: &'static str, bytes: usize) -> Result<String, LoadError> {
    match optional_id(s, field, bytes)? {
        Some(id) => Ok(id),
        None => Err(LoadError::new(LoadErrorKind::MissingField(field))),
    }
}

fn optional_id(s: &Value, field: &'static str, bytes: usize) -> Result<Option<String>, LoadError> {
    match s.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => Ok(normalize_id(raw, bytes)),
        Some(v) => Err(invalid(format!("expected an id string, found {}", type_name(v))).at(field)),
    }
}

/// Normalizes an id: hex → lowercase, zero-padded to 16 or 32 digits (Jaeger drops leading
/// zeros); base64 of `bytes` (or 16 for a span id's trace) → lowercase hex; anything else
/// (ids that are not hex, such as `span-1`) as written. Empty and all-zero ids are absent.
pub(crate) fn normalize_id(raw: &str, bytes: usize) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let id = if raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        let lower = raw.to_ascii_lowercase();
        let width = if lower.len() <= 16 { 16 } else { 32 };
        if lower.len() < width {
            format!("{lower:0>width$}")
        } else {
            lower
        }
    } else if let Some(decoded) =
        base64_decode(raw).filter(|d| d.len() == bytes || d.len() == 8 || d.len() == 16)
    {
        decoded.iter().map(|b| format!("{b:02x}")).collect()
    } else {
        raw.to_owned()
    };
    if id.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(id)
    }
}

/// Standard base64, padded or not.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if s.len() % 4 == 1 {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Jaeger

/// `Some(spans)` when the document has a Jaeger layout.
fn read_jaeger(doc: &Value) -> Result<Option<Vec<Span>>, LoadError> {
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

fn jaeger_trace(t: &Value) -> Result<Vec<Span>, LoadError> {
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
) -> Result<Span, LoadError> {
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
            "opentracing.ref_type".into(),
            Value::String(rt.to_ascii_lowercase()),
        );
        links.push(Link {
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
        let name = match fields.get("event").and_then(Value::as_str) {
            Some(n) => {
                let n = n.to_owned();
                fields.remove("event");
                n
            }
            None => String::new(),
        };
        events.push(Event {
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
    let kind = match attributes.get("span.kind").and_then(Value::as_str) {
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some("internal") => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    };
    let error = match attributes.get("error") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    } || attributes.get("otel.status_code").and_then(Value::as_str) == Some("ERROR");
    let status = SpanStatus {
        code: if error {
            StatusCode::Error
        } else if attributes.get("otel.status_code").and_then(Value::as_str) == Some("OK") {
            StatusCode::Ok
        } else {
            StatusCode::Unset
        },
        message: attributes
            .get("otel.status_description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let start_ns = start_us.saturating_mul(1000);
    Ok(Span {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_normalized() {
        assert_eq!(
            normalize_id("EEE19B7EC3C1B174", 8).unwrap(),
            "eee19b7ec3c1b174"
        );
        assert_eq!(
            normalize_id("ec2b4e0bcea566d", 8).unwrap(),
            "0ec2b4e0bcea566d"
        );
        assert_eq!(
            normalize_id("O6VWCcPN5JZJzXfR+dzZNg==", 16).unwrap(),
            "3ba55609c3cde49649cd77d1f9dcd936"
        );
        assert_eq!(normalize_id("Sc130fnc2TY=", 8).unwrap(), "49cd77d1f9dcd936");
        assert_eq!(normalize_id("span-2_1", 8).unwrap(), "span-2_1");
        assert_eq!(normalize_id("", 8), None);
        assert_eq!(normalize_id("0000000000000000", 8), None);
        assert_eq!(
            normalize_id("2db17286b3e6b148", 16).unwrap(),
            "2db17286b3e6b148"
        );
    }

    #[test]
    fn base64_round_trips_known_values() {
        assert_eq!(base64_decode("AAAwOQ==").unwrap(), vec![0, 0, 0x30, 0x39]);
        assert_eq!(base64_decode("aGk").unwrap(), b"hi".to_vec());
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("a*b"), None);
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = load_str("{\"resourceSpans\": [\n  {,]}").unwrap_err();
        assert_eq!(e.to_string(), "2:4: invalid JSON: key must be a string");
        let e = load_str("  \n ").unwrap_err();
        assert_eq!(e.to_string(), "the trace file is empty");
        let e = load_str("{\"hello\": 1}").unwrap_err();
        assert!(e.to_string().starts_with("not a trace: "), "{e}");
    }

    #[test]
    fn a_missing_trace_id_is_located() {
        let doc = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
            {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
             "startTimeUnixNano":"1","endTimeUnixNano":"2"},
            {"spanId":"eee19b7ec3c1b175","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let e = load_str(doc).unwrap_err();
        assert_eq!(e.kind(), &LoadErrorKind::MissingField("traceId"));
        assert_eq!(
            e.to_string(),
            "resourceSpans[0].scopeSpans[0].spans[1]: missing field `traceId`"
        );
    }

    #[test]
    fn json_lines_errors_name_the_line() {
        let ok = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let bad = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02","startTimeUnixNano":"x","endTimeUnixNano":"2"}]}]}]}"#;
        let e = load_str(&format!("{ok}\n{bad}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected nanoseconds since the epoch, found \"x\""
        );
    }

    #[test]
    fn instrumentation_library_spans_and_enum_names_are_read() {
        let doc = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "old"}}]},
        "instrumentationLibrarySpans": [{"instrumentationLibrary": {"name": "lib"}, "spans": [{
            "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": "0102030405060708",
            "name": "x", "kind": "SPAN_KIND_SERVER", "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
            "startTimeUnixNano": 5, "endTimeUnixNano": 7,
            "attributes": [
                {"key": "i", "value": {"intValue": "42"}},
                {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "p"}, {"intValue": 3}]}}},
                {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": true}}]}}},
                {"key": "d", "value": {"doubleValue": 1.5}},
                {"key": "e", "value": {}}
            ]}]}]}]});
        let t = Trace::from_otlp_json(&doc).unwrap();
        let s = &t.spans[0];
        assert_eq!(s.service.as_deref(), Some("old"));
        assert_eq!(s.kind, SpanKind::Server);
        assert_eq!(s.status.code, StatusCode::Error);
        assert_eq!(s.status.message, "boom");
        assert_eq!(
            Value::Object(s.attributes.clone()),
            serde_json::json!({"i": 42, "a": ["p", 3], "kv": {"k": true}, "d": 1.5, "e": null})
        );
    }
}
