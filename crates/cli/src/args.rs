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
    ///
    /// Reads the plan, checks it (ids, tool types, dependencies, cycles, templates) and prints
    /// the strategy it would run with and its levels: which tools run side by side, and what
    /// each waits for. Nothing runs and nothing is traced.
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Run a plan with the built-in tools, trace it, and show the views.
    ///
    /// Runs the tools with dataflow scheduling (a tool starts as soon as its dependencies
    /// succeed), traces every stage, level and tool, and prints the trace detail, timeline and
    /// performance analysis. Spans are exported over OTLP with --otlp or the OTEL_EXPORTER_OTLP_*
    /// variables. SIGINT, SIGTERM and SIGHUP cancel the run, write what it produced and exit
    /// with 128 + the signal's number; a second signal exits at once.
    ///
    /// Exit codes: 0 every tool succeeded, 1 some failed or were skipped, 2 invalid input or
    /// usage, 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Show the views of a trace read from a file, Jaeger or Tempo.
    ///
    /// Reads an OTLP JSON file (--trace-out's, the collector file exporter's, Tempo's API
    /// output) or Jaeger query-API JSON, or fetches the trace from Jaeger or Tempo, and prints
    /// its levels, data flow, timeline, dependency critical path and suggestions.
    ///
    /// Exit codes: 0 shown, 2 a bad file or usage, 3 the source could not be reached or has no
    /// such trace.
    #[command(after_help = INSPECT_EXAMPLES)]
    Inspect(InspectArgs),
    /// Live inspector: receive OTLP, store traces, show the views in the browser.
    Serve(super::serve_cmd::ServeArgs),
}

const PLAN_EXAMPLES: &str = "Examples:
  orchestrace plan examples/plans/diamond.json
  orchestrace plan examples/plans/diamond.json --json > execution-plan.json";

const RUN_EXAMPLES: &str = "Examples:
  orchestrace run examples/plans/diamond.json
  orchestrace run examples/plans/ci_ops.json --trace-out trace.json --html report.html
  orchestrace run --query \"servers by type\" --plans examples/plans
  orchestrace run plan.json --otlp http://localhost:4317 --view none
  orchestrace run plan.json --json | jq .execution.summary";

const INSPECT_EXAMPLES: &str = "Examples:
  orchestrace inspect trace.json
  orchestrace inspect trace.json --view timeline --html report.html
  orchestrace inspect --jaeger http://localhost:16686 0af7651916cd43dd8448eb211c80319c
  orchestrace inspect --tempo http://localhost:3200 0af7651916cd43dd8448eb211c80319c --json";

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
    /// Nothing but the trace id line (`trace <id>`).
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
    /// Show every tool in the views; by default a run of more than 200 tools is summarised
    /// (levels, the critical path, the slowest and the failed tools).
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["plan", "query"]).multiple(true)))]
pub(crate) struct RunArgs {
    /// The plan file (JSON). Without it, --query picks a plan from --plans by keywords.
    pub plan: Option<PathBuf>,
    /// The user query (the router's input; with a plan file, recorded as the query).
    #[arg(long, value_name = "TEXT")]
    pub query: Option<String>,
    /// Folder of plans (*.json) the keyword router chooses from with --query [default:
    /// $ORCHESTRACE_PLANS, else ./examples/plans when it exists].
    #[arg(long, value_name = "DIR")]
    pub plans: Option<PathBuf>,
    /// The most tools a plan may have; larger plans are refused before anything runs.
    #[arg(long, value_name = "N", default_value_t = orchestrace::pipeline::DefaultPolicy::DEFAULT_MAX_TOOLS)]
    pub max_tools: usize,
    /// The run's memory budget for tool outputs and resolved inputs, in MiB (default 1024; a
    /// plan's `memory_budget_mb` overrides it). A tool that would exceed it fails with
    /// `resource_exhausted`; the rest of the run goes on.
    #[arg(long, value_name = "MIB")]
    pub memory_budget: Option<usize>,
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
    /// Fetch from Jaeger's query API at URL (e.g. http://localhost:16686): one trace by id, or
    /// with --last the latest runs.
    #[arg(long, num_args = 1..=2, value_names = ["URL", "TRACE_ID"])]
    pub jaeger: Option<Vec<String>>,
    /// With --jaeger URL: list and analyse the last N runs (newest first) instead of one trace.
    #[arg(long, value_name = "N", requires = "jaeger")]
    pub last: Option<usize>,
    /// With --last: only runs of this workflow (root span `invoke_workflow NAME`).
    #[arg(long, value_name = "NAME", requires = "last")]
    pub workflow: Option<String>,
    /// With --last: the service the runs were exported as.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "orchestrace",
        requires = "last"
    )]
    pub service: String,
    /// With --last: how far back to look, in s, m, h or d (e.g. 30m).
    #[arg(long, value_name = "DURATION", default_value = "1h", requires = "last")]
    pub since: String,
    /// With --last: only runs with a span carrying this attribute (KEY=VALUE; repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE", requires = "last")]
    pub attrs: Vec<String>,
    /// Fetch from Tempo's API at URL (e.g. http://localhost:3200).
    #[arg(long, num_args = 2, value_names = ["URL", "TRACE_ID"])]
    pub tempo: Option<Vec<String>>,
    /// Print the performance analysis as JSON instead of the views.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub views: ViewArgs,
}
