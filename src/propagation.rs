//! Trace context across processes: W3C Trace Context (`traceparent`, `tracestate`) and W3C
//! Baggage (`baggage`), injected into outgoing calls and extracted from incoming ones.
//!
//! When a tool is a service, the trace has to follow the call: the caller [`inject`]s the
//! context of its tool span into the request's headers, and the service [`extract`]s it and
//! makes its own spans children of that tool span, so Jaeger and Tempo show one trace across
//! both processes. Headers are written and read through two small carrier traits,
//! [`InjectCarrier`] and [`ExtractCarrier`], implemented for `http::HeaderMap` (what axum,
//! hyper, reqwest and tonic's HTTP layer use), string maps and pair lists, and for
//! OpenTelemetry's own `Injector`/`Extractor` trait objects; gRPC metadata or message headers
//! need a three-line impl.
//!
//! # The trust boundary
//!
//! An incoming `traceparent` is input from someone else. A host app chooses per entry point:
//!
//! - [`RemoteParent::continue_trace`]: the caller's trace goes on; the host's span becomes a
//!   child of the caller's span. Right for your own services and trusted callers.
//! - [`RemoteParent::link_from`]: the host starts a trace of its own and records a span link
//!   to the caller. Right at a public edge, where a caller must not choose your trace ids,
//!   your sampling decision, or pile its spans into your traces.
//!
//! Either way the values are validated strictly first: a malformed `traceparent` (wrong
//! version, bad lengths, uppercase or non-hex digits, all-zero ids, several `traceparent`
//! headers) yields `None` — a fresh trace — and never a panic; `tracestate` is cut to
//! [`MAX_TRACESTATE_MEMBERS`] members and [`MAX_TRACESTATE_LEN`] characters, baggage to
//! [`MAX_BAGGAGE_BYTES`] and [`MAX_BAGGAGE_ENTRIES`], before the OpenTelemetry propagators see
//! them. Baggage is never sent unless asked for, and the built-in `http` tool sends it only to
//! the hosts its call lists.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::semconv as attr;

/// The W3C Trace Context header naming the caller's trace and span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C Trace Context header with vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";
/// The W3C Baggage header.
pub const BAGGAGE: &str = "baggage";
/// At most this many `tracestate` list members are kept (the W3C limit).
pub const MAX_TRACESTATE_MEMBERS: usize = 32;
/// At most this many characters of `tracestate` are kept (what W3C asks every vendor to
/// propagate); members longer than 128 characters go first, then members from the end.
pub const MAX_TRACESTATE_LEN: usize = 512;
/// At most this many bytes of `baggage` are read or sent (the W3C limit).
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// At most this many baggage entries are read or sent (the W3C limit; also what the
/// OpenTelemetry SDK keeps).
pub const MAX_BAGGAGE_ENTRIES: usize = 64;

/// Raw header values longer than this are not even parsed.
const MAX_RAW_HEADER: usize = 16 * 1024;
/// `tracestate` members longer than this are the first to go when truncating.
const LONG_TRACESTATE_MEMBER: usize = 128;

/// Somewhere to write propagation headers: HTTP headers, gRPC metadata, message headers.
///
/// ```
/// use orchestrace::propagation::InjectCarrier;
///
/// /// Headers of a message on a queue.
/// struct MessageHeaders(Vec<(String, Vec<u8>)>);
///
/// impl InjectCarrier for MessageHeaders {
///     fn set_header(&mut self, name: &str, value: String) {
///         self.0.retain(|(k, _)| k != name);
///         self.0.push((name.to_owned(), value.into_bytes()));
///     }
/// }
/// ```
pub trait InjectCarrier {
    /// Sets header `name` (lowercase ASCII: `traceparent`, `tracestate`, `baggage`) to
    /// `value`, replacing any previous value.
    fn set_header(&mut self, name: &str, value: String);
}

/// Somewhere to read propagation headers from: an incoming request's headers, gRPC metadata,
/// message headers.
pub trait ExtractCarrier {
    /// Every value of header `name` (lowercase ASCII; match it case-insensitively), in order.
    /// Values that are not valid text are left out.
    fn header_values(&self, name: &str) -> Vec<&str>;
}

impl InjectCarrier for http::HeaderMap {
    fn set_header(&mut self, name: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

impl ExtractCarrier for http::HeaderMap {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

impl<S: BuildHasher> InjectCarrier for HashMap<String, String, S> {
    fn set_header(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl<S: BuildHasher> ExtractCarrier for HashMap<String, String, S> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        let mut found: Vec<(&String, &String)> = self
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .collect();
        found.sort();
        found.into_iter().map(|(_, v)| v.as_str()).collect()
    }
}

impl InjectCarrier for BTreeMap<String, String> {
    fn set_header(&mut self, name: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

impl ExtractCarrier for BTreeMap<String, String> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl InjectCarrier for Vec<(String, String)> {
    fn set_header(&mut self, name: &str, value: String) {
        self.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.push((name.to_owned(), value));
    }
}

impl ExtractCarrier for [(String, String)] {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl ExtractCarrier for Vec<(String, String)> {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.as_slice().header_values(name)
    }
}

/// Any OpenTelemetry injector (pass it as `&mut dyn Injector`).
impl InjectCarrier for dyn Injector + '_ {
    fn set_header(&mut self, name: &str, value: String) {
        self.set(name, value);
    }
}

/// Any OpenTelemetry extractor (pass it as `&dyn Extractor`).
impl ExtractCarrier for dyn Extractor + '_ {
    fn header_values(&self, name: &str) -> Vec<&str> {
        self.get_all(name).unwrap_or_default()
    }
}

/// Hands the propagators' output to a carrier, leaving out an empty `tracestate`.
struct ToCarrier<'a, C: ?Sized>(&'a mut C);

impl<C: InjectCarrier + ?Sized> Injector for ToCarrier<'_, C> {
    fn set(&mut self, key: &str, value: String) {
        if key == TRACESTATE && value.is_empty() {
            return;
        }
        self.0.set_header(key, value);
    }
}

/// Writes `traceparent` (and `tracestate` when there is one) for `span` into `carrier`, so
/// the receiving service's spans become children of `span`. Returns `false`, writing nothing,
/// when the span is not recorded by an OpenTelemetry layer.
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// let span = tracing::info_span!("call");
/// // Without an OpenTelemetry layer there is no trace to propagate.
/// assert!(!orchestrace::propagation::inject(&span, &mut headers));
/// assert!(headers.is_empty());
/// ```
pub fn inject<C: InjectCarrier + ?Sized>(span: &tracing::Span, carrier: &mut C) -> bool {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return false;
    }
    TraceContextPropagator::new().inject_context(&cx, &mut ToCarrier(carrier));
    true
}

/// Writes a `baggage` header with `entries` into `carrier`, at most [`MAX_BAGGAGE_ENTRIES`]
/// entries and [`MAX_BAGGAGE_BYTES`] bytes; entries whose key is not a valid token are left
/// out. Returns how many entries were written. Baggage is visible to the receiver and to
/// everyone it forwards it to: only send it to hosts you trust with its content.
pub fn inject_baggage<C, I, K, V>(entries: I, carrier: &mut C) -> usize
where
    C: InjectCarrier + ?Sized,
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let pairs: Vec<KeyValue> = entries
        .into_iter()
        .take(MAX_BAGGAGE_ENTRIES)
        .map(|(k, v)| KeyValue::new(k.into(), v.into()))
        .collect();
    let cx = Context::new().with_baggage(pairs);
    let n = cx.baggage().len();
    if n > 0 {
        let mut header = HashMap::new();
        BaggagePropagator::new().inject_context(&cx, &mut header);
        if let Some(value) = header.remove(BAGGAGE) {
            if value.len() <= MAX_BAGGAGE_BYTES {
                carrier.set_header(BAGGAGE, value);
                return n;
            }
        }
    }
    0
}

/// The validated context of an incoming call, from [`extract`]. The host decides what to do
/// with it: [`continue_trace`](RemoteParent::continue_trace) or
/// [`link_from`](RemoteParent::link_from).
#[derive(Clone)]
pub struct RemoteParent {
    cx: Context,
    trace_id: String,
    span_id: String,
    sampled: bool,
}

impl fmt::Debug for RemoteParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteParent")
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("sampled", &self.sampled)
            .field("trace_state", &self.trace_state())
            .field("baggage", &self.baggage())
            .finish()
    }
}

impl RemoteParent {
    /// The caller's trace id: 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        &self.trace_id
    }

    /// The caller's span id: 16 lowercase hex digits.
    pub fn span_id(&self) -> &str {
        &self.span_id
    }

    /// Whether the caller sampled its trace (the `sampled` flag).
    pub fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// The bounded `tracestate`, in header form (empty when there was none).
    pub fn trace_state(&self) -> String {
        self.cx.span().span_context().trace_state().header()
    }

    /// The caller's baggage, bounded, sorted by key. Untrusted input: treat it as such.
    pub fn baggage(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .cx
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect();
        out.sort();
        out
    }

    fn span_context(&self) -> SpanContext {
        self.cx.span().span_context().clone()
    }

    /// Continues the caller's trace: `span` becomes a child of the caller's span (same trace
    /// id, and the caller's sampling decision). Call it before `span` is first entered.
    /// Returns `false` when the span cannot take a parent any more (it was already entered),
    /// is disabled, or is not recorded by an OpenTelemetry layer.
    pub fn continue_trace(&self, span: &tracing::Span) -> bool {
        span.set_parent(self.cx.clone()).is_ok()
    }

    /// Keeps `span` in a trace of the host's own and records a span link to the caller's span
    /// (link attribute `orchestration.link=remote_parent`): the choice at a trust boundary.
    /// Create `span` without a local parent to make it the root of a new trace.
    pub fn link_from(&self, span: &tracing::Span) {
        span.add_link_with_attributes(
            self.span_context(),
            vec![KeyValue::new(attr::LINK, attr::LINK_REMOTE_PARENT)],
        );
    }
}

/// Reads and validates the W3C context of an incoming call. `None` — start a fresh trace —
/// when there is no `traceparent`, more than one, or it is malformed; never panics. The
/// `tracestate` and `baggage` that come with a valid `traceparent` are bounded (an invalid
/// `tracestate` is dropped, the `traceparent` still counts).
///
/// ```
/// use orchestrace::propagation::extract;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let parent = extract(&headers).expect("a valid traceparent");
/// assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(parent.span_id(), "00f067aa0ba902b7");
/// assert!(parent.is_sampled());
///
/// headers.insert("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse().unwrap());
/// assert!(extract(&headers).is_none(), "an all-zero trace id starts a fresh trace");
/// ```
pub fn extract<C: ExtractCarrier + ?Sized>(carrier: &C) -> Option<RemoteParent> {
    let parents = carrier.header_values(TRACEPARENT);
    let [raw] = parents.as_slice() else {
        return None;
    };
    let tp = parse_traceparent(raw)?;
    let mut clean: HashMap<String, String> = HashMap::new();
    clean.insert(TRACEPARENT.to_owned(), tp.header());
    if let Some(state) = bound_tracestate(&carrier.header_values(TRACESTATE)) {
        clean.insert(TRACESTATE.to_owned(), state);
    }
    if let Some(baggage) = bound_baggage(&carrier.header_values(BAGGAGE)) {
        clean.insert(BAGGAGE.to_owned(), baggage);
    }
    let cx = TraceContextPropagator::new().extract(&clean);
    let sc = cx.span().span_context().clone();
    if !sc.is_valid() {
        return None;
    }
    let cx = BaggagePropagator::new().extract_with_context(&cx, &clean);
    Some(RemoteParent {
        cx,
        trace_id: sc.trace_id().to_string(),
        span_id: sc.span_id().to_string(),
        sampled: sc.is_sampled(),
    })
}

/// The four fields of a valid `traceparent`.
#[derive(Debug, PartialEq, Eq)]
struct TraceParent<'a> {
    trace_id: &'a str,
    span_id: &'a str,
    flags: u8,
}

impl TraceParent<'_> {
    /// The version-00 header for these fields (only the `sampled` flag is defined).
    fn header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            self.flags & 1
        )
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex_byte(s: &str) -> Option<u8> {
    if s.len() == 2 && is_lower_hex(s) {
        u8::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// Parses a `traceparent` per W3C Trace Context: `version-traceid-parentid-flags`, lowercase
/// hex, version `ff` invalid, version `00` exactly 55 characters; higher versions may append
/// `-`-separated fields, of which only the first four are read. Ids must not be all zeros.
fn parse_traceparent(raw: &str) -> Option<TraceParent<'_>> {
    let v = raw.trim_matches(|c| c == ' ' || c == '\t');
    if !v.is_ascii() || v.len() < 55 || v.len() > MAX_RAW_HEADER {
        return None;
    }
    let version = hex_byte(&v[0..2])?;
    match version {
        0xff => return None,
        0 if v.len() != 55 => return None,
        _ if v.len() > 55 && v.as_bytes()[55] != b'-' => return None,
        _ => {}
    }
    let b = v.as_bytes();
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let (trace_id, span_id) = (&v[3..35], &v[36..52]);
    let flags = hex_byte(&v[53..55])?;
    let nonzero = |s: &str| s.bytes().any(|c| c != b'0');
    if !is_lower_hex(trace_id) || !is_lower_hex(span_id) || !nonzero(trace_id) || !nonzero(span_id)
    {
        return None;
    }
    Some(TraceParent {
        trace_id,
        span_id,
        flags,
    })
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// A `tracestate` key: `simple-key` or `tenant-id@system-id`.
fn valid_tracestate_key(key: &str) -> bool {
    let b = key.as_bytes();
    match key.split_once('@') {
        None => {
            (1..=256).contains(&b.len())
                && b[0].is_ascii_lowercase()
                && b.iter().all(|&c| is_key_char(c))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            (1..=241).contains(&t.len())
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|&c| is_key_char(c))
                && (1..=14).contains(&s.len())
                && s[0].is_ascii_lowercase()
                && s.iter().all(|&c| is_key_char(c))
        }
    }
}

/// A `tracestate` value: up to 256 printable ASCII characters but `,` and `=`, not ending in a
/// space.
fn valid_tracestate_value(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=256).contains(&b.len())
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}

/// Joins the `tracestate` header lines and bounds them: any malformed member or duplicate key
/// drops the whole value (W3C allows that); too many members or characters truncate it —
/// members over 128 characters first, then from the end.
fn bound_tracestate(lines: &[&str]) -> Option<String> {
    let total: usize = lines.iter().map(|l| l.len() + 1).sum();
    if lines.is_empty() || total > MAX_RAW_HEADER {
        return None;
    }
    let mut members: Vec<&str> = Vec::new();
    for line in lines {
        for member in line.split(',') {
            let member = member.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
                return None;
            }
            if members
                .iter()
                .any(|m| m.split_once('=').map(|(k, _)| k) == Some(key))
            {
                return None;
            }
            members.push(member);
        }
    }
    let size = |ms: &[&str]| ms.iter().map(|m| m.len()).sum::<usize>() + ms.len().saturating_sub(1);
    if members.len() > MAX_TRACESTATE_MEMBERS || size(&members) > MAX_TRACESTATE_LEN {
        members.retain(|m| m.len() <= LONG_TRACESTATE_MEMBER);
        members.truncate(MAX_TRACESTATE_MEMBERS);
        while size(&members) > MAX_TRACESTATE_LEN {
            members.pop();
        }
    }
    (!members.is_empty()).then(|| members.join(","))
}

/// Joins the `baggage` header lines and bounds them to [`MAX_BAGGAGE_BYTES`] (whole entries)
/// and [`MAX_BAGGAGE_ENTRIES`]; baggage that is not ASCII (W3C baggage is percent-encoded) is
/// dropped.
fn bound_baggage(lines: &[&str]) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    let mut bytes = 0;
    'lines: for line in lines {
        if !line.is_ascii() {
            return None;
        }
        for entry in line.split(',') {
            let entry = entry.trim_matches(|c| c == ' ' || c == '\t');
            if entry.is_empty() {
                continue;
            }
            let added = entry.len() + usize::from(!kept.is_empty());
            if kept.len() == MAX_BAGGAGE_ENTRIES || bytes + added > MAX_BAGGAGE_BYTES {
                break 'lines;
            }
            bytes += added;
            kept.push(entry);
        }
    }
    (!kept.is_empty()).then(|| kept.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::prelude::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tp(value: &str) -> Option<RemoteParent> {
        extract(&headers(&[(TRACEPARENT, value)]))
    }

    #[test]
    fn valid_traceparents_are_read() {
        let p = tp(&format!("00-{TRACE}-{SPAN}-01")).unwrap();
        assert_eq!(
            (p.trace_id(), p.span_id(), p.is_sampled()),
            (TRACE, SPAN, true)
        );
        assert!(!tp(&format!("00-{TRACE}-{SPAN}-00")).unwrap().is_sampled());
        // Unknown flags are ignored, not rejected.
        assert!(tp(&format!("00-{TRACE}-{SPAN}-09")).unwrap().is_sampled());
        assert!(!tp(&format!("00-{TRACE}-{SPAN}-fe")).unwrap().is_sampled());
        // Surrounding whitespace is tolerated.
        assert!(tp(&format!("  00-{TRACE}-{SPAN}-01\t")).is_some());
        // Higher versions: the first four fields, more fields after a dash allowed.
        for v in [
            format!("01-{TRACE}-{SPAN}-01"),
            format!("02-{TRACE}-{SPAN}-01-extra-fields"),
            format!("fe-{TRACE}-{SPAN}-01-"),
            format!("cc-{TRACE}-{SPAN}-00-what-the-future-holds"),
        ] {
            let p = tp(&v).unwrap_or_else(|| panic!("{v} should be accepted"));
            assert_eq!(p.trace_id(), TRACE, "{v}");
        }
        // HTTP header names are case-insensitive.
        assert!(extract(&headers(&[(
            "TraceParent",
            &format!("00-{TRACE}-{SPAN}-01")
        )]))
        .is_some());
    }

    #[test]
    fn malformed_traceparents_start_a_fresh_trace() {
        let long_trace = format!("{TRACE}00");
        let cases: Vec<String> = vec![
            String::new(),
            " ".into(),
            "-".into(),
            "---".into(),
            "00".into(),
            "garbage".into(),
            "\u{0}\u{1}\u{2}".into(),
            "🦀".repeat(20),
            format!("00-{TRACE}-{SPAN}"),
            format!("00-{TRACE}-{SPAN}-"),
            format!("00-{TRACE}-{SPAN}-1"),
            format!("00-{TRACE}-{SPAN}-001"),
            format!("00-{TRACE}-{SPAN}-01-"),
            format!("00-{TRACE}-{SPAN}-01-extra"),
            format!("ff-{TRACE}-{SPAN}-01"),
            format!("FF-{TRACE}-{SPAN}-01"),
            format!("0-{TRACE}-{SPAN}-01"),
            format!("000-{TRACE}-{SPAN}-01"),
            format!("0g-{TRACE}-{SPAN}-01"),
            format!("A0-{TRACE}-{SPAN}-01"),
            format!("01-{TRACE}-{SPAN}-01x"),
            format!("00-{}-{SPAN}-01", &TRACE[1..]),
            format!("00-{long_trace}-{SPAN}-01"),
            format!("00-{TRACE}-{}-01", &SPAN[1..]),
            format!("00-{TRACE}-{SPAN}00-01"),
            format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
            format!("00-{TRACE}-{}-01", "00F067AA0BA902B7"),
            format!("00-{TRACE}-{SPAN}-0A"),
            format!("00-{}-{SPAN}-01", "0".repeat(32)),
            format!("00-{TRACE}-{}-01", "0".repeat(16)),
            format!("00-{}-{}-01", "0".repeat(32), "0".repeat(16)),
            format!("00-{}-{SPAN}-01", "g".repeat(32)),
            format!("00-{}-{SPAN}-01", "z".repeat(32)),
            format!("00-{TRACE}-{}-01", "-".repeat(16)),
            format!("00_{TRACE}_{SPAN}_01"),
            format!("00 {TRACE} {SPAN} 01"),
            format!("00-{TRACE}-{SPAN}-+1"),
            format!("00-+{}-{SPAN}-01", &TRACE[1..]),
            format!("00-{}é-{SPAN}-01", &TRACE[2..]),
            format!("00-{TRACE}-{SPAN}-01").repeat(3),
            format!("00-{TRACE}-{SPAN}-01{}", "-x".repeat(100_000)),
            format!("01-{TRACE}-{SPAN}-01{}", "-x".repeat(100_000)),
        ];
        for case in &cases {
            assert!(tp(case).is_none(), "{case:?} should be rejected");
        }
        // Every prefix and a sweep of single-byte corruptions of a valid value: no panic, and
        // never an accepted value with different ids.
        let valid = format!("00-{TRACE}-{SPAN}-01");
        for end in 0..valid.len() {
            assert!(tp(&valid[..end]).is_none(), "prefix {end}");
        }
        for i in 0..valid.len() {
            for c in [b'-', b'0', b'A', b'f', b'g', b' ', 0u8, 0x7f] {
                let mut bytes = valid.clone().into_bytes();
                bytes[i] = c;
                let Ok(s) = String::from_utf8(bytes) else {
                    continue;
                };
                if let Some(p) = tp(&s) {
                    assert_eq!(p.trace_id().len(), 32, "{s:?}");
                    assert!(
                        is_lower_hex(p.trace_id()) && is_lower_hex(p.span_id()),
                        "{s:?}"
                    );
                }
            }
        }
        // Two traceparent headers are invalid.
        let two = headers(&[
            (TRACEPARENT, &format!("00-{TRACE}-{SPAN}-01")),
            ("Traceparent", &format!("00-{TRACE}-{SPAN}-01")),
        ]);
        assert!(extract(&two).is_none());
        let mut map = http::HeaderMap::new();
        map.append(TRACEPARENT, valid.parse().unwrap());
        map.append(TRACEPARENT, valid.parse().unwrap());
        assert!(extract(&map).is_none());
        // Nothing at all.
        assert!(extract(&http::HeaderMap::new()).is_none());
    }

    #[test]
    fn tracestate_is_validated_and_bounded() {
        let valid = format!("00-{TRACE}-{SPAN}-01");
        let with_state = |states: &[&str]| {
            let mut h = headers(&[(TRACEPARENT, &valid)]);
            h.extend(
                states
                    .iter()
                    .map(|s| (TRACESTATE.to_owned(), (*s).to_owned())),
            );
            extract(&h).expect("the traceparent is valid").trace_state()
        };
        assert_eq!(with_state(&["congo=t61rcWkgMzE"]), "congo=t61rcWkgMzE");
        assert_eq!(
            with_state(&["rojo=00f067aa0ba902b7", " congo=t61rcWkgMzE "]),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        assert_eq!(with_state(&["a@vendor=1, ,b=2"]), "a@vendor=1,b=2");
        // Malformed members drop the whole tracestate, never the traceparent.
        for bad in [
            "novalue",
            "=v",
            "UPPER=1",
            "a=1,a=2",
            "a=b=c",
            "a=",
            "1a=x",
            "a@=x",
            "a@TOOLONGSYSTEMID=x",
            "a b=1",
            "a=\u{7f}",
            "a=é",
        ] {
            assert_eq!(with_state(&[bad]), "", "{bad:?}");
        }
        // Too many members: at most 32 kept, from the front.
        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v{i}")).collect();
        let kept = with_state(&[&many.join(",")]);
        assert_eq!(kept.split(',').count(), MAX_TRACESTATE_MEMBERS);
        assert!(kept.starts_with("k0=v0,k1=v1,"));
        // Too long: long members go first, then from the end, to at most 512 characters.
        let long = format!("big={}", "x".repeat(200));
        let mut members = vec![long.clone()];
        members.extend((0..20).map(|i| format!("m{i}={}", "y".repeat(40))));
        let kept = with_state(&[&members.join(",")]);
        assert!(kept.len() <= MAX_TRACESTATE_LEN, "{}", kept.len());
        assert!(!kept.contains("big="));
        assert!(kept.starts_with("m0="));
        // A huge header is not parsed at all.
        let huge = "a=b,".repeat(10_000);
        assert_eq!(with_state(&[&huge]), "");
    }

    #[test]
    fn baggage_is_bounded() {
        let valid = format!("00-{TRACE}-{SPAN}-01");
        let with_baggage = |lines: &[String]| {
            let mut h = headers(&[(TRACEPARENT, &valid)]);
            h.extend(lines.iter().map(|s| (BAGGAGE.to_owned(), s.clone())));
            extract(&h).unwrap().baggage()
        };
        assert_eq!(
            with_baggage(&["user=alice,tier=gold%20plus".into()]),
            vec![
                ("tier".to_owned(), "gold plus".to_owned()),
                ("user".to_owned(), "alice".to_owned())
            ]
        );
        let many: Vec<String> = (0..1000).map(|i| format!("k{i}=v")).collect();
        let got = with_baggage(&[many.join(",")]);
        assert_eq!(got.len(), MAX_BAGGAGE_ENTRIES);
        let big: Vec<String> = (0..40)
            .map(|i| format!("k{i}={}", "x".repeat(500)))
            .collect();
        let got = with_baggage(&[big.join(",")]);
        let bytes: usize = got.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        assert!(!got.is_empty() && bytes <= MAX_BAGGAGE_BYTES, "{bytes}");
        assert!(with_baggage(&["ünïcode=1".into()]).is_empty());
        assert!(with_baggage(&["garbage;;;,,,==".into()]).len() <= 1);
        // Baggage never makes an invalid traceparent count.
        assert!(extract(&headers(&[(BAGGAGE, "a=1")])).is_none());
    }

    #[test]
    fn bound_helpers_handle_edge_cases() {
        assert_eq!(bound_tracestate(&[]), None);
        assert_eq!(bound_tracestate(&[""]), None);
        assert_eq!(bound_baggage(&[]), None);
        assert_eq!(bound_baggage(&[" , "]), None);
        let raw = format!("00-{TRACE}-{SPAN}-03");
        let p = parse_traceparent(&raw).unwrap();
        assert_eq!(p.header(), format!("00-{TRACE}-{SPAN}-01"));
    }

    /// A subscriber with an OpenTelemetry layer (no exporter: ids only).
    fn otel_subscriber() -> impl tracing::Subscriber + Send + Sync {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
    }

    #[test]
    fn inject_then_extract_round_trips() {
        tracing::subscriber::with_default(otel_subscriber(), || {
            let caller = tracing::info_span!("caller");
            let expected = caller.context().span().span_context().clone();
            assert!(expected.is_valid());

            let mut map = http::HeaderMap::new();
            assert!(inject(&caller, &mut map));
            assert!(!map.contains_key(TRACESTATE), "no empty tracestate");
            let header = map[TRACEPARENT].to_str().unwrap().to_owned();
            assert_eq!(
                header,
                format!("00-{}-{}-01", expected.trace_id(), expected.span_id())
            );
            let parent = extract(&map).unwrap();
            assert_eq!(parent.trace_id(), expected.trace_id().to_string());
            assert_eq!(parent.span_id(), expected.span_id().to_string());

            // Continue: the server span joins the caller's trace as its child.
            let server = tracing::info_span!("server");
            assert!(parent.continue_trace(&server));
            let sc = server.context().span().span_context().clone();
            assert_eq!(sc.trace_id(), expected.trace_id());
            assert_ne!(sc.span_id(), expected.span_id());
            assert!(!parent.continue_trace(&server), "too late once started");

            // Link: a new root with its own trace id.
            let edge = tracing::info_span!(parent: None, "edge");
            parent.link_from(&edge);
            let sc = edge.context().span().span_context().clone();
            assert_ne!(sc.trace_id(), expected.trace_id());

            // Every carrier type round-trips.
            let mut hm: HashMap<String, String> = HashMap::new();
            let mut bt: BTreeMap<String, String> = BTreeMap::new();
            let mut v: Vec<(String, String)> = Vec::new();
            assert!(
                inject(&caller, &mut hm) && inject(&caller, &mut bt) && inject(&caller, &mut v)
            );
            for got in [extract(&hm), extract(&bt), extract(&v)] {
                assert_eq!(got.unwrap().span_id(), expected.span_id().to_string());
            }
            let mut otel: HashMap<String, String> = HashMap::new();
            assert!(inject(&caller, &mut otel as &mut dyn Injector));
            assert!(extract(&otel as &dyn Extractor).is_some());
        });
        // No layer: nothing to inject.
        let mut map = http::HeaderMap::new();
        assert!(!inject(&tracing::Span::none(), &mut map));
        assert!(map.is_empty());
    }

    #[test]
    fn baggage_round_trips_and_is_bounded_on_the_way_out() {
        let mut map = http::HeaderMap::new();
        assert_eq!(
            inject_baggage([("user", "alice"), ("note", "a b,c")], &mut map),
            2
        );
        let mut with_parent = map.clone();
        with_parent.insert(
            TRACEPARENT,
            format!("00-{TRACE}-{SPAN}-01").parse().unwrap(),
        );
        assert_eq!(
            extract(&with_parent).unwrap().baggage(),
            vec![
                ("note".to_owned(), "a b,c".to_owned()),
                ("user".to_owned(), "alice".to_owned())
            ]
        );
        let mut map = http::HeaderMap::new();
        let many = (0..500).map(|i| (format!("k{i}"), "v".to_owned()));
        assert_eq!(inject_baggage(many, &mut map), MAX_BAGGAGE_ENTRIES);
        assert!(map[BAGGAGE].len() <= MAX_BAGGAGE_BYTES);
        let mut map = http::HeaderMap::new();
        assert_eq!(inject_baggage([("bad key", "v")], &mut map), 0);
        assert!(map.is_empty());
    }
}
