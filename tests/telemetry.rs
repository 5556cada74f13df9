//! The spans of a run, attribute by attribute. The seed plan goes over the wire: a real OTLP
//! receiver (in process, on loopback) decodes what the exporter sends over gRPC and over
//! HTTP/protobuf. The rest reads the in-process capture (no network).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use orchestrace::content::TelemetryConfig;
use orchestrace::plan::ToolSpec;
use orchestrace::semconv as attr;
use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder};
use orchestrace::{Orchestrator, Plan, RunReport};
use serde_json::json;
use support::receiver::spans_of_json;
use support::spantree::capture;
use support::{Attr, Receiver, RecvSpan};
use tracing_subscriber::prelude::*;

fn ci_ops() -> Plan {
    Plan::from_path(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/plans/ci_ops.json"
    ))
    .unwrap()
}

/// Runs `plan` under a subscriber with our layer exporting to `endpoint`; returns the report
/// after a full shutdown (so everything exported has arrived).
async fn traced_run(
    endpoint: String,
    protocol: OtlpProtocol,
    plan: Plan,
    config: TelemetryConfig,
) -> RunReport {
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(endpoint)
        .with_protocol(protocol)
        .with_service_name("orchestrace-test")
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let guard = telemetry.guard();
    let orch = Orchestrator::builder().with_telemetry(config).build();
    let analyzed = orch.analyze(plan).unwrap();
    let report = {
        let _default = tracing::subscriber::set_default(subscriber);
        orch.run(&analyzed).await
    };
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.dropped, 0, "{summary:?}");
    report
}

/// Runs `plan` with spans captured in process; returns the report and the spans.
async fn captured_run(plan: Plan, config: TelemetryConfig) -> (RunReport, Vec<RecvSpan>) {
    let orch = Orchestrator::builder().with_telemetry(config).build();
    let analyzed = orch.analyze(plan).unwrap();
    let (report, otlp) = capture(orch.run(&analyzed)).await;
    (report, spans_of_json(&otlp))
}

fn by_name<'a>(spans: &'a [RecvSpan], name: &str) -> Vec<&'a RecvSpan> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn tool<'a>(spans: &'a [RecvSpan], id: &str) -> &'a RecvSpan {
    spans
        .iter()
        .find(|s| s.attributes.get(attr::TOOL_ID) == Some(&Attr::S(id.into())))
        .unwrap_or_else(|| panic!("no span for tool {id}"))
}

fn strings(a: &Attr) -> Vec<String> {
    match a {
        Attr::A(items) => items.iter().map(|i| i.str().to_owned()).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn assert_ci_ops_tree(spans: &[RecvSpan], report: &RunReport) {
    assert_eq!(
        spans.len(),
        6,
        "{:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let trace_id = report.trace_id.clone().expect("traced");
    assert!(spans.iter().all(|s| s.trace_id == trace_id));
    assert!(spans
        .iter()
        .all(|s| s.resource.get("service.name") == Some(&Attr::S("orchestrace-test".into()))));

    let execute = by_name(spans, "execute")[0];
    let level0 = by_name(spans, "level 0 (parallel)")[0];
    let level1 = by_name(spans, "level 1 (serial)")[0];
    let (primary, secondary, aggregate) = (
        tool(spans, "primary"),
        tool(spans, "secondary"),
        tool(spans, "aggregate"),
    );

    // Tree shape.
    assert_eq!(level0.parent_span_id, execute.span_id);
    assert_eq!(level1.parent_span_id, execute.span_id);
    assert_eq!(primary.parent_span_id, level0.span_id);
    assert_eq!(secondary.parent_span_id, level0.span_id);
    assert_eq!(aggregate.parent_span_id, level1.span_id);
    assert_eq!(primary.name, "execute_tool ci_lookup");
    assert_eq!(aggregate.name, "execute_tool ci_aggregate");

    // Every attribute of the aggregate tool span, with its type.
    let a = &aggregate.attributes;
    assert_eq!(
        a[attr::GEN_AI_OPERATION_NAME],
        Attr::S("execute_tool".into())
    );
    assert_eq!(a[attr::GEN_AI_TOOL_NAME], Attr::S("ci_aggregate".into()));
    assert_eq!(a[attr::GEN_AI_TOOL_CALL_ID], Attr::S("aggregate".into()));
    assert_eq!(a[attr::TOOL_ID], Attr::S("aggregate".into()));
    assert_eq!(a[attr::STAGE], Attr::S("execute".into()));
    assert_eq!(
        a[attr::ASSET_ID],
        Attr::S("ci_aggregate:v2:published".into())
    );
    assert_eq!(a[attr::EXECUTION_STRATEGY], Attr::S("dag".into()));
    assert_eq!(a[attr::EXECUTION_GROUP], Attr::I(1));
    assert_eq!(a[attr::EXECUTION_ORDER_INDEX], Attr::I(2));
    assert_eq!(a[attr::PARALLEL_WITH], Attr::A(vec![]));
    assert_eq!(strings(&a[attr::DEPENDS_ON]), vec!["primary", "secondary"]);
    let flow: serde_json::Value = serde_json::from_str(a[attr::DATA_FLOW_INPUTS].str()).unwrap();
    assert_eq!(
        flow,
        json!({
            "primary_count": {"expression": "{primary.data.rows[0].count}", "value": 42},
            "secondary_count": {"expression": "{secondary.data.rows[0].count}", "value": 28}
        })
    );
    let params: serde_json::Value = serde_json::from_str(a[attr::PARAMS].str()).unwrap();
    assert_eq!(params["group_by"], json!(["ci_type"]));
    assert_eq!(a[attr::STATUS], Attr::S("ok".into()));
    assert!(matches!(a[attr::QUEUE_WAIT_MS], Attr::F(w) if w >= 0.0));
    assert_eq!(a[attr::RETRY_COUNT], Attr::I(0));
    assert_eq!(a[attr::FALLBACK_USED], Attr::B(false));
    assert_eq!(a[attr::CACHE_HIT], Attr::B(false));
    assert_eq!(a[attr::RESULT_COUNT], Attr::I(5));
    let out = report.tool("aggregate").unwrap().output.as_ref().unwrap();
    assert_eq!(
        a[attr::RESULT_SIZE_BYTES],
        Attr::I(serde_json::to_string(out).unwrap().len() as i64)
    );
    assert!(!a.contains_key(attr::ERROR_TYPE));
    assert!(
        !a.contains_key(attr::GEN_AI_TOOL_CALL_ARGUMENTS),
        "content capture is off by default"
    );
    assert!(!a.contains_key(attr::GEN_AI_TOOL_CALL_RESULT));
    assert_eq!(
        strings(&primary.attributes[attr::PARALLEL_WITH]),
        vec!["secondary"]
    );
    assert_eq!(primary.attributes[attr::EXECUTION_GROUP], Attr::I(0));
    assert_eq!(
        secondary.attributes[attr::EXECUTION_ORDER_INDEX],
        Attr::I(1)
    );

    // Links to the dependencies' spans.
    let links: HashMap<String, String> = aggregate
        .links
        .iter()
        .map(|(id, la)| {
            assert_eq!(la[attr::LINK], Attr::S("depends_on".into()));
            (la[attr::TOOL_ID].str().to_owned(), id.clone())
        })
        .collect();
    assert_eq!(links["primary"], primary.span_id);
    assert_eq!(links["secondary"], secondary.span_id);
    assert!(primary.links.is_empty());

    // Level spans cover their tools: open at the first start, close at the last end.
    assert!(level0.start_ns <= primary.start_ns.min(secondary.start_ns));
    assert!(level0.end_ns >= primary.end_ns.max(secondary.end_ns));
    assert!(level1.start_ns <= aggregate.start_ns && level1.end_ns >= aggregate.end_ns);
    assert!(
        level1.start_ns >= primary.end_ns.max(secondary.end_ns),
        "aggregate waits for both"
    );
    assert_eq!(
        level0.attributes[attr::EXECUTION_MODE],
        Attr::S("parallel".into())
    );
    assert_eq!(
        strings(&level0.attributes[attr::GROUP_TOOLS]),
        vec!["primary", "secondary"]
    );

    // The execute span: the plan, then the totals and the critical path.
    let e = &execute.attributes;
    assert_eq!(e[attr::EXECUTION_STRATEGY], Attr::S("dag".into()));
    let ep: serde_json::Value = serde_json::from_str(e[attr::EXECUTION_PLAN].str()).unwrap();
    assert_eq!(ep, serde_json::to_value(&report.execution_plan).unwrap());
    assert_eq!(
        e[attr::TOTAL_DURATION_MS],
        Attr::F(report.summary.total_duration_ms)
    );
    assert_eq!(
        e[attr::SERIAL_DURATION_MS],
        Attr::F(report.summary.serial_duration_ms)
    );
    assert_eq!(
        e[attr::TIME_SAVED_MS],
        Attr::F(report.summary.time_saved_ms)
    );
    assert_eq!(
        e[attr::CRITICAL_PATH_MS],
        Attr::F(report.summary.critical_path_ms)
    );
    assert_eq!(
        strings(&e[attr::CRITICAL_PATH]),
        report.summary.critical_path
    );
    assert_eq!(
        report.summary.critical_path.last().map(String::as_str),
        Some("aggregate")
    );
}

#[tokio::test]
async fn ci_ops_spans_arrive_over_grpc() {
    let rx = Receiver::start().await;
    let report = traced_run(
        rx.grpc_url(),
        OtlpProtocol::Grpc,
        ci_ops(),
        TelemetryConfig::default(),
    )
    .await;
    let spans = rx.wait_for(6, Duration::from_secs(30)).await;
    assert_ci_ops_tree(&spans, &report);
}

#[tokio::test]
async fn ci_ops_spans_arrive_over_http_protobuf() {
    let rx = Receiver::start().await;
    let report = traced_run(
        rx.http_url(),
        OtlpProtocol::HttpProtobuf,
        ci_ops(),
        TelemetryConfig::default(),
    )
    .await;
    let spans = rx.wait_for(6, Duration::from_secs(30)).await;
    assert_ci_ops_tree(&spans, &report);
}

#[tokio::test(start_paused = true)]
async fn failures_retries_and_skips_are_on_the_spans() {
    let plan = Plan::new("failing")
        .with_tool(
            ToolSpec::new("flaky", "fail")
                .with_params(json!({"message": "flaky once", "times": 1}))
                .with_retries(1),
        )
        .with_tool(ToolSpec::new("down", "fail").with_params(json!({"message": "it is down"})))
        .with_tool(
            ToolSpec::new("rescued", "fail")
                .with_params(json!({"message": "x"}))
                .with_fallback("echo"),
        )
        .with_tool(ToolSpec::new("child", "echo").map("v", "{down.value}"));
    let (report, spans) = captured_run(plan, TelemetryConfig::default()).await;
    assert_eq!(spans.len(), 1 + 2 + 4, "execute, two levels, four tools");

    let down = tool(&spans, "down");
    assert_eq!(down.status_code, 2, "span status ERROR");
    assert_eq!(down.status_message, "it is down");
    assert_eq!(down.attr(attr::ERROR_TYPE), &Attr::S("tool_error".into()));
    assert_eq!(down.attr(attr::STATUS), &Attr::S("error".into()));

    let flaky = tool(&spans, "flaky");
    assert_eq!(flaky.status_code, 0);
    assert_eq!(flaky.attr(attr::RETRY_COUNT), &Attr::I(1));
    let retry = flaky
        .events
        .iter()
        .find(|(n, _)| n == "retry")
        .expect("a retry event");
    assert_eq!(retry.1["attempt"], Attr::I(1));
    assert_eq!(retry.1["error.message"], Attr::S("flaky once".into()));

    let rescued = tool(&spans, "rescued");
    assert_eq!(rescued.attr(attr::FALLBACK_USED), &Attr::B(true));
    assert!(rescued
        .events
        .iter()
        .any(|(n, e)| n == "fallback" && e["fallback"] == Attr::S("echo".into())));

    let child = tool(&spans, "child");
    assert_eq!(child.attr(attr::STATUS), &Attr::S("skipped".into()));
    assert_eq!(
        child.attr(attr::SKIP_REASON),
        &Attr::S("dependency \"down\" failed".into())
    );
    assert_eq!(child.status_code, 0, "skipped is not an error");
    assert!(child.links.iter().any(|(id, _)| *id == down.span_id));
    assert_eq!(
        child.parent_span_id,
        by_name(&spans, "level 1 (serial)")[0].span_id
    );
    assert!(!report.succeeded());
}

#[tokio::test(start_paused = true)]
async fn content_capture_is_opt_in_and_redacted() {
    let plan = Plan::new("p").with_tool(
        ToolSpec::new("login", "echo").with_params(json!({"user": "kim", "password": "hunter2"})),
    );
    let config = TelemetryConfig::default().with_capture_content(true);
    let (_, spans) = captured_run(plan, config).await;
    let login = tool(&spans, "login");
    let args: serde_json::Value =
        serde_json::from_str(login.attr(attr::GEN_AI_TOOL_CALL_ARGUMENTS).str()).unwrap();
    assert_eq!(args, json!({"user": "kim", "password": "[REDACTED]"}));
    let result: serde_json::Value =
        serde_json::from_str(login.attr(attr::GEN_AI_TOOL_CALL_RESULT).str()).unwrap();
    assert_eq!(result, json!({"user": "kim", "password": "[REDACTED]"}));
    let params: serde_json::Value = serde_json::from_str(login.attr(attr::PARAMS).str()).unwrap();
    assert_eq!(params["password"], "[REDACTED]");
}

#[tokio::test(start_paused = true)]
async fn a_host_span_is_the_parent_of_ours() {
    let telemetry = TelemetryBuilder::new().with_capture(true).build().unwrap();
    // The host's own layers beside ours: a fmt layer writing to a sink.
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
        .with(telemetry.layer());
    let guard = telemetry.guard();
    let orch = Orchestrator::default();
    let analyzed = orch.analyze(ci_ops()).unwrap();
    {
        let _default = tracing::subscriber::set_default(subscriber);
        let request = tracing::info_span!("http_request", http.route = "/ops");
        use tracing::Instrument;
        orch.run(&analyzed).instrument(request).await;
    }
    let spans = spans_of_json(&guard.captured().unwrap());
    assert_eq!(
        spans.len(),
        7,
        "the host span, execute, two levels, three tools"
    );
    let host = by_name(&spans, "http_request")[0];
    let execute = by_name(&spans, "execute")[0];
    assert_eq!(execute.parent_span_id, host.span_id);
    assert_eq!(execute.trace_id, host.trace_id);
    assert!(host.parent_span_id.is_empty());
}

#[tokio::test(start_paused = true)]
async fn parallel_with_is_bounded_on_wide_levels() {
    let plan = (0..200).fold(Plan::new("wide"), |p, i| {
        p.with_tool(ToolSpec::new(format!("t{i:03}"), "echo"))
    });
    let (_, spans) = captured_run(plan, TelemetryConfig::default()).await;
    assert_eq!(spans.len(), 202, "execute, one level, 200 tools");
    // A level wider than MAX_PARALLEL_WITH lists its members once, on the level span; its
    // tool spans carry only the count of their peers.
    let t0 = tool(&spans, "t000");
    assert!(!t0.attributes.contains_key(attr::PARALLEL_WITH));
    assert_eq!(t0.attr(attr::PARALLEL_WITH_COUNT), &Attr::I(199));
    let level = spans
        .iter()
        .find(|s| s.name.starts_with("level 0"))
        .unwrap();
    let members = strings(level.attr(attr::GROUP_TOOLS));
    assert_eq!(members.len(), 200);
    assert_eq!(members[0], "t000");
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_tools_clean_up_runs_in_its_span() {
    use tracing_subscriber::layer::{Context, Layer};
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::registry::LookupSpan;

    /// For each event of the `cleanup` target, the name of the span it happened in.
    #[derive(Clone, Default)]
    struct Seen(std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>);
    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            if event.metadata().target() == "cleanup" {
                let span = ctx.event_span(event).map(|s| s.name().to_owned());
                self.0.lock().unwrap().push(span);
            }
        }
    }
    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            tracing::info!(target: "cleanup", "the tool's future is dropped");
        }
    }

    let seen = Seen::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(seen.clone()));
    let mut registry = orchestrace::ToolRegistry::with_builtins();
    registry.register_fn("hang", |_, _| async {
        let _guard = Guard;
        futures::future::pending::<()>().await;
        Ok(serde_json::Value::Null)
    });
    let orch = orchestrace::Orchestrator::new(registry);
    let analyzed = orch
        .analyze(Plan::new("p").with_tool(ToolSpec::new("stuck", "hang")))
        .unwrap();
    let r = orch
        .run_until(
            &analyzed,
            tokio::time::sleep(std::time::Duration::from_millis(100)),
        )
        .await;
    assert_eq!(
        r.tool("stuck").unwrap().status,
        orchestrace::run::ToolStatus::Cancelled
    );
    assert_eq!(
        *seen.0.lock().unwrap(),
        vec![Some("execute_tool".to_owned())],
        "the clean-up of the aborted task ran inside the tool's span"
    );
}
