//! The one trace model every source loads into, and the plan-aware view read from it.
//!
//! A [`Trace`] is a flat list of [`Span`]s in the order the source listed them, each with
//! normalized ids (lowercase hex, zero-padded to 16 or 32 digits where the source dropped
//! leading zeros or wrote base64; other ids are kept as written), its parent resolved to an
//! index, attributes as JSON values, links, events and service. [`Trace::orchestration`]
//! reads the orchestrace attributes back into tools and levels ([`Orchestration`]); traces
//! without them (any service's trace) have none and are shown as a span tree.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use orchestrace::graph::levels_of;
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
}

impl TraceFormat {
    /// `OTLP JSON` or `Jaeger JSON`.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceFormat::Otlp => "OTLP JSON",
            TraceFormat::Jaeger => "Jaeger JSON",
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
pub struct Link {
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
pub struct Event {
    /// When, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// The name (`event` field of a Jaeger log; empty when none was given).
    pub name: String,
    /// Its attributes (a Jaeger log's fields).
    pub attributes: Map<String, Value>,
}

/// One span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Trace id, normalized (see the module documentation).
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
    pub links: Vec<Link>,
    /// Events.
    pub events: Vec<Event>,
}

impl Span {
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
        match self.attr(key)? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
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
        self.status.code == StatusCode::Error || self.attr_bool("error") == Some(true)
    }
}

/// A trace: every span read from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The trace id (the one most spans carry, when a source mixes several).
    pub trace_id: String,
    /// The spans, in the order the source listed them.
    pub spans: Vec<Span>,
    /// The kind of document it was read from.
    pub format: TraceFormat,
}

impl Trace {
    /// Builds a trace from spans: resolves parents (the first span with the parent's id in the
    /// same trace wins) and picks the trace id.
    pub fn new(mut spans: Vec<Span>, format: TraceFormat) -> Trace {
        let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            index
                .entry((s.trace_id.clone(), s.span_id.clone()))
                .or_insert(i);
        }
        for (i, s) in spans.iter_mut().enumerate() {
            s.parent = s.parent_span_id.as_ref().and_then(|p| {
                index
                    .get(&(s.trace_id.clone(), p.clone()))
                    .copied()
                    .filter(|&j| j != i)
            });
        }
        // Break parent cycles (a malformed source), keeping the spans as roots.
        for i in 0..spans.len() {
            let mut seen = 0;
            let mut cur = spans[i].parent;
            while let Some(p) = cur {
                seen += 1;
                if p == i || seen > spans.len() {
                    spans[i].parent = None;
                    break;
                }
                cur = spans[p].parent;
            }
        }
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for s in &spans {
            match counts.iter_mut().find(|(id, _)| *id == s.trace_id) {
                Some((_, n)) => *n += 1,
                None => counts.push((&s.trace_id, 1)),
            }
        }
        let trace_id = counts
            .iter()
            .fold(None, |best: Option<(&str, usize)>, &(id, n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((id, n)),
            })
            .map(|(id, _)| id.to_owned())
            .unwrap_or_default();
        Trace {
            trace_id,
            spans,
            format,
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
        let mut ids: Vec<&str> = Vec::new();
        for s in &self.spans {
            if !ids.contains(&s.trace_id.as_str()) {
                ids.push(&s.trace_id);
            }
        }
        ids
    }

    /// The distinct service names, in order of first appearance.
    pub fn services(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for s in self.spans.iter().filter_map(|s| s.service.as_deref()) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
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
    pub fn orchestration(&self) -> Option<Orchestration> {
        Orchestration::read(self)
    }
}

/// One `output_mapping` entry of a tool as the trace recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFlowEntry {
    /// The input key.
    pub key: String,
    /// The mapping as written (usually a template string such as `{primary.data.rows[0]}`).
    pub expression: Value,
    /// The resolved value.
    pub value: Value,
}

/// A tool's run, read from its `execute_tool` span.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// Index of the span in [`Trace::spans`].
    pub span: usize,
    /// The plan's tool id.
    pub id: String,
    /// The tool type.
    pub tool: String,
    /// The asset, when recorded.
    pub asset_id: Option<String>,
    /// Level (execution group): recorded, or computed from the dependencies.
    pub group: usize,
    /// Planned order index: recorded, or by level and start time.
    pub order: usize,
    /// `ok`, `error`, `skipped` or `cancelled`.
    pub status: String,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, in nanoseconds since the Unix epoch (the start, for a skipped tool).
    pub end_ns: u64,
    /// The static params (`orchestration.params`).
    pub params: Option<Value>,
    /// Other tools of its group.
    pub parallel_with: Vec<String>,
    /// Every dependency (explicit and implicit).
    pub depends_on: Vec<String>,
    /// The data flow: template → resolved value, per input key.
    pub data_flow: Vec<DataFlowEntry>,
    /// Rows in the output.
    pub result_count: Option<i64>,
    /// Size of the output as JSON.
    pub result_size_bytes: Option<i64>,
    /// Time between ready and start, in milliseconds.
    pub queue_wait_ms: Option<f64>,
    /// Retries made.
    pub retry_count: u32,
    /// Whether the fallback produced the result.
    pub fallback_used: bool,
    /// Whether the result came from the cache.
    pub cache_hit: bool,
    /// `error.type`, on failure.
    pub error_type: Option<String>,
    /// The span's status message, on failure.
    pub error_message: Option<String>,
    /// Why it was skipped or cancelled.
    pub skip_reason: Option<String>,
    /// Time lost to retries and the fallback, in milliseconds: from the start to the last
    /// retry's backoff end or the fallback's start, read from the span's `retry` and
    /// `fallback` events.
    pub retry_lost_ms: Option<f64>,
}

impl ToolCall {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }

    /// Whether it started (an `ok` or `error` tool, or one cancelled mid-run).
    pub fn ran(&self) -> bool {
        !(self.status == "skipped" || (self.status == "cancelled" && self.end_ns == self.start_ns))
    }

    /// The tools its data flow reads: every tool named in a template of its data-flow
    /// expressions (or, when the trace recorded no data flow, of the execution plan's
    /// `output_mapping`).
    pub fn data_flow_sources(&self, plan_mapping: Option<&Map<String, Value>>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |v: &Value| {
            if let Ok(m) = orchestrace::dataflow::Mapping::parse(v) {
                for r in m.references() {
                    if !out.contains(&r.tool) {
                        out.push(r.tool.clone());
                    }
                }
            }
        };
        for e in &self.data_flow {
            add(&e.expression);
        }
        if let Some(m) = plan_mapping {
            for v in m.values() {
                add(v);
            }
        }
        out
    }
}

/// A level (execution group).
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Its index.
    pub index: usize,
    /// `parallel` or `serial`.
    pub mode: String,
    /// Its tools, as indices into [`Orchestration::tools`], by order.
    pub tools: Vec<usize>,
    /// Start: the level span's, else its first tool's.
    pub start_ns: u64,
    /// End: the level span's, else its last tool's.
    pub end_ns: u64,
    /// Levels holding dependencies of its tools.
    pub depends_on_groups: Vec<usize>,
}

impl Level {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// The orchestration recorded in a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Orchestration {
    /// `parallel`, `serial` or `dag`, when recorded.
    pub strategy: Option<String>,
    /// The plan's id, when recorded.
    pub plan_id: Option<String>,
    /// The execution plan carried by the `execute` span, when present and readable.
    pub execution_plan: Option<ExecutionPlan>,
    /// Index of the `execute` span in [`Trace::spans`], when present.
    pub execute_span: Option<usize>,
    /// The tools, by planned order.
    pub tools: Vec<ToolCall>,
    /// The levels, by index.
    pub levels: Vec<Level>,
    /// How many runs (`execute` spans with tools) the trace holds; only the first is read.
    pub runs: usize,
}

impl Orchestration {
    /// A tool by id.
    pub fn tool(&self, id: &str) -> Option<&ToolCall> {
        self.tools.iter().find(|t| t.id == id)
    }

    /// Index of a tool by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.tools.iter().position(|t| t.id == id)
    }

    /// Per tool, the indices of its dependencies (unknown ids left out).
    pub fn dependency_indices(&self) -> Vec<Vec<usize>> {
        self.tools
            .iter()
            .map(|t| {
                t.depends_on
                    .iter()
                    .filter_map(|d| self.index_of(d))
                    .collect()
            })
            .collect()
    }

    /// The execution plan's `output_mapping` of a tool, when the plan is present.
    pub fn plan_mapping(&self, id: &str) -> Option<&Map<String, Value>> {
        self.execution_plan.as_ref().and_then(|p| {
            p.execution_groups
                .iter()
                .flat_map(|g| &g.tools_info)
                .find(|t| t.tool_id == id)
                .map(|t| &t.output_mapping)
        })
    }

    /// First tool start (0 without tools).
    pub fn start_ns(&self) -> u64 {
        self.tools.iter().map(|t| t.start_ns).min().unwrap_or(0)
    }

    /// Last tool end (0 without tools).
    pub fn end_ns(&self) -> u64 {
        self.tools.iter().map(|t| t.end_ns).max().unwrap_or(0)
    }

    fn read(trace: &Trace) -> Option<Orchestration> {
        let spans = &trace.spans;
        let is_tool =
            |s: &Span| s.attr_str(attr::GEN_AI_OPERATION_NAME) == Some(attr::OP_EXECUTE_TOOL);
        let is_execute = |s: &Span| {
            s.attr(attr::EXECUTION_PLAN).is_some()
                || (s.name == "execute" && !is_tool(s) && s.attr(attr::EXECUTION_GROUP).is_none())
        };
        let run_of = |mut i: usize| -> Option<usize> {
            let mut hops = 0;
            while let Some(p) = spans[i].parent {
                if is_execute(&spans[p]) {
                    return Some(p);
                }
                i = p;
                hops += 1;
                if hops > spans.len() {
                    break;
                }
            }
            None
        };
        // Tool spans grouped by run; the earliest run is the one shown.
        let mut runs: BTreeMap<(u64, Option<usize>), Vec<usize>> = BTreeMap::new();
        let mut run_key: HashMap<Option<usize>, u64> = HashMap::new();
        let tool_spans: Vec<usize> = (0..spans.len()).filter(|&i| is_tool(&spans[i])).collect();
        if tool_spans.is_empty() {
            return None;
        }
        for &i in &tool_spans {
            let run = run_of(i);
            let first = *run_key.entry(run).or_insert_with(|| {
                run.map(|r| spans[r].start_ns).unwrap_or_else(|| {
                    tool_spans
                        .iter()
                        .filter(|&&j| run_of(j).is_none())
                        .map(|&j| spans[j].start_ns)
                        .min()
                        .unwrap_or(0)
                })
            });
            runs.entry((first, run)).or_default().push(i);
        }
        let n_runs = runs.len();
        let ((_, execute_span), members) = runs.into_iter().next()?;
        let execute = execute_span.map(|e| &spans[e]);

        let execution_plan: Option<ExecutionPlan> = execute
            .and_then(|e| e.attr_json(attr::EXECUTION_PLAN))
            .and_then(|v| serde_json::from_value(v).ok());
        let mut tools: Vec<ToolCall> = members.iter().map(|&i| tool_call(i, &spans[i])).collect();

        // Levels and order: recorded, else computed.
        let recorded_groups: Vec<Option<usize>> = members
            .iter()
            .map(|&i| {
                spans[i]
                    .attr_i64(attr::EXECUTION_GROUP)
                    .and_then(|g| usize::try_from(g).ok())
            })
            .collect();
        if recorded_groups.iter().any(Option::is_none) {
            let ids: Vec<String> = tools.iter().map(|t| t.id.clone()).collect();
            let deps: Vec<Vec<usize>> = tools
                .iter()
                .map(|t| {
                    t.depends_on
                        .iter()
                        .filter_map(|d| ids.iter().position(|x| x == d))
                        .collect()
                })
                .collect();
            let levels = levels_of(&deps);
            for (t, l) in tools.iter_mut().zip(levels) {
                t.group = l;
            }
        } else {
            for (t, g) in tools.iter_mut().zip(recorded_groups) {
                t.group = g.unwrap_or(0);
            }
        }
        let recorded_order: Vec<Option<usize>> = members
            .iter()
            .map(|&i| {
                spans[i]
                    .attr_i64(attr::EXECUTION_ORDER_INDEX)
                    .and_then(|o| usize::try_from(o).ok())
            })
            .collect();
        if recorded_order.iter().any(Option::is_none) {
            let mut idx: Vec<usize> = (0..tools.len()).collect();
            idx.sort_by_key(|&k| (tools[k].group, tools[k].start_ns, k));
            for (rank, k) in idx.into_iter().enumerate() {
                tools[k].order = rank;
            }
        } else {
            for (t, o) in tools.iter_mut().zip(recorded_order) {
                t.order = o.unwrap_or(0);
            }
        }
        tools.sort_by(|a, b| {
            (a.order, a.group, a.start_ns, a.span).cmp(&(b.order, b.group, b.start_ns, b.span))
        });

        let strategy = execute
            .and_then(|e| e.attr_str(attr::EXECUTION_STRATEGY))
            .or_else(|| {
                tools
                    .iter()
                    .find_map(|t| spans[t.span].attr_str(attr::EXECUTION_STRATEGY))
            })
            .map(str::to_owned)
            .or_else(|| {
                execution_plan
                    .as_ref()
                    .map(|p| p.execution_strategy.as_str().to_owned())
            });
        let plan_id = execute
            .and_then(|e| e.attr_str(attr::PLAN_ID))
            .map(str::to_owned);

        // Level spans of this run: spans with a group and a mode that are not tools.
        let level_spans: HashMap<usize, usize> = (0..spans.len())
            .filter(|&i| {
                let s = &spans[i];
                !is_tool(s)
                    && s.attr(attr::EXECUTION_MODE).is_some()
                    && s.attr(attr::EXECUTION_GROUP).is_some()
                    && (execute_span.is_none() || s.parent == execute_span)
            })
            .filter_map(|i| {
                let g = usize::try_from(spans[i].attr_i64(attr::EXECUTION_GROUP)?).ok()?;
                Some((g, i))
            })
            .collect();
        let n_levels = tools.iter().map(|t| t.group + 1).max().unwrap_or(0);
        let ids: Vec<&str> = tools.iter().map(|t| t.id.as_str()).collect();
        let mut levels = Vec::with_capacity(n_levels);
        for g in 0..n_levels {
            let members: Vec<usize> = (0..tools.len()).filter(|&k| tools[k].group == g).collect();
            if members.is_empty() {
                continue;
            }
            let span = level_spans.get(&g).map(|&i| &spans[i]);
            let planned = execution_plan
                .as_ref()
                .and_then(|p| p.execution_groups.iter().find(|x| x.group_index == g));
            let mode = span
                .and_then(|s| s.attr_str(attr::EXECUTION_MODE))
                .map(str::to_owned)
                .or_else(|| planned.map(|p| p.execution_mode.as_str().to_owned()))
                .unwrap_or_else(|| {
                    if members.len() > 1 {
                        "parallel"
                    } else {
                        "serial"
                    }
                    .to_owned()
                });
            let first = members
                .iter()
                .map(|&k| tools[k].start_ns)
                .min()
                .unwrap_or(0);
            let last = members.iter().map(|&k| tools[k].end_ns).max().unwrap_or(0);
            let (start_ns, end_ns) = match span {
                Some(s) => (s.start_ns.min(first), s.end_ns.max(last)),
                None => (first, last),
            };
            let depends_on_groups = match planned {
                Some(p) => p.depends_on_groups.clone(),
                None => {
                    let mut d: Vec<usize> = members
                        .iter()
                        .flat_map(|&k| tools[k].depends_on.iter())
                        .filter_map(|id| ids.iter().position(|x| x == id))
                        .map(|k| tools[k].group)
                        .filter(|&x| x != g)
                        .collect();
                    d.sort_unstable();
                    d.dedup();
                    d
                }
            };
            levels.push(Level {
                index: g,
                mode,
                tools: members,
                start_ns,
                end_ns,
                depends_on_groups,
            });
        }
        Some(Orchestration {
            strategy,
            plan_id,
            execution_plan,
            execute_span,
            tools,
            levels,
            runs: n_runs,
        })
    }
}

fn tool_call(i: usize, s: &Span) -> ToolCall {
    let id = s
        .attr_str(attr::TOOL_ID)
        .or_else(|| s.attr_str(attr::GEN_AI_TOOL_CALL_ID))
        .unwrap_or(&s.name)
        .to_owned();
    let tool = s
        .attr_str(attr::GEN_AI_TOOL_NAME)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            s.name
                .strip_prefix("execute_tool ")
                .unwrap_or(&s.name)
                .to_owned()
        });
    let status = s
        .attr_str(attr::STATUS)
        .map(str::to_owned)
        .unwrap_or_else(|| if s.is_error() { "error" } else { "ok" }.to_owned());
    let data_flow = match s.attr_json(attr::DATA_FLOW_INPUTS) {
        Some(Value::Object(m)) => m
            .into_iter()
            .map(|(key, entry)| match entry {
                Value::Object(mut e) if e.contains_key("expression") => DataFlowEntry {
                    key,
                    expression: e.remove("expression").unwrap_or(Value::Null),
                    value: e.remove("value").unwrap_or(Value::Null),
                },
                other => DataFlowEntry {
                    key,
                    expression: Value::Null,
                    value: other,
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut retry_lost: Option<f64> = None;
    for e in &s.events {
        let at = e.time_ns.saturating_sub(s.start_ns) as f64 / 1e6;
        let lost = match e.name.as_str() {
            "retry" => {
                at + e
                    .attributes
                    .get("backoff_ms")
                    .and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(0.0)
            }
            "fallback" => at,
            _ => continue,
        };
        retry_lost = Some(retry_lost.unwrap_or(0.0).max(lost));
    }
    let duration_ms = s.duration_ns() as f64 / 1e6;
    let error_message = (s.status.code == StatusCode::Error && !s.status.message.is_empty())
        .then(|| s.status.message.clone());
    // A skipped tool never ran: its span only marks the moment it was skipped.
    let end_ns = if status == "skipped" {
        s.start_ns
    } else {
        s.end_ns
    };
    ToolCall {
        span: i,
        id,
        tool,
        asset_id: s.attr_str(attr::ASSET_ID).map(str::to_owned),
        group: 0,
        order: 0,
        status,
        start_ns: s.start_ns,
        end_ns,
        params: s.attr_json(attr::PARAMS),
        parallel_with: s.attr_list(attr::PARALLEL_WITH).unwrap_or_default(),
        depends_on: s.attr_list(attr::DEPENDS_ON).unwrap_or_default(),
        data_flow,
        result_count: s.attr_i64(attr::RESULT_COUNT),
        result_size_bytes: s.attr_i64(attr::RESULT_SIZE_BYTES),
        queue_wait_ms: s.attr_f64(attr::QUEUE_WAIT_MS),
        retry_count: s
            .attr_i64(attr::RETRY_COUNT)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0),
        fallback_used: s.attr_bool(attr::FALLBACK_USED).unwrap_or(false),
        cache_hit: s.attr_bool(attr::CACHE_HIT).unwrap_or(false),
        error_type: s.attr_str(attr::ERROR_TYPE).map(str::to_owned),
        error_message,
        skip_reason: s.attr_str(attr::SKIP_REASON).map(str::to_owned),
        retry_lost_ms: retry_lost.map(|l| l.min(duration_ms)),
    }
}
