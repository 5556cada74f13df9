//! `orchestrace serve` as a subprocess: acknowledged batches survive kill -9, SIGTERM exits 0.

#[path = "support/cli.rs"]
mod cli;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

/// One export request: `spans` spans of trace `n` (a root and its children).
fn batch(n: u32, spans: u32) -> Vec<u8> {
    let mut trace_id = [0u8; 16];
    trace_id[12..].copy_from_slice(&(n + 1).to_be_bytes());
    let span = |i: u32| Span {
        trace_id: trace_id.to_vec(),
        span_id: (u64::from(n) << 32 | u64::from(i + 1))
            .to_be_bytes()
            .to_vec(),
        parent_span_id: if i == 0 {
            vec![]
        } else {
            (u64::from(n) << 32 | 1).to_be_bytes().to_vec()
        },
        name: format!("span {i}"),
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(n) * 1_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(n) * 1_000_000_000 + 5_000_000,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: (0..spans).map(span).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn count(ui: &str) -> (u64, u64) {
    let h: serde_json::Value = serde_json::from_str(
        &reqwest::blocking::get(format!("{ui}/healthz"))
            .unwrap()
            .text()
            .unwrap(),
    )
    .unwrap();
    (h["traces"].as_u64().unwrap(), h["spans"].as_u64().unwrap())
}

#[test]
fn acknowledged_batches_survive_kill_9_and_the_store_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = cli::Serve::start(dir.path());
    let client = reqwest::blocking::Client::new();
    // Acknowledged batches, then more sent concurrently while the process is killed.
    for n in 0..40 {
        let r = client
            .post(format!("{}/v1/traces", serve.otlp_http))
            .header("content-type", "application/x-protobuf")
            .body(batch(n, 50))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let url = format!("{}/v1/traces", serve.otlp_http);
    let flood = std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let mut acked = 0;
        for n in 40..400 {
            let sent = client
                .post(&url)
                .header("content-type", "application/x-protobuf")
                .body(batch(n, 50))
                .send();
            match sent {
                Ok(r) if r.status().is_success() => acked += 1,
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    serve.child.kill().unwrap(); // SIGKILL
    serve.child.wait().unwrap();
    let acked_during = flood.join().unwrap();
    drop(serve);

    let serve = cli::Serve::start(dir.path());
    let (traces, spans) = count(&serve.ui);
    // Everything acknowledged is there (a batch committed whose answer was lost may be too).
    assert!(
        traces >= 40 + acked_during,
        "{traces} traces, {acked_during} acked in the flood"
    );
    assert_eq!(spans, traces * 50, "no trace is half-written");
    let first: serde_json::Value =
        reqwest::blocking::get(format!("{}/api/traces/{:032x}", serve.ui, 1))
            .unwrap()
            .text()
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
    assert_eq!(
        first["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .len(),
        50
    );
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_writes_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = cli::Serve::start(dir.path());
    let r = reqwest::blocking::Client::new()
        .post(format!("{}/v1/traces", serve.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(batch(7, 10))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let pid = serve.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = serve.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    drop(serve);
    let serve = cli::Serve::start(dir.path());
    assert_eq!(count(&serve.ui), (1, 10));
}
