//! Span trees of in-process runs: spans captured in memory by the telemetry pipeline (no
//! network), rendered as an indented text tree of span names with their key attributes, to
//! compare with a snapshot in `tests/snapshots/`.
//!
//! ```text
//! invoke_workflow orchestrace [workflow=orchestrace]
//!   execute [stage=execute plan=ci-ops-42 strategy=dag]
//!     level 0 (parallel) [group=0 mode=parallel tools=[primary,secondary]]
//!       execute_tool ci_lookup [id=primary group=0 order=0 status=ok depends_on=[] parallel_with=[secondary]]
//! ```
//!
//! Siblings are ordered by execution group and order index, then start time, then name, so
//! concurrent tools print in plan order. Timings, ids and content values are left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;

use orchestrace::telemetry::TelemetryBuilder;
use serde_json::Value;
use tracing_subscriber::prelude::*;

/// Runs `f` under a subscriber whose spans are captured in memory; returns its output and the
/// captured spans as OTLP JSON (`{"resourceSpans": …}`).
pub async fn capture<F, T>(f: F) -> (T, Value)
where
    F: Future<Output = T>,
{
    let telemetry = TelemetryBuilder::new()
        .with_service_name("orchestrace-test")
        .with_capture(true)
        .build()
        .expect("an in-memory pipeline builds");
    let subscriber = tracing_subscriber::registry().with(telemetry.layer());
    let guard = telemetry.guard();
    let out = {
        let _default = tracing::subscriber::set_default(subscriber);
        f.await
    };

    let captured = guard.captured().expect("capture is on");
    (out, captured)
}

/// Lets the runtime run what is ready (e.g. drop aborted tasks, ending their spans).
pub async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// (short name, attribute key) of the attributes a tree line shows, in this order.
const SHOWN: &[(&str, &str)] = &[
    ("id", "orchestration.tool_id"),
    ("workflow", "gen_ai.workflow.name"),
    ("stage", "orchestration.stage"),
    ("plan", "orchestration.plan_id"),
    ("strategy", "orchestration.execution_strategy"),
    ("group", "orchestration.execution_group"),
    ("mode", "orchestration.execution_mode"),
    ("tools", "orchestration.tools"),
    ("order", "orchestration.execution_order_index"),
    ("status", "orchestration.status"),
    ("depends_on", "orchestration.depends_on"),
    ("parallel_with", "orchestration.parallel_with"),
    ("retries", "orchestration.retry_count"),
    ("fallback", "orchestration.fallback_used"),
    ("cache_hit", "orchestration.cache_hit"),
    ("error", "error.type"),
    ("skip_reason", "orchestration.skip_reason"),
];

/// Attributes left out when they hold their default (zero, false).
const ONLY_WHEN_SET: &[&str] = &["retries", "fallback", "cache_hit"];

/// Keys whose value on a tool span repeats its parent's (stage, strategy): shown on the
/// spans that own them only.
const TOOL_SPAN_HIDES: &[&str] = &["stage", "strategy"];

/// An OTLP JSON `AnyValue` as short text: strings bare, arrays as `[a,b]`.
pub fn value_text(v: &Value) -> String {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return v.to_string();
    };
    match kind.as_str() {
        "stringValue" => inner.as_str().unwrap_or_default().to_owned(),
        "intValue" => match inner {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        "doubleValue" | "boolValue" => inner.to_string(),
        "arrayValue" => {
            let items: Vec<String> = inner["values"]
                .as_array()
                .map(|a| a.iter().map(value_text).collect())
                .unwrap_or_default();
            format!("[{}]", items.join(","))
        }
        _ => inner.to_string(),
    }
}

fn attributes(v: &Value) -> BTreeMap<String, String> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|kv| {
            (
                kv["key"].as_str().unwrap_or_default().to_owned(),
                value_text(&kv["value"]),
            )
        })
        .collect()
}

/// A span of the capture, as far as the tree needs it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub span_id: String,
    pub parent: String,
    pub start: u64,
    pub attributes: BTreeMap<String, String>,
    pub events: Vec<(String, BTreeMap<String, String>)>,
    /// The tool id each link points at (`orchestration.tool_id` on the link), else the link's
    /// `orchestration.link` kind.
    pub links: Vec<String>,
    pub status: Option<String>,
}

fn number(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        other => other.as_u64().unwrap_or(0),
    }
}

/// Every span of an OTLP JSON document.
pub fn nodes(otlp: &Value) -> Vec<Node> {
    let mut out = Vec::new();
    for rs in otlp["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for s in ss["spans"].as_array().into_iter().flatten() {
                let status = match s["status"]["code"].as_i64().unwrap_or(0) {
                    2 => Some(format!(
                        "error({})",
                        s["status"]["message"].as_str().unwrap_or_default()
                    )),
                    _ => None,
                };
                out.push(Node {
                    name: s["name"].as_str().unwrap_or_default().to_owned(),
                    span_id: s["spanId"].as_str().unwrap_or_default().to_owned(),
                    parent: s["parentSpanId"].as_str().unwrap_or_default().to_owned(),
                    start: number(&s["startTimeUnixNano"]),
                    attributes: attributes(&s["attributes"]),
                    events: s["events"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| {
                            (
                                e["name"].as_str().unwrap_or_default().to_owned(),
                                attributes(&e["attributes"]),
                            )
                        })
                        .collect(),
                    links: s["links"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|l| {
                            let a = attributes(&l["attributes"]);
                            a.get("orchestration.tool_id")
                                .or_else(|| a.get("orchestration.link"))
                                .cloned()
                                .unwrap_or_default()
                        })
                        .collect(),
                    status,
                });
            }
        }
    }
    out
}

fn line(n: &Node) -> String {
    let is_tool = n.name.starts_with("execute_tool ");
    let mut shown = Vec::new();
    for &(short, key) in SHOWN {
        let Some(v) = n.attributes.get(key) else {
            continue;
        };
        if is_tool && TOOL_SPAN_HIDES.contains(&short) {
            continue;
        }
        if ONLY_WHEN_SET.contains(&short) && (v == "0" || v == "false") {
            continue;
        }
        shown.push(format!("{short}={v}"));
    }
    if !n.links.is_empty() {
        shown.push(format!("links=[{}]", n.links.join(",")));
    }
    if let Some(s) = &n.status {
        shown.push(format!("otel={s}"));
    }
    let mut out = n.name.clone();
    if !shown.is_empty() {
        let _ = write!(out, " [{}]", shown.join(" "));
    }
    out
}

fn sort_key(n: &Node) -> (u64, u64, u64, String) {
    let int = |k: &str| {
        n.attributes
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let is_tool = n.name.starts_with("execute_tool ");
    let group = if is_tool || n.name.starts_with("level ") {
        int("orchestration.execution_group")
    } else {
        u64::MAX
    };
    (
        group,
        int("orchestration.execution_order_index"),
        n.start,
        n.name.clone(),
    )
}

/// The tree text of every span in `otlp`: roots (spans whose parent is not captured) first,
/// children indented by two spaces, events as `· name [attrs]` lines under their span
/// (timings — attributes ending in `_ms` — and the `level`/`target` of the tracing event left out).
pub fn tree(otlp: &Value) -> String {
    let mut all = nodes(otlp);
    all.sort_by_key(sort_key);
    let ids: std::collections::HashSet<&str> = all.iter().map(|n| n.span_id.as_str()).collect();
    let roots: Vec<&Node> = all
        .iter()
        .filter(|n| !ids.contains(n.parent.as_str()))
        .collect();
    let mut out = String::new();
    // Iterative depth-first walk (no recursion on input depth).
    let mut stack: Vec<(&Node, usize)> = roots.into_iter().rev().map(|n| (n, 0)).collect();
    while let Some((n, depth)) = stack.pop() {
        let indent = "  ".repeat(depth);
        let _ = writeln!(out, "{indent}{}", line(n));
        for (name, attrs) in &n.events {
            let shown: Vec<String> = attrs
                .iter()
                .filter(|(k, _)| !k.ends_with("_ms") && *k != "level" && *k != "target")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if shown.is_empty() {
                let _ = writeln!(out, "{indent}  · {name}");
            } else {
                let _ = writeln!(out, "{indent}  · {name} [{}]", shown.join(" "));
            }
        }
        let children: Vec<&Node> = all.iter().filter(|c| c.parent == n.span_id).collect();
        for c in children.into_iter().rev() {
            stack.push((c, depth + 1));
        }
    }
    out
}
