//! Failure behaviour: a collector that is down, slow or rejecting; tools that panic, hang, flood
//! or lack data; cancellation by Ctrl-C and by dropping the run; secrets that must never leave.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use orchestrace::content::TelemetryConfig;
use orchestrace::pipeline::StaticPlanner;
use orchestrace::plan::ToolSpec;
use orchestrace::semconv as attr;
use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder, TelemetryGuard};
use orchestrace::{Orchestrator, Plan, Runner, ToolError, ToolRegistry};
use serde_json::{json, Value};
use support::{closed_port, orchestrace, Attr, Receiver, RecvSpan};
use tracing_subscriber::prelude::*;

fn tool<'a>(spans: &'a [RecvSpan], id: &str) -> &'a RecvSpan {
    spans
        .iter()
        .find(|s| s.attributes.get(attr::TOOL_ID) == Some(&Attr::S(id.into())))
        .unwrap_or_else(|| panic!("no span for tool {id}"))
}

fn pipeline(
    endpoint: String,
    protocol: OtlpProtocol,
) -> (TelemetryGuard, impl tracing::Subscriber + Send + Sync) {
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_shutdown_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    (telemetry.guard(), subscriber)
}

// 1. Collector down from the start.
#[test]
fn a_collector_down_from_the_start_costs_one_warning_and_no_failure() {
    let plan = "examples/plans/ci_ops.json";
    let untraced = orchestrace(&["run", plan], &[]);
    assert_eq!(untraced.status.code(), Some(0));
    for proto in ["grpc", "http"] {
        let url = format!("http://127.0.0.1:{}", closed_port());
        let out = orchestrace(&["run", plan, "--otlp", &url, "--protocol", proto], &[]);
        assert_eq!(out.status.code(), Some(0), "{proto}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "exactly one warning: {stderr}");
        assert!(
            lines[0].starts_with("warning: 11 of 11 spans were not exported to "),
            "{}",
            lines[0]
        );
        assert!(lines[0].contains(&url), "names the endpoint: {}", lines[0]);
        assert!(!stderr.contains("panicked"));
        // The run itself reported normally.
        assert!(String::from_utf8_lossy(&out.stdout).contains("✓ aggregate ["));
    }
}

#[test]
fn a_full_queue_drops_spans_and_counts_them_once() {
    // 300 tools against a closed port with a 16-span queue: most spans overflow the queue.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("wide.json");
    let tools: Vec<Value> = (0..300)
        .map(|i| json!({"id": format!("t{i}"), "tool": "echo"}))
        .collect();
    std::fs::write(
        &plan,
        json!({"plan_id": "wide", "max_concurrency": 64, "tools": tools}).to_string(),
    )
    .unwrap();
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = orchestrace(
        &["run", plan.to_str().unwrap(), "--otlp", &url, "--json"],
        &[("OTEL_BSP_MAX_QUEUE_SIZE", "16")],
    );
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let total = 300 + 1 + 1 + 5; // tools, one level, the root, five stages
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "warning: {total} of {total} spans were not exported to {url}"
        )),
        "{stderr}"
    );
}

/// Runs `examples/plans/parallel.json` (6 spans) exporting to `endpoint`, then shuts down.
async fn export_parallel_plan(
    endpoint: String,
    protocol: OtlpProtocol,
) -> orchestrace::telemetry::ExportSummary {
    let (guard, subscriber) = pipeline(endpoint, protocol);
    let orch = Orchestrator::default();
    let plan = orch
        .analyze(Plan::from_path("examples/plans/parallel.json").unwrap())
        .unwrap();
    {
        let _d = tracing::subscriber::set_default(subscriber);
        orch.run(&plan).await;
    }
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    summary
}

// 3. Slow or rejecting collector.
#[tokio::test]
async fn an_unavailable_collector_is_retried_until_the_data_arrives() {
    let rx = Receiver::start().await;
    rx.behaviour()
        .unavailable_first
        .store(2, std::sync::atomic::Ordering::SeqCst);
    let summary = export_parallel_plan(rx.grpc_url(), OtlpProtocol::Grpc).await;
    assert_eq!(summary.dropped, 0, "{summary:?}");
    assert_eq!(summary.exported, 6);
    assert_eq!(summary.warning(), None);
    assert_eq!(rx.spans().len(), 6);
    assert_eq!(rx.attempts(), 3, "two refusals, then the accepted retry");
}

#[tokio::test]
async fn a_rejecting_collector_is_not_retried_and_is_counted() {
    let rx = Receiver::start().await;
    rx.behaviour()
        .reject_http
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let summary = export_parallel_plan(rx.http_url(), OtlpProtocol::HttpProtobuf).await;
    assert_eq!(summary.exported, 0);
    assert_eq!(summary.dropped, 6);
    assert_eq!(rx.attempts(), 1, "HTTP 400 is final: no retry");
    let warning = summary.warning().unwrap();
    assert!(
        warning.starts_with(&format!(
            "6 of 6 spans were not exported to {}/v1/traces",
            rx.http_url()
        )),
        "{warning}"
    );
    assert!(warning.contains("400"), "{warning}");
}

// 4. Tools misbehaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_tools_fail_alone_and_say_why() {
    let rx = Receiver::start().await;
    let mut reg = ToolRegistry::with_builtins();
    reg.register_fn("panics", |_input: Value, _| async move {
        if true {
            panic!("index out of bounds: the len is 0");
        }
        Ok::<Value, ToolError>(Value::Null)
    });
    reg.register_fn("hangs", |_input: Value, _| async move {
        futures::future::pending::<()>().await;
        Ok::<Value, ToolError>(Value::Null)
    });
    reg.register_fn("floods", |_input: Value, _| async move {
        let row = "x".repeat(1000);
        Ok::<Value, ToolError>(json!({"data": {"rows": vec![row; 10_000]}}))
    });
    let plan = Plan::new("misbehaving")
        .with_tool(ToolSpec::new("panicky", "panics"))
        .with_tool(ToolSpec::new("stuck", "hangs").with_timeout_ms(100))
        .with_tool(ToolSpec::new("flood", "floods"))
        .with_tool(ToolSpec::new("source", "echo").with_params(json!({"rows": []})))
        .with_tool(ToolSpec::new("needs_row", "echo").map("first", "{source.rows[0].name}"))
        .with_tool(ToolSpec::new("after_panic", "echo").depends_on("panicky"))
        .with_tool(ToolSpec::new("after_stuck", "echo").depends_on("stuck"))
        .with_tool(ToolSpec::new("after_missing", "echo").map("v", "{needs_row}"))
        .with_tool(ToolSpec::new("after_flood", "echo").map("n", "{flood.data.rows[9999]}"))
        .with_tool(ToolSpec::new("bystander", "sleep").with_params(json!({"ms": 20})));
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(rx.grpc_url())
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let guard = telemetry.guard();
    let orch = Orchestrator::builder()
        .with_registry(reg)
        .with_telemetry(TelemetryConfig::default().with_capture_content(true))
        .build();
    let analyzed = orch.analyze(plan).unwrap();
    let _d = tracing::subscriber::set_global_default(subscriber);
    let report = orch.run(&analyzed).await;
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.dropped, 0, "{summary:?}");
    let spans = rx.wait_for(1 + 2 + 10, Duration::from_secs(30)).await;

    for (id, kind, message) in [
        ("panicky", "panic", "index out of bounds: the len is 0"),
        ("stuck", "timeout", "no result within 100 ms"),
        ("needs_row", "data_flow", "template \"{source.rows[0].name}\": source.rows[0] is missing (index out of range, length 0)"),
    ] {
        let s = tool(&spans, id);
        assert_eq!(s.status_code, 2, "{id}");
        assert_eq!(s.attr(attr::ERROR_TYPE), &Attr::S(kind.into()), "{id}");
        assert_eq!(s.status_message, message, "{id}");
        assert_eq!(s.attr(attr::STATUS), &Attr::S("error".into()));
    }
    for (id, dep) in [
        ("after_panic", "panicky"),
        ("after_stuck", "stuck"),
        ("after_missing", "needs_row"),
    ] {
        let s = tool(&spans, id);
        assert_eq!(s.attr(attr::STATUS), &Attr::S("skipped".into()));
        assert_eq!(
            s.attr(attr::SKIP_REASON),
            &Attr::S(format!("dependency \"{dep}\" failed"))
        );
    }
    // The flood is exported, its values cut to the limit and marked.
    let flood = tool(&spans, "flood");
    assert_eq!(flood.attr(attr::STATUS), &Attr::S("ok".into()));
    let size = serde_json::to_string(report.tool("flood").unwrap().output.as_ref().unwrap())
        .unwrap()
        .len();
    assert!(size > 10_000_000);
    assert_eq!(flood.attr(attr::RESULT_SIZE_BYTES), &Attr::I(size as i64));
    assert_eq!(flood.attr(attr::RESULT_COUNT), &Attr::I(10_000));
    let result = flood.attr(attr::GEN_AI_TOOL_CALL_RESULT).str();
    assert!(result.chars().count() < 4096 + 100, "{}", result.len());
    assert!(result.contains("…[truncated"), "marked");
    let after_flood = tool(&spans, "after_flood");
    assert_eq!(after_flood.attr(attr::STATUS), &Attr::S("ok".into()));
    let flow = after_flood.attr(attr::DATA_FLOW_INPUTS).str();
    assert!(flow.chars().count() < 4096 + 100);
    assert_eq!(
        tool(&spans, "bystander").attr(attr::STATUS),
        &Attr::S("ok".into())
    );
}

// 5. Cancellation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_cancels_open_spans_flushes_and_exits_130() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("long.json");
    std::fs::write(
        &plan,
        json!({"plan_id": "long", "tools": [
            {"id": "quick", "tool": "sleep", "params": {"ms": 10}},
            {"id": "slow_a", "tool": "sleep", "params": {"ms": 30000}},
            {"id": "slow_b", "tool": "sleep", "params": {"ms": 30000}},
            {"id": "after", "tool": "echo", "depends_on": ["slow_a"]}
        ]})
        .to_string(),
    )
    .unwrap();
    let child = support::cli::command()
        .args(["run", plan.to_str().unwrap(), "--otlp", &rx.grpc_url()])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let spans = rx.wait_for(11, Duration::from_secs(30)).await;
    for id in ["slow_a", "slow_b"] {
        let s = tool(&spans, id);
        assert_eq!(s.attr(attr::STATUS), &Attr::S("cancelled".into()), "{id}");
        assert_eq!(
            s.attr(attr::SKIP_REASON),
            &Attr::S("the run was cancelled".into())
        );
        assert!(
            s.end_ns - s.start_ns < 5_000_000_000,
            "{id} ended at the signal"
        );
    }
    assert_eq!(
        tool(&spans, "after").attr(attr::STATUS),
        &Attr::S("cancelled".into())
    );
    assert_eq!(
        tool(&spans, "quick").attr(attr::STATUS),
        &Attr::S("ok".into())
    );
    let execute = spans.iter().find(|s| s.name == "execute").unwrap();
    assert_eq!(execute.attr(attr::STATUS), &Attr::S("cancelled".into()));
    assert!(spans.iter().any(|s| s.name == "invoke_workflow long"));
}

// One thread: the spans are closed where the subscriber is the default. (On a worker thread
// of its own runtime, `tracing-subscriber` would close a span's parent through that thread's
// default, which in this binary may be another test's global subscriber.)
#[tokio::test]
async fn dropping_the_run_future_ends_open_spans_as_cancelled() {
    let rx = Receiver::start().await;
    let (guard, subscriber) = pipeline(rx.grpc_url(), OtlpProtocol::Grpc);
    let _d = tracing::subscriber::set_default(subscriber);
    let plan = Plan::new("dropped")
        .with_tool(ToolSpec::new("slow", "sleep").with_params(json!({"ms": 30000})))
        .with_tool(ToolSpec::new("quick", "echo"));
    let orch = Orchestrator::default();
    let analyzed = orch.analyze(plan).unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(200), orch.run(&analyzed)).await;
    assert!(dropped.is_err());
    drop(_d);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.dropped, 0);
    let spans = rx.wait_for(4, Duration::from_secs(30)).await;
    let slow = tool(&spans, "slow");
    assert_eq!(slow.attr(attr::STATUS), &Attr::S("cancelled".into()));
    assert!(slow.end_ns - slow.start_ns < 5_000_000_000);
    assert_eq!(
        tool(&spans, "quick").attr(attr::STATUS),
        &Attr::S("ok".into())
    );
    let execute = spans.iter().find(|s| s.name == "execute").unwrap();
    assert_eq!(execute.attr(attr::STATUS), &Attr::S("cancelled".into()));
}

// 8. Redaction by default.
const JWT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcHMtYm90In0.c2lnbmF0dXJlLWJ5dGVzLWhlcmU";
const BEARER: &str = "Bearer sk_live_9f8e7d6c5b4a";

fn secret_values() -> Vec<String> {
    (0..14)
        .map(|i| format!("s3cr3t-value-{i:02}"))
        .chain([JWT.to_owned(), "sk_live_9f8e7d6c5b4a".to_owned()])
        .collect()
}

fn seeded_plan() -> Plan {
    let s = secret_values();
    let keys = [
        "password",
        "db_passwd",
        "client-secret",
        "access.token",
        "api key",
        "Authorization",
        "credentials",
        "privateKey",
        "session_id",
        "Cookie",
        "jwt",
        "customer_ssn",
        "credit-card",
        "refresh_token",
    ];
    let mut params = serde_json::Map::new();
    for (k, v) in keys.iter().zip(&s) {
        params.insert((*k).to_owned(), json!(v));
    }
    params.insert("note".into(), json!(BEARER));
    params.insert("id_token_value".into(), json!(JWT));
    params.insert("author".into(), json!("kim"));
    Plan::new("secrets")
        .with_tool(ToolSpec::new("login", "echo").with_params(Value::Object(params)))
        .with_tool(
            ToolSpec::new("forward", "echo")
                .map("header", "{login.note}")
                .map("copy", "{login.password}")
                .map(
                    "nested",
                    json!({"auth": "{login.author}", "plain": "{login.id_token_value}"}),
                ),
        )
        .with_tool(
            ToolSpec::new("broken", "fail")
                .with_params(
                    json!({"message": format!("upstream said 401 for {BEARER} and {JWT}")}),
                )
                .with_retries(1),
        )
}

fn all_text(s: &RecvSpan) -> String {
    fn attr_text(a: &Attr, out: &mut String) {
        match a {
            Attr::S(v) => out.push_str(v),
            Attr::A(items) => items.iter().for_each(|i| attr_text(i, out)),
            other => out.push_str(&format!("{other:?}")),
        }
        out.push('\n');
    }
    let mut out = format!("{}\n{}\n", s.name, s.status_message);
    let maps = std::iter::once(&s.attributes)
        .chain(s.events.iter().map(|(_, a)| a))
        .chain(s.links.iter().map(|(_, a)| a));
    for m in maps {
        for (k, v) in m {
            out.push_str(k);
            out.push('=');
            attr_text(v, &mut out);
        }
    }
    for (name, _) in &s.events {
        out.push_str(name);
    }
    out
}

#[tokio::test]
async fn no_secret_reaches_the_collector() {
    let rx = Receiver::start().await;
    let (guard, subscriber) = pipeline(rx.grpc_url(), OtlpProtocol::Grpc);
    let orch = Orchestrator::builder()
        .with_retry_backoff(Duration::from_millis(1))
        .with_telemetry(TelemetryConfig::default().with_capture_content(true))
        .build();
    let runner = Runner::builder(StaticPlanner::new(seeded_plan()))
        .with_orchestrator(orch)
        .build();
    let result = {
        let _d = tracing::subscriber::set_default(subscriber);
        runner
            .run(&format!("check my account, my key is {BEARER}"))
            .await
            .unwrap()
    };
    tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    // The run itself saw the real values.
    assert_eq!(
        result
            .execution
            .tool("forward")
            .unwrap()
            .output
            .as_ref()
            .unwrap()["copy"],
        json!(secret_values()[0])
    );

    let spans = rx.wait_for(1 + 5 + 2 + 3, Duration::from_secs(30)).await;
    assert_eq!(spans.len(), 11);
    let everything: String = spans.iter().map(all_text).collect();
    for secret in secret_values() {
        assert!(!everything.contains(&secret), "{secret} leaked");
    }
    assert!(!everything.contains("sk_live"));
    // Redacted, not dropped: the markers are there and the harmless values survive.
    let login = tool(&spans, "login");
    let params: Value = serde_json::from_str(login.attr(attr::PARAMS).str()).unwrap();
    assert_eq!(params["password"], "[REDACTED]");
    assert_eq!(params["author"], "kim");
    let forward = tool(&spans, "forward");
    let flow: Value = serde_json::from_str(forward.attr(attr::DATA_FLOW_INPUTS).str()).unwrap();
    assert_eq!(flow["header"]["value"], "[REDACTED]");
    assert_eq!(flow["copy"]["value"], "[REDACTED]");
    assert_eq!(
        flow["nested"]["value"]["auth"], "[REDACTED]",
        "key auth: redacted whatever the value"
    );
    assert_eq!(flow["nested"]["value"]["plain"], "[REDACTED]");
    assert_eq!(
        flow["copy"]["expression"], "{login.password}",
        "templates are not secrets"
    );
    let broken = tool(&spans, "broken");
    assert_eq!(
        broken.status_message,
        "upstream said 401 for Bearer [REDACTED] and [REDACTED]"
    );
    let root = spans
        .iter()
        .find(|s| s.name.starts_with("invoke_workflow"))
        .unwrap();
    assert_eq!(
        root.attr("orchestration.query"),
        &Attr::S("check my account, my key is Bearer [REDACTED]".into())
    );
}
