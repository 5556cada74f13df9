//! A tool that is a service: it continues the caller's trace, so its spans show up in Jaeger or
//! Tempo under the `execute_tool http` span that called it.
//!
//! Each `POST /lookup` (`{"keywords": [...], "latency_ms": N}`) extracts the W3C context from
//! the request headers with [`orchestrace::propagation::extract`], makes its server span a child
//! of the caller's tool span, and does its work in spans of its own (`lookup` → `score`). It
//! exports to the same collector as the orchestrator, configured by the `OTEL_*` variables.
//!
//! ```sh
//! # terminal 1: the service (PORT or --port; 0 picks a free port; the default is 8088)
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example remote_tool
//! # terminal 2: a plan that calls it twice in parallel and once after
//! cargo run -- run examples/plans/remote_tools.json --otlp http://localhost:4317
//! ```
//!
//! The service prints `listening on 127.0.0.1:PORT` on stdout once it accepts requests, and
//! exits on Ctrl-C or SIGTERM after flushing its spans.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use orchestrace::propagation::extract;
use orchestrace::telemetry::TelemetryBuilder;
use serde_json::{json, Value};
use tracing::field::Empty;
use tracing::Instrument;
use tracing_subscriber::prelude::*;

/// The port when neither `--port` nor `PORT` says otherwise.
const DEFAULT_PORT: u16 = 8088;

/// The service's inventory: (type, name, count).
const INVENTORY: &[(&str, &str, u64)] = &[
    ("Server", "linux-server", 42),
    ("Application", "web-app", 31),
    ("NetworkDevice", "switch", 28),
    ("Server", "windows-server", 17),
    ("NetworkDevice", "router", 12),
    ("Database", "postgres", 9),
];

fn port() -> Result<u16, String> {
    let mut args = std::env::args().skip(1);
    let mut from_args = None;
    while let Some(arg) = args.next() {
        if let Some(v) = arg.strip_prefix("--port=") {
            from_args = Some(v.to_owned());
        } else if arg == "--port" {
            from_args = Some(args.next().ok_or("--port needs a value")?);
        } else {
            return Err(format!(
                "unexpected argument {arg:?} (usage: remote_tool [--port N])"
            ));
        }
    }
    match from_args.or_else(|| std::env::var("PORT").ok()) {
        Some(p) => p.trim().parse().map_err(|_| format!("invalid port {p:?}")),
        None => Ok(DEFAULT_PORT),
    }
}

fn main() -> ExitCode {
    let port = match port() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The OTEL_* variables decide where spans go; the service names itself unless told.
    let mut builder = match TelemetryBuilder::from_env() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        builder = builder.with_service_name("remote-tool");
    }
    let telemetry = match builder.build() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .with(telemetry.layer())
        .init();
    let guard = telemetry.guard();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(serve(port));
    drop(runtime);
    // Flushes the last spans (bounded by the shutdown timeout).
    drop(guard);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/lookup", post(lookup))
        .route("/health", get(|| async { "ok" }));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `POST /lookup`: the inventory rows matching the keywords, scored.
async fn lookup(headers: HeaderMap, body: Bytes) -> (StatusCode, Json<Value>) {
    let span = tracing::info_span!(
        "POST /lookup",
        otel.kind = "server",
        http.request.method = "POST",
        http.route = "/lookup",
        http.response.status_code = Empty,
        lookup.keywords = Empty,
    );
    // Trust choice: this service trusts its callers, so it continues their trace. A public
    // edge would call `parent.link_from(&span)` instead and keep a trace of its own.
    if let Some(parent) = extract(&headers) {
        parent.continue_trace(&span);
    }
    let (status, reply) = handle(&body).instrument(span.clone()).await;
    span.record("http.response.status_code", status.as_u16());
    (status, Json(reply))
}

async fn handle(body: &[u8]) -> (StatusCode, Value) {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    json!({"error": format!("invalid JSON: {e}")}),
                )
            }
        }
    };
    let keywords: Vec<String> = input["keywords"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    tracing::Span::current().record("lookup.keywords", keywords.join(",").as_str());
    let latency = Duration::from_millis(input["latency_ms"].as_u64().unwrap_or(20).min(5_000));

    let rows = async {
        tokio::time::sleep(latency).await;
        INVENTORY
            .iter()
            .filter(|(t, n, _)| {
                keywords.is_empty()
                    || keywords.iter().any(|k| {
                        t.to_lowercase().contains(k.as_str())
                            || n.to_lowercase().contains(k.as_str())
                    })
            })
            .map(|(t, n, c)| json!({"ci_type": t, "name": n, "count": c}))
            .collect::<Vec<_>>()
    }
    .instrument(tracing::info_span!("lookup"))
    .await;
    tracing::info!(rows = rows.len(), "looked up");

    let score_span = tracing::info_span!("score", score.total = Empty);
    let total: u64 = score_span.in_scope(|| {
        let total = rows.iter().filter_map(|r| r["count"].as_u64()).sum();
        tracing::Span::current().record("score.total", total);
        total
    });
    (
        StatusCode::OK,
        json!({"rows": rows, "total": total, "served_by": "remote-tool"}),
    )
}
