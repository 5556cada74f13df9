//! End to end against an independent receiver process nobody here wrote: `otelite` (crates.io,
//! installed by `scripts/test.sh`). The CLI exports over OTLP/gRPC; the trace is read back
//! through otelite's REST query API. A second test kills otelite mid-run and starts it again.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{closed_port, orchestrace, trace_id};

/// Finds the otelite binary; under CI its absence is a failure, locally a skip.
fn otelite_bin() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("OTELITE_BIN").map(PathBuf::from),
        std::env::var_os("CARGO_HOME").map(|h| PathBuf::from(h).join("bin/otelite")),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/otelite")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("otelite"))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "otelite is not installed (scripts/test.sh installs it)"
        );
        eprintln!("note: otelite not installed; skipping (run scripts/test.sh)");
    }
    found
}

struct Otelite {
    bin: PathBuf,
    home: tempfile::TempDir,
    grpc: u16,
    http: u16,
    api: u16,
    child: Option<Child>,
}

impl Otelite {
    fn start(bin: PathBuf) -> Otelite {
        let mut o = Otelite {
            bin,
            home: tempfile::tempdir().unwrap(),
            grpc: closed_port(),
            http: closed_port(),
            api: closed_port(),
            child: None,
        };
        o.spawn();
        o
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["serve", "--addr", &format!("127.0.0.1:{}", self.api)])
            .arg("--storage-path")
            .arg(self.home.path().join("data"))
            .env("HOME", self.home.path())
            .env("OTELITE_OTLP_GRPC_PORT", self.grpc.to_string())
            .env("OTELITE_OTLP_HTTP_PORT", self.http.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("otelite starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.grpc)).is_ok()
                && self.get("/api/health").is_some()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("otelite did not come up on 127.0.0.1:{}", self.grpc);
    }

    /// SIGKILL: no flush, no goodbye.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn otlp(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// A GET on the REST API: the body of a 200, else None.
    fn get(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.api)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut buf = String::new();
        s.read_to_string(&mut buf).ok()?;
        let (head, body) = buf.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?;
        (status == "200").then(|| body.to_owned())
    }

    /// The trace's spans, once at least `n` are stored (or the deadline passes).
    fn trace(&self, id: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self
                .get(&format!("/api/traces/{id}"))
                .and_then(|b| serde_json::from_str::<Value>(&b).ok())
                .and_then(|v| v["spans"].as_array().cloned())
                .unwrap_or_default();
            if spans.len() >= n || Instant::now() > deadline {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Otelite {
    fn drop(&mut self) {
        self.kill();
    }
}

fn span<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name}"))
}

#[test]
fn ci_ops_reaches_otelite_and_reads_back() {
    let Some(bin) = otelite_bin() else { return };
    let otelite = Otelite::start(bin);
    let out = orchestrace(
        &[
            "run",
            "examples/plans/ci_ops.json",
            "--otlp",
            &otelite.otlp(),
            "--protocol",
            "grpc",
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = trace_id(&out);
    let spans = otelite.trace(&id, 11);
    let mut names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "compose",
            "execute",
            "execute_tool ci_aggregate",
            "execute_tool ci_lookup",
            "execute_tool ci_lookup",
            "invoke_workflow ci-ops-42",
            "level 0 (parallel)",
            "level 1 (serial)",
            "present",
            "route_plan",
            "validate"
        ]
    );
    let root = span(&spans, "invoke_workflow ci-ops-42");
    let execute = span(&spans, "execute");
    let level0 = span(&spans, "level 0 (parallel)");
    let level1 = span(&spans, "level 1 (serial)");
    let aggregate = span(&spans, "execute_tool ci_aggregate");
    assert_eq!(execute["parent_span_id"], root["span_id"]);
    for stage in ["route_plan", "validate", "compose", "present"] {
        assert_eq!(
            span(&spans, stage)["parent_span_id"],
            root["span_id"],
            "{stage}"
        );
    }
    assert_eq!(level0["parent_span_id"], execute["span_id"]);
    assert_eq!(level1["parent_span_id"], execute["span_id"]);
    assert_eq!(aggregate["parent_span_id"], level1["span_id"]);
    let lookups: Vec<&Value> = spans
        .iter()
        .filter(|s| s["name"] == "execute_tool ci_lookup")
        .collect();
    assert!(lookups
        .iter()
        .all(|s| s["parent_span_id"] == level0["span_id"]));

    // otelite keeps attribute values as text.
    let a = &aggregate["attributes"];
    assert_eq!(a["gen_ai.operation.name"], "execute_tool");
    assert_eq!(a["gen_ai.tool.name"], "ci_aggregate");
    assert_eq!(a["orchestration.tool_id"], "aggregate");
    assert_eq!(a["orchestration.execution_strategy"], "dag");
    assert_eq!(a["orchestration.execution_group"], "1");
    assert_eq!(a["orchestration.execution_order_index"], "2");
    assert_eq!(a["orchestration.depends_on"], "[primary, secondary]");
    assert_eq!(a["orchestration.status"], "ok");
    let flow: Value =
        serde_json::from_str(a["orchestration.data_flow_inputs"].as_str().unwrap()).unwrap();
    assert_eq!(flow["primary_count"]["value"], 42);
    assert_eq!(
        flow["secondary_count"]["expression"],
        "{secondary.data.rows[0].count}"
    );
    assert_eq!(
        lookups[0]["attributes"]["orchestration.execution_group"],
        "0"
    );
    assert_eq!(
        execute["attributes"]["orchestration.critical_path"],
        "[secondary, aggregate]"
    );
    assert_eq!(
        root["attributes"]["gen_ai.operation.name"],
        "invoke_workflow"
    );
}

#[test]
fn otelite_killed_and_restarted_mid_run() {
    let Some(bin) = otelite_bin() else { return };
    let mut otelite = Otelite::start(bin);
    // A serial chain of 30 × 100 ms, exported in small batches as it goes.
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("long.json");
    let tools: Vec<Value> = (0..30)
        .map(|i| {
            let mut t = serde_json::json!({"id": format!("s{i:02}"), "tool": "sleep", "params": {"ms": 100}});
            if i > 0 {
                t["depends_on"] = serde_json::json!([format!("s{:02}", i - 1)]);
            }
            t
        })
        .collect();
    std::fs::write(
        &plan,
        serde_json::json!({"plan_id": "long", "tools": tools}).to_string(),
    )
    .unwrap();

    let endpoint = otelite.otlp();
    let plan_path = plan.to_str().unwrap().to_owned();
    let started = Instant::now();
    let run = std::thread::spawn(move || {
        orchestrace(
            &["run", &plan_path, "--otlp", &endpoint],
            &[
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
            ],
        )
    });
    std::thread::sleep(Duration::from_millis(800));
    otelite.kill();
    std::thread::sleep(Duration::from_millis(800));
    otelite.spawn();
    let restarted = Instant::now();
    let out = run.join().unwrap();
    let elapsed = started.elapsed();

    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 3 s of tools; the outage may cost at most the export timeouts, never the run itself.
    assert!(elapsed < Duration::from_secs(3 + 5 + 2), "took {elapsed:?}");
    let id = trace_id(&out);
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let spans = otelite.trace(&id, 10);
    let ids: Vec<String> = spans
        .iter()
        .filter_map(|s| {
            s["attributes"]["orchestration.tool_id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    // Tools that ended well after the restart arrived: the last ones of the chain, and the
    // spans that end last of all.
    for late in ["s29", "s28", "s27"] {
        assert!(
            ids.iter().any(|i| i == late),
            "{late} missing after the restart: {ids:?}\n{report}"
        );
    }
    assert!(spans.iter().any(|s| s["name"] == "execute"));
    assert!(spans.iter().any(|s| s["name"] == "invoke_workflow long"));
    // Spans lost during the outage are counted once, naming the endpoint.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.len() <= 1, "one warning at most: {stderr}");
    if let Some(line) = lines.first() {
        assert!(line.starts_with("warning: "), "{line}");
        assert!(
            line.contains(&format!("127.0.0.1:{}", otelite.grpc)),
            "{line}"
        );
        assert!(line.contains(" spans were not exported to "), "{line}");
    }
    assert!(restarted.elapsed() < Duration::from_secs(10));
}
