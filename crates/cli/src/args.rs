//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// OpenTelemetry-native tracing middleware for tool orchestration.
///
/// Runs a plan of tools (a DAG with data-flow mappings) with dataflow scheduling, traces every
/// stage, level and tool as OpenTelemetry spans, and shows what a trace UI does not: levels,
/// data flow, the dependency-based critical path and the time parallelism saved.
///
/// Export follows the OpenTelemetry environment variables (OTEL_EXPORTER_OTLP_ENDPOINT,
/// OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, ...); without an endpoint nothing leaves
/// the process.
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
    /// Run a plan with the built-in tools, trace it, and show the views.
    Run(RunArgs),
    /// Show the views of a trace read from a file, Jaeger or Tempo.
    Inspect(InspectArgs),
    /// Live inspector: receive OTLP, store traces, show the views in the browser.
    Serve(super::serve_cmd::ServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The plan file (JSON).
    pub plan: PathBuf,
    /// Print the execution plan as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318).
    Http,
}

/// Which views to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum View {
    /// Levels and tools with status, params, dependencies and data flow.
    Detail,
    /// Gantt chart of tools on a shared time axis, critical path marked.
    Timeline,
    /// Makespan, serial sum, time saved, critical path, slack and suggestions.
    Analysis,
    /// All three.
    All,
    /// Nothing but the trace id line.
    None,
}

/// How to show a trace: views, JSON, HTML.
#[derive(Debug, Args)]
pub(crate) struct ViewArgs {
    /// Views to print.
    #[arg(long, value_enum, default_value_t = View::All)]
    pub view: View,
    /// Also write a self-contained HTML report (timeline, DAG, detail, analysis) here.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["plan", "query"]).multiple(true)))]
pub(crate) struct RunArgs {
    /// The plan file (JSON). Without it, --query picks a plan from --plans by keywords.
    pub plan: Option<PathBuf>,
    /// The user query (the router's input; with a plan file, recorded as the query).
    #[arg(long, value_name = "TEXT")]
    pub query: Option<String>,
    /// Folder of plans the keyword router chooses from.
    #[arg(long, value_name = "DIR", default_value = "examples/plans")]
    pub plans: PathBuf,
    /// Export spans over OTLP to this endpoint (else OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT).
    #[arg(long, value_name = "URL")]
    pub otlp: Option<String>,
    /// OTLP transport (else OTEL_EXPORTER_OTLP_PROTOCOL; default grpc).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// Write the trace as OTLP JSON (the collector file exporter's shape) to this file.
    #[arg(long, value_name = "FILE.json")]
    pub trace_out: Option<PathBuf>,
    /// Print the run's result as one JSON object instead of the views.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub views: ViewArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "jaeger", "tempo"])))]
pub(crate) struct InspectArgs {
    /// A trace file: OTLP JSON (ours, the collector's file exporter, Tempo's API) or Jaeger's
    /// query-API JSON.
    pub file: Option<PathBuf>,
    /// Fetch from Jaeger's query API at URL (e.g. http://localhost:16686).
    #[arg(long, num_args = 2, value_names = ["URL", "TRACE_ID"])]
    pub jaeger: Option<Vec<String>>,
    /// Fetch from Tempo's API at URL (e.g. http://localhost:3200).
    #[arg(long, num_args = 2, value_names = ["URL", "TRACE_ID"])]
    pub tempo: Option<Vec<String>>,
    /// Print the performance analysis as JSON instead of the views.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub views: ViewArgs,
}
