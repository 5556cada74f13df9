//! OTLP in over gRPC and HTTP (protobuf, JSON, gzip) from a real exporter, then the API.

mod support;

use support::{diamond, export_run, get, get_json, start, t0, wait_for_traces, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_stores_the_run_and_the_list_shows_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let transports = [
        Transport::Grpc,
        Transport::GrpcGzip,
        Transport::HttpProto,
        Transport::HttpProtoGzip,
        Transport::HttpJson,
    ];
    let mut ids = Vec::new();
    for (i, t) in transports.into_iter().enumerate() {
        ids.push(
            export_run(
                &server,
                t,
                "diamond",
                t0(i as u64),
                diamond(60, false),
                None,
            )
            .await,
        );
    }
    let list = wait_for_traces(&ui, 5).await;
    let list = list.as_array().unwrap();
    // Newest first: the last exported run started last.
    let listed: Vec<&str> = list
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(listed, expected);
    for (i, t) in list.iter().rev().enumerate() {
        assert_eq!(t["workflow"], "diamond");
        assert_eq!(t["plan_id"], "diamond");
        assert_eq!(t["start"], format!("2024-01-01T00:{i:02}:00.000Z"));
        assert_eq!(t["makespan_ms"], 90.0);
        assert_eq!(t["status"], "ok");
        assert_eq!(t["tool_count"], 4);
        assert_eq!(t["span_count"], 6);
    }
    // The stored trace comes back as OTLP JSON with every span.
    let doc = get_json(format!("{ui}/api/traces/{}", ids[0])).await;
    let spans: usize = doc["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rs| rs["scopeSpans"].as_array().unwrap())
        .map(|ss| ss["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans, 6);
    let health = get_json(format!("{ui}/healthz")).await;
    assert_eq!(health["traces"], 5);
    assert_eq!(health["spans"], 30);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_is_the_inspectors_on_the_same_trace() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let id = export_run(
        &server,
        Transport::Grpc,
        "diamond",
        t0(0),
        diamond(60, false),
        None,
    )
    .await;
    wait_for_traces(&ui, 1).await;
    let (status, served) = get(format!("{ui}/api/traces/{id}/analysis")).await;
    assert_eq!(status, 200);
    // What `orchestrace inspect --json` prints for the stored trace.
    let (_, otlp) = get(format!("{ui}/api/traces/{id}")).await;
    let trace = orchestrace_inspect::load_str(&otlp).unwrap();
    let expected =
        serde_json::to_string_pretty(&orchestrace_inspect::analyze(&trace)).unwrap() + "\n";
    assert_eq!(served, expected);
    let a: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(a["makespan_ms"], 90.0);
    assert_eq!(a["serial_duration_ms"], 120.0);
    assert_eq!(a["time_saved_ms"], 30.0);
    assert_eq!(a["critical_path"], serde_json::json!(["a", "b", "d"]));
    // Once cached (the trace went quiet), the answer is unchanged.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, again) = get(format!("{ui}/api/traces/{id}/analysis")).await;
    assert_eq!(again, expected);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_runs_and_filters() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let ok = export_run(
        &server,
        Transport::HttpProto,
        "diamond",
        t0(0),
        diamond(60, false),
        None,
    )
    .await;
    let failed = export_run(
        &server,
        Transport::HttpProto,
        "diamond",
        t0(1),
        diamond(60, true),
        None,
    )
    .await;
    let slow = export_run(
        &server,
        Transport::HttpProto,
        "other",
        t0(2),
        diamond(200, false),
        None,
    )
    .await;
    wait_for_traces(&ui, 3).await;
    let ids = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?status=error")).await),
        vec![failed.clone()]
    );
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?status=ok")).await),
        [slow.clone(), ok.clone()]
    );
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?min_ms=100")).await),
        vec![slow.clone()]
    );
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?workflow=diamond")).await),
        [failed.clone(), ok.clone()]
    );
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?since=2024-01-01T00:01:00Z")).await),
        [slow.clone(), failed.clone()]
    );
    assert_eq!(
        ids(get_json(format!("{ui}/api/traces?limit=1")).await),
        [slow]
    );
    let (status, body) = get(format!("{ui}/api/traces?status=weird")).await;
    assert_eq!(
        (status, body.as_str()),
        (
            400,
            "status: expected ok, error or running, got \"weird\"\n"
        )
    );
    let (status, body) = get(format!("{ui}/api/traces?since=yesterday")).await;
    assert_eq!(status, 400);
    assert!(body.starts_with("since: expected RFC 3339"), "{body}");
    let (status, _) = get(format!("{ui}/api/traces/0123")).await;
    assert_eq!(status, 400);
    let (status, _) = get(format!("{ui}/api/traces/{}", "ab".repeat(16))).await;
    assert_eq!(status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_stats_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    // b takes 60, 70, 80 ms; c fails in the last run.
    for (i, b) in [60, 70, 80].into_iter().enumerate() {
        export_run(
            &server,
            Transport::Grpc,
            "diamond",
            t0(i as u64),
            diamond(b, i == 2),
            None,
        )
        .await;
    }
    wait_for_traces(&ui, 3).await;
    let s = get_json(format!("{ui}/api/workflows/diamond/stats?last=10")).await;
    assert_eq!(s["runs"], 3);
    let tool = |id: &str| {
        s["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    let b = tool("b");
    assert_eq!(
        (
            b["runs"].as_u64(),
            b["p50_ms"].as_f64(),
            b["p95_ms"].as_f64()
        ),
        (Some(3), Some(70.0), Some(80.0))
    );
    assert_eq!(b["critical_share"], 1.0);
    assert_eq!(b["mean_slack_ms"], 0.0);
    let c = tool("c");
    assert_eq!(c["critical_share"], 0.0);
    assert_eq!(c["error_rate"], 0.333);
    // c has 30, 40 and 50 ms of slack against b.
    assert_eq!(c["mean_slack_ms"], 40.0);
    let makespans: Vec<f64> = s["per_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["makespan_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(makespans, [90.0, 100.0, 110.0]);
    let saved: Vec<f64> = s["per_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["time_saved_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(saved, [30.0, 30.0, 30.0]);
    let s = get_json(format!("{ui}/api/workflows/diamond/stats?last=1")).await;
    assert_eq!(s["runs"], 1);
    server.shutdown().await;
}
