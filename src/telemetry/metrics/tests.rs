//! The metrics observer against an in-memory exporter, beside the spans of the same run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use serde_json::json;
use tracing_subscriber::prelude::*;

use super::*;
use crate::execute::{Orchestrator, OrchestratorBuilder, ToolRegistry};
use crate::plan::{OnFailure, Plan, ToolSpec};
use crate::run::ToolError;

/// One data point: attributes (sorted), and count + sum (histograms) or value (counters).
#[derive(Debug, Clone, PartialEq)]
struct Point {
    attrs: BTreeMap<String, String>,
    count: u64,
    sum: f64,
}

#[derive(Debug, Clone)]
struct Recorded {
    unit: String,
    histogram: bool,
    points: Vec<Point>,
}

/// Keeps the last export, by instrument name.
#[derive(Debug, Clone, Default)]
struct MemoryExporter(Arc<Mutex<BTreeMap<String, Recorded>>>);

fn attrs<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> BTreeMap<String, String> {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

impl PushMetricExporter for MemoryExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut out = self.0.lock().unwrap();
        for scope in metrics.scope_metrics() {
            for m in scope.metrics() {
                let (histogram, points) = match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => (
                        true,
                        h.data_points()
                            .map(|p| Point {
                                attrs: attrs(p.attributes()),
                                count: p.count(),
                                sum: p.sum(),
                            })
                            .collect(),
                    ),
                    AggregatedMetrics::U64(MetricData::Sum(s)) => (
                        false,
                        s.data_points()
                            .map(|p| Point {
                                attrs: attrs(p.attributes()),
                                count: p.value(),
                                sum: p.value() as f64,
                            })
                            .collect(),
                    ),
                    other => panic!("{}: unexpected data {other:?}", m.name()),
                };
                out.insert(
                    m.name().to_owned(),
                    Recorded {
                        unit: m.unit().to_owned(),
                        histogram,
                        points,
                    },
                );
            }
        }
        Ok(())
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

/// Keeps ended spans.
#[derive(Debug, Clone, Default)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Keep {
    fn on_start(&self, _: &mut Span, _: &Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn registry() -> ToolRegistry {
    let mut r = ToolRegistry::new();
    r.register_fn("rows", |_, _| async {
        std::thread::sleep(Duration::from_millis(2));
        Ok(json!({"rows": [1, 2]}))
    });
    r.register_fn("boom", |_, _| async {
        Err(ToolError::with_kind("timeout", "too slow"))
    });
    r.register_fn("http", |_, _| async { Ok(json!(1)) });
    r
}

/// a, b (rows) → c (http) ; d (boom) → e (skipped).
fn plan() -> Plan {
    Plan::new("metrics-plan")
        .with_on_failure(OnFailure::Continue)
        .with_tool(ToolSpec::new("a", "rows"))
        .with_tool(ToolSpec::new("b", "rows"))
        .with_tool(
            ToolSpec::new("c", "http")
                .map("n", "{a.rows[0]}")
                .depends_on("b"),
        )
        .with_tool(ToolSpec::new("d", "boom"))
        .with_tool(ToolSpec::new("e", "rows").depends_on("d"))
}

struct Ran {
    metrics: BTreeMap<String, Recorded>,
    spans: Vec<SpanData>,
    reports: Vec<RunReport>,
}

/// Runs `plan()` `runs` times, traced and measured, inside `outer` span names.
fn run(runs: usize, outer: Option<&'static str>) -> Ran {
    let exporter = MemoryExporter::default();
    let metrics = Metrics::builder()
        .with_workflow("ops")
        .with_exporter(exporter.clone())
        .build()
        .unwrap();
    let orch: Orchestrator = OrchestratorBuilder::bare()
        .with_registry(registry())
        .with_named_observer("spans", Arc::new(crate::telemetry::observe_spans))
        .with_observer(metrics.observer())
        .build();
    let analyzed = orch.analyze(plan()).unwrap();
    let keep = Keep::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(keep.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let reports = tracing::subscriber::with_default(subscriber, || {
        (0..runs)
            .map(|_| match outer {
                Some("invoke_agent") => {
                    let host = tracing::info_span!("invoke_agent");
                    let _in = host.enter();
                    rt.block_on(orch.run(&analyzed))
                }
                _ => rt.block_on(orch.run(&analyzed)),
            })
            .collect::<Vec<_>>()
    });
    metrics.force_flush().unwrap();
    let spans = keep.0.lock().unwrap().clone();
    let recorded = exporter.0.lock().unwrap().clone();
    Ran {
        metrics: recorded,
        spans,
        reports,
    }
}

fn point<'a>(r: &'a Recorded, want: &[(&str, &str)]) -> &'a Point {
    r.points
        .iter()
        .find(|p| {
            want.iter()
                .all(|(k, v)| p.attrs.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no point with {want:?} in {:?}", r.points))
}

fn span_secs(s: &SpanData) -> f64 {
    s.end_time
        .duration_since(s.start_time)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn tool_durations_are_the_span_durations() {
    let ran = run(2, None);
    let m = &ran.metrics[names::EXECUTE_TOOL_DURATION];
    assert_eq!(m.unit, "s");
    assert!(m.histogram);
    // a and b: rows/function, ok; c: http/extension; d: boom with error.type; e never ran.
    let rows = point(m, &[("gen_ai.tool.name", "rows")]);
    assert_eq!(
        rows.attrs,
        BTreeMap::from([
            ("gen_ai.tool.name".into(), "rows".into()),
            ("gen_ai.tool.type".into(), "function".into()),
        ])
    );
    assert_eq!(rows.count, 4, "two tools in two runs");
    let http = point(m, &[("gen_ai.tool.name", "http")]);
    assert_eq!(http.attrs["gen_ai.tool.type"], "extension");
    assert_eq!(http.count, 2);
    let boom = point(m, &[("gen_ai.tool.name", "boom")]);
    assert_eq!(boom.attrs["error.type"], "timeout");
    assert_eq!(boom.count, 2);
    let total: u64 = m.points.iter().map(|p| p.count).sum();
    let started = ran
        .reports
        .iter()
        .flat_map(|r| &r.tools)
        .filter(|t| t.started_at.is_some())
        .count() as u64;
    assert_eq!(total, started, "one value per tool run");
    assert_eq!(total, 8);

    // The values are the tools' span durations, up to the clock reads between them.
    let mut metric_sum = 0.0;
    for (r, report) in ran.reports.iter().enumerate() {
        for t in report.tools.iter().filter(|t| t.started_at.is_some()) {
            let spans: Vec<f64> = ran
                .spans
                .iter()
                .filter(|s| {
                    s.attributes.iter().any(|kv| {
                        kv.key.as_str() == "orchestration.tool_id" && kv.value.as_str() == t.id
                    })
                })
                .map(span_secs)
                .collect();
            let span = spans[r];
            let value = tool_seconds(t);
            assert!(
                (value - span).abs() < 0.001,
                "run {r} tool {}: metric {value} s, span {span} s",
                t.id
            );
            if t.tool == "rows" {
                metric_sum += value;
            }
        }
    }
    assert!(
        (rows.sum - metric_sum).abs() < 1e-9,
        "{} vs {metric_sum}",
        rows.sum
    );
    assert!(
        rows.sum >= 4.0 * 0.002,
        "each rows tool sleeps 2 ms: {}",
        rows.sum
    );
}

#[test]
fn run_metrics_have_low_cardinality_attributes() {
    let ran = run(3, None);
    let inv = &ran.metrics[names::INVOCATION_DURATION];
    assert_eq!(inv.unit, "s");
    let p = point(inv, &[]);
    assert_eq!(
        p.attrs,
        BTreeMap::from([
            ("gen_ai.operation.name".into(), "invoke_workflow".into()),
            ("gen_ai.invocation.is_nested".into(), "false".into()),
            ("gen_ai.workflow.name".into(), "ops".into()),
            ("error.type".into(), "timeout".into()),
        ])
    );
    assert_eq!(p.count, 3);
    let runs = &ran.metrics[names::RUNS];
    assert_eq!(runs.unit, "{run}");
    assert!(!runs.histogram);
    let r = point(runs, &[("orchestration.status", "error")]);
    assert_eq!(r.count, 3);
    assert_eq!(r.attrs["orchestration.execution_strategy"], "dag");
    let tools = &ran.metrics[names::TOOL_RUNS];
    assert_eq!(
        point(
            tools,
            &[("gen_ai.tool.name", "rows"), ("orchestration.status", "ok")]
        )
        .count,
        6
    );
    assert_eq!(
        point(tools, &[("orchestration.status", "skipped")]).count,
        3
    );
    assert_eq!(point(tools, &[("orchestration.status", "error")]).count, 3);
    for name in [
        names::RUN_MAKESPAN,
        names::RUN_SERIAL_DURATION,
        names::RUN_TIME_SAVED,
        names::RUN_CRITICAL_PATH,
        names::TOOL_QUEUE_WAIT,
    ] {
        let m = &ran.metrics[name];
        assert_eq!((m.unit.as_str(), m.histogram), ("s", true), "{name}");
    }
    let makespan: f64 = ran
        .reports
        .iter()
        .map(|r| r.summary.total_duration_ms / 1000.0)
        .sum();
    assert!((point(&ran.metrics[names::RUN_MAKESPAN], &[]).sum - makespan).abs() < 1e-9);
    let waits: u64 = ran.metrics[names::TOOL_QUEUE_WAIT]
        .points
        .iter()
        .map(|p| p.count)
        .sum();
    assert_eq!(waits, 12, "one per started tool");
    let crit = &ran.metrics[names::TOOL_CRITICAL_PATH];
    let on_path: u64 = crit.points.iter().map(|p| p.count).sum();
    let expected: usize = ran
        .reports
        .iter()
        .map(|r| r.summary.critical_path.len())
        .sum();
    assert_eq!(on_path, expected as u64);
    // No id of a run, trace or tool call anywhere.
    for (name, m) in &ran.metrics {
        for p in &m.points {
            for key in p.attrs.keys() {
                assert!(
                    !key.contains("id") && !key.contains("trace"),
                    "{name} carries {key}"
                );
            }
        }
    }
}

#[test]
fn a_run_inside_a_host_agent_is_nested() {
    let ran = run(1, Some("invoke_agent"));
    let p = point(&ran.metrics[names::INVOCATION_DURATION], &[]);
    assert_eq!(p.attrs["gen_ai.invocation.is_nested"], "true");
}

#[test]
fn disabled_metrics_record_nothing() {
    let m = Metrics::builder()
        .with_vars(|k| (k == "OTEL_SDK_DISABLED").then(|| "true".to_owned()))
        .unwrap()
        .with_exporter(MemoryExporter::default())
        .build()
        .unwrap();
    assert!(!m.is_enabled());
    assert!(!m.is_exporting());
    let m = Metrics::builder()
        .with_vars(|k| (k == "OTEL_METRICS_EXPORTER").then(|| "none".to_owned()))
        .unwrap()
        .build()
        .unwrap();
    assert!(!m.is_enabled());
}

#[test]
fn environment_is_read_and_bad_values_are_named() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let b = Metrics::builder()
        .with_vars(vars(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "http://127.0.0.1:9999",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "250"),
        ]))
        .unwrap();
    assert_eq!(b.endpoint.as_deref(), Some("http://127.0.0.1:9999"));
    assert_eq!(b.protocol, Some(OtlpProtocol::HttpProtobuf));
    assert_eq!(b.temporality, Some(Temporality::Delta));
    assert_eq!(b.interval, Some(Duration::from_millis(250)));
    // Code wins over the environment.
    let b = Metrics::builder()
        .with_interval(Duration::from_secs(1))
        .with_vars(vars(&[("OTEL_METRIC_EXPORT_INTERVAL", "250")]))
        .unwrap();
    assert_eq!(b.interval, Some(Duration::from_secs(1)));
    let err = |pairs| {
        Metrics::builder()
            .with_vars(vars(pairs))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&[("OTEL_METRICS_EXPORTER", "prometheus")]),
        "telemetry configuration: OTEL_METRICS_EXPORTER=\"prometheus\": use otlp or none"
    );
    assert!(err(&[(
        "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        "lowmemory"
    )])
    .contains("use cumulative or delta"));
    assert!(err(&[("OTEL_METRIC_EXPORT_INTERVAL", "1s")]).contains("not a number of milliseconds"));
}

#[test]
fn shutdown_is_bounded() {
    #[derive(Debug)]
    struct Stuck;
    impl PushMetricExporter for Stuck {
        async fn export(&self, _: &ResourceMetrics) -> OTelSdkResult {
            Ok(())
        }
        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }
        fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
            std::thread::sleep(Duration::from_secs(3));
            Ok(())
        }
        fn temporality(&self) -> Temporality {
            Temporality::Cumulative
        }
    }
    let m = Metrics::builder()
        .with_exporter(Stuck)
        .with_shutdown_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    assert!(!m.shutdown(), "the stuck exporter is left behind");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
