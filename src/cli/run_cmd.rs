//! `orchestrace run`: execute a plan with the built-in tools.

use std::io::Write;

use orchestrace::{Orchestrator, RunReport, ToolStatus};

use super::args::RunArgs;
use super::plan_cmd::load;
use super::{code, Failure};

pub(crate) fn run(args: RunArgs) -> Result<u8, Failure> {
    let orch = Orchestrator::default();
    let analyzed = load(&orch, &args.plan)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::invalid(format!("cannot start the runtime: {e}")))?;
    let report = runtime.block_on(async {
        orch.run_until(&analyzed, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    });
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_report(&mut out, &report)
    };
    written.or_else(super::ignore_broken_pipe)?;
    Ok(exit_code(&report))
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
            orchestrace_ms(t.duration()),
            detail,
            flags
        )?;
    }
    Ok(())
}

fn orchestrace_ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A one-line summary of an output: row count when it has rows, else compact JSON, cut.
fn summarize(v: &serde_json::Value) -> String {
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
