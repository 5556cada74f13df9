//! Synthetic orchestrace traces with known timings (as the OTLP JSON `--trace-out` writes),
//! the trace fixtures in `tests/fixtures`, golden snapshots, and a one-file HTTP server
//! standing in for Jaeger and Tempo.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

pub const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// 2023-11-14T22:13:20Z, in nanoseconds.
pub const T0: u64 = 1_700_000_000_000_000_000;

/// One tool of a synthetic run.
#[derive(Debug, Clone)]
pub struct Tool {
    pub id: String,
    pub tool: String,
    pub start_ms: f64,
    pub end_ms: f64,
    pub deps: Vec<String>,
    pub flow: Vec<(String, Value, Value)>,
    pub status: String,
    pub group: Option<usize>,
    pub queue_wait_ms: Option<f64>,
    pub retry_count: Option<i64>,
    pub fallback_used: bool,
    pub events: Vec<(String, f64, Value)>,
    pub params: Option<Value>,
    pub asset: Option<String>,
    pub result_count: Option<i64>,
    pub result_size: Option<i64>,
    pub error: Option<(String, String)>,
    pub skip_reason: Option<String>,
}

/// A tool of type `tool` running from `start_ms` to `end_ms` after the run's first start.
pub fn tool(id: &str, tool: &str, start_ms: f64, end_ms: f64) -> Tool {
    Tool {
        id: id.to_owned(),
        tool: tool.to_owned(),
        start_ms,
        end_ms,
        deps: Vec::new(),
        flow: Vec::new(),
        status: "ok".to_owned(),
        group: None,
        queue_wait_ms: None,
        retry_count: None,
        fallback_used: false,
        events: Vec::new(),
        params: None,
        asset: None,
        result_count: None,
        result_size: None,
        error: None,
        skip_reason: None,
    }
}

impl Tool {
    pub fn deps(mut self, deps: &[&str]) -> Self {
        self.deps = deps.iter().map(|d| d.to_string()).collect();
        self
    }
    /// A data-flow input: `key` ← `template`, resolved to `value`.
    pub fn flow(mut self, key: &str, template: &str, value: Value) -> Self {
        self.flow.push((key.to_owned(), json!(template), value));
        self
    }
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }
    pub fn queue_wait(mut self, ms: f64) -> Self {
        self.queue_wait_ms = Some(ms);
        self
    }
    pub fn retries(mut self, n: i64) -> Self {
        self.retry_count = Some(n);
        self
    }
    pub fn fallback(mut self) -> Self {
        self.fallback_used = true;
        self
    }
    /// A span event `at_ms` after the tool's start.
    pub fn event(mut self, name: &str, at_ms: f64, attrs: Value) -> Self {
        self.events.push((name.to_owned(), at_ms, attrs));
        self
    }
    pub fn params(mut self, p: Value) -> Self {
        self.params = Some(p);
        self
    }
    pub fn asset(mut self, a: &str) -> Self {
        self.asset = Some(a.to_owned());
        self
    }
    pub fn rows(mut self, n: i64, bytes: i64) -> Self {
        self.result_count = Some(n);
        self.result_size = Some(bytes);
        self
    }
    pub fn error(mut self, kind: &str, message: &str) -> Self {
        self.status = "error".to_owned();
        self.error = Some((kind.to_owned(), message.to_owned()));
        self
    }
    pub fn skipped(mut self, reason: &str) -> Self {
        self.status = "skipped".to_owned();
        self.skip_reason = Some(reason.to_owned());
        self
    }
    pub fn group(mut self, g: usize) -> Self {
        self.group = Some(g);
        self
    }
}

fn ns(ms: f64) -> u64 {
    T0 + (ms * 1e6).round() as u64
}

fn s(v: &str) -> Value {
    json!({"stringValue": v})
}

fn i(v: i64) -> Value {
    json!({"intValue": v.to_string()})
}

fn kv(key: &str, value: Value) -> Value {
    json!({"key": key, "value": value})
}

fn strings(items: &[String]) -> Value {
    json!({"arrayValue": {"values": items.iter().map(|x| s(x)).collect::<Vec<_>>()}})
}

fn span_id(n: usize) -> String {
    format!("{:016x}", 0x1000 + n)
}

/// The OTLP JSON of a run with these tools under `strategy`: an `invoke_workflow` root, the
/// `execute` span (strategy, plan id), one level span per group and one `execute_tool` span per
/// tool with the attributes orchestrace records, and links to the dependencies. Groups are
/// the tools' levels unless given; orders go group by group, in the order given.
pub fn run_trace(plan_id: &str, strategy: &str, tools: &[Tool]) -> Value {
    let n = tools.len();
    let index = |id: &str| tools.iter().position(|t| t.id == id);
    // Levels from the dependencies.
    let mut level = vec![usize::MAX; n];
    for _ in 0..n {
        for k in 0..n {
            let l = tools[k]
                .deps
                .iter()
                .filter_map(|d| index(d))
                .map(|d| level[d].wrapping_add(1))
                .max()
                .unwrap_or(0);
            level[k] = l;
        }
    }
    let groups: Vec<usize> = (0..n).map(|k| tools[k].group.unwrap_or(level[k])).collect();
    let n_groups = groups.iter().max().map_or(0, |g| g + 1);
    let mut order = vec![0; n];
    let mut next = 0;
    for g in 0..n_groups {
        for k in 0..n {
            if groups[k] == g {
                order[k] = next;
                next += 1;
            }
        }
    }
    let first = tools
        .iter()
        .map(|t| t.start_ms)
        .fold(f64::INFINITY, f64::min);
    let last = tools
        .iter()
        .map(|t| t.end_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut spans = Vec::new();
    let root = span_id(0);
    let execute = span_id(1);
    spans.push(json!({
        "traceId": TRACE_ID, "spanId": root, "parentSpanId": "", "name": "invoke_workflow " ,
        "kind": 1, "startTimeUnixNano": ns(first - 2.0).to_string(),
        "endTimeUnixNano": ns(last + 2.0).to_string(),
        "attributes": [kv("gen_ai.operation.name", s("invoke_workflow")),
                       kv("gen_ai.workflow.name", s(plan_id))],
        "status": {}
    }));
    spans.push(json!({
        "traceId": TRACE_ID, "spanId": execute, "parentSpanId": root, "name": "execute",
        "kind": 1, "startTimeUnixNano": ns(first - 1.0).to_string(),
        "endTimeUnixNano": ns(last + 1.0).to_string(),
        "attributes": [kv("orchestration.stage", s("execute")),
                       kv("orchestration.plan_id", s(plan_id)),
                       kv("orchestration.execution_strategy", s(strategy))],
        "status": {}
    }));
    let level_ids: Vec<String> = (0..n_groups).map(|g| span_id(10 + g)).collect();
    for (g, level_id) in level_ids.iter().enumerate() {
        let members: Vec<usize> = (0..n).filter(|&k| groups[k] == g).collect();
        if members.is_empty() {
            continue;
        }
        let start = members
            .iter()
            .map(|&k| tools[k].start_ms)
            .fold(f64::INFINITY, f64::min);
        let end = members
            .iter()
            .map(|&k| tools[k].end_ms)
            .fold(f64::NEG_INFINITY, f64::max);
        let mode = if members.len() > 1 {
            "parallel"
        } else {
            "serial"
        };
        let ids: Vec<String> = members.iter().map(|&k| tools[k].id.clone()).collect();
        spans.push(json!({
            "traceId": TRACE_ID, "spanId": level_id, "parentSpanId": execute,
            "name": format!("level {g} ({mode})"), "kind": 1,
            "startTimeUnixNano": ns(start).to_string(), "endTimeUnixNano": ns(end).to_string(),
            "attributes": [kv("orchestration.stage", s("execute")),
                           kv("orchestration.execution_group", i(g as i64)),
                           kv("orchestration.execution_mode", s(mode)),
                           kv("orchestration.tools", strings(&ids))],
            "status": {}
        }));
    }
    for (k, t) in tools.iter().enumerate() {
        let g = groups[k];
        let peers: Vec<String> = (0..n)
            .filter(|&j| j != k && groups[j] == g)
            .map(|j| tools[j].id.clone())
            .collect();
        let mut attrs = vec![
            kv("gen_ai.operation.name", s("execute_tool")),
            kv("gen_ai.tool.name", s(&t.tool)),
            kv("gen_ai.tool.call.id", s(&t.id)),
            kv("orchestration.tool_id", s(&t.id)),
            kv("orchestration.stage", s("execute")),
            kv("orchestration.execution_strategy", s(strategy)),
            kv("orchestration.execution_group", i(g as i64)),
            kv("orchestration.execution_order_index", i(order[k] as i64)),
            kv("orchestration.parallel_with", strings(&peers)),
            kv("orchestration.depends_on", strings(&t.deps)),
            kv("orchestration.status", s(&t.status)),
            kv("orchestration.retry_count", i(t.retry_count.unwrap_or(0))),
            kv(
                "orchestration.fallback_used",
                json!({"boolValue": t.fallback_used}),
            ),
            kv("orchestration.cache_hit", json!({"boolValue": false})),
            kv(
                "orchestration.queue_wait_ms",
                json!({"doubleValue": t.queue_wait_ms.unwrap_or(0.0)}),
            ),
        ];
        if let Some(a) = &t.asset {
            attrs.push(kv("orchestration.asset_id", s(a)));
        }
        if let Some(p) = &t.params {
            attrs.push(kv("orchestration.params", s(&p.to_string())));
        }
        if !t.flow.is_empty() {
            let mut m = serde_json::Map::new();
            for (key, expr, value) in &t.flow {
                m.insert(key.clone(), json!({"expression": expr, "value": value}));
            }
            attrs.push(kv(
                "orchestration.data_flow_inputs",
                s(&Value::Object(m).to_string()),
            ));
        }
        if let Some(n) = t.result_count {
            attrs.push(kv("orchestration.result_count", i(n)));
        }
        if let Some(n) = t.result_size {
            attrs.push(kv("orchestration.result_size_bytes", i(n)));
        }
        if let Some((kind, _)) = &t.error {
            attrs.push(kv("error.type", s(kind)));
        }
        if let Some(r) = &t.skip_reason {
            attrs.push(kv("orchestration.skip_reason", s(r)));
        }
        let links: Vec<Value> = t
            .deps
            .iter()
            .filter_map(|d| index(d))
            .map(|d| {
                json!({"traceId": TRACE_ID, "spanId": span_id(100 + d),
                       "attributes": [kv("orchestration.link", s("depends_on")),
                                      kv("orchestration.tool_id", s(&tools[d].id))]})
            })
            .collect();
        let events: Vec<Value> = t
            .events
            .iter()
            .map(|(name, at, a)| {
                let attributes: Vec<Value> = a
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(x) => s(x),
                            Value::Number(n) if n.is_i64() => i(n.as_i64().unwrap()),
                            Value::Number(n) => json!({"doubleValue": n.as_f64().unwrap()}),
                            Value::Bool(b) => json!({"boolValue": b}),
                            other => s(&other.to_string()),
                        };
                        kv(k, v)
                    })
                    .collect();
                json!({"timeUnixNano": ns(t.start_ms + at).to_string(), "name": name,
                       "attributes": attributes})
            })
            .collect();
        let status = match &t.error {
            Some((_, m)) => json!({"code": 2, "message": m}),
            None => json!({}),
        };
        spans.push(json!({
            "traceId": TRACE_ID, "spanId": span_id(100 + k), "parentSpanId": level_ids[g],
            "name": format!("execute_tool {}", t.tool), "kind": 1,
            "startTimeUnixNano": ns(t.start_ms).to_string(),
            "endTimeUnixNano": ns(t.end_ms).to_string(),
            "attributes": attrs, "links": links, "events": events, "status": status
        }));
    }
    json!({"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", s("orchestrace"))]},
        "scopeSpans": [{"scope": {"name": "orchestrace"}, "spans": spans}]
    }]})
}

/// The seed's example: primary 0.8 s ∥ secondary 0.9 s → aggregate 1.5 s.
pub fn seed_trace() -> Value {
    run_trace(
        "ci-ops-42",
        "dag",
        &[
            tool("primary", "ci_lookup", 0.0, 800.0)
                .asset("ci_lookup:v1:published")
                .params(json!({"keywords": ["server"]}))
                .rows(42, 3150),
            tool("secondary", "ci_lookup", 0.0, 900.0)
                .asset("ci_lookup:v1:published")
                .params(json!({"keywords": ["network"]}))
                .rows(28, 2100),
            tool("aggregate", "ci_aggregate", 900.0, 2400.0)
                .asset("ci_aggregate:v2:published")
                .deps(&["primary", "secondary"])
                .flow("primary_count", "{primary.data.rows[0].count}", json!(42))
                .flow(
                    "secondary_count",
                    "{secondary.data.rows[0].count}",
                    json!(28),
                )
                .params(json!({"group_by": ["ci_type"], "metrics": ["count"]}))
                .rows(2, 180),
        ],
    )
}

/// A run with a failure, a retry, a skipped dependent and an unused dependency.
pub fn failing_trace() -> Value {
    run_trace(
        "failing-branch",
        "dag",
        &[
            tool("primary", "ci_lookup", 0.0, 20.0)
                .params(json!({"keywords": ["server"]}))
                .rows(2, 170),
            tool("flaky_source", "fail", 0.0, 100.0)
                .params(json!({"message": "upstream CMDB returned 503"}))
                .retries(1)
                .event("retry", 40.0, json!({"attempt": 1, "backoff_ms": 20.0}))
                .error("tool_error", "upstream CMDB returned 503"),
            tool("aggregate", "ci_aggregate", 100.0, 100.0)
                .deps(&["primary", "flaky_source"])
                .skipped("dependency \"flaky_source\" failed"),
            tool("summary", "echo", 20.0, 20.5).deps(&["primary"]).flow(
                "servers",
                "{primary.summary.total_count}",
                json!(59),
            ),
        ],
    )
}

pub use super::cli::manifest;

/// The trace fixtures in the repository (`tests/fixtures`, provenance in its `SOURCES.md`).
pub fn fixtures() -> PathBuf {
    manifest().join("tests/fixtures")
}

/// Compares `actual` with `tests/snapshots/{name}` as a whole; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = manifest().join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "snapshot {name} differs from line {}:\n--- expected\n{}\n--- actual\n{}\n(run with UPDATE_SNAPSHOTS=1 to accept)\n\nwhole actual output:\n{actual}",
            line + 1,
            expected.lines().nth(line).unwrap_or("<end>"),
            actual.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

pub fn write_temp(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// A tiny HTTP server on 127.0.0.1 answering `GET path` from `routes` (status, body) and 404
/// otherwise. Returns its base URL; the thread lives as long as the test process.
pub fn serve(routes: Vec<(String, u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut content_length = 0;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; content_length];
            let _ = reader.read_exact(&mut body);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = routes
                .iter()
                .find(|(p, _, _)| *p == path)
                .map(|(_, s, b)| (*s, b.clone()))
                .unwrap_or((404, b"trace not found".to_vec()));
            let reason = if status == 200 { "OK" } else { "Not Found" };
            let head = format!(
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// Display width, close enough for our output (box drawing, arrows and marks are narrow).
pub fn width(line: &str) -> usize {
    line.chars()
        .map(|c| {
            let u = c as u32;
            if (0x1100..=0x115f).contains(&u)
                || (0x2e80..=0xa4cf).contains(&u)
                || (0xac00..=0xd7a3).contains(&u)
                || (0xff00..=0xff60).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The id as the inspector normalizes it, computed independently: hex lowercased and
/// zero-padded to 16 or 32 digits, base64 (with `=` or `+`/`/`) decoded to hex, else as is.
pub fn expected_id(raw: &str) -> Option<String> {
    if raw.is_empty() {
        return None;
    }
    let id = if raw.chars().all(|c| c.is_ascii_hexdigit()) {
        let w = if raw.len() <= 16 { 16 } else { 32 };
        format!("{:0>w$}", raw.to_ascii_lowercase())
    } else if raw.ends_with('=') || raw.contains('+') || raw.contains('/') {
        const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = String::new();
        for c in raw.trim_end_matches('=').chars() {
            bits.push_str(&format!("{:06b}", A.find(c).unwrap()));
        }
        bits.as_bytes()
            .chunks(8)
            .filter(|c| c.len() == 8)
            .map(|c| {
                format!(
                    "{:02x}",
                    u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap()
                )
            })
            .collect()
    } else {
        raw.to_owned()
    };
    (!id.chars().all(|c| c == '0')).then_some(id)
}

/// (span id, parent id) per span in file order, read straight from a fixture's JSON.
pub fn raw_parents(path: &Path) -> Vec<(String, Option<String>)> {
    let text = std::fs::read_to_string(path).unwrap();
    let docs: Vec<Value> = if path.extension().is_some_and(|e| e == "jsonl") {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    };
    let mut out = Vec::new();
    for mut d in docs {
        if let Some(r) = d.get("result") {
            d = r.clone();
        }
        let resources = d.get("resourceSpans").or_else(|| d.get("batches"));
        if let Some(rs) = resources {
            for r in rs.as_array().unwrap() {
                for ss in r["scopeSpans"].as_array().unwrap() {
                    for s in ss["spans"].as_array().unwrap() {
                        out.push((
                            expected_id(s["spanId"].as_str().unwrap()).unwrap(),
                            s.get("parentSpanId")
                                .and_then(Value::as_str)
                                .and_then(expected_id),
                        ));
                    }
                }
            }
        } else {
            let traces = match d.get("data") {
                Some(Value::Array(a)) => a.clone(),
                _ => vec![d.clone()],
            };
            for t in traces {
                for s in t["spans"].as_array().unwrap() {
                    let trace = s["traceID"].as_str().unwrap();
                    let refs = s["references"].as_array().cloned().unwrap_or_default();
                    let pick = |kind: &str| {
                        refs.iter()
                            .find(|r| r["refType"] == kind && r["traceID"] == trace)
                            .map(|r| expected_id(r["spanID"].as_str().unwrap()).unwrap())
                    };
                    out.push((
                        expected_id(s["spanID"].as_str().unwrap()).unwrap(),
                        pick("CHILD_OF").or_else(|| pick("FOLLOWS_FROM")),
                    ));
                }
            }
        }
    }
    out
}
