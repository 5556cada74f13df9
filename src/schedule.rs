//! The schedule: strategy, execution groups (levels) and the execution plan.
//!
//! [`analyze`] turns a [`Plan`] into an [`AnalyzedPlan`]: the checked dependency graph, the
//! strategy (`auto` resolved), the groups and each tool's planned order. The groups are what
//! the views and spans *report*; the executor never waits on them (see
//! [`execute`](crate::Orchestrator)). [`ExecutionPlan`] is the JSON object the `execute` span
//! carries (`orchestration.execution_plan`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::graph::{build_graph, DependencyGraph};
use crate::plan::{Plan, Strategy, StrategyChoice};
use crate::plan::{PlanError, PlanErrorKind};

/// Whether a group runs more than one tool at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// More than one tool.
    Parallel,
    /// One tool.
    Serial,
}

impl ExecutionMode {
    /// `parallel` or `serial`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionMode::Parallel => "parallel",
            ExecutionMode::Serial => "serial",
        }
    }
}

/// One execution group (a level, or one tool under the serial strategy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Position of the group.
    pub index: usize,
    /// Parallel with more than one tool.
    pub mode: ExecutionMode,
    /// Tool indices, in plan order.
    pub tools: Vec<usize>,
    /// Groups holding dependencies of this group's tools, ascending.
    pub depends_on_groups: Vec<usize>,
    /// The longest `expected_duration_ms` hint of its tools (0 where unknown).
    pub expected_duration_ms: u64,
}

/// A validated plan with its dependency graph and schedule.
#[derive(Debug, Clone)]
pub struct AnalyzedPlan {
    plan: Plan,
    graph: DependencyGraph,
    strategy: Strategy,
    groups: Vec<Group>,
    group_of: Vec<usize>,
    order_of: Vec<usize>,
    planned: Vec<usize>,
    dependents: Vec<Vec<usize>>,
}

/// Validates a plan and computes its schedule. `known_type` says whether a tool type is
/// registered (see [`ToolRegistry::contains`](crate::ToolRegistry::contains)).
pub fn analyze(plan: Plan, known_type: &dyn Fn(&str) -> bool) -> Result<AnalyzedPlan, PlanError> {
    let graph = build_graph(&plan, known_type)?;
    let strategy = match plan.execution_strategy {
        StrategyChoice::Parallel => {
            if let Some((i, t)) = graph
                .tools
                .iter()
                .enumerate()
                .find(|(_, t)| !t.all.is_empty())
            {
                return Err(PlanError::new(PlanErrorKind::ParallelWithDependencies {
                    tool: plan.tools[i].id.clone(),
                    dependency: plan.tools[t.all[0]].id.clone(),
                })
                .at("execution_strategy"));
            }
            Strategy::Parallel
        }
        StrategyChoice::Serial => Strategy::Serial,
        StrategyChoice::Dag => Strategy::Dag,
        StrategyChoice::Auto => {
            let depth = graph.levels.iter().max().map_or(0, |m| m + 1);
            if !graph.has_edges() {
                Strategy::Parallel
            } else if depth == plan.tools.len() {
                Strategy::Serial
            } else {
                Strategy::Dag
            }
        }
    };

    let n = plan.tools.len();
    let mut members: Vec<Vec<usize>> = Vec::new();
    if strategy == Strategy::Serial {
        members.extend(graph.topo_order.iter().map(|&i| vec![i]));
    } else {
        for (i, &l) in graph.levels.iter().enumerate() {
            if members.len() <= l {
                members.resize(l + 1, Vec::new());
            }
            members[l].push(i);
        }
    }
    let mut group_of = vec![0; n];
    for (g, tools) in members.iter().enumerate() {
        for &t in tools {
            group_of[t] = g;
        }
    }
    let groups: Vec<Group> = members
        .into_iter()
        .enumerate()
        .map(|(index, tools)| {
            let mut depends_on_groups: Vec<usize> = tools
                .iter()
                .flat_map(|&t| graph.tools[t].all.iter().map(|&d| group_of[d]))
                .collect();
            depends_on_groups.sort_unstable();
            depends_on_groups.dedup();
            Group {
                index,
                mode: if tools.len() > 1 {
                    ExecutionMode::Parallel
                } else {
                    ExecutionMode::Serial
                },
                expected_duration_ms: tools
                    .iter()
                    .map(|&t| plan.tools[t].expected_duration_ms.unwrap_or(0))
                    .max()
                    .unwrap_or(0),
                depends_on_groups,
                tools,
            }
        })
        .collect();
    let planned: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.tools.iter().copied())
        .collect();
    let mut order_of = vec![0; n];
    for (k, &t) in planned.iter().enumerate() {
        order_of[t] = k;
    }
    let mut dependents = vec![Vec::new(); n];
    for (i, t) in graph.tools.iter().enumerate() {
        for &d in &t.all {
            dependents[d].push(i);
        }
    }
    Ok(AnalyzedPlan {
        plan,
        graph,
        strategy,
        groups,
        group_of,
        order_of,
        planned,
        dependents,
    })
}

impl AnalyzedPlan {
    /// The plan as given.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The plan as given, handed back (the analysis is dropped).
    pub fn into_plan(self) -> Plan {
        self.plan
    }

    /// The dependency graph.
    pub fn graph(&self) -> &DependencyGraph {
        &self.graph
    }

    /// The strategy, `auto` resolved.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The execution groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Group index of a tool (by plan index).
    pub fn group_of(&self, tool: usize) -> usize {
        self.group_of[tool]
    }

    /// Planned order index of a tool (by plan index).
    pub fn order_of(&self, tool: usize) -> usize {
        self.order_of[tool]
    }

    /// Tool indices in planned order: group by group, plan order within.
    pub fn planned_order(&self) -> &[usize] {
        &self.planned
    }

    /// All dependencies of a tool (by plan index), explicit ones first.
    pub fn dependencies(&self, tool: usize) -> &[usize] {
        &self.graph.tools[tool].all
    }

    /// The tools that depend on a tool (by plan index), in plan order.
    pub fn dependents(&self, tool: usize) -> &[usize] {
        &self.dependents[tool]
    }

    /// The ids of a tool's dependencies.
    pub fn dependency_ids(&self, tool: usize) -> Vec<String> {
        self.ids(self.dependencies(tool))
    }

    /// The ids of the other tools in a tool's group.
    pub fn parallel_with(&self, tool: usize) -> Vec<String> {
        self.groups[self.group_of[tool]]
            .tools
            .iter()
            .filter(|&&t| t != tool)
            .map(|&t| self.plan.tools[t].id.clone())
            .collect()
    }

    fn ids(&self, idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| self.plan.tools[i].id.clone()).collect()
    }

    /// The execution plan: strategy, groups and expected durations.
    pub fn execution_plan(&self) -> ExecutionPlan {
        let execution_groups: Vec<ExecutionGroup> = self
            .groups
            .iter()
            .map(|g| ExecutionGroup {
                group_index: g.index,
                execution_mode: g.mode,
                tools: self.ids(&g.tools),
                depends_on_groups: g.depends_on_groups.clone(),
                expected_duration_ms: g.expected_duration_ms,
                tools_info: g
                    .tools
                    .iter()
                    .map(|&t| ToolInfo {
                        tool_id: self.plan.tools[t].id.clone(),
                        tool_type: self.plan.tools[t].tool.clone(),
                        depends_on: self.dependency_ids(t),
                        output_mapping: self.plan.tools[t].output_mapping.clone(),
                    })
                    .collect(),
            })
            .collect();
        ExecutionPlan {
            execution_strategy: self.strategy,
            total_expected_duration_ms: execution_groups
                .iter()
                .map(|g| g.expected_duration_ms)
                .sum(),
            is_optimized: execution_groups
                .iter()
                .any(|g| g.execution_mode == ExecutionMode::Parallel),
            execution_groups,
        }
    }
}

/// The execution plan: strategy and groups, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionPlan {
    /// `parallel`, `serial` or `dag`.
    pub execution_strategy: Strategy,
    /// The groups in order.
    pub execution_groups: Vec<ExecutionGroup>,
    /// Sum of the groups' expected durations: the estimate under level-by-level execution.
    pub total_expected_duration_ms: u64,
    /// Whether any group runs tools in parallel.
    pub is_optimized: bool,
}

/// One group of the execution plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionGroup {
    /// Position of the group.
    pub group_index: usize,
    /// `parallel` with more than one tool, else `serial`.
    pub execution_mode: ExecutionMode,
    /// Tool ids, plan order.
    pub tools: Vec<String>,
    /// Groups this one depends on.
    pub depends_on_groups: Vec<usize>,
    /// Longest hint of its tools.
    pub expected_duration_ms: u64,
    /// Per tool: type, dependencies and mapping.
    pub tools_info: Vec<ToolInfo>,
}

/// One tool in an execution group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// The plan's tool id.
    pub tool_id: String,
    /// The tool type.
    pub tool_type: String,
    /// All dependencies, explicit and implicit.
    pub depends_on: Vec<String>,
    /// The mapping as written.
    pub output_mapping: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ToolSpec;
    use serde_json::json;

    fn run(plan: Plan) -> AnalyzedPlan {
        analyze(plan, &|_| true).unwrap()
    }

    fn tools(ids: &[&str]) -> Plan {
        ids.iter().fold(Plan::new("p"), |p, id| {
            p.with_tool(ToolSpec::new(*id, "echo"))
        })
    }

    fn group_ids(a: &AnalyzedPlan) -> Vec<Vec<String>> {
        a.groups().iter().map(|g| a.ids(&g.tools)).collect()
    }

    #[test]
    fn auto_picks_parallel_serial_or_dag() {
        assert_eq!(run(tools(&["a", "b", "c"])).strategy(), Strategy::Parallel);
        let chain = Plan::new("p")
            .with_tool(ToolSpec::new("c", "echo").depends_on("b"))
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("b", "echo").map("x", "{a}"));
        let chain = run(chain);
        assert_eq!(chain.strategy(), Strategy::Serial);
        assert_eq!(group_ids(&chain), vec![vec!["a"], vec!["b"], vec!["c"]]);
        let diamond = Plan::new("p")
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("b", "echo").depends_on("a"))
            .with_tool(ToolSpec::new("c", "echo").depends_on("a"))
            .with_tool(ToolSpec::new("d", "echo").depends_on("b").depends_on("c"));
        let diamond = run(diamond);
        assert_eq!(diamond.strategy(), Strategy::Dag);
        assert_eq!(
            group_ids(&diamond),
            vec![vec!["a"], vec!["b", "c"], vec!["d"]]
        );
        // Mixed: one chain plus an independent tool.
        let mixed = Plan::new("p")
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("b", "echo").depends_on("a"))
            .with_tool(ToolSpec::new("x", "echo"));
        assert_eq!(run(mixed).strategy(), Strategy::Dag);
    }

    #[test]
    fn explicit_serial_is_topological_with_plan_order_ties() {
        let plan = Plan::new("p")
            .with_strategy(StrategyChoice::Serial)
            .with_tool(ToolSpec::new("b", "echo").depends_on("c"))
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("c", "echo"));
        let a = run(plan);
        assert_eq!(group_ids(&a), vec![vec!["a"], vec!["c"], vec!["b"]]);
        assert_eq!(a.groups()[2].depends_on_groups, vec![1]);
        assert_eq!((a.order_of(0), a.order_of(1), a.order_of(2)), (2, 0, 1));
    }

    #[test]
    fn explicit_parallel_with_dependencies_is_rejected() {
        let plan = Plan::new("p")
            .with_strategy(StrategyChoice::Parallel)
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("b", "echo").map("x", "{a}"));
        let e = analyze(plan, &|_| true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "execution_strategy: execution_strategy \"parallel\" forbids dependencies, but \"b\" depends on \"a\" (use \"auto\" or \"dag\")"
        );
    }

    #[test]
    fn execution_plan_matches_the_seed_shape() {
        let plan = Plan::new("ci")
            .with_tool(ToolSpec::new("primary", "ci_lookup").with_expected_duration_ms(800))
            .with_tool(ToolSpec::new("secondary", "ci_lookup").with_expected_duration_ms(900))
            .with_tool(
                ToolSpec::new("aggregate", "ci_aggregate")
                    .depends_on("primary")
                    .depends_on("secondary")
                    .map("primary_count", "{primary.data.rows[0].count}")
                    .with_expected_duration_ms(500),
            );
        let a = run(plan);
        assert_eq!(a.parallel_with(0), vec!["secondary"]);
        let ep = serde_json::to_value(a.execution_plan()).unwrap();
        assert_eq!(
            ep,
            json!({
                "execution_strategy": "dag",
                "execution_groups": [
                    {"group_index": 0, "execution_mode": "parallel",
                     "tools": ["primary", "secondary"], "depends_on_groups": [],
                     "expected_duration_ms": 900,
                     "tools_info": [
                        {"tool_id": "primary", "tool_type": "ci_lookup", "depends_on": [], "output_mapping": {}},
                        {"tool_id": "secondary", "tool_type": "ci_lookup", "depends_on": [], "output_mapping": {}}]},
                    {"group_index": 1, "execution_mode": "serial", "tools": ["aggregate"],
                     "depends_on_groups": [0], "expected_duration_ms": 500,
                     "tools_info": [{"tool_id": "aggregate", "tool_type": "ci_aggregate",
                        "depends_on": ["primary", "secondary"],
                        "output_mapping": {"primary_count": "{primary.data.rows[0].count}"}}]}
                ],
                "total_expected_duration_ms": 1400,
                "is_optimized": true
            })
        );
    }
}
