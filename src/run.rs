//! What a run produced: plain facts per tool (status, output, resolved inputs, timing,
//! attempts) and the run's summary. Spans, the CLI's output and the inspector all consume these.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::fmt;
use crate::plan::Strategy;
use crate::schedule::ExecutionPlan;

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
    pub value: Option<Value>,
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
    /// The output, when `status` is `ok`.
    pub output: Option<Value>,
    /// The error, when `status` is `error`.
    pub error: Option<ToolError>,
    /// Why it did not run (or was stopped), when `status` is `skipped` or `cancelled`.
    pub reason: Option<String>,
    /// The input it was called with (params with the resolved mapping laid over them).
    pub input: Option<Value>,
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
}

/// Milliseconds with fractions, as `f64`, for durations in JSON and on spans.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(super::ms(*d))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Ok(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
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

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0)))
    }
}
