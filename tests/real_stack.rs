//! End to end through the real stack: `orchestrace run` → OpenTelemetry Collector (the
//! processors of `otel-collector.yaml`) → Jaeger v2, both built from the pinned Go modules in
//! `tests/peers/` by `scripts/peers.sh` and started here on free loopback ports.
//!
//! Without Go (or with `ORCHESTRACE_SKIP_PEERS=1`) the tests say so and pass nothing off as
//! checked: each prints `skipped: …` and returns. `scripts/test.sh` builds the peers first,
//! so CI always runs them.
//!
//! `ORCHESTRACE_WRITE_FIXTURES=1 cargo test --test real_stack fixtures` rewrites the fixtures in
//! `tests/fixtures/real/` from these peers (see `tests/fixtures/SOURCES.md`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// The peers
// ---------------------------------------------------------------------------------------------

struct Bins {
    jaeger: PathBuf,
    otelcol: PathBuf,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The peer binaries: `JAEGER_BIN`/`OTELCOL_BIN`, else built (once) by `scripts/peers.sh`.
fn bins() -> Option<&'static Bins> {
    static BINS: OnceLock<Option<Bins>> = OnceLock::new();
    BINS.get_or_init(|| {
        if std::env::var_os("ORCHESTRACE_SKIP_PEERS").is_some() {
            return None;
        }
        if let (Some(j), Some(o)) = (
            std::env::var_os("JAEGER_BIN"),
            std::env::var_os("OTELCOL_BIN"),
        ) {
            return Some(Bins {
                jaeger: j.into(),
                otelcol: o.into(),
            });
        }
        let out = Command::new("bash")
            .arg(root().join("scripts/peers.sh"))
            .stderr(Stdio::inherit())
            .output()
            .ok()?;
        if !out.status.success() {
            // Without Go there are no peers to test against; the reason is on stderr.
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(PathBuf::from)
        };
        Some(Bins {
            jaeger: get("JAEGER_BIN=")?,
            otelcol: get("OTELCOL_BIN=")?,
        })
    })
    .as_ref()
}

macro_rules! peers_or_skip {
    () => {
        match bins() {
            Some(b) => b,
            None => {
                eprintln!(
                    "skipped: the real Jaeger and Collector are not available (scripts/peers.sh)"
                );
                return;
            }
        }
    };
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process stopped when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(bin: &Path, config: &str, dir: &Path, name: &str) -> Proc {
        let cfg = dir.join(format!("{name}.yaml"));
        std::fs::write(&cfg, config).unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(bin)
            .arg("--config")
            .arg(&cfg)
            // Both serve their own metrics on :8888 by default; two of them would collide.
            .arg("--set=service::telemetry::metrics::level=none")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Jaeger from `deploy/jaeger.yaml`, as it is, on loopback ports.
struct Jaeger {
    proc: Proc,
    otlp_grpc: u16,
    http: u16,
    config: String,
    dir: PathBuf,
}

impl Jaeger {
    fn start(bins: &Bins, dir: &Path) -> Jaeger {
        let (otlp_grpc, otlp_http, http, grpc) =
            (free_port(), free_port(), free_port(), free_port());
        let config = std::fs::read_to_string(root().join("deploy/jaeger.yaml"))
            .unwrap()
            .replace("0.0.0.0:4317", &format!("127.0.0.1:{otlp_grpc}"))
            .replace("0.0.0.0:4318", &format!("127.0.0.1:{otlp_http}"))
            .replace("0.0.0.0:16686", &format!("127.0.0.1:{http}"))
            .replace("0.0.0.0:16685", &format!("127.0.0.1:{grpc}"));
        assert!(
            !config.contains("0.0.0.0"),
            "a listener of deploy/jaeger.yaml was not moved to loopback"
        );
        let proc = Proc::start(&bins.jaeger, &config, dir, "jaeger");
        let j = Jaeger {
            proc,
            otlp_grpc,
            http,
            config,
            dir: dir.to_owned(),
        };
        j.wait_ready();
        j
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http)
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if get(self.http, "/api/v3/services").is_some_and(|(s, _)| s == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Jaeger did not start:\n{}", self.proc.log());
    }

    /// Stops Jaeger and starts it again on the same ports (its in-memory store starts empty).
    fn restart(&mut self, bins: &Bins) {
        self.proc.stop();
        self.proc = Proc::start(&bins.jaeger, &self.config, &self.dir, "jaeger2");
        self.wait_ready();
    }

    /// A trace through `/api/v3/traces/{id}` (OTLP JSON), once it holds `spans` spans.
    fn trace_v3(&self, id: &str, spans: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = 0;
        while Instant::now() < deadline {
            if let Some((200, body)) = get(self.http, &format!("/api/v3/traces/{id}")) {
                let v: Value = serde_json::from_slice(&body).unwrap();
                last = otlp_spans(&v["result"]).len();
                if last >= spans {
                    return v;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("Jaeger holds {last} of the {spans} spans of trace {id}");
    }
}

/// The collector running `otel-collector.yaml` on loopback, exporting to `jaeger_grpc` (the
/// Tempo exporter is dropped: no Tempo here) and to a file.
struct Collector {
    _proc: Proc,
    grpc: u16,
    http: u16,
    file: PathBuf,
}

fn collector_config(
    jaeger_grpc: u16,
    dir: &Path,
    edit: impl Fn(String) -> String,
) -> (String, u16, u16, PathBuf) {
    let (grpc, http, health) = (free_port(), free_port(), free_port());
    let file = dir.join("collector-spans.jsonl");
    let config = std::fs::read_to_string(root().join("otel-collector.yaml"))
        .unwrap()
        .replace("0.0.0.0:4317", &format!("127.0.0.1:{grpc}"))
        .replace("0.0.0.0:4318", &format!("127.0.0.1:{http}"))
        .replace("0.0.0.0:13133", &format!("127.0.0.1:{health}"))
        .replace("jaeger:4317", &format!("127.0.0.1:{jaeger_grpc}"));
    let config = drop_tempo(&config, &file);
    (edit(config), grpc, http, file)
}

/// Replaces the Tempo exporter by a file exporter of the spans, and the Prometheus one by a
/// file exporter of the metrics (one JSON line per export each): no host name but loopback
/// is left in the configuration.
fn drop_tempo(config: &str, file: &Path) -> String {
    let metrics = file.with_file_name("collector-metrics.jsonl");
    let config = replace_exporter(config, "otlp_grpc/tempo", "file/out", file);
    let out = replace_exporter(&config, "otlp_http/prometheus", "file/metrics", &metrics);
    assert!(
        out.contains("file/out:") && !out.contains("tempo:4317"),
        "{out}"
    );
    assert!(
        out.contains("file/metrics:") && !out.contains("prometheus:9090"),
        "{out}"
    );
    out
}

/// The exporter `name`'s block and references replaced by a file exporter `by` writing to
/// `file`.
fn replace_exporter(config: &str, name: &str, by: &str, file: &Path) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in config.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if line.starts_with(&format!("  {name}:")) {
            skipping = true;
            out.push_str(&format!("  {by}:\n    path: {}\n", file.display()));
            continue;
        }
        if skipping && (line.starts_with("    ") || line.trim().is_empty()) {
            continue;
        }
        skipping = false;
        out.push_str(&line.replace(name, by));
        out.push('\n');
    }
    out
}

impl Collector {
    fn start(bins: &Bins, jaeger_grpc: u16, dir: &Path) -> Collector {
        Self::start_with(bins, jaeger_grpc, dir, |c| c)
    }

    fn start_with(
        bins: &Bins,
        jaeger_grpc: u16,
        dir: &Path,
        edit: impl Fn(String) -> String,
    ) -> Collector {
        let (config, grpc, http, file) = collector_config(jaeger_grpc, dir, edit);
        let proc = Proc::start(&bins.otelcol, &config, dir, "otelcol");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", grpc)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the collector did not start:\n{}",
                proc.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Collector {
            _proc: proc,
            grpc,
            http,
            file,
        }
    }

    fn grpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: HTTP, OTLP JSON, the binary
// ---------------------------------------------------------------------------------------------

/// `GET path` on 127.0.0.1:port: status and body.
fn get(port: u16, path: &str) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).ok()?;
    let code = status.split_whitespace().nth(1)?.parse().ok()?;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
    }
    let mut body = Vec::new();
    r.read_to_end(&mut body).ok()?;
    Some((code, body))
}

/// Every span of an OTLP JSON document (`resourceSpans` → `scopeSpans` → `spans`).
fn otlp_spans(doc: &Value) -> Vec<&Value> {
    doc["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|ss| ss["spans"].as_array().into_iter().flatten())
        .collect()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

fn by_name<'a>(spans: &[&'a Value], name: &str) -> &'a Value {
    spans
        .iter()
        .copied()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span named {name:?}"))
}

/// The `orchestrace` binary, built once per test process.
fn orchestrace_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "orchestrace-cli",
                "--bin",
                "orchestrace",
            ])
            .current_dir(root())
            .status()
            .unwrap();
        assert!(status.success());
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join("orchestrace")
    })
}

/// Runs the binary with no ambient `OTEL_*` variables or `NO_COLOR`.
fn orchestrace(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(orchestrace_bin());
    cmd.args(args).current_dir(root());
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "NO_COLOR" {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn trace_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace "))
        .unwrap_or_else(|| {
            panic!(
                "no trace line in {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .trim()
        .to_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("orchestrace-real-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `orchestrace run examples/plans/ci_ops.json` exporting to `collector` and writing its spans
/// to `trace_out`; it must succeed.
fn run_ci_ops(collector: &Collector, trace_out: &Path) -> Output {
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--view",
            "none",
            "--otlp",
            &collector.grpc_url(),
            "--trace-out",
            trace_out.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Asserts two analyses are the same, numbers within `tolerance` (Jaeger's v1 API keeps
/// microseconds, so its millisecond figures may differ from the nanosecond ones by 0.001).
fn assert_same_analysis(a: &Value, b: &Value, tolerance: f64, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= tolerance, "{at}: {x} vs {y}");
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(x), keys(y), "{at}");
            for (k, v) in x {
                assert_same_analysis(v, &y[k], tolerance, &format!("{at}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                assert_same_analysis(v, w, tolerance, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

/// A run through the collector into Jaeger reads back with the analysis of its own
/// `--trace-out` file; the span tree, links and attribute types survive the trip.
#[test]
fn a_run_reaches_jaeger_through_the_collector_whole() {
    let bins = peers_or_skip!();
    let dir = tempdir("whole");
    let jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let trace_out = dir.join("trace.json");
    let out = run_ci_ops(&collector, &trace_out);
    assert!(
        out.stderr.is_empty(),
        "a healthy run is quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = trace_id(&out);
    let local: Value = serde_json::from_str(&std::fs::read_to_string(&trace_out).unwrap()).unwrap();
    let n = otlp_spans(&local).len();
    assert!(n >= 9, "{n} spans written");

    let remote = jaeger.trace_v3(&id, n);
    let spans = otlp_spans(&remote["result"]);
    assert_eq!(spans.len(), n);

    // The tree of the spans spec: invoke_workflow → stages → levels → tools.
    let parent_name = |s: &Value| {
        spans
            .iter()
            .find(|p| p["spanId"] == s["parentSpanId"])
            .map(|p| p["name"].as_str().unwrap().to_owned())
    };
    let root = spans
        .iter()
        .find(|s| s.get("parentSpanId").is_none_or(|p| p == ""))
        .unwrap();
    assert!(
        root["name"]
            .as_str()
            .unwrap()
            .starts_with("invoke_workflow"),
        "{}",
        root["name"]
    );
    let execute = by_name(&spans, "execute");
    assert_eq!(parent_name(execute).as_deref(), root["name"].as_str());
    let level0 = by_name(&spans, "level 0 (parallel)");
    assert_eq!(parent_name(level0).as_deref(), Some("execute"));
    let aggregate = spans
        .iter()
        .find(|s| attr(s, "orchestration.tool_id").is_some_and(|v| v["stringValue"] == "aggregate"))
        .unwrap();
    assert_eq!(parent_name(aggregate).as_deref(), Some("level 1 (serial)"));

    // Types survive: arrays, ints, doubles, bools.
    let deps = &attr(aggregate, "orchestration.depends_on").unwrap()["arrayValue"]["values"];
    let deps: Vec<&str> = deps
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["stringValue"].as_str().unwrap())
        .collect();
    assert_eq!(deps, ["primary", "secondary"]);
    assert_eq!(
        attr(aggregate, "orchestration.execution_group").unwrap()["intValue"],
        "1"
    );
    assert!(attr(aggregate, "orchestration.queue_wait_ms").unwrap()["doubleValue"].is_number());
    assert_eq!(
        attr(aggregate, "orchestration.fallback_used").unwrap()["boolValue"],
        false
    );

    // Links to the dependencies' spans arrive as links (and as references in the v1 API).
    let primary = spans
        .iter()
        .find(|s| attr(s, "orchestration.tool_id").is_some_and(|v| v["stringValue"] == "primary"))
        .unwrap();
    let links: Vec<&Value> = aggregate["links"].as_array().unwrap().iter().collect();
    assert_eq!(links.len(), 2);
    assert!(links.iter().any(|l| l["spanId"] == primary["spanId"]));
    let (code, v1) = get(jaeger.http, &format!("/api/traces/{id}")).unwrap();
    assert_eq!(code, 200);
    let v1: Value = serde_json::from_slice(&v1).unwrap();
    let v1_agg = v1["data"][0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["spanID"] == aggregate["spanId"])
        .unwrap();
    let follows: Vec<&Value> = v1_agg["references"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["refType"] == "FOLLOWS_FROM")
        .collect();
    assert_eq!(follows.len(), 2, "{}", v1_agg["references"]);

    // The same analysis from Jaeger (v3: nanoseconds) as from the file, exactly.
    let from_file = json_of(&orchestrace(
        &["inspect", trace_out.to_str().unwrap(), "--json"],
        &[],
    ));
    let from_jaeger = json_of(&orchestrace(
        &["inspect", "--jaeger", &jaeger.url(), &id, "--json"],
        &[],
    ));
    assert_same_analysis(&from_jaeger, &from_file, 0.0, "analysis");
    assert!(from_file["makespan_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        from_file["critical_path"]
            .as_array()
            .unwrap()
            .last()
            .unwrap(),
        "aggregate"
    );
    // Through the v1 API (microseconds): the same, within its precision (sums of three
    // durations: up to 1 µs of truncation each).
    let v1_trace = orchestrace_inspect::load_bytes(&serde_json::to_vec(&v1).unwrap()).unwrap();
    let v1_analysis = serde_json::to_value(orchestrace_inspect::analyze(&v1_trace)).unwrap();
    assert_same_analysis(&v1_analysis, &from_file, 0.005, "v1 analysis");
}

/// The collector's redaction masks a secret-shaped attribute of a span that had no redactor
/// in front of it (a host app's own span).
#[test]
fn the_collector_masks_what_a_host_app_left_in() {
    use orchestrace::telemetry::TelemetryBuilder;
    use tracing_subscriber::prelude::*;

    let bins = peers_or_skip!();
    let dir = tempdir("redaction");
    let jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(collector.grpc_url())
        .with_service_name("host-app")
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let trace_id = tracing::subscriber::with_default(subscriber, || {
        use opentelemetry::trace::TraceContextExt;
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        let span = tracing::info_span!(
            "login",
            db.user_password = "hunter2-hunter2",
            http.request.header.authorization = "Bearer abcdefghijklmnop",
            author = "kim",
        );
        let id = span.context().span().span_context().trace_id().to_string();
        drop(span);
        id
    });
    let summary = telemetry.guard().shutdown();
    assert!(summary.warning().is_none(), "{:?}", summary.warning());
    let remote = jaeger.trace_v3(&trace_id, 1);
    let span = otlp_spans(&remote["result"])[0];
    assert_eq!(
        attr(span, "db.user_password").unwrap()["stringValue"],
        "****"
    );
    assert_eq!(
        attr(span, "http.request.header.authorization").unwrap()["stringValue"],
        "****"
    );
    assert_eq!(attr(span, "author").unwrap()["stringValue"], "kim");
    assert!(attr(span, "redaction.masked.count").is_some());
}

/// Jaeger stopped mid-run and started again: the run is unaffected, and the spans that end
/// after the restart (the root among them) reach the new Jaeger through the collector's retry.
#[test]
fn jaeger_restarted_mid_run() {
    let bins = peers_or_skip!();
    let dir = tempdir("restart");
    let mut jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let plan = dir.join("slow.json");
    std::fs::write(
        &plan,
        r#"{"plan_id": "slow", "tools": [
            {"id": "a", "tool": "sleep", "params": {"ms": 300}},
            {"id": "b", "tool": "sleep", "params": {"ms": 4000}, "depends_on": ["a"]},
            {"id": "c", "tool": "echo", "params": {"x": 1}, "depends_on": ["b"]}]}"#,
    )
    .unwrap();
    let url = collector.grpc_url();
    let plan_arg = plan.to_str().unwrap().to_owned();
    let run = std::thread::spawn(move || {
        orchestrace(&["run", &plan_arg, "--view", "none", "--otlp", &url], &[])
    });
    std::thread::sleep(Duration::from_millis(1500));
    jaeger.restart(bins);
    let out = run.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = trace_id(&out);
    // c and the root end after the restart.
    let remote = jaeger.trace_v3(&id, 2);
    let names: Vec<&str> = otlp_spans(&remote["result"])
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("invoke_workflow")),
        "{names:?}"
    );
    assert!(names.contains(&"execute_tool echo"), "{names:?}");
    drop(collector);
}

/// The collector's memory_limiter refusing everything: the exporter retries, gives up within
/// its bound, and the run ends normally with one warning; nothing crashes.
#[test]
fn a_collector_that_refuses_does_not_fail_the_run() {
    let bins = peers_or_skip!();
    let dir = tempdir("refuse");
    let jaeger = Jaeger::start(bins, &dir);
    // A limit below what the collector itself uses: it refuses every request.
    let collector = Collector::start_with(bins, jaeger.otlp_grpc, &dir, |c| {
        c.replace(
            "    limit_percentage: 75\n    spike_limit_percentage: 20",
            "    limit_mib: 1\n    spike_limit_mib: 0",
        )
    });
    // The limiter measures memory every second (check_interval): refusal starts after the
    // first measurement.
    std::thread::sleep(Duration::from_millis(2500));
    orchestrace_bin();
    let started = Instant::now();
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--view",
            "none",
            "--otlp",
            &collector.grpc_url(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one warning: {stderr}");
    assert!(stderr.contains("were not exported"), "{stderr}");
    // The documented bound: the shutdown waits at most 5 s for the exporter.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let id = trace_id(&out);
    assert_eq!(
        get(jaeger.http, &format!("/api/v3/traces/{id}")).unwrap().0,
        404
    );
}

/// A collector whose upstream is gone accepts and queues: the run is not slowed down by it.
#[test]
fn a_collector_with_its_upstream_down_does_not_slow_the_run() {
    let bins = peers_or_skip!();
    let dir = tempdir("upstream");
    let dead = free_port();
    let collector = Collector::start(bins, dead, &dir);
    orchestrace_bin();
    let started = Instant::now();
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--view",
            "none",
            "--otlp",
            &collector.grpc_url(),
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// `inspect --jaeger URL --last N --workflow W` lists and analyses the latest runs of one
/// workflow through the v3 search API, newest first.
#[test]
fn the_last_runs_of_a_workflow_from_jaeger() {
    let bins = peers_or_skip!();
    let dir = tempdir("last");
    let jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let mut ids = Vec::new();
    for plan in [
        "examples/plans/ci_ops.json",
        "examples/plans/diamond.json",
        "examples/plans/ci_ops.json",
    ] {
        let out = orchestrace(
            &[
                "run",
                plan,
                "--view",
                "none",
                "--otlp",
                &collector.grpc_url(),
            ],
            &[],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = trace_id(&out);
        jaeger.trace_v3(&id, 9);
        ids.push(id);
    }
    let out = orchestrace(
        &[
            "inspect",
            "--jaeger",
            &jaeger.url(),
            "--last",
            "5",
            "--workflow",
            "ci-ops-42",
            "--json",
        ],
        &[],
    );
    let runs = json_of(&out);
    let got: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [ids[2].as_str(), ids[0].as_str()],
        "newest first, only ci-ops-42"
    );
    let table = orchestrace(&["inspect", "--jaeger", &jaeger.url(), "--last", "1"], &[]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.status.success(),
        "{}",
        String::from_utf8_lossy(&table.stderr)
    );
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with(&ids[2]), "{text}");
}

/// Metrics over OTLP through the real Collector: the GenAI histograms count one point per
/// tool run and per run, with the spans' durations, and the orchestration metrics carry only
/// low-cardinality attributes.
#[test]
fn metrics_reach_the_collector_with_the_span_durations() {
    let bins = peers_or_skip!();
    let dir = tempdir("metrics");
    let jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let trace_out = dir.join("trace.json");
    run_ci_ops(&collector, &trace_out);
    let spans: Value = serde_json::from_str(&std::fs::read_to_string(&trace_out).unwrap()).unwrap();
    let tool_seconds: f64 = otlp_spans(&spans)
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with("execute_tool"))
        .map(|s| {
            let n = |k: &str| s[k].as_str().unwrap().parse::<u64>().unwrap();
            (n("endTimeUnixNano") - n("startTimeUnixNano")) as f64 / 1e9
        })
        .sum();
    let file = collector.file.with_file_name("collector-metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let all: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .flat_map(|doc| {
                doc["resourceMetrics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|rm| rm["scopeMetrics"].as_array().cloned().unwrap_or_default())
                    .flat_map(|sm| sm["metrics"].as_array().cloned().unwrap_or_default())
            })
            .collect();
        if all
            .iter()
            .any(|m| m["name"] == "gen_ai.execute_tool.duration")
        {
            break all;
        }
        assert!(
            Instant::now() < deadline,
            "no metrics in {}",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let metric = |name: &str| {
        metrics
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no metric {name}"))
    };
    let points = |m: &Value| {
        m["histogram"]["dataPoints"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let tool = metric("gen_ai.execute_tool.duration");
    assert_eq!(tool["unit"], "s");
    let count: u64 = points(tool)
        .iter()
        .map(|p| p["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(count, 3, "one point per tool run");
    let sum: f64 = points(tool)
        .iter()
        .map(|p| p["sum"].as_f64().unwrap())
        .sum();
    assert!(
        (sum - tool_seconds).abs() < 1e-3,
        "histogram sum {sum} vs span durations {tool_seconds}"
    );
    for p in points(tool) {
        let keys: Vec<&str> = p["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["key"].as_str().unwrap())
            .collect();
        assert!(
            keys.contains(&"gen_ai.tool.name") && keys.contains(&"gen_ai.tool.type"),
            "{keys:?}"
        );
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("trace") || k.contains("call.id")),
            "{keys:?}"
        );
    }
    let run = metric("gen_ai.invocation.duration");
    assert_eq!(run["unit"], "s");
    let count: u64 = points(run)
        .iter()
        .map(|p| p["count"].as_str().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(count, 1);
    let wf = points(run)[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "gen_ai.workflow.name")
        .map(|a| a["value"]["stringValue"].clone());
    assert_eq!(wf, Some(Value::from("ci-ops-42")));
    metric("orchestration.run.makespan");
    metric("orchestration.run.time_saved");
    metric("orchestration.tool.queue_wait");
}

/// Our configs as the real peers read them: `otel-collector.yaml` passes the collector's
/// `validate` as it is (compose host names and all); Jaeger ran `deploy/jaeger.yaml` in every
/// test above.
#[test]
fn our_collector_config_passes_the_real_validate() {
    let bins = peers_or_skip!();
    let out = Command::new(&bins.otelcol)
        .args(["validate", "--config"])
        .arg(root().join("otel-collector.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Rewrites `tests/fixtures/real/` from the real peers: Jaeger's answers through both API
/// versions and the collector's file-exporter output for one run of the example plan.
#[test]
fn fixtures() {
    if std::env::var_os("ORCHESTRACE_WRITE_FIXTURES").is_none() {
        return;
    }
    let bins = peers_or_skip!();
    let dir = tempdir("fixtures");
    let jaeger = Jaeger::start(bins, &dir);
    let collector = Collector::start(bins, jaeger.otlp_grpc, &dir);
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--view",
            "none",
            "--otlp",
            &collector.grpc_url(),
        ],
        &[("OTEL_SERVICE_NAME", "orchestrace")],
    );
    let id = trace_id(&out);
    let v3 = jaeger.trace_v3(&id, 9);
    let n = otlp_spans(&v3["result"]).len();
    let (_, v1) = get(jaeger.http, &format!("/api/traces/{id}")).unwrap();
    let target = root().join("tests/fixtures/real");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("jaeger_v1_ci_ops.json"), v1).unwrap();
    std::fs::write(
        target.join("jaeger_v3_ci_ops.json"),
        serde_json::to_string_pretty(&v3).unwrap(),
    )
    .unwrap();
    // The collector's file exporter writes one line per export; wait for all spans.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(&collector.file).unwrap_or_default();
        let count: usize = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| otlp_spans(&v).len())
            .sum();
        if count >= n {
            std::fs::write(target.join("collector_file_ci_ops.jsonl"), text).unwrap();
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the file exporter wrote {count} of {n} spans"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = collector.http;
}
