//! Dependency analysis: the plan as a graph.
//!
//! Dependencies are `depends_on` ∪ the tools that `output_mapping` templates read. This module
//! checks that they make a DAG (known ids, no self-dependency, no cycle — a cycle is reported
//! as the path that closes it), and offers the graph algorithms the rest of the crate shares:
//! a topological order with plan order breaking ties, levels, and the critical path weighted by
//! actual durations (used by the executor's summary and by the inspector alike).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};

use petgraph::graph::{DiGraph, NodeIndex};

use crate::dataflow::Mapping;
use crate::plan::{PlanError, PlanErrorKind};
use crate::plan::Plan;

/// The dependencies of one tool, as indices into the plan's tools.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolDependencies {
    /// Every dependency, explicit ones first then those only templates name, without repeats.
    pub all: Vec<usize>,
    /// The tools the data flow reads (templates in `output_mapping`).
    pub data_flow: Vec<usize>,
}

/// The checked dependency structure of a plan.
#[derive(Debug, Clone)]
pub struct DependencyGraph {
    /// Per tool, in plan order.
    pub tools: Vec<ToolDependencies>,
    /// Per tool, the parsed `output_mapping` entries in their written order.
    pub mappings: Vec<Vec<(String, Mapping)>>,
    /// A topological order; plan order breaks ties.
    pub topo_order: Vec<usize>,
    /// Per tool: 0 without dependencies, else 1 + the highest level of its dependencies.
    pub levels: Vec<usize>,
}

impl DependencyGraph {
    /// Whether any tool has a dependency.
    pub fn has_edges(&self) -> bool {
        self.tools.iter().any(|t| !t.all.is_empty())
    }
}

fn tool_place(plan: &Plan, i: usize) -> String {
    format!("tools[{i}] {:?}", plan.tools[i].id)
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks ids, tool types, dependencies and templates, and builds the dependency graph.
///
/// `known_type` says whether a tool type is registered.
pub fn build_graph(
    plan: &Plan,
    known_type: &dyn Fn(&str) -> bool,
) -> Result<DependencyGraph, PlanError> {
    if plan.max_concurrency == 0 {
        return Err(PlanError::new(PlanErrorKind::ZeroConcurrency).at("max_concurrency"));
    }
    if plan.tools.is_empty() {
        return Err(PlanError::new(PlanErrorKind::NoTools).at("tools"));
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(plan.tools.len());
    for (i, t) in plan.tools.iter().enumerate() {
        if !valid_id(&t.id) {
            return Err(
                PlanError::new(PlanErrorKind::InvalidId(t.id.clone())).at(format!("tools[{i}].id"))
            );
        }
        if index.insert(t.id.as_str(), i).is_some() {
            return Err(PlanError::new(PlanErrorKind::DuplicateId(t.id.clone()))
                .at(format!("tools[{i}].id")));
        }
    }
    for (i, t) in plan.tools.iter().enumerate() {
        if !known_type(&t.tool) {
            return Err(
                PlanError::new(PlanErrorKind::UnknownToolType(t.tool.clone()))
                    .at(format!("{}, tool", tool_place(plan, i))),
            );
        }
        if let Some(fb) = &t.fallback {
            if !known_type(fb) {
                return Err(PlanError::new(PlanErrorKind::UnknownToolType(fb.clone()))
                    .at(format!("{}, fallback", tool_place(plan, i))));
            }
        }
    }

    let mut tools = Vec::with_capacity(plan.tools.len());
    let mut mappings = Vec::with_capacity(plan.tools.len());
    for (i, t) in plan.tools.iter().enumerate() {
        let mut deps = ToolDependencies::default();
        let mut seen = HashSet::new();
        for (k, dep) in t.depends_on.iter().enumerate() {
            let place = || format!("{}, depends_on[{k}]", tool_place(plan, i));
            let Some(&d) = index.get(dep.as_str()) else {
                return Err(
                    PlanError::new(PlanErrorKind::UnknownDependency(dep.clone())).at(place()),
                );
            };
            if d == i {
                return Err(PlanError::new(PlanErrorKind::SelfDependency(t.id.clone())).at(place()));
            }
            if seen.insert(d) {
                deps.all.push(d);
            }
        }
        let mut parsed = Vec::with_capacity(t.output_mapping.len());
        let mut flow_seen = HashSet::new();
        for (key, value) in &t.output_mapping {
            let key_step = crate::dataflow::Step::Key(key.clone()).to_string();
            let place =
                |sub: &str| format!("{}, output_mapping{key_step}{sub}", tool_place(plan, i));
            let mapping = Mapping::parse(value).map_err(|e| {
                PlanError::new(PlanErrorKind::Template {
                    template: e.template,
                    column: e.error.column,
                    message: e.error.message,
                })
                .at(place(&e.path))
            })?;
            for r in mapping.references() {
                let Some(&d) = index.get(r.tool.as_str()) else {
                    return Err(
                        PlanError::new(PlanErrorKind::UnknownDependency(r.tool.clone()))
                            .at(place("")),
                    );
                };
                if d == i {
                    return Err(
                        PlanError::new(PlanErrorKind::SelfDependency(t.id.clone())).at(place(""))
                    );
                }
                if flow_seen.insert(d) {
                    deps.data_flow.push(d);
                }
                if seen.insert(d) {
                    deps.all.push(d);
                }
            }
            parsed.push((key.clone(), mapping));
        }
        tools.push(deps);
        mappings.push(parsed);
    }

    let topo_order = topological_order(&tools).map_err(|cycle| {
        let path = cycle.iter().map(|&i| plan.tools[i].id.clone()).collect();
        PlanError::new(PlanErrorKind::Cycle(path)).at(tool_place(plan, cycle[0]))
    })?;
    let levels = levels(&tools, &topo_order);
    Ok(DependencyGraph {
        tools,
        mappings,
        topo_order,
        levels,
    })
}

/// A topological order (dependencies first, lowest index first among the ready), or the
/// shortest cycle through the lowest-index tool of a cycle, in flow order, closed
/// (`[a, b, c, a]` where `a` feeds `b`).
fn topological_order(tools: &[ToolDependencies]) -> Result<Vec<usize>, Vec<usize>> {
    let n = tools.len();
    let mut graph = DiGraph::<usize, ()>::with_capacity(n, 0);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();
    for (i, t) in tools.iter().enumerate() {
        for &d in &t.all {
            graph.add_edge(nodes[d], nodes[i], ());
        }
    }
    let mut indegree: Vec<usize> = tools.iter().map(|t| t.all.len()).collect();
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for next in graph.neighbors(nodes[i]) {
            let j = graph[next];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Some tools are on (or behind) a cycle: find the strongly connected components with a
    // cycle, take the one holding the lowest index, and walk the shortest loop through it.
    let sccs = petgraph::algo::tarjan_scc(&graph);
    let start = sccs
        .iter()
        .filter(|c| c.len() > 1)
        .filter_map(|c| c.iter().map(|&x| graph[x]).min())
        .min()
        .expect("an incomplete topological order implies a cycle");
    let mut prev: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    'search: while let Some(cur) = queue.pop_front() {
        let mut next: Vec<usize> = graph.neighbors(nodes[cur]).map(|x| graph[x]).collect();
        next.sort_unstable();
        for j in next {
            if j == start {
                prev.insert(start, cur);
                break 'search;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(j) {
                e.insert(cur);
                queue.push_back(j);
            }
        }
    }
    let mut path = vec![start];
    let mut cur = prev[&start];
    while cur != start {
        path.push(cur);
        cur = prev[&cur];
    }
    path.push(start);
    path.reverse();
    Err(path)
}

fn levels(tools: &[ToolDependencies], topo_order: &[usize]) -> Vec<usize> {
    let mut level = vec![0; tools.len()];
    for &i in topo_order {
        level[i] = tools[i]
            .all
            .iter()
            .map(|&d| level[d] + 1)
            .max()
            .unwrap_or(0);
    }
    level
}

/// The longest path through the dependency graph, weighted by each node's duration.
///
/// `deps[i]` lists the nodes `i` depends on. Edges that would close a cycle are ignored (traces
/// read back from a backend are not guaranteed to be acyclic). Ties go to the lower index.
/// Returns the path from its first node to its last, and its total duration.
pub fn critical_path(durations: &[f64], deps: &[Vec<usize>]) -> (Vec<usize>, f64) {
    let n = durations.len();
    let mut dependents = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            if d < n && d != i {
                dependents[d].push(i);
                indegree[i] += 1;
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| indegree[i] == 0).map(Reverse).collect();
    let mut finish = vec![f64::NEG_INFINITY; n];
    let mut best_pred: Vec<Option<usize>> = vec![None; n];
    let mut done = vec![false; n];
    while let Some(Reverse(i)) = ready.pop() {
        done[i] = true;
        let mut start = 0.0;
        for &d in deps[i].iter().filter(|&&d| d < n && d != i && done[d]) {
            if finish[d] > start || (finish[d] == start && best_pred[i].is_some_and(|p| d < p)) {
                start = finish[d];
                best_pred[i] = Some(d);
            }
        }
        finish[i] = start + durations[i].max(0.0);
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    let Some(end) = (0..n)
        .filter(|&i| done[i])
        .fold(None, |best: Option<usize>, i| match best {
            Some(b) if finish[b] >= finish[i] => Some(b),
            _ => Some(i),
        })
    else {
        return (Vec::new(), 0.0);
    };
    let mut path = vec![end];
    while let Some(p) = best_pred[*path.last().expect("non-empty")] {
        path.push(p);
    }
    path.reverse();
    (path, finish[end])
}

/// What level-by-level execution with a barrier after each level would take: the sum over
/// levels of the longest duration in each.
pub fn level_barrier(durations: &[f64], levels: &[usize]) -> f64 {
    let mut longest: Vec<f64> = Vec::new();
    for (&d, &l) in durations.iter().zip(levels) {
        if longest.len() <= l {
            longest.resize(l + 1, 0.0);
        }
        longest[l] = longest[l].max(d);
    }
    longest.iter().sum()
}

/// Levels from dependency lists alone (0 without dependencies, else 1 + the highest level of
/// the dependencies); dependencies on a cycle count as level 0.
pub fn levels_of(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut level: Vec<Option<usize>> = vec![None; n];
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        level: &mut [Option<usize>],
        stack: &mut Vec<bool>,
    ) -> usize {
        if let Some(l) = level[i] {
            return l;
        }
        if stack[i] {
            return 0;
        }
        stack[i] = true;
        let l = deps[i]
            .iter()
            .filter(|&&d| d < deps.len() && d != i)
            .map(|&d| visit(d, deps, level, stack) + 1)
            .max()
            .unwrap_or(0);
        stack[i] = false;
        level[i] = Some(l);
        l
    }
    let mut stack = vec![false; n];
    (0..n)
        .map(|i| visit(i, deps, &mut level, &mut stack))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ToolSpec;

    fn graph(plan: &Plan) -> Result<DependencyGraph, PlanError> {
        build_graph(plan, &|t| t != "nope")
    }

    fn err(plan: &Plan) -> String {
        graph(plan).unwrap_err().to_string()
    }

    #[test]
    fn implicit_dependencies_come_from_templates() {
        let plan = Plan::new("p")
            .with_tool(ToolSpec::new("a", "echo"))
            .with_tool(ToolSpec::new("b", "echo"))
            .with_tool(
                ToolSpec::new("c", "echo")
                    .depends_on("b")
                    .map("x", "{a.v}")
                    .map("y", serde_json::json!({"z": ["{b}", "{a}"]})),
            );
        let g = graph(&plan).unwrap();
        assert_eq!(g.tools[2].all, vec![1, 0]);
        assert_eq!(g.tools[2].data_flow, vec![0, 1]);
        assert_eq!(g.levels, vec![0, 0, 1]);
    }

    #[test]
    fn validation_errors_are_located() {
        let base = || Plan::new("p").with_tool(ToolSpec::new("a", "echo"));
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("a", "echo"))),
            "tools[1].id: duplicate tool id \"a\""
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("9x", "echo"))),
            "tools[1].id: invalid tool id \"9x\": ids match [A-Za-z_][A-Za-z0-9_-]*"
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "nope"))),
            "tools[1] \"b\", tool: unknown tool type \"nope\""
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "echo").with_fallback("nope"))),
            "tools[1] \"b\", fallback: unknown tool type \"nope\""
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "echo").depends_on("a").depends_on("zz"))),
            "tools[1] \"b\", depends_on[1]: unknown tool \"zz\""
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "echo").depends_on("b"))),
            "tools[1] \"b\", depends_on[0]: tool \"b\" depends on itself"
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "echo").map("k", "{zz.x}"))),
            "tools[1] \"b\", output_mapping.k: unknown tool \"zz\""
        );
        assert_eq!(
            err(&base().with_tool(ToolSpec::new("b", "echo").map("k", "n-{a.x"))),
            "tools[1] \"b\", output_mapping.k: template \"n-{a.x\", column 3: unclosed '{'"
        );
        assert_eq!(err(&Plan::new("p")), "tools: the plan has no tools");
        assert_eq!(
            err(&base().with_max_concurrency(0)),
            "max_concurrency: max_concurrency must be at least 1"
        );
    }

    #[test]
    fn errors_stay_on_one_line() {
        let plan = Plan::new("p").with_tool(ToolSpec::new("a", "echo").map("x\ny", "{b}"));
        assert_eq!(
            err(&plan),
            "tools[0] \"a\", output_mapping[\"x\\ny\"]: unknown tool \"b\""
        );
        let e = crate::plan::Plan::from_json_str(
            "{\"tools\":[{\"id\":\"a\",\"tool\":\"t\",\"bo\\ngus\":1}]}",
        )
        .unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(e.to_string().contains("bo\\ngus"), "{e}");
    }

    #[test]
    fn cycles_are_reported_as_paths() {
        // a ← c, b ← a, c ← b: data flows a → b → c → a.
        let plan = Plan::new("p")
            .with_tool(ToolSpec::new("x", "echo"))
            .with_tool(ToolSpec::new("a", "echo").depends_on("c").depends_on("x"))
            .with_tool(ToolSpec::new("b", "echo").map("v", "{a}"))
            .with_tool(ToolSpec::new("c", "echo").depends_on("b"))
            .with_tool(ToolSpec::new("d", "echo").depends_on("c"));
        let e = graph(&plan).unwrap_err();
        assert_eq!(
            e.kind(),
            &PlanErrorKind::Cycle(vec!["a".into(), "b".into(), "c".into(), "a".into()])
        );
        assert_eq!(
            e.to_string(),
            "tools[1] \"a\": dependency cycle: a → b → c → a"
        );
        let two = Plan::new("p")
            .with_tool(ToolSpec::new("a", "echo").depends_on("b"))
            .with_tool(ToolSpec::new("b", "echo").depends_on("a"));
        assert_eq!(
            graph(&two).unwrap_err().kind(),
            &PlanErrorKind::Cycle(vec!["a".into(), "b".into(), "a".into()])
        );
    }

    #[test]
    fn critical_path_follows_dependencies_not_timing() {
        // a(10) → b(100); c(100) → d(10); dependency path a→b = 110, c→d = 110; tie → lower.
        let (path, len) = critical_path(
            &[10.0, 100.0, 100.0, 10.0],
            &[vec![], vec![0], vec![], vec![2]],
        );
        assert_eq!((path, len), (vec![0, 1], 110.0));
        // Diamond: a(5) → b(20), c(30) → d(5): a, c, d = 40.
        let (path, len) = critical_path(
            &[5.0, 20.0, 30.0, 5.0],
            &[vec![], vec![0], vec![0], vec![1, 2]],
        );
        assert_eq!((path, len), (vec![0, 2, 3], 40.0));
        assert_eq!(critical_path(&[], &[]), (vec![], 0.0));
    }

    #[test]
    fn level_barrier_sums_level_maxima() {
        // a(10) → b(100), c(100) → d(10): levels [0,1,0,1] → 100 + 100.
        assert_eq!(
            level_barrier(&[10.0, 100.0, 100.0, 10.0], &[0, 1, 0, 1]),
            200.0
        );
        assert_eq!(
            levels_of(&[vec![], vec![0], vec![], vec![2, 1]]),
            vec![0, 1, 0, 2]
        );
    }
}
