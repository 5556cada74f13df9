//! Cross-run statistics of a workflow, from the cached analyses of its last runs.

use std::collections::BTreeMap;

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

/// `GET /api/workflows/{name}/stats?last=N`: per tool, runs, p50/p95 duration, error rate,
/// share of runs on the critical path, mean slack; per run (oldest first), makespan and time
/// saved.
pub(crate) fn workflow_stats(conn: &Connection, name: &str, last: usize) -> Result<Value, String> {
    let runs = store::workflow_runs(conn, name, last)?;
    let mut tools: BTreeMap<String, ToolAcc> = BTreeMap::new();
    let mut per_run = Vec::with_capacity(runs.len());
    for (summary, cached) in runs.iter().rev() {
        let text = match cached {
            Some(t) => Some(t.clone()),
            None => store::compute_analysis(conn, &summary.trace_id)?,
        };
        let Some(a) = text.and_then(|t| serde_json::from_str::<Value>(&t).ok()) else {
            continue;
        };
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let critical: Vec<&str> = a
            .get("critical_path")
            .and_then(Value::as_array)
            .map(|p| p.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for t in a
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = t.get("id").and_then(Value::as_str) else {
                continue;
            };
            let acc = tools.entry(id.to_owned()).or_default();
            if acc.durations.is_empty() {
                acc.tool = t
                    .get("tool")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                acc.order = num(t, "order");
            }
            acc.durations.push(num(t, "duration_ms"));
            if t.get("status").and_then(Value::as_str) == Some("error") {
                acc.errors += 1;
            }
            if critical.contains(&id) {
                acc.critical += 1;
            }
            acc.slack_sum += num(t, "slack_ms");
        }
        per_run.push(json!({
            "trace_id": summary.trace_id,
            "start": summary.start,
            "status": summary.status,
            "makespan_ms": num(&a, "makespan_ms"),
            "serial_duration_ms": num(&a, "serial_duration_ms"),
            "time_saved_ms": num(&a, "time_saved_ms"),
            "critical_path_ms": num(&a, "critical_path_ms"),
            "critical_path": critical,
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
