//! What values may leave the process, and how: content capture, redaction and the value
//! length limit. Spans, `--trace-out`, `--json` and the views all show values through here.

mod redact;

pub(crate) use redact::{json_limited, truncate};
pub use redact::{Redactor, DEFAULT_VALUE_LIMIT, MAX_KNOWN_SECRETS, REDACTED};

/// Environment variable (OpenTelemetry GenAI instrumentation) that switches content capture
/// on: `true` / `false`, or one of `NO_CONTENT`, `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT`
/// (the spelling under `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`; both
/// spellings are accepted in either mode). See [`ContentCapture::parse`].
pub const CAPTURE_CONTENT_ENV: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// Environment variable naming the semantic-convention opt-ins (comma-separated).
pub const SEMCONV_STABILITY_OPT_IN_ENV: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// The [`SEMCONV_STABILITY_OPT_IN_ENV`] value that selects the latest GenAI conventions.
pub const GEN_AI_LATEST_EXPERIMENTAL: &str = "gen_ai_latest_experimental";
/// Environment variable (ours) that puts the proposed DAG edge attributes
/// `gen_ai.node.execution.id` / `gen_ai.node.previous_execution.id` on tool spans: `true`.
pub const NODE_IDS_ENV: &str = "ORCHESTRACE_GENAI_NODE_IDS";
/// Environment variable for the attribute value length limit.
pub const VALUE_LIMIT_ENV: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";

/// Where tool arguments and results are captured (the GenAI conventions' content capture
/// modes). This crate records content on spans only; it emits no content events, so
/// [`ContentCapture::EventOnly`] captures nothing here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentCapture {
    /// No content (the default).
    #[default]
    NoContent,
    /// On spans (`gen_ai.tool.call.arguments` / `.result`).
    SpanOnly,
    /// On events only: none here (no content events are emitted).
    EventOnly,
    /// On spans and events: spans here.
    SpanAndEvent,
}

impl ContentCapture {
    /// Parses a [`CAPTURE_CONTENT_ENV`] value: `true` / `false` (legacy mode) or `NO_CONTENT`,
    /// `SPAN_ONLY`, `EVENT_ONLY`, `SPAN_AND_EVENT` (latest experimental mode), any case.
    /// `latest` says whether [`GEN_AI_LATEST_EXPERIMENTAL`] was opted into: there, `true`
    /// means `SPAN_AND_EVENT`; in legacy mode `true` means content on spans. Either way the
    /// spans carry content. An unknown value is an error naming the accepted ones.
    pub fn parse(value: &str, latest: bool) -> Result<Self, String> {
        let v = value.trim();
        let mode = if v.eq_ignore_ascii_case("true") {
            if latest {
                ContentCapture::SpanAndEvent
            } else {
                ContentCapture::SpanOnly
            }
        } else if v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("NO_CONTENT") {
            ContentCapture::NoContent
        } else if v.eq_ignore_ascii_case("SPAN_ONLY") {
            ContentCapture::SpanOnly
        } else if v.eq_ignore_ascii_case("EVENT_ONLY") {
            ContentCapture::EventOnly
        } else if v.eq_ignore_ascii_case("SPAN_AND_EVENT") {
            ContentCapture::SpanAndEvent
        } else {
            return Err(format!(
                "{CAPTURE_CONTENT_ENV}={v:?} is not one of true, false, NO_CONTENT, SPAN_ONLY, \
                 EVENT_ONLY, SPAN_AND_EVENT; content capture stays off"
            ));
        };
        Ok(mode)
    }

    /// Whether content goes on spans.
    pub fn on_spans(self) -> bool {
        matches!(
            self,
            ContentCapture::SpanOnly | ContentCapture::SpanAndEvent
        )
    }
}

/// Whether `OTEL_SEMCONV_STABILITY_OPT_IN` (its raw value) opts into the latest GenAI
/// conventions.
pub fn opts_into_latest_gen_ai(opt_in: &str) -> bool {
    opt_in
        .split(',')
        .any(|s| s.trim() == GEN_AI_LATEST_EXPERIMENTAL)
}

/// How tool values are put on spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    capture: ContentCapture,
    node_ids: bool,
    redactor: Redactor,
    value_limit: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            capture: ContentCapture::NoContent,
            node_ids: false,
            redactor: Redactor::new(),
            value_limit: DEFAULT_VALUE_LIMIT,
        }
    }
}

impl TelemetryConfig {
    /// Defaults, overridden by `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (read
    /// under `OTEL_SEMCONV_STABILITY_OPT_IN`, see [`ContentCapture::parse`]; an unknown value
    /// leaves capture off and says so once on stderr), `ORCHESTRACE_GENAI_NODE_IDS` (`true`)
    /// and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`TelemetryConfig::from_env`] over any source of variables.
    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let mut c = Self::default();
        if let Some(v) = var(CAPTURE_CONTENT_ENV).filter(|v| !v.trim().is_empty()) {
            let latest =
                var(SEMCONV_STABILITY_OPT_IN_ENV).is_some_and(|o| opts_into_latest_gen_ai(&o));
            match ContentCapture::parse(&v, latest) {
                Ok(mode) => c.capture = mode,
                Err(e) => eprintln!("orchestrace: {e}"),
            }
        }
        if let Some(v) = var(NODE_IDS_ENV) {
            c.node_ids = v.trim().eq_ignore_ascii_case("true");
        }
        if let Some(n) = var(VALUE_LIMIT_ENV).and_then(|v| v.trim().parse::<usize>().ok()) {
            c.value_limit = n.max(1);
        }
        c
    }

    /// Puts tool arguments and results on spans (`gen_ai.tool.call.arguments` / `.result`),
    /// redacted and cut to the limit. Off by default. The same as
    /// [`with_content_capture`](Self::with_content_capture) with `SpanOnly` / `NoContent`.
    pub fn with_capture_content(mut self, on: bool) -> Self {
        self.capture = if on {
            ContentCapture::SpanOnly
        } else {
            ContentCapture::NoContent
        };
        self
    }

    /// Sets the content capture mode.
    pub fn with_content_capture(mut self, mode: ContentCapture) -> Self {
        self.capture = mode;
        self
    }

    /// The content capture mode.
    pub fn content_capture(&self) -> ContentCapture {
        self.capture
    }

    /// Puts the proposed GenAI DAG edge attributes on tool spans: `gen_ai.node.execution.id`
    /// (the tool id) and `gen_ai.node.previous_execution.id` (the tools whose output fed it),
    /// beside the span links every tool span has to its dependencies. Off by default; the
    /// attributes are a proposal of the GenAI conventions and may still change.
    pub fn with_node_ids(mut self, on: bool) -> Self {
        self.node_ids = on;
        self
    }

    /// Whether the DAG edge attributes are emitted.
    pub fn node_ids(&self) -> bool {
        self.node_ids
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

    /// Whether content goes on spans.
    pub fn capture_content(&self) -> bool {
        self.capture.on_spans()
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
    /// run) and serialized, cut to the limit.
    pub(crate) fn json_attr(&self, value: &serde_json::Value, known: &[String]) -> String {
        self.json_attr_owned(value.clone(), known)
    }

    /// [`TelemetryConfig::json_attr`] of a value built for the purpose: redacted in place,
    /// without a copy.
    pub(crate) fn json_attr_owned(&self, mut value: serde_json::Value, known: &[String]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> TelemetryConfig {
        TelemetryConfig::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn legacy_capture_values() {
        assert!(!config(&[]).capture_content());
        assert_eq!(
            config(&[(CAPTURE_CONTENT_ENV, "true")]).content_capture(),
            ContentCapture::SpanOnly
        );
        assert_eq!(
            config(&[(CAPTURE_CONTENT_ENV, " TRUE ")]).content_capture(),
            ContentCapture::SpanOnly
        );
        assert_eq!(
            config(&[(CAPTURE_CONTENT_ENV, "false")]).content_capture(),
            ContentCapture::NoContent
        );
        // The new spellings are understood without the opt-in too.
        assert_eq!(
            config(&[(CAPTURE_CONTENT_ENV, "SPAN_ONLY")]).content_capture(),
            ContentCapture::SpanOnly
        );
    }

    #[test]
    fn latest_experimental_capture_values() {
        let latest = |v: &str| {
            config(&[
                (
                    SEMCONV_STABILITY_OPT_IN_ENV,
                    "http, gen_ai_latest_experimental",
                ),
                (CAPTURE_CONTENT_ENV, v),
            ])
        };
        let cases = [
            ("NO_CONTENT", ContentCapture::NoContent, false),
            ("SPAN_ONLY", ContentCapture::SpanOnly, true),
            ("event_only", ContentCapture::EventOnly, false),
            ("SPAN_AND_EVENT", ContentCapture::SpanAndEvent, true),
            ("true", ContentCapture::SpanAndEvent, true),
            ("false", ContentCapture::NoContent, false),
        ];
        for (value, mode, on_spans) in cases {
            let c = latest(value);
            assert_eq!(c.content_capture(), mode, "{value}");
            assert_eq!(c.capture_content(), on_spans, "{value}");
        }
    }

    #[test]
    fn an_unknown_capture_value_is_named_and_leaves_capture_off() {
        let e = ContentCapture::parse("yes", false).unwrap_err();
        assert!(
            e.contains("\"yes\" is not one of true, false, NO_CONTENT"),
            "{e}"
        );
        assert!(!config(&[(CAPTURE_CONTENT_ENV, "yes")]).capture_content());
        assert!(!opts_into_latest_gen_ai("gen_ai_latest_experimental_x"));
    }

    #[test]
    fn node_ids_are_opt_in() {
        assert!(!config(&[]).node_ids());
        assert!(config(&[(NODE_IDS_ENV, "true")]).node_ids());
        assert!(!config(&[(NODE_IDS_ENV, "1")]).node_ids());
        assert!(TelemetryConfig::default().with_node_ids(true).node_ids());
    }
}
