//! The plan: what to run.
//!
//! A [`Plan`] is plain data — tools, their explicit dependencies, data-flow mappings and
//! per-tool policies — loaded from JSON (see [`Plan::from_json_slice`]) or built in Rust.
//! Loading only checks the *shape* (types, unknown fields, JSON syntax); everything that
//! needs the whole plan (ids, templates, cycles, strategy) is checked by
//! [`analyze`](crate::analyze), so both paths report errors the same way.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod error;

pub use error::{PlanError, PlanErrorKind};

/// The largest plan file [`Plan::from_path`] reads (16 MiB).
pub const MAX_PLAN_BYTES: u64 = 16 * 1024 * 1024;

/// Default for [`Plan::max_concurrency`].
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;

/// A plan of tools: a DAG with data-flow mappings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Identifier of the plan, used as the workflow name in traces.
    #[serde(default = "default_plan_id")]
    pub plan_id: String,
    /// The user query the plan answers, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// How the tools are to be run; `auto` picks from the dependency graph.
    #[serde(default)]
    pub execution_strategy: StrategyChoice,
    /// How many tools may run at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// What a failing tool does to the rest of the run.
    #[serde(default)]
    pub on_failure: OnFailure,
    /// The run's memory budget for tool outputs and resolved inputs, in MiB (the
    /// orchestrator's default, 1 GiB, when absent). A tool that would exceed it fails with
    /// `resource_exhausted`; the rest of the run goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_mb: Option<usize>,
    /// The tools, in plan order (plan order breaks ties wherever an order is needed).
    pub tools: Vec<ToolSpec>,
}

fn default_plan_id() -> String {
    "plan".to_owned()
}

fn default_max_concurrency() -> usize {
    DEFAULT_MAX_CONCURRENCY
}

/// One tool invocation in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// Unique id within the plan, `[A-Za-z_][A-Za-z0-9_-]*`.
    pub id: String,
    /// Registered tool type, e.g. `ci_lookup`.
    pub tool: String,
    /// Versioned asset the tool uses, e.g. `ci_lookup:v1:published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
    /// Static input of the tool (a JSON object).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
    /// Explicit dependencies; tools named in `output_mapping` templates are added implicitly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Input keys computed from other tools' outputs through templates, laid over `params`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub output_mapping: Map<String, Value>,
    /// Time limit of one attempt, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Extra attempts after a failure, with exponential backoff.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// Another tool type tried once, with the same input, after the retries are spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Cache successful results for this long, keyed by tool type and resolved input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_ms: Option<u64>,
    /// Expected duration hint, used by the execution plan's estimates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_duration_ms: Option<u64>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ToolSpec {
    /// A tool with the given id and type and nothing else set.
    pub fn new(id: impl Into<String>, tool: impl Into<String>) -> Self {
        ToolSpec {
            id: id.into(),
            tool: tool.into(),
            asset_id: None,
            params: Map::new(),
            depends_on: Vec::new(),
            output_mapping: Map::new(),
            timeout_ms: None,
            retries: 0,
            fallback: None,
            cache_ttl_ms: None,
            expected_duration_ms: None,
        }
    }

    /// Sets the static params; `params` must be a JSON object (anything else is ignored).
    pub fn with_params(mut self, params: Value) -> Self {
        if let Value::Object(map) = params {
            self.params = map;
        }
        self
    }

    /// Adds an explicit dependency.
    pub fn depends_on(mut self, id: impl Into<String>) -> Self {
        self.depends_on.push(id.into());
        self
    }

    /// Adds a data-flow mapping `key` ← `template` (a string or any JSON value holding templates).
    pub fn map(mut self, key: impl Into<String>, template: impl Into<Value>) -> Self {
        self.output_mapping.insert(key.into(), template.into());
        self
    }

    /// Sets the per-attempt timeout.
    pub fn with_timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Sets the number of retries.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the fallback tool type.
    pub fn with_fallback(mut self, tool: impl Into<String>) -> Self {
        self.fallback = Some(tool.into());
        self
    }

    /// Enables the result cache with the given time to live.
    pub fn with_cache_ttl_ms(mut self, ms: u64) -> Self {
        self.cache_ttl_ms = Some(ms);
        self
    }

    /// Sets the expected duration hint.
    pub fn with_expected_duration_ms(mut self, ms: u64) -> Self {
        self.expected_duration_ms = Some(ms);
        self
    }

    /// Sets the asset id.
    pub fn with_asset_id(mut self, asset: impl Into<String>) -> Self {
        self.asset_id = Some(asset.into());
        self
    }
}

/// The strategy a plan asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyChoice {
    /// Chosen from the graph: no dependencies → parallel, one chain → serial, else dag.
    #[default]
    Auto,
    /// All tools at once; dependencies are not allowed.
    Parallel,
    /// One tool at a time, in topological order.
    Serial,
    /// Dataflow scheduling over the dependency graph.
    Dag,
}

/// The strategy a plan runs with, after `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Independent tools, all at once.
    Parallel,
    /// One tool at a time.
    Serial,
    /// Dataflow scheduling over a dependency graph.
    Dag,
}

impl Strategy {
    /// The lower-case name used in plans, spans and views.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Parallel => "parallel",
            Strategy::Serial => "serial",
            Strategy::Dag => "dag",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failed tool does to the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Dependents of a failed tool are skipped; everything else runs.
    #[default]
    Continue,
    /// The first failure cancels the rest of the run.
    FailFast,
}

impl Plan {
    /// An empty plan with the given id and defaults for everything else.
    pub fn new(plan_id: impl Into<String>) -> Self {
        Plan {
            plan_id: plan_id.into(),
            query: None,
            execution_strategy: StrategyChoice::Auto,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            on_failure: OnFailure::Continue,
            memory_budget_mb: None,
            tools: Vec::new(),
        }
    }

    /// Adds a tool.
    pub fn with_tool(mut self, tool: ToolSpec) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets the requested strategy.
    pub fn with_strategy(mut self, strategy: StrategyChoice) -> Self {
        self.execution_strategy = strategy;
        self
    }

    /// Sets the concurrency limit.
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n;
        self
    }

    /// Sets the failure policy.
    pub fn with_on_failure(mut self, policy: OnFailure) -> Self {
        self.on_failure = policy;
        self
    }

    /// Parses a plan from JSON bytes. Syntax and shape errors carry `line:column`.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Plan, PlanError> {
        let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
            return Err(PlanError::new(PlanErrorKind::Empty));
        };
        if bytes[first] != b'{' {
            let line = 1 + bytes[..first].iter().filter(|&&b| b == b'\n').count();
            let column = first
                - bytes[..first]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1)
                + 1;
            return Err(PlanError::new(PlanErrorKind::Json(
                "expected a JSON object (the plan) here".to_owned(),
            ))
            .at(format!("{line}:{column}")));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut plan = Plan::deserialize(&mut de)
            .and_then(|plan| de.end().map(|()| plan))
            .map_err(|e| {
                let place = format!("{}:{}", e.line(), e.column());
                PlanError::new(PlanErrorKind::Json(clean_serde_message(&e.to_string()))).at(place)
            })?;
        // The list grew by doubling while it was read: a quarter of a 50,000-tool plan's
        // memory would be spare room.
        plan.tools.shrink_to_fit();
        Ok(plan)
    }

    /// Parses a plan from a JSON string.
    pub fn from_json_str(text: &str) -> Result<Plan, PlanError> {
        Self::from_json_slice(text.as_bytes())
    }

    /// Reads and parses a plan file; errors name the file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Plan, PlanError> {
        let path = path.as_ref();
        let io = |e: std::io::Error| {
            PlanError::new(PlanErrorKind::Io(e.to_string())).in_file(path.display().to_string())
        };
        // The limit holds for what is actually read, not for the size a file reports: a
        // pipe, a device or a file that grows is cut off all the same.
        let file = std::fs::File::open(path).map_err(io)?;
        let reported = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_PLAN_BYTES + 1),
            &mut bytes,
        )
        .map_err(io)?;
        if bytes.len() as u64 > MAX_PLAN_BYTES {
            return Err(PlanError::new(PlanErrorKind::TooLarge {
                bytes: reported.max(bytes.len() as u64),
                limit: MAX_PLAN_BYTES,
            })
            .in_file(path.display().to_string()));
        }
        Self::from_json_slice(&bytes).map_err(|e| e.in_file(path.display().to_string()))
    }

    /// Index of the tool with this id, if any.
    pub fn tool_index(&self, id: &str) -> Option<usize> {
        self.tools.iter().position(|t| t.id == id)
    }
}

/// serde_json appends " at line L column C" to its messages; the place is reported separately.
fn clean_serde_message(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn reads_stop_at_the_limit_whatever_the_file_reports() {
        // /dev/zero reports size 0 and never ends.
        let e = Plan::from_path("/dev/zero").unwrap_err().to_string();
        assert_eq!(
            e,
            "/dev/zero: the plan is larger than the 16 MiB a plan may have (reading stopped there)"
        );
        let dir = std::env::temp_dir().join(format!("orchestrace-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; (MAX_PLAN_BYTES + 1024 * 1024) as usize]).unwrap();
        let e = Plan::from_path(&big).unwrap_err().to_string();
        assert!(
            e.ends_with("the plan is 17.0 MiB, more than the 16 MiB a plan may have"),
            "{e}"
        );
        let link = dir.join("link.json");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = Plan::from_path(&link).unwrap_err().to_string();
        assert!(e.ends_with("(reading stopped there)"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn loads_the_spec_example() {
        let plan = Plan::from_json_str(
            r#"{"plan_id":"p","tools":[{"id":"a","tool":"echo","params":{"x":1}},
               {"id":"b","tool":"echo","depends_on":["a"],"retries":2,"timeout_ms":5}]}"#,
        )
        .unwrap();
        assert_eq!(plan.tools.len(), 2);
        assert_eq!(plan.tools[1].retries, 2);
        assert_eq!(plan.max_concurrency, DEFAULT_MAX_CONCURRENCY);
        assert_eq!(plan.execution_strategy, StrategyChoice::Auto);
    }

    #[test]
    fn unknown_field_is_located() {
        let err = Plan::from_json_str(
            "{\"tools\":[{\"id\":\"a\",\"tool\":\"echo\",\n \"dependson\":[]}]}",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("2:"), "{text}");
        assert!(text.contains("unknown field `dependson`"), "{text}");
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(
            Plan::from_json_str("  \n").unwrap_err().to_string(),
            "the plan is empty"
        );
    }
}
