//! `orchestrace serve`: the live inspector (OTLP in, embedded store, views in the browser).
//!
//! Prints one line per listener (`ui http://…`, `otlp-grpc http://…`, `otlp-http http://…`),
//! then serves until SIGINT or SIGTERM, when it stops accepting, finishes the writes in flight
//! and exits 0. Exit 2 for bad arguments or a listener or store that cannot be opened.

use std::io::Write;

use clap::Args;
use orchestrace_server::{Config, Retention, Server};

use super::{code, Failure};

/// Arguments of `orchestrace serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Folder of the store (default: the platform data folder's `orchestrace`, else
    /// ./orchestrace-data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<std::path::PathBuf>,
    /// Address of the browser UI and JSON API (port 0 picks a free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:16680")]
    pub listen: std::net::SocketAddr,
    /// Address of the OTLP/gRPC receiver; `off` turns it off.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub otlp_grpc: String,
    /// Address of the OTLP/HTTP receiver (/v1/traces); `off` turns it off.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    pub otlp_http: String,
    /// Also browse traces of this Jaeger query service (v3 API), e.g. http://localhost:16686.
    #[arg(long, value_name = "URL")]
    pub jaeger: Option<String>,
    /// Retention limits: `age=7d,traces=100000,size=2GiB` (any subset; `none` turns one off).
    #[arg(long, value_name = "LIMITS")]
    pub retention: Option<String>,
    /// Bearer token required on UI, API and OTLP; needed off loopback.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "ORCHESTRACE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

fn addr(flag: &str, v: &str) -> Result<Option<std::net::SocketAddr>, Failure> {
    if v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| Failure::invalid(format!("{flag}: expected HOST:PORT or off, got {v:?}")))
}

pub(crate) fn serve(args: ServeArgs) -> Result<u8, Failure> {
    let mut config = Config::new();
    if let Some(d) = args.data {
        config.data_dir = d;
    }
    config.listen = args.listen;
    config.otlp_grpc = addr("--otlp-grpc", &args.otlp_grpc)?;
    config.otlp_http = addr("--otlp-http", &args.otlp_http)?;
    config.jaeger = args.jaeger;
    if let Some(r) = &args.retention {
        config.retention = Retention::parse(r).map_err(Failure::invalid)?;
    }
    config.token = args.token.filter(|t| !t.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::invalid(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let server = Server::start(config).await.map_err(Failure::invalid)?;
        {
            let mut out = std::io::stdout().lock();
            for line in server.listener_lines() {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        }
        stop_signal().await;
        server.shutdown().await;
        Ok(code::OK)
    })
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
