//! Measurement 1 — scheduling overhead, untraced: no-op tools in three shapes, our dataflow
//! executor against `dagrs`, on the same tokio runtime.
//!
//! Per iteration one whole plan runs; time per tool is the iteration time over the tool
//! count (criterion also prints elements/s). Building the plan (our `analyze`, dagrs' node
//! and edge insertion) is setup and not timed; dagrs' run-time checks (cycle check,
//! partition) are part of its run, as our run-time bookkeeping is part of ours. No
//! subscriber is installed: spans are disabled, as in an untraced program.
//!
//! Three ways to drive a run, because the cost of waking the driver differs between them:
//! - `block_on`: a multi-thread runtime (one worker per core) driven by `block_on` from the
//!   bench thread — how the CLI and most `main`s run;
//! - `in_task`: the same runtime, the run spawned as a task — how a server handler runs;
//! - `current_thread`: one thread, no cross-thread wake-ups — the bookkeeping cost alone.
//!
//! A dagrs node only waits for its dependencies by receiving on its input channels, so the
//! dagrs no-op receives one message from each dependency and sends one to each dependent —
//! the least a dagrs user writes to express "runs after".
// `criterion_group!` defines an undocumented `pub fn benches`.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{benching, chain, independent, random_dag, Deps, Rng};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dagrs::{
    Action, Content, DefaultNode, EnvVar, Graph, InChannels, Node, NodeTable, OutChannels, Output,
};
use orchestrace::schedule::AnalyzedPlan;
use orchestrace::Orchestrator;
use tokio::runtime::Runtime;

/// Seed of the random DAG.
const SEED: u64 = 8;

struct DagrsNoop;

#[dagrs::async_trait::async_trait]
impl Action for DagrsNoop {
    async fn run(
        &self,
        inputs: &mut InChannels,
        outputs: &mut OutChannels,
        _: Arc<EnvVar>,
    ) -> Output {
        inputs.map(|_| ()).await;
        outputs.broadcast(Content::new(())).await;
        Output::empty()
    }
}

fn dagrs_graph(deps: &Deps) -> Graph {
    let mut table = NodeTable::new();
    let mut graph = Graph::new();
    let ids: Vec<_> = (0..deps.len())
        .map(|i| {
            let node = DefaultNode::with_action(format!("t{i}"), DagrsNoop, &mut table);
            let id = node.id();
            graph.add_node(node).expect("node");
            id
        })
        .collect();
    let mut children = vec![Vec::new(); deps.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            children[d].push(ids[i]);
        }
    }
    for (i, cs) in children.into_iter().enumerate() {
        if !cs.is_empty() {
            graph.add_edge(ids[i], cs).expect("edge");
        }
    }
    graph
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("runtime")
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn shapes() -> Vec<(&'static str, Deps)> {
    // Under `cargo test --all-targets` each routine runs once: keep it small.
    let scale = if benching() { 1 } else { 100 };
    vec![
        ("independent_10000", independent(10_000 / scale)),
        ("chain_1000", chain(1_000 / scale)),
        (
            "random_dag_10000",
            random_dag(10_000 / scale, 6, &mut Rng::new(SEED)),
        ),
    ]
}

#[derive(Clone, Copy)]
enum Harness {
    BlockOn,
    InTask,
}

fn ours(rt: &Runtime, harness: Harness, orch: &Orchestrator, plan: &Arc<AnalyzedPlan>) {
    let report = match harness {
        Harness::BlockOn => rt.block_on(orch.run(plan)),
        Harness::InTask => {
            let (orch, plan) = (orch.clone(), plan.clone());
            rt.block_on(rt.spawn(async move { orch.run(&plan).await }))
                .expect("run task")
        }
    };
    assert!(report.succeeded());
}

fn theirs(rt: &Runtime, harness: Harness, mut graph: Graph) -> Graph {
    match harness {
        Harness::BlockOn => {
            rt.block_on(graph.async_start()).expect("dagrs run");
            graph
        }
        Harness::InTask => rt
            .block_on(rt.spawn(async move {
                graph.async_start().await.expect("dagrs run");
                graph
            }))
            .expect("dagrs task"),
    }
}

fn scheduling(c: &mut Criterion) {
    let multi = multi_thread();
    let single = current_thread();
    let orch = Orchestrator::new(common::registry());
    for (name, deps) in shapes() {
        let n = deps.len();
        let mut group = c.benchmark_group(format!("scheduling/{name}"));
        group.throughput(Throughput::Elements(n as u64));
        // The plan's default concurrency limit: what a user gets without tuning.
        let plan = common::plan(
            name,
            &deps,
            "noop",
            orchestrace::plan::DEFAULT_MAX_CONCURRENCY,
            |_| None,
        );
        let plan = Arc::new(orch.analyze(plan).expect("valid plan"));
        // No limit, as dagrs runs.
        let unlimited = common::plan(name, &deps, "noop", n, |_| None);
        let unlimited = Arc::new(orch.analyze(unlimited).expect("valid plan"));
        for (label, rt, harness) in [
            ("block_on", &multi, Harness::BlockOn),
            ("in_task", &multi, Harness::InTask),
            ("current_thread", &single, Harness::BlockOn),
        ] {
            group.bench_function(format!("orchestrace/{label}"), |b| {
                b.iter(|| ours(rt, harness, &orch, &plan))
            });
            if label == "block_on" {
                group.bench_function(format!("orchestrace_unlimited/{label}"), |b| {
                    b.iter(|| ours(rt, harness, &orch, &unlimited))
                });
            }
            group.bench_function(format!("dagrs/{label}"), |b| {
                b.iter_batched(
                    || dagrs_graph(&deps),
                    |graph| theirs(rt, harness, graph),
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8));
    targets = scheduling
}
criterion_main!(benches);
