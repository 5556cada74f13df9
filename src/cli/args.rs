//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// OpenTelemetry-native tracing middleware for tool orchestration.
///
/// Runs a plan of tools (a DAG with data-flow mappings) with dataflow scheduling, traces every
/// stage, level and tool as OpenTelemetry spans, and shows what a trace UI does not: levels,
/// data flow, the dependency-based critical path and the time parallelism saved.
#[derive(Debug, Parser)]
#[command(name = "orchestrace", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Analyze a plan without running it: strategy, levels, dependencies, execution plan.
    Plan(PlanArgs),
    /// Run a plan with the built-in tools and show what happened.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan file (JSON).
    pub plan: PathBuf,
    /// Print the execution plan as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The plan file (JSON).
    pub plan: PathBuf,
    /// Print the run's result as one JSON object instead of the views.
    #[arg(long)]
    pub json: bool,
}
