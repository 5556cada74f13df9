//! The executor: dataflow scheduling, limits, retries, fallback, timeouts, cache, failure
//! policies, panics and cancellation. Every test runs on tokio's paused clock: sleeps and
//! timeouts advance virtual time exactly, so order and overlap are asserted as exact virtual
//! times recorded by the tools themselves (never wall-clock bounds).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use orchestrace::plan::{OnFailure, StrategyChoice, ToolSpec};
use orchestrace::run::ToolStatus;
use orchestrace::{Orchestrator, Plan, RunReport, ToolError, ToolRegistry};
use serde_json::{json, Value};
use tokio::time::Instant;

/// (tool id, start ms, end ms); end is `None` while it runs (or if it never finished).
type Log = Arc<Mutex<Vec<(String, u64, Option<u64>)>>>;

/// What the `wait` tools saw, in virtual milliseconds from the test's start.
#[derive(Clone)]
struct Clock {
    t0: Instant,
    log: Log,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            t0: Instant::now(),
            log: Arc::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.t0.elapsed().as_millis()).unwrap()
    }

    /// The built-ins plus `wait` (`{"ms": N}`: sleeps N ms, recording its interval).
    fn registry(&self) -> ToolRegistry {
        let mut reg = ToolRegistry::with_builtins();
        let clock = self.clone();
        reg.register_fn("wait", move |input: Value, ctx| {
            let clock = clock.clone();
            async move {
                let ms = input["ms"].as_u64().unwrap_or(0);
                let row = {
                    let mut log = clock.log.lock().unwrap();
                    log.push((ctx.tool_id().to_owned(), clock.now_ms(), None));
                    log.len() - 1
                };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                clock.log.lock().unwrap()[row].2 = Some(clock.now_ms());
                Ok(input)
            }
        });
        reg
    }

    fn orchestrator(&self) -> Orchestrator {
        Orchestrator::new(self.registry())
    }

    /// The interval a tool ran, `[start, end]` in virtual ms.
    fn interval(&self, id: &str) -> (u64, u64) {
        let log = self.log.lock().unwrap();
        let (_, start, end) = log
            .iter()
            .find(|(t, _, _)| t == id)
            .unwrap_or_else(|| panic!("{id} never started: {log:?}"));
        (*start, end.unwrap_or_else(|| panic!("{id} never ended")))
    }

    /// Every recorded interval, sorted by start then id.
    fn intervals(&self) -> Vec<(String, u64, Option<u64>)> {
        let mut log = self.log.lock().unwrap().clone();
        log.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        log
    }
}

fn wait(id: &str, ms: u64) -> ToolSpec {
    ToolSpec::new(id, "wait").with_params(json!({ "ms": ms }))
}

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

#[tokio::test(start_paused = true)]
async fn dependents_start_when_their_own_dependencies_finish() {
    // a 10 → b 100, c 100 → d 10. Level barriers would start d after b ends (at 110).
    let clock = Clock::start();
    let plan = Plan::new("p")
        .with_tool(wait("a", 10))
        .with_tool(wait("b", 100).depends_on("a"))
        .with_tool(wait("c", 100))
        .with_tool(wait("d", 10).depends_on("c"));
    let r = run_with(clock.orchestrator(), plan).await;
    assert!(r.succeeded());
    assert_eq!(clock.interval("a"), (0, 10));
    assert_eq!(clock.interval("c"), (0, 100));
    assert_eq!(clock.interval("b"), (10, 110));
    assert_eq!(clock.interval("d"), (100, 110));
    assert_eq!(clock.now_ms(), 110, "the run ends with its last tool");
    assert_eq!(
        (r.tool("b").unwrap().group, r.tool("d").unwrap().group),
        (1, 1)
    );
    assert_eq!(r.summary.critical_path.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn concurrency_cap_is_never_exceeded() {
    // 12 independent 15 ms tools, at most 3 at a time: four waves at 0, 15, 30 and 45 ms.
    let clock = Clock::start();
    let plan = (0..12).fold(Plan::new("p").with_max_concurrency(3), |p, i| {
        p.with_tool(wait(&format!("t{i}"), 15))
    });
    let r = run_with(clock.orchestrator(), plan).await;
    assert!(r.succeeded());
    let mut waves = std::collections::BTreeMap::new();
    for (id, start, end) in clock.intervals() {
        assert_eq!(end, Some(start + 15), "{id}");
        *waves.entry(start).or_insert(0) += 1;
    }
    assert_eq!(
        waves.into_iter().collect::<Vec<_>>(),
        vec![(0, 3), (15, 3), (30, 3), (45, 3)]
    );
    assert_eq!(clock.now_ms(), 60);
    // Slots go in plan order.
    assert_eq!(clock.interval("t0"), (0, 15));
    assert_eq!(clock.interval("t3"), (15, 30));
    assert_eq!(clock.interval("t11"), (45, 60));
}

#[tokio::test(start_paused = true)]
async fn serial_strategy_runs_one_at_a_time_in_order() {
    let clock = Clock::start();
    let plan = Plan::new("p")
        .with_strategy(StrategyChoice::Serial)
        .with_tool(wait("a", 20))
        .with_tool(wait("b", 20))
        .with_tool(wait("c", 20));
    let r = run_with(clock.orchestrator(), plan).await;
    assert!(r.succeeded());
    assert_eq!(
        clock.intervals(),
        vec![
            ("a".to_owned(), 0, Some(20)),
            ("b".to_owned(), 20, Some(40)),
            ("c".to_owned(), 40, Some(60)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_exponentially_then_succeed() {
    // Fails twice, then succeeds: calls at 0, 10 (backoff 10) and 30 ms (backoff 20).
    let clock = Clock::start();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut reg = ToolRegistry::with_builtins();
    let (c, k) = (calls.clone(), clock.clone());
    reg.register_fn("flaky", move |input: Value, ctx| {
        let (c, k) = (c.clone(), k.clone());
        async move {
            c.lock().unwrap().push(k.now_ms());
            if ctx.attempt() < 2 {
                return Err(ToolError::new("flaky"));
            }
            Ok(input)
        }
    });
    let orch = Orchestrator::builder()
        .with_registry(reg)
        .with_retry_backoff(Duration::from_millis(10))
        .build();
    let plan = Plan::new("p").with_tool(ToolSpec::new("f", "flaky").with_retries(2));
    let r = run_with(orch, plan).await;
    assert_eq!(*calls.lock().unwrap(), vec![0, 10, 30]);
    let f = r.tool("f").unwrap();
    assert_eq!(f.status, ToolStatus::Ok);
    assert_eq!(f.retry_count, 2);
    assert_eq!(f.attempts.len(), 3);
    assert_eq!(f.attempts[0].error.as_ref().unwrap().message, "flaky");
    assert_eq!(f.attempts[1].error.as_ref().unwrap().message, "flaky");
    assert!(f.attempts[2].error.is_none());
}

#[tokio::test(start_paused = true)]
async fn the_backoff_doubles_up_to_its_cap() {
    // Base 2 s: waits 2, 4, then 5 (the cap), 5 s.
    let clock = Clock::start();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut reg = ToolRegistry::with_builtins();
    let (c, k) = (calls.clone(), clock.clone());
    reg.register_fn("down", move |_input: Value, _ctx| {
        let (c, k) = (c.clone(), k.clone());
        async move {
            c.lock().unwrap().push(k.now_ms());
            Err::<Value, _>(ToolError::new("down"))
        }
    });
    let orch = Orchestrator::builder()
        .with_registry(reg)
        .with_retry_backoff(Duration::from_secs(2))
        .build();
    let plan = Plan::new("p").with_tool(ToolSpec::new("f", "down").with_retries(4));
    let r = run_with(orch, plan).await;
    assert_eq!(
        *calls.lock().unwrap(),
        vec![0, 2_000, 6_000, 11_000, 16_000]
    );
    assert_eq!(
        orchestrace::execute::MAX_RETRY_BACKOFF,
        Duration::from_secs(5)
    );
    let f = r.tool("f").unwrap();
    assert_eq!(f.status, ToolStatus::Error);
    assert_eq!(f.retry_count, 4);
    assert_eq!(f.error.as_ref().unwrap().message, "down");
}

#[tokio::test(start_paused = true)]
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
    assert_eq!(f.output.as_deref(), Some(&json!({"message": "down"})));
}

#[tokio::test(start_paused = true)]
async fn timeout_fails_the_tool_and_skips_dependents() {
    let t0 = Instant::now();
    let plan = Plan::new("p")
        .with_tool(sleep("slow", 10_000).with_timeout_ms(30))
        .with_tool(ToolSpec::new("after", "echo").depends_on("slow"))
        .with_tool(ToolSpec::new("other", "echo"));
    let r = run(plan).await;
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(30),
        "the run ends at the timeout"
    );
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

#[tokio::test(start_paused = true)]
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
        .with_tool(wait("long", 2_000))
        .with_tool(ToolSpec::new("later", "echo").depends_on("long"))
}

#[tokio::test(start_paused = true)]
async fn continue_skips_only_dependents() {
    let clock = Clock::start();
    let plan = failing_plan(OnFailure::Continue).with_tool(wait("quick", 1));
    let r = run_with(clock.orchestrator(), plan).await;
    assert_eq!(status(&r, "bad"), ToolStatus::Error);
    assert_eq!(status(&r, "child"), ToolStatus::Skipped);
    assert_eq!(
        r.tool("grandchild").unwrap().reason.as_deref(),
        Some("dependency \"child\" was skipped")
    );
    assert_eq!(status(&r, "long"), ToolStatus::Ok);
    assert_eq!(status(&r, "later"), ToolStatus::Ok);
    assert_eq!(status(&r, "quick"), ToolStatus::Ok);
    assert_eq!(
        clock.interval("long"),
        (0, 2_000),
        "the failure stopped nothing"
    );
    assert_eq!(clock.interval("quick"), (0, 1));
    assert!(!r.succeeded());
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_rest() {
    let clock = Clock::start();
    let r = run_with(clock.orchestrator(), failing_plan(OnFailure::FailFast)).await;
    assert_eq!(status(&r, "bad"), ToolStatus::Error);
    let long = r.tool("long").unwrap();
    assert_eq!(long.status, ToolStatus::Cancelled);
    assert_eq!(
        long.reason.as_deref(),
        Some("the run stopped after \"bad\" failed (on_failure: fail_fast)")
    );
    assert_eq!(status(&r, "later"), ToolStatus::Cancelled);
    assert_eq!(clock.now_ms(), 0, "long was stopped at once");
    assert_eq!(
        clock.intervals(),
        vec![("long".to_owned(), 0, None)],
        "long started and never finished"
    );
}

#[tokio::test(start_paused = true)]
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

#[tokio::test(start_paused = true)]
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
    assert_eq!(c.output.as_deref(), Some(&json!({"v": "n=1"})));
    assert_eq!(c.data_flow[0].expression, json!("n={a.rows[0]}"));
    assert_eq!(c.data_flow[0].value.as_deref(), Some(&json!("n=1")));
}

#[tokio::test(start_paused = true)]
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
        r.tool("b").unwrap().output.as_deref(),
        Some(&json!({"n": 5, "keep": true}))
    );
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_tools_in_flight() {
    let clock = Clock::start();
    let plan = Plan::new("p")
        .with_tool(wait("quick", 1))
        .with_tool(wait("slow", 10_000))
        .with_tool(ToolSpec::new("after", "echo").depends_on("slow"));
    let orch = clock.orchestrator();
    let analyzed = orch.analyze(plan).unwrap();
    let r = orch
        .run_until(&analyzed, tokio::time::sleep(Duration::from_millis(100)))
        .await;
    assert_eq!(clock.now_ms(), 100, "the run ends when cancelled");
    assert_eq!(
        clock.intervals(),
        vec![
            ("quick".to_owned(), 0, Some(1)),
            ("slow".to_owned(), 0, None)
        ]
    );
    assert_eq!(status(&r, "quick"), ToolStatus::Ok);
    assert_eq!(status(&r, "slow"), ToolStatus::Cancelled);
    assert_eq!(status(&r, "after"), ToolStatus::Cancelled);
    assert_eq!(
        r.tool("slow").unwrap().reason.as_deref(),
        Some("the run was cancelled")
    );
    assert!(r.cancelled());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_aborts_tools() {
    let clock = Clock::start();
    let orch = clock.orchestrator();
    let analyzed = orch
        .analyze(Plan::new("p").with_tool(wait("s", 300)))
        .unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(50), orch.run(&analyzed)).await;
    assert!(dropped.is_err());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(clock.now_ms(), 650);
    assert_eq!(
        clock.intervals(),
        vec![("s".to_owned(), 0, None)],
        "the tool kept running after the drop"
    );
}

#[tokio::test(start_paused = true)]
async fn the_seed_plan_runs_with_sensible_rows() {
    let t0 = Instant::now();
    let plan = Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))
    .unwrap();
    let r = run(plan).await;
    assert!(r.succeeded(), "{:?}", r.tools);
    // primary 80 ms ∥ secondary 90 ms, then aggregate 150 ms (the plan's latency_ms).
    assert_eq!(t0.elapsed(), Duration::from_millis(240));
    let agg = r.tool("aggregate").unwrap();
    assert_eq!(agg.data_flow[0].value.as_deref(), Some(&json!(42)));
    assert_eq!(agg.data_flow[1].value.as_deref(), Some(&json!(28)));
    assert_eq!(
        agg.output.as_ref().unwrap()["inputs"],
        json!({"primary_count": 42, "secondary_count": 28})
    );
    assert_eq!(r.execution_plan.execution_groups.len(), 2);
}

#[tokio::test(start_paused = true)]
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
    // The skipped tool never ran, and it is done all the same: the count reaches the total.
    assert_eq!((last.done, last.running), (4, 0), "{seen:?}");
    assert_eq!(seen.iter().map(|p| p.running).max(), Some(2), "{seen:?}");
}
