//! `orchestrace run`: execute a plan with the built-in tools, traced.
//!
//! Spans are always captured in process (the embedded default needs no server) and, with
//! `--otlp` or the `OTEL_EXPORTER_OTLP_*` variables, exported as well.

use std::io::Write;

use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder, TelemetryGuard};
use orchestrace::content::TelemetryConfig;
use orchestrace::pipeline::{RouterPlanner, RunError, StaticPlanner};
use orchestrace::run::ToolStatus;
use orchestrace::{Orchestrator, Plan, RunReport, Runner};
use serde_json::Value;

use super::args::{Protocol, RunArgs};
use super::{code, Failure};

/// Sets up the tracing pipeline for one CLI run: capture always, export when configured.
pub(crate) fn telemetry(
    otlp: Option<&str>,
    protocol: Option<Protocol>,
) -> Result<TelemetryGuard, Failure> {
    let mut builder = TelemetryBuilder::from_env()
        .map_err(Failure::invalid)?
        .with_capture(true);
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

pub(crate) fn run(args: RunArgs) -> Result<u8, Failure> {
    let mut builder = Orchestrator::builder().with_telemetry(TelemetryConfig::from_env());
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder = builder.with_progress(progress_line());
    }
    let orch = builder.build();
    // Input errors are found before anything is traced or run.
    let (runner, query, file) = match &args.plan {
        Some(path) => {
            let file = path.display().to_string();
            let plan = Plan::from_path(path)?;
            orch.analyze(plan.clone())
                .map_err(|e| Failure::invalid(e.in_file(file.clone())))?;
            let query = args
                .query
                .clone()
                .or_else(|| plan.query.clone())
                .unwrap_or_else(|| plan.plan_id.clone());
            let workflow = plan.plan_id.clone();
            let runner = Runner::builder(StaticPlanner::new(plan))
                .with_workflow(workflow)
                .with_orchestrator(orch)
                .build();
            (runner, query, file)
        }
        None => {
            let query = args.query.clone().unwrap_or_default();
            let router = RouterPlanner::from_dir(&args.plans)?;
            let runner = Runner::builder(router)
                .with_workflow("router")
                .with_orchestrator(orch)
                .build();
            (runner, query, args.plans.display().to_string())
        }
    };
    let guard = telemetry(args.otlp.as_deref(), args.protocol)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::invalid(format!("cannot start the runtime: {e}")))?;
    // Driven from a task on the runtime, not from `block_on`'s thread: a tool's completion
    // then wakes the scheduler without a cross-thread hop.
    let result = runtime
        .block_on(runtime.spawn(async move {
            runner
                .run_until(&query, async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
        }))
        .map_err(|e| Failure::invalid(format!("the run stopped unexpectedly: {e}")))?;
    drop(runtime);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r\x1b[2K");
    }
    let trace = guard.captured().unwrap_or(Value::Null);
    let summary = guard.shutdown();
    if let Some(w) = summary.warning() {
        eprintln!("warning: {w}");
    }
    let result = result.map_err(|e| match e {
        RunError::Invalid(e) => Failure::invalid(e.in_file(file)),
        other => Failure::invalid(other),
    })?;
    if let Some(path) = &args.trace_out {
        let text = serde_json::to_string(&trace).expect("JSON values serialize");
        std::fs::write(path, text + "\n").map_err(|e| {
            Failure::invalid(format!("{}: cannot write the trace: {e}", path.display()))
        })?;
    }
    let inspected = orchestrace_inspect::Trace::from_otlp_json(&trace).ok();
    if args.json {
        if let (Some(path), Some(t)) = (&args.views.html, &inspected) {
            super::inspect_cmd::write_html_file(path, t)?;
        }
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &result)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .or_else(super::ignore_broken_pipe)?;
    } else {
        match &inspected {
            // The views of the captured trace: the same the inspector shows for `--trace-out`.
            Some(t) => super::inspect_cmd::show(t, &args.views, false)?,
            None => {
                let mut out = std::io::stdout().lock();
                write_report(&mut out, &result.execution).or_else(super::ignore_broken_pipe)?;
            }
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "\nanswer: {}", result.answer).or_else(super::ignore_broken_pipe)?;
    }
    Ok(exit_code(&result.execution))
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

/// Per tool: status, duration, and a short summary of the output or the error.
pub(crate) fn write_report(out: &mut dyn Write, r: &RunReport) -> std::io::Result<()> {
    let s = &r.summary;
    if let Some(id) = &r.trace_id {
        writeln!(out, "trace {id}")?;
    }
    writeln!(
        out,
        "run {}: strategy {}, {:.1} ms (serial {:.1} ms, saved {:.1} ms), critical path {} ({:.1} ms)",
        r.plan_id,
        r.strategy,
        s.total_duration_ms,
        s.serial_duration_ms,
        s.time_saved_ms,
        s.critical_path.join(" → "),
        s.critical_path_ms
    )?;
    let width = r
        .tools
        .iter()
        .map(|t| t.id.chars().count())
        .max()
        .unwrap_or(0);
    let mut tools: Vec<_> = r.tools.iter().collect();
    tools.sort_by_key(|t| t.order);
    for t in tools {
        let detail = match (&t.output, &t.error, &t.reason) {
            (Some(o), _, _) => summarize(o),
            (_, Some(e), _) => format!("{}: {}", e.kind, e.message),
            (_, _, Some(reason)) => reason.clone(),
            _ => String::new(),
        };
        let mut flags = Vec::new();
        if t.retry_count > 0 {
            flags.push(format!("retries {}", t.retry_count));
        }
        if t.fallback_used {
            flags.push("fallback".to_owned());
        }
        if t.cache_hit {
            flags.push("cached".to_owned());
        }
        let flags = if flags.is_empty() {
            String::new()
        } else {
            format!(" [{}]", flags.join(", "))
        };
        writeln!(
            out,
            "  {:<9} {:<width$}  L{}  {:>8.1} ms  {}{}",
            t.status.as_str(),
            t.id,
            t.group,
            t.duration().as_secs_f64() * 1000.0,
            detail,
            flags
        )?;
    }
    Ok(())
}

/// A one-line summary of an output: row count when it has rows, else compact JSON, cut.
fn summarize(v: &Value) -> String {
    if let Some(rows) = v.pointer("/data/rows").and_then(|r| r.as_array()) {
        return format!("{} rows", rows.len());
    }
    let text = v.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}
