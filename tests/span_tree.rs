//! The span tree a run produces, captured in process (no network) and compared with a
//! readable snapshot in `tests/snapshots/span_tree_*.txt`: span names, nesting, the
//! orchestration attributes (group, order, status, dependencies, peers), links and events.
//! `UPDATE_SNAPSHOTS=1` rewrites the snapshots.

mod support;

use std::time::Duration;

use orchestrace::pipeline::StaticPlanner;
use orchestrace::plan::{OnFailure, ToolSpec};
use orchestrace::{Orchestrator, Plan, Runner};
use serde_json::json;
use support::spantree::{capture, nodes, settle, tree};
use support::traces::assert_snapshot;

fn plan(name: &str) -> Plan {
    Plan::from_path(support::cli::manifest().join("examples/plans").join(name)).unwrap()
}

async fn run_tree(orch: Orchestrator, plan: Plan) -> String {
    let analyzed = orch.analyze(plan).unwrap();
    let (report, spans) = capture(orch.run(&analyzed)).await;
    let trace_id = report.trace_id.expect("traced");
    let all = nodes(&spans);
    assert!(!all.is_empty());
    // One trace, and the report names it.
    let ids = spans.to_string();
    assert!(
        ids.contains(&trace_id),
        "the report's trace id {trace_id} is the spans'"
    );
    tree(&spans)
}

#[tokio::test(start_paused = true)]
async fn the_seed_plan_is_a_level_tree_with_dependency_links() {
    let text = run_tree(Orchestrator::default(), plan("ci_ops.json")).await;
    assert_snapshot("span_tree_ci_ops.txt", &text);
}

#[tokio::test(start_paused = true)]
async fn a_diamond_has_one_level_per_depth() {
    let text = run_tree(Orchestrator::default(), plan("diamond.json")).await;
    assert_snapshot("span_tree_diamond.txt", &text);
}

#[tokio::test(start_paused = true)]
async fn failures_show_as_error_status_and_skipped_dependents() {
    let text = run_tree(Orchestrator::default(), plan("failing.json")).await;
    assert_snapshot("span_tree_failing.txt", &text);
}

#[tokio::test(start_paused = true)]
async fn retries_and_fallback_are_events_and_attributes() {
    let orch = Orchestrator::builder()
        .with_retry_backoff(Duration::from_millis(10))
        .build();
    let plan = Plan::new("recovering")
        .with_on_failure(OnFailure::Continue)
        .with_tool(
            ToolSpec::new("flaky", "fail")
                .with_params(json!({"message": "busy", "times": 1}))
                .with_retries(2),
        )
        .with_tool(
            ToolSpec::new("degraded", "fail")
                .with_params(json!({"message": "down"}))
                .with_retries(1)
                .with_fallback("echo"),
        )
        .with_tool(ToolSpec::new("cached", "echo").with_cache_ttl_ms(60_000))
        .with_tool(
            ToolSpec::new("report", "echo")
                .map("first", "{flaky.message}")
                .map("second", "{degraded.message}"),
        );
    let text = run_tree(orch, plan).await;
    assert_snapshot("span_tree_retries.txt", &text);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_run_ends_its_open_spans_as_cancelled() {
    let orch = Orchestrator::default();
    let analyzed = orch
        .analyze(
            Plan::new("stopped")
                .with_tool(ToolSpec::new("quick", "sleep").with_params(json!({"ms": 1})))
                .with_tool(ToolSpec::new("slow", "sleep").with_params(json!({"ms": 10_000})))
                .with_tool(ToolSpec::new("after", "echo").depends_on("slow")),
        )
        .unwrap();
    // The cancelled tool's task is aborted, not awaited: its span (and so its level's and the
    // execute span) ends when the runtime drops the task, just after `run_until` returns.
    let (report, spans) = capture(async {
        let report = orch
            .run_until(&analyzed, tokio::time::sleep(Duration::from_millis(100)))
            .await;
        settle().await;
        report
    })
    .await;
    assert!(report.cancelled());
    assert_snapshot("span_tree_cancelled.txt", &tree(&spans));
}

#[tokio::test(start_paused = true)]
async fn the_pipeline_wraps_the_run_in_five_stages() {
    let runner = Runner::builder(StaticPlanner::new(plan("ci_ops.json")))
        .with_workflow("ops-assistant")
        .build();
    let (result, spans) = capture(runner.run("servers and network devices by type")).await;
    let result = result.unwrap();
    assert!(result.succeeded());
    assert_snapshot("span_tree_pipeline.txt", &tree(&spans));
}
