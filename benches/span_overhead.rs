//! Measurement 2 — span overhead: one tool span as we emit it, against a bare `tracing`
//! span with as many attributes through `tracing-opentelemetry`, and against the
//! OpenTelemetry SDK used directly (the floor). Each with a do-nothing span processor and
//! with the SDK's batch processor (exporting to a sink).
//!
//! Our span is not built alone (its code is private to the executor), so it is measured
//! through the public API: a plan of `N` one-row tools in levels of 4, every tool after the
//! first level reading two tools of the level before through data-flow templates (so its
//! span carries params, `parallel_with`, `depends_on`, `data_flow_inputs`, `result_count`
//! and two links: every tool-span attribute). The plan runs on a current-thread runtime
//! traced and untraced; our cost per tool span is (traced − untraced) / `N`. That includes
//! a quarter of a level span per tool and `1/N` of the `execute` span.
//!
//! The comparators are given the very attribute values and links one of our tool spans
//! carried (captured once in setup), and are created under a parent span, entered and
//! exited once, and closed — what happens to ours.
//!
//! Every stack is the layer `Telemetry::layer` builds (same options, same filter) over a
//! tracer provider with the processor under test. The untraced baseline runs with a
//! dispatcher installed (a registry whose only layer enables nothing), so that `tracing`'s
//! no-subscriber paths (and its `log` fallback) do not enter the difference.
//!
//! `SPAN_OVERHEAD_CALLGRIND=<case> SPAN_OVERHEAD_ITERS=<k>` runs one case `k` times and exits,
//! for instruction counts under `valgrind --tool=callgrind` (see `benches/README.md`, "Span cost"); cases:
//! `untraced`, `traced` (our run, do-nothing processor), `bare`, `bare_links`, `sdk`.

#![allow(missing_docs)] // criterion_group! makes an undocumented `pub fn`

mod common {
    //! The helpers this bench needs.
    use orchestrace::ToolRegistry;
    use serde_json::json;

    /// Whether criterion is measuring (`cargo bench`), not smoke-testing.
    pub(crate) fn benching() -> bool {
        std::env::args().any(|a| a == "--bench")
    }

    /// Where the bench writes its figures (`target/bench-results/`).
    pub(crate) fn results_dir() -> std::path::PathBuf {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
        let dir = target.join("bench-results");
        std::fs::create_dir_all(&dir).expect("results dir");
        dir
    }

    /// The id of tool `i`.
    pub(crate) fn tool_id(i: usize) -> String {
        format!("t{i}")
    }

    /// The built-in tools and `one_row`, which returns one row at once.
    pub(crate) fn registry() -> ToolRegistry {
        let mut r = ToolRegistry::with_builtins();
        r.register_fn("one_row", |_, _| async {
            Ok(json!({"rows": [{"count": 1}]}))
        });
        r
    }
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use opentelemetry::trace::{SpanContext, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value as OtelValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
use orchestrace::plan::ToolSpec;
use orchestrace::schedule::AnalyzedPlan;
use orchestrace::telemetry::{EXPORT_STACK_TARGETS, SCOPE_NAME};
use orchestrace::{Orchestrator, Plan};
use serde_json::json;
use tracing::Dispatch;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::prelude::*;

/// Tools per level of the plan.
const WIDTH: usize = 4;

#[derive(Debug)]
struct NoopProcessor;

impl SpanProcessor for NoopProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, _span: SpanData) {}
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Keeps ended spans (setup only).
#[derive(Debug, Clone, Default)]
struct Keep(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Keep {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Counts what the batch processor hands over and the spans it is given, so dropped spans
/// (queue full) are seen.
#[derive(Debug, Clone, Default)]
struct Counts {
    ended: Arc<AtomicU64>,
    exported: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Sink(Counts);

impl SpanExporter for Sink {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Debug)]
struct Counted(BatchSpanProcessor, Counts);

impl SpanProcessor for Counted {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }
    fn on_end(&self, span: SpanData) {
        self.1.ended.fetch_add(1, Ordering::Relaxed);
        self.0.on_end(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
}

#[derive(Clone, Copy, Debug)]
enum Processor {
    Noop,
    Batch,
}

fn provider(p: Processor, counts: &Counts) -> SdkTracerProvider {
    let b = SdkTracerProvider::builder();
    match p {
        Processor::Noop => b.with_span_processor(NoopProcessor),
        Processor::Batch => b.with_span_processor(Counted(
            BatchSpanProcessor::builder(Sink(counts.clone())).build(),
            counts.clone(),
        )),
    }
    .build()
}

/// The subscriber `Telemetry::layer` makes, over `provider`.
fn dispatch(provider: &SdkTracerProvider) -> Dispatch {
    let filter = EXPORT_STACK_TARGETS.iter().fold(
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::TRACE),
        |t, target| t.with_target(*target, tracing_subscriber::filter::LevelFilter::OFF),
    );
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SCOPE_NAME))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(filter);
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// `levels` levels of `WIDTH` one-row tools; each tool after the first level reads two tools
/// of the level before.
fn layered_plan(levels: usize) -> Plan {
    let mut plan = Plan::new("span-overhead").with_max_concurrency(WIDTH);
    for l in 0..levels {
        for k in 0..WIDTH {
            let mut t = ToolSpec::new(common::tool_id(l * WIDTH + k), "one_row")
                .with_asset_id("one_row:v1:published")
                .with_params(json!({"keywords": ["server"], "limit": 10}));
            if l > 0 {
                let a = common::tool_id((l - 1) * WIDTH + k);
                let b = common::tool_id((l - 1) * WIDTH + (k + 1) % WIDTH);
                t = t
                    .map("a_count", format!("{{{a}.rows[0].count}}"))
                    .map("b_count", format!("{{{b}.rows[0].count}}"));
            }
            plan = plan.with_tool(t);
        }
    }
    plan
}

/// One of our tool spans (from the middle of the plan), as the SDK received it.
fn sample_tool_span(orch: &Orchestrator, plan: &AnalyzedPlan) -> SpanData {
    let keep = Keep::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(keep.clone())
        .build();
    let rt = current_thread();
    tracing::dispatcher::with_default(&dispatch(&provider), || {
        assert!(rt.block_on(orch.run(plan)).succeeded());
    });
    forget_dispatchers();
    let spans = keep.0.lock().unwrap();
    let mid = common::tool_id(plan.plan().tools.len() / 2);
    let span = spans
        .iter()
        .find(|s| {
            s.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "orchestration.tool_id" && kv.value.as_str() == mid)
        })
        .expect("a tool span")
        .clone();
    assert_eq!(span.links.links.len(), 2, "two links");
    span
}

/// A dispatcher that enables nothing: what a host with a subscriber but without our layer
/// (or with it filtered off) has.
fn untraced_dispatch() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::OFF))
}

/// Runs one case `iters` times for callgrind, when asked to; returns whether it did.
fn callgrind_case() -> bool {
    let Ok(case) = std::env::var("SPAN_OVERHEAD_CALLGRIND") else {
        return false;
    };
    let iters: usize = std::env::var("SPAN_OVERHEAD_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let levels = 250;
    let orch = Orchestrator::new(common::registry());
    let plan = orch.analyze(layered_plan(levels)).expect("valid plan");
    let rt = current_thread();
    let counts = Counts::default();
    let provider = provider(Processor::Noop, &counts);
    let sample = sample_tool_span(&orch, &plan);
    let values = Values::of(&sample);
    let n = levels * WIDTH;
    let d = match case.as_str() {
        "untraced" => untraced_dispatch(),
        _ => dispatch(&provider),
    };
    tracing::dispatcher::with_default(&d, || {
        // One warm-up run in every case, so that both counts include the same setup.
        assert!(rt.block_on(orch.run(&plan)).succeeded());
        let parent = tracing::info_span!("level", otel.name = "level 3 (parallel)");
        let tracer = provider.tracer(SCOPE_NAME);
        let parent_cx = Context::current_with_span(tracer.start("level 3 (parallel)"));
        for _ in 0..iters {
            match case.as_str() {
                "untraced" | "traced" => assert!(rt.block_on(orch.run(&plan)).succeeded()),
                "bare" => (0..n).for_each(|_| bare_span(&parent, &values)),
                "bare_links" => (0..n).for_each(|_| bare_span_with_links(&parent, &values)),
                "sdk" => (0..n).for_each(|_| {
                    let mut span = tracer
                        .span_builder(sample.name.clone())
                        .with_attributes(sample.attributes.clone())
                        .with_links(sample.links.links.clone())
                        .start_with_context(&tracer, &parent_cx);
                    opentelemetry::trace::Span::end(&mut span);
                }),
                other => panic!("unknown case {other}"),
            }
        }
    });
    true
}

/// After a scoped dispatcher is gone, callsites keep the interest it registered ("always"),
/// and spans would be created (for nobody) instead of disabled: recompute it, so that
/// "untraced" means what it means in a program without a subscriber.
fn forget_dispatchers() {
    tracing::callsite::rebuild_interest_cache();
    let span = tracing::info_span!("probe");
    assert!(span.is_disabled(), "no subscriber is left");
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn attr<'a>(span: &'a SpanData, key: &str) -> &'a OtelValue {
    &span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .unwrap_or_else(|| panic!("no {key}"))
        .value
}

fn s(v: &OtelValue) -> String {
    v.as_str().into_owned()
}

fn i(v: &OtelValue) -> i64 {
    match v {
        OtelValue::I64(n) => *n,
        other => panic!("not an int: {other:?}"),
    }
}

fn b(v: &OtelValue) -> bool {
    matches!(v, OtelValue::Bool(true))
}

fn f(v: &OtelValue) -> f64 {
    match v {
        OtelValue::F64(x) => *x,
        other => panic!("not a double: {other:?}"),
    }
}

/// The values of a captured tool span, typed for the `tracing` macros.
struct Values {
    name: String,
    tool: String,
    id: String,
    stage: String,
    asset: String,
    strategy: String,
    group: i64,
    order: i64,
    params: String,
    parallel_with: OtelValue,
    depends_on: OtelValue,
    data_flow: String,
    status: String,
    queue_wait: f64,
    retries: i64,
    fallback: bool,
    cache_hit: bool,
    rows: i64,
    size: i64,
    links: Vec<(SpanContext, Vec<KeyValue>)>,
}

impl Values {
    fn of(span: &SpanData) -> Values {
        Values {
            name: span.name.to_string(),
            tool: s(attr(span, "gen_ai.tool.name")),
            id: s(attr(span, "gen_ai.tool.call.id")),
            stage: s(attr(span, "orchestration.stage")),
            asset: s(attr(span, "orchestration.asset_id")),
            strategy: s(attr(span, "orchestration.execution_strategy")),
            group: i(attr(span, "orchestration.execution_group")),
            order: i(attr(span, "orchestration.execution_order_index")),
            params: s(attr(span, "orchestration.params")),
            parallel_with: attr(span, "orchestration.parallel_with").clone(),
            depends_on: attr(span, "orchestration.depends_on").clone(),
            data_flow: s(attr(span, "orchestration.data_flow_inputs")),
            status: s(attr(span, "orchestration.status")),
            queue_wait: f(attr(span, "orchestration.queue_wait_ms")),
            retries: i(attr(span, "orchestration.retry_count")),
            fallback: b(attr(span, "orchestration.fallback_used")),
            cache_hit: b(attr(span, "orchestration.cache_hit")),
            rows: i(attr(span, "orchestration.result_count")),
            size: i(attr(span, "orchestration.result_size_bytes")),
            links: span
                .links
                .links
                .iter()
                .map(|l| (l.span_context.clone(), l.attributes.clone()))
                .collect(),
        }
    }
}

/// A bare span with our span's attribute count, all as `tracing` fields (the two arrays
/// as their text), no links.
fn bare_span(parent: &tracing::Span, v: &Values) {
    let span = tracing::info_span!(
        parent: parent,
        "execute_tool",
        otel.name = %v.name,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = %v.tool,
        gen_ai.tool.call.id = %v.id,
        orchestration.tool_id = %v.id,
        orchestration.stage = %v.stage,
        orchestration.asset_id = %v.asset,
        orchestration.execution_strategy = %v.strategy,
        orchestration.execution_group = v.group,
        orchestration.execution_order_index = v.order,
        orchestration.params = %v.params,
        orchestration.parallel_with = %v.parallel_with,
        orchestration.depends_on = %v.depends_on,
        orchestration.data_flow_inputs = %v.data_flow,
        orchestration.status = %v.status,
        orchestration.queue_wait_ms = v.queue_wait,
        orchestration.retry_count = v.retries,
        orchestration.fallback_used = v.fallback,
        orchestration.cache_hit = v.cache_hit,
        orchestration.result_count = v.rows,
        orchestration.result_size_bytes = v.size,
    );
    let _entered = span.enter();
}

/// The same span written by hand the way we emit it: the arrays as arrays, and two links.
fn bare_span_with_links(parent: &tracing::Span, v: &Values) {
    let span = tracing::info_span!(
        parent: parent,
        "execute_tool",
        otel.name = %v.name,
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = %v.tool,
        gen_ai.tool.call.id = %v.id,
        orchestration.tool_id = %v.id,
        orchestration.stage = %v.stage,
        orchestration.asset_id = %v.asset,
        orchestration.execution_strategy = %v.strategy,
        orchestration.execution_group = v.group,
        orchestration.execution_order_index = v.order,
        orchestration.params = %v.params,
        orchestration.data_flow_inputs = %v.data_flow,
        orchestration.status = %v.status,
        orchestration.queue_wait_ms = v.queue_wait,
        orchestration.retry_count = v.retries,
        orchestration.fallback_used = v.fallback,
        orchestration.cache_hit = v.cache_hit,
        orchestration.result_count = v.rows,
        orchestration.result_size_bytes = v.size,
    );
    span.set_attribute("orchestration.parallel_with", v.parallel_with.clone());
    span.set_attribute("orchestration.depends_on", v.depends_on.clone());
    for (cx, attrs) in &v.links {
        span.add_link_with_attributes(cx.clone(), attrs.clone());
    }
    let _entered = span.enter();
}

/// Times `iters` calls of `f`. With the batch processor its queue is flushed (untimed) every
/// `burst` calls, so no span is dropped for a full queue. Bursts are as many spans as one run
/// of the plan emits, so our runs and the single spans trigger exports (which run on the
/// processor's thread, beside the timed code) equally often.
fn timed(
    iters: u64,
    p: Processor,
    provider: &SdkTracerProvider,
    burst: u64,
    mut f: impl FnMut(),
) -> Duration {
    let burst = match p {
        Processor::Noop => iters,
        Processor::Batch => burst,
    };
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let k = left.min(burst);
        let t = Instant::now();
        for _ in 0..k {
            f();
        }
        total += t.elapsed();
        if let Processor::Batch = p {
            provider.force_flush().expect("flush");
        }
        left -= k;
    }
    total
}

fn span_overhead(c: &mut Criterion) {
    let levels = if common::benching() { 250 } else { 3 };
    let n = (levels * WIDTH) as u64;
    let orch = Orchestrator::new(common::registry());
    let plan = orch.analyze(layered_plan(levels)).expect("valid plan");
    let rt = current_thread();

    // Untraced: a dispatcher that enables nothing.
    let mut group = c.benchmark_group("span_overhead/orchestrace_tool");
    group.throughput(Throughput::Elements(n));
    {
        let d = untraced_dispatch();
        let _default = tracing::dispatcher::set_default(&d);
        group.bench_function("untraced", |b| {
            b.iter(|| assert!(rt.block_on(orch.run(&plan)).succeeded()))
        });
    }
    forget_dispatchers();
    for p in [Processor::Noop, Processor::Batch] {
        let counts = Counts::default();
        let provider = provider(p, &counts);
        let d = dispatch(&provider);
        group.bench_function(format!("traced_{p:?}").to_lowercase(), |b| {
            let _default = tracing::dispatcher::set_default(&d);
            b.iter_custom(|iters| {
                timed(iters, p, &provider, 1, || {
                    assert!(rt.block_on(orch.run(&plan)).succeeded())
                })
            })
        });
        forget_dispatchers();
        report_drops(&provider, &counts, "orchestrace_tool", p);
    }
    group.finish();

    // Spans per run: tools, levels, `execute`.
    let burst = n + levels as u64 + 1;
    let sample = sample_tool_span(&orch, &plan);
    let values = Values::of(&sample);
    println!(
        "our tool span: {} attributes, {} links (otel.name is the span name)",
        sample.attributes.len(),
        sample.links.links.len()
    );
    if common::benching() {
        let info = serde_json::json!({
            "tools_per_run": n,
            "levels_per_run": levels,
            "tool_span_attributes": sample.attributes.len(),
            "tool_span_links": sample.links.links.len(),
        });
        let path = common::results_dir().join("span_overhead.json");
        std::fs::write(path, info.to_string()).expect("write");
    }
    let mut group = c.benchmark_group("span_overhead/single_span");
    group.throughput(Throughput::Elements(1));
    for p in [Processor::Noop, Processor::Batch] {
        let counts = Counts::default();
        let provider = provider(p, &counts);
        let d = dispatch(&provider);
        let suffix = format!("{p:?}").to_lowercase();
        {
            let _default = tracing::dispatcher::set_default(&d);
            let parent = tracing::info_span!("level", otel.name = "level 3 (parallel)");
            group.bench_function(format!("bare_tracing_otel_{suffix}"), |b| {
                b.iter_custom(|iters| {
                    timed(iters, p, &provider, burst, || bare_span(&parent, &values))
                })
            });
            group.bench_function(format!("bare_tracing_otel_links_{suffix}"), |b| {
                b.iter_custom(|iters| {
                    timed(iters, p, &provider, burst, || {
                        bare_span_with_links(&parent, &values)
                    })
                })
            });
        }
        forget_dispatchers();
        let tracer = provider.tracer(SCOPE_NAME);
        let parent_cx = Context::current_with_span(tracer.start("level 3 (parallel)"));
        let name = sample.name.clone();
        group.bench_function(format!("otel_sdk_{suffix}"), |b| {
            b.iter_custom(|iters| {
                timed(iters, p, &provider, burst, || {
                    let mut span = tracer
                        .span_builder(name.clone())
                        .with_attributes(sample.attributes.clone())
                        .with_links(sample.links.links.clone())
                        .start_with_context(&tracer, &parent_cx);
                    opentelemetry::trace::Span::end(&mut span);
                })
            })
        });
        report_drops(&provider, &counts, "single_span", p);
    }
    group.finish();
}

/// Prints how many spans the batch processor dropped (its queue was full).
fn report_drops(provider: &SdkTracerProvider, counts: &Counts, what: &str, p: Processor) {
    let _ = provider.force_flush();
    let _ = provider.shutdown();
    if let Processor::Batch = p {
        let ended = counts.ended.load(Ordering::Relaxed);
        let exported = counts.exported.load(Ordering::Relaxed);
        println!(
            "{what} batch processor: {ended} spans ended, {exported} exported, {} dropped",
            ended.saturating_sub(exported)
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = span_overhead
}
fn main() {
    if callgrind_case() {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
