//! Text from plans, traces and libraries reaches the terminal inert, and credentials in URLs
//! given on the command line are never printed.

mod support;

use serde_json::json;
use support::*;

const EVIL: &str = "q\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}";
const EVIL_SHOWN: &str = "q\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{9b}31m\\u{202e}";

/// No raw control character but line breaks (the inspector's views, which replace controls
/// by spaces, are held to this).
fn assert_no_controls(text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "raw control {c:?} in output:\n{text}"
        );
    }
}

/// No raw control and no bidirectional override: what the command prints itself.
fn assert_inert(text: &str) {
    assert_no_controls(text);
    assert!(
        !text.chars().any(|c| ('\u{202a}'..='\u{202e}').contains(&c)),
        "raw bidi override in output:\n{text}"
    );
}

#[test]
fn a_hostile_query_and_error_print_escaped_in_every_view_and_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "evil.json",
        &json!({"plan_id": "evil", "query": EVIL,
                "tools": [{"id": "a", "tool": "fail", "params": {"message": EVIL, "times": 9}}]}),
    );
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan));
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_no_controls(&out);
    let answer = out.lines().last().unwrap();
    assert_inert(answer);
    assert!(
        out.ends_with(&format!(
            "\nanswer: {EVIL_SHOWN}: 0 of 1 tools succeeded in 0 ms (parallel strategy, 0 ms saved by running in parallel).\n"
        )),
        "{out}"
    );
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).arg("--json"));
    let out = stdout(&o);
    assert_inert(&out);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["plan_trace"]["query"], EVIL,
        "JSON keeps the text, escaped"
    );
    let o = output(orchestrace(dir.path()).arg("plan").arg(&plan));
    assert_eq!(o.status.code(), Some(0));
    assert_inert(&stdout(&o));
    assert!(stdout(&o).contains(&format!("\nquery: {EVIL_SHOWN}\n")));
}

#[test]
fn a_hostile_trace_id_prints_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let trace = json!({"data": [{"traceID": format!("abc{EVIL}"), "spans": [
        {"traceID": format!("abc{EVIL}"), "spanID": "1", "operationName": "op",
         "startTime": 1_700_000_000_000_000u64, "duration": 1000, "processID": "p1"}],
        "processes": {"p1": {"serviceName": "svc"}}}]});
    std::fs::write(dir.path().join("t.json"), trace.to_string()).unwrap();
    let o = output(orchestrace(dir.path()).args(["inspect", "t.json", "--view", "none"]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("trace abc{EVIL_SHOWN}\n"));
}

#[test]
fn a_hostile_path_in_an_error_prints_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let o = output(orchestrace(dir.path()).args(["plan", &format!("{EVIL}.json")]));
    assert_eq!(o.status.code(), Some(2));
    assert_inert(&stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!("error: {EVIL_SHOWN}.json: ")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn credentials_in_the_otlp_url_are_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "one.json",
        &json!({"plan_id": "one", "tools": [{"id": "a", "tool": "echo"}]}),
    );
    // Nothing listens on the port: every span is lost, and the warning names the endpoint.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).args([
        "--protocol",
        "http",
        "--otlp",
        &format!("http://alice:hunter2@127.0.0.1:{port}/?api_key=k3y&region=eu"),
        "--view",
        "none",
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.starts_with("warning: "), "{err}");
    assert!(
        err.contains(&format!(
            // The signal path is appended to the base URL, the query stays, masked.
            "http://127.0.0.1:{port}/v1/traces?api_key=[REDACTED]&region=eu"
        )),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("alice") && !err.contains("k3y"),
        "{err}"
    );
}

#[test]
fn credentials_in_a_jaeger_url_are_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let o = output(orchestrace(dir.path()).args([
        "inspect",
        "--jaeger",
        &format!("http://bob:hunter2@127.0.0.1:{port}/?token=t0k"),
        "0af7651916cd43dd8448eb211c80319c",
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("bob") && !err.contains("t0k"),
        "{err}"
    );
}

/// `run --json` carries no secret: not under a secret key, not in a token shape, not where a
/// secret flowed through the data flow, not in the answer.
#[test]
fn run_json_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "secret.json",
        &json!({"plan_id": "secret", "tools": [
            {"id": "login", "tool": "echo", "params": {
                "DB_PASS": "hunter2-xyz", "url": "https://api.example.com/v1?api_key=abcdef123",
                "aws": "AKIAIOSFODNN7EXAMPLE", "region": "eu-west-1"}},
            {"id": "copy", "tool": "echo", "output_mapping": {"seen": "{login.DB_PASS}"}}
        ]}),
    );
    let out = output(orchestrace(dir.path()).args(["run", plan.to_str().unwrap(), "--json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for secret in ["hunter2-xyz", "abcdef123", "AKIAIOSFODNN7EXAMPLE"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("eu-west-1"), "plain values stay");
}
