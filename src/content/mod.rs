//! What values may leave the process, and how: content capture, redaction and the value
//! length limit. Spans, `--trace-out`, `--json` and the views all show values through here.

mod redact;

pub(crate) use redact::{json_limited, truncate};
pub use redact::{Redactor, DEFAULT_VALUE_LIMIT, MAX_KNOWN_SECRETS, REDACTED};

/// Environment variable (OpenTelemetry GenAI instrumentation) that switches content capture on.
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// Environment variable for the attribute value length limit.
pub const VALUE_LIMIT_ENV: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";

/// How tool values are put on spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    capture_content: bool,
    redactor: Redactor,
    value_limit: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            capture_content: false,
            redactor: Redactor::new(),
            value_limit: DEFAULT_VALUE_LIMIT,
        }
    }
}

impl TelemetryConfig {
    /// Defaults, overridden by `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (`true`)
    /// and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub fn from_env() -> Self {
        let mut c = Self::default();
        if let Ok(v) = std::env::var(CAPTURE_CONTENT_ENV) {
            c.capture_content = v.trim().eq_ignore_ascii_case("true");
        }
        if let Some(n) = std::env::var(VALUE_LIMIT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
        {
            c.value_limit = n.max(1);
        }
        c
    }

    /// Puts tool arguments and results on spans (`gen_ai.tool.call.arguments` / `.result`),
    /// redacted and cut to the limit. Off by default.
    pub fn with_capture_content(mut self, on: bool) -> Self {
        self.capture_content = on;
        self
    }

    /// Replaces the redactor.
    pub fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Sets the attribute value length limit, in characters (at least 1).
    pub fn with_value_limit(mut self, limit: usize) -> Self {
        self.value_limit = limit.max(1);
        self
    }

    /// Whether content capture is on.
    pub fn capture_content(&self) -> bool {
        self.capture_content
    }

    /// The redactor.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// The attribute value length limit.
    pub fn value_limit(&self) -> usize {
        self.value_limit
    }

    /// `value` redacted (secret keys, token-shaped values, and the `known` secrets of this
    /// run) and serialized, cut to the limit; with the full JSON size in bytes.
    pub(crate) fn json_attr(&self, value: &serde_json::Value, known: &[String]) -> (String, usize) {
        self.json_attr_owned(value.clone(), known)
    }

    /// [`TelemetryConfig::json_attr`] of a value built for the purpose: redacted in place,
    /// without a copy.
    pub(crate) fn json_attr_owned(
        &self,
        mut value: serde_json::Value,
        known: &[String],
    ) -> (String, usize) {
        self.redactor.redact_in_place(&mut value);
        self.redactor.redact_known(&mut value, known);
        json_limited(&value, self.value_limit)
    }

    /// A free text (error message, reason, query) redacted, with the `known` secrets of the
    /// run replaced, not cut.
    pub fn redact_free_text(&self, text: &str, known: &[String]) -> String {
        let mut out = self.redactor.redact_text(text);
        if !self.redactor.is_disabled() {
            for k in known {
                if out.contains(k.as_str()) {
                    out = out.replace(k.as_str(), REDACTED);
                }
            }
        }
        out
    }

    /// A free text (error message, reason, query) redacted and cut to the limit.
    pub(crate) fn text_attr(&self, text: &str, known: &[String]) -> String {
        truncate(self.redact_free_text(text, known), self.value_limit)
    }
}
