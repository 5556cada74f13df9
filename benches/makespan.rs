//! Measurement 3 — makespan against the critical path: seeded random DAGs of 50–200 `sleep`
//! tools (1–30 ms each, fan-in 0–3), run by our dataflow executor and by level-by-level
//! execution with barriers (the obvious design a user would otherwise write, implemented
//! here: spawn a level's tools, wait for all of them, go on).
//!
//! Both run the same tool body on the same runtime (multi-thread, one worker per core,
//! driven by `block_on` as the CLI does): sleep for the tool's time and note when the body
//! began and ended. From those notes, per run:
//! - makespan = last body end − first body start;
//! - critical path = the longest dependency path weighted by the bodies' measured durations
//!   (so timer overshoot, which any tokio program pays, is in both and the ratio is the
//!   scheduling alone); also against the nominal durations, for reference.
//!
//! Ours runs with `max_concurrency` = the number of tools (critical-path bounds assume no
//! limit, and the barrier baseline has none). Figures are medians (and the worst) over
//! `DAGS` × `RUNS` runs; results go to stdout and `target/bench-results/makespan.json`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Deps, Rng};
use orchestrace::graph::{critical_path, levels_of};
use orchestrace::{Orchestrator, Tool, ToolContext, ToolError, ToolRegistry};
use serde_json::{json, Value};

/// When each tool body began and ended, by plan index.
type Notes = Arc<Mutex<HashMap<usize, (Instant, Instant)>>>;

async fn body(ms: u64, index: usize, notes: &Notes) {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(ms)).await;
    let end = Instant::now();
    notes.lock().expect("notes").insert(index, (start, end));
}

/// `sleep` with notes: `{"ms": N, "index": I}`.
struct NotedSleep(Notes);

#[orchestrace::async_trait]
impl Tool for NotedSleep {
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        let ms = input["ms"].as_u64().unwrap_or(0);
        let index = input["index"].as_u64().unwrap_or(0) as usize;
        body(ms, index, &self.0).await;
        Ok(Value::Null)
    }
}

struct Dag {
    seed: u64,
    deps: Deps,
    ms: Vec<u64>,
}

fn dag(seed: u64) -> Dag {
    let mut rng = Rng::new(seed);
    let n = rng.range(50, 200) as usize;
    let deps = common::random_dag(n, 3, &mut rng);
    let ms = (0..n).map(|_| rng.range(1, 30)).collect();
    Dag { seed, deps, ms }
}

#[derive(Debug, Clone, serde::Serialize)]
struct Outcome {
    makespan_ms: f64,
    critical_path_ms: f64,
    nominal_critical_path_ms: f64,
}

impl Outcome {
    fn of(dag: &Dag, notes: &Notes) -> Outcome {
        let notes = notes.lock().expect("notes");
        assert_eq!(notes.len(), dag.deps.len(), "every tool ran");
        let first = notes.values().map(|n| n.0).min().expect("tools");
        let last = notes.values().map(|n| n.1).max().expect("tools");
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let durations: Vec<f64> = (0..dag.deps.len())
            .map(|i| ms(notes[&i].1 - notes[&i].0))
            .collect();
        let nominal: Vec<f64> = dag.ms.iter().map(|&m| m as f64).collect();
        Outcome {
            makespan_ms: ms(last - first),
            critical_path_ms: critical_path(&durations, &dag.deps).1,
            nominal_critical_path_ms: critical_path(&nominal, &dag.deps).1,
        }
    }

    fn ratio(&self) -> f64 {
        self.makespan_ms / self.critical_path_ms
    }

    fn nominal_ratio(&self) -> f64 {
        self.makespan_ms / self.nominal_critical_path_ms
    }
}

fn ours(rt: &tokio::runtime::Runtime, dag: &Dag) -> Outcome {
    let notes = Notes::default();
    let mut registry = ToolRegistry::new();
    registry.register("sleep", NotedSleep(notes.clone()));
    let orch = Orchestrator::new(registry);
    let plan = common::plan("makespan", &dag.deps, "sleep", dag.deps.len(), |i| {
        Some(json!({"ms": dag.ms[i], "index": i}))
    });
    let plan = orch.analyze(plan).expect("valid plan");
    assert!(rt.block_on(orch.run(&plan)).succeeded());
    Outcome::of(dag, &notes)
}

/// Level by level: every tool of a level at once, then wait for all of them.
fn barriers(rt: &tokio::runtime::Runtime, dag: &Dag) -> Outcome {
    let notes = Notes::default();
    let levels = levels_of(&dag.deps);
    let depth = levels.iter().max().map_or(0, |l| l + 1);
    let mut by_level = vec![Vec::new(); depth];
    for (i, &l) in levels.iter().enumerate() {
        by_level[l].push(i);
    }
    rt.block_on(async {
        for level in by_level {
            let mut set = tokio::task::JoinSet::new();
            for i in level {
                let (ms, notes) = (dag.ms[i], notes.clone());
                set.spawn(async move { body(ms, i, &notes).await });
            }
            while let Some(r) = set.join_next().await {
                r.expect("tool task");
            }
        }
    });
    Outcome::of(dag, &notes)
}

/// One run of one DAG by both executors.
#[derive(serde::Serialize)]
struct Row {
    seed: u64,
    tools: usize,
    ours: Outcome,
    barriers: Outcome,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

fn main() {
    let benching = common::benching();
    // Under `cargo test --all-targets`: one small DAG, once.
    let (dags, runs) = if benching { (20, 3) } else { (1, 1) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("runtime");
    let mut rows = Vec::new();
    for seed in 1..=dags {
        let dag = dag(seed);
        for run in 0..runs {
            // Alternate which goes first, so neither always runs on a warmer machine.
            let (a, b) = if run % 2 == 0 {
                let a = ours(&rt, &dag);
                (a, barriers(&rt, &dag))
            } else {
                let b = barriers(&rt, &dag);
                (ours(&rt, &dag), b)
            };
            rows.push(Row {
                seed: dag.seed,
                tools: dag.deps.len(),
                ours: a,
                barriers: b,
            });
        }
    }
    let col = |f: &dyn Fn(&Row) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
    let ours_ratio = col(&|r| r.ours.ratio());
    let barrier_ratio = col(&|r| r.barriers.ratio());
    let ours_nominal = col(&|r| r.ours.nominal_ratio());
    let barrier_nominal = col(&|r| r.barriers.nominal_ratio());
    let ours_ms = col(&|r| r.ours.makespan_ms);
    let barrier_ms = col(&|r| r.barriers.makespan_ms);
    let relative = col(&|r| r.ours.makespan_ms / r.barriers.makespan_ms);
    println!(
        "makespan: {} DAGs (seeds 1..={dags}, 50–200 tools, 1–30 ms, fan-in 0–3) × {runs} runs",
        dags
    );
    println!(
        "  makespan / critical path (measured durations): ours median {:.4} (worst {:.4}), barriers median {:.4} (worst {:.4})",
        median(ours_ratio.clone()),
        max(&ours_ratio),
        median(barrier_ratio.clone()),
        max(&barrier_ratio)
    );
    println!(
        "  makespan / critical path (nominal durations):  ours median {:.4}, barriers median {:.4}",
        median(ours_nominal.clone()),
        median(barrier_nominal.clone())
    );
    println!(
        "  makespan: ours median {:.1} ms, barriers median {:.1} ms; ours / barriers per run, median {:.4}",
        median(ours_ms.clone()),
        median(barrier_ms.clone()),
        median(relative.clone())
    );
    if benching {
        let report = json!({
            "dags": dags,
            "runs_per_dag": runs,
            "ours": {
                "ratio_median": median(ours_ratio.clone()),
                "ratio_worst": max(&ours_ratio),
                "nominal_ratio_median": median(ours_nominal),
                "makespan_ms_median": median(ours_ms),
            },
            "barriers": {
                "ratio_median": median(barrier_ratio.clone()),
                "ratio_worst": max(&barrier_ratio),
                "nominal_ratio_median": median(barrier_nominal),
                "makespan_ms_median": median(barrier_ms),
            },
            "ours_over_barriers_median": median(relative),
            "runs": rows,
        });
        let path = common::results_dir().join("makespan.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("JSON")).expect("write");
        println!("written to {}", path.display());
    }
}
