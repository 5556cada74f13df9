//! What a run produced: plain facts per tool (status, output, resolved inputs, timing,
//! attempts) and the run's summary. Spans, the CLI's output and the inspector all consume these.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::content::TelemetryConfig;

use crate::plan::Strategy;
use crate::schedule::ExecutionPlan;
use std::fmt;

/// A failed tool call: a short machine-readable kind (exported as `error.type`) and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolError {
    /// Short class of the error, e.g. `timeout`, `panic`, `data_flow`, `tool_error`.
    pub kind: String,
    /// Human-readable message.
    pub message: String,
}

impl ToolError {
    /// An error of kind `tool_error`.
    pub fn new(message: impl Into<String>) -> Self {
        Self::with_kind("tool_error", message)
    }

    /// An error of the given kind.
    pub fn with_kind(kind: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError {
            kind: kind.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ToolError {}

/// How a tool ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    /// Produced an output.
    Ok,
    /// Failed (after retries and fallback).
    Error,
    /// Never started: a dependency failed or was skipped.
    Skipped,
    /// Stopped or never started because the run was cancelled (or `fail_fast` fired).
    Cancelled,
}

impl ToolStatus {
    /// `ok`, `error`, `skipped` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolStatus::Ok => "ok",
            ToolStatus::Error => "error",
            ToolStatus::Skipped => "skipped",
            ToolStatus::Cancelled => "cancelled",
        }
    }
}

/// One resolved `output_mapping` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFlowInput {
    /// The input key.
    pub key: String,
    /// The mapping value as written (usually a template string).
    pub expression: Value,
    /// The resolved value; `None` when resolution failed.
    pub value: Option<Arc<Value>>,
}

/// One call of a tool type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The tool type called (the fallback's type for the fallback attempt).
    pub tool: String,
    /// Start, from the run's start.
    #[serde(with = "duration_ms")]
    pub start: Duration,
    /// End, from the run's start.
    #[serde(with = "duration_ms")]
    pub end: Duration,
    /// The error, if the attempt failed.
    pub error: Option<ToolError>,
}

/// Everything known about one tool after a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRun {
    /// The plan's tool id.
    pub id: String,
    /// The tool type.
    pub tool: String,
    /// The asset, if the plan named one.
    pub asset_id: Option<String>,
    /// Position in the plan.
    pub index: usize,
    /// Execution group (level).
    pub group: usize,
    /// Planned order index.
    pub order: usize,
    /// How it ended.
    pub status: ToolStatus,
    /// The output, when `status` is `ok` (shared with the executor and the data flow: one
    /// copy per value).
    pub output: Option<Arc<Value>>,
    /// The error, when `status` is `error`.
    pub error: Option<ToolError>,
    /// Why it did not run (or was stopped), when `status` is `skipped` or `cancelled`.
    pub reason: Option<String>,
    /// The input it was called with (params with the resolved mapping laid over them).
    pub input: Option<Arc<Value>>,
    /// The data flow: each mapping entry with its resolved value.
    pub data_flow: Vec<DataFlowInput>,
    /// When all its dependencies had succeeded, from the run's start.
    #[serde(with = "opt_duration_ms")]
    pub ready_at: Option<Duration>,
    /// When it started, from the run's start.
    #[serde(with = "opt_duration_ms")]
    pub started_at: Option<Duration>,
    /// When it ended (or was skipped), from the run's start.
    #[serde(with = "opt_duration_ms")]
    pub ended_at: Option<Duration>,
    /// Every call made, retries and fallback included.
    pub attempts: Vec<Attempt>,
    /// Retries made of the primary tool type.
    pub retry_count: u32,
    /// Whether the output came from the fallback tool type.
    pub fallback_used: bool,
    /// Whether the output came from the result cache.
    pub cache_hit: bool,
}

impl ToolRun {
    /// A tool that has not run yet: `skipped` until it ends otherwise, nothing recorded.
    pub fn new(id: impl Into<String>, tool: impl Into<String>, index: usize) -> ToolRun {
        ToolRun {
            id: id.into(),
            tool: tool.into(),
            asset_id: None,
            index,
            group: 0,
            order: index,
            status: ToolStatus::Skipped,
            output: None,
            error: None,
            reason: None,
            input: None,
            data_flow: Vec::new(),
            ready_at: None,
            started_at: None,
            ended_at: None,
            attempts: Vec::new(),
            retry_count: 0,
            fallback_used: false,
            cache_hit: false,
        }
    }

    /// Start to end; zero when it never started.
    pub fn duration(&self) -> Duration {
        match (self.started_at, self.ended_at) {
            (Some(s), Some(e)) => e.saturating_sub(s),
            _ => Duration::ZERO,
        }
    }

    /// Ready to start: the time spent waiting for a concurrency slot.
    pub fn queue_wait(&self) -> Duration {
        match (self.ready_at, self.started_at) {
            (Some(r), Some(s)) => s.saturating_sub(r),
            _ => Duration::ZERO,
        }
    }
}

/// The run's timing summary (the `execute` span's closing attributes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// First tool start to last tool end, in milliseconds.
    pub total_duration_ms: f64,
    /// Sum of tool durations, in milliseconds.
    pub serial_duration_ms: f64,
    /// `serial_duration_ms - total_duration_ms`.
    pub time_saved_ms: f64,
    /// Longest path through the dependency graph weighted by actual durations (tool ids).
    pub critical_path: Vec<String>,
    /// Its length, in milliseconds.
    pub critical_path_ms: f64,
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The plan's id.
    pub plan_id: String,
    /// The strategy it ran with.
    pub strategy: Strategy,
    /// Wall-clock start of the run.
    pub started: SystemTime,
    /// Wall-clock length of the run.
    #[serde(with = "duration_ms")]
    pub duration: Duration,
    /// Per tool, in plan order.
    pub tools: Vec<ToolRun>,
    /// The execution plan it followed.
    pub execution_plan: ExecutionPlan,
    /// Timing summary.
    pub summary: RunSummary,
    /// The trace id (32 hex digits) of the run's spans, when an OpenTelemetry layer traced it.
    pub trace_id: Option<String>,
}

impl RunReport {
    /// Whether every tool succeeded.
    pub fn succeeded(&self) -> bool {
        self.tools.iter().all(|t| t.status == ToolStatus::Ok)
    }

    /// Whether the run was cancelled (some tool has status `cancelled`).
    pub fn cancelled(&self) -> bool {
        self.tools.iter().any(|t| t.status == ToolStatus::Cancelled)
    }

    /// A tool's record by id.
    pub fn tool(&self, id: &str) -> Option<&ToolRun> {
        self.tools.iter().find(|t| t.id == id)
    }

    /// A copy fit to leave the process (`--json`, views, files): every input, output,
    /// data-flow value, error message and reason redacted by `content`'s rules, and values
    /// first seen under a secret key redacted wherever they flowed next. Nothing is cut to
    /// the span value limit.
    pub fn redacted(&self, content: &TelemetryConfig) -> RunReport {
        self.clone().into_redacted(content)
    }

    /// [`RunReport::redacted`] without a copy: this report, redacted where it stands.
    pub fn into_redacted(mut self, content: &TelemetryConfig) -> RunReport {
        let r = content.redactor();
        let mut known = Vec::new();
        for t in &self.tools {
            for v in [&t.input, &t.output].into_iter().flatten() {
                r.collect_secrets(v, &mut known);
            }
        }
        let value = |v: &Arc<Value>| r.redacted_shared(v, &known);
        let text = |t: &str| content.redact_free_text(t, &known);
        for t in &mut self.tools {
            t.input = t.input.as_ref().map(value);
            t.output = t.output.as_ref().map(value);
            for flow in &mut t.data_flow {
                flow.value = flow.value.as_ref().map(value);
            }
            if let Some(e) = &mut t.error {
                e.message = text(&e.message);
            }
            for a in &mut t.attempts {
                if let Some(e) = &mut a.error {
                    e.message = text(&e.message);
                }
            }
            t.reason = t.reason.as_deref().map(text);
        }
        self
    }
}

/// Milliseconds with fractions, as `f64`, for durations in JSON and on spans.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A duration from milliseconds read back from JSON: negative, not a number or beyond what a
/// `Duration` holds is an error, never a panic.
fn duration_from_ms<E: serde::de::Error>(ms: f64) -> Result<Duration, E> {
    Duration::try_from_secs_f64(ms / 1000.0)
        .map_err(|_| E::custom(format!("{ms} ms is not a duration (0 to {} s)", u64::MAX)))
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(super::ms(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::duration_from_ms(f64::deserialize(d)?)
    }
}

mod opt_duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::ms(*d)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(super::duration_from_ms)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_redacted_report_carries_no_secret() {
        let tool = |id: &str, input: Value, output: Value| ToolRun {
            status: ToolStatus::Ok,
            output: Some(Arc::new(output)),
            error: Some(ToolError::new("login as kim:hunter22-pw failed")),
            input: Some(Arc::new(input)),
            data_flow: vec![DataFlowInput {
                key: "pw".into(),
                expression: json!("{a.password}"),
                value: Some(Arc::new(json!("hunter22-pw"))),
            }],
            ..ToolRun::new(id, "echo", 0)
        };
        let report = RunReport {
            plan_id: "p".into(),
            strategy: Strategy::Serial,
            started: SystemTime::UNIX_EPOCH,
            duration: Duration::ZERO,
            tools: vec![tool(
                "a",
                json!({"password": "hunter22-pw", "region": "eu-west-1"}),
                json!({"echo": "hunter22-pw", "url": "https://x/?token=abcdef", "region": "eu-west-1"}),
            )],
            execution_plan: crate::schedule::ExecutionPlan {
                execution_strategy: Strategy::Serial,
                execution_groups: vec![],
                total_expected_duration_ms: 0,
                is_optimized: false,
            },
            summary: RunSummary {
                total_duration_ms: 0.0,
                serial_duration_ms: 0.0,
                time_saved_ms: 0.0,
                critical_path: vec![],
                critical_path_ms: 0.0,
            },
            trace_id: None,
        };
        let red = report.redacted(&TelemetryConfig::default());
        let text = serde_json::to_string(&red).unwrap();
        assert!(
            !text.contains("hunter22") && !text.contains("abcdef"),
            "{text}"
        );
        assert!(text.contains("eu-west-1"), "{text}");
        let t = &red.tools[0];
        assert_eq!(
            t.error.as_ref().unwrap().message,
            "login as kim:[REDACTED] failed"
        );
        assert_eq!(
            **t.data_flow[0].value.as_ref().unwrap(),
            json!("[REDACTED]")
        );
    }

    #[test]
    fn durations_read_back_are_checked() {
        let attempt = |start: &str| {
            serde_json::from_str::<Attempt>(&format!(
                r#"{{"tool": "echo", "start": {start}, "end": 2.5, "error": null}}"#
            ))
        };
        let ok = attempt("1.5").unwrap();
        assert_eq!(ok.start, Duration::from_micros(1500));
        for bad in ["1e300", "-1"] {
            let e = attempt(bad).unwrap_err().to_string();
            assert!(e.contains("ms is not a duration"), "{bad}: {e}");
        }
    }
}
