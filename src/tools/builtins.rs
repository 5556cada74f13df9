//! The plain built-in tools: `echo`, `sleep`, `fail`, and the demo inventory `ci_lookup` /
//! `ci_aggregate` over a small synthetic CMDB, which the example plans use.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::execute::{Tool, ToolContext, ToolRegistry};
use crate::run::ToolError;

pub(crate) fn register(r: &mut ToolRegistry) {
    r.register("echo", Echo);
    r.register("sleep", Sleep);
    r.register("fail", Fail);
    r.register("ci_lookup", CiLookup);
    r.register("ci_aggregate", CiAggregate);
}

/// Returns its input.
struct Echo;

#[async_trait]
impl Tool for Echo {
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        Ok(input)
    }
}

fn u64_param(input: &Value, key: &str) -> Result<Option<u64>, ToolError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            ToolError::with_kind(
                "invalid_input",
                format!("{key} must be a non-negative integer, got {v}"),
            )
        }),
    }
}

/// `{"ms": N}`: sleeps N milliseconds, then returns its input.
struct Sleep;

#[async_trait]
impl Tool for Sleep {
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        let ms = u64_param(&input, "ms")?.unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(input)
    }
}

/// `{"message": "…", "times": N}`: fails the first N attempts of a call (every attempt when
/// `times` is absent), then succeeds with its input.
struct Fail;

#[async_trait]
impl Tool for Fail {
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError> {
        let times = u64_param(&input, "times")?;
        if times.is_none_or(|t| u64::from(ctx.attempt()) < t) {
            let message = input
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("failed as asked");
            return Err(ToolError::new(message));
        }
        Ok(input)
    }
}

/// One class of configuration items in the demo CMDB.
struct CiClass {
    ci_type: &'static str,
    name: &'static str,
    count: u64,
}

const CMDB: &[CiClass] = &[
    CiClass {
        ci_type: "Server",
        name: "linux-server",
        count: 42,
    },
    CiClass {
        ci_type: "Application",
        name: "web-app",
        count: 31,
    },
    CiClass {
        ci_type: "NetworkDevice",
        name: "switch",
        count: 28,
    },
    CiClass {
        ci_type: "Server",
        name: "windows-server",
        count: 17,
    },
    CiClass {
        ci_type: "NetworkDevice",
        name: "router",
        count: 12,
    },
    CiClass {
        ci_type: "Database",
        name: "postgres",
        count: 9,
    },
    CiClass {
        ci_type: "NetworkDevice",
        name: "firewall",
        count: 6,
    },
    CiClass {
        ci_type: "Storage",
        name: "san-array",
        count: 4,
    },
];

fn string_list(input: &Value, key: &str) -> Result<Vec<String>, ToolError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    ToolError::with_kind(
                        "invalid_input",
                        format!("{key} must hold strings, got {v}"),
                    )
                })
            })
            .collect(),
        Some(v) => Err(ToolError::with_kind(
            "invalid_input",
            format!("{key} must be a string or a list of strings, got {v}"),
        )),
    }
}

async fn latency(input: &Value) -> Result<(), ToolError> {
    if let Some(ms) = u64_param(input, "latency_ms")? {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    Ok(())
}

fn matches(class: &CiClass, keywords: &[String]) -> bool {
    keywords.is_empty()
        || keywords.iter().any(|k| {
            let k = k.to_lowercase();
            class.ci_type.to_lowercase().contains(&k) || class.name.to_lowercase().contains(&k)
        })
}

/// `{"keywords": [...], "latency_ms": N}`: the CMDB classes whose type or name contains a
/// keyword (all when none), largest first, as `{"data": {"rows": [{ci_type, name, count}]}}`.
struct CiLookup;

#[async_trait]
impl Tool for CiLookup {
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        let keywords = string_list(&input, "keywords")?;
        latency(&input).await?;
        let rows: Vec<Value> = CMDB
            .iter()
            .filter(|c| matches(c, &keywords))
            .map(|c| json!({"ci_type": c.ci_type, "name": c.name, "count": c.count}))
            .collect();
        let total: u64 = CMDB
            .iter()
            .filter(|c| matches(c, &keywords))
            .map(|c| c.count)
            .sum();
        Ok(
            json!({"data": {"rows": rows}, "summary": {"classes": rows.len(), "total_count": total}}),
        )
    }
}

/// `{"group_by": ["ci_type"], "metrics": ["count"], "keywords": [...], "latency_ms": N}`
/// plus any mapped inputs: the CMDB grouped by the given fields with the count summed, and the
/// numeric mapped inputs echoed under `inputs` with their `total`.
struct CiAggregate;

#[async_trait]
impl Tool for CiAggregate {
    async fn call(&self, input: Value, _ctx: &ToolContext) -> Result<Value, ToolError> {
        let mut group_by = string_list(&input, "group_by")?;
        if group_by.is_empty() {
            group_by.push("ci_type".into());
        }
        if let Some(bad) = group_by.iter().find(|g| *g != "ci_type" && *g != "name") {
            return Err(ToolError::with_kind(
                "invalid_input",
                format!("cannot group by {bad:?}: fields are ci_type and name"),
            ));
        }
        let metrics = string_list(&input, "metrics")?;
        if let Some(bad) = metrics.iter().find(|m| *m != "count") {
            return Err(ToolError::with_kind(
                "invalid_input",
                format!("unknown metric {bad:?}: the metric is count"),
            ));
        }
        let keywords = string_list(&input, "keywords")?;
        latency(&input).await?;
        let mut rows: Vec<(Map<String, Value>, u64)> = Vec::new();
        for class in CMDB.iter().filter(|c| matches(c, &keywords)) {
            let mut key = Map::new();
            for g in &group_by {
                let v = if g == "ci_type" {
                    class.ci_type
                } else {
                    class.name
                };
                key.insert(g.clone(), json!(v));
            }
            match rows.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += class.count,
                None => rows.push((key, class.count)),
            }
        }
        rows.sort_by_key(|r| std::cmp::Reverse(r.1));
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|(mut k, n)| {
                k.insert("count".into(), json!(n));
                Value::Object(k)
            })
            .collect();
        let reserved = ["group_by", "metrics", "keywords", "latency_ms"];
        let inputs: Map<String, Value> = input
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, v)| !reserved.contains(&k.as_str()) && v.is_number())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let total: f64 = inputs.values().filter_map(Value::as_f64).sum();
        Ok(json!({"data": {"rows": rows}, "inputs": inputs, "total": total}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(tool: impl Tool, input: Value, attempt: u32) -> Result<Value, ToolError> {
        let mut ctx = ToolContext::detached("t", "t");
        ctx.attempt = attempt;
        tool.call(input, &ctx).await
    }

    #[tokio::test]
    async fn lookup_matches_keywords() {
        let out = call(CiLookup, json!({"keywords": ["server"]}), 0)
            .await
            .unwrap();
        assert_eq!(
            out["data"]["rows"][0],
            json!({"ci_type": "Server", "name": "linux-server", "count": 42})
        );
        assert_eq!(out["summary"], json!({"classes": 2, "total_count": 59}));
        let out = call(CiLookup, json!({"keywords": ["network"]}), 0)
            .await
            .unwrap();
        assert_eq!(out["data"]["rows"][0]["count"], json!(28));
        assert!(call(CiLookup, json!({"keywords": 3}), 0).await.is_err());
    }

    #[tokio::test]
    async fn aggregate_groups_and_echoes_inputs() {
        let out = call(
            CiAggregate,
            json!({"group_by": ["ci_type"], "metrics": ["count"], "primary_count": 42, "secondary_count": 28}),
            0,
        )
        .await
        .unwrap();
        assert_eq!(
            out["data"]["rows"][0],
            json!({"ci_type": "Server", "count": 59})
        );
        assert_eq!(out["data"]["rows"].as_array().unwrap().len(), 5);
        assert_eq!(out["total"], json!(70.0));
        assert!(call(CiAggregate, json!({"metrics": ["avg"]}), 0)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn fail_fails_the_first_attempts() {
        let input = json!({"message": "boom", "times": 2});
        assert_eq!(
            call(Fail, input.clone(), 0).await.unwrap_err().message,
            "boom"
        );
        assert!(call(Fail, input.clone(), 1).await.is_err());
        assert_eq!(call(Fail, input.clone(), 2).await.unwrap(), input);
        assert!(call(Fail, json!({}), 99).await.is_err());
    }
}
