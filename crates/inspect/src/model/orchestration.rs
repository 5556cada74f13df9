//! The orchestration view of a trace: the run's tools ([`ToolCall`]) and levels
//! ([`LevelRun`]) read back from the orchestrace attributes of its spans, in the library's own
//! vocabulary ([`ToolStatus`], [`Strategy`], [`ExecutionMode`], [`DataFlowInput`]).
//!
//! Reading is linear in the number of spans: each span's run is found once (memoized walk up
//! the parents), tools are looked up by id through a hash map, and levels are bucketed in
//! one pass.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Map, Value};

use orchestrace::plan::Strategy;
use orchestrace::run::{DataFlowInput, ToolStatus};
use orchestrace::schedule::{ExecutionMode, ExecutionPlan};
use orchestrace::semconv as attr;

use super::trace::{value_f64, StatusCode, Trace, TraceSpan};

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
    /// How it ended. A status text this library does not write (from another producer) is
    /// read as `error` when the span failed, else `ok`, and kept in [`status_text`].
    ///
    /// [`status_text`]: ToolCall::status_text
    pub status: ToolStatus,
    /// The recorded status text when it is none of ours (`ok`, `error`, `skipped`,
    /// `cancelled`).
    pub status_text: Option<String>,
    /// Start, in nanoseconds since the Unix epoch.
    pub start_ns: u64,
    /// End, in nanoseconds since the Unix epoch (the start, for a skipped tool).
    pub end_ns: u64,
    /// The static params (`orchestration.params`).
    pub params: Option<Value>,
    /// Other tools of its group, as its span lists them: empty in a wide level, whose span
    /// lists them once (see [`Orchestration::parallel_with`]).
    pub parallel_with: Vec<String>,
    /// Every dependency (explicit and implicit).
    pub depends_on: Vec<String>,
    /// The data flow: template → resolved value (`None` when unresolved), per input key.
    pub data_flow: Vec<DataFlowInput>,
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

/// Reads a status text: ours as they are, common spellings of other producers mapped onto
/// them, anything else `None`.
pub fn parse_status(text: &str) -> Option<ToolStatus> {
    match text.trim().to_ascii_lowercase().as_str() {
        "ok" | "success" | "succeeded" | "completed" | "done" => Some(ToolStatus::Ok),
        "error" | "failed" | "failure" | "timeout" => Some(ToolStatus::Error),
        "skipped" | "skip" => Some(ToolStatus::Skipped),
        "cancelled" | "canceled" | "aborted" => Some(ToolStatus::Cancelled),
        _ => None,
    }
}

impl ToolCall {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }

    /// Whether it started (an `ok` or `error` tool, or one cancelled mid-run).
    pub fn ran(&self) -> bool {
        !(self.status == ToolStatus::Skipped
            || (self.status == ToolStatus::Cancelled && self.end_ns == self.start_ns))
    }

    /// The status as shown: the recorded text of a foreign status, else ours.
    pub fn status_label(&self) -> &str {
        self.status_text
            .as_deref()
            .unwrap_or_else(|| self.status.as_str())
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

/// A level (execution group) as it ran.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelRun {
    /// Its index.
    pub index: usize,
    /// Parallel or serial.
    pub mode: ExecutionMode,
    /// Its tools, as indices into [`Orchestration::tools`], by order.
    pub tools: Vec<usize>,
    /// Start: the level span's, else its first tool's.
    pub start_ns: u64,
    /// End: the level span's, else its last tool's.
    pub end_ns: u64,
    /// Levels holding dependencies of its tools.
    pub depends_on_groups: Vec<usize>,
}

impl LevelRun {
    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 1e6
    }
}

/// The orchestration recorded in a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Orchestration {
    /// The strategy, when recorded (and one of ours).
    pub strategy: Option<Strategy>,
    /// The plan's id, when recorded.
    pub plan_id: Option<String>,
    /// The execution plan carried by the `execute` span, when present and readable.
    pub execution_plan: Option<Arc<ExecutionPlan>>,
    /// Index of the `execute` span in [`Trace::spans`], when present.
    pub execute_span: Option<usize>,
    /// The tools, by planned order.
    pub tools: Vec<ToolCall>,
    /// The levels, by index.
    pub levels: Vec<LevelRun>,
    /// How many runs (`execute` spans with tools) the trace holds; only the first is read.
    pub runs: usize,
    /// Whether the tools carry dependency data (the execution plan, or `depends_on` on a
    /// tool span), so that the dependency-based critical path means something.
    pub has_dependency_data: bool,
    index: HashMap<String, usize>,
    mappings: HashMap<String, (usize, usize)>,
}

impl Orchestration {
    /// The other tools of tool `t`'s level, as far as they are shown: those its span lists,
    /// else (tool spans of a wide level carry only the count) the first
    /// [`attr::MAX_PARALLEL_WITH`] of its level. Read when drawn rather than stored with every
    /// tool: at 50,000 tools in wide levels the copies were 20 MB.
    pub fn parallel_with(&self, t: usize) -> Vec<&str> {
        let tool = &self.tools[t];
        if !tool.parallel_with.is_empty() {
            return tool.parallel_with.iter().map(String::as_str).collect();
        }
        let Ok(l) = self
            .levels
            .binary_search_by_key(&tool.group, |level| level.index)
        else {
            return Vec::new();
        };
        let level = &self.levels[l];
        if level.mode != ExecutionMode::Parallel || level.tools.len() < 2 {
            return Vec::new();
        }
        level
            .tools
            .iter()
            .filter(|&&p| p != t)
            .take(attr::MAX_PARALLEL_WITH)
            .map(|&p| self.tools[p].id.as_str())
            .collect()
    }

    /// A tool by id.
    pub fn tool(&self, id: &str) -> Option<&ToolCall> {
        self.index_of(id).map(|i| &self.tools[i])
    }

    /// Index of a tool by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
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
        let &(g, k) = self.mappings.get(id)?;
        let plan = self.execution_plan.as_deref()?;
        Some(&plan.execution_groups[g].tools_info[k].output_mapping)
    }

    /// First tool start (0 without tools).
    pub fn start_ns(&self) -> u64 {
        self.tools.iter().map(|t| t.start_ns).min().unwrap_or(0)
    }

    /// Last tool end (0 without tools).
    pub fn end_ns(&self) -> u64 {
        self.tools.iter().map(|t| t.end_ns).max().unwrap_or(0)
    }

    /// Assembles an orchestration from its tools (any order): sorts them by planned order,
    /// indexes them and builds the levels.
    pub(crate) fn assemble(
        parts: Parts,
        level_spans: &dyn Fn(usize) -> Option<(u64, u64, Option<ExecutionMode>)>,
    ) -> Orchestration {
        let Parts {
            strategy,
            plan_id,
            execution_plan,
            execute_span,
            mut tools,
            runs,
            has_dependency_data,
        } = parts;
        tools.sort_by(|a, b| {
            (a.order, a.group, a.start_ns, a.span).cmp(&(b.order, b.group, b.start_ns, b.span))
        });
        let mut index = HashMap::with_capacity(tools.len());
        for (i, t) in tools.iter().enumerate() {
            index.entry(t.id.clone()).or_insert(i);
        }
        let mut mappings = HashMap::new();
        if let Some(p) = &execution_plan {
            for (g, group) in p.execution_groups.iter().enumerate() {
                for (k, t) in group.tools_info.iter().enumerate() {
                    mappings.entry(t.tool_id.clone()).or_insert((g, k));
                }
            }
        }
        let levels = build_levels(&tools, &index, execution_plan.as_deref(), level_spans);
        Orchestration {
            strategy,
            plan_id,
            execution_plan,
            execute_span,
            tools,
            levels,
            runs,
            has_dependency_data,
            index,
            mappings,
        }
    }

    pub(crate) fn read(trace: &Trace) -> Option<Orchestration> {
        let spans = &trace.spans;
        let runs = runs_by_execute_span(spans)?;
        let n_runs = runs.len();
        let ((_, execute_span), members) = runs.into_iter().next()?;
        let execute = execute_span.map(|e| &spans[e]);

        // Shared with the trace (the plan of 50,000 tools is 7 MB), or read from the span.
        let execution_plan: Option<Arc<ExecutionPlan>> =
            trace.execution_plan.clone().or_else(|| {
                execute
                    .and_then(|e| e.attr_json(attr::EXECUTION_PLAN))
                    .and_then(|v| serde_json::from_value(v).ok())
                    .map(Arc::new)
            });
        let mut tools: Vec<ToolCall> = members.iter().map(|&i| tool_call(i, &spans[i])).collect();
        assign_groups(&mut tools, spans);
        assign_order(&mut tools, spans);

        let strategy = execute
            .and_then(|e| e.attr_str(attr::EXECUTION_STRATEGY))
            .or_else(|| {
                tools
                    .iter()
                    .find_map(|t| spans[t.span].attr_str(attr::EXECUTION_STRATEGY))
            })
            .and_then(parse_strategy)
            .or_else(|| execution_plan.as_deref().map(|p| p.execution_strategy));
        let plan_id = execute
            .and_then(|e| e.attr_str(attr::PLAN_ID))
            .map(str::to_owned);
        let has_dependency_data = execution_plan.is_some()
            || tools
                .iter()
                .any(|t| spans[t.span].attr(attr::DEPENDS_ON).is_some());

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
        let level_span = |g: usize| {
            let s = &spans[*level_spans.get(&g)?];
            let mode = s.attr_str(attr::EXECUTION_MODE).and_then(parse_mode);
            Some((s.start_ns, s.end_ns, mode))
        };
        Some(Orchestration::assemble(
            Parts {
                strategy,
                plan_id,
                execution_plan,
                execute_span,
                tools,
                runs: n_runs,
                has_dependency_data,
            },
            &level_span,
        ))
    }
}

/// What [`Orchestration::assemble`] builds from.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) strategy: Option<Strategy>,
    pub(crate) plan_id: Option<String>,
    pub(crate) execution_plan: Option<Arc<ExecutionPlan>>,
    pub(crate) execute_span: Option<usize>,
    pub(crate) tools: Vec<ToolCall>,
    pub(crate) runs: usize,
    pub(crate) has_dependency_data: bool,
}

/// `parallel`, `serial` or `dag` (any case).
pub(crate) fn parse_strategy(s: &str) -> Option<Strategy> {
    match s.trim().to_ascii_lowercase().as_str() {
        "parallel" => Some(Strategy::Parallel),
        "serial" => Some(Strategy::Serial),
        "dag" => Some(Strategy::Dag),
        _ => None,
    }
}

/// `parallel` or `serial` (any case).
pub(crate) fn parse_mode(s: &str) -> Option<ExecutionMode> {
    match s.trim().to_ascii_lowercase().as_str() {
        "parallel" => Some(ExecutionMode::Parallel),
        "serial" => Some(ExecutionMode::Serial),
        _ => None,
    }
}

fn is_tool(s: &TraceSpan) -> bool {
    s.attr_str(attr::GEN_AI_OPERATION_NAME) == Some(attr::OP_EXECUTE_TOOL)
}

fn is_execute(s: &TraceSpan) -> bool {
    s.attr(attr::EXECUTION_PLAN).is_some()
        || (s.name == attr::SPAN_EXECUTE && !is_tool(s) && s.attr(attr::EXECUTION_GROUP).is_none())
}

/// Tool span indices by run: `(first start, execute span)`.
type Runs = BTreeMap<(u64, Option<usize>), Vec<usize>>;

/// Tool spans grouped by run; the first key is the run shown. `None` without tool spans.
fn runs_by_execute_span(spans: &[TraceSpan]) -> Option<Runs> {
    let tool_spans: Vec<usize> = (0..spans.len()).filter(|&i| is_tool(&spans[i])).collect();
    if tool_spans.is_empty() {
        return None;
    }
    let run_of = nearest_execute_ancestors(spans);
    let orphan_start = tool_spans
        .iter()
        .filter(|&&j| run_of[j].is_none())
        .map(|&j| spans[j].start_ns)
        .min()
        .unwrap_or(0);
    let mut runs: BTreeMap<(u64, Option<usize>), Vec<usize>> = BTreeMap::new();
    for &i in &tool_spans {
        let run = run_of[i];
        let first = run.map(|r| spans[r].start_ns).unwrap_or(orphan_start);
        runs.entry((first, run)).or_default().push(i);
    }
    Some(runs)
}

/// Per span, its nearest proper ancestor that is an `execute` span: each span's answer is
/// computed once, walking up only until a span with a known answer.
fn nearest_execute_ancestors(spans: &[TraceSpan]) -> Vec<Option<usize>> {
    let mut memo: Vec<Option<Option<usize>>> = vec![None; spans.len()];
    let mut path = Vec::new();
    for i in 0..spans.len() {
        let mut cur = i;
        // Walk up until the answer for `cur` is known (a hand-built cyclic trace stops after
        // every span was passed once).
        let mut answer = loop {
            if let Some(a) = memo[cur] {
                break a;
            }
            if path.len() > spans.len() {
                break None;
            }
            path.push(cur);
            match spans[cur].parent {
                Some(p) if is_execute(&spans[p]) => break Some(p),
                Some(p) => cur = p,
                None => break None,
            }
        };
        // Fill in from the top down: a span's answer is its parent if that is an `execute`
        // span, else its parent's answer.
        while let Some(c) = path.pop() {
            if let Some(p) = spans[c].parent {
                if is_execute(&spans[p]) {
                    answer = Some(p);
                }
            }
            memo[c] = Some(answer);
        }
    }
    memo.into_iter().map(Option::flatten).collect()
}

/// Levels: recorded on every tool span, else computed from the dependencies.
fn assign_groups(tools: &mut [ToolCall], spans: &[TraceSpan]) {
    let recorded: Vec<Option<usize>> = tools
        .iter()
        .map(|t| {
            spans[t.span]
                .attr_i64(attr::EXECUTION_GROUP)
                .and_then(|g| usize::try_from(g).ok())
        })
        .collect();
    if recorded.iter().all(Option::is_some) {
        for (t, g) in tools.iter_mut().zip(recorded) {
            t.group = g.unwrap_or(0);
        }
        return;
    }
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        ids.entry(t.id.as_str()).or_insert(i);
    }
    let deps: Vec<Vec<usize>> = tools
        .iter()
        .map(|t| {
            t.depends_on
                .iter()
                .filter_map(|d| ids.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let levels = crate::analysis::levels(&deps);
    for (t, l) in tools.iter_mut().zip(levels) {
        t.group = l;
    }
}

/// Planned order: recorded on every tool span, else by level and start time.
fn assign_order(tools: &mut [ToolCall], spans: &[TraceSpan]) {
    let recorded: Vec<Option<usize>> = tools
        .iter()
        .map(|t| {
            spans[t.span]
                .attr_i64(attr::EXECUTION_ORDER_INDEX)
                .and_then(|o| usize::try_from(o).ok())
        })
        .collect();
    if recorded.iter().all(Option::is_some) {
        for (t, o) in tools.iter_mut().zip(recorded) {
            t.order = o.unwrap_or(0);
        }
        return;
    }
    let mut idx: Vec<usize> = (0..tools.len()).collect();
    idx.sort_by_key(|&k| (tools[k].group, tools[k].start_ns, k));
    for (rank, k) in idx.into_iter().enumerate() {
        tools[k].order = rank;
    }
}

/// The levels of sorted tools: one bucket pass, then per level its span's times and mode
/// (else the plan's mode, else parallel with more than one tool), and the levels its tools
/// depend on.
fn build_levels(
    tools: &[ToolCall],
    index: &HashMap<String, usize>,
    plan: Option<&ExecutionPlan>,
    level_span: &dyn Fn(usize) -> Option<(u64, u64, Option<ExecutionMode>)>,
) -> Vec<LevelRun> {
    let n_levels = tools.iter().map(|t| t.group + 1).max().unwrap_or(0);
    let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); n_levels];
    for (k, t) in tools.iter().enumerate() {
        buckets[t.group].push(k);
    }
    let planned: HashMap<usize, &orchestrace::schedule::ExecutionGroup> = plan
        .map(|p| {
            p.execution_groups
                .iter()
                .map(|g| (g.group_index, g))
                .collect()
        })
        .unwrap_or_default();
    let mut levels = Vec::new();
    for (g, members) in buckets.into_iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        let span = level_span(g);
        let planned = planned.get(&g);
        let mode = span
            .and_then(|s| s.2)
            .or_else(|| planned.map(|p| p.execution_mode))
            .unwrap_or(if members.len() > 1 {
                ExecutionMode::Parallel
            } else {
                ExecutionMode::Serial
            });
        let first = members
            .iter()
            .map(|&k| tools[k].start_ns)
            .min()
            .unwrap_or(0);
        let last = members.iter().map(|&k| tools[k].end_ns).max().unwrap_or(0);
        let (start_ns, end_ns) = match span {
            Some((s, e, _)) => (s.min(first), e.max(last)),
            None => (first, last),
        };
        let depends_on_groups = match planned {
            Some(p) => p.depends_on_groups.clone(),
            None => {
                let mut d: Vec<usize> = members
                    .iter()
                    .flat_map(|&k| tools[k].depends_on.iter())
                    .filter_map(|id| index.get(id))
                    .map(|&k| tools[k].group)
                    .filter(|&x| x != g)
                    .collect();
                d.sort_unstable();
                d.dedup();
                d
            }
        };
        levels.push(LevelRun {
            index: g,
            mode,
            tools: members,
            start_ns,
            end_ns,
            depends_on_groups,
        });
    }
    levels
}

/// The status of a tool span: the recorded text read as ours (a foreign text kept beside it),
/// else from the span's status.
fn tool_status(s: &TraceSpan) -> (ToolStatus, Option<String>) {
    let fallback = if s.is_error() {
        ToolStatus::Error
    } else {
        ToolStatus::Ok
    };
    match s.attr_str(attr::STATUS) {
        None => (fallback, None),
        Some(text) => match parse_status(text) {
            Some(st) if st.as_str() == text => (st, None),
            Some(st) => (st, Some(text.to_owned())),
            None => (fallback, Some(text.to_owned())),
        },
    }
}

fn data_flow(s: &TraceSpan) -> Vec<DataFlowInput> {
    let Some(Value::Object(m)) = s.attr_json(attr::DATA_FLOW_INPUTS) else {
        return Vec::new();
    };
    m.into_iter()
        .map(|(key, entry)| match entry {
            Value::Object(mut e) if e.contains_key(attr::DATA_FLOW_EXPRESSION) => DataFlowInput {
                key,
                expression: e.remove(attr::DATA_FLOW_EXPRESSION).unwrap_or(Value::Null),
                value: e
                    .remove(attr::DATA_FLOW_VALUE)
                    .filter(|v| !v.is_null())
                    .map(Arc::new),
            },
            other => DataFlowInput {
                key,
                expression: Value::Null,
                value: Some(Arc::new(other)),
            },
        })
        .collect()
}

/// From the start to the last retry's backoff end or the fallback's start, in milliseconds.
fn retry_lost_ms(s: &TraceSpan) -> Option<f64> {
    let mut lost_max: Option<f64> = None;
    for e in &s.events {
        let at = e.time_ns.saturating_sub(s.start_ns) as f64 / 1e6;
        let lost = match e.name.as_str() {
            attr::EVENT_RETRY => {
                at + e
                    .attributes
                    .get(attr::RETRY_BACKOFF_MS)
                    .and_then(value_f64)
                    .unwrap_or(0.0)
            }
            attr::EVENT_FALLBACK => at,
            _ => continue,
        };
        lost_max = Some(lost_max.unwrap_or(0.0).max(lost));
    }
    lost_max
}

fn tool_call(i: usize, s: &TraceSpan) -> ToolCall {
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
                .strip_prefix(attr::OP_EXECUTE_TOOL)
                .and_then(|r| r.strip_prefix(' '))
                .unwrap_or(&s.name)
                .to_owned()
        });
    let (status, status_text) = tool_status(s);
    let duration_ms = s.duration_ns() as f64 / 1e6;
    let error_message = (s.status.code == StatusCode::Error && !s.status.message.is_empty())
        .then(|| s.status.message.clone());
    // A skipped tool never ran: its span only marks the moment it was skipped.
    let end_ns = if status == ToolStatus::Skipped {
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
        status_text,
        start_ns: s.start_ns,
        end_ns,
        params: s.attr_json(attr::PARAMS),
        parallel_with: s.attr_list(attr::PARALLEL_WITH).unwrap_or_default(),
        depends_on: s.attr_list(attr::DEPENDS_ON).unwrap_or_default(),
        data_flow: data_flow(s),
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
        retry_lost_ms: retry_lost_ms(s).map(|l| l.min(duration_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::trace::span;
    use crate::model::TraceFormat;
    use serde_json::json;

    fn tool(id: &str, status: &str, start: u64, end: u64) -> TraceSpan {
        let mut s = span(id, None, start, end);
        s.attributes.insert(
            attr::GEN_AI_OPERATION_NAME.into(),
            json!(attr::OP_EXECUTE_TOOL),
        );
        s.attributes.insert(attr::TOOL_ID.into(), json!(id));
        s.attributes.insert(attr::STATUS.into(), json!(status));
        s
    }

    #[test]
    fn foreign_statuses_map_to_ours_and_keep_their_text() {
        let mut failed = tool("c", "exploded", 0, 5);
        failed.status.code = StatusCode::Error;
        let t = Trace::new(
            vec![
                tool("a", "ok", 0, 1),
                tool("b", "Canceled", 0, 1),
                failed,
                tool("d", "weird", 0, 1),
            ],
            TraceFormat::Otlp,
        );
        let o = t.orchestration().unwrap();
        let got: Vec<(ToolStatus, Option<&str>)> = o
            .tools
            .iter()
            .map(|t| (t.status, t.status_text.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                (ToolStatus::Ok, None),
                (ToolStatus::Cancelled, Some("Canceled")),
                (ToolStatus::Error, Some("exploded")),
                (ToolStatus::Ok, Some("weird")),
            ]
        );
        assert_eq!(o.tools[2].status_label(), "exploded");
    }

    #[test]
    fn unresolved_data_flow_values_are_none() {
        let mut s = tool("a", "error", 0, 1);
        s.attributes.insert(
            attr::DATA_FLOW_INPUTS.into(),
            json!(r#"{"q": {"expression": "{b.x}"}, "r": {"expression": "{b.y}", "value": 3}}"#),
        );
        let t = Trace::new(vec![s], TraceFormat::Otlp);
        let o = t.orchestration().unwrap();
        assert_eq!(o.tools[0].data_flow[0].value, None);
        assert_eq!(o.tools[0].data_flow[1].value, Some(Arc::new(json!(3))));
    }
}
