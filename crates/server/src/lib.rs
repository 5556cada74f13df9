//! `orchestrace serve`: a live inspector. OTLP in (gRPC and HTTP), an embedded SQLite store,
//! and the orchestration views — levels, data flow, the dependency critical path, time saved,
//! suggestions, and statistics across runs — in the browser. One process, no infrastructure.
//!
//! # Pieces
//!
//! - **Ingest** ([`config::MAX_BODY_BYTES`] per request, compressed and decompressed): OTLP/gRPC
//!   `TraceService/Export` and OTLP/HTTP `POST /v1/traces` (protobuf or JSON, gzip or not).
//!   Traces of any service are kept. Batches go through a queue bounded in bytes
//!   ([`Config::queue_bytes`]); when it is full, ingest answers with backpressure (gRPC
//!   `RESOURCE_EXHAUSTED`, HTTP 429 with `Retry-After`) instead of growing. Malformed input
//!   gets 400 / `INVALID_ARGUMENT` with the place named.
//! - **Store**: one SQLite file in WAL mode with one writer thread; a batch is acknowledged
//!   after its transaction commits, so a killed process loses only unacknowledged batches. See
//!   the `store` module for the layout (spans as per-batch protobuf chunks per trace, plus a
//!   per-trace summary row) and why. Retention by age, count and size ([`Retention`]).
//! - **Views**: the JSON API (`/api/traces`, `/api/traces/{id}`, `/api/traces/{id}/analysis`
//!   — exactly `orchestrace inspect --json` —, `/api/workflows/{name}/stats`, `/healthz`) and
//!   pages: the trace list (filters, live), the trace page (the inspector's report: levels,
//!   data flow, Gantt timeline and plan DAG with the critical path, analysis, suggestions),
//!   the workflow page (per-tool statistics, makespan and time-saved trend) and the comparison
//!   of two runs. The page assets are compiled in; the Content-Security-Policy allows scripts
//!   from the server only (no inline script), and every span string is HTML-escaped.
//! - **Jaeger** (optional): search a Jaeger query service (v3 API) and open its traces in the
//!   same views.
//! - **Safety**: loopback by default; any listener off loopback needs a token, checked on UI,
//!   API and OTLP (bearer header, or a cookie / `?token=` for the browser), compared in
//!   constant time.
//!
//! ```no_run
//! # async fn demo() -> Result<(), String> {
//! let mut config = orchestrace_server::Config::new();
//! config.data_dir = "./orchestrace-data".into();
//! let server = orchestrace_server::Server::start(config).await?;
//! for line in server.listener_lines() {
//!     println!("{line}");
//! }
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod config;
mod flight;
mod ingest;
mod inspector;
mod jaeger;
mod stats;
mod store;
mod web;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{default_data_dir, Config, Retention, DEFAULT_QUEUE_BYTES, MAX_BODY_BYTES};
pub use jaeger::{JAEGER_TIMEOUT, MAX_JAEGER_BYTES};
pub use store::MAX_TRACE_STORED_BYTES;

/// Queued jobs (batches and cached analyses) before the writer's channel itself is full.
const JOB_QUEUE: usize = 4096;

/// A running server: its listeners, tasks and store threads.
#[derive(Debug)]
pub struct Server {
    ui: SocketAddr,
    otlp_grpc: Option<SocketAddr>,
    otlp_http: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    analyzer_stop: Arc<AtomicBool>,
    analyzer: Option<std::thread::JoinHandle<()>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} ({what}): {e}"))
}

impl Server {
    /// Opens the store and starts every listener. Errors are one line naming the place.
    pub async fn start(config: Config) -> Result<Server, String> {
        config.validate()?;
        let conn = store::open(&config.data_dir)?;
        let ui_listener = bind(config.listen, "ui").await?;
        let grpc_listener = match config.otlp_grpc {
            Some(a) => Some(bind(a, "otlp-grpc").await?),
            None => None,
        };
        let http_listener = match config.otlp_http {
            Some(a) => Some(bind(a, "otlp-http").await?),
            None => None,
        };
        let local = |l: &TcpListener| l.local_addr().map_err(|e| e.to_string());
        let ui = local(&ui_listener)?;
        let otlp_grpc = grpc_listener.as_ref().map(local).transpose()?;
        let otlp_http = http_listener.as_ref().map(local).transpose()?;

        let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel(JOB_QUEUE);
        let retention = config.retention.clone();
        let writer = std::thread::Builder::new()
            .name("orchestrace-store".into())
            .spawn(move || store::run_writer(conn, jobs_rx, retention))
            .map_err(|e| format!("cannot start the store thread: {e}"))?;
        let readers = store::Readers::new(&config.data_dir);

        let analyzer_stop = Arc::new(AtomicBool::new(false));
        let flights: Arc<flight::Flights> = Arc::default();
        let analyzer = {
            let (stop, readers, jobs) = (analyzer_stop.clone(), readers.clone(), jobs_tx.clone());
            let flights = flights.clone();
            std::thread::Builder::new()
                .name("orchestrace-analyzer".into())
                .spawn(move || run_analyzer(&stop, &flights, &readers, &jobs))
                .map_err(|e| format!("cannot start the analyzer thread: {e}"))?
        };

        let token: Option<Arc<str>> = config.token.as_deref().map(Arc::from);
        let ingest = ingest::Ingest::new(jobs_tx, config.queue_bytes);
        let (stop, stopped) = watch::channel(false);
        let until = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let mut tasks = Vec::new();

        let state = web::AppState {
            readers,
            jaeger: config.jaeger.as_deref().map(Arc::from),
            flights,
        };
        let app = web::ui_router(state, token.clone());
        let signal = until(stopped.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(ui_listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                eprintln!("warning: the ui listener stopped: {e}");
            }
        }));
        if let Some(listener) = http_listener {
            let app = web::otlp_router(ingest.clone(), token.clone());
            let signal = until(stopped.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(signal)
                    .await
                {
                    eprintln!("warning: the otlp-http listener stopped: {e}");
                }
            }));
        }
        if let Some(listener) = grpc_listener {
            let svc = ingest::grpc_service(ingest::GrpcIngest {
                ingest: ingest.clone(),
                token: token.clone(),
            });
            let signal = until(stopped.clone());
            tasks.push(tokio::spawn(async move {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                if let Err(e) = tonic::transport::Server::builder()
                    .add_service(svc)
                    .serve_with_incoming_shutdown(incoming, signal)
                    .await
                {
                    eprintln!("warning: the otlp-grpc listener stopped: {e}");
                }
            }));
        }
        drop(ingest);
        Ok(Server {
            ui,
            otlp_grpc,
            otlp_http,
            stop,
            tasks,
            analyzer_stop,
            analyzer: Some(analyzer),
            writer: Some(writer),
        })
    }

    /// The UI and API address.
    pub fn ui_addr(&self) -> SocketAddr {
        self.ui
    }

    /// The OTLP/gRPC address, when on.
    pub fn otlp_grpc_addr(&self) -> Option<SocketAddr> {
        self.otlp_grpc
    }

    /// The OTLP/HTTP address, when on.
    pub fn otlp_http_addr(&self) -> Option<SocketAddr> {
        self.otlp_http
    }

    /// One line per listener: `ui http://HOST:PORT`, `otlp-grpc http://HOST:PORT`,
    /// `otlp-http http://HOST:PORT`.
    pub fn listener_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("ui http://{}", self.ui)];
        if let Some(a) = self.otlp_grpc {
            lines.push(format!("otlp-grpc http://{a}"));
        }
        if let Some(a) = self.otlp_http {
            lines.push(format!("otlp-http http://{a}"));
        }
        lines
    }

    /// Stops accepting, lets requests in flight finish (their batches are committed and
    /// acknowledged), then closes the store.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.analyzer_stop.store(true, Ordering::SeqCst);
        let (analyzer, writer) = (self.analyzer.take(), self.writer.take());
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(a) = analyzer {
                let _ = a.join();
            }
            if let Some(w) = writer {
                let _ = w.join();
            }
        })
        .await;
    }
}

/// Computes and caches the analysis of traces that have gone quiet.
fn run_analyzer(
    stop: &AtomicBool,
    flights: &Arc<flight::Flights>,
    readers: &store::Readers,
    jobs: &std::sync::mpsc::SyncSender<store::WriteJob>,
) {
    while !stop.load(Ordering::SeqCst) {
        let pending = readers
            .with(|c| store::stale_analyses(c, 16))
            .unwrap_or_default();
        if pending.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
            continue;
        }
        for (trace_id, version) in pending {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let outcome = store::shared_analysis(flights, readers, &trace_id, version);
            let analysis = match outcome.as_ref() {
                Ok(Some(json)) => inspector::parse_analysis(json).map(|a| (json.clone(), a)),
                _ => None,
            };
            let (json, rows) = match analysis {
                Some((json, a)) => (json, Some(Box::new(store::RunRows::of(&a)))),
                None => ("null".to_owned(), None),
            };
            if jobs
                .send(store::WriteJob::Analysis {
                    trace_id,
                    version,
                    json,
                    rows,
                })
                .is_err()
            {
                return;
            }
        }
    }
}
