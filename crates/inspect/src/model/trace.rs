//! The span-level model: a [`Trace`] is a flat list of [`TraceSpan`]s in the order the source
//! listed them, each with normalized ids, its parent resolved to an index, attributes as JSON
//! values, links, events and service.
//!
//! Everything here is built in time linear in the number of spans (hash maps for ids, one
//! pass to break parent cycles), and nothing walks the tree recursively: a source may nest
//! spans as deep as it likes.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use orchestrace::schedule::ExecutionPlan;
use orchestrace::semconv as attr;

/// Which kind of document a trace was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceFormat {
    /// OTLP JSON: ours, the collector's file exporter, Tempo's and Jaeger's v3 API.
    Otlp,
    /// Jaeger's query-API JSON (`/api/traces/{id}`).
    Jaeger,
    /// Built from a run report ([`Trace::from_report`]), not read from a document.
    Report,
}

impl TraceFormat {
    /// `OTLP JSON`, `Jaeger JSON` or `run report`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceFormat::Otlp => "OTLP JSON",
            TraceFormat::Jaeger => "Jaeger JSON",
            TraceFormat::Report => "run report",
        }
    }
}

/// The span kind (OpenTelemetry's, which Jaeger's `span.kind` tag maps onto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    /// Not given.
    #[default]
    Unspecified,
    /// An operation inside an application.
    Internal,
    /// Server side of a request.
    Server,
    /// Client side of a request.
    Client,
    /// Sends a message.
    Producer,
    /// Receives a message.
    Consumer,
}

impl SpanKind {
    /// `unspecified`, `internal`, `server`, `client`, `producer` or `consumer`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }
}

/// A span's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusCode {
    /// Not set.
    #[default]
    Unset,
    /// Explicitly OK.
    Ok,
    /// Failed.
    Error,
}

/// A span's status: code and message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpanStatus {
    /// The code.
    pub code: StatusCode,
    /// The description (empty when none).
    pub message: String,
}

/// A link (OTLP) or a reference other than the parent (Jaeger) to another span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLink {
    /// The linked span's trace id.
    pub trace_id: String,
    /// The linked span's id.
    pub span_id: String,
    /// Link attributes; references from Jaeger carry `opentracing.ref_type`
    /// (`child_of` / `follows_from`), as Jaeger's own OTLP translation does.
    pub attributes: Map<String, Value>,
}

/// A span event (OTLP) or log (Jaeger).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// When, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The name (`event` field of a Jaeger log; empty when none was given).
    pub name: String,
    /// Its attributes (a Jaeger log's fields).
    pub attributes: Map<String, Value>,
}

/// One span of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSpan {
    /// Trace id, normalized (lowercase hex, zero-padded to 16 or 32 digits; other ids as
    /// written).
    pub trace_id: String,
    /// Span id, normalized.
    pub span_id: String,
    /// The parent's span id, as the source gave it (normalized); `None` for a root.
    pub parent_span_id: Option<String>,
    /// Index of the parent in [`Trace::spans`], when the parent is in the trace.
    pub parent: Option<usize>,
    /// Operation name.
    pub name: String,
    /// `service.name` of its resource (OTLP) or process (Jaeger).
    pub service: Option<String>,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, in nanoseconds since the Unix epoch (never before the start).
    pub end_ns: u64,
    /// Attributes (Jaeger: tags), as JSON values: strings, numbers, booleans, arrays, objects.
    pub attributes: Map<String, Value>,
    /// Status.
    pub status: SpanStatus,
    /// Links to other spans.
    pub links: Vec<SpanLink>,
    /// Events.
    pub events: Vec<SpanEvent>,
}

impl TraceSpan {
    /// Duration in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    /// An attribute's value.
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.attributes.get(key)
    }

    /// A string attribute.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(Value::as_str)
    }

    /// An integer attribute (also read from a number or a numeric string).
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attr(key)? {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A floating-point attribute (also read from an integer or a numeric string).
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        value_f64(self.attr(key)?)
    }

    /// A boolean attribute (also read from the strings `true` and `false`).
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        match self.attr(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string-array attribute. Jaeger flattens arrays into a JSON string
    /// (`["a","b"]`), which is read back as well.
    pub fn attr_list(&self, key: &str) -> Option<Vec<String>> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self.attr(key)? {
            Value::Array(items) => Some(items.iter().map(text).collect()),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(items)) => Some(items.iter().map(text).collect()),
                _ if s.trim().is_empty() => Some(Vec::new()),
                _ => Some(s.split(',').map(|p| p.trim().to_owned()).collect()),
            },
            _ => None,
        }
    }

    /// A JSON attribute: a string holding JSON is parsed, anything else taken as is.
    pub fn attr_json(&self, key: &str) -> Option<Value> {
        match self.attr(key)? {
            Value::String(s) => Some(serde_json::from_str(s).unwrap_or(Value::String(s.clone()))),
            other => Some(other.clone()),
        }
    }

    /// Whether the span failed: status ERROR, or an `error` tag that is true (Jaeger).
    pub fn is_error(&self) -> bool {
        self.status.code == StatusCode::Error || self.attr_bool(attr::JAEGER_ERROR) == Some(true)
    }
}

/// A number, or a string holding one.
pub(crate) fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A trace: every span read from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace id (the one most spans carry, when a source mixes several).
    pub trace_id: String,
    /// The spans, in the order the source listed them.
    pub spans: Vec<TraceSpan>,
    /// The kind of document it was read from.
    pub format: TraceFormat,
    /// The run's execution plan when the trace was built from a run report (spans carry it as
    /// a JSON attribute cut to the value limit; a report has it whole).
    pub(crate) execution_plan: Option<std::sync::Arc<ExecutionPlan>>,
}

impl Trace {
    /// Builds a trace from spans: resolves parents (the first span with the parent's id in the
    /// same trace wins), breaks parent cycles of a malformed source (the lowest-indexed span of
    /// a cycle becomes a root) and picks the trace id.
    pub fn new(mut spans: Vec<TraceSpan>, format: TraceFormat) -> Trace {
        let mut parents = resolve_parents(&spans);
        break_cycles(&mut parents);
        for (s, p) in spans.iter_mut().zip(parents) {
            s.parent = p;
        }
        let trace_id = most_common_trace_id(&spans);
        Trace {
            trace_id,
            spans,
            format,
            execution_plan: None,
        }
    }

    /// Earliest span start (0 without spans).
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_ns).min().unwrap_or(0)
    }

    /// Latest span end (0 without spans).
    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.end_ns).max().unwrap_or(0)
    }

    /// The distinct trace ids, in order of first appearance.
    pub fn trace_ids(&self) -> Vec<&str> {
        distinct(self.spans.iter().map(|s| s.trace_id.as_str()))
    }

    /// The distinct service names, in order of first appearance.
    pub fn services(&self) -> Vec<&str> {
        distinct(self.spans.iter().filter_map(|s| s.service.as_deref()))
    }

    /// Indices of the spans without a parent in the trace, by start time.
    pub fn roots(&self) -> Vec<usize> {
        let mut r: Vec<usize> = (0..self.spans.len())
            .filter(|&i| self.spans[i].parent.is_none())
            .collect();
        r.sort_by_key(|&i| (self.spans[i].start_ns, i));
        r
    }

    /// Per span, its children's indices by start time.
    pub fn children(&self) -> Vec<Vec<usize>> {
        let mut c = vec![Vec::new(); self.spans.len()];
        for (i, s) in self.spans.iter().enumerate() {
            if let Some(p) = s.parent {
                c[p].push(i);
            }
        }
        for list in &mut c {
            list.sort_by_key(|&i| (self.spans[i].start_ns, i));
        }
        c
    }

    /// Span indices depth first (roots and children by start time), with their depth.
    pub fn tree_order(&self) -> Vec<(usize, usize)> {
        let children = self.children();
        let mut out = Vec::with_capacity(self.spans.len());
        let mut stack: Vec<(usize, usize)> =
            self.roots().into_iter().rev().map(|r| (r, 0)).collect();
        while let Some((i, d)) = stack.pop() {
            out.push((i, d));
            stack.extend(children[i].iter().rev().map(|&c| (c, d + 1)));
        }
        out
    }

    /// The orchestrace view of the trace: tools (spans with
    /// `gen_ai.operation.name = execute_tool`), levels and the execution plan. `None` when
    /// the trace has no tool spans.
    pub fn orchestration(&self) -> Option<super::Orchestration> {
        super::Orchestration::read(self)
    }
}

fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|s| seen.insert(*s)).collect()
}

/// Per span, the index of its parent: the first span with the parent's id in the same trace.
fn resolve_parents(spans: &[TraceSpan]) -> Vec<Option<usize>> {
    let mut index: HashMap<(&str, &str), usize> = HashMap::with_capacity(spans.len());
    for (i, s) in spans.iter().enumerate() {
        index.entry((&s.trace_id, &s.span_id)).or_insert(i);
    }
    spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = s.parent_span_id.as_deref()?;
            index
                .get(&(s.trace_id.as_str(), p))
                .copied()
                .filter(|&j| j != i)
        })
        .collect()
}

/// Cuts every parent cycle at its lowest-indexed span, in one pass: each span is visited once
/// on the walk up from the first span that reaches it.
fn break_cycles(parents: &mut [Option<usize>]) {
    const NEW: u8 = 0;
    const ON_PATH: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; parents.len()];
    let mut path = Vec::new();
    for i in 0..parents.len() {
        let mut cur = Some(i);
        while let Some(c) = cur {
            match state[c] {
                NEW => {
                    state[c] = ON_PATH;
                    path.push(c);
                    cur = parents[c];
                }
                ON_PATH => {
                    // `c` closes a cycle: its members are the path from `c` on.
                    let from = path.iter().rposition(|&p| p == c).unwrap_or(0);
                    if let Some(&low) = path[from..].iter().min() {
                        parents[low] = None;
                    }
                    break;
                }
                _ => break,
            }
        }
        for p in path.drain(..) {
            state[p] = DONE;
        }
    }
}

/// The trace id most spans carry (ties: the first to appear).
fn most_common_trace_id(spans: &[TraceSpan]) -> String {
    let mut counts: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        counts.entry(&s.trace_id).or_insert((0, i)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| {
            (a.1 .0, std::cmp::Reverse(a.1 .1)).cmp(&(b.1 .0, std::cmp::Reverse(b.1 .1)))
        })
        .map(|(id, _)| id.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) fn span(id: &str, parent: Option<&str>, start_ns: u64, end_ns: u64) -> TraceSpan {
    TraceSpan {
        trace_id: "t".into(),
        span_id: id.into(),
        parent_span_id: parent.map(str::to_owned),
        parent: None,
        name: id.into(),
        service: None,
        kind: SpanKind::Unspecified,
        start_ns,
        end_ns,
        attributes: Map::new(),
        status: SpanStatus::default(),
        links: Vec::new(),
        events: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_are_cut_at_their_lowest_index() {
        // a → b → c → a, and d under c.
        let spans = vec![
            span("a", Some("c"), 0, 1),
            span("b", Some("a"), 0, 1),
            span("c", Some("b"), 0, 1),
            span("d", Some("c"), 0, 1),
        ];
        let t = Trace::new(spans, TraceFormat::Otlp);
        let parents: Vec<_> = t.spans.iter().map(|s| s.parent).collect();
        assert_eq!(parents, vec![None, Some(0), Some(1), Some(2)]);
    }

    #[test]
    fn a_self_parent_is_a_root_and_the_commonest_trace_id_wins() {
        let mut spans = vec![span("a", Some("a"), 0, 1), span("b", None, 0, 1)];
        spans[0].trace_id = "x".into();
        spans.push(span("c", None, 0, 1));
        let t = Trace::new(spans, TraceFormat::Otlp);
        assert_eq!(t.spans[0].parent, None);
        assert_eq!(t.trace_id, "t");
        assert_eq!(t.trace_ids(), vec!["x", "t"]);
    }
}
