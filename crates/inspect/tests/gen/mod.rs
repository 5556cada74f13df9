//! Trace generators for the tests and the benchmark: OTLP JSON text of the shapes that once
//! took quadratic time (many tools, one parent with many children, deep chains, JSON lines).
#![allow(dead_code)]
#![allow(unreachable_pub)]

use std::fmt::Write;

const T0: u64 = 1_700_000_000_000_000_000;

fn span(
    out: &mut String,
    id: u64,
    parent: Option<u64>,
    name: &str,
    start_ms: u64,
    end_ms: u64,
    attrs: &str,
) {
    let parent = parent
        .map(|p| format!(",\"parentSpanId\":\"{p:016x}\""))
        .unwrap_or_default();
    let _ = write!(
        out,
        "{{\"traceId\":\"0af7651916cd43dd8448eb211c80319c\",\"spanId\":\"{id:016x}\"{parent},\"name\":\"{name}\",\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":[{attrs}]}}",
        T0 + start_ms * 1_000_000,
        T0 + end_ms * 1_000_000
    );
}

fn s(key: &str, v: &str) -> String {
    format!("{{\"key\":\"{key}\",\"value\":{{\"stringValue\":\"{v}\"}}}}")
}

fn i(key: &str, v: u64) -> String {
    format!("{{\"key\":\"{key}\",\"value\":{{\"intValue\":\"{v}\"}}}}")
}

fn doc(spans: &str) -> String {
    format!("{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{}]}},\"scopeSpans\":[{{\"spans\":[{spans}]}}]}}]}}", s("service.name", "gen"))
}

/// A run of `n` tools: tool k depends on tool k-1 when `chain`, else all run at once; tool k
/// takes `1 + k % 7` ms; every 97th tool failed.
pub fn orchestrace_run(n: usize, chain: bool) -> String {
    let mut out = String::new();
    span(
        &mut out,
        1,
        None,
        "execute",
        0,
        10 * n as u64 + 10,
        &s("orchestration.stage", "execute"),
    );
    let mut start = 0;
    for k in 0..n {
        let d = 1 + (k % 7) as u64;
        let (st, en) = if chain { (start, start + d) } else { (0, d) };
        start = en;
        let deps = if chain && k > 0 {
            format!("[\\\"t{}\\\"]", k - 1)
        } else {
            "[]".to_owned()
        };
        let status = if k % 97 == 96 { "error" } else { "ok" };
        let attrs = [
            s("gen_ai.operation.name", "execute_tool"),
            s("orchestration.tool_id", &format!("t{k}")),
            s("gen_ai.tool.name", "work"),
            s("orchestration.status", status),
            s("orchestration.depends_on", &deps),
            i(
                "orchestration.execution_group",
                if chain { k as u64 } else { 0 },
            ),
            i("orchestration.execution_order_index", k as u64),
        ]
        .join(",");
        out.push(',');
        span(
            &mut out,
            k as u64 + 2,
            Some(1),
            "execute_tool work",
            st,
            en,
            &attrs,
        );
    }
    doc(&out)
}

/// One root with `n` children, one after the other.
pub fn wide(n: usize) -> String {
    let mut out = String::new();
    span(&mut out, 1, None, "root", 0, n as u64 + 1, "");
    for k in 0..n as u64 {
        out.push(',');
        span(&mut out, k + 2, Some(1), "child", k, k + 1, "");
    }
    doc(&out)
}

/// A parent chain `depth` deep, each span inside its parent.
pub fn deep(depth: usize) -> String {
    let mut out = String::new();
    let d = depth as u64;
    for k in 0..d {
        if k > 0 {
            out.push(',');
        }
        let parent = (k > 0).then_some(k);
        span(&mut out, k + 1, parent, "level", k, 2 * d - k, "");
    }
    doc(&out)
}

/// The collector's file exporter: `lines` documents, one span each, one per line.
pub fn json_lines(lines: usize) -> String {
    let mut out = String::new();
    for k in 0..lines as u64 {
        let mut one = String::new();
        span(
            &mut one,
            k + 2,
            (k > 0).then_some(1),
            "op",
            k,
            k + 2,
            &s("k", "v"),
        );
        out.push_str(&doc(&one));
        out.push('\n');
    }
    out
}

/// `n` spans in one document, in flat groups of 1,000 under their own roots.
pub fn many_spans(n: usize) -> String {
    let mut out = String::new();
    for k in 0..n as u64 {
        if k > 0 {
            out.push(',');
        }
        let root = k - k % 1000;
        span(
            &mut out,
            k + 1,
            (k != root).then_some(root + 1),
            "op",
            k % 1000,
            k % 1000 + 5,
            &s("a", "b"),
        );
    }
    doc(&out)
}
