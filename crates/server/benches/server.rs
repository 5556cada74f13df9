#![allow(missing_docs)]
//! Benchmarks of `orchestrace serve` (results in benches/README.md):
//! - ingest throughput (spans/s) over OTLP/HTTP protobuf from 4 concurrent clients, and the
//!   peak RSS of the process (server and clients together);
//! - the trace list over 10,000 stored traces and workflow statistics over 1,000 runs: time
//!   per request seen by a client on loopback (server time plus a loopback round trip);
//! - one 50,000-span trace: ingest, its analysis and its page.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, ArrayValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

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

/// A run of `tools` chained tools (root + execute + tools) of `workflow`, trace number `n`.
fn run_spans(n: u64, workflow: &str, tools: u64) -> Vec<Span> {
    let mut tid = [0u8; 16];
    tid[8..].copy_from_slice(&(n + 1).to_be_bytes());
    let t0 = 1_700_000_000_000_000_000 + n * 1_000_000_000;
    let id = |i: u64| ((n << 20) | (i + 1)).to_be_bytes().to_vec();
    let mut spans = vec![
        Span {
            trace_id: tid.to_vec(),
            span_id: id(0),
            name: format!("invoke_workflow {workflow}"),
            start_time_unix_nano: t0,
            end_time_unix_nano: t0 + tools * 1_000_000,
            attributes: vec![
                kv("gen_ai.operation.name", s("invoke_workflow")),
                kv("gen_ai.workflow.name", s(workflow)),
            ],
            ..Default::default()
        },
        Span {
            trace_id: tid.to_vec(),
            span_id: id(1),
            parent_span_id: id(0),
            name: "execute".into(),
            start_time_unix_nano: t0,
            end_time_unix_nano: t0 + tools * 1_000_000,
            attributes: vec![kv("orchestration.stage", s("execute"))],
            ..Default::default()
        },
    ];
    for i in 0..tools {
        let deps = if i == 0 {
            vec![]
        } else {
            vec![AnyValue {
                value: Some(s(&format!("t{}", i - 1))),
            }]
        };
        spans.push(Span {
            trace_id: tid.to_vec(),
            span_id: id(2 + i),
            parent_span_id: id(1),
            name: "execute_tool step".into(),
            start_time_unix_nano: t0 + i * 1_000_000,
            end_time_unix_nano: t0 + (i + 1) * 1_000_000 - (n % 7) * 1000,
            attributes: vec![
                kv("gen_ai.operation.name", s("execute_tool")),
                kv("orchestration.tool_id", s(&format!("t{i}"))),
                kv("orchestration.stage", s("execute")),
                kv(
                    "orchestration.depends_on",
                    any_value::Value::ArrayValue(ArrayValue { values: deps }),
                ),
            ],
            ..Default::default()
        });
    }
    spans
}

fn body(spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn post(client: &reqwest::blocking::Client, url: &str, body: Vec<u8>) {
    loop {
        let r = client
            .post(url)
            .header("content-type", "application/x-protobuf")
            .body(body.clone())
            .send()
            .unwrap();
        match r.status().as_u16() {
            200 => return,
            429 | 503 => std::thread::sleep(Duration::from_millis(50)),
            s => panic!("ingest answered {s}"),
        }
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn timed(client: &reqwest::blocking::Client, url: &str, n: usize) -> (f64, f64) {
    let mut ms: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = client.get(url).send().unwrap();
            assert!(r.status().is_success(), "{url}: {}", r.status());
            let _ = r.bytes().unwrap();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (ms[n / 2], ms[(n * 95 / 100).min(n - 1)])
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = rt.block_on(async {
        let mut c = orchestrace_server::Config::new();
        c.data_dir = dir.path().to_owned();
        c.listen = "127.0.0.1:0".parse().unwrap();
        c.otlp_grpc = None;
        c.otlp_http = Some("127.0.0.1:0".parse().unwrap());
        orchestrace_server::Server::start(c).await.unwrap()
    });
    let ui = format!("http://{}", server.ui_addr());
    let otlp = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());

    // 1. Ingest: 10,000 runs of 12 spans (10 tools) in batches of 50 runs, 4 clients;
    //    1,000 of them are workflow "wf-a".
    let t = Instant::now();
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let otlp = otlp.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for batch in (w * 50..10_000).step_by(200) {
                    let spans = (batch..batch + 50)
                        .flat_map(|n| run_spans(n, if n % 10 == 0 { "wf-a" } else { "wf-b" }, 10))
                        .collect();
                    post(&client, &otlp, body(spans));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingest: 120000 spans (10000 traces) in {secs:.2}s = {:.0} spans/s; peak RSS {:.0} MiB",
        120_000.0 / secs,
        peak_rss_mib()
    );

    let client = reqwest::blocking::Client::new();
    // Let the analyzer cache the analyses, as it does on a live server.
    let t = Instant::now();
    loop {
        let (p50, _) = timed(
            &client,
            &format!("{ui}/api/workflows/wf-a/stats?last=1000"),
            1,
        );
        if p50 < 200.0 || t.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let (p50, p95) = timed(&client, &format!("{ui}/api/traces?limit=100"), 50);
    println!("trace list (limit=100) over 10000 traces: p50 {p50:.2} ms, p95 {p95:.2} ms");
    let (p50, p95) = timed(
        &client,
        &format!("{ui}/api/traces?limit=100&min_ms=9.99&status=ok"),
        50,
    );
    println!(
        "trace list filtered (min_ms, status) over 10000 traces: p50 {p50:.2} ms, p95 {p95:.2} ms"
    );
    let (p50, p95) = timed(
        &client,
        &format!("{ui}/api/workflows/wf-a/stats?last=1000"),
        20,
    );
    println!("workflow stats over 1000 runs (10 tools each): p50 {p50:.2} ms, p95 {p95:.2} ms");

    // 2. One 50,000-span trace in 50 batches.
    let big = run_spans(99_999, "big", 49_998);
    let t = Instant::now();
    for chunk in big.chunks(1000) {
        post(&client, &otlp, body(chunk.to_vec()));
    }
    println!(
        "50000-span trace ingested in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let id = format!("{:032x}", 100_000u128);
    let (p50, _) = timed(&client, &format!("{ui}/api/traces/{id}/analysis"), 3);
    println!("50000-span trace: analysis {p50:.0} ms");
    let (p50, _) = timed(&client, &format!("{ui}/traces/{id}"), 3);
    println!(
        "50000-span trace: page {p50:.0} ms; peak RSS {:.0} MiB",
        peak_rss_mib()
    );
    rt.block_on(server.shutdown());
}
