//! Measurement 4 — export at scale: a 10,000-tool plan exported over OTLP/gRPC to an
//! in-process receiver on 127.0.0.1, whole process, default queue settings.
//!
//! Three programs run the same plan (seeded random DAG, 10,000 `echo` tools, fan-in 0–6,
//! the plan's default concurrency of 16), each as a child process:
//! - `cli`: `orchestrace run PLAN --otlp URL --view none`, as a user runs it (the CLI also
//!   keeps every span in memory for its views and `--trace-out`);
//! - `library`: a host program with `Telemetry` exporting only (no capture) and the same
//!   `Runner` pipeline — what a service embedding orchestrace pays;
//! - `bare` (the alternative): no orchestrator; the same span tree with the same attribute
//!   values and links, written by hand with `tracing` + `tracing-opentelemetry` +
//!   `opentelemetry-otlp` and the SDK's default batch processor;
//! - `bare_bounded`: `bare` with `orchestration.parallel_with` cut to its first
//!   `PARALLEL_WITH_BOUND` ids — not what we emit: it shows what bounding that attribute
//!   (quadratic in a level's width) would buy.
//!
//! Per run: spans the receiver got against spans emitted (root + 5 stages + levels + tools),
//! wall time from spawn to exit (shutdown flush included), peak RSS (`/usr/bin/time -f %M`
//! when installed, else the child's `VmHWM` polled from `/proc`). The receiver keeps
//! tonic's default 4 MiB request limit, as the OpenTelemetry Collector's gRPC receiver
//! does. Figures are medians over 5 runs (3 for the CLI); results go to stdout and
//! `target/bench-results/export_scale.json`.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::json;

const SEED: u64 = 8;
const CHILD_ENV: &str = "ORCHESTRACE_EXPORT_SCALE_CHILD";
const PARALLEL_WITH_BOUND: usize = 128;

// ---------------------------------------------------------------- receiver

#[derive(Clone, Default)]
struct Counter {
    spans: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl TraceService for Counter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let n: usize = request
            .get_ref()
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.spans.fetch_add(n as u64, Ordering::SeqCst);
        self.requests.fetch_add(1, Ordering::SeqCst);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

struct Receiver {
    addr: SocketAddr,
    counter: Counter,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    fn start() -> Receiver {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let counter = Counter::default();
        let svc = TraceServiceServer::new(counter.clone());
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            let incoming = futures::stream::unfold(listener, |l| async move {
                Some((l.accept().await.map(|(s, _)| s), l))
            });
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(incoming)
                .await;
        });
        Receiver {
            addr,
            counter,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn spans(&self) -> u64 {
        self.counter.spans.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------- the plan

struct PlanFile {
    path: PathBuf,
    tools: usize,
    levels: usize,
    _dir: tempfile::TempDir,
}

impl PlanFile {
    fn new(tools: usize) -> PlanFile {
        let deps = common::random_dag(tools, 6, &mut common::Rng::new(SEED));
        let levels = orchestrace::graph::levels_of(&deps)
            .into_iter()
            .max()
            .map_or(0, |l| l + 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plan.json");
        let plan = common::plan_json(
            "export-scale",
            &deps,
            "echo",
            orchestrace::plan::DEFAULT_MAX_CONCURRENCY,
        );
        std::fs::write(&path, serde_json::to_vec(&plan).expect("JSON")).expect("write plan");
        PlanFile {
            path,
            tools,
            levels,
            _dir: dir,
        }
    }

    /// invoke_workflow + route_plan, validate, execute, compose, present + levels + tools.
    fn emitted(&self) -> u64 {
        (1 + 5 + self.levels + self.tools) as u64
    }
}

// ---------------------------------------------------------------- parent

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Cli,
    Library,
    Bare,
    BareBounded,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Cli => "cli",
            Mode::Library => "library",
            Mode::Bare => "bare",
            Mode::BareBounded => "bare_bounded",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
struct Sample {
    received: u64,
    wall_ms: f64,
    peak_rss_mb: f64,
    rss_source: &'static str,
    stderr: String,
}

fn time_binary() -> Option<&'static str> {
    let ok = Command::new("/usr/bin/time")
        .args(["-f", "%M", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("/usr/bin/time")
}

/// The `orchestrace` binary (package `orchestrace-cli`), built for this executable's profile
/// and target directory.
fn orchestrace_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile directory");
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "-q",
        "-p",
        "orchestrace-cli",
        "--bin",
        "orchestrace",
    ]);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(other) => {
            build.args(["--profile", other]);
        }
    }
    let status = build
        .arg("--target-dir")
        .arg(profile.parent().expect("target directory"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p orchestrace-cli failed");
    profile.join(format!("orchestrace{}", std::env::consts::EXE_SUFFIX))
}

fn program(mode: Mode, plan: &Path, url: &str) -> Command {
    let mut cmd = match mode {
        Mode::Cli => {
            let mut c = Command::new(orchestrace_binary());
            c.arg("run")
                .arg(plan)
                .args(["--otlp", url, "--view", "none"]);
            c
        }
        Mode::Library | Mode::Bare | Mode::BareBounded => {
            let mut c = Command::new(std::env::current_exe().expect("own path"));
            c.env(CHILD_ENV, mode.name()).arg(url).arg(plan);
            c
        }
    };
    // The OTEL_* environment of the caller must not change the figures.
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn run_once(mode: Mode, plan: &PlanFile, receiver: &Receiver, time: Option<&str>) -> Sample {
    let before = receiver.spans();
    let inner = program(mode, &plan.path, &receiver.url());
    let rss_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = match time {
        Some(time) => {
            let mut c = Command::new(time);
            c.args(["-f", "%M", "-o"]).arg(rss_file.path());
            c.arg(inner.get_program()).args(inner.get_args());
            for (k, v) in inner.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            c
        }
        None => inner,
    };
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut hwm_kb = 0u64;
    let status = loop {
        if time.is_none() {
            if let Ok(text) = std::fs::read_to_string(&status_path) {
                if let Some(kb) = text
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    hwm_kb = hwm_kb.max(kb);
                }
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        status.success(),
        "{} failed ({status}): {stderr}",
        mode.name()
    );
    // Everything was flushed before the child exited; give the receiver a moment to count.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut received = receiver.spans() - before;
    while received < plan.emitted() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        received = receiver.spans() - before;
    }
    let (peak_kb, rss_source) = match time {
        Some(_) => (
            std::fs::read_to_string(rss_file.path())
                .ok()
                .and_then(|t| t.lines().last().and_then(|l| l.trim().parse::<u64>().ok()))
                .unwrap_or(0),
            "/usr/bin/time %M",
        ),
        None => (hwm_kb, "VmHWM polled every 5 ms"),
    };
    Sample {
        received,
        wall_ms: wall.as_secs_f64() * 1e3,
        peak_rss_mb: peak_kb as f64 / 1024.0,
        rss_source,
        stderr: stderr.trim().to_owned(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn parent() {
    let benching = common::benching();
    let (tools, runs) = if benching { (10_000, 5) } else { (100, 1) };
    let plan = PlanFile::new(tools);
    let receiver = Receiver::start();
    let time = time_binary();
    println!(
        "export_scale: {} tools, {} levels, {} spans emitted per run; {} runs per program; peak RSS from {}",
        plan.tools,
        plan.levels,
        plan.emitted(),
        runs,
        time.unwrap_or("VmHWM polling")
    );
    let mut report = serde_json::Map::new();
    for mode in [Mode::Cli, Mode::Library, Mode::Bare, Mode::BareBounded] {
        // The CLI at 10,000 tools takes tens of seconds a run: three runs.
        let runs = if mode == Mode::Cli { runs.min(3) } else { runs };
        let samples: Vec<Sample> = (0..runs)
            .map(|_| run_once(mode, &plan, &receiver, time))
            .collect();
        let received: Vec<u64> = samples.iter().map(|s| s.received).collect();
        let wall = median(samples.iter().map(|s| s.wall_ms).collect());
        let rss = median(samples.iter().map(|s| s.peak_rss_mb).collect());
        println!(
            "{:8} received/emitted {:?}/{} (min {:.4}), wall {wall:.0} ms (median), peak RSS {rss:.1} MB (median)",
            mode.name(),
            received,
            plan.emitted(),
            *received.iter().min().expect("runs") as f64 / plan.emitted() as f64,
        );
        if let Some(w) = samples.iter().map(|s| &s.stderr).find(|s| !s.is_empty()) {
            println!("         stderr: {w}");
        }
        report.insert(
            mode.name().to_owned(),
            json!({
                "emitted": plan.emitted(),
                "received": received,
                "wall_ms_median": wall,
                "peak_rss_mb_median": rss,
                "samples": samples,
            }),
        );
    }
    report.insert("tools".into(), json!(plan.tools));
    report.insert("levels".into(), json!(plan.levels));
    if benching {
        let path = common::results_dir().join("export_scale.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report).expect("JSON")).expect("write");
        println!("written to {}", path.display());
    }
}

// ---------------------------------------------------------------- children

fn child_library(url: &str, plan: &Path) {
    use orchestrace::pipeline::StaticPlanner;
    use orchestrace::telemetry::TelemetryBuilder;
    use orchestrace::{Orchestrator, Plan, Runner};
    use tracing_subscriber::prelude::*;

    let telemetry = TelemetryBuilder::new()
        .with_endpoint(url)
        .build()
        .expect("telemetry");
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(telemetry.layer()))
        .expect("subscriber");
    let guard = telemetry.guard();
    let plan = Plan::from_path(plan).expect("plan");
    let workflow = plan.plan_id.clone();
    let runner = Runner::builder(StaticPlanner::new(plan))
        .with_workflow(workflow.clone())
        .with_orchestrator(Orchestrator::default())
        .build();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = rt.block_on(runner.run(&workflow)).expect("run");
    assert!(result.execution.succeeded());
    drop(rt);
    let summary = guard.shutdown();
    if let Some(w) = summary.warning() {
        eprintln!("warning: {w}");
    }
}

/// The same span tree written by hand: what a user would do without orchestrace.
fn child_bare(url: &str, plan: &Path, bound: Option<usize>) {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry::{Array, KeyValue, StringValue, Value};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::prelude::*;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let exporter = {
        let _entered = rt.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url)
            .build()
            .expect("exporter")
    };
    use opentelemetry_otlp::WithExportConfig;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("bare")
                .build(),
        )
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("bare"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("subscriber");

    let orch = orchestrace::Orchestrator::default();
    let analyzed = orch
        .analyze(orchestrace::Plan::from_path(plan).expect("plan"))
        .expect("valid plan");
    let tools = &analyzed.plan().tools;
    let strings = |v: Vec<String>| {
        Value::Array(Array::String(
            v.into_iter().map(StringValue::from).collect(),
        ))
    };
    let root = tracing::info_span!(
        "invoke_workflow",
        otel.name = "invoke_workflow export-scale"
    );
    let _root = root.enter();
    for stage in ["route_plan", "validate"] {
        let _s =
            tracing::info_span!("stage", otel.name = stage, orchestration.stage = stage).entered();
    }
    {
        let execute = tracing::info_span!(
            "execute",
            otel.name = "execute",
            orchestration.stage = "execute"
        );
        let mut contexts = vec![None; tools.len()];
        for group in analyzed.groups() {
            let level = tracing::info_span!(
                parent: &execute,
                "level",
                otel.name = format!("level {} ({})", group.index, group.mode.as_str()),
                orchestration.execution_group = group.index as i64,
            );
            level.set_attribute(
                "orchestration.tools",
                strings(group.tools.iter().map(|&t| tools[t].id.clone()).collect()),
            );
            for &t in &group.tools {
                let spec = &tools[t];
                let span = tracing::info_span!(
                    parent: &level,
                    "execute_tool",
                    otel.name = format!("execute_tool {}", spec.tool),
                    gen_ai.operation.name = "execute_tool",
                    gen_ai.tool.name = %spec.tool,
                    gen_ai.tool.call.id = %spec.id,
                    orchestration.tool_id = %spec.id,
                    orchestration.stage = "execute",
                    orchestration.execution_strategy = analyzed.strategy().as_str(),
                    orchestration.execution_group = group.index as i64,
                    orchestration.execution_order_index = analyzed.order_of(t) as i64,
                    orchestration.params = "{}",
                    orchestration.status = "ok",
                    orchestration.queue_wait_ms = 0.0,
                    orchestration.retry_count = 0i64,
                    orchestration.fallback_used = false,
                    orchestration.cache_hit = false,
                    orchestration.result_size_bytes = 2i64,
                );
                let mut others = analyzed.parallel_with(t);
                others.truncate(bound.unwrap_or(usize::MAX));
                span.set_attribute("orchestration.parallel_with", strings(others));
                span.set_attribute(
                    "orchestration.depends_on",
                    strings(analyzed.dependency_ids(t)),
                );
                for &d in analyzed.dependencies(t) {
                    if let Some(cx) = &contexts[d] {
                        span.add_link_with_attributes(
                            Clone::clone(cx),
                            vec![
                                KeyValue::new("orchestration.link", "depends_on"),
                                KeyValue::new("orchestration.tool_id", tools[d].id.clone()),
                            ],
                        );
                    }
                }
                contexts[t] = Some(span.context().span().span_context().clone());
            }
        }
    }
    for stage in ["compose", "present"] {
        let _s =
            tracing::info_span!("stage", otel.name = stage, orchestration.stage = stage).entered();
    }
    drop(_root);
    drop(root);
    let _ = provider.shutdown();
    drop(rt);
}

fn main() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok(mode) => {
            let args: Vec<String> = std::env::args().collect();
            let (url, plan) = (&args[1], Path::new(&args[2]));
            match mode {
                "library" => child_library(url, plan),
                "bare" => child_bare(url, plan, None),
                "bare_bounded" => child_bare(url, plan, Some(PARALLEL_WITH_BOUND)),
                other => panic!("unknown child mode {other}"),
            }
        }
        Err(_) => parent(),
    }
}
