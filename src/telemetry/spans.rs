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

use std::time::Duration;

use opentelemetry::trace::{SpanContext, Status, TraceContextExt};
use opentelemetry::{Array, KeyValue, StringValue, Value as OtelValue};
use serde_json::{Map, Value};
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::attributes as attr;
use super::TelemetryConfig;
use crate::execute::{ms, RunReport, ToolError, ToolRun, ToolStatus};
use crate::schedule::AnalyzedPlan;
use std::sync::Arc;

fn string_array(items: Vec<String>) -> OtelValue {
    OtelValue::Array(Array::String(
        items.into_iter().map(StringValue::from).collect(),
    ))
}

/// The open spans of one run. Dropping it before [`RunSpans::finish`] (the run future was
/// dropped) ends every open tool span as `cancelled`.
pub(crate) struct RunSpans {
    config: Arc<TelemetryConfig>,
    execute: Span,
    levels: Vec<Option<Span>>,
    level_remaining: Vec<usize>,
    tools: Vec<Option<Span>>,
    contexts: Vec<Option<SpanContext>>,
    /// Values seen under secret keys in this run, redacted wherever they travel next.
    secrets: Vec<String>,
    finished: bool,
}

impl RunSpans {
    /// Opens the `execute` span (a child of the current span).
    pub(crate) fn start(plan: &AnalyzedPlan, config: Arc<TelemetryConfig>) -> Self {
        let strategy = plan.strategy().as_str();
        let ep = serde_json::to_value(plan.execution_plan()).unwrap_or(Value::Null);
        let (ep_json, _) = config.json_attr(&ep, &[]);
        let execute = tracing::info_span!(
            "execute",
            otel.name = "execute",
            orchestration.stage = "execute",
            orchestration.asset_id = Empty,
            orchestration.plan_id = %plan.plan().plan_id,
            orchestration.execution_strategy = strategy,
            orchestration.execution_plan = ep_json,
            orchestration.status = Empty,
            orchestration.total_duration_ms = Empty,
            orchestration.serial_duration_ms = Empty,
            orchestration.time_saved_ms = Empty,
            orchestration.critical_path_ms = Empty,
        );
        let n = plan.plan().tools.len();
        RunSpans {
            config,
            execute,
            levels: vec![None; plan.groups().len()],
            level_remaining: plan.groups().iter().map(|g| g.tools.len()).collect(),
            tools: vec![None; n],
            contexts: vec![None; n],
            secrets: Vec::new(),
            finished: false,
        }
    }

    pub(crate) fn execute_span(&self) -> &Span {
        &self.execute
    }

    /// The trace id of the run's spans, when an OpenTelemetry layer records them.
    pub(crate) fn trace_id(&self) -> Option<String> {
        let cx = self.execute.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    fn level(&mut self, plan: &AnalyzedPlan, g: usize) -> Span {
        if let Some(span) = &self.levels[g] {
            return span.clone();
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
        let ids = group
            .tools
            .iter()
            .map(|&t| plan.plan().tools[t].id.clone())
            .collect();
        span.set_attribute(attr::GROUP_TOOLS, string_array(ids));
        self.levels[g] = Some(span.clone());
        span
    }

    fn tool_span(&mut self, plan: &AnalyzedPlan, i: usize, rec: &ToolRun) -> Span {
        let level = self.level(plan, rec.group);
        let spec = &plan.plan().tools[i];
        let params = Value::Object(spec.params.clone());
        let redactor = self.config.redactor();
        redactor.collect_secrets(&params, &mut self.secrets);
        if let Some(input) = &rec.input {
            redactor.collect_secrets(input, &mut self.secrets);
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
                    redactor
                        .collect_secrets(&serde_json::json!({ "secret": v }), &mut self.secrets);
                }
            }
        }
        let (params, _) = self.config.json_attr(&params, &self.secrets);
        let span = tracing::info_span!(
            parent: &level,
            "execute_tool",
            otel.name = format!("execute_tool {}", spec.tool),
            otel.status_code = Empty,
            otel.status_description = Empty,
            gen_ai.operation.name = attr::OP_EXECUTE_TOOL,
            gen_ai.tool.name = %spec.tool,
            gen_ai.tool.call.id = %spec.id,
            gen_ai.tool.call.arguments = Empty,
            gen_ai.tool.call.result = Empty,
            orchestration.tool_id = %spec.id,
            orchestration.stage = "execute",
            orchestration.asset_id = spec.asset_id.as_deref(),
            orchestration.execution_strategy = plan.strategy().as_str(),
            orchestration.execution_group = rec.group as i64,
            orchestration.execution_order_index = rec.order as i64,
            orchestration.params = params,
            orchestration.data_flow_inputs = Empty,
            orchestration.status = Empty,
            orchestration.skip_reason = Empty,
            orchestration.queue_wait_ms = Empty,
            orchestration.retry_count = Empty,
            orchestration.fallback_used = Empty,
            orchestration.cache_hit = Empty,
            orchestration.result_count = Empty,
            orchestration.result_size_bytes = Empty,
            error.type = Empty,
        );
        span.set_attribute(attr::PARALLEL_WITH, string_array(plan.parallel_with(i)));
        span.set_attribute(attr::DEPENDS_ON, string_array(plan.dependency_ids(i)));
        for &d in plan.dependencies(i) {
            if let Some(cx) = &self.contexts[d] {
                span.add_link_with_attributes(
                    cx.clone(),
                    vec![
                        KeyValue::new(attr::LINK, attr::LINK_DEPENDS_ON),
                        KeyValue::new(attr::TOOL_ID, plan.plan().tools[d].id.clone()),
                    ],
                );
            }
        }
        if !rec.data_flow.is_empty() {
            let mut flow = Map::new();
            for input in &rec.data_flow {
                let mut entry = Map::new();
                entry.insert("expression".into(), input.expression.clone());
                entry.insert("value".into(), input.value.clone().unwrap_or(Value::Null));
                flow.insert(input.key.clone(), Value::Object(entry));
            }
            let (json, _) = self.config.json_attr(&Value::Object(flow), &self.secrets);
            span.record(attr::DATA_FLOW_INPUTS, json);
        }
        if self.config.capture_content() {
            if let Some(input) = &rec.input {
                let (json, _) = self.config.json_attr(input, &self.secrets);
                span.record(attr::GEN_AI_TOOL_CALL_ARGUMENTS, json);
            }
        }
        let cx = span.context().span().span_context().clone();
        if cx.is_valid() {
            self.contexts[i] = Some(cx);
        }
        span
    }

    /// Opens the tool's span as it starts; the returned span instruments the tool's task.
    pub(crate) fn tool_started(&mut self, plan: &AnalyzedPlan, i: usize, rec: &ToolRun) -> Span {
        let span = self.tool_span(plan, i, rec);
        span.record(attr::QUEUE_WAIT_MS, ms(rec.queue_wait()));
        self.tools[i] = Some(span.clone());
        span
    }

    /// Records the outcome on the tool's span and ends it (and its level, if it was the last).
    pub(crate) fn tool_ended(&mut self, plan: &AnalyzedPlan, i: usize, rec: &ToolRun) {
        let Some(span) = self.tools[i].take() else {
            return;
        };
        self.record_outcome(&span, rec);
        drop(span);
        self.level_done(rec.group);
        let _ = plan;
    }

    /// A span for a tool that never started (skipped or cancelled before its start).
    pub(crate) fn tool_never_started(&mut self, plan: &AnalyzedPlan, i: usize, rec: &ToolRun) {
        let span = self.tool_span(plan, i, rec);
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
        span.record(attr::STATUS, rec.status.as_str());
        span.record(attr::RETRY_COUNT, i64::from(rec.retry_count));
        span.record(attr::FALLBACK_USED, rec.fallback_used);
        span.record(attr::CACHE_HIT, rec.cache_hit);
        if let Some(reason) = &rec.reason {
            span.record(
                attr::SKIP_REASON,
                self.config.text_attr(reason, &self.secrets),
            );
        }
        if let Some(output) = &rec.output {
            if let Some(n) = result_count(output) {
                span.record(attr::RESULT_COUNT, n as i64);
            }
            span.record(attr::RESULT_SIZE_BYTES, json_size(output) as i64);
            if self.config.capture_content() {
                let (json, _) = self.config.json_attr(output, &self.secrets);
                span.record(attr::GEN_AI_TOOL_CALL_RESULT, json);
            }
        }
        if let Some(ToolError { kind, message }) = &rec.error {
            span.record(attr::ERROR_TYPE, kind.as_str());
            span.set_status(Status::error(self.config.text_attr(message, &self.secrets)));
        }
    }

    /// Ends the run: totals and critical path on the `execute` span.
    pub(crate) fn finish(mut self, report: &RunReport) {
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
}

impl Drop for RunSpans {
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

/// Rows in an output: the length of `data.rows`, `rows`, or of the output itself if it is an
/// array.
pub(crate) fn result_count(output: &Value) -> Option<usize> {
    output
        .pointer("/data/rows")
        .or_else(|| output.get("rows"))
        .or(Some(output))
        .and_then(Value::as_array)
        .map(Vec::len)
}

/// Size of a value as compact JSON, without building the string.
pub(crate) fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    serde_json::to_writer(&mut c, value).expect("counting cannot fail");
    c.0
}

/// A `retry` event on the tool span, at the moment the retry is scheduled.
pub(crate) fn retry_event(
    config: &TelemetryConfig,
    span: &Span,
    attempt: u32,
    error: Option<&ToolError>,
    delay: Duration,
) {
    let (kind, message) = error.map_or(("", String::new()), |e| {
        (e.kind.as_str(), config.text_attr(&e.message, &[]))
    });
    tracing::info!(
        parent: span,
        attempt = i64::from(attempt),
        error.type = kind,
        error.message = %message,
        backoff_ms = ms(delay),
        "retry"
    );
}

/// A `fallback` event on the tool span, when the fallback tool type takes over.
pub(crate) fn fallback_event(
    config: &TelemetryConfig,
    span: &Span,
    fallback: &str,
    error: Option<&ToolError>,
) {
    let (kind, message) = error.map_or(("", String::new()), |e| {
        (e.kind.as_str(), config.text_attr(&e.message, &[]))
    });
    tracing::info!(
        parent: span,
        fallback,
        error.type = kind,
        error.message = %message,
        "fallback"
    );
}
