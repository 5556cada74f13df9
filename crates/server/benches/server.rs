#![allow(missing_docs)]
//! Benchmarks of `orchestrace serve` (results in benches/README.md):
//! - ingest throughput (spans/s) over OTLP/HTTP protobuf from 4 concurrent clients, and the
//!   peak RSS of the process (server and clients together);
//! - the trace list over 10,000 stored traces and workflow statistics over 1,000 runs: time
//!   per request seen by a client on loopback (server time plus a loopback round trip);
//! - one 50,000-span trace: ingest, how long until its analysis and its page answer, and
//!   their time per request once analysed.
//!
//! `cargo bench -p orchestrace-server` runs the full sizes; `cargo test` runs it as a smoke
//! test at small sizes (no `--bench` argument). A goal missed, a timeout or an error answer
//! is reported, not a crash.

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

/// One GET: (milliseconds, status), or the error (a timeout) as text.
fn get_once(client: &reqwest::blocking::Client, url: &str) -> Result<(f64, u16), String> {
    let t = Instant::now();
    let r = client.get(url).send().map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    r.bytes().map_err(|e| e.to_string())?;
    Ok((t.elapsed().as_secs_f64() * 1000.0, status))
}

/// p50 and p95 of `n` requests, or why they could not be measured (an error, a timeout or an
/// answer other than 200) — reported as a missed goal, not a crash.
fn timed(client: &reqwest::blocking::Client, url: &str, n: usize) -> Result<(f64, f64), String> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        match get_once(client, url)? {
            (t, 200) => ms.push(t),
            (_, s) => return Err(format!("answered {s}")),
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[n / 2], ms[(n * 95 / 100).min(n - 1)]))
}

fn report(what: &str, goal_ms: f64, r: Result<(f64, f64), String>) {
    match r {
        Ok((p50, p95)) => println!(
            "{what}: p50 {p50:.2} ms, p95 {p95:.2} ms (goal < {goal_ms} ms: {})",
            if p95 < goal_ms { "met" } else { "MISSED" }
        ),
        Err(e) => println!("{what}: MISSED ({e})"),
    }
}

/// Polls `url` until it answers 200 or `limit` passes: (time to 200, slowest single request,
/// number of "retry" answers).
fn until_ok(
    client: &reqwest::blocking::Client,
    url: &str,
    limit: Duration,
) -> Result<(f64, f64, usize), String> {
    let t = Instant::now();
    let (mut slowest, mut retries) = (0f64, 0);
    loop {
        let (ms, status) = get_once(client, url)?;
        slowest = slowest.max(ms);
        match status {
            200 => return Ok((t.elapsed().as_secs_f64() * 1000.0, slowest, retries)),
            503 if t.elapsed() < limit => {
                retries += 1;
                std::thread::sleep(Duration::from_millis(500));
            }
            s => {
                return Err(format!(
                    "answered {s} after {:.1} s",
                    t.elapsed().as_secs_f64()
                ))
            }
        }
    }
}

/// The sizes: full under `cargo bench`, a smoke run under `cargo test`.
struct Size {
    runs: u64,
    big_tools: u64,
    settle: Duration,
    repeat: usize,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let size = if full {
        Size {
            runs: 10_000,
            big_tools: 49_998,
            settle: Duration::from_secs(120),
            repeat: 50,
        }
    } else {
        Size {
            runs: 400,
            big_tools: 2_998,
            settle: Duration::from_secs(30),
            repeat: 3,
        }
    };
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
    let (runs, wf_runs) = (size.runs, size.runs / 10);

    // 1. Ingest: runs of 12 spans (10 tools) in batches of 50 runs, 4 clients; a tenth of
    //    them are workflow "wf-a".
    let t = Instant::now();
    let workers: Vec<_> = (0..4u64)
        .map(|w| {
            let otlp = otlp.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                for batch in (w * 50..runs).step_by(200) {
                    let spans = (batch..(batch + 50).min(runs))
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
        "ingest: {} spans ({runs} traces) in {secs:.2}s = {:.0} spans/s; peak RSS {:.0} MiB",
        runs * 12,
        (runs * 12) as f64 / secs,
        peak_rss_mib()
    );

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // Let the analyzer cache the analyses, as it does on a live server: wait until
    // `/healthz` counts none pending.
    let t = Instant::now();
    loop {
        let pending = client
            .get(format!("{ui}/healthz"))
            .send()
            .ok()
            .and_then(|r| r.bytes().ok())
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|h| h["pending_analyses"].as_i64());
        if pending == Some(0) || t.elapsed() > size.settle {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "analyses of {runs} traces cached within {:.1} s of the end of ingest",
        t.elapsed().as_secs_f64()
    );
    let n = size.repeat;
    report(
        &format!("trace list (limit=100) over {runs} traces"),
        100.0,
        timed(&client, &format!("{ui}/api/traces?limit=100"), n),
    );
    report(
        &format!("trace list filtered (min_ms, status) over {runs} traces"),
        100.0,
        timed(
            &client,
            &format!("{ui}/api/traces?limit=100&min_ms=9.99&status=ok"),
            n,
        ),
    );
    report(
        &format!("workflow stats over {wf_runs} runs (10 tools each)"),
        100.0,
        timed(
            &client,
            &format!("{ui}/api/workflows/wf-a/stats?last={wf_runs}"),
            n.min(20),
        ),
    );

    // 2. One large trace (root + execute + a chain of tools) in batches of 1,000 spans.
    let big = run_spans(99_999, "big", size.big_tools);
    let spans = big.len();
    let t = Instant::now();
    for chunk in big.chunks(1000) {
        post(&client, &otlp, body(chunk.to_vec()));
    }
    println!(
        "{spans}-span trace ingested in {:.2}s",
        t.elapsed().as_secs_f64()
    );
    let id = format!("{:032x}", 100_000u128);
    for (what, url) in [
        ("analysis", format!("{ui}/api/traces/{id}/analysis")),
        ("page", format!("{ui}/traces/{id}")),
    ] {
        match until_ok(&client, &url, size.settle) {
            Ok((total, slowest, retries)) => println!(
                "{spans}-span trace: {what} answered 200 {total:.0} ms after ingest \
                 ({retries} \"retry\" answers; slowest request {slowest:.0} ms)"
            ),
            Err(e) => println!("{spans}-span trace: {what} MISSED ({e})"),
        }
        report(
            &format!("{spans}-span trace: {what} once analysed"),
            3000.0,
            timed(&client, &url, 3),
        );
    }
    println!("peak RSS {:.0} MiB", peak_rss_mib());
    rt.block_on(server.shutdown());
}
