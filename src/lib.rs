//! # orchestrace
//!
//! OpenTelemetry-native tracing middleware for tool orchestration. A [`Plan`] of tools (a DAG
//! with data-flow mappings) is [analyzed](Orchestrator::analyze) into levels and an execution
//! plan, then [run](Orchestrator::run) with dataflow scheduling on tokio; every level and tool
//! becomes a `tracing` span whose attributes encode the orchestration.
//!
//! ```
//! use orchestrace::{Orchestrator, Plan};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let plan = Plan::from_json_str(r#"{
//!   "plan_id": "demo",
//!   "tools": [
//!     {"id": "primary", "tool": "ci_lookup", "params": {"keywords": ["server"]}},
//!     {"id": "secondary", "tool": "ci_lookup", "params": {"keywords": ["network"]}},
//!     {"id": "aggregate", "tool": "ci_aggregate",
//!      "output_mapping": {"primary_count": "{primary.data.rows[0].count}",
//!                         "secondary_count": "{secondary.data.rows[0].count}"}}
//!   ]}"#)?;
//! let orchestrator = Orchestrator::default();
//! let analyzed = orchestrator.analyze(plan)?;
//! assert_eq!(analyzed.strategy().as_str(), "dag");
//! let report = orchestrator.run(&analyzed).await;
//! assert!(report.succeeded());
//! assert_eq!(report.tool("aggregate").unwrap().output.as_ref().unwrap()["total"], 70.0);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod analysis;
mod dataflow;
mod error;
mod execute;
pub mod inspect;
mod pipeline;
mod plan;
mod schedule;
pub mod telemetry;

pub use analysis::{critical_path, level_barrier, levels_of, DependencyGraph, ToolDependencies};
pub use async_trait::async_trait;
pub use dataflow::{Mapping, Part, Reference, ResolveError, Step, Template, TemplateError};
pub use error::{PlanError, PlanErrorKind};
pub use execute::{
    Attempt, DataFlowInput, Orchestrator, OrchestratorBuilder, Progress, RunReport, RunSummary,
    Tool, ToolContext, ToolError, ToolRegistry, ToolRun, ToolStatus, DEFAULT_RETRY_BACKOFF,
    MAX_RETRY_BACKOFF,
};
pub use pipeline::{
    Answer, Composer, DefaultComposer, DefaultPolicy, DefaultPresenter, OrchestrationTrace,
    PlanTrace, Planner, Policy, Presenter, RouterPlanner, RunError, RunResult, Runner,
    RunnerBuilder, StageError, StageRecord, StaticPlanner, DEFAULT_EXECUTE_ASSET, DEFAULT_WORKFLOW,
};
pub use plan::{
    OnFailure, Plan, Strategy, StrategyChoice, ToolSpec, DEFAULT_MAX_CONCURRENCY, MAX_PLAN_BYTES,
};
pub use schedule::{
    analyze, AnalyzedPlan, ExecutionGroup, ExecutionMode, ExecutionPlan, Group, ToolInfo,
};
pub use telemetry::{Redactor, TelemetryConfig};
