//! The stage pipeline: ROUTE+PLAN → VALIDATE → EXECUTE → COMPOSE → PRESENT.
//!
//! A [`Runner`] takes a user query through the five stages, each a span under one root span
//! `invoke_workflow {workflow}`:
//!
//! ```text
//! invoke_workflow ops-assistant        gen_ai.operation.name=invoke_workflow, is_nested
//! ├─ route_plan                        gen_ai.operation.name=plan; the planner's asset, the
//! │                                    chosen plan and strategy
//! ├─ validate                          the policy's asset; ERROR and stop on a violation
//! ├─ execute                           the orchestrator (levels and tools below it)
//! ├─ compose                           results → answer blocks
//! └─ present                           blocks → screen model with inspector links
//! ```
//!
//! The root span is the GenAI conventions' `gen_ai.invocation.internal` span;
//! `gen_ai.invocation.is_nested` is `true` when the run happens inside a host's own
//! invocation span — one whose `tracing` name is `invoke_workflow` or `invoke_agent`
//! (`info_span!("invoke_agent", …)`), found among the current span's ancestors in the
//! `tracing-subscriber` registry. The ROUTE+PLAN stage is the conventions' `plan` operation
//! (`gen_ai.plan.internal`); its span keeps the name `route_plan`, the stage name every
//! reader of our traces knows it by, rather than the conventions' `plan`.
//!
//! Every stage is pluggable ([`Planner`], [`Policy`], [`Composer`], [`Presenter`]); the
//! built-ins in this module make the CLI's `run` work end to end with no server. The result,
//! [`RunResult`], carries the `plan_trace` with the orchestration trace merged in.

mod builtins;
mod shutdown;

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::field::Empty;
use tracing::Instrument;

pub use builtins::{
    DefaultComposer, DefaultPolicy, DefaultPresenter, RouterPlanner, StaticPlanner,
};
pub use shutdown::{shutdown_signal, ShutdownSignals, Signal};

use crate::content::TelemetryConfig;
use crate::execute::{Orchestrator, ToolRegistry};
use crate::plan::Plan;
use crate::plan::PlanError;
use crate::run::RunReport;
use crate::schedule::{AnalyzedPlan, ExecutionGroup};
use crate::semconv as attr;

/// Default workflow name (the root span is `invoke_workflow {workflow}`).
pub const DEFAULT_WORKFLOW: &str = "orchestrace";
/// Default asset id recorded on the EXECUTE stage.
pub const DEFAULT_EXECUTE_ASSET: &str = "source:builtin-tools:v1";

/// ROUTE+PLAN: turns a query into a plan (a host plugs in its LLM planner here).
#[async_trait]
pub trait Planner: Send + Sync {
    /// The prompt / resolver asset this planner uses, recorded on the stage span.
    fn asset_id(&self) -> Option<String> {
        None
    }

    /// Produces the plan for `query`.
    async fn plan(&self, query: &str) -> Result<Plan, StageError>;
}

/// VALIDATE: accepts or rejects a plan before anything runs.
pub trait Policy: Send + Sync {
    /// The policy asset, recorded on the stage span.
    fn asset_id(&self) -> Option<String> {
        None
    }

    /// Checks the plan (already structurally valid); a rejection names the place.
    fn validate(&self, plan: &AnalyzedPlan, registry: &ToolRegistry) -> Result<(), PlanError>;
}

/// COMPOSE: turns the results into an answer and blocks.
pub trait Composer: Send + Sync {
    /// The mapping / prompt asset, recorded on the stage span.
    fn asset_id(&self) -> Option<String> {
        None
    }

    /// Builds the answer from the run.
    fn compose(
        &self,
        query: &str,
        report: &RunReport,
        orchestration: &OrchestrationTrace,
    ) -> Answer;
}

/// PRESENT: turns the answer into a screen model.
pub trait Presenter: Send + Sync {
    /// The screen asset, recorded on the stage span.
    fn asset_id(&self) -> Option<String> {
        None
    }

    /// Builds the screen model. The blocks stay in [`RunResult::blocks`]; a screen that
    /// embeds them copies every result once more.
    fn present(&self, query: &str, answer: &Answer, trace_id: Option<&str>) -> Value;
}

/// What COMPOSE produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The answer text.
    pub answer: String,
    /// Answer blocks (JSON objects with a `type`).
    pub blocks: Vec<Value>,
}

/// A stage that could not complete (other than a plan rejected by validation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageError {
    /// The stage: `route_plan`, `validate`, …
    pub stage: &'static str,
    /// What went wrong.
    pub message: String,
}

impl StageError {
    /// An error of the ROUTE+PLAN stage.
    pub fn route_plan(message: impl Into<String>) -> Self {
        StageError {
            stage: "route_plan",
            message: message.into(),
        }
    }
}

impl fmt::Display for StageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}

impl std::error::Error for StageError {}

/// Why a run produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunError {
    /// The planner failed.
    Stage(StageError),
    /// The plan is invalid or the policy rejected it; nothing ran.
    Invalid(PlanError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Stage(e) => write!(f, "{e}"),
            RunError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The orchestration trace merged into `plan_trace`; the
/// same strategy, groups and total duration the `execute` span carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrchestrationTrace {
    /// `parallel`, `serial` or `dag`.
    pub strategy: String,
    /// The execution groups.
    pub groups: Vec<ExecutionGroup>,
    /// Tools that ran (started), in planned order.
    pub tools_executed: Vec<String>,
    /// First tool start to last tool end, in milliseconds.
    pub total_duration_ms: f64,
}

impl OrchestrationTrace {
    /// The orchestration trace of a run.
    pub fn of(report: &RunReport) -> Self {
        let mut started: Vec<_> = report
            .tools
            .iter()
            .filter(|t| t.started_at.is_some())
            .collect();
        started.sort_by_key(|t| t.order);
        OrchestrationTrace {
            strategy: report.strategy.as_str().to_owned(),
            groups: report.execution_plan.execution_groups.clone(),
            tools_executed: started.iter().map(|t| t.id.clone()).collect(),
            total_duration_ms: report.summary.total_duration_ms,
        }
    }
}

/// One stage as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// The stage name.
    pub stage: String,
    /// The asset it used.
    pub asset_id: Option<String>,
    /// `ok` or `error`.
    pub status: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
}

/// The runner's `plan_trace`: what was planned, validated and run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTrace {
    /// The query.
    pub query: String,
    /// The plan's id.
    pub plan_id: String,
    /// The strategy chosen.
    pub execution_strategy: String,
    /// The stages in order.
    pub stages: Vec<StageRecord>,
    /// The orchestration trace of the EXECUTE stage.
    pub orchestration: OrchestrationTrace,
}

/// What a run through the five stages returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The trace id, when traced.
    pub trace_id: Option<String>,
    /// The plan trace with the orchestration merged in.
    pub plan_trace: PlanTrace,
    /// The answer text.
    pub answer: String,
    /// The answer blocks.
    pub blocks: Vec<Value>,
    /// The screen model (the built-in one refers to `blocks` by count, not by copy).
    pub screen: Value,
    /// Per tool: status, inputs, output, timings.
    pub execution: RunReport,
}

impl RunResult {
    /// Whether every tool succeeded.
    pub fn succeeded(&self) -> bool {
        self.execution.succeeded()
    }

    /// A copy fit to leave the process (printed, written, sent to a UI): the run report as
    /// [`RunReport::redacted`], and the answer, blocks and screen model redacted by the same
    /// rules, including the values first seen under a secret key in any tool's input or
    /// output.
    pub fn redacted(&self, content: &TelemetryConfig) -> RunResult {
        let r = content.redactor();
        let mut known = Vec::new();
        for t in &self.execution.tools {
            for v in [&t.input, &t.output].into_iter().flatten() {
                r.collect_secrets(v, &mut known);
            }
        }
        let value = |v: &Value| {
            let mut v = v.clone();
            r.redact_in_place(&mut v);
            r.redact_known(&mut v, &known);
            v
        };
        let mut out = self.clone();
        out.execution = self.execution.redacted(content);
        out.answer = content.redact_free_text(&self.answer, &known);
        out.plan_trace.query = content.redact_free_text(&self.plan_trace.query, &known);
        out.blocks = self.blocks.iter().map(value).collect();
        out.screen = value(&self.screen);
        out
    }
}

/// Takes queries through ROUTE+PLAN → VALIDATE → EXECUTE → COMPOSE → PRESENT.
#[derive(Clone)]
pub struct Runner {
    workflow: String,
    planner: Arc<dyn Planner>,
    policy: Arc<dyn Policy>,
    composer: Arc<dyn Composer>,
    presenter: Arc<dyn Presenter>,
    orchestrator: Orchestrator,
    execute_asset: String,
}

impl fmt::Debug for Runner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("workflow", &self.workflow)
            .field("orchestrator", &self.orchestrator)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Runner`].
#[derive(Debug)]
pub struct RunnerBuilder {
    runner: Runner,
}

impl RunnerBuilder {
    /// Sets the workflow name (the root span's `gen_ai.workflow.name`).
    pub fn with_workflow(mut self, name: impl Into<String>) -> Self {
        self.runner.workflow = name.into();
        self
    }

    /// Sets the planner.
    pub fn with_planner(mut self, planner: impl Planner + 'static) -> Self {
        self.runner.planner = Arc::new(planner);
        self
    }

    /// Sets the validation policy.
    pub fn with_policy(mut self, policy: impl Policy + 'static) -> Self {
        self.runner.policy = Arc::new(policy);
        self
    }

    /// Sets the composer.
    pub fn with_composer(mut self, composer: impl Composer + 'static) -> Self {
        self.runner.composer = Arc::new(composer);
        self
    }

    /// Sets the presenter.
    pub fn with_presenter(mut self, presenter: impl Presenter + 'static) -> Self {
        self.runner.presenter = Arc::new(presenter);
        self
    }

    /// Sets the orchestrator (its tool registry and settings).
    pub fn with_orchestrator(mut self, orchestrator: Orchestrator) -> Self {
        self.runner.orchestrator = orchestrator;
        self
    }

    /// Sets the asset id recorded on the EXECUTE stage.
    pub fn with_execute_asset(mut self, asset: impl Into<String>) -> Self {
        self.runner.execute_asset = asset.into();
        self
    }

    /// Builds the runner.
    pub fn build(self) -> Runner {
        self.runner
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn stage_span(stage: &'static str, asset: Option<&str>) -> tracing::Span {
    let operation = (stage == "route_plan").then_some(attr::OP_PLAN);
    tracing::info_span!(
        "stage",
        otel.name = stage,
        gen_ai.operation.name = operation,
        otel.status_code = Empty,
        otel.status_description = Empty,
        orchestration.stage = stage,
        orchestration.asset_id = asset,
        orchestration.status = Empty,
        orchestration.plan_id = Empty,
        orchestration.execution_strategy = Empty,
        orchestration.block_count = Empty,
    )
}

fn fail_span(span: &tracing::Span, message: &str) {
    span.record(attr::STATUS, "error");
    span.record("otel.status_code", "ERROR");
    span.record("otel.status_description", message);
}

impl Runner {
    /// A runner with the given planner and the built-in policy, composer and presenter.
    pub fn builder(planner: impl Planner + 'static) -> RunnerBuilder {
        RunnerBuilder {
            runner: Runner {
                workflow: DEFAULT_WORKFLOW.to_owned(),
                planner: Arc::new(planner),
                policy: Arc::new(DefaultPolicy::default()),
                composer: Arc::new(DefaultComposer::default()),
                presenter: Arc::new(DefaultPresenter::from_env()),
                orchestrator: Orchestrator::default(),
                execute_asset: DEFAULT_EXECUTE_ASSET.to_owned(),
            },
        }
    }

    /// The orchestrator the EXECUTE stage uses.
    pub fn orchestrator(&self) -> &Orchestrator {
        &self.orchestrator
    }

    /// Runs a query through the five stages.
    pub async fn run(&self, query: &str) -> Result<RunResult, RunError> {
        self.run_until(query, futures::future::pending::<()>())
            .await
    }

    /// Runs a query through the five stages; `cancel` stops the EXECUTE stage (the later
    /// stages still run, on what finished).
    pub async fn run_until<C>(&self, query: &str, cancel: C) -> Result<RunResult, RunError>
    where
        C: std::future::Future<Output = ()>,
    {
        let is_nested = crate::telemetry::in_host_invocation();
        let root = tracing::info_span!(
            crate::telemetry::ROOT_SPAN_NAME,
            otel.name = format!("invoke_workflow {}", self.workflow),
            otel.status_code = Empty,
            otel.status_description = Empty,
            gen_ai.operation.name = attr::OP_INVOKE_WORKFLOW,
            gen_ai.workflow.name = %self.workflow,
            gen_ai.invocation.is_nested = is_nested,
            orchestration.query = Empty,
            orchestration.plan_id = Empty,
            orchestration.status = Empty,
        );
        // The query is user data: redacted and cut like every other value.
        let q = self.orchestrator.telemetry().text_attr(query, &[]);
        root.record("orchestration.query", q.as_str());
        let result = self
            .stages(query, cancel, &root)
            .instrument(root.clone())
            .await;
        match &result {
            Ok(r) => {
                root.record(attr::STATUS, if r.succeeded() { "ok" } else { "error" });
            }
            Err(e) => fail_span(&root, &e.to_string()),
        }
        result
    }

    async fn stages<C>(
        &self,
        query: &str,
        cancel: C,
        root: &tracing::Span,
    ) -> Result<RunResult, RunError>
    where
        C: std::future::Future<Output = ()>,
    {
        let mut stages = Vec::new();
        let record = |stage: &str, asset: Option<String>, ok: bool, t: Instant| StageRecord {
            stage: stage.to_owned(),
            asset_id: asset,
            status: if ok { "ok" } else { "error" }.to_owned(),
            duration_ms: ms_since(t),
        };

        // ROUTE+PLAN
        let asset = self.planner.asset_id();
        let span = stage_span("route_plan", asset.as_deref());
        let t = Instant::now();
        let planned = self.planner.plan(query).instrument(span.clone()).await;
        let plan = match planned {
            Ok(plan) => plan,
            Err(e) => {
                fail_span(&span, &e.message);
                return Err(RunError::Stage(e));
            }
        };
        span.record(attr::PLAN_ID, plan.plan_id.as_str());
        root.record(attr::PLAN_ID, plan.plan_id.as_str());
        let analyzed = match self.orchestrator.analyze(plan) {
            Ok(a) => a,
            Err(e) => {
                fail_span(&span, &e.to_string());
                return Err(RunError::Invalid(e));
            }
        };
        span.record(attr::EXECUTION_STRATEGY, analyzed.strategy().as_str());
        span.record(attr::STATUS, "ok");
        stages.push(record("route_plan", asset, true, t));
        drop(span);

        // VALIDATE
        let asset = self.policy.asset_id();
        let span = stage_span("validate", asset.as_deref());
        let t = Instant::now();
        let verdict = span.in_scope(|| {
            self.policy
                .validate(&analyzed, self.orchestrator.registry())
        });
        if let Err(e) = verdict {
            fail_span(&span, &e.to_string());
            return Err(RunError::Invalid(e));
        }
        span.record(attr::STATUS, "ok");
        stages.push(record("validate", asset, true, t));
        drop(span);

        // EXECUTE
        let t = Instant::now();
        let report = self
            .orchestrator
            .run_stage(&analyzed, cancel, Some(&self.execute_asset))
            .await;
        // The report holds all the later stages read; the plan and its graph go now.
        drop(analyzed);
        stages.push(record(
            "execute",
            Some(self.execute_asset.clone()),
            report.succeeded(),
            t,
        ));
        let orchestration = OrchestrationTrace::of(&report);

        // COMPOSE
        let asset = self.composer.asset_id();
        let span = stage_span("compose", asset.as_deref());
        let t = Instant::now();
        let answer = span.in_scope(|| self.composer.compose(query, &report, &orchestration));
        span.record("orchestration.block_count", answer.blocks.len() as i64);
        span.record(attr::STATUS, "ok");
        stages.push(record("compose", asset, true, t));
        drop(span);

        // PRESENT
        let asset = self.presenter.asset_id();
        let span = stage_span("present", asset.as_deref());
        let t = Instant::now();
        let trace_id = report.trace_id.clone();
        let screen = span.in_scope(|| self.presenter.present(query, &answer, trace_id.as_deref()));
        span.record(attr::STATUS, "ok");
        stages.push(record("present", asset, true, t));
        drop(span);

        Ok(RunResult {
            trace_id,
            plan_trace: PlanTrace {
                query: query.to_owned(),
                plan_id: report.plan_id.clone(),
                execution_strategy: report.strategy.as_str().to_owned(),
                stages,
                orchestration,
            },
            answer: answer.answer,
            blocks: answer.blocks,
            screen,
            execution: report,
        })
    }
}
