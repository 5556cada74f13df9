//! Data-flow templates: how one tool's output feeds another's input.
//!
//! An `output_mapping` value is any JSON value; templates live in its strings. A template is
//! `{tool_id.path}` where the path is a sequence of `.key`, `[index]` (negative counts from the
//! end) and `["quoted key"]`; `{tool_id}` alone is the whole output. `{{` and `}}` are literal
//! braces.
//!
//! A string that is exactly one template resolves to the referenced value with its JSON type;
//! text around templates interpolates to a string. Parsing happens once, at analysis time, so
//! syntax errors carry the column; resolution happens at run time and fails only that tool,
//! naming the template and the first step that was missing.

use std::fmt;

use serde_json::{Map, Value};

/// One step of a template path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.key` or `["quoted key"]`.
    Key(String),
    /// `[n]`; negative counts from the end.
    Index(i64),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(k) if is_plain_key(k) => write!(f, ".{k}"),
            Step::Key(k) => write!(f, "[{}]", Value::String(k.clone())),
            Step::Index(i) => write!(f, "[{i}]"),
        }
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(is_key_char)
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A reference to (part of) a tool's output: `{tool.data.rows[0]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The tool whose output is read.
    pub tool: String,
    /// The path into that output.
    pub path: Vec<Step>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tool)?;
        for step in &self.path {
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Literal text (braces already unescaped).
    Text(String),
    /// A `{…}` reference.
    Ref(Reference),
}

/// A parsed template string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A template syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// 1-based column, in characters, within the template text.
    pub column: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for TemplateError {}

/// A template whose path does not exist in the output it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// The template as written in the plan.
    pub template: String,
    /// The path up to and including the first step that was missing.
    pub missing: String,
    /// Why that step is missing.
    pub reason: String,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template {:?}: {} is missing ({})",
            self.template, self.missing, self.reason
        )
    }
}

impl std::error::Error for ResolveError {}

impl Template {
    /// Parses a template string.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        Parser::new(source).parse()
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The parsed pieces.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The references, in order of appearance.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// Resolves against the outputs at hand. `lookup` returns a tool's output by id.
    pub fn resolve<'a>(
        &self,
        lookup: &dyn Fn(&str) -> Option<&'a Value>,
    ) -> Result<Value, ResolveError> {
        if let [Part::Ref(r)] = self.parts.as_slice() {
            return self.lookup(r, lookup).cloned();
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => match self.lookup(r, lookup)? {
                    Value::String(s) => out.push_str(s),
                    other => out.push_str(&other.to_string()),
                },
            }
        }
        Ok(Value::String(out))
    }

    fn lookup<'a>(
        &self,
        r: &Reference,
        lookup: &dyn Fn(&str) -> Option<&'a Value>,
    ) -> Result<&'a Value, ResolveError> {
        let err = |missing: String, reason: String| ResolveError {
            template: self.source.clone(),
            missing,
            reason,
        };
        let mut cur = lookup(&r.tool)
            .ok_or_else(|| err(r.tool.clone(), "that tool produced no output".into()))?;
        let mut walked = r.tool.clone();
        for step in &r.path {
            walked.push_str(&step.to_string());
            cur = match (step, cur) {
                (Step::Key(k), Value::Object(map)) => map
                    .get(k)
                    .ok_or_else(|| err(walked.clone(), "no such key".into()))?,
                (Step::Index(i), Value::Array(items)) => {
                    let len = items.len() as i64;
                    let idx = if *i < 0 { len + i } else { *i };
                    if idx < 0 || idx >= len {
                        return Err(err(walked, format!("index out of range, length {len}")));
                    }
                    &items[idx as usize]
                }
                (Step::Key(_), other) => {
                    return Err(err(
                        walked,
                        format!("not an object but {}", type_name(other)),
                    ))
                }
                (Step::Index(_), other) => {
                    return Err(err(
                        walked,
                        format!("not an array but {}", type_name(other)),
                    ))
                }
            };
        }
        Ok(cur)
    }
}

impl Template {
    /// An upper estimate of the bytes [`Template::resolve`] would produce (the compact JSON
    /// size of every referenced value plus the text around them), found without building
    /// anything; `size_of_output` gives a whole output's size, known to the caller.
    /// References that do not resolve count as 0 (resolution reports them).
    pub fn resolved_size<'a>(
        &self,
        lookup: &dyn Fn(&str) -> Option<&'a Value>,
        size_of_output: &dyn Fn(&str) -> Option<usize>,
    ) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(t) => t.len(),
                Part::Ref(r) if r.path.is_empty() => size_of_output(&r.tool).unwrap_or(0),
                Part::Ref(r) => self.lookup(r, lookup).map_or(0, json_size),
            })
            .sum()
    }
}

/// Size of a value as compact JSON, without building the string.
pub fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing to a counter cannot fail, and a `Value` always serializes.
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

/// Whether `value` nests arrays and objects more than `limit` levels deep, found without
/// recursion (an explicit stack), so any depth can be measured.
pub fn nests_deeper_than(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let is_container = matches!(v, Value::Array(_) | Value::Object(_));
        if is_container && depth + 1 > limit {
            return true;
        }
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|c| (c, depth + 1))),
            Value::Object(map) => stack.extend(map.values().map(|c| (c, depth + 1))),
            _ => {}
        }
    }
    false
}

/// "a string", "an object", …: a JSON value's type for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Parser<'s> {
    source: &'s str,
    chars: Vec<char>,
    pos: usize,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str) -> Self {
        Parser {
            source,
            chars: source.chars().collect(),
            pos: 0,
        }
    }

    fn fail<T>(&self, at: usize, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError {
            column: at + 1,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn parse(mut self) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.peek() {
            match c {
                '{' if self.chars.get(self.pos + 1) == Some(&'{') => {
                    text.push('{');
                    self.pos += 2;
                }
                '}' if self.chars.get(self.pos + 1) == Some(&'}') => {
                    text.push('}');
                    self.pos += 2;
                }
                '{' => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Ref(self.reference()?));
                }
                '}' => {
                    return self.fail(self.pos, "unmatched '}' (write '}}' for a literal brace)")
                }
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: self.source.to_owned(),
            parts,
        })
    }

    /// Parses `{tool.path}` starting at the `{`.
    fn reference(&mut self) -> Result<Reference, TemplateError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
            Some('}') => return self.fail(self.pos, "empty template '{}'"),
            None => return self.fail(open, "unclosed '{'"),
            Some(c) => return self.fail(self.pos, format!("expected a tool id, found {c:?}")),
        }
        while self.peek().is_some_and(is_key_char) {
            self.pos += 1;
        }
        let tool: String = self.chars[start..self.pos].iter().collect();
        let mut path = Vec::new();
        loop {
            match self.peek() {
                Some('}') => {
                    self.pos += 1;
                    return Ok(Reference { tool, path });
                }
                Some('.') => {
                    self.pos += 1;
                    let key_start = self.pos;
                    while self.peek().is_some_and(is_key_char) {
                        self.pos += 1;
                    }
                    if self.pos == key_start {
                        return self.fail(self.pos, "expected a key after '.'");
                    }
                    path.push(Step::Key(self.chars[key_start..self.pos].iter().collect()));
                }
                Some('[') => {
                    self.pos += 1;
                    path.push(self.bracket()?);
                }
                None => return self.fail(open, "unclosed '{'"),
                Some(c) => {
                    return self.fail(
                        self.pos,
                        format!("unexpected {c:?} in template (expected '.', '[' or '}}')"),
                    )
                }
            }
        }
    }

    /// The position of the first invalid escape in the quoted key starting at `quote`.
    fn bad_escape(&self, quote: usize) -> Option<usize> {
        let mut i = quote + 1;
        while i < self.pos.saturating_sub(1) {
            if self.chars[i] == '\\' {
                let ok = match self.chars.get(i + 1) {
                    Some('"' | '\\' | '/' | 'b' | 'f' | 'n' | 'r' | 't') => true,
                    Some('u') => (i + 2..i + 6)
                        .all(|k| self.chars.get(k).is_some_and(|c| c.is_ascii_hexdigit())),
                    _ => false,
                };
                if !ok {
                    return Some(i);
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        None
    }

    /// Parses the inside of `[…]` after the `[`.
    fn bracket(&mut self) -> Result<Step, TemplateError> {
        let step = match self.peek() {
            Some('"') => {
                // A JSON string: the same escapes `Step`'s `Display` writes.
                let quote = self.pos;
                self.pos += 1;
                loop {
                    match self.peek() {
                        None => return self.fail(quote, "unclosed quoted key"),
                        Some('"') => break,
                        Some('\\') => self.pos += 2,
                        Some(_) => self.pos += 1,
                    }
                }
                self.pos += 1;
                // Raw control characters are taken as they are (JSON would want them escaped).
                let raw: String = self.chars[quote..self.pos]
                    .iter()
                    .map(|&c| {
                        if (c as u32) < 0x20 {
                            format!("\\u{:04x}", c as u32)
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                match serde_json::from_str::<String>(&raw) {
                    Ok(key) => Step::Key(key),
                    Err(e) => {
                        let at = self.bad_escape(quote).unwrap_or(quote);
                        return self
                            .fail(at, format!("invalid quoted key: {}", clean_json_error(&e)));
                    }
                }
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                self.pos += 1;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                let digits: String = self.chars[start..self.pos].iter().collect();
                match digits.parse::<i64>() {
                    Ok(i) => Step::Index(i),
                    Err(_) if digits == "-" => {
                        return self.fail(start, "expected digits after '-'")
                    }
                    Err(_) => return self.fail(start, format!("index {digits} is out of range")),
                }
            }
            None => return self.fail(self.pos, "unclosed '['"),
            Some(c) => {
                return self.fail(
                    self.pos,
                    format!("expected an index or a quoted key, found {c:?}"),
                )
            }
        };
        match self.peek() {
            Some(']') => {
                self.pos += 1;
                Ok(step)
            }
            None => self.fail(self.pos, "unclosed '['"),
            Some(c) => self.fail(self.pos, format!("expected ']', found {c:?}")),
        }
    }
}

fn clean_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// An `output_mapping` value with every string parsed as a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapping {
    /// A string holding zero or more templates.
    Template(Template),
    /// An array whose items are mappings.
    Array(Vec<Mapping>),
    /// An object whose values are mappings.
    Object(Vec<(String, Mapping)>),
    /// A number, boolean or null, taken as is.
    Literal(Value),
}

/// A template error inside a mapping value, with the JSON path to the string that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingError {
    /// Path below the mapping key, e.g. `.filters[1]`; empty for a plain string value.
    pub path: String,
    /// The template string.
    pub template: String,
    /// The syntax error.
    pub error: TemplateError,
}

impl Mapping {
    /// Parses every string inside `value` as a template.
    pub fn parse(value: &Value) -> Result<Mapping, MappingError> {
        Self::parse_at(value, &mut String::new())
    }

    fn parse_at(value: &Value, path: &mut String) -> Result<Mapping, MappingError> {
        Ok(match value {
            Value::String(s) => {
                Mapping::Template(Template::parse(s).map_err(|error| MappingError {
                    path: path.clone(),
                    template: s.clone(),
                    error,
                })?)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    out.push(Self::parse_at(item, path)?);
                    path.truncate(len);
                }
                Mapping::Array(out)
            }
            Value::Object(map) => {
                let mut out = Vec::with_capacity(map.len());
                for (k, v) in map {
                    let len = path.len();
                    path.push_str(&Step::Key(k.clone()).to_string());
                    out.push((k.clone(), Self::parse_at(v, path)?));
                    path.truncate(len);
                }
                Mapping::Object(out)
            }
            other => Mapping::Literal(other.clone()),
        })
    }

    /// Every reference inside, depth first.
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        match self {
            Mapping::Template(t) => out.extend(t.references()),
            Mapping::Array(items) => items.iter().for_each(|m| m.collect(out)),
            Mapping::Object(fields) => fields.iter().for_each(|(_, m)| m.collect(out)),
            Mapping::Literal(_) => {}
        }
    }

    /// An upper estimate of the bytes [`Mapping::resolve`] would produce; see
    /// [`Template::resolved_size`].
    pub fn resolved_size<'a>(
        &self,
        lookup: &dyn Fn(&str) -> Option<&'a Value>,
        size_of_output: &dyn Fn(&str) -> Option<usize>,
    ) -> usize {
        let mut total = 0;
        let mut stack = vec![self];
        while let Some(m) = stack.pop() {
            match m {
                Mapping::Template(t) => total += t.resolved_size(lookup, size_of_output),
                Mapping::Array(items) => stack.extend(items),
                Mapping::Object(fields) => stack.extend(fields.iter().map(|(_, m)| m)),
                Mapping::Literal(v) => total += json_size(v),
            }
        }
        total
    }

    /// Resolves every template inside against the outputs at hand.
    pub fn resolve<'a>(
        &self,
        lookup: &dyn Fn(&str) -> Option<&'a Value>,
    ) -> Result<Value, ResolveError> {
        Ok(match self {
            Mapping::Template(t) => t.resolve(lookup)?,
            Mapping::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|m| m.resolve(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Mapping::Object(fields) => {
                let mut map = Map::new();
                for (k, m) in fields {
                    map.insert(k.clone(), m.resolve(lookup)?);
                }
                Value::Object(map)
            }
            Mapping::Literal(v) => v.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refs(src: &str) -> Vec<String> {
        Template::parse(src)
            .unwrap()
            .references()
            .map(|r| r.to_string())
            .collect()
    }

    fn resolve(src: &str, outputs: &Value) -> Result<Value, ResolveError> {
        let lookup = |id: &str| outputs.get(id);
        Template::parse(src).unwrap().resolve(&lookup)
    }

    fn parse_err(src: &str) -> (usize, String) {
        let e = Template::parse(src).unwrap_err();
        (e.column, e.message)
    }

    #[test]
    fn parses_paths() {
        let t = Template::parse(r#"{primary.data.rows[-1]["ci type"].count}"#).unwrap();
        let Part::Ref(r) = &t.parts()[0] else {
            panic!("not a ref")
        };
        assert_eq!(r.tool, "primary");
        assert_eq!(
            r.path,
            vec![
                Step::Key("data".into()),
                Step::Key("rows".into()),
                Step::Index(-1),
                Step::Key("ci type".into()),
                Step::Key("count".into()),
            ]
        );
        assert_eq!(r.to_string(), r#"primary.data.rows[-1]["ci type"].count"#);
    }

    #[test]
    fn finds_every_reference_and_literal_braces() {
        assert_eq!(refs("host-{a.name}-{b}"), vec!["a.name", "b"]);
        assert!(refs("{{not a template}}").is_empty());
        assert!(refs("plain").is_empty());
    }

    #[test]
    fn single_template_keeps_the_json_type() {
        let out = json!({"primary": {"data": {"rows": [{"count": 42}, {"count": 7}]}}});
        assert_eq!(
            resolve("{primary.data.rows[0].count}", &out).unwrap(),
            json!(42)
        );
        assert_eq!(
            resolve("{primary.data.rows[-1].count}", &out).unwrap(),
            json!(7)
        );
        assert_eq!(
            resolve("{primary.data.rows[1]}", &out).unwrap(),
            json!({"count": 7})
        );
        assert_eq!(resolve("{primary}", &out).unwrap(), out["primary"]);
    }

    #[test]
    fn interpolation_makes_a_string() {
        let out = json!({"a": {"name": "web-1", "n": 3, "o": {"k": true}}});
        assert_eq!(
            resolve("host-{a.name} n={a.n} {{x}} {a.o}", &out).unwrap(),
            json!("host-web-1 n=3 {x} {\"k\":true}")
        );
        assert_eq!(resolve(" {a.n}", &out).unwrap(), json!(" 3"));
        assert_eq!(
            resolve("no templates", &out).unwrap(),
            json!("no templates")
        );
        assert_eq!(resolve("", &out).unwrap(), json!(""));
    }

    #[test]
    fn quoted_keys_with_escapes() {
        let out = json!({"a": {"x.y": {"q\"k": 1, "line\nbreak\u{1}": 2}}});
        assert_eq!(resolve(r#"{a["x.y"]["q\"k"]}"#, &out).unwrap(), json!(1));
        assert_eq!(
            resolve(r#"{a["x.y"]["line\nbreak\u0001"]}"#, &out).unwrap(),
            json!(2)
        );
        // Display writes what the parser reads back.
        let r = Reference {
            tool: "a".into(),
            path: vec![
                Step::Key("x.y".into()),
                Step::Key("q\"\n\u{1}\\".into()),
                Step::Index(-2),
            ],
        };
        let t = Template::parse(&format!("{{{r}}}")).unwrap();
        assert_eq!(t.references().next().unwrap(), &r);
    }

    #[test]
    fn missing_paths_name_the_first_missing_step() {
        let out = json!({"p": {"data": {"rows": [{"count": 1}]}}, "s": "text"});
        let e = resolve("{p.data.rows[3].count}", &out).unwrap_err();
        assert_eq!(e.missing, "p.data.rows[3]");
        assert_eq!(
            e.to_string(),
            "template \"{p.data.rows[3].count}\": p.data.rows[3] is missing (index out of range, length 1)"
        );
        assert_eq!(resolve("{p.nope.x}", &out).unwrap_err().missing, "p.nope");
        assert_eq!(
            resolve("{s.x}", &out).unwrap_err().reason,
            "not an object but a string"
        );
        assert_eq!(
            resolve("{p.data[0]}", &out).unwrap_err().reason,
            "not an array but an object"
        );
        assert_eq!(resolve("{q}", &out).unwrap_err().missing, "q");
    }

    #[test]
    fn syntax_errors_point_at_the_column() {
        assert_eq!(parse_err("abc {primary.x").0, 5);
        assert_eq!(parse_err("abc {primary.x").1, "unclosed '{'");
        assert_eq!(
            parse_err("a}b"),
            (2, "unmatched '}' (write '}}' for a literal brace)".into())
        );
        assert_eq!(parse_err("{}").0, 2);
        assert_eq!(parse_err("{1abc}").0, 2);
        assert_eq!(parse_err("{a.}").0, 4);
        assert_eq!(parse_err("{a[x]}").0, 4);
        assert_eq!(parse_err("{a[1}").0, 5);
        assert_eq!(parse_err("{a[\"k]}").0, 4);
        assert_eq!(
            parse_err(r#"{a["bad \q"]}"#),
            (9, "invalid quoted key: invalid escape".into())
        );
        assert_eq!(parse_err("{a b}").0, 3);
        assert_eq!(parse_err("{a[-]}").0, 4);
        assert_eq!(
            parse_err("{a[99999999999999999999]}").1,
            "index 99999999999999999999 is out of range"
        );
        // Columns count characters, not bytes.
        assert_eq!(parse_err("é {a.").0, 6);
        assert_eq!(parse_err("é {a").0, 3);
    }

    #[test]
    fn sizes_are_estimated_without_building_and_depth_without_recursion() {
        let outputs = json!({"a": {"rows": [1, 2, 3], "name": "xyz"}});
        let lookup = |id: &str| outputs.get(id);
        let whole = |id: &str| outputs.get(id).map(json_size);
        let m =
            Mapping::parse(&json!({"v": ["{a}", "{a}"], "n": "name={a.name}", "k": 7})).unwrap();
        let estimate = m.resolved_size(&lookup, &whole);
        let built = json_size(&m.resolve(&lookup).unwrap());
        // Two whole outputs, the quoted name, the text and the literal: the keys and
        // brackets of the built value are the only bytes not counted.
        assert_eq!(
            estimate,
            2 * json_size(&outputs["a"]) + "\"xyz\"".len() + 5 + 1
        );
        assert!(
            built >= estimate && built <= estimate + 32,
            "{built} vs {estimate}"
        );

        // Three levels: the outer array, the object, the inner array.
        assert!(!nests_deeper_than(&json!([[1], {"a": [2]}]), 3));
        assert!(nests_deeper_than(&json!([[1], {"a": [2]}]), 2));
        let mut deep = json!(1);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        let measured = nests_deeper_than(&deep, 256);
        // Dropping the 100,000-deep value recursively would overflow the stack: take it
        // apart level by level.
        while let Value::Array(mut items) = deep {
            deep = items.pop().unwrap_or(Value::Null);
        }
        assert!(measured);
    }

    #[test]
    fn mappings_nest_and_locate_errors() {
        let m = Mapping::parse(&json!({"f": ["{a.x}", {"g": "n-{b}"}], "n": 5})).unwrap();
        let names: Vec<_> = m.references().iter().map(|r| r.tool.clone()).collect();
        assert_eq!(names, vec!["a", "b"]);
        let out = json!({"a": {"x": [1]}, "b": 2});
        let lookup = |id: &str| out.get(id);
        assert_eq!(
            m.resolve(&lookup).unwrap(),
            json!({"f": [[1], {"g": "n-2"}], "n": 5})
        );
        let e = Mapping::parse(&json!({"f": ["ok", {"g": "{oops"}]})).unwrap_err();
        assert_eq!(e.path, ".f[1].g");
        assert_eq!(e.error.column, 1);
    }
}
