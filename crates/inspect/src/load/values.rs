//! Reading fields of a JSON value, with errors that say where and what.

use serde_json::Value;

use orchestrace::dataflow::type_name;

use super::ids::normalize_id;
use super::{LoadError, LoadErrorKind};

pub(crate) fn prefix(mut e: LoadError, path: &str) -> LoadError {
    e.place = Some(match e.place.take() {
        Some(p) if p.starts_with('[') => format!("{path}{p}"),
        Some(p) => format!("{path}.{p}"),
        None => path.to_owned(),
    });
    e
}

pub(crate) fn invalid(message: impl Into<String>) -> LoadError {
    LoadError::new(LoadErrorKind::InvalidValue(message.into()))
}

pub(crate) fn array<'a>(v: &'a Value, name: &str) -> Result<&'a [Value], LoadError> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        _ => Err(invalid(format!("expected an array, found {}", type_name(v))).at(name)),
    }
}

pub(crate) fn u64_value(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn required_u64(s: &Value, field: &'static str) -> Result<u64, LoadError> {
    match s.get(field) {
        None | Some(Value::Null) => Err(LoadError::new(LoadErrorKind::MissingField(field))),
        Some(v) => u64_value(v).ok_or_else(|| {
            invalid(format!("expected nanoseconds since the epoch, found {v}")).at(field)
        }),
    }
}

pub(crate) fn required_id(
    s: &Value,
    field: &'static str,
    bytes: usize,
) -> Result<String, LoadError> {
    match optional_id(s, field, bytes)? {
        Some(id) => Ok(id),
        None => Err(LoadError::new(LoadErrorKind::MissingField(field))),
    }
}

pub(crate) fn optional_id(
    s: &Value,
    field: &'static str,
    bytes: usize,
) -> Result<Option<String>, LoadError> {
    match s.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) => Ok(normalize_id(raw, bytes)),
        Some(v) => Err(invalid(format!("expected an id string, found {}", type_name(v))).at(field)),
    }
}
