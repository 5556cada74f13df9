//! Shared by the benchmarks: a seeded generator, the plan shapes, and the same shapes built
//! for the alternatives. Benches cannot share the `tests/support` module, so what they need
//! lives here.
// Shared by several bench targets, each using a part: `pub` items reached through `mod common`.
#![allow(unreachable_pub)]
#![allow(dead_code)]

use orchestrace::plan::ToolSpec;
use orchestrace::{Plan, Tool, ToolContext, ToolError, ToolRegistry};
use serde_json::{json, Value};

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs bench binaries without
/// it. Heavy work only runs under `cargo bench`.
pub fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Where the whole-process benches write their figures (`target/bench-results/`).
pub fn results_dir() -> std::path::PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-results");
    std::fs::create_dir_all(&dir).expect("results dir");
    dir
}

/// SplitMix64: tiny, seeded, good enough to draw shapes (no `rand` dependency).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// A DAG as dependency lists: `deps[i]` are the tools `i` depends on (all `< i`).
pub type Deps = Vec<Vec<usize>>;

pub fn independent(n: usize) -> Deps {
    vec![Vec::new(); n]
}

pub fn chain(n: usize) -> Deps {
    (0..n)
        .map(|i| if i == 0 { Vec::new() } else { vec![i - 1] })
        .collect()
}

/// Each tool draws a fan-in uniformly in `0..=max_fan_in` (capped by the tools before it)
/// and that many distinct parents uniformly among the earlier tools.
pub fn random_dag(n: usize, max_fan_in: u64, rng: &mut Rng) -> Deps {
    (0..n)
        .map(|i| {
            let k = (rng.range(0, max_fan_in) as usize).min(i);
            let mut parents: Vec<usize> = Vec::with_capacity(k);
            while parents.len() < k {
                let p = rng.range(0, i as u64 - 1) as usize;
                if !parents.contains(&p) {
                    parents.push(p);
                }
            }
            parents.sort_unstable();
            parents
        })
        .collect()
}

pub fn mean_fan_in(deps: &Deps) -> f64 {
    deps.iter().map(Vec::len).sum::<usize>() as f64 / deps.len() as f64
}

pub fn tool_id(i: usize) -> String {
    format!("t{i}")
}

/// An orchestrace plan of `tool` over `deps`, with `params(i)` as each tool's params.
pub fn plan(
    name: &str,
    deps: &Deps,
    tool: &str,
    max_concurrency: usize,
    params: impl Fn(usize) -> Option<Value>,
) -> Plan {
    deps.iter().enumerate().fold(
        Plan::new(name).with_max_concurrency(max_concurrency),
        |plan, (i, ds)| {
            let mut spec = ds.iter().fold(ToolSpec::new(tool_id(i), tool), |s, &d| {
                s.depends_on(tool_id(d))
            });
            if let Some(p) = params(i) {
                spec = spec.with_params(p);
            }
            plan.with_tool(spec)
        },
    )
}

/// The plan as the JSON file the CLI reads.
pub fn plan_json(name: &str, deps: &Deps, tool: &str, max_concurrency: usize) -> Value {
    let tools: Vec<Value> = deps
        .iter()
        .enumerate()
        .map(|(i, ds)| {
            let mut t = json!({"id": tool_id(i), "tool": tool});
            if !ds.is_empty() {
                t["depends_on"] = ds.iter().map(|&d| Value::from(tool_id(d))).collect();
            }
            t
        })
        .collect();
    json!({"plan_id": name, "max_concurrency": max_concurrency, "tools": tools})
}

/// A tool that does nothing: the scheduler's cost is all that is left.
pub struct Noop;

#[orchestrace::async_trait]
impl Tool for Noop {
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        Ok(Value::Null)
    }
}

/// A tool that returns one row at once: enough for `result_count` to be on its span.
pub struct OneRow(pub Value);

#[orchestrace::async_trait]
impl Tool for OneRow {
    async fn call(&self, _input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        Ok(self.0.clone())
    }
}

/// The built-in tools plus `noop` and `one_row`.
pub fn registry() -> ToolRegistry {
    let mut r = ToolRegistry::with_builtins();
    r.register("noop", Noop);
    r.register("one_row", OneRow(json!({"rows": [{"count": 1}]})));
    r
}
