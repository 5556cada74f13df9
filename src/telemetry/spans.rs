//! The span tree of a run, emitted through `tracing` as the run happens.
//!
//! ```text
//! execute                          orchestration.execution_plan, strategy; at its end the
//! ├─ level 0 (parallel)            totals and the critical path
//! │  ├─ execute_tool ci_lookup     one per tool, with every orchestration.* attribute
//! │  └─ execute_tool ci_lookup
//! └─ level 1 (serial)              opens when its first tool starts, closes when its last ends
//!    └─ execute_tool ci_aggregate  links → its dependencies' spans
//! ```
//!
//! Fixed attributes are declared in the span macros (the cheap path); arrays and
//! late values go through `tracing-opentelemetry`'s span extension. Without an OpenTelemetry
//! layer in the subscriber all of this costs next to nothing.
//!
//! Cost (measured in `benches/`): every value that takes work to build — JSON of params,
//! data flow and the execution plan, the id arrays, links — is built only when the span is
//! enabled (`Span::is_disabled`), so an untraced run pays for none of it. Tool ids are
//! interned once per run as `Arc<str>`: `parallel_with` holds a group's other ids on every
//! tool span of the group, and cloning an `Arc` there instead of a `String` keeps that
//! attribute to a reference-count increment per entry.

use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Array, KeyValue, StringValue, Value as OtelValue};
use serde_json::{Map, Value};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::content::{json_limited, TelemetryConfig};
use crate::dataflow::json_size;
use crate::execute::{Fallback, Observer, Retry, RunStart};
use crate::run::{ms, DataFlowInput, RunReport, ToolError, ToolRun, ToolStatus};
use crate::schedule::AnalyzedPlan;
use crate::semconv as attr;
use std::sync::Arc;

fn string_array(items: Vec<String>) -> OtelValue {
    OtelValue::Array(Array::String(
        items.into_iter().map(StringValue::from).collect(),
    ))
}

/// The interned ids of `tools` as a string array (no string is copied).
fn id_array(ids: &[StringValue], tools: impl Iterator<Item = usize>) -> OtelValue {
    OtelValue::Array(Array::String(tools.map(|t| ids[t].clone()).collect()))
}

/// The `tracing` name of a [`Runner`](crate::Runner)'s root span (its OpenTelemetry name is
/// `invoke_workflow {workflow}`). Not `invoke_workflow`, so that it is not taken for a host's
/// invocation by [`in_host_invocation`].
pub const ROOT_SPAN_NAME: &str = "orchestrace.invoke_workflow";

/// Whether the current span is, or is inside, a host's own invocation span: a span whose
/// `tracing` name is `invoke_workflow` or `invoke_agent`. Ancestors are looked up in the
/// `tracing-subscriber` registry of the current dispatcher; without one (or outside any
/// span) the answer is `false`.
pub fn in_host_invocation() -> bool {
    use tracing_subscriber::registry::LookupSpan;
    let Some(id) = Span::current().id() else {
        return false;
    };
    tracing::dispatcher::get_default(|d| {
        let Some(registry) = d.downcast_ref::<tracing_subscriber::Registry>() else {
            return false;
        };
        let Some(span) = registry.span(&id) else {
            return false;
        };
        span.scope().any(|s| {
            matches!(
                s.metadata().name(),
                attr::OP_INVOKE_WORKFLOW | attr::OP_INVOKE_AGENT
            )
        })
    })
}

/// The open spans of one run: the span observer. Dropping it before the run finished (the
/// run future was dropped) ends every open tool span as `cancelled`.
pub(crate) struct RunSpans<'a> {
    plan: &'a AnalyzedPlan,
    config: Arc<TelemetryConfig>,
    execute: Span,
    levels: Vec<Option<Span>>,
    level_remaining: Vec<usize>,
    tools: Vec<Option<Span>>,
    contexts: Vec<Option<SpanContext>>,
    /// Tool ids by plan index, interned on first use by an enabled span.
    ids: Vec<StringValue>,
    /// The outcome fields of the tool span's callsite, looked up by name once.
    outcome_fields: Option<[tracing::field::Field; 9]>,
    /// Values seen under secret keys in this run, redacted wherever they travel next.
    secrets: Vec<String>,
    /// `execute_tool {type}` by tool type, written once per type rather than once per tool.
    span_names: rustc_hash::FxHashMap<&'a str, String>,
    finished: bool,
}

/// The observer that makes a run's spans.
pub(crate) fn observe<'a>(run: &RunStart<'a>) -> Box<dyn Observer + 'a> {
    RunSpans::observer(run)
}

impl<'a> RunSpans<'a> {
    fn observer(run: &RunStart<'a>) -> Box<dyn Observer + 'a> {
        let spans = RunSpans::start(run.plan, run.content.clone());
        if let Some(asset) = run.asset_id {
            spans.execute.record(attr::ASSET_ID, asset);
        }
        Box::new(spans)
    }

    /// Opens the `execute` span (a child of the current span).
    fn start(plan: &'a AnalyzedPlan, config: Arc<TelemetryConfig>) -> Self {
        let strategy = plan.strategy().as_str();
        let execute = tracing::info_span!(
            "execute",
            otel.name = "execute",
            orchestration.stage = "execute",
            orchestration.asset_id = Empty,
            orchestration.plan_id = %plan.plan().plan_id,
            orchestration.execution_strategy = strategy,
            orchestration.execution_plan = Empty,
            orchestration.status = Empty,
            orchestration.total_duration_ms = Empty,
            orchestration.serial_duration_ms = Empty,
            orchestration.time_saved_ms = Empty,
            orchestration.critical_path_ms = Empty,
        );
        if !execute.is_disabled() {
            execute.record(attr::EXECUTION_PLAN, execution_plan_json(plan, &config));
        }
        let n = plan.plan().tools.len();
        RunSpans {
            plan,
            config,
            execute,
            levels: vec![None; plan.groups().len()],
            level_remaining: plan.groups().iter().map(|g| g.tools.len()).collect(),
            tools: vec![None; n],
            contexts: vec![None; n],
            ids: Vec::new(),
            outcome_fields: None,
            secrets: Vec::new(),
            span_names: Default::default(),
            finished: false,
        }
    }

    /// The interned tool ids (built on the first call).
    fn ids(&mut self, plan: &AnalyzedPlan) -> &[StringValue] {
        if self.ids.is_empty() {
            self.ids = plan
                .plan()
                .tools
                .iter()
                .map(|t| StringValue::from(Arc::<str>::from(t.id.as_str())))
                .collect();
        }
        &self.ids
    }

    /// The id of level `g`'s span, opened with its first tool (an id, not a clone of the
    /// span: a clone and its drop are two more dispatches per tool).
    fn level(&mut self, plan: &AnalyzedPlan, g: usize) -> Option<tracing::Id> {
        if let Some(span) = &self.levels[g] {
            return span.id();
        }
        let group = &plan.groups()[g];
        let mode = group.mode.as_str();
        let span = tracing::info_span!(
            parent: &self.execute,
            "level",
            otel.name = format!("level {g} ({mode})"),
            orchestration.stage = "execute",
            orchestration.execution_group = g as i64,
            orchestration.execution_mode = mode,
        );
        if !span.is_disabled() {
            let tools = id_array(self.ids(plan), group.tools.iter().copied());
            span.set_attribute(attr::GROUP_TOOLS, tools);
        }
        let id = span.id();
        self.levels[g] = Some(span);
        id
    }

    /// The tool's span. Values known now are given to the macro, which evaluates them only
    /// when the span is enabled and records them all in one dispatch (one `record` each
    /// cost a dispatch through every layer).
    fn tool_span(
        &mut self,
        plan: &'a AnalyzedPlan,
        i: usize,
        rec: &ToolRun,
        queue_wait_ms: Option<f64>,
    ) -> Span {
        let level = self.level(plan, rec.group);
        let spec = &plan.plan().tools[i];
        let redactor = self.config.redactor();
        // The input holds the params (and the mapped values): walking it covers both. A tool
        // that never started has no input; its params are walked where they are.
        match &rec.input {
            Some(input) => redactor.collect_secrets(input, &mut self.secrets),
            None if !spec.params.is_empty() && redactor.would_redact_map(&spec.params) => {
                redactor.collect_secrets(&Value::Object(spec.params.clone()), &mut self.secrets)
            }
            None => {}
        }
        // A data-flow value read through a secret key is a secret wherever it lands.
        for (input, (_, mapping)) in rec.data_flow.iter().zip(&plan.graph().mappings[i]) {
            let through_secret = mapping.references().iter().any(|r| {
                r.path.iter().any(
                    |s| matches!(s, crate::dataflow::Step::Key(k) if redactor.is_secret_key(k)),
                )
            });
            if through_secret {
                if let Some(v) = &input.value {
                    secret_strings(redactor, v, &mut self.secrets);
                }
            }
        }
        let name = self
            .span_names
            .entry(spec.tool.as_str())
            .or_insert_with(|| format!("execute_tool {}", spec.tool));
        let (config, secrets) = (&self.config, &self.secrets);
        let span = tracing::info_span!(
            parent: level,
            "execute_tool",
            otel.name = name.as_str(),
            otel.status_code = Empty,
            otel.status_description = Empty,
            gen_ai.operation.name = attr::OP_EXECUTE_TOOL,
            gen_ai.tool.name = %spec.tool,
            gen_ai.tool.type = attr::tool_type(&spec.tool),
            gen_ai.tool.call.id = %spec.id,
            gen_ai.tool.call.arguments = arguments_json(config, secrets, rec),
            gen_ai.tool.call.result = Empty,
            orchestration.tool_id = %spec.id,
            orchestration.stage = "execute",
            orchestration.asset_id = spec.asset_id.as_deref(),
            orchestration.execution_strategy = plan.strategy().as_str(),
            orchestration.execution_group = rec.group as i64,
            orchestration.execution_order_index = rec.order as i64,
            orchestration.params = params_json(config, secrets, &spec.params),
            orchestration.data_flow_inputs = data_flow_json(config, secrets, rec),
            orchestration.status = Empty,
            orchestration.skip_reason = Empty,
            orchestration.queue_wait_ms = queue_wait_ms,
            orchestration.retry_count = Empty,
            orchestration.fallback_used = Empty,
            orchestration.cache_hit = Empty,
            orchestration.result_count = Empty,
            orchestration.result_size_bytes = Empty,
            error.type = Empty,
        );
        if span.is_disabled() {
            // Nobody records this span: skip building its values (the secrets above are
            // still collected, for spans a filter may enable later in the run).
            return span;
        }
        let node_ids = self.config.node_ids();
        let ids = self.ids(plan);
        let group = &plan.groups()[rec.group].tools;
        let others = group.len() - 1;
        if others <= attr::MAX_PARALLEL_WITH {
            let others = group.iter().copied().filter(|&t| t != i);
            span.set_attribute(attr::PARALLEL_WITH, id_array(ids, others));
        } else {
            // The level span lists the members once (`orchestration.tools`).
            span.set_attribute(attr::PARALLEL_WITH_COUNT, others as i64);
        }
        let deps = plan.dependencies(i);
        span.set_attribute(attr::DEPENDS_ON, id_array(ids, deps.iter().copied()));
        if node_ids {
            span.set_attribute(attr::GEN_AI_NODE_EXECUTION_ID, ids[i].clone());
            let fed_by = fed_by(plan, i);
            span.set_attribute(
                attr::GEN_AI_NODE_PREVIOUS_EXECUTION_ID,
                id_array(ids, fed_by.into_iter()),
            );
        }
        for &d in deps {
            if let Some(cx) = &self.contexts[d] {
                span.add_link_with_attributes(
                    cx.clone(),
                    vec![
                        KeyValue::new(attr::LINK, attr::LINK_DEPENDS_ON),
                        KeyValue::new(attr::TOOL_ID, self.ids[d].clone()),
                    ],
                );
            }
        }
        span
    }

    /// Keeps the span context of tool `i` for the links of its dependents, when it has any.
    /// Asked as the tool ends, after its outcome is recorded: asking starts the OpenTelemetry
    /// span, and every attribute recorded after that is a locked write into the started span
    /// rather than a push onto its builder.
    fn remember_context(&mut self, i: usize, span: &Span) {
        if span.is_disabled() || self.plan.dependents(i).is_empty() {
            return;
        }
        let cx = span.context().span().span_context().clone();
        if cx.is_valid() {
            self.contexts[i] = Some(cx);
        }
    }

    /// A span for a tool that never started (skipped or cancelled before its start).
    fn tool_never_started(&mut self, rec: &ToolRun) {
        let span = self.tool_span(self.plan, rec.index, rec, None);
        self.record_outcome(&span, rec);
        drop(span);
        self.level_done(rec.group);
    }

    fn level_done(&mut self, g: usize) {
        self.level_remaining[g] = self.level_remaining[g].saturating_sub(1);
        if self.level_remaining[g] == 0 {
            self.levels[g] = None;
        }
    }

    fn record_outcome(&mut self, span: &Span, rec: &ToolRun) {
        if let Some(output) = &rec.output {
            self.config
                .redactor()
                .collect_secrets(output, &mut self.secrets);
        }
        let Some(meta) = span.metadata().filter(|_| !span.is_disabled()) else {
            return;
        };
        let fields = meta.fields();
        let keys = self
            .outcome_fields
            .get_or_insert_with(|| {
                [
                    attr::STATUS,
                    attr::RETRY_COUNT,
                    attr::FALLBACK_USED,
                    attr::CACHE_HIT,
                    attr::SKIP_REASON,
                    attr::RESULT_COUNT,
                    attr::RESULT_SIZE_BYTES,
                    attr::GEN_AI_TOOL_CALL_RESULT,
                    attr::ERROR_TYPE,
                ]
                .map(|name| fields.field(name).expect("declared on the tool span"))
            })
            .clone();
        let (config, secrets) = (&self.config, &self.secrets);
        let status = rec.status.as_str();
        let retry_count = i64::from(rec.retry_count);
        let reason = rec.reason.as_ref().map(|r| config.text_attr(r, secrets));
        let output = rec.output.as_deref();
        let result_count = output.and_then(result_count).map(|n| n as i64);
        let result_size = output.map(|o| json_size(o) as i64);
        let result = output
            .filter(|_| config.capture_content())
            .map(|o| value_json(config, secrets, o));
        let error_type = rec.error.as_ref().map(|e| e.kind.as_str());
        // The whole outcome in one dispatch, in the order the fields were recorded one by one.
        fn some<T: tracing::Value>(v: &T) -> Option<&dyn tracing::Value> {
            Some(v)
        }
        fn opt<T: tracing::Value>(v: &Option<T>) -> Option<&dyn tracing::Value> {
            v.as_ref().map(|v| v as &dyn tracing::Value)
        }
        let values = [
            (&keys[0], some(&status)),
            (&keys[1], some(&retry_count)),
            (&keys[2], some(&rec.fallback_used)),
            (&keys[3], some(&rec.cache_hit)),
            (&keys[4], opt(&reason)),
            (&keys[5], opt(&result_count)),
            (&keys[6], opt(&result_size)),
            (&keys[7], opt(&result)),
            (&keys[8], opt(&error_type)),
        ];
        span.record_all(&fields.value_set(&values));
        if let Some(ToolError { message, .. }) = &rec.error {
            span.set_status(Status::error(config.text_attr(message, secrets)));
        }
    }
}

impl<'a> Observer for RunSpans<'a> {
    fn run_span(&mut self) -> Span {
        self.execute.clone()
    }

    /// Opens the tool's span as it starts; the returned span instruments the tool's task.
    fn tool_started(&mut self, rec: &ToolRun) -> Span {
        let span = self.tool_span(self.plan, rec.index, rec, Some(ms(rec.queue_wait())));
        self.tools[rec.index] = Some(span.clone());
        span
    }

    /// A `retry` event on the tool span, at the moment the retry is scheduled.
    fn retry(&mut self, rec: &ToolRun, retry: Retry<'_>) {
        let Some(span) = &self.tools[rec.index] else {
            return;
        };
        let message = self.config.text_attr(&retry.error.message, &self.secrets);
        tracing::info!(
            parent: span,
            attempt = i64::from(retry.attempt),
            error.type = retry.error.kind.as_str(),
            error.message = %message,
            backoff_ms = ms(retry.delay),
            "retry"
        );
    }

    /// A `fallback` event on the tool span, when the fallback tool type takes over.
    fn fallback(&mut self, rec: &ToolRun, fallback: Fallback<'_>) {
        let Some(span) = &self.tools[rec.index] else {
            return;
        };
        let message = self
            .config
            .text_attr(&fallback.error.message, &self.secrets);
        tracing::info!(
            parent: span,
            fallback = fallback.tool,
            error.type = fallback.error.kind.as_str(),
            error.message = %message,
            "fallback"
        );
    }

    /// Records the outcome on the tool's span and ends it (and its level, if it was the last).
    fn tool_ended(&mut self, rec: &ToolRun) {
        if rec.started_at.is_none() {
            return self.tool_never_started(rec);
        }
        let Some(span) = self.tools[rec.index].take() else {
            return;
        };
        self.record_outcome(&span, rec);
        self.remember_context(rec.index, &span);
        drop(span);
        self.level_done(rec.group);
    }

    /// Ends the run: totals and critical path on the `execute` span.
    fn run_finished(&mut self, report: &RunReport) {
        let s = &report.summary;
        let e = &self.execute;
        e.record(attr::TOTAL_DURATION_MS, s.total_duration_ms);
        e.record(attr::SERIAL_DURATION_MS, s.serial_duration_ms);
        e.record(attr::TIME_SAVED_MS, s.time_saved_ms);
        e.record(attr::CRITICAL_PATH_MS, s.critical_path_ms);
        e.set_attribute(attr::CRITICAL_PATH, string_array(s.critical_path.clone()));
        let status = if report.succeeded() {
            "ok"
        } else if report.cancelled() {
            "cancelled"
        } else {
            "error"
        };
        e.record(attr::STATUS, status);
        self.finished = true;
    }

    /// The trace id of the run's spans, when an OpenTelemetry layer records them.
    fn trace_id(&self) -> Option<String> {
        let cx = self.execute.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }
}

impl Drop for RunSpans<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // The run future was dropped mid-run: whatever is open was cancelled.
        for span in self.tools.iter_mut().filter_map(Option::take) {
            span.record(attr::STATUS, ToolStatus::Cancelled.as_str());
            span.record(
                attr::SKIP_REASON,
                "the run was dropped before the tool finished",
            );
        }
        self.levels.clear();
        self.execute
            .record(attr::STATUS, ToolStatus::Cancelled.as_str());
    }
}

/// `orchestration.execution_plan`: the plan's JSON, redacted and cut to the value limit.
///
/// It holds every tool, so it is the largest value of a run. It is written from the analysed
/// plan as it stands ([`PlanView`]: no [`ExecutionPlan`](crate::schedule::ExecutionPlan) copy
/// of every id and mapping) and only as far as the limit: past it the serialization stops, so
/// a plan of 50,000 tools costs what its first few dozen do.
fn execution_plan_json(plan: &AnalyzedPlan, config: &TelemetryConfig) -> String {
    let redactor = config.redactor();
    // A key pattern of the host's may name one of the plan's own fields (`type`, `mode`):
    // then the whole plan goes through redaction as a `Value`, as any other value would.
    if PLAN_FIELDS.iter().any(|f| redactor.is_secret_key(f)) {
        let value = serde_json::to_value(plan.execution_plan()).unwrap_or(Value::Null);
        return config.json_attr_owned(value, &[]);
    }
    json_limited(&PlanView { plan, redactor }, config.value_limit())
}

/// The field names of the execution plan's JSON.
const PLAN_FIELDS: [&str; 14] = [
    "execution_strategy",
    "execution_groups",
    "total_expected_duration_ms",
    "is_optimized",
    "group_index",
    "execution_mode",
    "tools",
    "depends_on_groups",
    "expected_duration_ms",
    "tools_info",
    "tool_id",
    "tool_type",
    "depends_on",
    "output_mapping",
];

/// The execution plan serialized as [`AnalyzedPlan::execution_plan`] would be, then redacted
/// the way [`TelemetryConfig::json_attr`] redacts it. Its only user text is tool types and
/// data-flow mappings: a type that looks like a credential is replaced, a mapping is redacted
/// (a copy of that one mapping) when it would change. Tool ids match
/// `[A-Za-z_][A-Za-z0-9_-]*` and go on every span as they are; they are not checked here.
struct PlanView<'a> {
    plan: &'a AnalyzedPlan,
    redactor: &'a crate::content::Redactor,
}

impl serde::Serialize for PlanView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Ids<'a>(&'a AnalyzedPlan, &'a [usize]);
        impl serde::Serialize for Ids<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.1.iter().map(|&t| &self.0.plan().tools[t].id))
            }
        }
        struct Tools<'a>(&'a PlanView<'a>, &'a [usize]);
        impl serde::Serialize for Tools<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let (plan, r) = (self.0.plan, self.0.redactor);
                let mut seq = s.serialize_seq(Some(self.1.len()))?;
                for &t in self.1 {
                    let spec = &plan.plan().tools[t];
                    seq.serialize_element(&ToolInfo {
                        tool_id: &spec.id,
                        tool_type: if r.is_secret_value(&spec.tool) {
                            crate::content::REDACTED
                        } else {
                            &spec.tool
                        },
                        depends_on: Ids(plan, plan.dependencies(t)),
                        output_mapping: Mapping(&spec.output_mapping, r),
                    })?;
                }
                seq.end()
            }
        }
        #[derive(serde::Serialize)]
        struct ToolInfo<'a> {
            tool_id: &'a str,
            tool_type: &'a str,
            depends_on: Ids<'a>,
            output_mapping: Mapping<'a>,
        }
        struct Mapping<'a>(&'a Map<String, Value>, &'a crate::content::Redactor);
        impl serde::Serialize for Mapping<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if self.1.would_redact_map(self.0) {
                    let mut copy = Value::Object(self.0.clone());
                    self.1.redact_in_place(&mut copy);
                    copy.serialize(s)
                } else {
                    self.0.serialize(s)
                }
            }
        }
        struct Groups<'a>(&'a PlanView<'a>);
        impl serde::Serialize for Groups<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let plan = self.0.plan;
                let mut seq = s.serialize_seq(Some(plan.groups().len()))?;
                for g in plan.groups() {
                    seq.serialize_element(&Group {
                        group_index: g.index,
                        execution_mode: g.mode,
                        tools: Ids(plan, &g.tools),
                        depends_on_groups: &g.depends_on_groups,
                        expected_duration_ms: g.expected_duration_ms,
                        tools_info: Tools(self.0, &g.tools),
                    })?;
                }
                seq.end()
            }
        }
        #[derive(serde::Serialize)]
        struct Group<'a> {
            group_index: usize,
            execution_mode: crate::schedule::ExecutionMode,
            tools: Ids<'a>,
            depends_on_groups: &'a [usize],
            expected_duration_ms: u64,
            tools_info: Tools<'a>,
        }
        let groups = self.plan.groups();
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("execution_strategy", &self.plan.strategy())?;
        m.serialize_entry("execution_groups", &Groups(self))?;
        m.serialize_entry(
            "total_expected_duration_ms",
            &groups.iter().map(|g| g.expected_duration_ms).sum::<u64>(),
        )?;
        m.serialize_entry(
            "is_optimized",
            &groups
                .iter()
                .any(|g| g.mode == crate::schedule::ExecutionMode::Parallel),
        )?;
        m.end()
    }
}

/// `orchestration.data_flow_inputs`: `{"input": {"expression": …, "value": …}}`, redacted.
///
/// When redaction has nothing to change (no secret key, no secret-looking value, no known
/// secret yet in this run) it is serialized from the inputs as they are, without building
/// and walking a `Value` copy of them: the same bytes, for a fraction of a tool span's cost.
fn data_flow_json(config: &TelemetryConfig, secrets: &[String], rec: &ToolRun) -> Option<String> {
    if rec.data_flow.is_empty() {
        return None;
    }
    let r = config.redactor();
    let nothing_to_redact = secrets.is_empty()
        && rec.data_flow.iter().all(|input| {
            !r.is_secret_key(&input.key)
                && !r.would_redact(&input.expression)
                && !input.value.as_ref().is_some_and(|v| r.would_redact(v))
        });
    if nothing_to_redact {
        return Some(json_limited(
            &FlowView(&rec.data_flow),
            config.value_limit(),
        ));
    }
    let mut flow = Map::new();
    for input in &rec.data_flow {
        let mut entry = Map::new();
        entry.insert("expression".into(), input.expression.clone());
        entry.insert(
            "value".into(),
            input.value.as_deref().cloned().unwrap_or(Value::Null),
        );
        flow.insert(input.key.clone(), Value::Object(entry));
    }
    Some(config.json_attr_owned(Value::Object(flow), secrets))
}

/// Data-flow inputs serialized as the `Value` that [`data_flow_json`] would build.
struct FlowView<'a>(&'a [DataFlowInput]);

impl serde::Serialize for FlowView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Entry<'a>(&'a DataFlowInput);
        impl serde::Serialize for Entry<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("expression", &self.0.expression)?;
                m.serialize_entry("value", &self.0.value)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for input in self.0 {
            m.serialize_entry(&input.key, &Entry(input))?;
        }
        m.end()
    }
}

/// `gen_ai.tool.call.arguments`, when content capture is on.
///
/// The conventions expect an object here; an OpenTelemetry attribute value in Rust (0.33)
/// has no map type, so the object goes as its JSON text (as `gen_ai.tool.call.result`).
fn arguments_json(config: &TelemetryConfig, secrets: &[String], rec: &ToolRun) -> Option<String> {
    let input = rec.input.as_ref().filter(|_| config.capture_content())?;
    Some(value_json(config, secrets, input))
}

/// A value as redacted JSON cut to the limit. When redaction has nothing to change in it
/// (no secret key, no secret-looking value, no known secret yet) it is serialized as it is,
/// without the copy that redaction in place needs: the same bytes.
fn value_json(config: &TelemetryConfig, secrets: &[String], value: &Value) -> String {
    if secrets.is_empty() && !config.redactor().would_redact(value) {
        json_limited(value, config.value_limit())
    } else {
        config.json_attr(value, secrets)
    }
}

/// `orchestration.params`: [`value_json`] of the params object, without building a `Value`
/// of it when nothing is to be redacted.
fn params_json(
    config: &TelemetryConfig,
    secrets: &[String],
    params: &Map<String, Value>,
) -> String {
    if secrets.is_empty() && !config.redactor().would_redact_map(params) {
        json_limited(params, config.value_limit())
    } else {
        config.json_attr_owned(Value::Object(params.clone()), secrets)
    }
}

/// The tools whose output feeds tool `i` through its data-flow mappings, in plan order.
fn fed_by(plan: &AnalyzedPlan, i: usize) -> Vec<usize> {
    let mut from: Vec<usize> = plan.graph().mappings[i]
        .iter()
        .flat_map(|(_, m)| m.references())
        .filter_map(|r| plan.plan().tool_index(&r.tool))
        .collect();
    from.sort_unstable();
    from.dedup();
    from
}

/// Adds every string (and long number) in `value` to the run's known secrets: the value was
/// read through a secret key. The same rules as [`Redactor::collect_secrets`] applies under a
/// secret key, without wrapping the value in an object to get there.
///
/// [`Redactor::collect_secrets`]: crate::content::Redactor::collect_secrets
fn secret_strings(r: &crate::content::Redactor, value: &Value, out: &mut Vec<String>) {
    if r.is_disabled() {
        return;
    }
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        if out.len() >= crate::content::MAX_KNOWN_SECRETS {
            return;
        }
        match v {
            Value::String(s)
                if s.chars().count() >= 4 && s != crate::content::REDACTED && !out.contains(s) =>
            {
                out.push(s.clone());
            }
            Value::Number(n) => {
                let s = n.to_string();
                if s.len() >= 4 && !out.contains(&s) {
                    out.push(s);
                }
            }
            Value::Array(items) => stack.extend(items.iter().rev()),
            Value::Object(m) => stack.extend(m.values().rev()),
            _ => {}
        }
    }
}

/// Rows in an output: the length of `data.rows`, `rows`, or of the output itself if it is an
/// array.
pub(crate) fn result_count(output: &Value) -> Option<usize> {
    // `get` twice rather than `pointer("/data/rows")`: the same lookups, no path to parse.
    output
        .get("data")
        .and_then(|d| d.get("rows"))
        .or_else(|| output.get("rows"))
        .or(Some(output))
        .and_then(Value::as_array)
        .map(Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    fn analyzed(json: &str) -> AnalyzedPlan {
        crate::schedule::analyze(Plan::from_json_str(json).unwrap(), &|_| true).unwrap()
    }

    /// The data flow's direct path gives the bytes of the `Value` path.
    #[test]
    fn the_data_flow_attribute_is_the_same_either_way() {
        let input = |key: &str, expression: Value, value: Option<Value>| DataFlowInput {
            key: key.into(),
            expression,
            value: value.map(Arc::new),
        };
        let flows = [
            vec![
                input("n", "{a.data.rows[0].count}".into(), Some(42.into())),
                input("all", serde_json::json!({"x": ["{a}"]}), None),
                input(
                    "note",
                    "text {b.v}".into(),
                    Some(serde_json::json!({"k": [1, "two"]})),
                ),
            ],
            vec![input("api_key", "{a.key}".into(), Some("abc".into()))],
            vec![input("h", "{a.h}".into(), Some("Bearer abcdefgh12".into()))],
            vec![input(
                "n",
                "{a.n}".into(),
                Some(serde_json::json!({"password": "x"})),
            )],
        ];
        for limit in [4096, 20] {
            let config = TelemetryConfig::default().with_value_limit(limit);
            for known in [vec![], vec!["two".to_owned()]] {
                for flow in &flows {
                    let rec = ToolRun {
                        group: 1,
                        status: ToolStatus::Ok,
                        data_flow: flow.clone(),
                        ..ToolRun::new("b", "echo", 1)
                    };
                    let mut map = Map::new();
                    for i in flow {
                        let mut e = Map::new();
                        e.insert("expression".into(), i.expression.clone());
                        e.insert(
                            "value".into(),
                            i.value.as_deref().cloned().unwrap_or(Value::Null),
                        );
                        map.insert(i.key.clone(), Value::Object(e));
                    }
                    let general = config.json_attr_owned(Value::Object(map), &known);
                    assert_eq!(data_flow_json(&config, &known, &rec), Some(general));
                }
            }
        }
    }

    /// The direct path gives the bytes the `Value` path gives, and is not taken when
    /// something must be redacted.
    #[test]
    fn the_execution_plan_attribute_is_the_same_either_way() {
        let plans = [
            r#"{"plan_id": "p", "tools": [
                {"id": "a", "tool": "ci_lookup", "params": {"password": "x"}},
                {"id": "b", "tool": "ci_aggregate", "depends_on": ["a"],
                 "output_mapping": {"n": "{a.data.rows[0].count}", "deep": {"k": ["{a}"]}}}]}"#,
            r#"{"plan_id": "p", "tools": [
                {"id": "a", "tool": "ci_lookup"},
                {"id": "b", "tool": "echo",
                 "output_mapping": {"api_key": "{a.data.key}", "note": "Bearer abcdefgh12"}}]}"#,
            r#"{"plan_id": "p", "tools": [
                {"id": "a", "tool": "Bearer abcdefghijkl"},
                {"id": "b", "tool": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
                 "output_mapping": {"token": null, "x": {"session": "{a}"}}}]}"#,
        ];
        let configs = [4096, 60].into_iter().flat_map(|limit| {
            [
                TelemetryConfig::default().with_value_limit(limit),
                // A host pattern naming one of the plan's own fields.
                TelemetryConfig::default()
                    .with_value_limit(limit)
                    .with_redactor(crate::content::Redactor::new().with_key_pattern("type")),
            ]
        });
        for config in configs {
            for json in plans {
                let plan = analyzed(json);
                let value = serde_json::to_value(plan.execution_plan()).unwrap();
                let general = config.json_attr_owned(value, &[]);
                assert_eq!(execution_plan_json(&plan, &config), general, "{json}");
            }
        }
    }

    /// `PLAN_FIELDS` names every key the execution plan's JSON has of its own (a mapping's
    /// keys are the plan's, not ours), so that a host pattern naming one is never missed.
    #[test]
    fn the_plan_fields_are_the_execution_plans_keys() {
        let plan = analyzed(
            r#"{"plan_id": "p", "tools": [{"id": "a", "tool": "echo"},
                {"id": "b", "tool": "echo", "output_mapping": {"n": "{a.x}"}}]}"#,
        );
        let mut keys = std::collections::BTreeSet::new();
        let mut stack = vec![serde_json::to_value(plan.execution_plan()).unwrap()];
        while let Some(v) = stack.pop() {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if k != "output_mapping" {
                            stack.push(v);
                        }
                        keys.insert(k);
                    }
                }
                Value::Array(items) => stack.extend(items),
                _ => {}
            }
        }
        let fields: std::collections::BTreeSet<String> =
            PLAN_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        assert_eq!(keys, fields);
    }

    /// Runs `plan` with the span observer under an OpenTelemetry layer; the ended spans.
    fn traced(
        plan: Plan,
        config: TelemetryConfig,
        host: Option<&'static str>,
    ) -> Vec<opentelemetry_sdk::trace::SpanData> {
        use opentelemetry::trace::TracerProvider as _;
        use tracing_subscriber::prelude::*;
        #[derive(Debug, Clone, Default)]
        struct Keep(Arc<std::sync::Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);
        impl opentelemetry_sdk::trace::SpanProcessor for Keep {
            fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
            }
            fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
                self.0.lock().unwrap().push(span);
            }
            fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
                Ok(())
            }
            fn shutdown_with_timeout(
                &self,
                _: std::time::Duration,
            ) -> opentelemetry_sdk::error::OTelSdkResult {
                Ok(())
            }
        }
        let mut registry = crate::execute::ToolRegistry::new();
        registry.register_fn("rows", |_, _| async {
            Ok(serde_json::json!({"rows": [1]}))
        });
        registry.register_fn("http", |_, _| async { Ok(serde_json::json!(null)) });
        let orch = crate::execute::OrchestratorBuilder::bare()
            .with_registry(registry)
            .with_telemetry(config)
            .with_named_observer("spans", Arc::new(observe))
            .build();
        let analyzed = orch.analyze(plan).unwrap();
        let keep = Keep::default();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(keep.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let runner = crate::pipeline::Runner::builder(crate::pipeline::StaticPlanner::new(
                analyzed.plan().clone(),
            ))
            .with_orchestrator(orch.clone())
            .with_workflow("wf")
            .build();
            let _host = host.map(|name| match name {
                "invoke_agent" => tracing::info_span!("invoke_agent").entered(),
                _ => tracing::info_span!("work").entered(),
            });
            assert!(rt.block_on(runner.run("q")).unwrap().succeeded());
        });
        let spans = keep.0.lock().unwrap().clone();
        spans
    }

    fn attr_of<'s>(s: &'s opentelemetry_sdk::trace::SpanData, key: &str) -> Option<&'s OtelValue> {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn strings(v: Option<&OtelValue>) -> Vec<String> {
        match v {
            Some(OtelValue::Array(Array::String(items))) => {
                items.iter().map(|s| s.as_str().to_owned()).collect()
            }
            other => panic!("not a string array: {other:?}"),
        }
    }

    fn tool<'s>(
        spans: &'s [opentelemetry_sdk::trace::SpanData],
        id: &str,
    ) -> &'s opentelemetry_sdk::trace::SpanData {
        spans
            .iter()
            .find(|s| attr_of(s, attr::TOOL_ID).is_some_and(|v| v.as_str() == id))
            .unwrap_or_else(|| panic!("no span of {id}"))
    }

    /// 18 tools in level 0, then `c` (http) reading `t0` and `t1`, then `d` after `c`.
    fn wide_plan() -> Plan {
        let mut p = Plan::new("wide");
        for k in 0..18 {
            p = p.with_tool(crate::plan::ToolSpec::new(format!("t{k}"), "rows"));
        }
        p.with_tool(
            crate::plan::ToolSpec::new("c", "http")
                .map("a", "{t0.rows[0]}")
                .map("b", "{t1.rows}")
                .depends_on("t5"),
        )
        .with_tool(crate::plan::ToolSpec::new("d", "rows").depends_on("c"))
    }

    #[test]
    fn genai_attributes_of_tool_and_root_spans() {
        let spans = traced(wide_plan(), TelemetryConfig::default(), None);
        let c = tool(&spans, "c");
        assert_eq!(c.name, "execute_tool http");
        assert_eq!(
            attr_of(c, attr::GEN_AI_OPERATION_NAME).unwrap().as_str(),
            "execute_tool"
        );
        assert_eq!(
            attr_of(c, attr::GEN_AI_TOOL_TYPE).unwrap().as_str(),
            "extension"
        );
        assert_eq!(attr_of(c, attr::GEN_AI_TOOL_CALL_ID).unwrap().as_str(), "c");
        assert_eq!(
            attr_of(tool(&spans, "t3"), attr::GEN_AI_TOOL_TYPE)
                .unwrap()
                .as_str(),
            "function"
        );
        // Opt-in only.
        assert!(attr_of(c, attr::GEN_AI_NODE_EXECUTION_ID).is_none());
        assert!(attr_of(c, attr::GEN_AI_TOOL_CALL_ARGUMENTS).is_none());
        let root = spans
            .iter()
            .find(|s| s.name == "invoke_workflow wf")
            .unwrap();
        assert_eq!(
            attr_of(root, attr::GEN_AI_OPERATION_NAME).unwrap().as_str(),
            "invoke_workflow"
        );
        assert_eq!(
            attr_of(root, attr::GEN_AI_INVOCATION_IS_NESTED),
            Some(&OtelValue::Bool(false))
        );
        let plan = spans.iter().find(|s| s.name == "route_plan").unwrap();
        assert_eq!(
            attr_of(plan, attr::GEN_AI_OPERATION_NAME).unwrap().as_str(),
            "plan"
        );
        let validate = spans.iter().find(|s| s.name == "validate").unwrap();
        assert!(attr_of(validate, attr::GEN_AI_OPERATION_NAME).is_none());
    }

    #[test]
    fn a_run_inside_a_host_invocation_is_nested() {
        let spans = traced(
            wide_plan(),
            TelemetryConfig::default(),
            Some("invoke_agent"),
        );
        let root = spans
            .iter()
            .find(|s| s.name == "invoke_workflow wf")
            .unwrap();
        assert_eq!(
            attr_of(root, attr::GEN_AI_INVOCATION_IS_NESTED),
            Some(&OtelValue::Bool(true))
        );
        let spans = traced(wide_plan(), TelemetryConfig::default(), Some("work"));
        let root = spans
            .iter()
            .find(|s| s.name == "invoke_workflow wf")
            .unwrap();
        assert_eq!(
            attr_of(root, attr::GEN_AI_INVOCATION_IS_NESTED),
            Some(&OtelValue::Bool(false))
        );
    }

    #[test]
    fn wide_levels_list_their_members_once() {
        let spans = traced(wide_plan(), TelemetryConfig::default(), None);
        let t3 = tool(&spans, "t3");
        assert!(
            attr_of(t3, attr::PARALLEL_WITH).is_none(),
            "18 members > 16"
        );
        assert_eq!(
            attr_of(t3, attr::PARALLEL_WITH_COUNT),
            Some(&OtelValue::I64(17))
        );
        let level0 = spans
            .iter()
            .find(|s| s.name == "level 0 (parallel)")
            .unwrap();
        let members = strings(attr_of(level0, attr::GROUP_TOOLS));
        assert_eq!(members.len(), 18);
        assert_eq!(members[0], "t0");
        // A small level keeps parallel_with (here: c alone, so empty).
        let c = tool(&spans, "c");
        assert_eq!(
            strings(attr_of(c, attr::PARALLEL_WITH)),
            Vec::<String>::new()
        );
        assert!(attr_of(c, attr::PARALLEL_WITH_COUNT).is_none());
        assert_eq!(strings(attr_of(c, attr::DEPENDS_ON)), ["t5", "t0", "t1"]);
        assert_eq!(c.links.links.len(), 3);
    }

    #[test]
    fn dag_edge_ids_are_the_data_flow_sources() {
        let config = TelemetryConfig::default().with_node_ids(true);
        let spans = traced(wide_plan(), config, None);
        let c = tool(&spans, "c");
        assert_eq!(
            attr_of(c, attr::GEN_AI_NODE_EXECUTION_ID).unwrap().as_str(),
            "c"
        );
        // t5 is an ordering dependency: its output does not feed c.
        assert_eq!(
            strings(attr_of(c, attr::GEN_AI_NODE_PREVIOUS_EXECUTION_ID)),
            ["t0", "t1"]
        );
        let d = tool(&spans, "d");
        assert_eq!(
            strings(attr_of(d, attr::GEN_AI_NODE_PREVIOUS_EXECUTION_ID)),
            Vec::<String>::new()
        );
        assert_eq!(
            strings(attr_of(
                tool(&spans, "t0"),
                attr::GEN_AI_NODE_PREVIOUS_EXECUTION_ID
            )),
            Vec::<String>::new()
        );
    }

    #[test]
    fn captured_content_is_the_same_json_either_way() {
        let config = TelemetryConfig::default().with_capture_content(true);
        let plan = Plan::new("p")
            .with_tool(
                crate::plan::ToolSpec::new("a", "rows")
                    .with_params(serde_json::json!({"k": 1, "password": "hunter22"})),
            )
            .with_tool(
                crate::plan::ToolSpec::new("b", "rows").with_params(serde_json::json!({"k": 2})),
            );
        let spans = traced(plan, config, None);
        let a = tool(&spans, "a");
        assert_eq!(
            attr_of(a, attr::PARAMS).unwrap().as_str(),
            r#"{"k":1,"password":"[REDACTED]"}"#.replace("[REDACTED]", crate::content::REDACTED)
        );
        let b = tool(&spans, "b");
        assert_eq!(
            attr_of(b, attr::GEN_AI_TOOL_CALL_ARGUMENTS)
                .unwrap()
                .as_str(),
            r#"{"k":2}"#
        );
        assert_eq!(
            attr_of(b, attr::GEN_AI_TOOL_CALL_RESULT).unwrap().as_str(),
            r#"{"rows":[1]}"#
        );
    }
}
