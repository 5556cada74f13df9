//! The CLI's export paths: `run --otlp` over both transports to a receiver on loopback, and
//! `--trace-out` writing OTLP JSON that round-trips through opentelemetry-proto.

mod support;

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::TracesData;
use support::{orchestrace, run_exported, trace_id, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exports_over_grpc_and_http() {
    let rx = Receiver::start().await;
    for (url, proto) in [(rx.grpc_url(), "grpc"), (rx.http_url(), "http")] {
        let before = rx.spans().len();
        let trace_id = run_exported("examples/plans/ci_ops.json", url, proto).await;
        let spans = rx.wait_for(before + 11, Duration::from_secs(30)).await;
        let ours: Vec<_> = spans.iter().filter(|s| s.trace_id == trace_id).collect();
        assert_eq!(
            ours.len(),
            11,
            "{proto}: the root, 5 stages, 2 levels, 3 tools"
        );
        assert!(ours.iter().any(|s| s.name == "execute_tool ci_aggregate"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_can_come_from_the_environment() {
    let rx = Receiver::start().await;
    let url = rx.http_url();
    let out = tokio::task::spawn_blocking(move || {
        support::cli::command()
            .args(["run", "examples/plans/parallel.json"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", url)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_SERVICE_NAME", "ops-assistant")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let spans = rx.wait_for(11, Duration::from_secs(30)).await;
    assert_eq!(spans.len(), 11, "the root, 5 stages, one level, four tools");
    assert!(
        spans
            .iter()
            .all(|s| s.resource.get("service.name")
                == Some(&support::Attr::S("ops-assistant".into())))
    );
}

#[test]
fn trace_out_is_otlp_json_that_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trace.json");
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--trace-out",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&file).unwrap();
    let data: TracesData = serde_json::from_str(&text).expect("parses as OTLP TracesData");
    let spans: Vec<_> = data
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter().flat_map(|s| s.spans.iter()))
        .collect();
    assert_eq!(spans.len(), 11);
    let trace_id = trace_id(&out);
    assert!(spans.iter().all(|s| s
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        == trace_id));
    // Serializing what we parsed gives back the same JSON.
    let again = serde_json::to_value(&data).unwrap();
    let original: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(again, original);
}

#[test]
fn an_unwritable_trace_out_is_a_located_error() {
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--trace-out",
            "/nonexistent/dir/t.json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --trace-out /nonexistent/dir/t.json: the folder /nonexistent/dir does not exist\n"
    );
}
