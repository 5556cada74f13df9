//! Redaction and the value length limit: what stands between user data and a span.
//!
//! Object keys that name a secret have their values replaced by [`REDACTED`]: password,
//! passwd, passphrase, secret, token, api key, auth (not author), credential, private key,
//! session, cookie, csrf/xsrf, credit card, card number, connection string; as a whole word
//! jwt, ssn, pass, pwd, pin, otp, dsn, cvv, cvc; and any `*_key` but the plain ones (primary,
//! sort, partition, cache, …) — any case, with `_`, `-`, `.`, space or camelCase between
//! words. String values that carry a credential are replaced wherever they stand: bearer
//! tokens, JWTs, AWS access key ids, GitHub, GitLab, Slack, Stripe and Google API tokens, PEM
//! private keys, passwords in URLs and secret query parameters (`?token=`, `?api_key=`, …).
//! Users add their own key patterns. Every attribute value is then cut to the length limit and
//! marked. The key rules follow the OpenTelemetry Collector's redaction processor examples and
//! common scrubbing lists; values are matched by the token's documented prefix and shape, so
//! plain values (`eu-west-1`, `kim`) stay.

use std::fmt::Write as _;

use serde_json::Value;

/// The replacement for a secret.
pub const REDACTED: &str = "[REDACTED]";
/// How many secret values one run remembers for [`Redactor::redact_known`].
pub const MAX_KNOWN_SECRETS: usize = 1024;
/// Shortest value remembered as a secret (shorter ones would mask plain words elsewhere).
const MIN_KNOWN_SECRET: usize = 6;
/// Default attribute value length limit, in characters (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
pub const DEFAULT_VALUE_LIMIT: usize = 4096;

/// Patterns matched against a key with its separators removed (`api_key` → `apikey`).
const KEY_PATTERNS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "credential",
    "privatekey",
    "session",
    "cookie",
    "creditcard",
    "cardnumber",
    "passphrase",
    "csrf",
    "xsrf",
    "connectionstring",
];
/// Remembered [`Redactor::is_secret_key`] verdicts of the built-in rules, per thread.
///
/// A direct-mapped table of short keys, stored inline: a hit is one hash and one comparison, a
/// miss costs what deciding costs and takes the slot, nothing is ever allocated, and keys that
/// never repeat (ids used as keys, hostile input) only evict each other.
mod key_verdicts {
    use std::cell::RefCell;
    use std::hash::Hasher;

    /// Longer keys are decided each time (and are rare).
    const MAX_KEY: usize = 30;
    /// Slots in the table (a power of two): 8 KB a thread.
    const SLOTS: usize = 256;

    #[derive(Clone, Copy)]
    struct Slot {
        /// 0 for an empty slot, else the key's length + 1.
        len: u8,
        verdict: bool,
        key: [u8; MAX_KEY],
    }

    const EMPTY: Slot = Slot {
        len: 0,
        verdict: false,
        key: [0; MAX_KEY],
    };

    thread_local! {
        static VERDICTS: RefCell<[Slot; SLOTS]> = const { RefCell::new([EMPTY; SLOTS]) };
    }

    /// The verdict for `key`, from `decide` unless this thread remembers it.
    pub(super) fn get_or_insert(key: &str, decide: impl FnOnce() -> bool) -> bool {
        let bytes = key.as_bytes();
        if bytes.len() > MAX_KEY {
            return decide();
        }
        let mut h = rustc_hash::FxHasher::default();
        h.write(bytes);
        let at = (h.finish() as usize) & (SLOTS - 1);
        let tag = bytes.len() as u8 + 1;
        let known = VERDICTS
            .try_with(|t| {
                let t = t.try_borrow().ok()?;
                let slot = &t[at];
                (slot.len == tag && &slot.key[..bytes.len()] == bytes).then_some(slot.verdict)
            })
            .ok()
            .flatten();
        if let Some(verdict) = known {
            return verdict;
        }
        let verdict = decide();
        let _ = VERDICTS.try_with(|t| {
            if let Ok(mut t) = t.try_borrow_mut() {
                let slot = &mut t[at];
                slot.len = tag;
                slot.verdict = verdict;
                slot.key[..bytes.len()].copy_from_slice(bytes);
            }
        });
        verdict
    }
}

/// Which bytes start one of [`KEY_PATTERNS`].
const KEY_PATTERN_STARTS: [bool; 256] = {
    let mut starts = [false; 256];
    let mut i = 0;
    while i < KEY_PATTERNS.len() {
        starts[KEY_PATTERNS[i].as_bytes()[0] as usize] = true;
        i += 1;
    }
    starts
};

/// Whether a normalized key holds one of [`KEY_PATTERNS`]: one pass over its bytes, the
/// patterns compared only where one could start (a key is checked for every value that
/// goes on a span).
fn has_key_pattern(norm: &[u8]) -> bool {
    (0..norm.len()).any(|i| {
        KEY_PATTERN_STARTS[norm[i] as usize]
            && KEY_PATTERNS
                .iter()
                .any(|p| norm[i..].starts_with(p.as_bytes()))
    })
}

/// Short patterns that must be a whole word of the key (`ssn` but not `classname`).
const KEY_WORDS: &[&str] = &[
    "jwt", "ssn", "pass", "pwd", "pin", "otp", "dsn", "cvv", "cvc",
];
/// Words before a final `key` that make it a plain one (`primary_key`), not a secret
/// (`encryption_key`, `stripe_key`).
const PLAIN_KEY_PREFIXES: &[&str] = &[
    "primary",
    "foreign",
    "sort",
    "partition",
    "cache",
    "idempotency",
    "group",
    "object",
    "route",
    "routing",
    "shard",
    "hash",
    "lookup",
    "public",
    "row",
    "map",
    "dedup",
    "dedupe",
];

/// Decides which keys and values are secrets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    extra: Vec<String>,
    disabled: bool,
}

impl Redactor {
    /// The default patterns.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also redacts keys containing `pattern` (compared like the built-in ones: case and
    /// separators ignored).
    pub fn with_key_pattern(mut self, pattern: &str) -> Self {
        self.extra.push(normalize(pattern));
        self
    }

    /// Turns redaction off entirely (for local debugging only).
    pub fn disabled() -> Self {
        Redactor {
            extra: Vec::new(),
            disabled: true,
        }
    }

    /// Whether redaction is off.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Whether values under this key are secrets.
    pub fn is_secret_key(&self, key: &str) -> bool {
        if self.disabled {
            return false;
        }
        // With the built-in patterns only, the verdict is a function of the key alone: the
        // same few keys come back in every value of a run, so it is remembered.
        if self.extra.is_empty() {
            return key_verdicts::get_or_insert(key, || self.uncached_secret_key(key));
        }
        self.uncached_secret_key(key)
    }

    fn uncached_secret_key(&self, key: &str) -> bool {
        match self.ascii_secret_key(key) {
            Some(verdict) => verdict,
            None => self.general_secret_key(key),
        }
    }

    /// [`Redactor::is_secret_key`] for the usual key — ASCII, at most 64 bytes — without
    /// allocating: it runs for every key of every value that goes on a span, and the general
    /// path's lowercase `String`s were the largest cost of a traced tool (`benches/`).
    /// The same rules byte by byte; `None` sends other keys down the general path.
    fn ascii_secret_key(&self, key: &str) -> Option<bool> {
        const MAX: usize = 64;
        if key.len() > MAX || !key.is_ascii() {
            return None;
        }
        let mut buf = [0u8; MAX];
        let mut n = 0;
        for b in key
            .bytes()
            .filter(|b| !matches!(b, b'_' | b'-' | b'.' | b' '))
        {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        let norm = &buf[..n];
        Some(
            has_key_pattern(norm)
                || self
                    .extra
                    .iter()
                    .any(|p| !p.is_empty() && norm.windows(p.len()).any(|w| w == p.as_bytes()))
                || has_auth(norm)
                || ascii_has_word(key.as_bytes(), KEY_WORDS)
                || secret_key_suffix(key),
        )
    }

    fn general_secret_key(&self, key: &str) -> bool {
        let norm = normalize(key);
        KEY_PATTERNS.iter().any(|p| norm.contains(p))
            || self
                .extra
                .iter()
                .any(|p| !p.is_empty() && norm.contains(p.as_str()))
            || has_auth(norm.as_bytes())
            || words(key).any(|w| KEY_WORDS.contains(&w.as_str()))
            || secret_key_suffix(key)
    }

    /// Whether a string value carries a credential: a bearer token, a JWT, a known token
    /// shape, a PEM private key, a password in a URL or a secret query parameter.
    pub fn is_secret_value(&self, value: &str) -> bool {
        if self.disabled {
            return false;
        }
        // One pass for the markers of every shape; the shapes are checked only where their
        // marker is (most values hold none).
        let b = value.as_bytes();
        let (mut bearer, mut jwt, mut shape) = (false, false, false);
        for i in 0..b.len() {
            if !MARKER_STARTS[b[i] as usize] {
                continue;
            }
            let rest = &b[i..];
            match b[i] {
                b'b' | b'B' => {
                    bearer |= rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"bearer")
                }
                b'e' => jwt |= rest.starts_with(b"eyJ"),
                _ => shape |= marker_at(rest),
            }
        }
        (bearer && has_bearer(value))
            || (jwt && has_jwt(value))
            || (shape && !secret_spans(value).is_empty())
    }

    /// A copy of `value` with secrets replaced.
    pub fn redact(&self, value: &Value) -> Value {
        let mut v = value.clone();
        self.redact_in_place(&mut v);
        v
    }

    /// Whether [`Redactor::redact_in_place`] would change `value` (without copying it).
    pub(crate) fn would_redact(&self, value: &Value) -> bool {
        match value {
            Value::Object(map) => self.would_redact_map(map),
            Value::Array(items) => items.iter().any(|v| self.would_redact(v)),
            Value::String(s) => self.is_secret_value(s),
            _ => false,
        }
    }

    /// [`Redactor::would_redact`] of an object.
    pub(crate) fn would_redact_map(&self, map: &serde_json::Map<String, Value>) -> bool {
        !self.disabled
            && map.iter().any(|(k, v)| {
                if self.is_secret_key(k) {
                    !v.is_null()
                } else {
                    self.would_redact(v)
                }
            })
    }

    /// Replaces secrets inside `value`.
    pub fn redact_in_place(&self, value: &mut Value) {
        if self.disabled {
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    if self.is_secret_key(k) && !v.is_null() {
                        *v = Value::String(REDACTED.to_owned());
                    } else {
                        self.redact_in_place(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_in_place(v)),
            Value::String(s) if self.is_secret_value(s) => *s = REDACTED.to_owned(),
            _ => {}
        }
    }

    /// Adds to `out` the strings that stand under secret keys in `value` (at least 4
    /// characters), so that the same secrets can be recognised where they travel next: a
    /// data-flow value copied from a password, an output echoing its input.
    pub fn collect_secrets(&self, value: &Value, out: &mut Vec<String>) {
        if self.disabled {
            return;
        }
        fn strings(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s)
                    if s.chars().count() >= MIN_KNOWN_SECRET
                        && s != REDACTED
                        && !out.contains(s)
                        && out.len() < MAX_KNOWN_SECRETS =>
                {
                    out.push(s.clone());
                }
                Value::Number(n) => {
                    let s = n.to_string();
                    if s.len() >= MIN_KNOWN_SECRET
                        && !out.contains(&s)
                        && out.len() < MAX_KNOWN_SECRETS
                    {
                        out.push(s);
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
                _ => {}
            }
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    // An object under a secret key (`credentials: {region, password}`) is
                    // redacted whole where it stands, but only its own secret-keyed values
                    // taint what they flow into: `region` stays a plain value elsewhere.
                    if self.is_secret_key(k) && !v.is_object() {
                        strings(v, out);
                    } else {
                        self.collect_secrets(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect_secrets(v, out)),
            _ => {}
        }
    }

    /// Whether [`Redactor::redact_known`] would change `value` (without copying it).
    pub(crate) fn would_redact_known(&self, value: &Value, known: &[String]) -> bool {
        if self.disabled || known.is_empty() {
            return false;
        }
        match value {
            Value::String(s) => known.iter().any(|k| s.contains(k.as_str())),
            Value::Number(n) => {
                let n = n.to_string();
                known.contains(&n)
            }
            Value::Array(items) => items.iter().any(|v| self.would_redact_known(v, known)),
            Value::Object(m) => m.values().any(|v| self.would_redact_known(v, known)),
            _ => false,
        }
    }

    /// `value` with secrets and `known` strings replaced: the same shared value when there is
    /// nothing to replace, a redacted copy otherwise.
    pub(crate) fn redacted_shared(
        &self,
        value: &std::sync::Arc<Value>,
        known: &[String],
    ) -> std::sync::Arc<Value> {
        if !self.would_redact(value) && !self.would_redact_known(value, known) {
            return std::sync::Arc::clone(value);
        }
        let mut v = Value::clone(value);
        self.redact_in_place(&mut v);
        self.redact_known(&mut v, known);
        std::sync::Arc::new(v)
    }

    /// Replaces every string containing one of `known` (see [`Redactor::collect_secrets`]).
    pub fn redact_known(&self, value: &mut Value, known: &[String]) {
        if self.disabled || known.is_empty() {
            return;
        }
        match value {
            Value::String(s) if known.iter().any(|k| s.contains(k.as_str())) => {
                *s = REDACTED.to_owned();
            }
            Value::Number(n) if known.iter().any(|k| *k == n.to_string()) => {
                *value = Value::String(REDACTED.to_owned());
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_known(v, known)),
            Value::Object(m) => m.values_mut().for_each(|v| self.redact_known(v, known)),
            _ => {}
        }
    }

    /// A free text (an error message, a URL, a query) with the credentials in it replaced;
    /// the rest of the text stays.
    pub fn redact_text(&self, text: &str) -> String {
        if !self.is_secret_value(text) {
            return text.to_owned();
        }
        let spans = secret_spans(text);
        let text = &if spans.is_empty() {
            text.to_owned()
        } else {
            let mut masked = String::with_capacity(text.len());
            let mut at = 0;
            for (start, end) in spans {
                masked.push_str(&text[at..start]);
                masked.push_str(REDACTED);
                at = end;
            }
            masked.push_str(&text[at..]);
            masked
        };
        let mut out = String::with_capacity(text.len());
        let mut after_bearer = false;
        for (k, word) in text.split(' ').enumerate() {
            if k > 0 {
                out.push(' ');
            }
            if after_bearer || has_jwt(word) {
                out.push_str(REDACTED);
            } else {
                out.push_str(word);
            }
            after_bearer = word.eq_ignore_ascii_case("bearer") || word.ends_with(":bearer");
        }
        out
    }
}

/// `…_key` (or `…Key`) after a word that does not make it a plain key.
fn secret_key_suffix(key: &str) -> bool {
    let ends_in_key = key
        .get(key.len().saturating_sub(3)..)
        .is_some_and(|t| t.eq_ignore_ascii_case("key"));
    if key.len() <= 3 || !ends_in_key {
        return false;
    }
    let ws: Vec<String> = words(key).collect();
    match ws.as_slice() {
        [.., prev, last] if last == "key" => !PLAIN_KEY_PREFIXES.contains(&prev.as_str()),
        _ => false,
    }
}

/// Query parameter names whose values are credentials even when the key rules would not
/// say so (`?key=`, `?sig=`).
const SECRET_PARAMS: &[&str] = &["key", "sig", "signature", "code", "client_secret"];

/// Whether `b` holds one of the markers every secret shape of [`secret_spans`] starts with:
/// `AKIA`, `ASIA`, `AIza`, `gh` (`ghp_`…, `github_pat_`), `glpat-`, `xox`, `_live_`,
/// `-----BEGIN`, `://` or `=`, in a single pass.
fn has_marker(b: &[u8]) -> bool {
    (0..b.len()).any(|i| marker_at(&b[i..]))
}

/// The bytes a marker of [`Redactor::is_secret_value`] starts with: `bearer` (either case),
/// `eyJ` and those of [`marker_at`]. Every other byte is passed over with one lookup.
const MARKER_STARTS: [bool; 256] = {
    let mut starts = [false; 256];
    let bytes = b"bBeAgx_-:=";
    let mut i = 0;
    while i < bytes.len() {
        starts[bytes[i] as usize] = true;
        i += 1;
    }
    starts
};

/// Whether `rest` starts with one of [`has_marker`]'s markers.
fn marker_at(rest: &[u8]) -> bool {
    match rest.first() {
        Some(b'A') => {
            rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") || rest.starts_with(b"AIza")
        }
        Some(b'g') => rest.starts_with(b"gh") || rest.starts_with(b"glpat-"),
        Some(b'x') => rest.starts_with(b"xox"),
        Some(b'_') => rest.starts_with(b"_live_"),
        Some(b'-') => rest.starts_with(b"-----BEGIN"),
        Some(b':') => rest.starts_with(b"://"),
        Some(b'=') => true,
        _ => false,
    }
}

/// Byte ranges of the credentials inside `text`: known token shapes, PEM private keys,
/// passwords in URLs and secret query parameter values. Sorted, not overlapping.
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    // Most values hold none of the markers every shape below starts with: one pass over the
    // bytes spares them the scan for each shape (a 1 MB output is checked on every span it
    // reaches, and a span checks a dozen short strings).
    let b = text.as_bytes();
    if !has_marker(b) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let run = |from: usize, ok: &dyn Fn(u8) -> bool| {
        from + b[from.min(b.len())..]
            .iter()
            .take_while(|&&c| ok(c))
            .count()
    };
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let word_start = |i: usize| i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    // (prefix, allowed body bytes, shortest body)
    type Shape = (&'static [u8], fn(u8) -> bool, usize);
    let shapes: &[Shape] = &[
        (
            b"AKIA",
            |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
            16,
        ),
        (
            b"ASIA",
            |c| c.is_ascii_uppercase() || c.is_ascii_digit(),
            16,
        ),
        (b"ghp_", |c| c.is_ascii_alphanumeric(), 30),
        (b"gho_", |c| c.is_ascii_alphanumeric(), 30),
        (b"ghu_", |c| c.is_ascii_alphanumeric(), 30),
        (b"ghs_", |c| c.is_ascii_alphanumeric(), 30),
        (b"ghr_", |c| c.is_ascii_alphanumeric(), 30),
        (
            b"github_pat_",
            |c| c.is_ascii_alphanumeric() || c == b'_',
            22,
        ),
        (
            b"glpat-",
            |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_',
            20,
        ),
        (b"xoxb-", |c| c.is_ascii_alphanumeric() || c == b'-', 10),
        (b"xoxp-", |c| c.is_ascii_alphanumeric() || c == b'-', 10),
        (b"xoxa-", |c| c.is_ascii_alphanumeric() || c == b'-', 10),
        (b"xoxr-", |c| c.is_ascii_alphanumeric() || c == b'-', 10),
        (b"xoxs-", |c| c.is_ascii_alphanumeric() || c == b'-', 10),
        (b"sk_live_", |c| c.is_ascii_alphanumeric(), 16),
        (b"rk_live_", |c| c.is_ascii_alphanumeric(), 16),
        (
            b"AIza",
            |c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_',
            35,
        ),
    ];
    let mut i = 0;
    while i < b.len() {
        let mut matched = false;
        if word_start(i) {
            for (prefix, ok, min) in shapes {
                if b[i..].starts_with(prefix) {
                    let end = run(i + prefix.len(), &|c| ok(c));
                    if end - i - prefix.len() >= *min {
                        spans.push((i, end));
                        i = end;
                        matched = true;
                        break;
                    }
                }
            }
        }
        if matched {
            continue;
        }
        if b[i..].starts_with(b"-----BEGIN") {
            let head_end = text[i..].find('\n').map_or(b.len(), |n| i + n);
            if text[i..head_end].contains("PRIVATE KEY") {
                let end = text[i..]
                    .find("-----END")
                    .and_then(|e| text[i + e + 8..].find("-----").map(|f| i + e + 8 + f + 5))
                    .unwrap_or(b.len());
                spans.push((i, end));
                i = end;
                continue;
            }
        }
        if b[i..].starts_with(b"://") {
            // scheme://user:password@host
            let start = i + 3;
            let auth_end = run(start, &|c| {
                !matches!(c, b'/' | b'?' | b'#') && !c.is_ascii_whitespace() && c != b'"'
            });
            if let Some(at) = text[start..auth_end].rfind('@') {
                if let Some(colon) = text[start..start + at].find(':') {
                    let (s, e) = (start + colon + 1, start + at);
                    if e > s {
                        spans.push((s, e));
                    }
                }
            }
            i = start;
            continue;
        }
        if matches!(b[i], b'?' | b'&' | b';') {
            let name_end = run(i + 1, &|c| alnum(c) || matches!(c, b'_' | b'-' | b'.'));
            if name_end < b.len() && b[name_end] == b'=' && name_end > i + 1 {
                let name = &text[i + 1..name_end];
                let value_end = run(name_end + 1, &|c| {
                    !matches!(c, b'&' | b'#' | b';' | b'"' | b'\'') && !c.is_ascii_whitespace()
                });
                let lower = name.to_ascii_lowercase();
                let secret =
                    SECRET_PARAMS.contains(&lower.as_str()) || Redactor::new().is_secret_key(name);
                if secret && value_end > name_end + 1 {
                    spans.push((name_end + 1, value_end));
                }
                i = value_end.max(i + 1);
                continue;
            }
        }
        i += 1;
    }
    spans
}

fn normalize(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The words of a key: split at separators and at lower→upper camelCase boundaries.
fn words(key: &str) -> impl Iterator<Item = String> + '_ {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if matches!(c, '_' | '-' | '.' | ' ') {
            out.push(std::mem::take(&mut cur));
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    out.push(cur);
    out.into_iter().filter(|w| !w.is_empty())
}

/// Whether one of the [`words`] of an ASCII key is one of `wanted` (lowercase).
fn ascii_has_word(key: &[u8], wanted: &[&str]) -> bool {
    // Most words are longer or shorter than every wanted one: one comparison rules them out.
    let (shortest, longest) = wanted.iter().fold((usize::MAX, 0), |(lo, hi), k| {
        (lo.min(k.len()), hi.max(k.len()))
    });
    let is = |w: &[u8]| {
        (shortest..=longest).contains(&w.len())
            && wanted.iter().any(|k| w.eq_ignore_ascii_case(k.as_bytes()))
    };
    let mut start = 0;
    let mut prev_lower = false;
    for (i, &b) in key.iter().enumerate() {
        if matches!(b, b'_' | b'-' | b'.' | b' ') {
            if is(&key[start..i]) {
                return true;
            }
            start = i + 1;
            prev_lower = false;
            continue;
        }
        if b.is_ascii_uppercase() && prev_lower {
            if is(&key[start..i]) {
                return true;
            }
            start = i;
        }
        prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
    }
    is(&key[start..])
}

/// `auth` anywhere, except as the start of `author…` (while `authorization`/`authorise` count).
fn has_auth(b: &[u8]) -> bool {
    // Byte windows rather than `match_indices`: no searcher to set up for a short key, and
    // "auth" cannot overlap itself, so every occurrence is visited all the same.
    (0..b.len().saturating_sub(3)).any(|i| {
        b[i..].starts_with(b"auth") && {
            let rest = &b[i + 4..];
            !rest.starts_with(b"or") || rest.starts_with(b"oriz") || rest.starts_with(b"oris")
        }
    })
}

/// Whether `needle` (ASCII) occurs in `hay`, ignoring ASCII case: the cheap test that lets
/// almost every value skip the value checks below.
fn contains_ignore_case(hay: &str, needle: &[u8]) -> bool {
    hay.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn has_bearer(value: &str) -> bool {
    if !contains_ignore_case(value, b"bearer") {
        return false;
    }
    let lower = value.to_ascii_lowercase();
    lower.match_indices("bearer").any(|(i, _)| {
        let at_word_start = i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric();
        let rest = &value[i + 6..];
        let token = rest.trim_start_matches([' ', '\t']);
        at_word_start
            && token.len() < rest.len()
            && token
                .split_whitespace()
                .next()
                .is_some_and(|t| t.len() >= 8)
    })
}

fn has_jwt(value: &str) -> bool {
    if !value.as_bytes().windows(3).any(|w| w == b"eyJ") {
        return false;
    }
    value.match_indices("eyJ").any(|(i, _)| {
        let seg = |s: &str| {
            s.bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
                .count()
        };
        let rest = &value[i..];
        let a = seg(rest);
        if a < 10 || rest.as_bytes().get(a) != Some(&b'.') {
            return false;
        }
        let rest = &rest[a + 1..];
        let b = seg(rest);
        b >= 10 && rest.as_bytes().get(b) == Some(&b'.')
    })
}

/// Cuts `text` to at most `limit` characters, marking the cut with how much was dropped.
pub(crate) fn truncate(text: String, limit: usize) -> String {
    // No more bytes than the limit: no more characters either, nothing to count.
    if text.len() <= limit {
        return text;
    }
    match text.char_indices().nth(limit) {
        None => text,
        Some((at, _)) => {
            let dropped = text[at..].chars().count();
            let mut out = text[..at].to_owned();
            let _ = write!(out, "…[truncated {dropped} chars]");
            out
        }
    }
}

/// Serializes `value` as JSON, stopping once `limit` characters are reached (so a 10 MB output
/// or the execution plan of 50,000 tools costs neither a 10 MB string nor a walk of the rest),
/// and marking the cut: `…[truncated: JSON over {limit} chars]`.
pub(crate) fn json_limited<T: serde::Serialize + ?Sized>(value: &T, limit: usize) -> String {
    struct Limited {
        buf: Vec<u8>,
        cap: usize,
    }
    impl std::io::Write for Limited {
        #[inline]
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.write_all(data).map(|()| data.len())
        }
        #[inline]
        fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
            let room = self.cap - self.buf.len();
            if data.len() <= room {
                self.buf.extend_from_slice(data);
                return Ok(());
            }
            // Enough is kept: end the serialization here.
            self.buf.extend_from_slice(&data[..room]);
            Err(std::io::ErrorKind::WriteZero.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Up to 4 bytes a character, so this many bytes always hold `limit + 1` characters.
    let cap = limit.saturating_mul(4).saturating_add(4);
    let mut w = Limited {
        // Room for a typical attribute at once (params, arguments, a data-flow record).
        buf: Vec::with_capacity(cap.min(256)),
        cap,
    };
    let complete = serde_json::to_writer(&mut w, value).is_ok();
    // Valid UTF-8 unless the cut fell inside a character: no copy in the usual case.
    let text = String::from_utf8(w.buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if complete {
        return truncate(text, limit);
    }
    let kept = match text.char_indices().nth(limit) {
        Some((at, _)) => at,
        None => text.len(),
    };
    let mut out = text[..kept].to_owned();
    let _ = write!(out, "…[truncated: JSON over {limit} chars]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_pass_finds_what_a_search_for_each_marker_finds() {
        const MARKERS: &[&str] = &[
            "AKIA",
            "ASIA",
            "gh",
            "github_pat_",
            "glpat-",
            "xox",
            "_live_",
            "AIza",
            "-----BEGIN",
            "://",
            "=",
        ];
        let texts = [
            "",
            "A",
            "AKI",
            "xAKIAx",
            "ASIA",
            "AIz",
            "AIza",
            "g",
            "gh",
            "glpat",
            "glpat-",
            "xo",
            "xox",
            "_live",
            "sk_live_x",
            "----BEGIN",
            "-----BEGIN KEY",
            ":/",
            "a://b",
            "k=v",
            "plain text",
            "tool 17",
            "{t3.rows}",
            "Ünïcode gh",
            "ends with g",
        ];
        for t in texts {
            let expected = MARKERS.iter().any(|m| t.contains(m));
            assert_eq!(has_marker(t.as_bytes()), expected, "{t:?}");
        }
    }

    #[test]
    fn the_ascii_fast_path_agrees_with_the_general_one() {
        let r = Redactor::new().with_key_pattern("internal-id");
        let mut keys: Vec<String> = [
            "password",
            "user_password",
            "PASSWD",
            "apiKey",
            "api-key",
            "api.key",
            "API KEY",
            "x_api_key",
            "auth",
            "Authorization",
            "authorise",
            "author",
            "authorName",
            "co_author",
            "oauth_token",
            "jwt",
            "userJWT",
            "my-jwt",
            "jwtish",
            "ssn",
            "userSsn",
            "SSN_last4",
            "classname",
            "session_id",
            "cookie",
            "creditCard",
            "credit_card",
            "privateKey",
            "private.key",
            "secretSauce",
            "tokens",
            "credentials",
            "InternalId",
            "internal_id",
            "keywords",
            "limit",
            "a_count",
            "",
            "_",
            "--",
            "a1B2jwt",
            "jwt2",
            "fooJWTBar",
            "FooSsn",
            "sSn",
            "x.ssn.y",
            "JWTToken",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Every short word over a small alphabet that can spell the patterns' pieces.
        let alphabet = [
            'a', 'u', 't', 'h', 'o', 'r', 'J', 'w', 's', 'S', 'n', '_', '1',
        ];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for w in &frontier {
                for c in alphabet {
                    next.push(format!("{w}{c}"));
                }
            }
            keys.extend(next.iter().cloned());
            frontier = next;
        }
        for key in &keys {
            assert_eq!(
                r.ascii_secret_key(key),
                Some(r.general_secret_key(key)),
                "{key:?}"
            );
        }
        assert_eq!(r.ascii_secret_key(&"a".repeat(65)), None);
        assert_eq!(r.ascii_secret_key("pässword"), None);
    }
    use serde_json::json;

    #[test]
    fn secret_keys_in_every_spelling() {
        let r = Redactor::new();
        for k in [
            "password",
            "PASSWORD",
            "db_password",
            "passwd",
            "client-secret",
            "access.token",
            "api key",
            "API_KEY",
            "apiKey",
            "x-api-key",
            "auth",
            "Authorization",
            "oauth_state",
            "credentials",
            "private_key",
            "privateKey",
            "session_id",
            "Set-Cookie",
            "jwt",
            "user_jwt",
            "ssn",
            "SSN",
            "customerSsn",
            "credit card",
            "credit_card_number",
        ] {
            assert!(r.is_secret_key(k), "{k} should be secret");
        }
        for k in [
            "author",
            "authors",
            "classname",
            "keywords",
            "name",
            "count",
        ] {
            assert!(!r.is_secret_key(k), "{k} should not be secret");
        }
        assert!(Redactor::new()
            .with_key_pattern("Tenant-Id")
            .is_secret_key("tenant_id"));
    }

    #[test]
    fn secret_values_anywhere() {
        let r = Redactor::new();
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let v = json!({
            "q": "servers", "password": "hunter2", "nested": [{"Api-Key": 5}],
            "h": "Bearer abcdefghijkl", "t": jwt, "note": format!("token is {jwt} ok"),
            "author": "kim", "session": null
        });
        assert_eq!(
            r.redact(&v),
            json!({
                "q": "servers", "password": REDACTED, "nested": [{"Api-Key": REDACTED}],
                "h": REDACTED, "t": REDACTED, "note": REDACTED, "author": "kim", "session": null
            })
        );
        assert_eq!(
            r.redact_text("401 for Bearer abcdefghijkl from x"),
            "401 for Bearer [REDACTED] from x"
        );
        assert!(!r.is_secret_value("the bearer of news"));
        assert_eq!(Redactor::disabled().redact(&v), v);
    }

    #[test]
    fn secrets_are_recognised_where_they_travel_next() {
        let r = Redactor::new();
        let mut known = Vec::new();
        r.collect_secrets(
            &json!({"user": "kim", "auth": {"password": "hunter22", "pin": 123456}}),
            &mut known,
        );
        assert_eq!(known, vec!["hunter22".to_owned(), "123456".to_owned()]);
        let mut v =
            json!({"copied": "hunter22", "msg": "pw=hunter22!", "n": 123456, "user": "kim"});
        r.redact_known(&mut v, &known);
        assert_eq!(
            v,
            json!({"copied": REDACTED, "msg": REDACTED, "n": REDACTED, "user": "kim"})
        );
        let mut short = Vec::new();
        r.collect_secrets(&json!({"token": "ab"}), &mut short);
        assert!(short.is_empty(), "too short to recognise safely");
    }

    #[test]
    fn wider_secret_keys_and_no_spread_to_plain_keys() {
        let r = Redactor::new();
        for key in [
            "DB_PASS",
            "pwd",
            "passphrase",
            "dsn",
            "stripe_key",
            "encryptionKey",
            "card_number",
            "cvv",
            "mysql_pwd",
            "csrf_token",
            "X-XSRF-TOKEN",
            "pin",
            "aws_secret_access_key",
            "connection_string",
        ] {
            assert!(r.is_secret_key(key), "{key}");
        }
        for key in [
            "region",
            "key",
            "primary_key",
            "sort_key",
            "partition_key",
            "passenger",
            "compass",
            "spin",
            "pinned",
            "keyword",
            "monkey",
            "cache_key",
            "author",
            "password_policy_url_x",
        ] {
            assert_eq!(
                r.is_secret_key(key),
                key == "password_policy_url_x",
                "{key}"
            );
        }
        let mut known = Vec::new();
        r.collect_secrets(
            &json!({"credentials": {"region": "eu-west-1", "password": "s3cr3t-pw"}}),
            &mut known,
        );
        assert_eq!(known, vec!["s3cr3t-pw".to_owned()]);
        let mut v = json!({"region": "eu-west-1", "echo": "s3cr3t-pw"});
        r.redact_known(&mut v, &known);
        assert_eq!(v, json!({"region": "eu-west-1", "echo": REDACTED}));
    }

    #[test]
    fn token_shapes_under_plain_keys() {
        let r = Redactor::new();
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----";
        let secrets = [
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "xoxb-123456789012-abcdefghij",
            pem,
            "https://kim:hunter2@db.example.com/x",
            "https://api.example.com/v1?q=1&token=abc123",
            "https://api.example.com/v1?api_key=abc123&x=1",
            "postgres://app:pa55word@10.0.0.5:5432/db",
        ];
        for s in secrets {
            assert!(r.is_secret_value(s), "{s}");
            assert_eq!(
                r.redact(&json!({ "v": s })),
                json!({ "v": REDACTED }),
                "{s}"
            );
        }
        for plain in [
            "eu-west-1",
            "https://example.com/a?q=token&page=2",
            "AKIA",
            "ghp_short",
            "https://example.com/path@v2",
            "key=value",
            "-----BEGIN CERTIFICATE-----",
        ] {
            assert!(!r.is_secret_value(plain), "{plain}");
        }
        assert_eq!(
            r.redact_text("GET https://kim:hunter2@h/x?api_key=abc123&page=2 failed"),
            "GET https://kim:[REDACTED]@h/x?api_key=[REDACTED]&page=2 failed"
        );
        assert_eq!(
            r.redact_text("key AKIAIOSFODNN7EXAMPLE leaked"),
            "key [REDACTED] leaked"
        );
        // Non-ASCII around a match keeps the text intact.
        assert_eq!(r.redact_text("é?token=ab é"), "é?token=[REDACTED] é");
    }

    #[test]
    fn remembered_key_verdicts_are_the_rules_verdicts() {
        let plain = Redactor::new();
        let extra = Redactor::new().with_key_pattern("tenant");
        for _ in 0..2 {
            assert!(!plain.is_secret_key("tenant_id"));
            assert!(extra.is_secret_key("tenant_id"));
            assert!(plain.is_secret_key("api_key"));
            assert!(!Redactor::disabled().is_secret_key("api_key"));
        }
        // Distinct keys take each other's slots, with the same answers.
        for i in 0..5000 {
            assert!(!plain.is_secret_key(&format!("field{i}")));
        }
        assert!(plain.is_secret_key("password"));
        let long = format!("{}_token", "x".repeat(100));
        assert!(plain.is_secret_key(&long) && plain.is_secret_key(&long));
    }

    #[test]
    fn truncation_is_marked() {
        assert_eq!(truncate("abcdef".into(), 10), "abcdef");
        assert_eq!(truncate("abcdef".into(), 3), "abc…[truncated 3 chars]");
        assert_eq!(truncate("ééé".into(), 1), "é…[truncated 2 chars]");
        let big = json!({"rows": vec!["x".repeat(100); 1000]});
        let text = json_limited(&big, 50);
        assert_eq!(
            text,
            format!(
                "{}…[truncated: JSON over 50 chars]",
                &serde_json::to_string(&big).unwrap()[..50]
            )
        );
        assert_eq!(json_limited(&json!([1, 2]), 50), "[1,2]");
        // Cut inside a character: whole characters only.
        let wide = json!("é".repeat(100));
        let text = json_limited(&wide, 5);
        assert_eq!(text, "\"éééé…[truncated: JSON over 5 chars]");
        // Exactly at the limit: whole.
        assert_eq!(json_limited(&json!("abc"), 5), "\"abc\"");
    }
}
