//! A trace built straight from a [`RunReport`]: the spans the span observer would have
//! recorded for the run (the `execute` span and one `execute_tool` span per tool, with the
//! same attributes and `retry`/`fallback` events), so that the views and the analysis of a
//! run need no span capture and give the numbers reading its spans back gives.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use orchestrace::run::{ms, RunReport, ToolRun, ToolStatus};
use orchestrace::semconv as attr;

use super::trace::{SpanEvent, SpanKind, SpanStatus, StatusCode, Trace, TraceFormat, TraceSpan};

impl Trace {
    /// The trace of a run, built from its report (see the module documentation). Its trace
    /// id is the report's, or empty when the run was not traced. The report is consumed: each
    /// tool's record is dropped once its span is built, and the execution plan moves to the
    /// trace, so a 50,000-tool run does not hold its report and its trace at once.
    pub fn from_report(report: RunReport) -> Trace {
        let trace_id = report.trace_id.clone().unwrap_or_default();
        let t0 = epoch_ns(report.started);
        let at = |d: Duration| t0.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let execute_id = format!("{:016x}", 1);
        let mut spans = Vec::with_capacity(report.tools.len() + 1);
        spans.push(execute_span(
            &report,
            &trace_id,
            &execute_id,
            t0,
            at(report.duration),
        ));
        let RunReport {
            tools,
            execution_plan,
            ..
        } = report;
        {
            // Per tool: its dependencies and the other tools of its group, from the plan.
            let mut info: std::collections::HashMap<&str, (&[String], &[String])> =
                std::collections::HashMap::with_capacity(tools.len());
            for g in &execution_plan.execution_groups {
                for t in &g.tools_info {
                    info.insert(&t.tool_id, (&t.depends_on, &g.tools));
                }
            }
            for (k, run) in tools.into_iter().enumerate() {
                let (deps, group) = info.get(run.id.as_str()).copied().unwrap_or((&[], &[]));
                let mut span = tool_span(&run, deps, group, &at);
                span.trace_id = trace_id.clone();
                span.span_id = format!("{:016x}", k + 2);
                span.parent_span_id = Some(execute_id.clone());
                spans.push(span);
            }
        }
        let mut trace = Trace::new(spans, TraceFormat::Report);
        trace.trace_id = trace_id;
        trace.execution_plan = Some(std::sync::Arc::new(execution_plan));
        trace
    }
}

/// The attributes `tool_span` sets for a tool that ran and returned a result (a failed or
/// skipped tool has a few more or fewer): the maps are sized once, not grown by doubling.
const TOOL_ATTRIBUTES: usize = 16;

fn epoch_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn blank(name: &str, start_ns: u64, end_ns: u64) -> TraceSpan {
    TraceSpan {
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: None,
        parent: None,
        name: name.to_owned(),
        service: None,
        kind: SpanKind::Internal,
        start_ns,
        end_ns: end_ns.max(start_ns),
        attributes: Map::with_capacity(TOOL_ATTRIBUTES),
        status: SpanStatus::default(),
        links: Vec::new(),
        events: Vec::new(),
    }
}

fn execute_span(
    report: &RunReport,
    trace_id: &str,
    span_id: &str,
    start_ns: u64,
    end_ns: u64,
) -> TraceSpan {
    let mut s = blank(attr::SPAN_EXECUTE, start_ns, end_ns);
    s.trace_id = trace_id.to_owned();
    s.span_id = span_id.to_owned();
    let a = &mut s.attributes;
    let sum = &report.summary;
    a.insert(attr::STAGE.into(), json!(attr::SPAN_EXECUTE));
    a.insert(attr::PLAN_ID.into(), json!(report.plan_id));
    a.insert(
        attr::EXECUTION_STRATEGY.into(),
        json!(report.strategy.as_str()),
    );
    // The execution plan goes to the trace whole and typed (`Trace::execution_plan`), not as
    // a JSON attribute: at 50,000 tools that is tens of megabytes of `Value`s.
    a.insert(attr::TOTAL_DURATION_MS.into(), json!(sum.total_duration_ms));
    a.insert(
        attr::SERIAL_DURATION_MS.into(),
        json!(sum.serial_duration_ms),
    );
    a.insert(attr::TIME_SAVED_MS.into(), json!(sum.time_saved_ms));
    a.insert(attr::CRITICAL_PATH_MS.into(), json!(sum.critical_path_ms));
    a.insert(attr::CRITICAL_PATH.into(), json!(sum.critical_path));
    let status = if report.succeeded() {
        ToolStatus::Ok
    } else if report.cancelled() {
        ToolStatus::Cancelled
    } else {
        ToolStatus::Error
    };
    a.insert(attr::STATUS.into(), json!(status.as_str()));
    s
}

fn tool_span(
    run: &ToolRun,
    deps: &[String],
    group: &[String],
    at: &dyn Fn(Duration) -> u64,
) -> TraceSpan {
    // A tool that never started has a span only at the moment it was skipped or cancelled.
    let (start, end) = match (run.started_at, run.ended_at) {
        (Some(s), Some(e)) => (at(s), at(e)),
        (Some(s), None) => (at(s), at(s)),
        (None, Some(e)) => (at(e), at(e)),
        (None, None) => (at(Duration::ZERO), at(Duration::ZERO)),
    };
    let mut s = blank(
        &format!("{} {}", attr::OP_EXECUTE_TOOL, run.tool),
        start,
        end,
    );
    let a = &mut s.attributes;
    a.insert(
        attr::GEN_AI_OPERATION_NAME.into(),
        json!(attr::OP_EXECUTE_TOOL),
    );
    a.insert(attr::GEN_AI_TOOL_NAME.into(), json!(run.tool));
    a.insert(attr::GEN_AI_TOOL_CALL_ID.into(), json!(run.id));
    a.insert(attr::TOOL_ID.into(), json!(run.id));
    a.insert(attr::STAGE.into(), json!(attr::SPAN_EXECUTE));
    if let Some(asset) = &run.asset_id {
        a.insert(attr::ASSET_ID.into(), json!(asset));
    }
    a.insert(attr::EXECUTION_GROUP.into(), json!(run.group));
    a.insert(attr::EXECUTION_ORDER_INDEX.into(), json!(run.order));
    // As the span observer writes it: the ids in a small level, the count in a wide one.
    let others = group.len().saturating_sub(1);
    if others <= attr::MAX_PARALLEL_WITH {
        let listed: Vec<&String> = group.iter().filter(|t| **t != run.id).collect();
        a.insert(attr::PARALLEL_WITH.into(), json!(listed));
    } else {
        a.insert(attr::PARALLEL_WITH_COUNT.into(), json!(others));
    }
    a.insert(attr::DEPENDS_ON.into(), json!(deps));
    if !run.data_flow.is_empty() {
        let flow: Map<String, Value> = run
            .data_flow
            .iter()
            .map(|d| {
                (
                    d.key.clone(),
                    json!({
                        attr::DATA_FLOW_EXPRESSION: d.expression,
                        attr::DATA_FLOW_VALUE: d.value,
                    }),
                )
            })
            .collect();
        a.insert(attr::DATA_FLOW_INPUTS.into(), Value::Object(flow));
    }
    if run.started_at.is_some() {
        a.insert(attr::QUEUE_WAIT_MS.into(), json!(ms(run.queue_wait())));
    }
    a.insert(attr::STATUS.into(), json!(run.status.as_str()));
    a.insert(attr::RETRY_COUNT.into(), json!(run.retry_count));
    a.insert(attr::FALLBACK_USED.into(), json!(run.fallback_used));
    a.insert(attr::CACHE_HIT.into(), json!(run.cache_hit));
    if let Some(r) = &run.reason {
        a.insert(attr::SKIP_REASON.into(), json!(r));
    }
    if let Some(output) = &run.output {
        if let Some(n) = result_count(output) {
            a.insert(attr::RESULT_COUNT.into(), json!(n));
        }
        let size = serde_json::to_vec(output).map(|v| v.len()).unwrap_or(0);
        a.insert(attr::RESULT_SIZE_BYTES.into(), json!(size));
    }
    if let Some(e) = &run.error {
        a.insert(attr::ERROR_TYPE.into(), json!(e.kind));
        s.status = SpanStatus {
            code: StatusCode::Error,
            message: e.message.clone(),
        };
    }
    s.events = attempt_events(run, at);
    s
}

/// The `retry` and `fallback` events the attempts imply: a retry when a failed attempt of the
/// tool's own type is followed by another (its backoff the gap between them), the fallback
/// when an attempt of another type takes over.
fn attempt_events(run: &ToolRun, at: &dyn Fn(Duration) -> u64) -> Vec<SpanEvent> {
    let mut events = Vec::new();
    for pair in run.attempts.windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        let Some(error) = &prev.error else { continue };
        let mut attributes = Map::new();
        attributes.insert(attr::ERROR_TYPE.into(), json!(error.kind));
        attributes.insert(attr::ERROR_MESSAGE.into(), json!(error.message));
        if next.tool == run.tool {
            attributes.insert(
                attr::RETRY_BACKOFF_MS.into(),
                json!(ms(next.start.saturating_sub(prev.end))),
            );
            events.push(SpanEvent {
                time_ns: at(prev.end),
                name: attr::EVENT_RETRY.to_owned(),
                attributes,
            });
        } else {
            attributes.insert(attr::EVENT_FALLBACK.into(), json!(next.tool));
            events.push(SpanEvent {
                time_ns: at(next.start),
                name: attr::EVENT_FALLBACK.to_owned(),
                attributes,
            });
        }
    }
    events
}

/// Rows in an output: `data.rows`, `rows`, or the output itself when it is an array.
fn result_count(output: &Value) -> Option<usize> {
    output
        .get("data")
        .and_then(|d| d.get("rows"))
        .or_else(|| output.get("rows"))
        .or(Some(output))
        .and_then(Value::as_array)
        .map(Vec::len)
}
