//! Load a plan, run it through the five stages, print the answer and the trace id.
//!
//! ```sh
//! cargo run --example quickstart
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example quickstart
//! ```

use orchestrace::pipeline::StaticPlanner;
use orchestrace::{Plan, Runner};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Export follows the OTEL_* variables; without an endpoint, spans stay in the process.
    let (otel, guard) = orchestrace::telemetry::layer()?;
    tracing_subscriber::registry().with(otel).init();

    let plan = Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))?;
    let runner = Runner::builder(StaticPlanner::new(plan))
        .with_workflow("quickstart")
        .build();
    let result = runner.run("servers and network devices by type").await?;

    println!("{}", result.answer);
    for stage in &result.plan_trace.stages {
        println!(
            "  {:<10} {:>7.1} ms  {}",
            stage.stage,
            stage.duration_ms,
            stage.asset_id.as_deref().unwrap_or("-")
        );
    }
    println!(
        "trace id: {}",
        result.trace_id.as_deref().unwrap_or("(not traced)")
    );
    drop(guard); // flushes, bounded by the shutdown timeout
    Ok(())
}
