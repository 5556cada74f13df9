//! The inspector: analysis on traces with known timings, the loaders on real files from
//! Jaeger, Tempo and OpenTelemetry, the sources and their exit codes, the run → inspect round
//! trip, and snapshots of the text views.

mod support;

use std::collections::BTreeSet;

use orchestrace_inspect as inspect;
use orchestrace_inspect::{
    analyze, Analysis, CriticalPathBasis, RenderOptions, SuggestionKind, Trace,
};
use serde_json::{json, Value};
use support::orchestrace;
use support::traces::*;

fn analysis_of(doc: &Value) -> Analysis {
    analyze(&Trace::from_otlp_json(doc).expect("the synthetic trace loads"))
}

fn timing<'a>(a: &'a Analysis, id: &str) -> &'a inspect::ToolTiming {
    a.tools.iter().find(|t| t.id == id).unwrap()
}

fn suggestions(a: &Analysis, kind: SuggestionKind) -> Vec<&inspect::Suggestion> {
    a.suggestions.iter().filter(|s| s.kind == kind).collect()
}

// ---------------------------------------------------------------------------------------------
// Analysis

#[test]
fn seed_example_analysis_has_the_exact_numbers() {
    let a = analysis_of(&seed_trace());
    assert_eq!(a.trace_id, TRACE_ID);
    assert_eq!(a.execution_strategy.map(|s| s.as_str()), Some("dag"));
    assert_eq!(a.total_duration_ms, 2400.0);
    assert_eq!(a.serial_duration_ms, 3200.0);
    assert_eq!(a.time_saved_ms, 800.0);
    assert_eq!(a.time_saved_pct, 25.0);
    assert_eq!(a.critical_path, ["secondary", "aggregate"]);
    assert_eq!(a.critical_path_ms, 2400.0);
    assert_eq!(a.critical_path_basis, CriticalPathBasis::Dependencies);
    assert_eq!(a.level_barrier_ms, Some(2400.0));
    type Row<'a> = (&'a str, &'a str, usize, usize, f64, f64, &'a str, f64);
    let rows: Vec<Row<'_>> = a
        .tools
        .iter()
        .map(|t| {
            (
                t.id.as_str(),
                t.tool.as_str(),
                t.group,
                t.order,
                t.start_ms,
                t.duration_ms,
                t.status.as_str(),
                t.slack_ms,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("primary", "ci_lookup", 0, 0, 0.0, 800.0, "ok", 100.0),
            ("secondary", "ci_lookup", 0, 1, 0.0, 900.0, "ok", 0.0),
            ("aggregate", "ci_aggregate", 1, 2, 900.0, 1500.0, "ok", 0.0),
        ]
    );
    // aggregate is 1.5 s of the 2.4 s path; at half its time the path is 0.9 + 0.75 s.
    assert_eq!(a.suggestions.len(), 1, "{:#?}", a.suggestions);
    let s = &a.suggestions[0];
    assert_eq!(s.kind, SuggestionKind::DominantTool);
    assert_eq!(s.tool.as_deref(), Some("aggregate"));
    assert_eq!(s.estimated_gain_ms, 750.0);
    assert_eq!(
        s.message,
        "aggregate takes 1.5s of the 2.4s critical path (62%); making it twice as fast would cut the critical path by 750ms"
    );
    assert!(a.notes.is_empty(), "{:?}", a.notes);
}

#[test]
fn analysis_json_has_the_spec_keys() {
    let v = serde_json::to_value(analysis_of(&seed_trace())).unwrap();
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "trace_id",
        "execution_strategy",
        "makespan_ms",
        "serial_duration_ms",
        "time_saved_ms",
        "time_saved_pct",
        "critical_path",
        "critical_path_ms",
        "level_barrier_ms",
        "tools",
        "suggestions",
    ] {
        assert!(keys.contains(k), "missing key {k} in {keys:?}");
    }
    let t: BTreeSet<&str> = v["tools"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        t,
        BTreeSet::from([
            "id",
            "tool",
            "group",
            "order",
            "start_ms",
            "duration_ms",
            "status",
            "slack_ms"
        ])
    );
    let s: BTreeSet<&str> = v["suggestions"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        s,
        BTreeSet::from(["kind", "tool", "message", "estimated_gain_ms"])
    );
    assert_eq!(v["suggestions"][0]["kind"], "dominant_tool");
    // And it reads back.
    let back: Analysis = serde_json::from_value(v).unwrap();
    assert_eq!(back, analysis_of(&seed_trace()));
}

#[test]
fn timing_critical_path_differs_from_the_dependency_one_under_a_concurrency_cap() {
    // max_concurrency 1: b (ready at 0) waits for a; c needs b. By dependencies the longest
    // chain is a alone (100 ms > b + c = 80 ms); by timing a, b and c ran back to back.
    let a = analysis_of(&run_trace(
        "capped",
        "dag",
        &[
            tool("a", "sleep", 0.0, 100.0),
            tool("b", "sleep", 100.0, 130.0).queue_wait(100.0),
            tool("c", "echo", 130.0, 180.0)
                .deps(&["b"])
                .flow("x", "{b.v}", json!(1)),
        ],
    ));
    assert_eq!(a.critical_path, ["a"]);
    assert_eq!(a.critical_path_ms, 100.0);
    assert_eq!(a.timing_critical_path, ["a", "b", "c"]);
    assert_eq!(a.total_duration_ms, 180.0);
    assert_eq!(a.serial_duration_ms, 180.0);
    assert_eq!(a.time_saved_ms, 0.0);
    assert_eq!(a.level_barrier_ms, Some(150.0));
    assert_eq!(
        a.tools.iter().map(|t| t.slack_ms).collect::<Vec<_>>(),
        vec![0.0, 20.0, 20.0]
    );
    let q = suggestions(&a, SuggestionKind::QueueWait);
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].tool.as_deref(), Some("b"));
    assert_eq!(q[0].estimated_gain_ms, 100.0);
    assert_eq!(
        q[0].message,
        "b waited 100ms for a free slot after its dependencies were done; a higher max_concurrency would let it start 100ms earlier"
    );
}

#[test]
fn level_barrier_is_what_level_by_level_execution_would_take() {
    // A 10 → B 100 and C 100 → D 10: dataflow runs both chains in 110 ms; with a barrier
    // after level 0 (A, C) the run takes max(10, 100) + max(100, 10) = 200 ms.
    let a = analysis_of(&run_trace(
        "two-chains",
        "dag",
        &[
            tool("A", "sleep", 0.0, 10.0),
            tool("B", "sleep", 10.0, 110.0)
                .deps(&["A"])
                .flow("x", "{A}", json!(1)),
            tool("C", "sleep", 0.0, 100.0),
            tool("D", "sleep", 100.0, 110.0)
                .deps(&["C"])
                .flow("x", "{C}", json!(1)),
        ],
    ));
    assert_eq!(a.total_duration_ms, 110.0);
    assert_eq!(a.serial_duration_ms, 220.0);
    assert_eq!(a.level_barrier_ms, Some(200.0));
    assert_eq!(a.critical_path_ms, 110.0);
    assert_eq!(a.critical_path, ["A", "B"]);
    assert_eq!(
        a.tools
            .iter()
            .map(|t| (t.id.as_str(), t.group))
            .collect::<Vec<_>>(),
        vec![("A", 0), ("C", 0), ("B", 1), ("D", 1)]
    );
    assert!(a.suggestions.is_empty(), "{:#?}", a.suggestions);
}

#[test]
fn a_declared_dependency_the_data_flow_never_reads_is_suggested_with_its_gain() {
    // c declares a and b but reads only b; b was done at 20 ms, a at 100 ms: without the
    // dependency on a, c could have started 80 ms earlier.
    let a = analysis_of(&run_trace(
        "unused",
        "dag",
        &[
            tool("a", "sleep", 0.0, 100.0),
            tool("b", "sleep", 0.0, 20.0),
            tool("c", "echo", 100.0, 150.0).deps(&["a", "b"]).flow(
                "rows",
                "{b.data.rows}",
                json!([1, 2]),
            ),
        ],
    ));
    let u = suggestions(&a, SuggestionKind::UnusedDependency);
    assert_eq!(u.len(), 1, "{:#?}", a.suggestions);
    assert_eq!(u[0].tool.as_deref(), Some("c"));
    assert_eq!(u[0].estimated_gain_ms, 80.0);
    assert_eq!(
        u[0].message,
        "c declares depends_on a but its data flow never reads a; unless the order matters, dropping the dependency would let c start 80ms earlier"
    );
    // The dependency-based path goes through the unused edge: a → c.
    assert_eq!(a.critical_path, ["a", "c"]);
    assert_eq!(a.critical_path_ms, 150.0);
    assert_eq!(timing(&a, "b").slack_ms, 80.0);
}

#[test]
fn time_lost_to_retries_comes_from_the_retry_events() {
    let a = analysis_of(&run_trace(
        "retries",
        "parallel",
        &[
            // Failed at 100 ms, retried after 50 ms; failed again at 250 ms, retried after
            // 100 ms: the successful attempt started at 350 ms.
            tool("flaky", "fail", 0.0, 400.0)
                .retries(2)
                .event("retry", 100.0, json!({"attempt": 1, "backoff_ms": 50.0}))
                .event("retry", 250.0, json!({"attempt": 2, "backoff_ms": 100.0})),
            // No events: half of the time of two attempts is the estimate.
            tool("legacy", "fail", 0.0, 300.0).retries(1),
        ],
    ));
    let r = suggestions(&a, SuggestionKind::Retries);
    let got: Vec<(Option<&str>, f64)> = r
        .iter()
        .map(|s| (s.tool.as_deref(), s.estimated_gain_ms))
        .collect();
    assert_eq!(got, vec![(Some("flaky"), 350.0), (Some("legacy"), 150.0)]);
    assert_eq!(
        r[0].message,
        "flaky needed 2 retries; the failed attempts and backoff took 350ms of its 400ms"
    );
}

#[test]
fn a_serial_strategy_over_independent_tools_is_flagged() {
    let a = analysis_of(&run_trace(
        "serial",
        "serial",
        &[
            tool("a", "sleep", 0.0, 100.0).group(0),
            tool("b", "sleep", 100.0, 200.0).group(1),
            tool("c", "echo", 200.0, 300.0)
                .group(2)
                .deps(&["a"])
                .flow("x", "{a}", json!(1)),
        ],
    ));
    assert_eq!(a.total_duration_ms, 300.0);
    assert_eq!(a.critical_path, ["a", "c"]);
    assert_eq!(a.level_barrier_ms, Some(200.0));
    let s = suggestions(&a, SuggestionKind::SerialStrategy);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].tool, None);
    assert_eq!(s[0].estimated_gain_ms, 100.0);
    assert_eq!(
        s[0].message,
        "the serial strategy ran one tool at a time, but a and b do not depend on each other; with \"auto\" or \"dag\" the run could take about 200ms instead of 300ms"
    );
}

#[test]
fn failures_skips_and_unused_dependencies_of_a_failing_run() {
    let a = analysis_of(&failing_trace());
    assert_eq!(
        a.tools
            .iter()
            .map(|t| (t.id.as_str(), t.status.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("primary", "ok"),
            ("flaky_source", "error"),
            ("aggregate", "skipped"),
            ("summary", "ok")
        ]
    );
    assert_eq!(a.critical_path, ["flaky_source"]);
    let u = suggestions(&a, SuggestionKind::UnusedDependency);
    // aggregate reads neither; summary reads primary.
    assert_eq!(
        u.iter()
            .map(|s| s.message.as_str())
            .collect::<Vec<_>>(),
        vec![
            "aggregate declares depends_on flaky_source but its data flow never reads flaky_source; unless the order matters, dropping the dependency would let aggregate start 80ms earlier, and it was skipped only because flaky_source did not succeed",
            "aggregate declares depends_on primary but its data flow never reads primary; it cost nothing in this run, but unless the order matters the dependency can go",
        ]
    );
}

#[test]
fn a_trace_without_plan_data_gets_the_tree_and_a_timing_based_critical_path() {
    let span = |id: &str, parent: &str, name: &str, start: u64, end: u64| {
        json!({"traceId": TRACE_ID, "spanId": id, "parentSpanId": parent, "name": name,
               "startTimeUnixNano": (T0 + start * 1_000_000).to_string(),
               "endTimeUnixNano": (T0 + end * 1_000_000).to_string()})
    };
    let doc = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        span("00000000000000a1", "", "GET /", 0, 100),
        span("00000000000000a2", "00000000000000a1", "auth", 0, 40),
        span("00000000000000a3", "00000000000000a1", "db", 30, 90),
        span("00000000000000a4", "00000000000000a1", "cache", 50, 60),
    ]}]}]});
    let a = analysis_of(&doc);
    assert!(!a.plan_data);
    assert_eq!(a.execution_strategy, None);
    assert_eq!(a.level_barrier_ms, None);
    assert_eq!(a.total_duration_ms, 100.0);
    // Self times: GET / 100 - 90 = 10, auth 40, db 60, cache 10.
    assert_eq!(a.serial_duration_ms, 120.0);
    // From the end (Jaeger's rule: the child that ended last before the cursor): GET / from
    // 90 to 100, db from 30 to 90; auth and cache ended after db started, so GET / owns 0..30.
    assert_eq!(a.critical_path, ["00000000000000a1", "00000000000000a3"]);
    assert_eq!(a.critical_path_basis, CriticalPathBasis::Timing);
    assert_eq!(
        a.notes,
        ["no orchestration plan data found; showing the span tree and a timing-based critical path"]
    );
    assert_eq!(
        a.tools
            .iter()
            .map(|t| (t.tool.as_str(), t.group, t.slack_ms))
            .collect::<Vec<_>>(),
        vec![
            ("GET /", 0, 0.0),
            ("auth", 1, 60.0),
            ("db", 1, 0.0),
            ("cache", 1, 40.0)
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Loaders, on the real files of tests/fixtures (see SOURCES.md there)

/// What each fixture holds, counted from the file (see SOURCES.md).
struct Fixture {
    file: &'static str,
    spans: usize,
    trace_id: &'static str,
    /// Spans whose parent is in the trace (same trace id).
    parented: usize,
    links: usize,
    events: usize,
    errors: usize,
    services: usize,
}

const fn fx(
    file: &'static str,
    spans: usize,
    trace_id: &'static str,
    [parented, links, events, errors, services]: [usize; 5],
) -> Fixture {
    Fixture {
        file,
        spans,
        trace_id,
        parented,
        links,
        events,
        errors,
        services,
    }
}

const FIXTURES: &[Fixture] = &[
    fx(
        "jaeger/jaeger-query-1.x_api-traces-response.json",
        2,
        "2db17286b3e6b148",
        [1, 0, 0, 0, 1],
    ),
    fx(
        "jaeger/jaeger-ui_trace_11-spans_follows-from_error.json",
        11,
        "trace-123",
        [10, 1, 0, 1, 2],
    ),
    fx(
        "jaeger/jaeger_uimodel-trace_follows-from_all-tag-types.json",
        5,
        "0000000000000001",
        [3, 2, 2, 1, 2],
    ),
    fx(
        "otlp/jaeger-api-v3_hotrod_result-envelope.json",
        40,
        "2ea75461946a7dd10f2c15ab36a076cb",
        [39, 0, 52, 3, 6],
    ),
    fx(
        "otlp/jaeger-ui_file-exporter-style_4-spans.jsonl",
        4,
        "c620759e5d60fafb8ee0922b30e06bc6",
        [3, 0, 0, 0, 1],
    ),
    fx(
        "otlp/jaeger_otlp_links-events-all-value-types.json",
        4,
        "00000000000000010000000000000000",
        [0, 8, 8, 4, 1],
    ),
    fx(
        "otlp/opentelemetry-proto_example-trace.json",
        1,
        "5b8efff798038103d269b633813fc60c",
        [0, 0, 0, 0, 1],
    ),
    fx(
        "otlp/tempo-api-v1_batches-scopeSpans_bookinfo.json",
        8,
        "3ba55609c3cde49649cd77d1f9dcd936",
        [7, 0, 8, 0, 5],
    ),
];

#[test]
fn every_fixture_loads_with_the_counts_of_the_file() {
    let mut on_disk = Vec::new();
    for dir in ["jaeger", "otlp"] {
        for e in std::fs::read_dir(fixtures().join(dir)).unwrap() {
            on_disk.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.file.to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every fixture is listed, and only those");
    for &Fixture {
        file,
        spans,
        trace_id,
        parented,
        links,
        events,
        errors,
        services,
    } in FIXTURES
    {
        let t = inspect::load_file(fixtures().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(t.spans.len(), spans, "{file}: spans");
        assert_eq!(t.trace_id, trace_id, "{file}: trace id");
        assert_eq!(
            t.spans.iter().filter(|s| s.parent.is_some()).count(),
            parented,
            "{file}: spans with their parent in the trace"
        );
        assert_eq!(
            t.spans.iter().map(|s| s.links.len()).sum::<usize>(),
            links,
            "{file}: links"
        );
        assert_eq!(
            t.spans.iter().map(|s| s.events.len()).sum::<usize>(),
            events,
            "{file}: events"
        );
        assert_eq!(
            t.spans.iter().filter(|s| s.is_error()).count(),
            errors,
            "{file}: error spans"
        );
        assert_eq!(t.services().len(), services, "{file}: services");
        assert!(t.orchestration().is_none(), "{file}: no plan data");
    }
}

#[test]
fn parent_links_match_the_files() {
    for &Fixture { file, .. } in FIXTURES {
        let path = fixtures().join(file);
        let t = inspect::load_file(&path).unwrap();
        let expected = raw_parents(&path);
        let got: Vec<(String, Option<String>)> = t
            .spans
            .iter()
            .map(|s| (s.span_id.clone(), s.parent_span_id.clone()))
            .collect();
        assert_eq!(got, expected, "{file}");
        for s in &t.spans {
            if let Some(p) = s.parent {
                assert_eq!(
                    Some(&t.spans[p].span_id),
                    s.parent_span_id.as_ref(),
                    "{file}"
                );
                assert_eq!(t.spans[p].trace_id, s.trace_id, "{file}");
            }
        }
    }
}

#[test]
fn follows_from_references_and_links_are_kept() {
    let jaeger = inspect::load_file(
        fixtures().join("jaeger/jaeger-ui_trace_11-spans_follows-from_error.json"),
    )
    .unwrap();
    // The consumer's only reference is FOLLOWS_FROM: it is the parent (as in Jaeger) and
    // stays a link.
    let consumer = jaeger.spans.iter().find(|s| s.span_id == "span-7").unwrap();
    assert_eq!(consumer.parent_span_id.as_deref(), Some("span-6"));
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(consumer.links[0].span_id, "span-6");
    assert_eq!(
        consumer.links[0].attributes["opentracing.ref_type"],
        "follows_from"
    );
    // The error tag is a bool typed tag holding the string "true".
    let op2 = jaeger.spans.iter().find(|s| s.span_id == "span-2").unwrap();
    assert!(op2.is_error());
    assert_eq!(op2.attributes["error"], true);

    let ui = inspect::load_file(
        fixtures().join("jaeger/jaeger_uimodel-trace_follows-from_all-tag-types.json"),
    )
    .unwrap();
    let r = ui
        .spans
        .iter()
        .find(|s| s.name == "reference-test")
        .unwrap();
    assert_eq!(r.parent_span_id.as_deref(), Some("0000000000000002"));
    let links: Vec<(&str, &str, &Value)> = r
        .links
        .iter()
        .map(|l| {
            (
                l.trace_id.as_str(),
                l.span_id.as_str(),
                &l.attributes["opentracing.ref_type"],
            )
        })
        .collect();
    assert_eq!(
        links,
        vec![
            ("00000000000000ff", "00000000000000ff", &json!("child_of")),
            (
                "0000000000000001",
                "0000000000000002",
                &json!("follows_from")
            ),
        ]
    );
    let typed = ui
        .spans
        .iter()
        .find(|s| s.attributes.contains_key("blob"))
        .unwrap();
    assert_eq!(
        Value::Object(typed.attributes.clone()),
        json!({"peer.service": "service-y", "peer.ipv4": 23456, "error": true,
               "temperature": 72.5, "javascript_limit": 9223372036854775222i64,
               "blob": "AAAwOQ=="})
    );
    assert_eq!(ui.spans[0].events[0].name, "some-event");
    assert_eq!(ui.spans[0].events[1].attributes["x"], "y");

    let otlp =
        inspect::load_file(fixtures().join("otlp/jaeger_otlp_links-events-all-value-types.json"))
            .unwrap();
    for s in &otlp.spans {
        let kinds: Vec<&Value> = s
            .links
            .iter()
            .map(|l| &l.attributes["opentracing.ref_type"])
            .collect();
        assert_eq!(kinds, vec!["follows_from", "child_of"]);
        assert_eq!(s.attributes["peer.ipv4"], 23456);
        assert_eq!(s.attributes["temperature"], 72.5);
    }
    assert_eq!(otlp.trace_ids().len(), 2);

    let tempo =
        inspect::load_file(fixtures().join("otlp/tempo-api-v1_batches-scopeSpans_bookinfo.json"))
            .unwrap();
    assert_eq!(tempo.spans[0].span_id, "49cd77d1f9dcd936");
    assert_eq!(tempo.spans[0].kind, inspect::SpanKind::Client);
    assert_eq!(tempo.roots().len(), 1);
}

#[test]
fn orchestrace_traces_read_back_into_tools_and_levels() {
    let t = Trace::from_otlp_json(&seed_trace()).unwrap();
    let o = t.orchestration().unwrap();
    assert_eq!(o.strategy.map(|s| s.as_str()), Some("dag"));
    assert_eq!(o.plan_id.as_deref(), Some("ci-ops-42"));
    let levels: Vec<(usize, &str, Vec<&str>, f64)> = o
        .levels
        .iter()
        .map(|l| {
            (
                l.index,
                l.mode.as_str(),
                l.tools.iter().map(|&k| o.tools[k].id.as_str()).collect(),
                l.duration_ms(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        vec![
            (0, "parallel", vec!["primary", "secondary"], 900.0),
            (1, "serial", vec!["aggregate"], 1500.0)
        ]
    );
    let agg = o.tool("aggregate").unwrap();
    assert_eq!(agg.depends_on, ["primary", "secondary"]);
    assert_eq!(agg.data_flow[0].key, "primary_count");
    assert_eq!(agg.data_flow[0].expression, "{primary.data.rows[0].count}");
    assert_eq!(agg.data_flow[0].value.as_deref(), Some(&json!(42)));
    assert_eq!(agg.params.as_ref().unwrap()["group_by"], json!(["ci_type"]));
    assert_eq!(agg.result_count, Some(2));
    assert_eq!(o.tool("primary").unwrap().parallel_with, ["secondary"]);
    // Tool spans link to their dependencies.
    let span = &t.spans[agg.span];
    assert_eq!(span.links.len(), 2);
    assert_eq!(span.links[0].attributes["orchestration.link"], "depends_on");
}

#[test]
fn the_same_trace_reads_alike_from_jaeger_json() {
    // Jaeger flattens array attributes into JSON strings and keeps microseconds.
    let otlp = seed_trace();
    let mut spans = Vec::new();
    for s in otlp["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .unwrap()
    {
        let t =
            Trace::from_otlp_json(&json!({"resourceSpans": [{"scopeSpans": [{"spans": [s]}]}]}))
                .unwrap();
        let span = &t.spans[0];
        let tags: Vec<Value> = span
            .attributes
            .iter()
            .map(|(k, v)| match v {
                Value::String(x) => json!({"key": k, "type": "string", "value": x}),
                Value::Bool(b) => json!({"key": k, "type": "bool", "value": b}),
                Value::Number(n) if n.is_i64() => json!({"key": k, "type": "int64", "value": n}),
                Value::Number(n) => json!({"key": k, "type": "float64", "value": n}),
                other => json!({"key": k, "type": "string", "value": other.to_string()}),
            })
            .collect();
        let refs: Vec<Value> = span
            .parent_span_id
            .iter()
            .map(|p| json!({"refType": "CHILD_OF", "traceID": TRACE_ID, "spanID": p}))
            .collect();
        spans.push(json!({"traceID": TRACE_ID, "spanID": span.span_id,
            "operationName": span.name, "references": refs,
            "startTime": span.start_ns / 1000, "duration": span.duration_ns() / 1000,
            "tags": tags, "logs": [], "processID": "p1"}));
    }
    let jaeger = json!({"data": [{"traceID": TRACE_ID, "spans": spans,
        "processes": {"p1": {"serviceName": "orchestrace", "tags": []}}}]});
    let a = analyze(&Trace::from_jaeger_json(&jaeger).unwrap());
    assert_eq!(a, analysis_of(&seed_trace()));
}

// ---------------------------------------------------------------------------------------------
// Errors and sources, through the command

fn one_line_error(out: &std::process::Output, code: i32, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr, format!("error: {expected}\n"));
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_files_exit_2_with_one_located_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(std::path::PathBuf, String)> = vec![
        (
            write_temp(d, "truncated.json", "{\"resourceSpans\": ["),
            "1:19: invalid JSON: EOF while parsing a list".into(),
        ),
        (
            write_temp(
                d,
                "no_trace_id.json",
                r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"01","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#,
            ),
            "resourceSpans[0].scopeSpans[0].spans[0]: missing field `traceId`".into(),
        ),
        (
            write_temp(
                d,
                "jaeger_no_trace_id.json",
                r#"{"data":[{"spans":[{"spanID":"01","startTime":1,"duration":2}]}]}"#,
            ),
            "data[0].spans[0]: missing field `traceID`".into(),
        ),
        (
            write_temp(d, "other.json", r#"{"hello": "world"}"#),
            "not a trace: expected OTLP JSON (resourceSpans, batches) or Jaeger JSON (data, or traceID and spans)".into(),
        ),
        (write_temp(d, "empty.json", "\n"), "the trace file is empty".into()),
        (
            write_temp(d, "no_spans.json", r#"{"data": [], "total": 0}"#),
            "the trace has no spans".into(),
        ),
    ];
    for (path, message) in cases {
        let p = path.to_str().unwrap();
        one_line_error(
            &orchestrace(&["inspect", p, "--json"], &[]),
            2,
            &format!("{p}: {message}"),
        );
    }
    one_line_error(
        &orchestrace(&["inspect", "tests/no-such-trace.json"], &[]),
        2,
        "tests/no-such-trace.json: cannot read the trace: no such file",
    );
}

#[test]
fn an_unreachable_source_exits_3() {
    // Nothing listens on a port we just bound and released.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for flag in ["--jaeger", "--tempo"] {
        let url = format!("http://127.0.0.1:{port}");
        let out = orchestrace(
            &["inspect", flag, &url, "0af7651916cd43dd8448eb211c80319c"],
            &[],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        // Jaeger is asked through its v3 API first.
        let path = if flag == "--jaeger" {
            "api/v3/traces"
        } else {
            "api/traces"
        };
        assert!(
            stderr.starts_with(&format!(
                "error: {url}/{path}/0af7651916cd43dd8448eb211c80319c: cannot reach the source: "
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    one_line_error(
        &orchestrace(
            &[
                "inspect",
                "--jaeger",
                "http://127.0.0.1:1",
                "not-a-trace-id",
            ],
            &[],
        ),
        2,
        "invalid trace id \"not-a-trace-id\": expected 1 to 32 hex digits",
    );
    one_line_error(
        &orchestrace(&["inspect", "--tempo", "localhost:3200", "abc"], &[]),
        2,
        "invalid URL \"localhost:3200\": expected http://HOST[:PORT][/PATH]",
    );
}

#[test]
fn traces_are_fetched_from_jaeger_and_tempo() {
    let read = |f: &str| std::fs::read(fixtures().join(f)).unwrap();
    let base = serve(vec![
        (
            "/api/traces/2db17286b3e6b148".into(),
            200,
            read("jaeger/jaeger-query-1.x_api-traces-response.json"),
        ),
        (
            "/api/traces/3ba55609c3cde49649cd77d1f9dcd936".into(),
            200,
            read("otlp/tempo-api-v1_batches-scopeSpans_bookinfo.json"),
        ),
        (
            "/api/traces/00000000000000000000000000000bad".into(),
            200,
            br#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}"#.to_vec(),
        ),
        ("/api/traces/0000000000000000000000000000beef".into(), 200, b"{not json".to_vec()),
        ("/api/traces/00000000000000000000000000000500".into(), 500, b"oops".to_vec()),
    ]);
    let j = inspect::fetch_jaeger(&base, "2db17286b3e6b148").unwrap();
    assert_eq!(j.spans.len(), 2);
    assert_eq!(j.format, inspect::TraceFormat::Jaeger);
    let t = inspect::fetch_tempo(&base, "3BA55609C3CDE49649CD77D1F9DCD936").unwrap();
    assert_eq!(t.spans.len(), 8);
    assert_eq!(t.trace_id, "3ba55609c3cde49649cd77d1f9dcd936");

    let out = orchestrace(
        &[
            "inspect",
            "--jaeger",
            &base,
            "2db17286b3e6b148",
            "--view",
            "none",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "trace 2db17286b3e6b148\n"
    );
    let out = orchestrace(
        &[
            "inspect",
            "--tempo",
            &base,
            "3ba55609c3cde49649cd77d1f9dcd936",
            "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["tools"].as_array().unwrap().len(), 8);

    for (flag, id, code, message) in [
        ("--tempo", "0123", 3, format!("{base}/api/traces/0123: no such trace")),
        (
            "--jaeger",
            "00000000000000000000000000000bad",
            3,
            format!("{base}/api/traces/00000000000000000000000000000bad: no such trace"),
        ),
        (
            "--jaeger",
            "00000000000000000000000000000500",
            3,
            format!("{base}/api/traces/00000000000000000000000000000500: the source answered HTTP 500"),
        ),
        (
            "--tempo",
            "0000000000000000000000000000beef",
            2,
            format!("Tempo answer from {base}/api/traces/0000000000000000000000000000beef: 1:2: invalid JSON: key must be a string"),
        ),
    ] {
        one_line_error(&orchestrace(&["inspect", flag, &base, id], &[]), code, &message);
    }
}

// ---------------------------------------------------------------------------------------------
// Round trip: what the run measured is what the inspector reads back

#[test]
fn run_trace_out_then_inspect_gives_the_same_analysis() {
    let dir = tempfile::tempdir().unwrap();
    for plan in ["ci_ops", "diamond", "failing"] {
        let file = dir.path().join(format!("{plan}.json"));
        let f = file.to_str().unwrap();
        let run = orchestrace(
            &[
                "run",
                &format!("examples/plans/{plan}.json"),
                "--trace-out",
                f,
                "--json",
            ],
            &[],
        );
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let result: Value = serde_json::from_slice(&run.stdout).unwrap();
        let exec = &result["execution"];
        let inspected = orchestrace(&["inspect", f, "--json"], &[]);
        assert_eq!(
            inspected.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&inspected.stderr)
        );
        let a: Analysis = serde_json::from_slice(&inspected.stdout).unwrap();
        // The same trace, strategy, tools, statuses, levels, order and critical path.
        assert_eq!(
            Some(a.trace_id.as_str()),
            result["trace_id"].as_str(),
            "{plan}"
        );
        assert_eq!(
            a.execution_strategy.map(|s| s.as_str()),
            exec["strategy"].as_str(),
            "{plan}"
        );
        let summary = &exec["summary"];
        let path: Vec<&str> = summary["critical_path"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(a.critical_path, path, "{plan}");
        let mut ran: Vec<&Value> = exec["tools"].as_array().unwrap().iter().collect();
        ran.sort_by_key(|t| t["order"].as_u64());
        assert_eq!(a.tools.len(), ran.len(), "{plan}");
        for (t, r) in a.tools.iter().zip(&ran) {
            assert_eq!(t.id, r["id"].as_str().unwrap(), "{plan}");
            assert_eq!(t.tool, r["tool"].as_str().unwrap(), "{plan}");
            assert_eq!(t.status.as_str(), r["status"].as_str().unwrap(), "{plan}");
            assert_eq!(t.group as u64, r["group"].as_u64().unwrap(), "{plan}");
            assert_eq!(t.order as u64, r["order"].as_u64().unwrap(), "{plan}");
            let measured = match (r["started_at"].as_f64(), r["ended_at"].as_f64()) {
                (Some(s), Some(e)) => e - s,
                _ => 0.0,
            };
            close(
                t.duration_ms,
                measured,
                &format!("{plan}: {} duration", t.id),
            );
        }
        // Span clocks and the executor's clock differ by the span bookkeeping only.
        close(
            a.total_duration_ms,
            summary["total_duration_ms"].as_f64().unwrap(),
            plan,
        );
        close(
            a.serial_duration_ms,
            summary["serial_duration_ms"].as_f64().unwrap(),
            plan,
        );
        close(
            a.critical_path_ms,
            summary["critical_path_ms"].as_f64().unwrap(),
            plan,
        );
    }
}

/// Within 5 ms: a span opens just before the executor reads its clock and closes just after.
fn close(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() <= 5.0, "{what}: {a} vs {b}");
}

// ---------------------------------------------------------------------------------------------
// Snapshots of the text views

fn views(doc: &Value, opts: &RenderOptions) -> String {
    let t = Trace::from_otlp_json(doc).unwrap();
    let a = analyze(&t);
    let mut out = Vec::new();
    inspect::write_notes(&mut out, &a, opts).unwrap();
    inspect::write_detail(&mut out, &t, &a, opts).unwrap();
    out.push(b'\n');
    inspect::write_timeline(&mut out, &t, &a, opts).unwrap();
    out.push(b'\n');
    inspect::write_analysis(&mut out, &t, &a, opts).unwrap();
    String::from_utf8(out).unwrap()
}

fn assert_fits(text: &str, cols: usize, what: &str) {
    for (i, line) in text.lines().enumerate() {
        assert!(
            width(line) <= cols,
            "{what}: line {} is {} columns:\n{line}",
            i + 1,
            width(line)
        );
    }
}

#[test]
fn snapshot_seed_views() {
    let text = views(&seed_trace(), &RenderOptions::new());
    assert_fits(&text, 100, "seed");
    assert!(!text.contains('\x1b'));
    assert_snapshot("seed_views.txt", &text);
}

#[test]
fn snapshot_seed_views_at_72_columns() {
    let text = views(&seed_trace(), &RenderOptions::new().with_width(72));
    assert_fits(&text, 72, "seed at 72");
    assert_snapshot("seed_views_72.txt", &text);
}

#[test]
fn snapshot_seed_timeline_in_colour() {
    let t = Trace::from_otlp_json(&seed_trace()).unwrap();
    let a = analyze(&t);
    let mut out = Vec::new();
    inspect::write_timeline(&mut out, &t, &a, &RenderOptions::new().with_color(true)).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\x1b[1;35m"), "the critical path is coloured");
    let plain = strip_ansi(&text);
    assert_fits(&plain, 100, "colour");
    assert_snapshot("seed_timeline_color.txt", &text);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn snapshot_failing_run_views() {
    let text = views(&failing_trace(), &RenderOptions::new());
    assert_fits(&text, 100, "failing");
    assert_snapshot("failing_views.txt", &text);
}

#[test]
fn snapshot_jaeger_trace_without_plan_data() {
    let file = fixtures().join("jaeger/jaeger-ui_trace_11-spans_follows-from_error.json");
    let out = orchestrace(&["inspect", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_snapshot("jaeger_11_spans_views.txt", &text);
}

#[test]
fn every_view_of_every_fixture_fits_100_columns_without_colour_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<String> = FIXTURES
        .iter()
        .map(|f| fixtures().join(f.file).to_str().unwrap().to_owned())
        .collect();
    for (name, doc) in [
        ("seed.json", seed_trace()),
        ("failing.json", failing_trace()),
    ] {
        files.push(
            write_temp(dir.path(), name, &doc.to_string())
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    for f in &files {
        let out = orchestrace(&["inspect", f], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains('\x1b'), "{f}: colour when piped");
        assert_fits(&text, 100, f);
        assert!(text.starts_with("trace "), "{f}");
        if !f.ends_with("seed.json") && !f.ends_with("failing.json") {
            assert_eq!(
                text.lines().nth(1),
                Some("note: no orchestration plan data found; showing the span tree and a timing-based critical path"),
                "{f}"
            );
        }
        for (view, heading) in [
            ("detail", "═"),
            ("timeline", "Timeline"),
            ("analysis", "Performance Analysis"),
        ] {
            let out = orchestrace(&["inspect", f, "--view", view], &[]);
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.contains(heading), "{f} --view {view}");
        }
    }
}

#[test]
fn the_seed_trace_file_is_the_synthetic_seed() {
    // tests/traces/seed.json is what the README's samples show; it stays the builder's output.
    let path = manifest().join("tests/traces/seed.json");
    let expected = serde_json::to_string_pretty(&seed_trace()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &expected).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
    let out = orchestrace(&["inspect", "tests/traces/seed.json", "--json"], &[]);
    let a: Analysis = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a, analysis_of(&seed_trace()));
}
