//! The observer seam: the executor reports what happens in a run — a tool became ready,
//! started, retried, fell back, ended; the run finished — and observers turn those facts into
//! spans, a progress line or metrics. The executor knows nothing of what they do.
//!
//! One [`Observer`] is made per run (by an [`ObserverFactory`] registered with
//! [`OrchestratorBuilder::with_observer`](super::OrchestratorBuilder::with_observer)) and is
//! called on the scheduler, in order, with `&mut self`: it keeps its per-run state without
//! locks. Every method has a no-op default. Dropping an observer before
//! [`Observer::run_finished`] means the run future was dropped mid-run.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::content::TelemetryConfig;
use crate::run::{Attempt, RunReport, ToolError, ToolRun};
use crate::schedule::AnalyzedPlan;

/// What an observer is told when a run starts.
#[derive(Debug, Clone, Copy)]
pub struct RunStart<'a> {
    /// The plan being run.
    pub plan: &'a AnalyzedPlan,
    /// How values may be shown outside the process (capture, redaction, limits).
    pub content: &'a Arc<TelemetryConfig>,
    /// The EXECUTE stage's asset, when the pipeline runs the plan.
    pub asset_id: Option<&'a str>,
}

/// A retry about to happen: the primary tool type failed and is called again after `delay`.
#[derive(Debug, Clone, Copy)]
pub struct Retry<'a> {
    /// The attempt about to start (1 for the first retry).
    pub attempt: u32,
    /// Why the previous attempt failed.
    pub error: &'a ToolError,
    /// The backoff before the retry.
    pub delay: Duration,
}

/// The fallback tool type taking over after the primary's last attempt failed.
#[derive(Debug, Clone, Copy)]
pub struct Fallback<'a> {
    /// The fallback tool type.
    pub tool: &'a str,
    /// Why the primary's last attempt failed.
    pub error: &'a ToolError,
}

/// Receives the facts of one run, in the order they happen.
pub trait Observer: Send {
    /// The span the run is driven in (spans of the tools' own work nest under it);
    /// asked once, at the start. The first observer that returns an enabled span wins.
    fn run_span(&mut self) -> tracing::Span {
        tracing::Span::none()
    }

    /// All dependencies of `tool` succeeded; it waits for a concurrency slot.
    fn tool_ready(&mut self, tool: &ToolRun) {
        let _ = tool;
    }

    /// `tool` starts (its input is resolved). Returns the span its task runs in, which the
    /// tool sees as [`ToolContext::span`](super::ToolContext::span); the first observer that
    /// returns an enabled span wins.
    fn tool_started(&mut self, tool: &ToolRun) -> tracing::Span {
        let _ = tool;
        tracing::Span::none()
    }

    /// `tool`'s primary type failed and is about to be called again.
    fn retry(&mut self, tool: &ToolRun, retry: Retry<'_>) {
        let _ = (tool, retry);
    }

    /// `tool`'s fallback type takes over.
    fn fallback(&mut self, tool: &ToolRun, fallback: Fallback<'_>) {
        let _ = (tool, fallback);
    }

    /// One call of `tool` ended (reported with the tool's end, before [`Observer::tool_ended`]).
    fn attempt_ended(&mut self, tool: &ToolRun, attempt: &Attempt) {
        let _ = (tool, attempt);
    }

    /// `tool` ended: ok, error, skipped or cancelled (`started_at` is `None` when it never
    /// started).
    fn tool_ended(&mut self, tool: &ToolRun) {
        let _ = tool;
    }

    /// The run ended; `report` is final.
    fn run_finished(&mut self, report: &RunReport) {
        let _ = report;
    }

    /// The trace id of the run, when this observer traces it (32 hex digits).
    fn trace_id(&self) -> Option<String> {
        None
    }
}

/// Makes the [`Observer`] of each run.
pub type ObserverFactory =
    Arc<dyn for<'a> Fn(&RunStart<'a>) -> Box<dyn Observer + 'a> + Send + Sync>;

/// A named factory, so a builder's `Debug` can list its observers.
#[derive(Clone)]
pub(crate) struct NamedFactory {
    pub(crate) name: &'static str,
    pub(crate) make: ObserverFactory,
}

impl fmt::Debug for NamedFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A run's counts, reported to
/// [`OrchestratorBuilder::with_progress`](super::OrchestratorBuilder::with_progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Tools in the plan.
    pub total: usize,
    /// Tools that have ended (any status).
    pub done: usize,
    /// Tools running now.
    pub running: usize,
}

/// Calls a function with the run's counts whenever a tool starts or ends.
pub(crate) struct ProgressObserver {
    f: Arc<dyn Fn(Progress) + Send + Sync>,
    counts: Progress,
}

impl ProgressObserver {
    pub(crate) fn factory(f: Arc<dyn Fn(Progress) + Send + Sync>) -> ObserverFactory {
        Arc::new(move |run: &RunStart<'_>| -> Box<dyn Observer> {
            Box::new(ProgressObserver {
                f: f.clone(),
                counts: Progress {
                    total: run.plan.plan().tools.len(),
                    done: 0,
                    running: 0,
                },
            })
        })
    }
}

impl Observer for ProgressObserver {
    fn tool_started(&mut self, _: &ToolRun) -> tracing::Span {
        self.counts.running += 1;
        (self.f)(self.counts);
        tracing::Span::none()
    }

    fn tool_ended(&mut self, tool: &ToolRun) {
        if tool.started_at.is_some() {
            self.counts.running = self.counts.running.saturating_sub(1);
        }
        self.counts.done += 1;
        (self.f)(self.counts);
    }
}

/// The observers of one run, called in registration order.
pub(crate) struct Observers<'a>(pub(crate) Vec<Box<dyn Observer + 'a>>);

impl Observers<'_> {
    /// The first enabled span among `spans` (or a disabled one).
    fn first_enabled(spans: impl Iterator<Item = tracing::Span>) -> tracing::Span {
        let mut chosen = tracing::Span::none();
        for span in spans {
            if chosen.is_disabled() && !span.is_disabled() {
                chosen = span;
            }
        }
        chosen
    }

    pub(crate) fn run_span(&mut self) -> tracing::Span {
        Self::first_enabled(self.0.iter_mut().map(|o| o.run_span()))
    }

    pub(crate) fn tool_ready(&mut self, tool: &ToolRun) {
        self.0.iter_mut().for_each(|o| o.tool_ready(tool));
    }

    pub(crate) fn tool_started(&mut self, tool: &ToolRun) -> tracing::Span {
        Self::first_enabled(self.0.iter_mut().map(|o| o.tool_started(tool)))
    }

    pub(crate) fn retry(&mut self, tool: &ToolRun, retry: Retry<'_>) {
        self.0.iter_mut().for_each(|o| o.retry(tool, retry));
    }

    pub(crate) fn fallback(&mut self, tool: &ToolRun, fallback: Fallback<'_>) {
        self.0.iter_mut().for_each(|o| o.fallback(tool, fallback));
    }

    pub(crate) fn tool_ended(&mut self, tool: &ToolRun) {
        for o in &mut self.0 {
            for a in &tool.attempts {
                o.attempt_ended(tool, a);
            }
            o.tool_ended(tool);
        }
    }

    pub(crate) fn run_finished(&mut self, report: &RunReport) {
        self.0.iter_mut().for_each(|o| o.run_finished(report));
    }

    pub(crate) fn trace_id(&self) -> Option<String> {
        self.0.iter().find_map(|o| o.trace_id())
    }
}
