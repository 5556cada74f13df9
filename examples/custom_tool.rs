//! A tool of your own (an async struct implementing `Tool`, and a closure), and a planner of
//! your own standing in for an LLM planner.
//!
//! ```sh
//! cargo run --example custom_tool
//! ```

use orchestrace::pipeline::{Planner, StageError};
use orchestrace::plan::ToolSpec;
use orchestrace::{Plan, Runner, Tool, ToolContext, ToolError, ToolRegistry};
use serde_json::{json, Value};

/// Looks up the on-call engineer of a service (a stand-in for a real API call).
struct OnCall;

#[orchestrace::async_trait]
impl Tool for OnCall {
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError> {
        let service = input["service"]
            .as_str()
            .ok_or_else(|| ToolError::with_kind("invalid_input", "service is required"))?;
        // Spans opened here are children of this tool's `execute_tool` span.
        let _lookup = tracing::info_span!(parent: ctx.span(), "oncall.lookup", service).entered();
        Ok(json!({"service": service, "engineer": "kim", "since": "2026-11-24T08:00:00Z"}))
    }
}

/// Plans from the query by a trivial rule; a host plugs its LLM planner in the same way.
struct RulePlanner;

#[orchestrace::async_trait]
impl Planner for RulePlanner {
    fn asset_id(&self) -> Option<String> {
        Some("prompt:oncall-planner:v1".into())
    }

    async fn plan(&self, query: &str) -> Result<Plan, StageError> {
        let service = query
            .split_whitespace()
            .last()
            .ok_or_else(|| StageError::route_plan("the query names no service"))?;
        Ok(Plan::new("oncall")
            .with_tool(ToolSpec::new("who", "oncall").with_params(json!({ "service": service })))
            .with_tool(
                ToolSpec::new("inventory", "ci_lookup")
                    .with_params(json!({"keywords": ["server"]})),
            )
            .with_tool(
                ToolSpec::new("page", "notify")
                    .map("to", "{who.engineer}")
                    .map(
                        "text",
                        "{who.service}: {inventory.summary.total_count} servers affected",
                    ),
            ))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut tools = ToolRegistry::with_builtins();
    tools.register("oncall", OnCall);
    tools.register_fn("notify", |input, _ctx| async move {
        Ok(json!({"sent": true, "message": format!("@{} {}", input["to"].as_str().unwrap_or("?"), input["text"].as_str().unwrap_or(""))}))
    });
    let orchestrator = orchestrace::Orchestrator::new(tools);
    let runner = Runner::builder(RulePlanner)
        .with_orchestrator(orchestrator)
        .build();
    let result = runner.run("who is on call for checkout").await?;
    let page = result.execution.tool("page").expect("planned");
    println!("{}", page.output.as_ref().expect("succeeded")["message"]);
    assert!(result.succeeded());
    Ok(())
}
