//! End to end as users run it: the `orchestrace` binary exports over OTLP/gRPC to a receiver
//! on loopback (in process: opentelemetry-proto's tonic server decoding the real bytes), and
//! the whole trace is read back: every span, its parent, its typed attributes. A second test
//! kills the receiver mid-run and starts it again on the same port.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{orchestrace, run_exported, trace_id, Attr, Receiver, RecvSpan};

fn named<'a>(spans: &'a [&RecvSpan], name: &str) -> &'a RecvSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

fn strings(items: &[&str]) -> Attr {
    Attr::A(items.iter().map(|s| Attr::S((*s).to_owned())).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_ops_reaches_the_receiver_and_reads_back() {
    let rx = Receiver::start().await;
    let url = rx.grpc_url();
    let id = run_exported("examples/plans/ci_ops.json", url, "grpc").await;
    let all = rx.wait_for(11, Duration::from_secs(30)).await;
    let spans: Vec<&RecvSpan> = all.iter().filter(|s| s.trace_id == id).collect();
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "compose",
            "execute",
            "execute_tool ci_aggregate",
            "execute_tool ci_lookup",
            "execute_tool ci_lookup",
            "invoke_workflow ci-ops-42",
            "level 0 (parallel)",
            "level 1 (serial)",
            "present",
            "route_plan",
            "validate"
        ]
    );
    assert!(spans
        .iter()
        .all(|s| s.resource.get("service.name") == Some(&Attr::S("orchestrace".into()))));

    let root = named(&spans, "invoke_workflow ci-ops-42");
    let execute = named(&spans, "execute");
    let level0 = named(&spans, "level 0 (parallel)");
    let level1 = named(&spans, "level 1 (serial)");
    let aggregate = named(&spans, "execute_tool ci_aggregate");
    assert_eq!(root.parent_span_id, "");
    for stage in ["route_plan", "validate", "execute", "compose", "present"] {
        assert_eq!(named(&spans, stage).parent_span_id, root.span_id, "{stage}");
    }
    assert_eq!(level0.parent_span_id, execute.span_id);
    assert_eq!(level1.parent_span_id, execute.span_id);
    assert_eq!(aggregate.parent_span_id, level1.span_id);
    let lookups: Vec<&&RecvSpan> = spans
        .iter()
        .filter(|s| s.name == "execute_tool ci_lookup")
        .collect();
    assert_eq!(lookups.len(), 2);
    assert!(lookups.iter().all(|s| s.parent_span_id == level0.span_id));

    // Attributes arrive typed.
    let a = &aggregate.attributes;
    assert_eq!(a["gen_ai.operation.name"], Attr::S("execute_tool".into()));
    assert_eq!(a["gen_ai.tool.name"], Attr::S("ci_aggregate".into()));
    assert_eq!(a["orchestration.tool_id"], Attr::S("aggregate".into()));
    assert_eq!(a["orchestration.execution_strategy"], Attr::S("dag".into()));
    assert_eq!(a["orchestration.execution_group"], Attr::I(1));
    assert_eq!(a["orchestration.execution_order_index"], Attr::I(2));
    assert_eq!(
        a["orchestration.depends_on"],
        strings(&["primary", "secondary"])
    );
    assert_eq!(a["orchestration.status"], Attr::S("ok".into()));
    let flow: Value = serde_json::from_str(a["orchestration.data_flow_inputs"].str()).unwrap();
    assert_eq!(flow["primary_count"]["value"], 42);
    assert_eq!(
        flow["secondary_count"]["expression"],
        "{secondary.data.rows[0].count}"
    );
    assert!(lookups
        .iter()
        .all(|s| s.attributes["orchestration.execution_group"] == Attr::I(0)));
    // Links point at the dependencies' spans in the same trace.
    let mut linked: Vec<&str> = aggregate.links.iter().map(|(id, _)| id.as_str()).collect();
    linked.sort_unstable();
    let mut lookup_ids: Vec<&str> = lookups.iter().map(|s| s.span_id.as_str()).collect();
    lookup_ids.sort_unstable();
    assert_eq!(linked, lookup_ids);
    assert_eq!(
        root.attributes["gen_ai.operation.name"],
        Attr::S("invoke_workflow".into())
    );
    // Every child lies within its parent's time.
    for s in &spans {
        if let Some(p) = spans.iter().find(|p| p.span_id == s.parent_span_id) {
            assert!(
                p.start_ns <= s.start_ns && s.end_ns <= p.end_ns,
                "{} outside {}",
                s.name,
                p.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_killed_and_restarted_mid_run() {
    let mut rx = Receiver::start().await;
    // A serial chain of 30 × 100 ms, exported in small batches as it goes.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("long.json");
    let tools: Vec<Value> = (0..30)
        .map(|i| {
            let mut t = json!({"id": format!("s{i:02}"), "tool": "sleep", "params": {"ms": 100}});
            if i > 0 {
                t["depends_on"] = json!([format!("s{:02}", i - 1)]);
            }
            t
        })
        .collect();
    std::fs::write(
        &plan,
        json!({"plan_id": "long", "tools": tools}).to_string(),
    )
    .unwrap();

    let endpoint = rx.grpc_url();
    let plan_path = plan.to_str().unwrap().to_owned();
    let run = tokio::task::spawn_blocking(move || {
        orchestrace(
            &["run", &plan_path, "--otlp", &endpoint],
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
            ],
        )
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    rx.kill();
    tokio::time::sleep(Duration::from_millis(800)).await;
    rx.restart();
    let out = run.await.unwrap();

    assert_eq!(
        out.status.code(),
        Some(0),
        "the outage never fails the run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = trace_id(&out);
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let all = rx.wait_for(1, Duration::from_secs(30)).await;
    let spans: Vec<&RecvSpan> = all.iter().filter(|s| s.trace_id == id).collect();
    let ids: Vec<&str> = spans
        .iter()
        .filter_map(|s| match s.attributes.get("orchestration.tool_id") {
            Some(Attr::S(id)) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    // Tools that ended well after the restart arrived: the last ones of the chain, and the
    // spans that end last of all.
    for late in ["s29", "s28", "s27"] {
        assert!(
            ids.contains(&late),
            "{late} missing after the restart: {ids:?}\n{report}"
        );
    }
    assert!(spans.iter().any(|s| s.name == "execute"));
    assert!(spans.iter().any(|s| s.name == "invoke_workflow long"));
    // Spans lost during the outage are counted once, naming the endpoint.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() <= 1, "one warning at most: {stderr}");
    if let Some(line) = lines.first() {
        assert!(line.starts_with("warning: "), "{line}");
        assert!(line.contains(&rx.grpc.to_string()), "{line}");
        assert!(line.contains(" spans were not exported to "), "{line}");
    }
}
