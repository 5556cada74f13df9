//! The five-stage pipeline through a real OTLP receiver: stage spans under the root with their
//! assets, validation stopping the run, the orchestration trace matching the execute span, and
//! custom stages plugged in.

mod support;

use std::time::Duration;

use orchestrace::pipeline::{
    Answer, Composer, DefaultPolicy, OrchestrationTrace, Planner, RunError, RunResult, StageError,
    StaticPlanner,
};
use orchestrace::plan::ToolSpec;
use orchestrace::semconv as attr;
use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder};
use orchestrace::{Plan, RunReport, Runner};
use serde_json::json;
use support::{Attr, Receiver, RecvSpan};
use tracing_subscriber::prelude::*;

fn ci_ops() -> Plan {
    Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))
    .unwrap()
}

async fn traced(rx: &Receiver, runner: &Runner, query: &str) -> Result<RunResult, RunError> {
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(rx.grpc_url())
        .with_protocol(OtlpProtocol::Grpc)
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let guard = telemetry.guard();
    let result = {
        let _d = tracing::subscriber::set_default(subscriber);
        runner.run(query).await
    };
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.dropped, 0);
    result
}

fn named<'a>(spans: &'a [RecvSpan], name: &str) -> &'a RecvSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[tokio::test]
async fn five_stages_in_order_under_the_root() {
    let rx = Receiver::start().await;
    let runner = Runner::builder(StaticPlanner::new(ci_ops()))
        .with_workflow("ops-assistant")
        .build();
    let result = traced(&rx, &runner, "servers and network devices by type")
        .await
        .unwrap();
    let spans = rx.wait_for(11, Duration::from_secs(30)).await;
    assert_eq!(
        spans.len(),
        11,
        "root, 5 stages, 2 levels, 3 tools, and nothing else: {:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let root = named(&spans, "invoke_workflow ops-assistant");
    assert!(root.parent_span_id.is_empty());
    assert_eq!(
        root.attr(attr::GEN_AI_OPERATION_NAME),
        &Attr::S("invoke_workflow".into())
    );
    assert_eq!(
        root.attr(attr::GEN_AI_WORKFLOW_NAME),
        &Attr::S("ops-assistant".into())
    );
    assert_eq!(result.trace_id.as_deref(), Some(root.trace_id.as_str()));

    let mut stages: Vec<&RecvSpan> = spans
        .iter()
        .filter(|s| s.parent_span_id == root.span_id)
        .collect();
    stages.sort_by_key(|s| s.start_ns);
    let names: Vec<&str> = stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["route_plan", "validate", "execute", "compose", "present"]
    );
    for w in stages.windows(2) {
        assert!(
            w[0].end_ns <= w[1].start_ns,
            "{} overlaps {}",
            w[0].name,
            w[1].name
        );
    }
    let assets: Vec<&str> = stages
        .iter()
        .map(|s| s.attr(attr::ASSET_ID).str())
        .collect();
    assert_eq!(
        assets,
        [
            "plan:ci-ops-42:static",
            "policy:default:v1",
            "source:builtin-tools:v1",
            "mapping:default-blocks:v1",
            "screen:default:v1"
        ]
    );
    for s in &stages {
        assert_eq!(s.attr(attr::STAGE), &Attr::S(s.name.clone()));
    }
    assert_eq!(
        stages[0].attr(attr::EXECUTION_STRATEGY),
        &Attr::S("dag".into())
    );
    assert_eq!(result.plan_trace.stages.len(), 5);
    assert_eq!(
        result.plan_trace.stages[2].asset_id.as_deref(),
        Some("source:builtin-tools:v1")
    );

    // plan_trace.orchestration is what the execute span carries.
    let execute = stages[2];
    let ep: serde_json::Value =
        serde_json::from_str(execute.attr(attr::EXECUTION_PLAN).str()).unwrap();
    let o = &result.plan_trace.orchestration;
    assert_eq!(o.strategy, ep["execution_strategy"].as_str().unwrap());
    assert_eq!(
        serde_json::to_value(&o.groups).unwrap(),
        ep["execution_groups"]
    );
    assert_eq!(
        execute.attr(attr::TOTAL_DURATION_MS),
        &Attr::F(o.total_duration_ms)
    );
    assert_eq!(o.tools_executed, ["primary", "secondary", "aggregate"]);

    // The result's shape.
    let v = serde_json::to_value(&result).unwrap();
    for key in ["plan_trace", "answer", "blocks", "screen", "trace_id"] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert_eq!(result.blocks.len(), 4);
    assert_eq!(result.blocks[3]["type"], "summary");
    assert_eq!(result.screen["inspector"]["trace_id"], json!(root.trace_id));
}

#[tokio::test]
async fn a_rejected_plan_stops_before_anything_runs() {
    let rx = Receiver::start().await;
    let runner = Runner::builder(StaticPlanner::new(ci_ops()))
        .with_policy(DefaultPolicy::default().allow_tools(["ci_lookup"]))
        .build();
    let err = traced(&rx, &runner, "q").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "tools[2] \"aggregate\", tool: tool type \"ci_aggregate\" is not allowed by the policy"
    );
    let spans = rx.wait_for(3, Duration::from_secs(30)).await;
    // Give stragglers a moment: nothing else may arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let spans_after = rx.spans();
    assert_eq!(spans.len(), spans_after.len());
    let names: Vec<&str> = spans_after.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("execute")), "{names:?}");
    let validate = named(&spans_after, "validate");
    assert_eq!(validate.status_code, 2);
    assert!(validate
        .status_message
        .contains("not allowed by the policy"));
    let root = spans_after
        .iter()
        .find(|s| s.name.starts_with("invoke_workflow"))
        .unwrap();
    assert_eq!(root.status_code, 2);
}

#[test]
fn the_policy_checks_size_and_concurrency() {
    let orch = orchestrace::Orchestrator::default();
    let plan = orch.analyze(ci_ops()).unwrap();
    let reg = orch.registry();
    use orchestrace::pipeline::Policy;
    assert!(DefaultPolicy::default().validate(&plan, reg).is_ok());
    assert_eq!(
        DefaultPolicy::default()
            .max_tools(2)
            .validate(&plan, reg)
            .unwrap_err()
            .to_string(),
        "tools: the plan has 3 tools; the policy allows 2"
    );
    assert_eq!(
        DefaultPolicy::default()
            .max_concurrency(4)
            .validate(&plan, reg)
            .unwrap_err()
            .to_string(),
        "max_concurrency: max_concurrency 16 is above the policy's limit of 4"
    );
}

struct EchoPlanner;

#[orchestrace::async_trait]
impl Planner for EchoPlanner {
    fn asset_id(&self) -> Option<String> {
        Some("prompt:echo-planner:v3".into())
    }

    async fn plan(&self, query: &str) -> Result<Plan, StageError> {
        if query.is_empty() {
            return Err(StageError::route_plan("empty query"));
        }
        Ok(Plan::new("echo")
            .with_tool(ToolSpec::new("say", "echo").with_params(json!({"text": query}))))
    }
}

struct Shout;

impl Composer for Shout {
    fn compose(&self, _q: &str, report: &RunReport, o: &OrchestrationTrace) -> Answer {
        let text = report.tools[0].output.as_ref().unwrap()["text"]
            .as_str()
            .unwrap()
            .to_uppercase();
        Answer {
            answer: text,
            blocks: vec![json!({"type": "shout", "tools": o.tools_executed})],
        }
    }
}

#[tokio::test]
async fn custom_planner_and_composer() {
    let rx = Receiver::start().await;
    let runner = Runner::builder(EchoPlanner).with_composer(Shout).build();
    let result = traced(&rx, &runner, "hello").await.unwrap();
    assert_eq!(result.answer, "HELLO");
    assert_eq!(
        result.blocks,
        vec![json!({"type": "shout", "tools": ["say"]})]
    );
    let spans = rx.wait_for(8, Duration::from_secs(30)).await;
    assert_eq!(spans.len(), 8, "root, 5 stages, 1 level, 1 tool");
    assert_eq!(
        named(&spans, "route_plan").attr(attr::ASSET_ID),
        &Attr::S("prompt:echo-planner:v3".into())
    );
    assert!(!named(&spans, "compose")
        .attributes
        .contains_key(attr::ASSET_ID));

    let err = runner.run("").await.unwrap_err();
    assert_eq!(err.to_string(), "route_plan: empty query");
}
