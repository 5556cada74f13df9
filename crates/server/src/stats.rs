//! Cross-run statistics of a workflow, from the per-run and per-tool rows cached with the
//! analyses of its last runs.

use std::collections::BTreeMap;

use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::{json, Value};

use crate::store;

#[derive(Debug, Default)]
struct ToolAcc {
    tool: String,
    order: f64,
    durations: Vec<f64>,
    errors: usize,
    critical: usize,
    slack_sum: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// How long one statistics request may spend analysing runs the analyzer has not reached yet;
/// runs past it are left out of the answer (the analyzer caches them shortly).
const ANALYSIS_BUDGET: Duration = Duration::from_secs(2);

/// `GET /api/workflows/{name}/stats?last=N`: per tool, runs, p50/p95 duration, error rate,
/// share of runs on the critical path, mean slack; per run (oldest first), makespan and time
/// saved. Reads the per-run and per-tool rows cached with each analysis; runs not analysed yet
/// are analysed here within [`ANALYSIS_BUDGET`].
pub(crate) fn workflow_stats(conn: &Connection, name: &str, last: usize) -> Result<Value, String> {
    let runs = store::workflow_runs(conn, name, last)?;
    let started = Instant::now();
    let mut tools: BTreeMap<String, ToolAcc> = BTreeMap::new();
    let mut per_run = Vec::with_capacity(runs.len());
    for run in runs.into_iter().rev() {
        let rows = match run.rows {
            Some(r) => r,
            // The analyzer could not read this trace.
            None if run.current => continue,
            None if started.elapsed() < ANALYSIS_BUDGET => {
                match store::compute_analysis(conn, &run.summary.trace_id) {
                    Ok(Some((_, r))) => r,
                    _ => continue,
                }
            }
            None => continue,
        };
        for t in &rows.tools {
            let acc = tools.entry(t.id.clone()).or_default();
            if acc.durations.is_empty() {
                acc.tool = t.tool.clone();
                acc.order = t.order;
            }
            acc.durations.push(t.duration_ms);
            acc.errors += usize::from(t.error);
            acc.critical += usize::from(t.critical);
            acc.slack_sum += t.slack_ms;
        }
        let summary = run.summary;
        per_run.push(json!({
            "trace_id": summary.trace_id,
            "start": summary.start,
            "status": summary.status,
            "makespan_ms": rows.makespan_ms,
            "serial_duration_ms": rows.serial_duration_ms,
            "time_saved_ms": rows.time_saved_ms,
            "critical_path_ms": rows.critical_path_ms,
            "critical_path": rows.critical_path,
        }));
    }
    let mut tool_rows: Vec<(f64, Value)> = tools
        .into_iter()
        .map(|(id, mut acc)| {
            let n = acc.durations.len();
            acc.durations.sort_by(f64::total_cmp);
            let row = json!({
                "id": id,
                "tool": acc.tool,
                "runs": n,
                "p50_ms": r3(percentile(&acc.durations, 50.0)),
                "p95_ms": r3(percentile(&acc.durations, 95.0)),
                "error_rate": r3(acc.errors as f64 / n as f64),
                "critical_share": r3(acc.critical as f64 / n as f64),
                "mean_slack_ms": r3(acc.slack_sum / n as f64),
            });
            (acc.order, row)
        })
        .collect();
    tool_rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(json!({
        "workflow": name,
        "runs": per_run.len(),
        "tools": tool_rows.into_iter().map(|(_, r)| r).collect::<Vec<_>>(),
        "per_run": per_run,
    }))
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
