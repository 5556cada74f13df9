//! Execution: the dataflow scheduler and everything around a tool call.
//!
//! A tool starts as soon as all its dependencies have succeeded — never waiting for the rest
//! of its level — up to the plan's `max_concurrency` (1 under the serial strategy). Among the
//! ready tools the planned order decides who goes first. Each tool runs in its own tokio task
//! (so a panic is contained and CPU-bound tools use every core) under per-attempt timeouts,
//! retries with exponential backoff, an optional fallback type and an optional result cache.
//!
//! With `on_failure: continue` the dependents of a failed tool are skipped, with the reason;
//! with `fail_fast` the first failure cancels what is running and what has not started.
//! Dropping the run future aborts the tasks in flight and ends their spans as `cancelled`.
//!
//! The executor records plain facts in a [`RunReport`] and reports each as it happens to the
//! run's [observers](Observer): spans, the progress line and metrics are observers.

mod cache;
mod call;
mod observer;
mod tool;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use observer::{Fallback, Observer, ObserverFactory, Progress, Retry, RunStart};
pub use tool::{Tool, ToolContext, ToolRegistry};

use crate::content::TelemetryConfig;
use crate::plan::PlanError;
use crate::graph::critical_path;
use crate::plan::{OnFailure, Plan, Strategy};
use crate::run::{ms, DataFlowInput, RunReport, RunSummary, ToolError, ToolRun, ToolStatus};
use crate::schedule::{analyze, AnalyzedPlan};
use cache::ResultCache;
use call::{Call, Fact, Outcome};
use observer::{NamedFactory, Observers, ProgressObserver};

/// Default base delay of the exponential retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two retries.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5);

/// Runs analyzed plans. Cheap to clone; clones share the registry and the result cache.
#[derive(Clone, Debug)]
pub struct Orchestrator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: ToolRegistry,
    observers: Vec<NamedFactory>,
    retry_backoff: Duration,
    cache: ResultCache,
    telemetry: Arc<TelemetryConfig>,
}

/// Builds an [`Orchestrator`]. [`Orchestrator::builder`] starts from the built-in tools and
/// the span observer; [`OrchestratorBuilder::bare`] from nothing.
#[derive(Debug)]
pub struct OrchestratorBuilder {
    registry: ToolRegistry,
    observers: Vec<NamedFactory>,
    retry_backoff: Duration,
    telemetry: TelemetryConfig,
}

impl OrchestratorBuilder {
    /// No tools, no observers: the executor alone.
    pub fn bare() -> Self {
        OrchestratorBuilder {
            registry: ToolRegistry::new(),
            observers: Vec::new(),
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            telemetry: TelemetryConfig::default(),
        }
    }

    /// Uses this registry instead of the built-in tools.
    pub fn with_registry(mut self, registry: ToolRegistry) -> Self {
        self.registry = registry;
        self
    }

    /// Base delay of the exponential retry backoff (doubled after each retry, at most
    /// [`MAX_RETRY_BACKOFF`]).
    pub fn with_retry_backoff(mut self, base: Duration) -> Self {
        self.retry_backoff = base;
        self
    }

    /// Calls `f` whenever a tool starts or ends, with the run's counts (for progress displays;
    /// keep it cheap, it runs on the scheduler).
    pub fn with_progress(self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.with_named_observer("progress", ProgressObserver::factory(Arc::new(f)))
    }

    /// Adds an observer of every run: `make` is called at the start of each run and the
    /// [`Observer`] it returns is told that run's facts (after the observers added before it).
    pub fn with_observer(
        self,
        make: impl for<'a> Fn(&RunStart<'a>) -> Box<dyn Observer + 'a> + Send + Sync + 'static,
    ) -> Self {
        self.with_named_observer("observer", Arc::new(make))
    }

    pub(crate) fn with_named_observer(mut self, name: &'static str, make: ObserverFactory) -> Self {
        self.observers.push(NamedFactory { name, make });
        self
    }

    /// How tool values are put on spans: content capture, redaction, value length limit.
    pub fn with_telemetry(mut self, config: TelemetryConfig) -> Self {
        self.telemetry = config;
        self
    }

    /// Builds the orchestrator.
    pub fn build(self) -> Orchestrator {
        Orchestrator {
            inner: Arc::new(Inner {
                registry: self.registry,
                observers: self.observers,
                retry_backoff: self.retry_backoff,
                cache: ResultCache::default(),
                telemetry: Arc::new(self.telemetry),
            }),
        }
    }
}

impl Default for Orchestrator {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl Orchestrator {
    /// An orchestrator over the given registry, with default settings.
    pub fn new(registry: ToolRegistry) -> Self {
        Self::builder().with_registry(registry).build()
    }

    /// The tool registry.
    pub fn registry(&self) -> &ToolRegistry {
        &self.inner.registry
    }

    /// The telemetry settings.
    pub fn telemetry(&self) -> &TelemetryConfig {
        &self.inner.telemetry
    }

    /// Validates a plan against this orchestrator's registry and computes its schedule.
    pub fn analyze(&self, plan: Plan) -> Result<AnalyzedPlan, PlanError> {
        analyze(plan, &|t| self.inner.registry.contains(t))
    }

    /// Runs a plan to the end.
    pub async fn run(&self, plan: &AnalyzedPlan) -> RunReport {
        self.run_until(plan, futures::future::pending::<()>()).await
    }

    /// Runs a plan until it ends or `cancel` completes; on cancellation the tools in flight
    /// are stopped and every tool not finished is reported (and traced) as `cancelled`.
    pub async fn run_until<C>(&self, plan: &AnalyzedPlan, cancel: C) -> RunReport
    where
        C: Future<Output = ()>,
    {
        self.run_stage(plan, cancel, None).await
    }

    /// [`Orchestrator::run_until`], recording the EXECUTE stage's asset on the `execute` span.
    pub(crate) async fn run_stage<C>(
        &self,
        plan: &AnalyzedPlan,
        cancel: C,
        asset_id: Option<&str>,
    ) -> RunReport
    where
        C: Future<Output = ()>,
    {
        let start = RunStart {
            plan,
            content: &self.inner.telemetry,
            asset_id,
        };
        let mut observers = Observers(
            self.inner
                .observers
                .iter()
                .map(|f| (f.make)(&start))
                .collect(),
        );
        let run_span = observers.run_span();
        Run::new(self, plan, observers)
            .drive(cancel)
            .instrument(run_span)
            .await
    }
}

/// The state of one run.
struct Run<'a> {
    orch: &'a Orchestrator,
    plan: &'a AnalyzedPlan,
    observers: Observers<'a>,
    t0: Instant,
    started: SystemTime,
    records: Vec<ToolRun>,
    outputs: Vec<Option<Value>>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    ready: BinaryHeap<Reverse<(usize, usize)>>,
    tasks: JoinSet<(usize, Outcome)>,
    task_of: HashMap<tokio::task::Id, usize>,
    facts: (mpsc::UnboundedSender<(usize, Fact)>, mpsc::UnboundedReceiver<(usize, Fact)>),
    running: usize,
    limit: usize,
    stopped: Option<String>,
}

impl<'a> Run<'a> {
    fn new(orch: &'a Orchestrator, plan: &'a AnalyzedPlan, observers: Observers<'a>) -> Self {
        let p = plan.plan();
        let n = p.tools.len();
        let mut dependents = vec![Vec::new(); n];
        for i in 0..n {
            for &d in plan.dependencies(i) {
                dependents[d].push(i);
            }
        }
        let records = p
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| ToolRun {
                id: t.id.clone(),
                tool: t.tool.clone(),
                asset_id: t.asset_id.clone(),
                index: i,
                group: plan.group_of(i),
                order: plan.order_of(i),
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
            })
            .collect();
        let limit = if plan.strategy() == Strategy::Serial {
            1
        } else {
            p.max_concurrency.max(1)
        };
        Run {
            orch,
            plan,
            observers,
            t0: Instant::now(),
            started: SystemTime::now(),
            records,
            outputs: vec![None; n],
            waiting_on: (0..n).map(|i| plan.dependencies(i).len()).collect(),
            dependents,
            ready: BinaryHeap::new(),
            tasks: JoinSet::new(),
            task_of: HashMap::new(),
            facts: mpsc::unbounded_channel(),
            running: 0,
            limit,
            stopped: None,
        }
    }

    fn now(&self) -> Duration {
        self.t0.elapsed()
    }

    async fn drive<C: Future<Output = ()>>(mut self, cancel: C) -> RunReport {
        let now = self.now();
        for i in 0..self.records.len() {
            if self.waiting_on[i] == 0 {
                self.make_ready(i, now);
            }
        }
        let mut cancel = std::pin::pin!(cancel.fuse());
        loop {
            self.start_ready();
            if self.running == 0 {
                break;
            }
            tokio::select! {
                biased;
                () = &mut cancel, if self.stopped.is_none() => {
                    self.stop("the run was cancelled".to_owned());
                }
                Some((i, fact)) = self.facts.1.recv() => self.report_fact(i, fact),
                joined = self.tasks.join_next_with_id() => match joined {
                    Some(Ok((id, (i, outcome)))) => {
                        self.task_of.remove(&id);
                        self.finish(i, outcome, true)
                    }
                    Some(Err(e)) => {
                        // Tool panics are caught per attempt; this is a panic of the task
                        // itself, reported as the tool's failure all the same.
                        if let Some(i) = self.task_of.remove(&e.id()) {
                            let outcome = Outcome::of(Err(ToolError::with_kind("panic", e.to_string())));
                            self.finish(i, outcome, true);
                        }
                    }
                    None => break,
                },
            }
        }
        // Whatever never became ready (or was stopped before it started) ends here.
        for i in 0..self.records.len() {
            if self.records[i].ended_at.is_none() {
                let (status, reason) = match &self.stopped {
                    Some(why) => (ToolStatus::Cancelled, why.clone()),
                    None => (ToolStatus::Skipped, self.skip_reason(i)),
                };
                self.end_unfinished(i, status, reason);
            }
        }
        self.report()
    }

    fn make_ready(&mut self, i: usize, now: Duration) {
        self.records[i].ready_at = Some(now);
        self.observers.tool_ready(&self.records[i]);
        self.ready.push(Reverse((self.plan.order_of(i), i)));
    }

    /// A retry or fallback reported by a tool's task, told to the observers while the tool
    /// is still running.
    fn report_fact(&mut self, i: usize, fact: Fact) {
        let rec = &self.records[i];
        if rec.ended_at.is_some() {
            return;
        }
        match &fact {
            Fact::Retry {
                attempt,
                error,
                delay,
            } => self.observers.retry(
                rec,
                Retry {
                    attempt: *attempt,
                    error,
                    delay: *delay,
                },
            ),
            Fact::Fallback { tool, error } => {
                self.observers.fallback(rec, Fallback { tool, error })
            }
        }
    }

    fn start_ready(&mut self) {
        while self.stopped.is_none() && self.running < self.limit {
            let Some(Reverse((_, i))) = self.ready.pop() else {
                break;
            };
            self.start(i);
        }
    }

    /// Resolves the input, consults the cache, and spawns the tool's task.
    fn start(&mut self, i: usize) {
        let now = self.now();
        let spec = &self.plan.plan().tools[i];
        let mut input = Map::clone(&spec.params);
        let mut failure = None;
        let outputs = &self.outputs;
        let deps = self.plan.dependencies(i);
        let tools = &self.plan.plan().tools;
        let lookup = |id: &str| {
            // A template names only dependencies of this tool (each adds an implicit one):
            // search those, O(fan-in). A scan of the whole plan per template cost 1.3 µs a
            // tool in a 1,000-tool plan, and grows with the plan (`benches/span_overhead`).
            deps.iter()
                .copied()
                .find(|&d| tools[d].id == id)
                .or_else(|| self.plan.plan().tool_index(id))
                .and_then(|k| outputs[k].as_ref())
        };
        for (key, mapping) in &self.plan.graph().mappings[i] {
            let resolved = mapping.resolve(&lookup);
            let value = match resolved {
                Ok(v) => {
                    input.insert(key.clone(), v.clone());
                    Some(v)
                }
                Err(e) => {
                    failure.get_or_insert_with(|| ToolError::with_kind("data_flow", e.to_string()));
                    None
                }
            };
            self.records[i].data_flow.push(DataFlowInput {
                key: key.clone(),
                expression: spec.output_mapping.get(key).cloned().unwrap_or(Value::Null),
                value,
            });
        }
        let input = Value::Object(input);
        let rec = &mut self.records[i];
        rec.input = Some(input.clone());
        rec.started_at = Some(now);

        let cached = spec
            .cache_ttl_ms
            .and_then(|_| self.orch.inner.cache.get(&spec.tool, &input));
        let span = self.observers.tool_started(&self.records[i]);
        if let Some(error) = failure {
            let outcome = Outcome::of(Err(error));
            self.finish(i, outcome, false);
            return;
        }
        if let Some(output) = cached {
            self.records[i].cache_hit = true;
            let outcome = Outcome::of(Ok(output));
            self.finish(i, outcome, false);
            return;
        }

        let call = Call {
            index: i,
            facts: self.facts.0.clone(),
            tool_id: spec.id.clone(),
            tool_type: spec.tool.clone(),
            primary: self
                .orch
                .inner
                .registry
                .get(&spec.tool)
                .expect("validated tool type"),
            fallback: spec.fallback.as_ref().map(|f| {
                (
                    f.clone(),
                    self.orch
                        .inner
                        .registry
                        .get(f)
                        .expect("validated fallback type"),
                )
            }),
            timeout: spec.timeout_ms.map(Duration::from_millis),
            retries: spec.retries,
            backoff: self.orch.inner.retry_backoff,
            t0: self.t0,
            span: span.clone(),
        };
        self.running += 1;
        let handle = self
            .tasks
            .spawn(async move { (i, call.run(input).await) }.instrument(span));
        self.task_of.insert(handle.id(), i);
    }

    /// Records a tool's outcome; `from_task` when it ran in a task (not a cache hit or a
    /// data-flow failure, which end before a task is spawned).
    fn finish(&mut self, i: usize, outcome: Outcome, from_task: bool) {
        let now = self.now();
        if from_task {
            self.running -= 1;
        }
        let spec = &self.plan.plan().tools[i];
        let rec = &mut self.records[i];
        rec.ended_at = Some(now);
        rec.attempts = outcome.attempts;
        rec.retry_count = outcome.retry_count;
        rec.fallback_used = outcome.fallback_used;
        match outcome.result {
            Ok(output) => {
                rec.status = ToolStatus::Ok;
                if let (Some(ttl), false) = (spec.cache_ttl_ms, rec.cache_hit) {
                    if let Some(input) = &rec.input {
                        self.orch.inner.cache.put(
                            &spec.tool,
                            input,
                            &output,
                            Duration::from_millis(ttl),
                        );
                    }
                }
                self.outputs[i] = Some(output.clone());
                rec.output = Some(output);
            }
            Err(e) => {
                rec.status = ToolStatus::Error;
                rec.error = Some(e);
            }
        }
        let ok = self.records[i].status == ToolStatus::Ok;
        self.observers.tool_ended(&self.records[i]);
        if ok {
            for k in 0..self.dependents[i].len() {
                let d = self.dependents[i][k];
                self.waiting_on[d] -= 1;
                if self.waiting_on[d] == 0 && self.stopped.is_none() {
                    self.make_ready(d, now);
                }
            }
        } else if self.plan.plan().on_failure == OnFailure::FailFast && self.stopped.is_none() {
            self.stop(format!(
                "the run stopped after {:?} failed (on_failure: fail_fast)",
                self.records[i].id
            ));
        }
    }

    /// Stops the run: aborts the tasks in flight; nothing new starts.
    fn stop(&mut self, why: String) {
        self.stopped = Some(why.clone());
        self.ready.clear();
        let running: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.records[i].started_at.is_some() && self.records[i].ended_at.is_none())
            .collect();
        self.tasks.abort_all();
        self.tasks.detach_all();
        self.task_of.clear();
        self.running = 0;
        for i in running {
            self.end_unfinished(i, ToolStatus::Cancelled, why.clone());
        }
    }

    /// Why tool `i` never became ready: the first dependency that did not succeed.
    fn skip_reason(&self, i: usize) -> String {
        self.plan
            .dependencies(i)
            .iter()
            .map(|&d| &self.records[d])
            .find(|r| r.status != ToolStatus::Ok || r.ended_at.is_none())
            .map(|r| match r.status {
                ToolStatus::Error => format!("dependency {:?} failed", r.id),
                ToolStatus::Cancelled => format!("dependency {:?} was cancelled", r.id),
                _ => format!("dependency {:?} was skipped", r.id),
            })
            .unwrap_or_else(|| "a dependency did not succeed".to_owned())
    }

    fn end_unfinished(&mut self, i: usize, status: ToolStatus, reason: String) {
        let now = self.now();
        let rec = &mut self.records[i];
        if rec.ended_at.is_some() {
            return;
        }
        rec.status = status;
        rec.reason = Some(reason);
        rec.ended_at = Some(now);
        self.observers.tool_ended(&self.records[i]);
    }

    fn report(mut self) -> RunReport {
        let first = self.records.iter().filter_map(|r| r.started_at).min();
        let last = self.records.iter().filter_map(|r| r.ended_at).max();
        let durations: Vec<f64> = self.records.iter().map(|r| ms(r.duration())).collect();
        let deps: Vec<Vec<usize>> = (0..self.records.len())
            .map(|i| self.plan.dependencies(i).to_vec())
            .collect();
        let (path, critical_path_ms) = critical_path(&durations, &deps);
        let total = match (first, last) {
            (Some(f), Some(l)) => ms(l.saturating_sub(f)),
            _ => 0.0,
        };
        let serial: f64 = durations.iter().sum();
        let summary = RunSummary {
            total_duration_ms: total,
            serial_duration_ms: serial,
            time_saved_ms: serial - total,
            critical_path: path.iter().map(|&i| self.records[i].id.clone()).collect(),
            critical_path_ms,
        };
        let report = RunReport {
            trace_id: self.observers.trace_id(),
            plan_id: self.plan.plan().plan_id.clone(),
            strategy: self.plan.strategy(),
            started: self.started,
            duration: self.t0.elapsed(),
            tools: std::mem::take(&mut self.records),
            execution_plan: self.plan.execution_plan(),
            summary,
        };
        self.observers.run_finished(&report);
        report
    }
}

