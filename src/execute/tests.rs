//! Hostile plans: amplification through the data flow, nesting built at run time, a plan
//! analyzed against another registry. Each ends with a failed tool and a finished run.

use serde_json::{json, Value};

use super::*;
use crate::run::ToolStatus;

fn plan(v: Value) -> Plan {
    Plan::from_json_str(&v.to_string()).unwrap()
}

fn registry() -> ToolRegistry {
    let mut r = ToolRegistry::new();
    r.register_fn("echo", |input, _| async move { Ok(input) });
    r.register_fn("one", |_, _| async move { Ok(json!(1)) });
    r
}

async fn run(orch: &Orchestrator, plan: Plan) -> RunReport {
    let analyzed = orch.analyze(plan).unwrap();
    orch.run(&analyzed).await
}

fn errors(report: &RunReport, kind: &str) -> usize {
    report
        .tools
        .iter()
        .filter(|t| t.error.as_ref().is_some_and(|e| e.kind == kind))
        .count()
}

#[tokio::test(start_paused = true)]
async fn a_large_output_read_by_many_stops_at_the_budget() {
    let blob = "x".repeat(1 << 20);
    let mut tools = vec![json!({"id": "src", "tool": "echo", "params": {"blob": blob}})];
    for k in 0..50 {
        tools.push(json!({"id": format!("d{k}"), "tool": "one",
                          "output_mapping": {"v": "{src}"}}));
    }
    let p = plan(json!({"plan_id": "fan", "max_concurrency": 1, "tools": tools}));
    let size = json_size(&json!({"blob": "x".repeat(1 << 20)}));
    let orch = OrchestratorBuilder::bare()
        .with_registry(registry())
        .with_memory_budget(10 * size)
        .build();
    let report = run(&orch, p).await;
    // src takes `size`; each reader takes twice `size` for its input (held in the input and
    // in the data-flow record) and 1 byte for its output: 4 fit in the other 9 × `size`.
    assert_eq!(report.tool("src").unwrap().status, ToolStatus::Ok);
    let ok = report
        .tools
        .iter()
        .filter(|t| t.status == ToolStatus::Ok)
        .count();
    assert_eq!(ok, 1 + 4);
    assert_eq!(errors(&report, "resource_exhausted"), 46);
    let e = report.tool("d4").unwrap().error.as_ref().unwrap();
    assert!(
        e.message
            .starts_with("the run's memory budget for tool outputs and inputs (11 MiB) is spent"),
        "{}",
        e.message
    );
    // The output is shared between the report and the readers' data flow, not copied.
    let src = report.tool("src").unwrap().output.clone().unwrap();
    let read = report.tool("d0").unwrap().data_flow[0]
        .value
        .clone()
        .unwrap();
    assert_eq!(*src, *read);
}

#[tokio::test(start_paused = true)]
async fn doubling_through_the_data_flow_stops_before_building_it() {
    let mut tools = vec![json!({"id": "t0", "tool": "echo", "params": {"v": "x".repeat(1024)}})];
    for k in 1..40 {
        let prev = format!("{{t{}.v}}", k - 1);
        tools.push(json!({"id": format!("t{k}"), "tool": "echo",
                          "output_mapping": {"v": [prev.clone(), prev]}}));
    }
    let p = plan(json!({"plan_id": "double", "memory_budget_mb": 64, "tools": tools}));
    let orch = OrchestratorBuilder::bare()
        .with_registry(registry())
        .build();
    let report = run(&orch, p).await;
    let failed: Vec<&str> = report
        .tools
        .iter()
        .filter(|t| t.status == ToolStatus::Error)
        .map(|t| t.id.as_str())
        .collect();
    // t_k's input and output are each 2^k KiB: after t13 the run holds 32 MiB, t14's input
    // takes 16 MiB more and its output would pass 64 MiB.
    assert_eq!(failed, ["t14"]);
    assert_eq!(errors(&report, "resource_exhausted"), 1);
    assert!(report.tools[15..]
        .iter()
        .all(|t| t.status == ToolStatus::Skipped));
}

#[tokio::test(start_paused = true)]
async fn nesting_built_at_run_time_is_refused_at_the_documented_depth() {
    // Each tool wraps the previous output 100 levels deeper: the plan itself parses (JSON
    // nesting ≤ 128), the values it builds would not.
    let mut tools = vec![json!({"id": "t0", "tool": "echo", "params": {"v": 1}})];
    for k in 1..40 {
        let mut m = json!(format!("{{t{}}}", k - 1));
        for _ in 0..100 {
            m = json!({ "a": m });
        }
        tools.push(json!({"id": format!("t{k}"), "tool": "echo", "output_mapping": {"v": m}}));
    }
    let p = plan(json!({"plan_id": "deep", "tools": tools}));
    let orch = OrchestratorBuilder::bare()
        .with_registry(registry())
        .build();
    let report = run(&orch, p).await;
    let t3 = report.tool("t3").unwrap();
    assert_eq!(t3.status, ToolStatus::Error);
    let e = t3.error.as_ref().unwrap();
    assert_eq!(e.kind, "data_flow");
    assert_eq!(
        e.message,
        "the value mapped to \"v\" nests deeper than 256 levels"
    );
    assert_eq!(report.tool("t2").unwrap().status, ToolStatus::Ok);
}

#[tokio::test(start_paused = true)]
async fn a_plan_analyzed_against_another_registry_fails_its_tool_not_the_process() {
    let mut other = registry();
    other.register_fn("special", |_, _| async move { Ok(json!("s")) });
    let analyzed = OrchestratorBuilder::bare()
        .with_registry(other)
        .build()
        .analyze(plan(json!({"tools": [{"id": "a", "tool": "special"},
                                       {"id": "b", "tool": "echo"}]})))
        .unwrap();
    let orch = OrchestratorBuilder::bare()
        .with_registry(registry())
        .build();
    let report = orch.run(&analyzed).await;
    let a = report.tool("a").unwrap();
    assert_eq!(a.error.as_ref().unwrap().kind, "unknown_tool");
    assert_eq!(report.tool("b").unwrap().status, ToolStatus::Ok);
}

/// A chain of large outputs, each read by the next tool only: kept in the report, they spend
/// the budget; without values in the report each is dropped (and its size given back) once its
/// reader has started, so the whole chain fits and every value still reaches its reader.
#[tokio::test(start_paused = true)]
async fn without_values_in_the_report_a_value_lives_until_its_last_reader_started() {
    let blob = "x".repeat(1 << 16);
    let mut tools = vec![json!({"id": "t0", "tool": "echo", "params": {"blob": blob}})];
    for k in 1..20 {
        tools.push(json!({"id": format!("t{k}"), "tool": "echo",
                          "output_mapping": {"blob": format!("{{t{}.blob}}", k - 1)}}));
    }
    let p = || plan(json!({"plan_id": "chain", "tools": tools.clone()}));
    let size = json_size(&json!({"blob": blob}));
    let budget = |keep: bool| {
        OrchestratorBuilder::bare()
            .with_registry(registry())
            .with_memory_budget(8 * size)
            .with_values_in_report(keep)
    };

    let kept = run(&budget(true).build(), p()).await;
    assert!(errors(&kept, "resource_exhausted") > 0);
    assert!(kept.tool("t0").unwrap().output.is_some());

    let ended = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = ended.clone();
    let orch = budget(false)
        .with_observer(move |_| Box::new(Outputs(seen.clone())))
        .build();
    let lean = run(&orch, p()).await;
    assert!(
        lean.succeeded(),
        "{:?}",
        lean.tools.iter().map(|t| &t.error).collect::<Vec<_>>()
    );
    for t in &lean.tools {
        assert!(t.input.is_none() && t.output.is_none() && t.data_flow.is_empty());
    }
    // The observers saw every output, the last one the first one's blob.
    let ended = ended.lock().unwrap();
    assert_eq!(ended.len(), 20);
    assert_eq!(ended[19], json!({"blob": blob}));
}

struct Outputs(std::sync::Arc<std::sync::Mutex<Vec<Value>>>);

impl Observer for Outputs {
    fn tool_ended(&mut self, rec: &ToolRun) {
        let out = rec.output.as_deref().cloned().unwrap_or(Value::Null);
        self.0.lock().unwrap().push(out);
    }
}
