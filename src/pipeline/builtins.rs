//! Built-in stages: a static planner, a keyword router over a folder of plans, the default
//! validation policy, composer and presenter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{Answer, Composer, OrchestrationTrace, Planner, Policy, Presenter, StageError};
use crate::execute::ToolRegistry;
use crate::plan::Plan;
use crate::plan::{PlanError, PlanErrorKind};
use crate::run::{RunReport, ToolStatus};
use crate::schedule::AnalyzedPlan;

/// Always returns the same plan.
#[derive(Debug, Clone)]
pub struct StaticPlanner {
    plan: Plan,
    asset_id: String,
}

impl StaticPlanner {
    /// Plans with `plan` whatever the query.
    pub fn new(plan: Plan) -> Self {
        let asset_id = StaticPlanner::asset_of(&plan);
        StaticPlanner { plan, asset_id }
    }

    /// The asset id a static planner records for `plan`: `plan:{plan_id}:static`.
    pub fn asset_of(plan: &Plan) -> String {
        format!("plan:{}:static", plan.plan_id)
    }
}

#[async_trait]
impl Planner for StaticPlanner {
    fn asset_id(&self) -> Option<String> {
        Some(self.asset_id.clone())
    }

    async fn plan(&self, _query: &str) -> Result<Plan, StageError> {
        Ok(self.plan.clone())
    }
}

/// Picks a plan by keywords: each plan's words (its `plan_id` and `query`) are scored
/// against the query's words; the best score wins, ties go to the first plan.
#[derive(Debug, Clone, Default)]
pub struct RouterPlanner {
    routes: Vec<(BTreeSet<String>, Plan)>,
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

impl RouterPlanner {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route: `plan` for queries sharing words with `keywords` (and with the plan's
    /// own `plan_id` and `query`).
    pub fn route(mut self, keywords: &[&str], plan: Plan) -> Self {
        let mut w: BTreeSet<String> = keywords.iter().flat_map(|k| words(k)).collect();
        w.extend(words(&plan.plan_id));
        w.extend(words(plan.query.as_deref().unwrap_or_default()));
        self.routes.push((w, plan));
        self
    }

    /// A route for every `*.json` plan in `dir` (sorted by file name).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, PlanError> {
        let dir = dir.as_ref();
        let entries = std::fs::read_dir(dir).map_err(|e| {
            PlanError::new(PlanErrorKind::Io(e.to_string())).in_file(dir.display().to_string())
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut router = Self::new();
        for f in files {
            let plan = Plan::from_path(&f)?;
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            router = router.route(&[&stem], plan);
        }
        Ok(router)
    }
}

#[async_trait]
impl Planner for RouterPlanner {
    fn asset_id(&self) -> Option<String> {
        Some("router:keywords:v1".to_owned())
    }

    async fn plan(&self, query: &str) -> Result<Plan, StageError> {
        let q = words(query);
        self.routes
            .iter()
            .map(|(w, p)| (w.intersection(&q).count(), p))
            .filter(|(score, _)| *score > 0)
            .fold(
                None,
                |best: Option<(usize, &Plan)>, (score, p)| match best {
                    Some((b, _)) if b >= score => best,
                    _ => Some((score, p)),
                },
            )
            .map(|(_, p)| {
                let mut plan = p.clone();
                plan.query = Some(query.to_owned());
                plan
            })
            .ok_or_else(|| StageError::route_plan(format!("no plan matches the query {query:?}")))
    }
}

/// The built-in policy: allowed tool types, at most so many tools and so much concurrency.
///
/// The limits keep one plan from taking the process down (every tool costs its record, its
/// span and its task): at most [`DefaultPolicy::DEFAULT_MAX_TOOLS`] tools and a `max_concurrency` of at most
/// [`DefaultPolicy::DEFAULT_MAX_CONCURRENCY`], each raised or lowered with its `with_*` setter. The CLI sets
/// the first with `orchestrace run --max-tools N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultPolicy {
    allowed: Option<BTreeSet<String>>,
    max_tools: usize,
    max_concurrency: usize,
}

impl Default for DefaultPolicy {
    fn default() -> Self {
        DefaultPolicy {
            allowed: None,
            max_tools: Self::DEFAULT_MAX_TOOLS,
            max_concurrency: Self::DEFAULT_MAX_CONCURRENCY,
        }
    }
}

impl DefaultPolicy {
    /// How many tools a plan may have unless told otherwise.
    pub const DEFAULT_MAX_TOOLS: usize = 100_000;

    /// How high a plan's `max_concurrency` may be unless told otherwise.
    pub const DEFAULT_MAX_CONCURRENCY: usize = 256;

    /// Allows only these tool types (fallbacks included).
    pub fn allow_tools<I, S>(mut self, tools: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed = Some(tools.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts plans of at most `n` tools (default [`DefaultPolicy::DEFAULT_MAX_TOOLS`]).
    pub fn with_max_tools(mut self, n: usize) -> Self {
        self.max_tools = n;
        self
    }

    /// Accepts a `max_concurrency` of at most `n` (default [`DefaultPolicy::DEFAULT_MAX_CONCURRENCY`]).
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    /// The same as [`DefaultPolicy::with_max_tools`].
    pub fn max_tools(self, n: usize) -> Self {
        self.with_max_tools(n)
    }

    /// The same as [`DefaultPolicy::with_max_concurrency`].
    pub fn max_concurrency(self, n: usize) -> Self {
        self.with_max_concurrency(n)
    }

    /// The most tools a plan may have.
    pub fn tool_limit(&self) -> usize {
        self.max_tools
    }

    /// The highest `max_concurrency` a plan may ask for.
    pub fn concurrency_limit(&self) -> usize {
        self.max_concurrency
    }
}

fn rejected(place: String, message: String) -> PlanError {
    PlanError::new(PlanErrorKind::Policy(message)).at(place)
}

impl Policy for DefaultPolicy {
    fn asset_id(&self) -> Option<String> {
        Some("policy:default:v1".to_owned())
    }

    fn validate(&self, plan: &AnalyzedPlan, registry: &ToolRegistry) -> Result<(), PlanError> {
        let p = plan.plan();
        if p.tools.len() > self.max_tools {
            return Err(rejected(
                "tools".into(),
                format!(
                    "the plan has {} tools; the policy allows {}",
                    p.tools.len(),
                    self.max_tools
                ),
            ));
        }
        if p.max_concurrency > self.max_concurrency {
            return Err(rejected(
                "max_concurrency".into(),
                format!(
                    "max_concurrency {} is above the policy's limit of {}",
                    p.max_concurrency, self.max_concurrency
                ),
            ));
        }
        for (i, t) in p.tools.iter().enumerate() {
            for (what, ty) in [("tool", Some(&t.tool)), ("fallback", t.fallback.as_ref())] {
                let Some(ty) = ty else { continue };
                let allowed = self
                    .allowed
                    .as_ref()
                    .map_or(registry.contains(ty), |a| a.contains(ty));
                if !allowed {
                    return Err(rejected(
                        format!("tools[{i}] {:?}, {what}", t.id),
                        format!("tool type {ty:?} is not allowed by the policy"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One block per tool plus a summary block referencing the orchestration trace.
///
/// At scale the blocks summarise: past [`DefaultComposer::DEFAULT_MAX_TOOL_BLOCKS`] tools
/// (configurable) the failed tools come first, then cancelled and skipped ones, then the
/// others, each in planned order, up to the
/// limit; the summary block counts the tools shown and the tools run
/// (`tool_blocks: {shown, total}`). Every tool's result stays in the run report
/// ([`RunResult::execution`](super::RunResult::execution)).
#[derive(Debug, Clone, Copy)]
pub struct DefaultComposer {
    max_tool_blocks: usize,
}

impl Default for DefaultComposer {
    fn default() -> Self {
        DefaultComposer {
            max_tool_blocks: Self::DEFAULT_MAX_TOOL_BLOCKS,
        }
    }
}

impl DefaultComposer {
    /// Tool blocks an answer holds by default: an answer read by a person, not a copy of
    /// every result of a 50,000-tool run.
    pub const DEFAULT_MAX_TOOL_BLOCKS: usize = 1_000;

    /// At most `n` tool blocks (failed tools first).
    pub fn with_max_tool_blocks(mut self, n: usize) -> Self {
        self.max_tool_blocks = n;
        self
    }
}

impl Composer for DefaultComposer {
    fn asset_id(&self) -> Option<String> {
        Some("mapping:default-blocks:v1".to_owned())
    }

    fn compose(
        &self,
        query: &str,
        report: &RunReport,
        orchestration: &OrchestrationTrace,
    ) -> Answer {
        let mut tools: Vec<_> = report.tools.iter().collect();
        tools.sort_by_key(|t| t.order);
        let ok = tools.iter().filter(|t| t.status == ToolStatus::Ok).count();
        let total = tools.len();
        let mut shown = tools.clone();
        if shown.len() > self.max_tool_blocks {
            // Stable: failed tools first, then cancelled and skipped ones, then the rest, each
            // part in planned order.
            shown.sort_by_key(|t| match t.status {
                ToolStatus::Error => 0,
                ToolStatus::Ok => 2,
                _ => 1,
            });
            shown.truncate(self.max_tool_blocks);
            shown.sort_by_key(|t| t.order);
        }
        let mut blocks: Vec<Value> = shown
            .iter()
            .map(|t| {
                let mut b = json!({
                    "type": "tool_result",
                    "tool_id": t.id,
                    "tool": t.tool,
                    "status": t.status,
                    "duration_ms": t.duration().as_secs_f64() * 1000.0,
                });
                if let Some(rows) = t.output.as_ref().and_then(|o| o.pointer("/data/rows")) {
                    b["rows"] = rows.clone();
                } else if let Some(o) = &t.output {
                    b["output"] = Value::clone(o);
                }
                if let Some(e) = &t.error {
                    b["error"] = json!(e.message);
                }
                if let Some(r) = &t.reason {
                    b["reason"] = json!(r);
                }
                b
            })
            .collect();
        let s = &report.summary;
        let answer = format!(
            "{query}: {ok} of {total} tools succeeded in {:.0} ms ({} strategy, {:.0} ms saved by running in parallel).",
            s.total_duration_ms,
            orchestration.strategy,
            s.time_saved_ms.max(0.0),
        );
        blocks.push(json!({
            "type": "summary",
            "text": answer,
            "tool_blocks": {"shown": blocks.len(), "total": total},
            "orchestration": {
                "strategy": orchestration.strategy,
                "groups": orchestration.groups.len(),
                "tools_executed": orchestration.tools_executed,
                "total_duration_ms": orchestration.total_duration_ms,
                "critical_path": s.critical_path,
            }
        }));
        Answer { answer, blocks }
    }
}

/// The screen around the blocks: title, answer, the number of blocks (the blocks themselves are
/// [`RunResult::blocks`](super::RunResult::blocks), kept once) and inspector links: the trace id
/// and, when configured, the trace's URL in Jaeger and Tempo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultPresenter {
    jaeger_url: Option<String>,
    tempo_url: Option<String>,
}

impl DefaultPresenter {
    /// Reads `ORCHESTRACE_JAEGER_URL` and `ORCHESTRACE_TEMPO_URL` (base URLs).
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        DefaultPresenter {
            jaeger_url: get("ORCHESTRACE_JAEGER_URL"),
            tempo_url: get("ORCHESTRACE_TEMPO_URL"),
        }
    }

    /// Links traces to this Jaeger UI (e.g. `http://localhost:16686`).
    pub fn with_jaeger(mut self, base: impl Into<String>) -> Self {
        self.jaeger_url = Some(base.into());
        self
    }

    /// Links traces to this Tempo API (e.g. `http://localhost:3200`).
    pub fn with_tempo(mut self, base: impl Into<String>) -> Self {
        self.tempo_url = Some(base.into());
        self
    }
}

impl Presenter for DefaultPresenter {
    fn asset_id(&self) -> Option<String> {
        Some("screen:default:v1".to_owned())
    }

    fn present(&self, query: &str, answer: &Answer, trace_id: Option<&str>) -> Value {
        let mut inspector = json!({ "trace_id": trace_id });
        if let Some(id) = trace_id {
            if let Some(base) = &self.jaeger_url {
                inspector["jaeger_url"] =
                    json!(format!("{}/trace/{id}", base.trim_end_matches('/')));
            }
            if let Some(base) = &self.tempo_url {
                inspector["tempo_url"] =
                    json!(format!("{}/api/traces/{id}", base.trim_end_matches('/')));
            }
        }
        // The blocks are the result's own (`RunResult::blocks`), not copied in here: at
        // 50,000 tools a second copy of every result is tens of megabytes.
        json!({
            "title": query,
            "answer": answer.answer,
            "block_count": answer.blocks.len(),
            "inspector": inspector,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide_plan(n: usize) -> AnalyzedPlan {
        let tools: Vec<Value> = (0..n)
            .map(|i| json!({"id": format!("t{i}"), "tool": "echo"}))
            .collect();
        let plan =
            Plan::from_json_str(&json!({"plan_id": "wide", "tools": tools}).to_string()).unwrap();
        crate::Orchestrator::default().analyze(plan).unwrap()
    }

    #[tokio::test]
    async fn past_the_block_limit_failed_tools_come_first_and_every_result_stays_in_the_report() {
        let plan = Plan::from_json_str(
            &json!({"plan_id": "mixed", "tools": [
                {"id": "a", "tool": "echo", "params": {"n": 1}},
                {"id": "b", "tool": "echo", "params": {"n": 2}},
                {"id": "c", "tool": "fail"},
                {"id": "d", "tool": "echo", "params": {"n": 4}},
                {"id": "e", "tool": "echo", "depends_on": ["c"]},
            ]})
            .to_string(),
        )
        .unwrap();
        let orch = crate::Orchestrator::default();
        let analyzed = orch.analyze(plan).unwrap();
        let report = orch.run(&analyzed).await;
        let trace = OrchestrationTrace::of(&report);
        let ids = |answer: &Answer| -> Vec<String> {
            answer
                .blocks
                .iter()
                .filter_map(|b| b["tool_id"].as_str().map(str::to_owned))
                .collect()
        };

        let all = DefaultComposer::default().compose("q", &report, &trace);
        assert_eq!(ids(&all), ["a", "b", "c", "d", "e"]);
        assert_eq!(
            all.blocks[5]["tool_blocks"],
            json!({"shown": 5, "total": 5})
        );

        let two = DefaultComposer::default()
            .with_max_tool_blocks(2)
            .compose("q", &report, &trace);
        assert_eq!(
            ids(&two),
            ["c", "e"],
            "the failed tool, then the skipped one"
        );
        assert_eq!(
            two.blocks[2]["tool_blocks"],
            json!({"shown": 2, "total": 5})
        );
        let three = DefaultComposer::default()
            .with_max_tool_blocks(3)
            .compose("q", &report, &trace);
        assert_eq!(
            ids(&three),
            ["a", "c", "e"],
            "then the first in planned order"
        );
        assert!(
            two.answer.contains("3 of 5 tools succeeded"),
            "{}",
            two.answer
        );
        assert_eq!(report.tools.len(), 5);
        assert!(report
            .tools
            .iter()
            .all(|t| t.status != ToolStatus::Ok || t.output.is_some()));
    }

    #[test]
    fn the_screen_counts_the_blocks_instead_of_copying_them() {
        let answer = Answer {
            answer: "done".to_owned(),
            blocks: vec![json!({"type": "summary"}), json!({"type": "summary"})],
        };
        let screen = DefaultPresenter::default()
            .with_jaeger("http://j:16686/")
            .present("q", &answer, Some("abc"));
        assert_eq!(
            screen,
            json!({"title": "q", "answer": "done", "block_count": 2,
                   "inspector": {"trace_id": "abc", "jaeger_url": "http://j:16686/trace/abc"}})
        );
    }

    #[test]
    fn fifty_thousand_tools_pass_the_default_policy_and_the_limit_is_configurable() {
        let plan = wide_plan(50_000);
        let registry = ToolRegistry::with_builtins();
        assert_eq!(DefaultPolicy::default().tool_limit(), 100_000);
        assert!(DefaultPolicy::default().validate(&plan, &registry).is_ok());
        let err = DefaultPolicy::default()
            .with_max_tools(49_999)
            .validate(&plan, &registry)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "tools: the plan has 50000 tools; the policy allows 49999"
        );
        assert!(DefaultPolicy::default()
            .with_max_tools(50_000)
            .validate(&plan, &registry)
            .is_ok());
    }
}
