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
//!
//! Bounds: a file is read through a limit on the bytes actually read ([`MAX_TRACE_BYTES`]),
//! not the size it reports, so `/dev/zero`, a FIFO or a pipe stop there. Text is read one
//! document at a time (JSON lines: line by line) and OTLP one span at a time, from slices of
//! the text: no tree of values is built for the whole file.

mod ids;
mod jaeger;
mod otlp;
mod values;

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::value::RawValue;
use serde_json::Value;

use super::model::{Trace, TraceFormat, TraceSpan};
use crate::render::clean;

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
    /// The input holds more bytes than the limit (the limit, in bytes); reading stopped there.
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
            write!(f, "{}: ", clean(file))?;
        }
        if let Some(place) = &self.place {
            write!(f, "{}: ", clean(place))?;
        }
        match &self.kind {
            LoadErrorKind::Io(e) => write!(f, "cannot read the trace: {}", clean(e)),
            LoadErrorKind::TooLarge(limit) => write!(
                f,
                "the trace is larger than the limit of {limit} bytes; reading stopped there"
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

/// Reads a trace file in any supported format, at most [`MAX_TRACE_BYTES`]. Errors name the
/// file.
pub fn load_file(path: impl AsRef<Path>) -> Result<Trace, LoadError> {
    load_file_with_limit(path, MAX_TRACE_BYTES)
}

/// Reads a trace file of at most `limit` bytes: whatever the file is (a device, a FIFO, a
/// symlink to either), reading stops after `limit` bytes with [`LoadErrorKind::TooLarge`].
pub fn load_file_with_limit(path: impl AsRef<Path>, limit: u64) -> Result<Trace, LoadError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |e: std::io::Error| LoadError::new(LoadErrorKind::Io(io_message(&e))).in_file(&name);
    let file = std::fs::File::open(path).map_err(io)?;
    let bytes = read_limited(file, limit).map_err(|e| e.in_file(&name))?;
    load_bytes(&bytes).map_err(|e| e.in_file(name))
}

/// Reads everything from `reader`, failing once more than `limit` bytes arrived.
pub(crate) fn read_limited(reader: impl Read, limit: u64) -> Result<Vec<u8>, LoadError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::new(LoadErrorKind::Io(io_message(&e))))?;
    if bytes.len() as u64 > limit {
        return Err(LoadError::new(LoadErrorKind::TooLarge(limit)));
    }
    Ok(bytes)
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
/// file exporter writes them), whose spans are merged. Documents are read one at a time.
pub fn load_str(text: &str) -> Result<Trace, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(LoadError::new(LoadErrorKind::Empty));
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    let mut spans = Vec::new();
    let mut format = None;
    let mut docs = 0usize;
    loop {
        let offset = stream.byte_offset();
        let raw =
            match stream.next() {
                None => break,
                Some(Ok(raw)) => raw,
                Some(Err(e)) => {
                    return Err(LoadError::new(LoadErrorKind::Syntax(strip_position(&e)))
                        .at(format!("{}:{}", e.line(), e.column())))
                }
            };
        docs += 1;
        if let Err(e) = read_raw_document(raw, &mut spans, &mut format) {
            let alone = docs == 1 && text[stream.byte_offset()..].trim().is_empty();
            if alone {
                return Err(e);
            }
            let skipped = text[offset..].len() - text[offset..].trim_start().len();
            let (line, _) = line_col(text.as_bytes(), offset + skipped);
            let place = e.place.clone().unwrap_or_default();
            return Err(LoadError {
                place: Some(if place.is_empty() {
                    format!("line {line}")
                } else {
                    format!("line {line}, {place}")
                }),
                ..e
            });
        }
    }
    if spans.is_empty() {
        return Err(LoadError::new(LoadErrorKind::NoSpans));
    }
    Ok(Trace::new(spans, format.unwrap_or(TraceFormat::Otlp)))
}

/// One document of the text: OTLP span by span from the text, anything else through a
/// parsed value.
fn read_raw_document(
    raw: &RawValue,
    spans: &mut Vec<TraceSpan>,
    format: &mut Option<TraceFormat>,
) -> Result<(), LoadError> {
    if otlp::read_otlp_raw(raw, spans)?.is_some() {
        format.get_or_insert(TraceFormat::Otlp);
        return Ok(());
    }
    let doc: Value = serde_json::from_str(raw.get())
        .map_err(|e| LoadError::new(LoadErrorKind::Syntax(strip_position(&e))))?;
    let (f, mut s) = read_document(&doc)?;
    format.get_or_insert(f);
    spans.append(&mut s);
    Ok(())
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
        let spans =
            otlp::read_otlp(doc)?.ok_or_else(|| LoadError::new(LoadErrorKind::UnknownFormat))?;
        if spans.is_empty() {
            return Err(LoadError::new(LoadErrorKind::NoSpans));
        }
        Ok(Trace::new(spans, TraceFormat::Otlp))
    }

    /// Reads Jaeger query-API JSON: `{"data": [trace, …]}` or one trace object.
    pub fn from_jaeger_json(doc: &Value) -> Result<Trace, LoadError> {
        let spans = jaeger::read_jaeger(doc)?
            .ok_or_else(|| LoadError::new(LoadErrorKind::UnknownFormat))?;
        if spans.is_empty() {
            return Err(LoadError::new(LoadErrorKind::NoSpans));
        }
        Ok(Trace::new(spans, TraceFormat::Jaeger))
    }
}

fn read_document(doc: &Value) -> Result<(TraceFormat, Vec<TraceSpan>), LoadError> {
    if let Some(spans) = otlp::read_otlp(doc)? {
        return Ok((TraceFormat::Otlp, spans));
    }
    if let Some(spans) = jaeger::read_jaeger(doc)? {
        return Ok((TraceFormat::Jaeger, spans));
    }
    if let Value::Array(items) = doc {
        // An array of documents (of either format).
        let mut all = Vec::new();
        let mut format = None;
        for (i, item) in items.iter().enumerate() {
            let (f, mut s) =
                read_document(item).map_err(|e| values::prefix(e, &format!("[{i}]")))?;
            format.get_or_insert(f);
            all.append(&mut s);
        }
        if let Some(f) = format {
            return Ok((f, all));
        }
    }
    Err(LoadError::new(LoadErrorKind::UnknownFormat))
}

#[cfg(test)]
mod tests {
    use super::ids::{base64_decode, normalize_id};
    use super::*;
    use crate::model::{SpanKind, StatusCode};

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
