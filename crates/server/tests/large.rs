//! Analyses cached in the background with their statistics rows: a large trace (a chain of
//! 2,500 tools) and its bounded, summarised page; a store from before those rows.

mod support;

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use support::{get, get_json, post, start};

const TOOLS: u64 = 2_500;
/// The slow tool (40 ms; every other tool takes 1 ms) and the failed one.
const SLOW: u64 = 100;
const FAILED: u64 = 1_234;

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// Root, `execute`, then tools t0 → t1 → … each depending on the one before.
fn chain() -> Vec<Span> {
    let tid = [7u8; 16].to_vec();
    let id = |i: u64| (i + 1).to_be_bytes().to_vec();
    let t0 = 1_704_067_200_000_000_000u64;
    let ms = 1_000_000u64;
    let mut tools = Vec::new();
    let mut at = t0;
    for i in 0..TOOLS {
        let len = if i == SLOW { 40 * ms } else { ms };
        let deps = if i == 0 {
            vec![]
        } else {
            vec![AnyValue {
                value: Some(s(&format!("t{}", i - 1))),
            }]
        };
        tools.push(Span {
            trace_id: tid.clone(),
            span_id: id(2 + i),
            parent_span_id: id(1),
            name: "execute_tool step".into(),
            start_time_unix_nano: at,
            end_time_unix_nano: at + len,
            attributes: vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("orchestration.tool_id", s(&format!("t{i}"))),
                kv("orchestration.stage", s("execute")),
                kv(
                    "orchestration.depends_on",
                    any_value::Value::ArrayValue(ArrayValue { values: deps }),
                ),
            ],
            status: (i == FAILED).then(|| Status {
                code: status::StatusCode::Error as i32,
                message: "boom".into(),
            }),
            ..Default::default()
        });
        at += len;
    }
    let mut spans = vec![
        Span {
            trace_id: tid.clone(),
            span_id: id(0),
            name: "invoke_workflow big".into(),
            start_time_unix_nano: t0,
            end_time_unix_nano: at,
            attributes: vec![
                kv("gen_ai.operation.name", s("invoke_workflow")),
                kv("gen_ai.workflow.name", s("big")),
            ],
            ..Default::default()
        },
        Span {
            trace_id: tid,
            span_id: id(1),
            parent_span_id: id(0),
            name: "execute".into(),
            start_time_unix_nano: t0,
            end_time_unix_nano: at,
            attributes: vec![kv("orchestration.stage", s("execute"))],
            ..Default::default()
        },
    ];
    spans.extend(tools);
    spans
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_trace_is_analysed_in_the_background_and_its_page_is_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let otlp = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());
    for part in chain().chunks(1000) {
        let body = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: part.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec();
        let (status, _, text) = post(
            otlp.clone(),
            vec![("content-type", "application/x-protobuf".into())],
            body,
        )
        .await;
        assert_eq!(status, 200, "{text}");
    }
    // The analyzer caches the analysis once the trace is quiet, without any request.
    let mut pending = -1;
    for _ in 0..600 {
        let h = get_json(format!("{ui}/healthz")).await;
        assert_eq!(h["spans"], TOOLS + 2);
        pending = h["pending_analyses"].as_i64().unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "the analysis was never cached");

    let id = "07".repeat(16);
    let (status, page) = get(format!("{ui}/traces/{id}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("id=\"summarised\""), "{page}");
    assert!(page.contains("2502 spans · 2500 tools"));
    assert!(
        page.len() < 64 * 1024,
        "the page is bounded: {} bytes",
        page.len()
    );
    // The whole chain is the critical path: its first and last ten, the rest counted.
    assert!(page.contains("t9 → … 2480 more … → t2490"), "{page}");
    // The slowest tool heads its table; the failed one is listed.
    let slowest = &page[page.find("id=\"slowest\"").unwrap()..];
    assert!(
        slowest.contains(&format!("<th>slack</th></tr><tr><td>t{SLOW}</td>")),
        "{slowest}"
    );
    let failed = &page[page.find("id=\"failed\"").unwrap()..];
    assert!(failed.contains(&format!("<tr><td>t{FAILED}</td>")));
    assert!(page.contains(&format!("href=\"/api/traces/{id}/analysis\"")));

    // Workflow statistics from the cached rows.
    let stats = get_json(format!("{ui}/api/workflows/big/stats")).await;
    assert_eq!(stats["runs"], 1);
    let tools = stats["tools"].as_array().unwrap();
    assert_eq!(tools.len() as u64, TOOLS);
    assert_eq!(tools[0]["id"], "t0");
    let slow = &tools[SLOW as usize];
    assert_eq!(
        (slow["id"].as_str(), slow["p50_ms"].as_f64()),
        (Some("t100"), Some(40.0))
    );
    assert_eq!(slow["critical_share"], 1.0);
    assert_eq!(tools[FAILED as usize]["error_rate"], 1.0);
    assert_eq!(tools[0]["error_rate"], 0.0);
    let run = &stats["per_run"][0];
    assert_eq!(run["makespan_ms"], (TOOLS - 1 + 40) as f64);
    assert_eq!(run["critical_path"].as_array().unwrap().len() as u64, TOOLS);
    server.shutdown().await;
}

async fn wait_analysed(ui: &str) {
    for _ in 0..200 {
        let h = get_json(format!("{ui}/healthz")).await;
        if h["pending_analyses"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the analyses were never cached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_the_statistics_rows_is_reanalysed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    for (i, b) in [60, 80].into_iter().enumerate() {
        support::export_run(
            &server,
            support::Transport::Grpc,
            "diamond",
            support::t0(i as u64),
            support::diamond(b, false),
            None,
        )
        .await;
    }
    wait_analysed(&ui).await;
    let before = get_json(format!("{ui}/api/workflows/diamond/stats")).await;
    server.shutdown().await;
    // What a store written before the statistics tables looks like: analyses cached, no rows.
    let db = rusqlite::Connection::open(dir.path().join("orchestrace.sqlite3")).unwrap();
    db.execute_batch("DROP TABLE run_stats; DROP TABLE tool_stats;")
        .unwrap();
    drop(db);

    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let h = get_json(format!("{ui}/healthz")).await;
    assert_eq!(h["traces"], 2);
    wait_analysed(&ui).await;
    let after = get_json(format!("{ui}/api/workflows/diamond/stats")).await;
    assert_eq!(after, before);
    assert_eq!(after["runs"], 2);
    let b = &after["tools"][1];
    assert_eq!(
        (b["id"].as_str(), b["p95_ms"].as_f64()),
        (Some("b"), Some(80.0))
    );
    server.shutdown().await;
}
