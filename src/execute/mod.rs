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
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
// Tokio's clock: a run on a paused clock (tests) reports virtual times.
use tokio::time::Instant;
use tracing::Instrument;

pub use observer::{Fallback, Observer, ObserverFactory, Progress, Retry, RunStart};
pub use tool::{Tool, ToolContext, ToolRegistry};

use crate::content::TelemetryConfig;
use crate::dataflow::{json_size, nests_deeper_than};
use crate::graph::critical_path;
use crate::plan::PlanError;
use crate::plan::{OnFailure, Plan, Strategy};
use crate::run::{ms, DataFlowInput, RunReport, RunSummary, ToolError, ToolRun, ToolStatus};
use crate::schedule::{analyze, AnalyzedPlan};
use cache::ResultCache;
use call::{Call, Fact, FactSender, Outcome};
use observer::{NamedFactory, Observers, ProgressObserver};

/// Default base delay of the exponential retry backoff.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between two retries.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(5);

/// Deepest nesting of arrays and objects a resolved input or an output may have. Values
/// this deep are walked by serializers and redaction on the call stack; past it the tool
/// fails (`data_flow` for an input, `invalid_output` for an output) instead of the process.
pub const MAX_VALUE_DEPTH: usize = 256;

/// Default memory budget of a run for tool outputs and resolved inputs (1 GiB); see
/// [`OrchestratorBuilder::with_memory_budget`] and the plan's `memory_budget_mb`.
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

/// What is left of a run's memory budget.
#[derive(Debug)]
struct Budget {
    limit: usize,
    used: usize,
}

impl Budget {
    fn new(limit: usize) -> Self {
        Budget { limit, used: 0 }
    }

    /// Takes `bytes` from the budget, or says why not.
    fn take(&mut self, bytes: usize) -> Result<(), ToolError> {
        let mib = |b: usize| b.div_ceil(1024 * 1024);
        if self.used.saturating_add(bytes) > self.limit {
            return Err(ToolError::with_kind(
                "resource_exhausted",
                format!(
                    "the run's memory budget for tool outputs and inputs ({} MiB) is spent: \
                     {} MiB used, {} MiB more needed (raise memory_budget_mb in the plan or \
                     --memory-budget)",
                    mib(self.limit),
                    mib(self.used),
                    mib(bytes)
                ),
            ));
        }
        self.used += bytes;
        Ok(())
    }

    /// Returns `bytes` taken before (a value no longer held).
    fn give_back(&mut self, bytes: usize) {
        self.used = self.used.saturating_sub(bytes);
    }
}

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
    memory_budget: usize,
    keep_values: bool,
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
    memory_budget: usize,
    keep_values: bool,
    telemetry: TelemetryConfig,
}

impl OrchestratorBuilder {
    /// No tools, no observers: the executor alone.
    pub fn bare() -> Self {
        OrchestratorBuilder {
            registry: ToolRegistry::new(),
            observers: Vec::new(),
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            keep_values: true,
            telemetry: TelemetryConfig::default(),
        }
    }

    /// Whether the run report keeps every tool's input, output and data-flow values (the
    /// default). Without them a run holds a value only while something still needs it: an
    /// output until its last dependent has started, an input until its tool has ended (the
    /// observers, and so the spans, see both as usual). For runs whose report is summarised,
    /// not read value by value: a 50,000-tool run then holds its plan and its bookkeeping, not
    /// every result.
    pub fn with_values_in_report(mut self, keep: bool) -> Self {
        self.keep_values = keep;
        self
    }

    /// The memory budget of each run for tool outputs and resolved inputs, in bytes
    /// ([`DEFAULT_MEMORY_BUDGET`]; a plan's `memory_budget_mb` overrides it). Past it the
    /// tool that would exceed it fails with `error.type = resource_exhausted` and the rest of
    /// the run goes on.
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
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
                memory_budget: self.memory_budget,
                keep_values: self.keep_values,
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
    /// Tool outputs by plan index, shared with the records (one copy per value).
    outputs: Vec<Option<Arc<Value>>>,
    /// Their compact JSON sizes, for the budget and for estimates.
    output_sizes: Vec<usize>,
    /// Dependents of each tool that have not started yet (they read its output then).
    readers_left: Vec<usize>,
    /// What each tool's resolved input took from the budget.
    input_charges: Vec<usize>,
    /// What is left of the run's memory budget for outputs and resolved inputs.
    budget: Budget,
    waiting_on: Vec<usize>,
    ready: BinaryHeap<Reverse<(usize, usize)>>,
    tasks: JoinSet<(usize, Outcome)>,
    task_of: HashMap<tokio::task::Id, usize>,
    /// Retries and fallbacks reported by the tasks: a sender for each task, the receiver.
    facts: (FactSender, mpsc::UnboundedReceiver<(usize, Fact)>),
    running: usize,
    limit: usize,
    stopped: Option<String>,
}

impl<'a> Run<'a> {
    fn new(orch: &'a Orchestrator, plan: &'a AnalyzedPlan, observers: Observers<'a>) -> Self {
        let p = plan.plan();
        let n = p.tools.len();
        let records = p
            .tools
            .iter()
            .enumerate()
            .map(|(i, t)| ToolRun {
                asset_id: t.asset_id.clone(),
                group: plan.group_of(i),
                order: plan.order_of(i),
                ..ToolRun::new(t.id.clone(), t.tool.clone(), i)
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
            output_sizes: vec![0; n],
            readers_left: (0..n).map(|i| plan.dependents(i).len()).collect(),
            input_charges: vec![0; n],
            budget: Budget::new(p.memory_budget_mb.map_or(orch.inner.memory_budget, |mb| {
                mb.saturating_mul(1024 * 1024)
            })),
            waiting_on: (0..n).map(|i| plan.dependencies(i).len()).collect(),
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
                            let error = ToolError::with_kind("panic", e.to_string());
                            self.finish(i, Outcome::of(Err(error)), true);
                        }
                    }
                    None => break,
                },
            }
        }
        // The tasks a stop aborted end here (a tool blocking its thread is not waited for
        // long): their spans are closed when the run returns, not at some later drop.
        if self.stopped.is_some() {
            let tasks = &mut self.tasks;
            let drained = async { while tasks.join_next().await.is_some() {} };
            let _ = tokio::time::timeout(Duration::from_secs(1), drained).await;
            self.tasks.detach_all();
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

    /// Tool `i`'s input: its params with every mapping resolved over them, and the first
    /// failure, if any. Within the run's memory budget: the size of what a mapping would
    /// produce is estimated before anything is built, so a mapping that would copy too much
    /// fails the tool (`resource_exhausted`) instead of growing the process.
    fn resolve_input(&mut self, i: usize) -> (Arc<Value>, Option<ToolError>) {
        let spec = &self.plan.plan().tools[i];
        let mut input = Map::clone(&spec.params);
        let mut failure = None;
        let (outputs, sizes) = (&self.outputs, &self.output_sizes);
        let deps = self.plan.dependencies(i);
        let plan = self.plan.plan();
        let index_of = |id: &str| {
            // A template names only dependencies of this tool (each adds an implicit one):
            // search those, O(fan-in), then the plan's index.
            deps.iter()
                .copied()
                .find(|&d| plan.tools[d].id == id)
                .or_else(|| plan.tool_index(id))
        };
        let lookup = |id: &str| index_of(id).and_then(|k| outputs[k].as_deref());
        let size_of = |id: &str| index_of(id).map(|k| sizes[k]);
        let mut charged = 0;
        for (key, mapping) in &self.plan.graph().mappings[i] {
            let value = if failure.is_some() {
                None
            } else {
                // Held twice: in the tool's input and in its data-flow record.
                let need = mapping.resolved_size(&lookup, &size_of).saturating_mul(2);
                match self.budget.take(need).map(|()| charged += need) {
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                    Ok(()) => match mapping.resolve(&lookup) {
                        Ok(v) if nests_deeper_than(&v, MAX_VALUE_DEPTH) => {
                            failure = Some(ToolError::with_kind(
                                "data_flow",
                                format!(
                                    "the value mapped to {key:?} nests deeper than {MAX_VALUE_DEPTH} levels"
                                ),
                            ));
                            None
                        }
                        Ok(v) => {
                            input.insert(key.clone(), v.clone());
                            Some(Arc::new(v))
                        }
                        Err(e) => {
                            failure = Some(ToolError::with_kind("data_flow", e.to_string()));
                            None
                        }
                    },
                }
            };
            self.records[i].data_flow.push(DataFlowInput {
                key: key.clone(),
                expression: spec.output_mapping.get(key).cloned().unwrap_or(Value::Null),
                value,
            });
        }
        self.input_charges[i] = charged;
        (Arc::new(Value::Object(input)), failure)
    }

    /// Tool `i` has started and read its dependencies' outputs: each output it was the last
    /// reader of goes.
    fn reader_gone(&mut self, i: usize) {
        for &d in self.plan.dependencies(i) {
            self.readers_left[d] -= 1;
            if self.readers_left[d] == 0 {
                self.release_output(d);
            }
        }
    }

    /// Drops tool `i`'s output (no dependent will read it any more) and gives its size back
    /// to the budget.
    fn release_output(&mut self, i: usize) {
        if self.outputs[i].take().is_some() {
            self.budget.give_back(self.output_sizes[i]);
        }
    }

    /// Resolves the input, consults the cache, and spawns the tool's task.
    fn start(&mut self, i: usize) {
        let now = self.now();
        let (input, failure) = self.resolve_input(i);
        if !self.orch.inner.keep_values {
            self.reader_gone(i);
        }
        let spec = &self.plan.plan().tools[i];
        let rec = &mut self.records[i];
        rec.input = Some(input.clone());
        rec.started_at = Some(now);

        let cached = spec
            .cache_ttl_ms
            .and_then(|_| self.orch.inner.cache.get(&spec.tool, &input));
        // One handle, shared by the task and the tool's context.
        let span = Arc::new(self.observers.tool_started(&self.records[i]));
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

        let registry = &self.orch.inner.registry;
        let lookup = |name: &str| {
            registry.get(name).ok_or_else(|| {
                ToolError::with_kind(
                    "unknown_tool",
                    format!(
                        "tool type {name:?} is not registered with this orchestrator (the plan \
                         was analyzed against another registry)"
                    ),
                )
            })
        };
        let tools = lookup(&spec.tool).and_then(|primary| {
            let fallback = match &spec.fallback {
                Some(f) => Some((f.clone(), lookup(f)?)),
                None => None,
            };
            Ok((primary, fallback))
        });
        let (primary, fallback) = match tools {
            Ok(tools) => tools,
            Err(error) => return self.finish(i, Outcome::of(Err(error)), false),
        };
        let call = Call {
            index: i,
            facts: self.facts.0.clone(),
            ctx: ToolContext {
                tool_id: Arc::from(spec.id.as_str()),
                tool_type: Arc::from(spec.tool.as_str()),
                attempt: 0,
                span: span.clone(),
            },
            primary,
            fallback,
            timeout: spec.timeout_ms.map(Duration::from_millis),
            retries: spec.retries,
            backoff: self.orch.inner.retry_backoff,
            t0: self.t0,
        };
        self.running += 1;
        let handle = self.tasks.spawn(call::InSpan::new(span, async move {
            let input = Arc::unwrap_or_clone(input);
            (i, call.run(input).await)
        }));
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
        let result = outcome.result.and_then(|output| {
            if nests_deeper_than(&output, MAX_VALUE_DEPTH) {
                return Err(ToolError::with_kind(
                    "invalid_output",
                    format!("the output nests deeper than {MAX_VALUE_DEPTH} levels"),
                ));
            }
            let size = json_size(&output);
            self.budget.take(size)?;
            self.output_sizes[i] = size;
            Ok(output)
        });
        let rec = &mut self.records[i];
        match result {
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
        if !self.orch.inner.keep_values {
            let rec = &mut self.records[i];
            rec.input = None;
            rec.output = None;
            rec.data_flow = Vec::new();
            self.budget
                .give_back(std::mem::take(&mut self.input_charges[i]));
            if self.readers_left[i] == 0 {
                self.release_output(i);
            }
        }
        if ok {
            let plan = self.plan;
            for &d in plan.dependents(i) {
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
        // Aborted, and awaited at the end of the run (briefly): their tool spans end before
        // the run returns.
        self.tasks.abort_all();
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
        if !self.orch.inner.keep_values {
            // A tool stopped while running: its input goes as a finished tool's does. (Skipped
            // tools end here too, when the run ends: what they would have read goes with it.)
            let rec = &mut self.records[i];
            rec.input = None;
            rec.data_flow = Vec::new();
        }
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

#[cfg(test)]
mod tests;
