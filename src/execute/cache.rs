//! The result cache: successful outputs keyed by tool type and resolved input, with a TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Tool type and canonical input.
type Key = (String, String);

/// Shared by every run of one orchestrator.
#[derive(Debug, Default)]
pub(crate) struct ResultCache {
    entries: Mutex<HashMap<Key, (Instant, Arc<Value>)>>,
}

impl ResultCache {
    fn key(tool: &str, input: &Value) -> (String, String) {
        // serde_json keeps object keys in insertion order; the key must not depend on it.
        (tool.to_owned(), canonical(input))
    }

    /// A live entry, if any; expired entries are dropped on the way.
    pub(crate) fn get(&self, tool: &str, input: &Value) -> Option<Arc<Value>> {
        let key = Self::key(tool, input);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&key) {
            Some((expires, v)) if *expires > Instant::now() => Some(v.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, tool: &str, input: &Value, output: &Arc<Value>, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        entries.retain(|_, (expires, _)| *expires > now);
        entries.insert(Self::key(tool, input), (now + ttl, output.clone()));
    }
}

fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<_> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_object_key_order_and_expires() {
        let c = ResultCache::default();
        c.put(
            "t",
            &json!({"a": 1, "b": 2}),
            &Arc::new(json!("out")),
            Duration::from_secs(60),
        );
        assert_eq!(
            c.get("t", &json!({"b": 2, "a": 1})),
            Some(Arc::new(json!("out")))
        );
        assert_eq!(c.get("other", &json!({"a": 1, "b": 2})), None);
        c.put("t", &json!(1), &Arc::new(json!("gone")), Duration::ZERO);
        assert_eq!(c.get("t", &json!(1)), None);
    }
}
