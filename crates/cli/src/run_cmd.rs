//! `orchestrace run`: execute a plan with the built-in tools, traced.
//!
//! Everything that can be checked is checked before anything runs: the plan (or the folder
//! `--query` routes over), the policy's limits, and the output files, which are opened for
//! writing up front. Spans are exported with `--otlp` or the `OTEL_EXPORTER_OTLP_*` variables,
//! and kept in process only when something needs them (`--trace-out`, `--html`, the views).
//!
//! SIGINT, SIGTERM and SIGHUP are caught from the start: the first cancels the run (its open
//! tool spans end as `cancelled`), the spans are flushed within the export's bound, the
//! outputs are written and the exit code is 128 + the signal's number; a second signal during
//! that exits at once with the same code.

use std::io::Write;
use std::path::{Path, PathBuf};

use orchestrace::content::TelemetryConfig;
use orchestrace::pipeline::{
    DefaultPolicy, Planner, Policy, RouterPlanner, RunError, RunResult, ShutdownSignals, Signal,
    StageError, StaticPlanner,
};
use orchestrace::run::ToolStatus;
use orchestrace::telemetry::metrics::Metrics;
use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder, TelemetryGuard};
use orchestrace::{Orchestrator, Plan, RunReport, Runner};
use orchestrace_inspect::Trace;
use serde_json::Value;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::args::{Protocol, RunArgs, View};
use super::output::OutputFile;
use super::sanitize::clean;
use super::{code, Failure};

/// Sets up the tracing pipeline for one CLI run: export when configured, the spans kept in
/// process only with `capture`.
pub(crate) fn telemetry(
    otlp: Option<&str>,
    protocol: Option<Protocol>,
    capture: bool,
) -> Result<TelemetryGuard, Failure> {
    let mut builder = TelemetryBuilder::from_env()
        .map_err(Failure::invalid)?
        .with_capture(capture);
    if let Some(url) = otlp {
        builder = builder.with_endpoint(url);
    }
    if let Some(p) = protocol {
        builder = builder.with_protocol(match p {
            Protocol::Grpc => OtlpProtocol::Grpc,
            Protocol::Http => OtlpProtocol::HttpProtobuf,
        });
    }
    let telemetry = builder.build().map_err(Failure::invalid)?;
    use tracing_subscriber::prelude::*;
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| Failure::invalid(format!("cannot install the tracing subscriber: {e}")))?;
    Ok(telemetry.guard())
}

/// The metrics pipeline for one CLI run, when an endpoint is configured (`--otlp` or the
/// `OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT` variables) and metrics are not turned off. A
/// settings problem is one warning and no metrics: telemetry never fails the run.
fn metrics(otlp: Option<&str>, protocol: Option<Protocol>) -> Option<Metrics> {
    let built = Metrics::builder().with_env().and_then(|mut b| {
        if let Some(url) = otlp {
            b = b.with_endpoint(url);
        }
        if let Some(p) = protocol {
            b = b.with_protocol(match p {
                Protocol::Grpc => OtlpProtocol::Grpc,
                Protocol::Http => OtlpProtocol::HttpProtobuf,
            });
        }
        b.build()
    });
    match built {
        Ok(m) if m.is_exporting() => Some(m),
        Ok(_) => None,
        Err(e) => {
            eprintln!(
                "warning: metrics are off: {}",
                super::sanitize::message(&e.to_string())
            );
            None
        }
    }
}

/// The process's shutdown signals, caught from the start of `run`: the first cancels the run
/// (which still writes what it produced), a second exits at once with the first one's code.
///
/// They are listened for on a runtime of their own, which lives until the command ends: the
/// run's runtime is shut down right after the run (that ends the spans of the tool tasks it
/// aborted), and a second signal must still be heard during the flush after it.
struct Interrupt {
    signal: watch::Receiver<Option<Signal>>,
    _runtime: Runtime,
}

impl Interrupt {
    fn catch() -> Result<Self, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("orchestrace-signals")
            .enable_all()
            .build()
            .map_err(|e| Failure::invalid(format!("cannot start the runtime: {e}")))?;
        let mut signals = {
            let _entered = runtime.enter();
            ShutdownSignals::new()
        }
        .map_err(|e| Failure::invalid(format!("cannot listen for signals: {e}")))?;
        let (tx, rx) = watch::channel(None);
        runtime.spawn(async move {
            let first = signals.recv().await;
            eprintln!(
                "{}{first}: cancelling the run and writing what it produced (a second signal stops at once)",
                clear_line()
            );
            tx.send_replace(Some(first));
            let second = signals.recv().await;
            eprintln!("{second}: stopping now");
            std::process::exit(first.exit_code().into());
        });
        Ok(Interrupt {
            signal: rx,
            _runtime: runtime,
        })
    }

    /// Resolves on the first signal.
    fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.signal.clone();
        async move {
            if rx.wait_for(Option::is_some).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// The first signal, if one came.
    fn signal(&self) -> Option<Signal> {
        *self.signal.borrow()
    }
}

fn stderr_is_terminal() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stderr())
}

/// Erases the progress line, on a terminal.
fn clear_line() -> &'static str {
    if stderr_is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    }
}

/// Where `--query` finds its plans: `--plans`, else `$ORCHESTRACE_PLANS`, else
/// `./examples/plans` when it exists.
fn plans_dir(flag: Option<&Path>) -> Result<(PathBuf, &'static str), Failure> {
    let (dir, source) = match flag {
        Some(dir) => (dir.to_owned(), "--plans"),
        None => match std::env::var_os("ORCHESTRACE_PLANS").filter(|v| !v.is_empty()) {
            Some(dir) => (PathBuf::from(dir), "ORCHESTRACE_PLANS"),
            None => {
                let default = Path::new("examples/plans");
                if !default.is_dir() {
                    let cwd = std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| ".".to_owned());
                    return Err(Failure::invalid(format!(
                        "--query needs a folder of plans: ./examples/plans does not exist in {}; pass --plans DIR or set ORCHESTRACE_PLANS",
                        clean(&cwd)
                    )));
                }
                (default.to_owned(), "plans folder")
            }
        },
    };
    let shown = clean(&dir.display().to_string()).into_owned();
    let fail = |problem: String| Failure::invalid(format!("{source} {shown}: {problem}"));
    if !dir.exists() {
        return Err(fail("the folder does not exist".to_owned()));
    }
    if !dir.is_dir() {
        return Err(fail(
            "is a file, not a folder of plans (to run one plan, give it as PLAN)".to_owned(),
        ));
    }
    let has_plans = std::fs::read_dir(&dir)
        .map_err(|e| fail(format!("cannot read the folder: {e}")))?
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "json"));
    if !has_plans {
        return Err(fail("the folder holds no plans (*.json)".to_owned()));
    }
    Ok((dir, source))
}

/// Hands its plan to the one run the CLI makes; the same asset as a `StaticPlanner`'s.
struct OncePlanner {
    plan: std::sync::Mutex<Option<Plan>>,
    asset_id: String,
}

impl OncePlanner {
    fn new(plan: Plan) -> Self {
        OncePlanner {
            asset_id: StaticPlanner::asset_of(&plan),
            plan: std::sync::Mutex::new(Some(plan)),
        }
    }
}

#[orchestrace::async_trait]
impl Planner for OncePlanner {
    fn asset_id(&self) -> Option<String> {
        Some(self.asset_id.clone())
    }

    async fn plan(&self, _query: &str) -> Result<Plan, StageError> {
        let plan = self.plan.lock().unwrap_or_else(|e| e.into_inner()).take();
        plan.ok_or_else(|| StageError::route_plan("the plan was already run"))
    }
}

fn runner(
    planner: impl Planner + 'static,
    workflow: String,
    policy: DefaultPolicy,
    orch: Orchestrator,
) -> Runner {
    Runner::builder(planner)
        .with_workflow(workflow)
        .with_policy(policy)
        .with_orchestrator(orch)
        .build()
}

/// Whether the spans must be kept in process: only for `--trace-out` (the views and the HTML
/// report are drawn from the run's report).
fn needs_capture(args: &RunArgs) -> bool {
    args.trace_out.is_some()
}

/// Whether anything printed or written reads the tools' values from the run report.
fn reads_values(args: &RunArgs) -> bool {
    args.json || args.views.html.is_some() || args.views.view != View::None
}

pub(crate) fn run(args: RunArgs) -> Result<u8, Failure> {
    let interrupt = Interrupt::catch()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::invalid(format!("cannot start the runtime: {e}")))?;

    let metrics = metrics(args.otlp.as_deref(), args.protocol);
    let mut builder = Orchestrator::builder().with_telemetry(TelemetryConfig::from_env());
    if let Some(m) = &metrics {
        builder = builder.with_observer(m.observer());
    }
    if let Some(mib) = args.memory_budget {
        builder = builder.with_memory_budget(mib.saturating_mul(1024 * 1024));
    }
    if stderr_is_terminal() {
        builder = builder.with_progress(progress_line());
    }
    // Nothing reads the report's values when no view, report or JSON is printed: the run
    // then holds each value only while a tool or a span needs it.
    builder = builder.with_values_in_report(reads_values(&args));
    let orch = builder.build();
    let content = orch.telemetry().clone();
    let policy = DefaultPolicy::default().with_max_tools(args.max_tools);

    // Input errors are found before anything is traced or run: the plan (routed now for
    // --query), its size, the policy.
    let (plan, query, file, routed) = match &args.plan {
        Some(path) => {
            let file = clean(&path.display().to_string()).into_owned();
            let plan = Plan::from_path(path)?;
            let query = args
                .query
                .clone()
                .or_else(|| plan.query.clone())
                .unwrap_or_else(|| plan.plan_id.clone());
            (Some(plan), query, file, None)
        }
        None => {
            let query = args.query.clone().unwrap_or_default();
            let (dir, source) = plans_dir(args.plans.as_deref())?;
            let shown = clean(&dir.display().to_string()).into_owned();
            let router = RouterPlanner::from_dir(&dir)?;
            let plan = runtime.block_on(router.plan(&query)).map_err(|e| {
                Failure::invalid(format!("{source} {shown}: {}", clean(&e.message)))
            })?;
            let runner = runner(router, "router".to_owned(), policy.clone(), orch.clone());
            (Some(plan), query, shown, Some(runner))
        }
    };
    let plan = plan.expect("a plan was read or routed");
    let tools = plan.tools.len();
    if tools > args.max_tools {
        return Err(Failure::invalid(format!(
            "{file}: tools: the plan has {tools} tools, more than the limit of {} (raise it with --max-tools N)",
            args.max_tools
        )));
    }
    let analyzed = orch
        .analyze(plan)
        .map_err(|e| Failure::invalid(e.in_file(file.clone())))?;
    policy
        .validate(&analyzed, orch.registry())
        .map_err(|e| Failure::invalid(e.in_file(file.clone())))?;
    // A plan file's plan goes to the run itself, not a copy of it (at 50,000 tools a plan is
    // tens of megabytes).
    let runner = routed.unwrap_or_else(|| {
        let plan = analyzed.into_plan();
        let workflow = plan.plan_id.clone();
        runner(
            OncePlanner::new(plan),
            workflow,
            policy.clone(),
            orch.clone(),
        )
    });

    // Output files are opened before the run, so a bad path costs nothing.
    if args.trace_out.is_some() && args.trace_out == args.views.html {
        return Err(Failure::invalid(
            "--trace-out and --html name the same file",
        ));
    }
    let trace_out = args
        .trace_out
        .as_deref()
        .map(|p| OutputFile::open("--trace-out", p))
        .transpose()?;
    let html = args
        .views
        .html
        .as_deref()
        .map(|p| OutputFile::open("--html", p))
        .transpose()?;

    let guard = telemetry(args.otlp.as_deref(), args.protocol, needs_capture(&args))?;
    let cancel = interrupt.cancelled();
    // Driven from a task on the runtime, not from `block_on`'s thread: a tool's completion
    // then wakes the scheduler without a cross-thread hop.
    let result = runtime
        .block_on(runtime.spawn(async move { runner.run_until(&query, cancel).await }))
        .map_err(|e| Failure::invalid(format!("the run stopped unexpectedly: {e}")));
    // Ends what the run left behind (the tasks of tools it cancelled, and their spans) before
    // the spans are read; a tool blocking a thread is not waited for long.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    eprint!("{}", clear_line());
    let result = match result {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => {
            guard.shutdown();
            return Err(match e {
                RunError::Invalid(e) => Failure::invalid(e.in_file(file)),
                other => Failure::invalid(other),
            });
        }
        Err(f) => {
            guard.shutdown();
            return Err(f);
        }
    };
    // The views' model, only when something draws it.
    // What is printed is taken from the result, and the rest of it goes before the views'
    // model is built: the report is redacted where it stands, not copied.
    let tools_code = exit_code(&result.execution);
    let shown = args.json.then(|| result.redacted(&content));
    let RunResult {
        trace_id,
        answer,
        execution,
        plan_trace,
        blocks,
        screen,
    } = result;
    drop((plan_trace, blocks, screen));
    let draws = html.is_some() || (!args.json && args.views.view != View::None);
    // The same redacted report `--json` prints, without keeping the one it came from.
    let inspected = draws.then(|| Trace::from_report(execution.into_redacted(&content)));
    let captured = trace_out.as_ref().and_then(|_| guard.captured());
    // Bounded by the export's shutdown timeout; a second signal cuts it short.
    let summary = guard.shutdown();
    if let Some(m) = metrics {
        // Its own bound (5 s), after the spans.
        m.shutdown();
    }
    if let Some(w) = summary.warning() {
        eprintln!("warning: {}", super::sanitize::message(&w));
    }

    if let Some(out) = trace_out {
        let text =
            serde_json::to_string(&captured.unwrap_or(Value::Null)).expect("JSON values serialize");
        out.write((text + "\n").as_bytes())?;
    }
    if let Some(out) = html {
        let trace = inspected
            .as_ref()
            .ok_or_else(|| Failure::invalid("--html: no trace was captured to render"))?;
        super::inspect_cmd::write_html_file(out, trace)?;
    }
    let mut out = std::io::stdout().lock();
    if let Some(shown) = &shown {
        super::json::write_pretty(&mut out, shown).or_else(super::ignore_broken_pipe)?;
    } else if args.views.view == View::None {
        if let Some(id) = &trace_id {
            writeln!(out, "trace {}", clean(id)).or_else(super::ignore_broken_pipe)?;
        }
    } else {
        if let Some(t) = &inspected {
            super::inspect_cmd::write_views_to(&mut out, t, args.views.view, args.views.all)?;
        }
        writeln!(out, "\nanswer: {}", clean(&answer)).or_else(super::ignore_broken_pipe)?;
    }
    Ok(match interrupt.signal() {
        Some(signal) => signal.exit_code(),
        None => tools_code,
    })
}

/// A one-line progress display on a terminal's stderr, redrawn at most ten times a second.
fn progress_line() -> impl Fn(orchestrace::execute::Progress) + Send + Sync + 'static {
    let last = std::sync::Mutex::new(None::<std::time::Instant>);
    move |p| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let due = last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_millis(100));
        if due || p.done == p.total {
            *last = Some(std::time::Instant::now());
            eprint!(
                "\r\x1b[2K  {}/{} tools done, {} running",
                p.done, p.total, p.running
            );
        }
    }
}

pub(crate) fn exit_code(report: &RunReport) -> u8 {
    if report.cancelled() && report.tools.iter().all(|t| t.status != ToolStatus::Error) {
        code::INTERRUPTED
    } else if report.succeeded() {
        code::OK
    } else {
        code::TOOLS_FAILED
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn run_args(args: &[&str]) -> RunArgs {
        let cli =
            Cli::try_parse_from(["orchestrace", "run", "plan.json"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Run(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn spans_are_kept_in_process_only_when_something_reads_them() {
        assert!(!needs_capture(&run_args(&["--view", "none"])));
        assert!(!needs_capture(&run_args(&["--json"])));
        assert!(!needs_capture(&run_args(&[
            "--view",
            "none",
            "--otlp",
            "http://c:4317"
        ])));
        assert!(!needs_capture(&run_args(&[])));
        assert!(!needs_capture(&run_args(&["--view", "timeline"])));
        assert!(needs_capture(&run_args(&[
            "--view",
            "none",
            "--trace-out",
            "t.json"
        ])));
        assert!(!needs_capture(&run_args(&["--json", "--html", "r.html"])));
    }

    #[test]
    fn the_report_keeps_values_only_when_something_prints_them() {
        assert!(!reads_values(&run_args(&["--view", "none"])));
        assert!(!reads_values(&run_args(&[
            "--view",
            "none",
            "--trace-out",
            "t.json"
        ])));
        assert!(reads_values(&run_args(&["--view", "none", "--json"])));
        assert!(reads_values(&run_args(&[
            "--view", "none", "--html", "r.html"
        ])));
        assert!(reads_values(&run_args(&[])));
        assert!(reads_values(&run_args(&["--view", "timeline"])));
    }

    #[test]
    fn the_tool_limit_defaults_to_the_policys() {
        assert_eq!(run_args(&[]).max_tools, 100_000);
        assert_eq!(run_args(&["--max-tools", "7"]).max_tools, 7);
    }
}
