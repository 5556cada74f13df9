//! Fuzzes the data-flow template parser: any UTF-8 text, as a template and as a mapping.
//!
//! Invariants checked whenever the input parses:
//! - every reference names a tool id of the form `[A-Za-z_][A-Za-z0-9_-]*`;
//! - resolving against a small fixed set of outputs returns (`Ok` or `Err`) without panicking;
//! - each reference's `Display`, wrapped in braces, parses back to the same reference.
//!
//! and whenever it does not: the error's column lies within the text or just past its end.

#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrace::dataflow::{Mapping, Part, Reference, Template};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let outputs = outputs();
    let lookup = |id: &str| outputs.get(id);

    match Template::parse(text) {
        Ok(template) => {
            assert_eq!(template.source(), text);
            template.references().for_each(check_reference);
            let _ = template.resolve(&lookup);
        }
        Err(e) => {
            let len = text.chars().count();
            assert!(
                (1..=len + 1).contains(&e.column),
                "column {} outside 1..={} for {text:?}",
                e.column,
                len + 1
            );
        }
    }

    // The same text as a mapping value, and, when it is JSON, the value it denotes (nested
    // arrays and objects of templates).
    let mut values = vec![Value::String(text.to_owned())];
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        values.push(value);
    }
    for value in &values {
        if let Ok(mapping) = Mapping::parse(value) {
            mapping.references().into_iter().for_each(check_reference);
            let _ = mapping.resolve(&lookup);
        }
    }
});

/// Outputs with objects, arrays, scalars, odd keys and nesting, for resolution to walk.
fn outputs() -> Value {
    json!({
        "a": {"data": {"rows": [{"count": 1}, {"count": 2}]}, "s": "text"},
        "b": [1, "two", null, {"k": true}, [[]]],
        "c": "plain",
        "d": null,
        "_": {"": 0, "x y": [1.5], "q\"k": {"\\": false}},
    })
}

fn check_reference(r: &Reference) {
    assert!(is_tool_id(&r.tool), "invalid tool id {:?}", r.tool);
    let shown = format!("{{{r}}}");
    let reparsed = Template::parse(&shown)
        .unwrap_or_else(|e| panic!("{shown:?} (the Display of {r:?}) does not parse: {e}"));
    assert_eq!(
        reparsed.parts(),
        [Part::Ref(r.clone())].as_slice(),
        "{shown:?} does not parse back to the same reference"
    );
}

fn is_tool_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
