//! The executor: dataflow scheduling, limits, retries, fallback, timeouts, cache, failure
//! policies, panics and cancellation. Concurrency is asserted through recorded ordering and
//! overlap, never through wall-clock bounds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use orchestrace::{Orchestrator, Plan, RunReport, ToolError, ToolRegistry};
use orchestrace::plan::{OnFailure, StrategyChoice, ToolSpec};
use orchestrace::run::ToolStatus;
use serde_json::{json, Value};

fn sleep(id: &str, ms: u64) -> ToolSpec {
    ToolSpec::new(id, "sleep").with_params(json!({ "ms": ms }))
}

async fn run(plan: Plan) -> RunReport {
    run_with(Orchestrator::default(), plan).await
}

async fn run_with(orch: Orchestrator, plan: Plan) -> RunReport {
    let analyzed = orch.analyze(plan).expect("valid plan");
    orch.run(&analyzed).await
}

fn status(r: &RunReport, id: &str) -> ToolStatus {
    r.tool(id).unwrap().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependents_start_when_their_own_dependencies_finish() {
    // A 10 → B 100, C 100 → D 10. Level barriers would start D after B ends.
    let plan = Plan::new("p")
        .with_tool(sleep("a", 10))
        .with_tool(sleep("b", 100).depends_on("a"))
        .with_tool(sleep("c", 100))
        .with_tool(sleep("d", 10).depends_on("c"));
    let r = run(plan).await;
    assert!(r.succeeded());
    let b = r.tool("b").unwrap();
    let d = r.tool("d").unwrap();
    assert!(
        d.started_at.unwrap() < b.ended_at.unwrap(),
        "d started at {:?}, after b ended at {:?}",
        d.started_at,
        b.ended_at
    );
    // And every tool started no earlier than its dependency ended.
    assert!(b.started_at >= r.tool("a").unwrap().ended_at);
    assert!(d.started_at >= r.tool("c").unwrap().ended_at);
    assert_eq!((b.group, d.group), (1, 1));
    assert_eq!(r.summary.critical_path.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_cap_is_never_exceeded() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut reg = ToolRegistry::with_builtins();
    let (f, p) = (in_flight.clone(), peak.clone());
    reg.register_fn("count", move |input, _ctx| {
        let (f, p) = (f.clone(), p.clone());
        async move {
            let now = f.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(15)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            Ok(input)
        }
    });
    let plan = (0..12).fold(Plan::new("p").with_max_concurrency(3), |p, i| {
        p.with_tool(ToolSpec::new(format!("t{i}"), "count"))
    });
    let r = run_with(Orchestrator::new(reg), plan).await;
    assert!(r.succeeded());
    assert!(
        peak.load(Ordering::SeqCst) <= 3,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert!(peak.load(Ordering::SeqCst) >= 2, "never ran in parallel");
    // Recorded intervals agree: never more than 3 overlap at any start.
    for t in &r.tools {
        let s = t.started_at.unwrap();
        let overlapping = r
            .tools
            .iter()
            .filter(|o| o.started_at.unwrap() <= s && o.ended_at.unwrap() > s)
            .count();
        assert!(overlapping <= 3);
    }
    // The ones that waited for a slot report their queue wait.
    assert!(r.tools.iter().any(|t| t.queue_wait() > Duration::ZERO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_strategy_runs_one_at_a_time_in_order() {
    let plan = Plan::new("p")
        .with_strategy(StrategyChoice::Serial)
        .with_tool(sleep("a", 20))
        .with_tool(sleep("b", 20))
        .with_tool(sleep("c", 20));
    let r = run(plan).await;
    let t: Vec<_> = r.tools.iter().collect();
    assert!(t[1].started_at >= t[0].ended_at && t[2].started_at >= t[1].ended_at);
}

#[tokio::test]
async fn retries_then_succeeds() {
    let orch = Orchestrator::builder()
        .with_retry_backoff(Duration::from_millis(1))
        .build();
    let plan = Plan::new("p").with_tool(
        ToolSpec::new("f", "fail")
            .with_params(json!({"message": "flaky", "times": 2}))
            .with_retries(2),
    );
    let r = run_with(orch, plan).await;
    let f = r.tool("f").unwrap();
    assert_eq!(f.status, ToolStatus::Ok);
    assert_eq!(f.retry_count, 2);
    assert_eq!(f.attempts.len(), 3);
    assert_eq!(f.attempts[0].error.as_ref().unwrap().message, "flaky");
    assert!(f.attempts[2].error.is_none());
    // Exponential backoff: the gaps grow.
    let gap1 = f.attempts[1].start - f.attempts[0].end;
    let gap2 = f.attempts[2].start - f.attempts[1].end;
    assert!(gap1 >= Duration::from_millis(1) && gap2 >= Duration::from_millis(2));
}

#[tokio::test]
async fn fallback_after_retries() {
    let orch = Orchestrator::builder()
        .with_retry_backoff(Duration::from_millis(1))
        .build();
    let plan = Plan::new("p").with_tool(
        ToolSpec::new("f", "fail")
            .with_params(json!({"message": "down"}))
            .with_retries(1)
            .with_fallback("echo"),
    );
    let r = run_with(orch, plan).await;
    let f = r.tool("f").unwrap();
    assert_eq!(f.status, ToolStatus::Ok);
    assert!(f.fallback_used);
    assert_eq!(f.retry_count, 1);
    let tools: Vec<_> = f.attempts.iter().map(|a| a.tool.as_str()).collect();
    assert_eq!(tools, vec!["fail", "fail", "echo"]);
    assert_eq!(f.output, Some(json!({"message": "down"})));
}

#[tokio::test]
async fn timeout_fails_the_tool_and_skips_dependents() {
    let plan = Plan::new("p")
        .with_tool(sleep("slow", 10_000).with_timeout_ms(30))
        .with_tool(ToolSpec::new("after", "echo").depends_on("slow"))
        .with_tool(ToolSpec::new("other", "echo"));
    let r = run(plan).await;
    let slow = r.tool("slow").unwrap();
    assert_eq!(slow.status, ToolStatus::Error);
    assert_eq!(slow.error.as_ref().unwrap().kind, "timeout");
    assert_eq!(
        slow.error.as_ref().unwrap().message,
        "no result within 30 ms"
    );
    let after = r.tool("after").unwrap();
    assert_eq!(after.status, ToolStatus::Skipped);
    assert_eq!(after.reason.as_deref(), Some("dependency \"slow\" failed"));
    assert!(after.started_at.is_none());
    assert_eq!(status(&r, "other"), ToolStatus::Ok);
}

#[tokio::test]
async fn cache_hits_on_a_second_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut reg = ToolRegistry::with_builtins();
    let c = calls.clone();
    reg.register_fn("counted", move |input, _| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(json!({"seen": input}))
        }
    });
    let orch = Orchestrator::new(reg);
    let plan = Plan::new("p").with_tool(
        ToolSpec::new("x", "counted")
            .with_params(json!({"q": 1}))
            .with_cache_ttl_ms(60_000),
    );
    let first = run_with(orch.clone(), plan.clone()).await;
    let second = run_with(orch.clone(), plan).await;
    assert!(!first.tool("x").unwrap().cache_hit);
    assert!(second.tool("x").unwrap().cache_hit);
    assert_eq!(
        second.tool("x").unwrap().output,
        first.tool("x").unwrap().output
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

fn failing_plan(policy: OnFailure) -> Plan {
    Plan::new("p")
        .with_on_failure(policy)
        .with_tool(ToolSpec::new("bad", "fail").with_params(json!({"message": "no"})))
        .with_tool(ToolSpec::new("child", "echo").depends_on("bad"))
        .with_tool(ToolSpec::new("grandchild", "echo").map("x", "{child}"))
        .with_tool(sleep("long", 2_000))
        .with_tool(ToolSpec::new("later", "echo").depends_on("long"))
}

#[tokio::test]
async fn continue_skips_only_dependents() {
    let r = run(failing_plan(OnFailure::Continue).with_tool(sleep("quick", 1))).await;
    assert_eq!(status(&r, "bad"), ToolStatus::Error);
    assert_eq!(status(&r, "child"), ToolStatus::Skipped);
    assert_eq!(
        r.tool("grandchild").unwrap().reason.as_deref(),
        Some("dependency \"child\" was skipped")
    );
    assert_eq!(status(&r, "long"), ToolStatus::Ok);
    assert_eq!(status(&r, "later"), ToolStatus::Ok);
    assert_eq!(status(&r, "quick"), ToolStatus::Ok);
    assert!(!r.succeeded());
}

#[tokio::test]
async fn fail_fast_cancels_the_rest() {
    let r = run(failing_plan(OnFailure::FailFast)).await;
    assert_eq!(status(&r, "bad"), ToolStatus::Error);
    let long = r.tool("long").unwrap();
    assert_eq!(long.status, ToolStatus::Cancelled);
    assert_eq!(
        long.reason.as_deref(),
        Some("the run stopped after \"bad\" failed (on_failure: fail_fast)")
    );
    assert_eq!(status(&r, "later"), ToolStatus::Cancelled);
    assert!(
        r.duration < Duration::from_millis(1_500),
        "long was not stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tool_is_a_failed_tool() {
    let mut reg = ToolRegistry::with_builtins();
    reg.register_fn("boom", |_input: Value, _| async move {
        if true {
            panic!("tool exploded");
        }
        Ok::<Value, ToolError>(json!(null))
    });
    let plan = Plan::new("p")
        .with_tool(ToolSpec::new("x", "boom"))
        .with_tool(ToolSpec::new("y", "echo").depends_on("x"))
        .with_tool(ToolSpec::new("z", "echo"));
    let r = run_with(Orchestrator::new(reg), plan).await;
    let x = r.tool("x").unwrap();
    assert_eq!(x.status, ToolStatus::Error);
    assert_eq!(x.error.as_ref().unwrap().kind, "panic");
    assert_eq!(x.error.as_ref().unwrap().message, "tool exploded");
    assert_eq!(status(&r, "y"), ToolStatus::Skipped);
    assert_eq!(status(&r, "z"), ToolStatus::Ok);
}

#[tokio::test]
async fn missing_data_flow_path_fails_only_that_tool() {
    let plan = Plan::new("p")
        .with_tool(ToolSpec::new("a", "echo").with_params(json!({"rows": [1]})))
        .with_tool(ToolSpec::new("b", "echo").map("v", "{a.rows[4]}"))
        .with_tool(ToolSpec::new("c", "echo").map("v", "n={a.rows[0]}"));
    let r = run(plan).await;
    let b = r.tool("b").unwrap();
    assert_eq!(b.status, ToolStatus::Error);
    assert_eq!(b.error.as_ref().unwrap().kind, "data_flow");
    assert_eq!(
        b.error.as_ref().unwrap().message,
        "template \"{a.rows[4]}\": a.rows[4] is missing (index out of range, length 1)"
    );
    assert_eq!(b.data_flow[0].value, None);
    let c = r.tool("c").unwrap();
    assert_eq!(c.output, Some(json!({"v": "n=1"})));
    assert_eq!(c.data_flow[0].expression, json!("n={a.rows[0]}"));
    assert_eq!(c.data_flow[0].value, Some(json!("n=1")));
}

#[tokio::test]
async fn mapped_inputs_are_laid_over_params() {
    let plan = Plan::new("p")
        .with_tool(ToolSpec::new("a", "echo").with_params(json!({"n": 5})))
        .with_tool(
            ToolSpec::new("b", "echo")
                .with_params(json!({"n": 0, "keep": true}))
                .map("n", "{a.n}"),
        );
    let r = run(plan).await;
    assert_eq!(
        r.tool("b").unwrap().output,
        Some(json!({"n": 5, "keep": true}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_tools_in_flight() {
    let plan = Plan::new("p")
        .with_tool(sleep("quick", 1))
        .with_tool(sleep("slow", 10_000))
        .with_tool(ToolSpec::new("after", "echo").depends_on("slow"));
    let orch = Orchestrator::default();
    let analyzed = orch.analyze(plan).unwrap();
    let r = orch
        .run_until(&analyzed, tokio::time::sleep(Duration::from_millis(100)))
        .await;
    assert_eq!(status(&r, "quick"), ToolStatus::Ok);
    assert_eq!(status(&r, "slow"), ToolStatus::Cancelled);
    assert_eq!(status(&r, "after"), ToolStatus::Cancelled);
    assert_eq!(
        r.tool("slow").unwrap().reason.as_deref(),
        Some("the run was cancelled")
    );
    assert!(r.cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_future_aborts_tools() {
    let finished = Arc::new(AtomicBool::new(false));
    let mut reg = ToolRegistry::with_builtins();
    let f = finished.clone();
    reg.register_fn("slow", move |input, _| {
        let f = f.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            f.store(true, Ordering::SeqCst);
            Ok(input)
        }
    });
    let orch = Orchestrator::new(reg);
    let analyzed = orch
        .analyze(Plan::new("p").with_tool(ToolSpec::new("s", "slow")))
        .unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(50), orch.run(&analyzed)).await;
    assert!(dropped.is_err());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !finished.load(Ordering::SeqCst),
        "the tool kept running after the drop"
    );
}

#[tokio::test]
async fn the_seed_plan_runs_with_sensible_rows() {
    let plan = Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))
    .unwrap();
    let r = run(plan).await;
    assert!(r.succeeded(), "{:?}", r.tools);
    let agg = r.tool("aggregate").unwrap();
    assert_eq!(agg.data_flow[0].value, Some(json!(42)));
    assert_eq!(agg.data_flow[1].value, Some(json!(28)));
    assert_eq!(
        agg.output.as_ref().unwrap()["inputs"],
        json!({"primary_count": 42, "secondary_count": 28})
    );
    assert_eq!(r.execution_plan.execution_groups.len(), 2);
}

#[tokio::test]
async fn progress_counts_up_to_the_total() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let orch = Orchestrator::builder()
        .with_progress(move |p| s.lock().unwrap().push(p))
        .build();
    let plan = Plan::new("p")
        .with_tool(sleep("a", 5))
        .with_tool(sleep("b", 5).depends_on("a"))
        .with_tool(ToolSpec::new("bad", "fail"))
        .with_tool(ToolSpec::new("skipped", "echo").depends_on("bad"));
    run_with(orch, plan).await;
    let seen = seen.lock().unwrap();
    assert!(seen.iter().all(|p| p.total == 4 && p.running <= 4));
    assert!(seen.windows(2).all(|w| w[0].done <= w[1].done), "{seen:?}");
    let last = seen.last().unwrap();
    assert_eq!(
        (last.done, last.running),
        (3, 0),
        "the skipped tool never ran: {seen:?}"
    );
}
