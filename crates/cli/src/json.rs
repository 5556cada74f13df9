//! JSON on stdout: durations rounded to the microsecond, terminal controls escaped.
//!
//! Durations are milliseconds as floating point numbers; computed from nanosecond clocks they
//! print as `0.0012619999999999999`. Every duration the command prints is rounded to three
//! decimals (a microsecond), the precision the spans themselves are worth. Values under the
//! keys that hold user data (a tool's input and output, data-flow values) are left exactly as
//! they are.

use std::io::{self, Write};

use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::Value;

/// Keys whose numbers are durations or times in milliseconds, besides every `…_ms` key.
const TIME_KEYS: &[&str] = &[
    "start",
    "end",
    "duration",
    "ready_at",
    "started_at",
    "ended_at",
];

/// Keys whose values are user data, never changed.
const DATA_KEYS: &[&str] = &[
    "output",
    "input",
    "params",
    "rows",
    "value",
    "expression",
    "arguments",
    "result",
];

fn is_time_key(key: &str) -> bool {
    key.ends_with("_ms") || TIME_KEYS.contains(&key)
}

/// Milliseconds rounded to the microsecond.
pub(crate) fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Rounds every duration in `value` to the microsecond (iteratively: no recursion on input).
pub(crate) fn round_durations(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    if DATA_KEYS.contains(&key.as_str()) {
                        continue;
                    }
                    if is_time_key(key) {
                        if let Some(ms) = child.as_f64().filter(|_| child.is_f64()) {
                            if let Some(n) = serde_json::Number::from_f64(round_ms(ms)) {
                                *child = Value::Number(n);
                            }
                            continue;
                        }
                    }
                    stack.push(child);
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

/// Pretty JSON whose strings never carry a raw terminal control: serde_json escapes C0
/// controls, this escapes DEL, C1 controls and the bidirectional overrides as well.
struct SafeFormatter(PrettyFormatter<'static>);

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            if super::sanitize::is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[last..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                last = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[last..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Writes `value` as pretty JSON and a line break: durations rounded, controls escaped.
pub(crate) fn write_pretty(out: &mut dyn Write, value: &impl serde::Serialize) -> io::Result<()> {
    let mut value = serde_json::to_value(value)?;
    round_durations(&mut value);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut *out, SafeFormatter(PrettyFormatter::new()));
    serde::Serialize::serialize(&value, &mut ser)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pretty(v: &Value) -> String {
        let mut out = Vec::new();
        write_pretty(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn durations_round_to_the_microsecond_and_user_data_does_not() {
        let v = json!({
            "duration_ms": 0.0012619999999999999,
            "tools": [{"start": 1.23456789, "started_at": 2.0000004, "order": 3,
                       "output": {"latency_ms": 0.1234567, "avg": 1.0000001}}],
            "time_saved_pct": 12.345678,
            "level_barrier_ms": null
        });
        let text = pretty(&v);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back,
            json!({
                "duration_ms": 0.001,
                "tools": [{"start": 1.235, "started_at": 2.0, "order": 3,
                           "output": {"latency_ms": 0.1234567, "avg": 1.0000001}}],
                "time_saved_pct": 12.345678,
                "level_barrier_ms": null
            })
        );
        assert!(text.contains("\"duration_ms\": 0.001,"), "{text}");
    }

    #[test]
    fn strings_carry_no_raw_terminal_controls() {
        let text = pretty(&json!({"q": "a\u{1b}[2Jb\u{9b}c\u{7f}\u{202e}"}));
        assert_eq!(
            text,
            "{\n  \"q\": \"a\\u001b[2Jb\\u009bc\\u007f\\u202e\"\n}\n"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["q"], "a\u{1b}[2Jb\u{9b}c\u{7f}\u{202e}");
    }
}
