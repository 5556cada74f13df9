//! Property tests of the data-flow template parser ([`Template::parse`]) and resolution.
//!
//! 1. Templates generated from the grammar (tool ids, `.key` / `[n]` / `[-n]` / `["quoted"]`
//!    paths, literal text with `{{`/`}}` escapes, 0–4 references) parse to exactly the
//!    generated parts, and resolve against an output built to hold the expected values.
//! 2. Any string (arbitrary, template-like, or a cut-off valid template) is parsed without a
//!    panic, and an error's column lies within the text or just past its end.
//! 3. A string without braces is a single text part equal to itself.
//!
//! The coverage-guided fuzz targets under `fuzz/` (nightly only) explore the same parser.

use orchestrace::dataflow::{Part, Reference, Step, Template};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Cases per property: enough to cover the grammar, small enough for a 2-core CI.
const CASES: u32 = 256;

/// One path step as generated: how it is written, and what the output needs around it.
#[derive(Debug, Clone)]
enum GenStep {
    /// `.key`
    Dot(String),
    /// `["key"]`, written with `\"` and `\\` escapes.
    Quoted(String),
    /// `[n]` or `[-n]`, read from an array with `pad` decoy items beyond the minimum.
    Index { index: i64, pad: usize },
}

impl GenStep {
    fn source(&self) -> String {
        match self {
            GenStep::Dot(k) => format!(".{k}"),
            GenStep::Quoted(k) => {
                format!("[\"{}\"]", k.replace('\\', "\\\\").replace('"', "\\\""))
            }
            GenStep::Index { index, .. } => format!("[{index}]"),
        }
    }

    fn step(&self) -> Step {
        match self {
            GenStep::Dot(k) | GenStep::Quoted(k) => Step::Key(k.clone()),
            GenStep::Index { index, .. } => Step::Index(*index),
        }
    }

    /// The container this step reads `inner` from, with decoys around it.
    fn wrap(&self, inner: Value) -> Value {
        match self {
            GenStep::Dot(k) | GenStep::Quoted(k) => {
                let mut map = Map::new();
                map.insert("decoy".to_owned(), decoy());
                map.insert(k.clone(), inner);
                map.insert("decoy_after".to_owned(), decoy());
                // A key named like a decoy is overwritten by the decoy inserted after it.
                if k == "decoy_after" {
                    map.remove("decoy_after");
                }
                Value::Object(map)
            }
            &GenStep::Index { index, pad } => {
                let from_end = index.unsigned_abs() as usize;
                let (len, at) = if index >= 0 {
                    (from_end + 1 + pad, from_end)
                } else {
                    (from_end + pad, pad)
                };
                let mut items = vec![decoy(); len];
                items[at] = inner;
                Value::Array(items)
            }
        }
    }
}

fn decoy() -> Value {
    json!({ "decoy": true })
}

/// One generated reference and the value its path is to resolve to.
#[derive(Debug, Clone)]
struct GenRef {
    tool: String,
    steps: Vec<GenStep>,
    value: Value,
}

impl GenRef {
    fn source(&self) -> String {
        let path: String = self.steps.iter().map(GenStep::source).collect();
        format!("{{{}{path}}}", self.tool)
    }

    fn reference(&self) -> Reference {
        Reference {
            tool: self.tool.clone(),
            path: self.steps.iter().map(GenStep::step).collect(),
        }
    }

    /// The tool's whole output: `value` nested inside the containers of the path.
    fn output(&self) -> Value {
        self.steps
            .iter()
            .rev()
            .fold(self.value.clone(), |inner, step| step.wrap(inner))
    }
}

/// `texts[0] refs[0] texts[1] … refs[n-1] texts[n]`, texts unescaped.
#[derive(Debug, Clone)]
struct GenTemplate {
    texts: Vec<String>,
    refs: Vec<GenRef>,
}

impl GenTemplate {
    fn source(&self) -> String {
        let mut out = escape(&self.texts[0]);
        for (r, text) in self.refs.iter().zip(&self.texts[1..]) {
            out.push_str(&r.source());
            out.push_str(&escape(text));
        }
        out
    }

    /// The parts the parser is to produce: non-empty texts and references, in order; a lone
    /// empty text when there is nothing else.
    fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        let texts = self.texts.iter().map(|t| Part::Text(t.clone()));
        let refs = self.refs.iter().map(|r| Some(Part::Ref(r.reference())));
        for (text, r) in texts.zip(refs.chain([None])) {
            if !matches!(&text, Part::Text(t) if t.is_empty()) {
                parts.push(text);
            }
            parts.extend(r);
        }
        if parts.is_empty() {
            parts.push(Part::Text(String::new()));
        }
        parts
    }

    /// A lone reference keeps its value's JSON type; anything else interpolates to a string
    /// (strings as they are, other values as JSON).
    fn expected(&self) -> Value {
        if let ([r], [before, after]) = (self.refs.as_slice(), self.texts.as_slice()) {
            if before.is_empty() && after.is_empty() {
                return r.value.clone();
            }
        }
        let mut out = self.texts[0].clone();
        for (r, text) in self.refs.iter().zip(&self.texts[1..]) {
            match &r.value {
                Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
            out.push_str(text);
        }
        Value::String(out)
    }

    fn outputs(&self) -> Map<String, Value> {
        self.refs
            .iter()
            .map(|r| (r.tool.clone(), r.output()))
            .collect()
    }
}

fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

fn is_tool_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Short strings of any characters, control characters and non-ASCII included.
fn any_chars(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..=max).prop_map(String::from_iter)
}

fn tool_id() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,11}"
}

fn step() -> impl Strategy<Value = GenStep> {
    prop_oneof![
        "[A-Za-z0-9_-]{1,8}".prop_map(GenStep::Dot),
        prop_oneof![r#"[a-z .\[\]{}"\\-]{0,8}"#.boxed(), any_chars(6).boxed()]
            .prop_map(GenStep::Quoted),
        (0i64..6, 0usize..3).prop_map(|(index, pad)| GenStep::Index { index, pad }),
        (1i64..6, 0usize..3).prop_map(|(n, pad)| GenStep::Index { index: -n, pad }),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        any_chars(8).prop_map(Value::from),
        (any::<i32>(), "[a-z]{0,4}").prop_map(|(n, s)| json!([n, s])),
        (any::<u8>(), any_chars(3)).prop_map(|(n, s)| json!({ "n": n, "s": s })),
    ]
}

fn gen_ref() -> impl Strategy<Value = GenRef> {
    (tool_id(), vec(step(), 0..4), leaf()).prop_map(|(tool, steps, value)| GenRef {
        tool,
        steps,
        value,
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![r#"[a-z {}.\[\]"\\-]{0,6}"#.boxed(), any_chars(6).boxed()]
}

fn template() -> impl Strategy<Value = GenTemplate> {
    vec(gen_ref(), 0..=4)
        .prop_flat_map(|refs| {
            let n = refs.len() + 1;
            (Just(refs), vec(text(), n))
        })
        .prop_map(|(mut refs, texts)| {
            // One output per tool: a tool referenced twice gets a distinct id.
            for i in 0..refs.len() {
                while refs[..i].iter().any(|r| r.tool == refs[i].tool) {
                    refs[i].tool.push('_');
                }
            }
            GenTemplate { texts, refs }
        })
}

/// Strings worth feeding the parser: anything, template-like noise, and valid templates cut
/// off at every possible point (which exercises each "unclosed" error).
fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        r#"[{}\[\]."\\a-c0-9_ é-]{0,24}"#,
        template()
            .prop_map(|t| t.source())
            .prop_flat_map(|s| {
                let n = s.chars().count();
                (Just(s), 0..=n)
            })
            .prop_map(|(s, k)| s.chars().take(k).collect()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn generated_templates_parse_and_resolve(gen in template()) {
        let source = gen.source();
        let parsed = Template::parse(&source);
        prop_assert!(parsed.is_ok(), "{source:?} did not parse: {:?}", parsed.err());
        let t = parsed.unwrap();
        prop_assert_eq!(t.source(), source.as_str());
        let expected_refs: Vec<Reference> = gen.refs.iter().map(GenRef::reference).collect();
        prop_assert_eq!(t.references().cloned().collect::<Vec<_>>(), expected_refs);
        prop_assert_eq!(t.parts().to_vec(), gen.parts());

        let outputs = gen.outputs();
        let lookup = |id: &str| outputs.get(id);
        prop_assert_eq!(t.resolve(&lookup), Ok(gen.expected()));
    }

    #[test]
    fn any_string_parses_or_points_inside_it(s in any_input()) {
        match Template::parse(&s) {
            Ok(t) => {
                prop_assert_eq!(t.source(), s.as_str());
                for r in t.references() {
                    prop_assert!(is_tool_id(&r.tool), "tool id {:?} from {s:?}", r.tool);
                }
            }
            Err(e) => {
                let len = s.chars().count();
                prop_assert!(
                    (1..=len + 1).contains(&e.column),
                    "column {} outside 1..={} for {s:?} ({})",
                    e.column,
                    len + 1,
                    e.message
                );
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn text_without_braces_is_itself(s in "[^{}]{0,32}") {
        let t = Template::parse(&s);
        prop_assert!(t.is_ok(), "{s:?}: {:?}", t.err());
        let t = t.unwrap();
        prop_assert_eq!(t.parts().to_vec(), vec![Part::Text(s.clone())]);
        prop_assert_eq!(t.references().count(), 0);
        prop_assert_eq!(t.resolve(&|_| None), Ok(Value::String(s)));
    }
}
