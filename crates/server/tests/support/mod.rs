//! Shared by the server's tests: an in-process server on loopback, a real OTLP exporter
//! (opentelemetry-otlp) sending a diamond-shaped run with known timings, and HTTP helpers.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Array, Context, KeyValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use orchestrace_server::{Config, Server};

/// Starts a server on 127.0.0.1 with every port picked by the system.
pub async fn start(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Server {
    let mut c = Config::new();
    c.data_dir = dir.to_owned();
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.otlp_grpc = Some("127.0.0.1:0".parse().unwrap());
    c.otlp_http = Some("127.0.0.1:0".parse().unwrap());
    tweak(&mut c);
    Server::start(c).await.expect("server starts")
}

/// How the exporter sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transport {
    Grpc,
    GrpcGzip,
    HttpProto,
    HttpProtoGzip,
    HttpJson,
}

/// One tool of a run: id, depends_on, start and end offsets in ms, failed.
pub struct Tool {
    pub id: &'static str,
    pub deps: &'static [&'static str],
    pub start_ms: u64,
    pub end_ms: u64,
    pub error: bool,
}

/// a (0–20) → b (20–80) and c (20–50) → d (80–90): makespan 90 ms, serial 120 ms, critical
/// path a → b → d, c has 30 ms of slack. `b_ms` stretches b (and shifts d).
pub fn diamond(b_ms: u64, c_fails: bool) -> Vec<Tool> {
    vec![
        Tool {
            id: "a",
            deps: &[],
            start_ms: 0,
            end_ms: 20,
            error: false,
        },
        Tool {
            id: "b",
            deps: &["a"],
            start_ms: 20,
            end_ms: 20 + b_ms,
            error: false,
        },
        Tool {
            id: "c",
            deps: &["a"],
            start_ms: 20,
            end_ms: 50,
            error: c_fails,
        },
        Tool {
            id: "d",
            deps: &["b", "c"],
            start_ms: 20 + b_ms,
            end_ms: 30 + b_ms,
            error: false,
        },
    ]
}

/// A fixed epoch for runs: 2024-01-01T00:00:00Z plus `n` minutes.
pub fn t0(n: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_704_067_200 + 60 * n)
}

/// Exports one run of `tools` (root `invoke_workflow`, `execute`, tool spans with our
/// attributes) through a real OTLP exporter, one export call per span. Returns the trace id.
pub async fn export_run(
    server: &Server,
    transport: Transport,
    workflow: &'static str,
    start: SystemTime,
    tools: Vec<Tool>,
    token: Option<&'static str>,
) -> String {
    let grpc = format!("http://{}", server.otlp_grpc_addr().unwrap());
    let http = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _guard = handle.enter();
        let mut headers = std::collections::HashMap::new();
        let mut metadata = tonic::metadata::MetadataMap::new();
        if let Some(t) = token {
            headers.insert("authorization".to_string(), format!("Bearer {t}"));
            metadata.insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        let b = opentelemetry_otlp::SpanExporter::builder();
        let exporter = match transport {
            Transport::Grpc | Transport::GrpcGzip => {
                let mut t = b.with_tonic().with_endpoint(grpc).with_metadata(metadata);
                if transport == Transport::GrpcGzip {
                    t = t.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                t.build()
            }
            _ => {
                let mut h = b
                    .with_http()
                    .with_endpoint(http)
                    .with_headers(headers)
                    .with_protocol(if transport == Transport::HttpJson {
                        Protocol::HttpJson
                    } else {
                        Protocol::HttpBinary
                    });
                if transport == Transport::HttpProtoGzip {
                    h = h.with_compression(opentelemetry_otlp::Compression::Gzip);
                }
                h.build()
            }
        }
        .expect("exporter builds");
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder_empty()
                    .with_service_name("server-test")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("server-test");
        let at = |ms: u64| start + Duration::from_millis(ms);
        let end = tools.iter().map(|t| t.end_ms).max().unwrap_or(0);
        let root = tracer
            .span_builder(format!("invoke_workflow {workflow}"))
            .with_start_time(at(0))
            .with_attributes(vec![
                KeyValue::new("gen_ai.operation.name", "invoke_workflow"),
                KeyValue::new("gen_ai.workflow.name", workflow),
                KeyValue::new("orchestration.plan_id", workflow),
            ])
            .start(&tracer);
        let trace_id = root.span_context().trace_id().to_string();
        let root_cx = Context::current_with_span(root);
        let execute = tracer
            .span_builder("execute")
            .with_start_time(at(0))
            .with_attributes(vec![
                KeyValue::new("orchestration.stage", "execute"),
                KeyValue::new("orchestration.plan_id", workflow),
                KeyValue::new("orchestration.execution_strategy", "dag"),
            ])
            .start_with_context(&tracer, &root_cx);
        let exec_cx = root_cx.with_span(execute);
        for t in &tools {
            let deps: Vec<opentelemetry::StringValue> =
                t.deps.iter().map(|d| (*d).into()).collect();
            let mut span = tracer
                .span_builder(format!("execute_tool step_{}", t.id))
                .with_start_time(at(t.start_ms))
                .with_attributes(vec![
                    KeyValue::new("gen_ai.operation.name", "execute_tool"),
                    KeyValue::new("gen_ai.tool.name", format!("step_{}", t.id)),
                    KeyValue::new("orchestration.tool_id", t.id),
                    KeyValue::new("orchestration.stage", "execute"),
                    KeyValue::new(
                        "orchestration.depends_on",
                        Value::Array(Array::String(deps)),
                    ),
                    KeyValue::new("orchestration.status", if t.error { "error" } else { "ok" }),
                    KeyValue::new(
                        "orchestration.data_flow_inputs",
                        r#"{"input":{"expression":"{a.rows}","value":3}}"#,
                    ),
                ])
                .start_with_context(&tracer, &exec_cx);
            if t.error {
                span.set_status(opentelemetry::trace::Status::error("boom <b>"));
            }
            span.end_with_timestamp(at(t.end_ms));
        }
        exec_cx.span().end_with_timestamp(at(end));
        root_cx.span().end_with_timestamp(at(end));
        provider.force_flush().expect("flush");
        provider.shutdown().expect("shutdown");
        trace_id
    })
    .await
    .unwrap()
}

/// GET, answering (status, body).
pub async fn get(url: String) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let r = reqwest::blocking::get(&url).expect("server answers");
        let status = r.status().as_u16();
        (status, r.text().unwrap_or_default())
    })
    .await
    .unwrap()
}

/// GET a JSON answer (status 200 expected).
pub async fn get_json(url: String) -> serde_json::Value {
    let (status, body) = get(url.clone()).await;
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// POST with headers, answering (status, headers, body).
pub async fn post(
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, String) {
    tokio::task::spawn_blocking(move || {
        let mut rq = reqwest::blocking::Client::new().post(&url).body(body);
        for (k, v) in headers {
            rq = rq.header(k, v);
        }
        let r = rq.send().expect("server answers");
        let status = r.status().as_u16();
        let h = r.headers().clone();
        (status, h, r.text().unwrap_or_default())
    })
    .await
    .unwrap()
}

/// Waits until the list shows `n` traces (ingest is acknowledged after commit, so this is
/// immediate; the loop only covers the exporter's own flush).
pub async fn wait_for_traces(ui: &str, n: usize) -> serde_json::Value {
    for _ in 0..100 {
        let v = get_json(format!("{ui}/api/traces?limit=1000")).await;
        if v.as_array().unwrap().len() >= n {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} traces never arrived");
}
