//! A host program with its own subscriber — a `fmt` layer and orchestrace's OTLP layer side
//! by side — whose own request span is the parent of the whole pipeline.
//!
//! ```sh
//! cargo run --example host_app
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example host_app
//! ```
//!
//! The log lines are coloured only on a terminal, and never when `NO_COLOR` is set.

use std::io::IsTerminal;

use orchestrace::pipeline::StaticPlanner;
use orchestrace::{Plan, Runner};
use tracing::Instrument;
use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (otel, guard) = orchestrace::telemetry::layer()?;
    // Colour for people at a terminal; plain text into pipes and files, and with NO_COLOR.
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(color)
                .with_filter(EnvFilter::new("host_app=info")),
        )
        .with(otel)
        .init();

    let plan = Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))?;
    let runner = Runner::builder(StaticPlanner::new(plan))
        .with_workflow("ops-assistant")
        .build();

    // The host's own span, as an HTTP handler would open it.
    let request = tracing::info_span!(
        "POST /ask",
        http.request.method = "POST",
        http.route = "/ask"
    );
    let result = async {
        tracing::info!("question received");
        runner.run("servers and network devices by type").await
    }
    .instrument(request)
    .await?;

    tracing::info!(
        trace_id = result.trace_id.as_deref().unwrap_or("-"),
        "answered"
    );
    println!("{}", result.answer);
    drop(guard);
    Ok(())
}
