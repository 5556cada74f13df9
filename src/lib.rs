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
//!
//! ## Modules, in pipeline order
//!
//! Each module uses only the ones before it.
//!
//! | module | concern |
//! |---|---|
//! | [`plan`] | the plan format: tools, params, mappings, policies; located errors |
//! | [`dataflow`] | data-flow templates (`{tool.data.rows[0].count}`) and their resolution |
//! | [`graph`] | the dependency graph: implicit dependencies, cycles, levels, critical path |
//! | [`schedule`] | strategy, execution groups and the execution plan of an analyzed plan |
//! | [`content`] | what values may leave the process: capture, redaction, limits |
//! | [`semconv`] | span names, event names and attribute keys, shared by writer and reader |
//! | [`run`] | the run model: what each tool did and the run's summary |
//! | [`propagation`] | W3C trace context and baggage across process boundaries |
//! | [`execute`] | the dataflow executor, the tool contract and the observer seam |
//! | `tools` | the built-in tools ([`ToolRegistry::with_builtins`]) |
//! | [`telemetry`] | the span observer and the OTLP export pipeline |
//! | [`pipeline`] | ROUTE+PLAN → VALIDATE → EXECUTE → COMPOSE → PRESENT ([`Runner`]) |
//!
//! ## Features
//!
//! - `grpc` (default): OTLP export over gRPC.
//! - `http-proto` (default): OTLP export over HTTP/protobuf.
//! - `http-tool` (default): the built-in `http` tool.
//!
//! The inspector (`orchestrace-inspect`) and the command line (`orchestrace-cli`) are crates of
//! their own: a host app that adds this library compiles neither.
#![forbid(unsafe_code)]

pub mod plan;
pub mod dataflow;
pub mod graph;
pub mod schedule;
pub mod content;
pub mod semconv;
pub mod run;
pub mod propagation;
pub mod execute;
mod tools;
pub mod telemetry;
pub mod pipeline;

pub use async_trait::async_trait;
pub use execute::{Orchestrator, Tool, ToolContext, ToolRegistry};
pub use pipeline::Runner;
pub use plan::{Plan, PlanError};
pub use run::{RunReport, ToolError};
pub use telemetry::{init, Telemetry};

impl Orchestrator {
    /// A builder, starting from the built-in tools and the span observer (every run becomes
    /// the span tree of [`telemetry`]).
    pub fn builder() -> execute::OrchestratorBuilder {
        execute::OrchestratorBuilder::bare()
            .with_registry(ToolRegistry::with_builtins())
            .with_named_observer("spans", std::sync::Arc::new(telemetry::observe_spans))
    }
}
