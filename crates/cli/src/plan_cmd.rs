//! `orchestrace plan`: analyze only.

use std::io::Write;

use orchestrace::schedule::AnalyzedPlan;
use orchestrace::{Orchestrator, Plan};

use super::args::PlanArgs;
use super::sanitize::clean;
use super::{code, Failure};

/// Loads and analyzes a plan file against the built-in tools; errors name the file.
pub(crate) fn load(orch: &Orchestrator, path: &std::path::Path) -> Result<AnalyzedPlan, Failure> {
    let plan = Plan::from_path(path)?;
    orch.analyze(plan)
        .map_err(|e| Failure::invalid(e.in_file(path.display().to_string())))
}

pub(crate) fn plan(args: PlanArgs) -> Result<u8, Failure> {
    let orch = Orchestrator::default();
    let analyzed = load(&orch, &args.plan)?;
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        super::json::write_pretty(&mut out, &analyzed.execution_plan())
    } else {
        write_summary(&mut out, &analyzed)
    };
    written.or_else(super::ignore_broken_pipe)?;
    Ok(code::OK)
}

/// The text summary: strategy, then each level with its tools and their dependencies.
pub(crate) fn write_summary(out: &mut dyn Write, a: &AnalyzedPlan) -> std::io::Result<()> {
    let p = a.plan();
    let requested = serde_json::to_value(p.execution_strategy)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    writeln!(
        out,
        "plan {}: {} tool{}, strategy {} (requested {}), max_concurrency {}, on_failure {}",
        clean(&p.plan_id),
        p.tools.len(),
        if p.tools.len() == 1 { "" } else { "s" },
        a.strategy(),
        requested,
        p.max_concurrency,
        serde_json::to_value(p.on_failure)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
    )?;
    if let Some(q) = &p.query {
        writeln!(out, "query: {}", clean(q))?;
    }
    let width = p
        .tools
        .iter()
        .map(|t| t.id.chars().count())
        .max()
        .unwrap_or(0);
    let twidth = p
        .tools
        .iter()
        .map(|t| t.tool.chars().count())
        .max()
        .unwrap_or(0);
    for g in a.groups() {
        write!(out, "level {} ({})", g.index, g.mode.as_str())?;
        if !g.depends_on_groups.is_empty() {
            let deps: Vec<String> = g.depends_on_groups.iter().map(|d| d.to_string()).collect();
            write!(out, "  after level {}", deps.join(", "))?;
        }
        if g.expected_duration_ms > 0 {
            write!(out, "  ~{} ms", g.expected_duration_ms)?;
        }
        writeln!(out)?;
        for &t in &g.tools {
            let spec = &p.tools[t];
            let deps = a.dependency_ids(t);
            let line = if deps.is_empty() {
                format!("  {:<width$}  {}", spec.id, spec.tool)
            } else {
                format!(
                    "  {:<width$}  {:<twidth$}  ← {}",
                    spec.id,
                    spec.tool,
                    deps.join(", ")
                )
            };
            writeln!(out, "{line}")?;
        }
    }
    let ep = a.execution_plan();
    if ep.total_expected_duration_ms > 0 {
        writeln!(
            out,
            "expected: {} ms level by level",
            ep.total_expected_duration_ms
        )?;
    }
    Ok(())
}
