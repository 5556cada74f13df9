//! The pipeline end to end on loopback, against receivers written here: slow, rejecting,
//! stalled or absent collectors, over gRPC and HTTP.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tracing_subscriber::prelude::*;

use super::*;

/// How the receiver behaves.
#[derive(Debug, Default)]
struct Behaviour {
    /// Sleep this long in every export (milliseconds).
    delay_ms: AtomicU64,
    /// Answer every export with HTTP 400 / gRPC InvalidArgument.
    reject: AtomicBool,
    /// Never answer.
    stall: AtomicBool,
}

#[derive(Debug, Default)]
struct Seen {
    spans: AtomicU64,
    attempts: AtomicU64,
    /// Encoded size of every request that arrived.
    sizes: Mutex<Vec<usize>>,
    /// One export at a time.
    one_at_a_time: tokio::sync::Mutex<()>,
    behaviour: Behaviour,
}

impl Seen {
    async fn handle(&self, request: &ExportTraceServiceRequest) -> Result<(), ()> {
        let _one = self.one_at_a_time.lock().await;
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.behaviour.stall.load(Ordering::SeqCst) {
            futures::future::pending::<()>().await;
        }
        let delay = self.behaviour.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.behaviour.reject.load(Ordering::SeqCst) {
            return Err(());
        }
        self.sizes.lock().unwrap().push(request.encoded_len());
        let n: usize = request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        self.spans.fetch_add(n as u64, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Grpc(Arc<Seen>);

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        match self.0.handle(request.get_ref()).await {
            Ok(()) => Ok(tonic::Response::new(ExportTraceServiceResponse {
                partial_success: None,
            })),
            Err(()) => Err(tonic::Status::invalid_argument("bad spans")),
        }
    }
}

/// A gRPC receiver on 127.0.0.1 and an HTTP one, sharing what they saw; stopped on drop.
struct Receiver {
    grpc: SocketAddr,
    http: SocketAddr,
    seen: Arc<Seen>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Seen::default());
        let bind = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.set_nonblocking(true).unwrap();
            l
        };
        let (g, h) = (bind(), bind());
        let (grpc, http) = (g.local_addr().unwrap(), h.local_addr().unwrap());
        let svc = TraceServiceServer::new(Grpc(seen.clone()));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(g).unwrap();
            let incoming = futures::stream::unfold(listener, |l| async move {
                Some((l.accept().await.map(|(s, _)| s), l))
            });
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(incoming)
                .await;
        });
        let http_seen = seen.clone();
        runtime.spawn(async move {
            let app = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(move |body: axum::body::Bytes| {
                    let seen = http_seen.clone();
                    async move {
                        let request = ExportTraceServiceRequest::decode(body.as_ref())
                            .expect("a protobuf request");
                        match seen.handle(&request).await {
                            Ok(()) => (
                                axum::http::StatusCode::OK,
                                ExportTraceServiceResponse::default().encode_to_vec(),
                            ),
                            Err(()) => (axum::http::StatusCode::BAD_REQUEST, b"bad spans".to_vec()),
                        }
                    }
                }),
            );
            let listener = tokio::net::TcpListener::from_std(h).unwrap();
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            grpc,
            http,
            seen,
            _runtime: runtime,
        }
    }

    fn url(&self, protocol: OtlpProtocol) -> String {
        match protocol {
            OtlpProtocol::Grpc => format!("http://{}", self.grpc),
            OtlpProtocol::HttpProtobuf => format!("http://{}", self.http),
        }
    }

    fn spans(&self) -> u64 {
        self.seen.spans.load(Ordering::SeqCst)
    }
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Ends `n` spans (each with `attr_bytes` of attribute text) through the pipeline on this
/// thread; returns how long that took.
fn emit(telemetry: &Telemetry, n: usize, attr_bytes: usize) -> Duration {
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let text = "x".repeat(attr_bytes);
    let started = Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..n {
            let _s = tracing::info_span!(
                "tool",
                orchestration.tool_id = i as i64,
                orchestration.params = text.as_str()
            )
            .entered();
        }
    });
    started.elapsed()
}

fn builder(url: String, protocol: OtlpProtocol) -> TelemetryBuilder {
    TelemetryBuilder::new()
        .with_endpoint(url)
        .with_protocol(protocol)
        .with_warnings_printed(false)
}

const BOTH: [OtlpProtocol; 2] = [OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf];

#[test]
fn a_receiver_slower_than_the_run_loses_nothing() {
    for protocol in BOTH {
        let rx = Receiver::start();
        rx.seen.behaviour.delay_ms.store(50, Ordering::SeqCst);
        // 3,000 spans through a 256-span queue, 64 a batch: 47 exports of 50 ms each, one at
        // a time, while the producer could end them all in a few milliseconds.
        let telemetry = builder(rx.url(protocol), protocol)
            .with_max_queue_size(256)
            .with_max_export_batch_size(64)
            .with_shutdown_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let run = emit(&telemetry, 3_000, 10);
        let started = Instant::now();
        let summary = telemetry.guard().shutdown();
        let shutdown = started.elapsed();
        assert_eq!(
            (summary.ended, summary.exported, summary.dropped),
            (3_000, 3_000, 0),
            "{protocol:?}: {summary:?}"
        );
        assert_eq!(summary.warning(), None);
        assert_eq!(rx.spans(), 3_000, "{protocol:?}");
        // The producer was held back to the receiver's pace, within the bound.
        assert!(
            run >= Duration::from_millis(40 * 50 * 8 / 10),
            "{protocol:?}: {run:?}"
        );
        assert!(run < Duration::from_secs(10), "{protocol:?}: {run:?}");
        assert!(
            shutdown < Duration::from_secs(5),
            "{protocol:?}: {shutdown:?}"
        );
    }
}

#[test]
fn a_rejecting_receiver_costs_bounded_time_and_every_span_is_counted() {
    for protocol in BOTH {
        let rx = Receiver::start();
        rx.seen.behaviour.reject.store(true, Ordering::SeqCst);
        let telemetry = builder(rx.url(protocol), protocol)
            .with_shutdown_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let started = Instant::now();
        emit(&telemetry, 700, 10);
        let summary = telemetry.guard().shutdown();
        assert!(started.elapsed() < Duration::from_secs(3), "{protocol:?}");
        assert_eq!(
            (summary.ended, summary.exported, summary.dropped),
            (700, 0, 700)
        );
        assert_eq!(rx.spans(), 0);
        // Rejections are final: one attempt per batch (512 + 188).
        assert_eq!(rx.seen.attempts.load(Ordering::SeqCst), 2, "{protocol:?}");
        let expected = match protocol {
            OtlpProtocol::Grpc => format!(
                "700 of 700 spans were not exported to {}: 700 failed: gRPC InvalidArgument: bad spans",
                rx.url(protocol)
            ),
            OtlpProtocol::HttpProtobuf => format!(
                "700 of 700 spans were not exported to {}/v1/traces: 700 failed: HTTP 400 Bad Request: bad spans",
                rx.url(protocol)
            ),
        };
        assert_eq!(summary.warning().unwrap(), expected);
    }
}

#[test]
fn a_collector_that_is_down_costs_one_wait_and_the_shutdown_bound() {
    for protocol in BOTH {
        let url = format!("http://127.0.0.1:{}", closed_port());
        let telemetry = builder(url.clone(), protocol)
            .with_max_queue_size(64)
            .with_max_export_batch_size(32)
            .with_shutdown_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let run = emit(&telemetry, 2_000, 10);
        let started = Instant::now();
        let summary = telemetry.guard().shutdown();
        let shutdown = started.elapsed();
        // One wait of 250 ms when the queue first fills; then spans are shed at once.
        assert!(run < Duration::from_millis(1_500), "{protocol:?}: {run:?}");
        assert!(
            shutdown < Duration::from_millis(1_800),
            "{protocol:?}: {shutdown:?}"
        );
        assert_eq!(
            (summary.ended, summary.exported, summary.dropped),
            (2_000, 0, 2_000)
        );
        let warning = summary.warning().unwrap();
        assert!(
            warning.starts_with("2000 of 2000 spans were not exported to http://127.0.0.1:"),
            "{warning}"
        );
        assert!(warning.contains("dropped from a full queue"), "{warning}");
        // The cause, not just "transport error" or "network error", each part once.
        assert!(
            warning.to_ascii_lowercase().contains("connection refused"),
            "{warning}"
        );
        assert!(
            !warning.contains("tcp connect error: tcp connect error"),
            "{warning}"
        );
    }
}

#[test]
fn a_stalled_receiver_cannot_hold_shutdown_past_its_bound() {
    for protocol in BOTH {
        let rx = Receiver::start();
        rx.seen.behaviour.stall.store(true, Ordering::SeqCst);
        let telemetry = builder(rx.url(protocol), protocol)
            .with_shutdown_timeout(Duration::from_millis(800))
            .build()
            .unwrap();
        emit(&telemetry, 100, 10);
        let started = Instant::now();
        let summary = telemetry.guard().shutdown();
        let shutdown = started.elapsed();
        assert!(
            shutdown >= Duration::from_millis(700) && shutdown < Duration::from_millis(1_500),
            "{protocol:?}: {shutdown:?}"
        );
        assert_eq!((summary.ended, summary.dropped), (100, 100));
        assert_eq!(
            summary.last_error.as_deref(),
            Some("100 not delivered within the 800 ms shutdown timeout")
        );
    }
}

#[test]
fn requests_never_exceed_the_byte_budget() {
    for protocol in BOTH {
        let rx = Receiver::start();
        let budget = 64 * 1024;
        let telemetry = builder(rx.url(protocol), protocol)
            .with_max_export_batch_bytes(budget)
            .build()
            .unwrap();
        // 1,000 spans of about 3 KiB: 3 MiB in all, about 21 spans a request.
        emit(&telemetry, 1_000, 3_000);
        let summary = telemetry.guard().shutdown();
        assert_eq!(summary.exported, 1_000, "{summary:?}");
        let sizes = rx.seen.sizes.lock().unwrap().clone();
        assert_eq!(rx.spans(), 1_000);
        let largest = *sizes.iter().max().unwrap();
        assert!(
            largest <= budget,
            "{protocol:?}: a request of {largest} bytes"
        );
        // Cut by bytes, not by count (512): and not into needlessly small pieces.
        let total: usize = sizes.iter().sum();
        assert!(sizes.len() > total / budget, "{protocol:?}: {sizes:?}");
        assert!(
            sizes.len() <= 2 * (total / budget + 1),
            "{protocol:?}: {sizes:?}"
        );
    }
}

#[test]
fn messages_show_urls_without_credentials() {
    let port = closed_port();
    let telemetry = builder(
        format!("http://alice:hunter2@127.0.0.1:{port}/v1/traces?api_key=k3y&tenant=t1"),
        OtlpProtocol::HttpProtobuf,
    )
    .with_shutdown_timeout(Duration::from_millis(500))
    .build()
    .unwrap();
    assert_eq!(
        telemetry.endpoint.as_deref(),
        Some(format!("http://127.0.0.1:{port}/v1/traces?api_key=REDACTED&tenant=t1").as_str())
    );
    emit(&telemetry, 3, 10);
    let warning = telemetry.guard().shutdown().warning().unwrap();
    assert!(!warning.contains("hunter2"), "{warning}");
    assert!(!warning.contains("alice"), "{warning}");
    assert!(!warning.contains("k3y"), "{warning}");
    assert!(
        warning.starts_with(&format!(
            "3 of 3 spans were not exported to http://127.0.0.1:{port}/v1/traces?api_key=REDACTED&tenant=t1: "
        )),
        "{warning}"
    );
}

#[test]
fn settings_problems_do_not_stop_the_build() {
    let telemetry = TelemetryBuilder::new()
        .with_endpoint("localhost:1")
        .with_header("bad header", "x")
        .with_warnings_printed(false)
        .build()
        .unwrap();
    assert_eq!(
        telemetry.warnings(),
        [
            "with_endpoint=\"localhost:1\" has no scheme: using http://localhost:1",
            "header \"bad header\" is not a valid header name: ignored",
        ]
    );
    assert_eq!(telemetry.endpoint.as_deref(), Some("http://localhost:1"));
}
