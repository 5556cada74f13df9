//! An in-process OTLP receiver (gRPC and HTTP/protobuf) built from
//! opentelemetry-proto's generated tonic server, decoding the bytes exporters actually send.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;

/// An attribute value as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    S(String),
    I(i64),
    F(f64),
    B(bool),
    A(Vec<Attr>),
    Other,
}

impl Attr {
    pub fn str(&self) -> &str {
        match self {
            Attr::S(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
}

fn attr(v: &Option<AnyValue>) -> Attr {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => Attr::S(s.clone()),
        Some(Any::IntValue(i)) => Attr::I(*i),
        Some(Any::DoubleValue(f)) => Attr::F(*f),
        Some(Any::BoolValue(b)) => Attr::B(*b),
        Some(Any::ArrayValue(a)) => {
            Attr::A(a.values.iter().map(|v| attr(&Some(v.clone()))).collect())
        }
        _ => Attr::Other,
    }
}

fn attrs(kvs: &[KeyValue]) -> BTreeMap<String, Attr> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), attr(&kv.value)))
        .collect()
}

/// A span as received.
#[derive(Debug, Clone)]
pub struct RecvSpan {
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: BTreeMap<String, Attr>,
    /// (span id, attributes) per link.
    pub links: Vec<(String, BTreeMap<String, Attr>)>,
    /// (name, attributes) per event.
    pub events: Vec<(String, BTreeMap<String, Attr>)>,
    pub status_code: i32,
    pub status_message: String,
    pub resource: BTreeMap<String, Attr>,
}

impl RecvSpan {
    pub fn attr(&self, key: &str) -> &Attr {
        self.attributes.get(key).unwrap_or_else(|| {
            panic!(
                "{} has no attribute {key}: {:?}",
                self.name, self.attributes
            )
        })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How the receiver answers.
#[derive(Debug, Default)]
pub struct Behaviour {
    /// Answer this many requests with UNAVAILABLE (gRPC) / 503 (HTTP) before accepting.
    pub unavailable_first: AtomicUsize,
    /// Answer every HTTP request with 400.
    pub reject_http: std::sync::atomic::AtomicBool,
}

#[derive(Clone, Default)]
struct Store {
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    attempts: Arc<AtomicUsize>,
    behaviour: Arc<Behaviour>,
}

impl Store {
    /// Whether to refuse this request (counting it).
    fn refuse(&self) -> bool {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.behaviour
            .unavailable_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.refuse() {
            return Err(tonic::Status::unavailable("receiver busy"));
        }
        self.requests.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP receiver on 127.0.0.1, gRPC and HTTP on free ports. It runs on a runtime of its
/// own, so [`Receiver::kill`] ends it the way a killed process ends: listeners and every open
/// connection at once.
pub struct Receiver {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    store: Store,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Receiver {
    /// Starts both servers on free ports.
    pub async fn start() -> Receiver {
        Self::start_on(0, 0).await
    }

    /// Starts both servers on the given ports (0 for a free one).
    pub async fn start_on(grpc_port: u16, http_port: u16) -> Receiver {
        Self::start_with(grpc_port, http_port, Store::default())
    }

    /// Kills both servers: the ports close and open connections drop.
    pub fn kill(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }

    /// Starts again on the same ports, keeping what was received.
    pub fn restart(&mut self) {
        self.kill();
        let again = Self::start_with(self.grpc.port(), self.http.port(), self.store.clone());
        let mut again = std::mem::ManuallyDrop::new(again);
        self.runtime = again.runtime.take();
    }

    fn start_with(grpc_port: u16, http_port: u16, store: Store) -> Receiver {
        let bind = |port: u16| {
            // The port may be in TIME_WAIT right after a kill; retry briefly.
            let mut last = None;
            for _ in 0..50 {
                match std::net::TcpListener::bind(("127.0.0.1", port)) {
                    Ok(l) => {
                        l.set_nonblocking(true).unwrap();
                        return l;
                    }
                    Err(e) => {
                        last = Some(e);
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            panic!("cannot bind 127.0.0.1:{port}: {last:?}");
        };
        let grpc_std = bind(grpc_port);
        let http_std = bind(http_port);
        let grpc = grpc_std.local_addr().unwrap();
        let http = http_std.local_addr().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let svc = TraceServiceServer::new(store.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(grpc_std).unwrap();
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(tokio_stream_from(listener))
                .await;
        });
        let http_store = store.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |body: axum::body::Bytes| {
                let store = http_store.clone();
                async move {
                    if store.behaviour.reject_http.load(Ordering::SeqCst) {
                        store.attempts.fetch_add(1, Ordering::SeqCst);
                        return (axum::http::StatusCode::BAD_REQUEST, Vec::new());
                    }
                    if store.refuse() {
                        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, Vec::new());
                    }
                    match ExportTraceServiceRequest::decode(body) {
                        Ok(req) => {
                            store.requests.lock().unwrap().push(req);
                            let resp = ExportTraceServiceResponse {
                                partial_success: None,
                            };
                            (axum::http::StatusCode::OK, resp.encode_to_vec())
                        }
                        Err(_) => (axum::http::StatusCode::BAD_REQUEST, Vec::new()),
                    }
                }
            }),
        );
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(http_std).unwrap();
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            grpc,
            http,
            store,
            runtime: Some(runtime),
        }
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.http)
    }

    pub fn behaviour(&self) -> &Behaviour {
        &self.store.behaviour
    }

    /// Export requests received (accepted or refused).
    pub fn attempts(&self) -> usize {
        self.store.attempts.load(Ordering::SeqCst)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<RecvSpan> {
        let reqs = self.store.requests.lock().unwrap();
        reqs.iter()
            .flat_map(|req| recv_spans(&req.resource_spans))
            .collect()
    }

    /// Waits until at least `n` spans arrived (or the timeout passed) and returns them.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<RecvSpan> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if spans.len() >= n || tokio::time::Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops both servers (the ports close).
    pub async fn stop(mut self) {
        self.kill();
    }
}

/// The spans of OTLP resource spans, as a receiver sees them.
pub fn recv_spans(resource_spans: &[ResourceSpans]) -> Vec<RecvSpan> {
    let mut out = Vec::new();
    for rs in resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                out.push(RecvSpan {
                    name: s.name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    start_ns: s.start_time_unix_nano,
                    end_ns: s.end_time_unix_nano,
                    attributes: attrs(&s.attributes),
                    links: s
                        .links
                        .iter()
                        .map(|l| (hex(&l.span_id), attrs(&l.attributes)))
                        .collect(),
                    events: s
                        .events
                        .iter()
                        .map(|e| (e.name.clone(), attrs(&e.attributes)))
                        .collect(),
                    status_code: s.status.as_ref().map_or(0, |st| st.code),
                    status_message: s
                        .status
                        .as_ref()
                        .map(|st| st.message.clone())
                        .unwrap_or_default(),
                    resource: resource.clone(),
                });
            }
        }
    }
    out
}

/// The spans of an OTLP JSON document (`{"resourceSpans": …}`, e.g. an in-process capture).
pub fn spans_of_json(otlp: &serde_json::Value) -> Vec<RecvSpan> {
    let data: TracesData = serde_json::from_value(otlp.clone()).expect("OTLP JSON");
    recv_spans(&data.resource_spans)
}

fn tokio_stream_from(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |l| async move {
        let r = l.accept().await.map(|(s, _)| s);
        Some((r, l))
    })
}

/// A free loopback port with nothing listening on it.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
