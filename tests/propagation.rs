//! Traces across processes: the orchestrator's `http` tool calls the `remote_tool` example
//! service (another process, on loopback), both export to one in-process OTLP receiver, and the
//! service's spans must sit under the tool spans that called them — for parallel calls too.
//! Plus in-process round trips of inject/extract through a real exporter.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use orchestrace::propagation::{extract, inject};
use orchestrace::semconv as attr;
use orchestrace::telemetry::{OtlpProtocol, TelemetryBuilder};
use support::cli::wait_bounded;
use support::{Attr, Receiver, RecvSpan};
use tracing_subscriber::prelude::*;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Builds the `remote_tool` example for this test's profile and returns its path.
fn remote_tool_binary() -> PathBuf {
    support::cli::cargo_build(&["--example", "remote_tool"]);
    let bin = support::cli::profile_dir()
        .join("examples")
        .join(format!("remote_tool{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

/// The example service, running; killed on drop if still up.
struct Service {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Service {
    fn start(bin: &Path, otlp: &str, dir: &Path) -> Service {
        let log = dir.join("remote_tool.log");
        let mut child = Command::new(bin)
            .args(["--port", "0"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
            .env("OTEL_SERVICE_NAME", "remote-tool")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .env_remove("OTEL_SDK_DISABLED")
            .env_remove("OTEL_TRACES_SAMPLER")
            .env_remove("PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the example service starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(addr) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            panic!(
                "the service did not say where it listens: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        Service {
            addr: addr.to_owned(),
            child,
            log,
        }
    }

    /// Ctrl-C (SIGINT), then waits for a clean exit after the flush.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
        let status = wait_bounded(&mut self.child, Duration::from_secs(20));
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            status.is_some_and(|s| s.success()),
            "the service exits cleanly on Ctrl-C: {status:?}\n{log}"
        );
        assert!(!log.contains("panicked"), "{log}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `orchestrace run PLAN --otlp URL --json`, bounded; returns (exit code, stdout).
fn run_plan(plan: &Path, otlp: &str, dir: &Path) -> (Option<i32>, serde_json::Value) {
    let (out, err) = (dir.join("run.out"), dir.join("run.err"));
    let mut child = support::cli::command()
        .arg("run")
        .arg(plan)
        .args(["--otlp", otlp, "--protocol", "grpc", "--json"])
        .current_dir(MANIFEST_DIR)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_TRACES_SAMPLER")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("the orchestrace binary runs");
    let status = wait_bounded(&mut child, Duration::from_secs(60)).expect("the run ends in time");
    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("run --json prints JSON ({e}): {stdout}\n{stderr}"));
    (status.code(), report)
}

/// Polls the receiver until `done` holds for what arrived, at most `limit`.
async fn spans_until(
    rx: &Receiver,
    limit: Duration,
    done: impl Fn(&[RecvSpan]) -> bool,
) -> Vec<RecvSpan> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let spans = rx.spans();
        if done(&spans) || tokio::time::Instant::now() >= deadline {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_server(s: &RecvSpan) -> bool {
    s.name == "POST /lookup"
        && s.resource.get("service.name") == Some(&Attr::S("remote-tool".into()))
}

fn is_http_tool(s: &RecvSpan) -> bool {
    s.name == "execute_tool http"
}

/// A raw HTTP/1.1 POST to the service with extra header lines; returns the status line.
fn post_raw(addr: &str, extra_headers: &str) -> String {
    use std::io::{Read, Write};
    let mut sock = std::net::TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = r#"{"keywords": ["postgres"], "latency_ms": 0}"#;
    write!(
        sock,
        "POST /lookup HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    let _ = sock.read_to_string(&mut reply);
    reply.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_tool_spans_are_children_of_the_calling_tool_spans() {
    let bin = tokio::task::spawn_blocking(remote_tool_binary)
        .await
        .unwrap();
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let otlp = rx.grpc_url();
    let service = {
        let (bin, otlp, d) = (bin.clone(), otlp.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || Service::start(&bin, &otlp, &d))
            .await
            .unwrap()
    };

    // The example plan, pointed at the service's real port.
    let plan_text =
        std::fs::read_to_string(Path::new(MANIFEST_DIR).join("examples/plans/remote_tools.json"))
            .unwrap();
    assert!(plan_text.contains("127.0.0.1:8088"));
    let plan = dir.path().join("remote_tools.json");
    std::fs::write(&plan, plan_text.replace("127.0.0.1:8088", &service.addr)).unwrap();
    let (code, report) = {
        let (plan, otlp, d) = (plan.clone(), otlp.clone(), dir.path().to_owned());
        tokio::task::spawn_blocking(move || run_plan(&plan, &otlp, &d))
            .await
            .unwrap()
    };
    assert_eq!(code, Some(0), "{report:#}");
    let trace_id = report["trace_id"].as_str().expect("a trace id").to_owned();

    // Malformed incoming traceparents: answered, never a panic, each a fresh trace.
    let malformed = [
        "traceparent: garbage\r\n",
        "traceparent: ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n",
        "traceparent: 00-00000000000000000000000000000000-00f067aa0ba902b7-01\r\n",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01\r\n",
        "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\r\n",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01\r\n",
        "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra\r\n",
    ];
    let addr = service.addr.clone();
    let statuses = tokio::task::spawn_blocking(move || {
        malformed
            .iter()
            .map(|h| post_raw(&addr, h))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for s in &statuses {
        assert!(s.starts_with("HTTP/1.1 200"), "{s}");
    }
    // A valid traceparent with an oversized tracestate and baggage: bounded, still continued.
    let huge_state: Vec<String> = (0..200).map(|i| format!("k{i}=v{i}")).collect();
    let huge_baggage: Vec<String> = (0..2000).map(|i| format!("b{i}=x")).collect();
    let edge_headers = format!(
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\ntracestate: {}\r\nbaggage: {}\r\n",
        huge_state.join(","),
        huge_baggage.join(",")
    );
    let addr = service.addr.clone();
    let status = tokio::task::spawn_blocking(move || post_raw(&addr, &edge_headers))
        .await
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    tokio::task::spawn_blocking(move || service.stop())
        .await
        .unwrap();

    let expected_servers = 3 + malformed.len() + 1;
    let spans = spans_until(&rx, Duration::from_secs(20), |spans| {
        spans.iter().filter(|s| is_server(s)).count() >= expected_servers
            && spans.iter().filter(|s| is_http_tool(s)).count() >= 3
    })
    .await;
    let tools: HashMap<String, &RecvSpan> = spans
        .iter()
        .filter(|s| is_http_tool(s))
        .map(|s| (s.attr(attr::TOOL_ID).str().to_owned(), s))
        .collect();
    assert_eq!(
        tools.len(),
        3,
        "{:#?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let servers: Vec<&RecvSpan> = spans.iter().filter(|s| is_server(s)).collect();
    assert_eq!(servers.len(), expected_servers, "{servers:#?}");
    let keywords = |s: &RecvSpan| s.attr("lookup.keywords").str().to_owned();

    // Each orchestrated call: same trace, parent = the calling tool span; its own spans below.
    let mut called = HashMap::new();
    for (tool_id, kw) in [
        ("servers", "server"),
        ("network", "network"),
        ("top", "linux-server,switch"),
    ] {
        let tool = tools[tool_id];
        assert_eq!(tool.trace_id, trace_id, "{tool_id}");
        assert_eq!(tool.attr(attr::HTTP_RESPONSE_STATUS_CODE), &Attr::I(200));
        assert_eq!(
            tool.attr(attr::HTTP_REQUEST_METHOD),
            &Attr::S("POST".into())
        );
        let server = servers
            .iter()
            .find(|s| keywords(s) == kw)
            .unwrap_or_else(|| panic!("no server span for {tool_id}: {servers:#?}"));
        assert_eq!(
            server.trace_id, trace_id,
            "{tool_id}: the service continues the trace"
        );
        assert_eq!(
            server.parent_span_id, tool.span_id,
            "{tool_id}: the tool span is the parent"
        );
        for child in ["lookup", "score"] {
            let c = spans
                .iter()
                .find(|s| s.name == child && s.parent_span_id == server.span_id)
                .unwrap_or_else(|| panic!("{tool_id}: no {child} span under the server span"));
            assert_eq!(c.trace_id, trace_id);
            assert_eq!(
                c.resource.get("service.name"),
                Some(&Attr::S("remote-tool".into()))
            );
        }
        called.insert(tool_id, *server);
    }
    // The two parallel calls overlapped on the service; the third came after both.
    let (a, b, c) = (called["servers"], called["network"], called["top"]);
    assert!(
        a.start_ns < b.end_ns && b.start_ns < a.end_ns,
        "parallel calls overlap"
    );
    assert!(
        c.start_ns >= a.end_ns.max(b.end_ns),
        "the dependent call comes after"
    );

    // Malformed headers: fresh traces, no parent, never the garbage's ids.
    let fresh: Vec<&&RecvSpan> = servers
        .iter()
        .filter(|s| keywords(s) == "postgres")
        .collect();
    assert_eq!(fresh.len(), malformed.len() + 1);
    let edge: Vec<&&&RecvSpan> = fresh
        .iter()
        .filter(|s| s.trace_id == "0af7651916cd43dd8448eb211c80319c")
        .collect();
    assert_eq!(edge.len(), 1, "the oversized-but-valid call is continued");
    assert_eq!(edge[0].parent_span_id, "b7ad6b7169203331");
    for s in fresh
        .iter()
        .filter(|s| s.trace_id != "0af7651916cd43dd8448eb211c80319c")
    {
        assert!(s.parent_span_id.is_empty(), "{s:?}");
        assert_ne!(s.trace_id, trace_id);
        assert_ne!(s.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.trace_id.len(), 32);
    }
    rx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continued_and_linked_spans_arrive_over_otlp() {
    let rx = Receiver::start().await;
    let telemetry = TelemetryBuilder::new()
        .with_endpoint(rx.grpc_url())
        .with_protocol(OtlpProtocol::Grpc)
        .with_service_name("propagation-test")
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let guard = telemetry.guard();
    let (caller_trace, caller_span) = tracing::subscriber::with_default(subscriber, || {
        let caller = tracing::info_span!("caller");
        let mut headers = http::HeaderMap::new();
        assert!(inject(&caller, &mut headers));
        let parent = extract(&headers).expect("our own traceparent is valid");
        let ids = (parent.trace_id().to_owned(), parent.span_id().to_owned());

        let continued = tracing::info_span!(parent: None, "continued");
        assert!(parent.continue_trace(&continued));
        continued.in_scope(|| tracing::info_span!("continued_child").in_scope(|| {}));
        let linked = tracing::info_span!(parent: None, "linked");
        parent.link_from(&linked);
        linked.in_scope(|| {});
        drop((continued, linked));
        caller.in_scope(|| {});
        ids
    });
    let summary = tokio::task::spawn_blocking(move || guard.shutdown())
        .await
        .unwrap();
    assert_eq!(summary.dropped, 0, "{summary:?}");
    let spans = rx.wait_for(4, Duration::from_secs(30)).await;
    let named = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };

    let caller = named("caller");
    assert_eq!(
        (caller.trace_id.as_str(), caller.span_id.as_str()),
        (caller_trace.as_str(), caller_span.as_str())
    );
    let continued = named("continued");
    assert_eq!(continued.trace_id, caller_trace);
    assert_eq!(continued.parent_span_id, caller_span);
    let child = named("continued_child");
    assert_eq!(child.trace_id, caller_trace);
    assert_eq!(child.parent_span_id, continued.span_id);

    let linked = named("linked");
    assert_ne!(linked.trace_id, caller_trace, "a trace of its own");
    assert!(linked.parent_span_id.is_empty(), "a root");
    assert_eq!(linked.links.len(), 1);
    assert_eq!(linked.links[0].0, caller_span);
    assert_eq!(
        linked.links[0].1[attr::LINK],
        Attr::S(attr::LINK_REMOTE_PARENT.into())
    );
    rx.stop().await;
}
