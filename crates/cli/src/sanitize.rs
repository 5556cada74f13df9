//! What the command prints of text it does not control.
//!
//! A plan's query, a trace id read from a file, a tool's error message or a library's error
//! text may carry escape sequences: printed raw, they recolour, retitle or clear the terminal,
//! or forge lines. Everything the command prints of such text goes through [`clean`]. URLs
//! given on the command line may carry credentials (`https://user:pass@host`,
//! `?api_key=…`); every message on stderr goes through [`message`], which prints them without.

use std::borrow::Cow;

/// Whether a character may move the cursor, change the terminal's state or reorder text:
/// C0 and C1 controls, DEL, and the bidirectional marks and overrides.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// The text with every unsafe character written as a visible escape (`\u{1b}`, `\n`), so it
/// prints as one inert line.
pub(crate) fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Query and fragment parameters whose values are never printed.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "key",
    "api_key",
    "apikey",
    "password",
    "secret",
    "sig",
    "signature",
    "access_token",
];

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace('-', "_");
    SECRET_PARAMS.contains(&name.as_str())
        || ["_token", "_key", "_secret", "_signature", "_password"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

const REDACTED: &str = "[REDACTED]";

fn redact_params(params: &str) -> String {
    params
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL fit to print: without its user info (`user:password@`), and with the values of
/// secret query and fragment parameters (`token`, `key`, `api_key`, `password`, `sig`, …)
/// replaced by `[REDACTED]`.
pub(crate) fn redact_url(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = url.split_at(start);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rfind('@')
        .map_or(authority, |i| &authority[i + 1..]);
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (before_fragment, None),
    };
    let mut out = format!("{scheme}{host}{path}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(&redact_params(q));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(&redact_params(f));
    }
    out
}

/// The text with every URL in it (`scheme://…` up to white space or a quote) redacted.
pub(crate) fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let scheme_start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |j| j + 1);
        let token_end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |j| i + j);
        // Punctuation after a URL (`(…/traces)`, `…/traces:`) is the sentence's, not the URL's.
        let end = scheme_start
            + rest[scheme_start..token_end]
                .trim_end_matches([')', ']', ',', '.', ';', ':'])
                .len();
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A message for stderr: URLs redacted, unsafe characters escaped.
pub(crate) fn message(text: &str) -> String {
    clean(&redact_urls(text)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_print_escaped() {
        assert_eq!(clean("plain"), "plain");
        assert_eq!(
            clean("a\u{1b}]0;pwned\u{7}b\nc\u{9b}2J\u{202e}"),
            "a\\u{1b}]0;pwned\\u{7}b\\nc\\u{9b}2J\\u{202e}"
        );
        assert_eq!(clean("durée → ok"), "durée → ok");
    }

    #[test]
    fn urls_lose_user_info_and_secret_parameters() {
        assert_eq!(
            redact_url("https://alice:s3cret@collector.example:4318/v1/traces?api_key=abc&region=eu&X-Amz-Signature=f00"),
            "https://collector.example:4318/v1/traces?api_key=[REDACTED]&region=eu&X-Amz-Signature=[REDACTED]"
        );
        assert_eq!(
            redact_url("http://jaeger:16686/#access_token=xyz&view=1"),
            "http://jaeger:16686/#access_token=[REDACTED]&view=1"
        );
        assert_eq!(redact_url("http://localhost:4317"), "http://localhost:4317");
        assert_eq!(redact_url("tok@localhost:4317"), "localhost:4317");
        assert_eq!(
            redact_url("http://h/?monkey=1&sig=2&Token=3"),
            "http://h/?monkey=1&sig=[REDACTED]&Token=[REDACTED]"
        );
    }

    #[test]
    fn urls_inside_messages_are_redacted_in_place() {
        assert_eq!(
            redact_urls("3 of 9 spans were not exported to http://u:p@h:4318/v1/traces: error sending request for url (https://u:p@h:4318/v1/traces?token=t)"),
            "3 of 9 spans were not exported to http://h:4318/v1/traces: error sending request for url (https://h:4318/v1/traces?token=[REDACTED])"
        );
        assert_eq!(redact_urls("no url here"), "no url here");
    }
}
