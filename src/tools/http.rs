//! The built-in `http` tool: one GET or POST per call, with the call's trace context
//! propagated, so a tool that is a service shows its spans under the tool span that called it.
//!
//! Input:
//!
//! | param | meaning |
//! |---|---|
//! | `url` | required, `http://…` |
//! | `method` | `GET` (default) or `POST` |
//! | `headers` | object of header name → string value |
//! | `body` | a string is sent as text, any other JSON value as JSON |
//! | `timeout_ms` | bound on the whole request (default 30 000); the plan's `timeout_ms` applies outside |
//! | `baggage` | object of W3C baggage entries (strings, numbers, booleans), sent only to… |
//! | `baggage_hosts` | …these hosts (`host` or `host:port`); no host listed, no baggage sent |
//! | `response_headers` | extra response header names to return |
//!
//! Output: `{"status": 200, "headers": {…}, "body": …}` with the body as JSON when the
//! response says it is JSON, else as text. A non-2xx status fails the call with kind
//! `http_status`; a failed connection with `http_error`; a timeout with `timeout`.
//!
//! `traceparent`/`tracestate` come from the tool span and cannot be set through `headers`;
//! neither can `baggage`, which only the `baggage` param sends, and never across a redirect
//! to another host.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::execute::{Tool, ToolContext};
use crate::propagation::{inject_baggage, BAGGAGE, TRACEPARENT, TRACESTATE};
use crate::run::ToolError;
use crate::semconv as attr;

/// Bound on a request when the call sets no `timeout_ms`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this fail the call instead of growing memory.
const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// How much of an error response's body goes into the error message.
const EXCERPT_CHARS: usize = 200;
/// Response headers always returned (when present).
const SELECTED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "etag",
    "last-modified",
    "location",
    "retry-after",
    "x-request-id",
    "traceresponse",
];
/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// GET or POST a URL, with the trace context propagated.
///
/// Redirects are followed here, not by the client, so that each hop can be checked: to
/// another origin the headers the plan set (an `X-Api-Key`, say) and baggage are never
/// sent, and no hop sends a `Referer` (it would carry the first URL's `?api_key=`).
#[derive(Default)]
pub(crate) struct Http {
    client: OnceLock<reqwest::Client>,
}

fn invalid(message: impl Into<String>) -> ToolError {
    ToolError::with_kind("invalid_input", message)
}

/// A request, validated from the tool input.
#[derive(Debug)]
struct Request {
    url: reqwest::Url,
    method: reqwest::Method,
    headers: http::HeaderMap,
    body: Option<(Vec<u8>, &'static str)>,
    timeout: Duration,
    baggage: Vec<(String, String)>,
    baggage_hosts: Vec<String>,
    response_headers: Vec<String>,
}

fn strings(input: &Value, key: &str) -> Result<Vec<String>, ToolError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{key} must hold strings, got {v}")))
            })
            .collect(),
        Some(v) => Err(invalid(format!("{key} must be a list of strings, got {v}"))),
    }
}

fn object<'a>(input: &'a Value, key: &str) -> Result<Option<&'a Map<String, Value>>, ToolError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(invalid(format!("{key} must be an object, got {v}"))),
    }
}

/// `scheme://host:port/path`, without credentials or query, for messages.
fn display_url(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}{}", url.scheme(), url.path()),
        None => format!("{}://{host}{}", url.scheme(), url.path()),
    }
}

impl Request {
    fn parse(input: &Value) -> Result<Request, ToolError> {
        let raw = input
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("url is required (a string)"))?;
        let url = reqwest::Url::parse(raw).map_err(|e| invalid(format!("url: {e}")))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(invalid(
                    "url: https is not supported by the built-in http tool (it has no TLS \
                     backend); call through a local proxy or register your own tool",
                ))
            }
            other => return Err(invalid(format!("url: unsupported scheme {other:?}"))),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("url: no host"));
        }
        let method = match input.get("method") {
            None | Some(Value::Null) => reqwest::Method::GET,
            Some(Value::String(m)) if m.eq_ignore_ascii_case("get") => reqwest::Method::GET,
            Some(Value::String(m)) if m.eq_ignore_ascii_case("post") => reqwest::Method::POST,
            Some(v) => return Err(invalid(format!("method must be GET or POST, got {v}"))),
        };
        let mut headers = http::HeaderMap::new();
        for (name, value) in object(input, "headers")?.into_iter().flatten() {
            let lower = name.to_ascii_lowercase();
            if [TRACEPARENT, TRACESTATE, BAGGAGE].contains(&lower.as_str()) {
                return Err(invalid(format!(
                    "headers: {name} is set by the http tool (trace context from the tool \
                     span; baggage from the baggage param)"
                )));
            }
            let value = value
                .as_str()
                .ok_or_else(|| invalid(format!("headers.{name} must be a string, got {value}")))?;
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("headers: invalid header name {name:?}")))?;
            let value = http::HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("headers.{name}: invalid header value")))?;
            headers.append(name, value);
        }
        let body = match input.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some((s.clone().into_bytes(), "text/plain; charset=utf-8")),
            Some(v) => Some((
                serde_json::to_vec(v).expect("JSON values serialize"),
                "application/json",
            )),
        };
        let timeout = match input.get("timeout_ms") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT,
            Some(v) => match v.as_u64() {
                Some(ms) if ms > 0 => Duration::from_millis(ms),
                _ => {
                    return Err(invalid(format!(
                        "timeout_ms must be a positive integer, got {v}"
                    )))
                }
            },
        };
        let mut baggage = Vec::new();
        for (k, v) in object(input, "baggage")?.into_iter().flatten() {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                other => {
                    return Err(invalid(format!(
                        "baggage.{k} must be a string, number or boolean, got {other}"
                    )))
                }
            };
            baggage.push((k.clone(), v));
        }
        Ok(Request {
            url,
            method,
            headers,
            body,
            timeout,
            baggage,
            baggage_hosts: strings(input, "baggage_hosts")?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            response_headers: strings(input, "response_headers")?
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }

    /// Whether the URL's host is one of `baggage_hosts` (as `host`, or `host:port`).
    fn baggage_allowed(&self) -> bool {
        let host = self.url.host_str().unwrap_or("").to_ascii_lowercase();
        let port = self.url.port_or_known_default();
        self.baggage_hosts
            .iter()
            .any(|h| *h == host || port.is_some_and(|p| *h == format!("{host}:{p}")))
    }
}

fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

impl Http {
    fn client(&self) -> Result<&reqwest::Client, ToolError> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| {
                ToolError::with_kind("http_error", format!("cannot build the client: {e}"))
            })?;
        Ok(self.client.get_or_init(|| client))
    }
}

/// Where a redirect response sends the request next, if it is one to follow.
fn redirect_target(response: &reqwest::Response) -> Option<reqwest::Url> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()?;
    response.url().join(location).ok()
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(EXCERPT_CHARS).collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    out
}

fn send_error(e: reqwest::Error, method: &reqwest::Method, url: &str) -> ToolError {
    // reqwest's message names the URL with its query; name ours instead.
    let e = e.without_url();
    if e.is_timeout() {
        ToolError::with_kind("timeout", format!("{method} {url}: no response in time"))
    } else {
        let mut msg = format!("{method} {url}: {e}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            msg.push_str(&format!(": {s}"));
            source = s.source();
        }
        ToolError::with_kind("http_error", msg)
    }
}

#[async_trait]
impl Tool for Http {
    async fn call(&self, input: Value, ctx: &ToolContext) -> Result<Value, ToolError> {
        let req = Request::parse(&input)?;
        let shown = display_url(&req.url);
        let span = ctx.span();
        span.set_attribute(attr::HTTP_REQUEST_METHOD, req.method.as_str().to_owned());
        span.set_attribute(
            attr::SERVER_ADDRESS,
            req.url.host_str().unwrap_or("").to_owned(),
        );
        if let Some(port) = req.url.port_or_known_default() {
            span.set_attribute(attr::SERVER_PORT, i64::from(port));
        }

        let with_baggage = !req.baggage.is_empty() && req.baggage_allowed();
        let client = self.client()?;
        let mut url = req.url.clone();
        let mut method = req.method.clone();
        let mut body = req.body.clone();
        let mut same_origin_so_far = true;
        let mut hops = 0;
        let mut response = loop {
            let mut headers = if same_origin_so_far {
                req.headers.clone()
            } else {
                // Another origin: nothing the plan set travels there.
                http::HeaderMap::new()
            };
            ctx.inject(&mut headers);
            if with_baggage && same_origin_so_far {
                inject_baggage(req.baggage.iter().cloned(), &mut headers);
            }
            let mut builder = client
                .request(method.clone(), url.clone())
                .timeout(req.timeout);
            if let Some((bytes, content_type)) = body.clone() {
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static(content_type),
                    );
                }
                builder = builder.body(bytes);
            }
            let response = builder
                .headers(headers)
                .send()
                .await
                .map_err(|e| send_error(e, &req.method, &shown))?;
            let Some(next) = redirect_target(&response) else {
                break response;
            };
            let cross = !same_origin(&req.url, &next);
            // Baggage never follows a redirect to another origin: hand back the 3xx.
            if cross && with_baggage {
                break response;
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(ToolError::with_kind(
                    "http_error",
                    format!(
                        "{} {shown}: more than {MAX_REDIRECTS} redirects",
                        req.method
                    ),
                ));
            }
            // 301/302/303 turn a POST into a GET without a body; 307/308 keep both.
            let status = response.status().as_u16();
            if matches!(status, 301..=303) && method != reqwest::Method::GET {
                method = reqwest::Method::GET;
                body = None;
            }
            same_origin_so_far &= !cross;
            url = next;
        };
        let status = response.status();
        span.set_attribute(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status.as_u16()));

        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(ToolError::with_kind(
                            "http_error",
                            format!(
                                "{} {shown}: the response is larger than {MAX_RESPONSE_BYTES} bytes",
                                req.method
                            ),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(send_error(e, &req.method, &shown)),
            }
        }
        if !status.is_success() {
            let mut msg = format!("{} {shown} returned {status}", req.method);
            let ex = excerpt(&body);
            if !ex.is_empty() {
                msg.push_str(": ");
                msg.push_str(&ex);
            }
            return Err(ToolError::with_kind("http_status", msg));
        }

        let resp_headers = response.headers();
        let mut selected = Map::new();
        let wanted = SELECTED_HEADERS
            .iter()
            .copied()
            .chain(req.response_headers.iter().map(String::as_str));
        for name in wanted {
            if selected.contains_key(name) {
                continue;
            }
            let values: Vec<&str> = resp_headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !values.is_empty() {
                selected.insert(name.to_owned(), json!(values.join(", ")));
            }
        }
        let content_type = resp_headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let body = if is_json(content_type) {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        } else {
            Value::String(String::from_utf8_lossy(&body).into_owned())
        };
        Ok(json!({"status": status.as_u16(), "headers": selected, "body": body}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One request as a tiny loopback server saw it: the request head, lowercased.
    type Seen = Arc<Mutex<Vec<String>>>;

    /// A loopback HTTP/1.1 server answering every request with `reply(path)`; it records the
    /// request heads it saw.
    async fn server(
        reply: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> (std::net::SocketAddr, Seen) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Seen = Arc::default();
        let reply = Arc::new(reply);
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (reply, seen) = (reply.clone(), seen2.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = sock.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buf).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text[..end]
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                                })
                                .unwrap_or(0);
                            if buf.len() >= end + 4 + len {
                                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                                seen.lock().unwrap().push(text.clone());
                                let _ = sock.write_all(reply(&path).as_bytes()).await;
                                let _ = sock.shutdown().await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn response(status: &str, content_type: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-request-id: r1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    async fn call(input: Value) -> Result<Value, ToolError> {
        Http::default()
            .call(input, &ToolContext::detached("h", "http"))
            .await
    }

    #[tokio::test]
    async fn get_json_and_text() {
        let (addr, seen) = server(|path| match path {
            "/json" => response("200 OK", "application/json", r#"{"rows": [1, 2]}"#),
            _ => response("200 OK", "text/plain", "hello"),
        })
        .await;
        let out = call(json!({"url": format!("http://{addr}/json")}))
            .await
            .unwrap();
        assert_eq!(out["status"], 200);
        assert_eq!(out["body"], json!({"rows": [1, 2]}));
        assert_eq!(out["headers"]["x-request-id"], "r1");
        assert_eq!(out["headers"]["content-type"], "application/json");
        let out = call(json!({"url": format!("http://{addr}/text"), "method": "get"}))
            .await
            .unwrap();
        assert_eq!(out["body"], "hello");
        let heads = seen.lock().unwrap().clone();
        assert!(heads[0].starts_with("GET /json HTTP/1.1"));
        // Detached: no trace, so no traceparent.
        assert!(!heads[0].to_ascii_lowercase().contains("traceparent"));
    }

    #[tokio::test]
    async fn post_bodies_and_headers() {
        let (addr, seen) = server(|_| response("200 OK", "text/plain", "ok")).await;
        let url = format!("http://{addr}/p");
        call(json!({"url": url, "method": "POST", "body": {"a": 1}, "headers": {"X-Api": "k"}}))
            .await
            .unwrap();
        call(json!({"url": url, "method": "POST", "body": "plain words"}))
            .await
            .unwrap();
        let heads = seen.lock().unwrap().clone();
        let first = heads[0].to_ascii_lowercase();
        assert!(first.starts_with("post /p"));
        assert!(first.contains("content-type: application/json"));
        assert!(first.contains("x-api: k"));
        assert!(first.ends_with(r#"{"a":1}"#));
        assert!(heads[1]
            .to_ascii_lowercase()
            .contains("content-type: text/plain"));
        assert!(heads[1].ends_with("plain words"));
    }

    #[tokio::test]
    async fn statuses_and_errors_have_kinds() {
        let (addr, _) = server(|_| {
            response(
                "503 Service Unavailable",
                "text/plain",
                "down for maintenance",
            )
        })
        .await;
        let e = call(json!({"url": format!("http://{addr}/x?token=secret")}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, "http_status");
        assert!(e.message.contains("503"), "{}", e.message);
        assert!(e.message.contains("down for maintenance"));
        assert!(
            !e.message.contains("secret"),
            "no query in messages: {}",
            e.message
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = call(json!({"url": format!("http://127.0.0.1:{port}/?token=secret")}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, "http_error");
        assert!(!e.message.contains("secret"), "{}", e.message);

        // A server that never answers: the tool's own timeout.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let e = call(json!({"url": format!("http://{addr}/"), "timeout_ms": 100}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, "timeout");
        drop(silent);

        for (input, needle) in [
            (json!({}), "url is required"),
            (json!({"url": "not a url"}), "url:"),
            (json!({"url": "https://example.com"}), "https"),
            (json!({"url": "ftp://example.com"}), "scheme"),
            (json!({"url": "http://x", "method": "DELETE"}), "method"),
            (
                json!({"url": "http://x", "headers": {"traceparent": "x"}}),
                "traceparent",
            ),
            (
                json!({"url": "http://x", "headers": {"Baggage": "a=1"}}),
                "Baggage",
            ),
            (json!({"url": "http://x", "headers": {"a": 1}}), "headers.a"),
            (
                json!({"url": "http://x", "headers": {"bad name": "v"}}),
                "invalid header name",
            ),
            (json!({"url": "http://x", "timeout_ms": 0}), "timeout_ms"),
            (
                json!({"url": "http://x", "baggage": {"a": [1]}}),
                "baggage.a",
            ),
            (
                json!({"url": "http://x", "baggage_hosts": "x"}),
                "baggage_hosts",
            ),
        ] {
            let e = call(input.clone()).await.unwrap_err();
            assert_eq!(e.kind, "invalid_input", "{input}");
            assert!(e.message.contains(needle), "{input}: {}", e.message);
        }
    }

    #[tokio::test]
    async fn baggage_goes_only_to_listed_hosts() {
        let (addr, seen) = server(|_| response("200 OK", "text/plain", "ok")).await;
        let url = format!("http://{addr}/");
        let baggage = json!({"tenant": "acme", "n": 3});
        call(json!({"url": url, "baggage": baggage})).await.unwrap();
        call(json!({"url": url, "baggage": baggage, "baggage_hosts": ["example.com"]}))
            .await
            .unwrap();
        call(json!({"url": url, "baggage": baggage, "baggage_hosts": ["127.0.0.1:1"]}))
            .await
            .unwrap();
        call(json!({"url": url, "baggage": baggage, "baggage_hosts": ["127.0.0.1"]}))
            .await
            .unwrap();
        call(json!({"url": url, "baggage": baggage, "baggage_hosts": [addr.to_string()]}))
            .await
            .unwrap();
        let heads: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        assert_eq!(heads.len(), 5);
        for h in &heads[..3] {
            assert!(!h.contains("baggage"), "{h}");
        }
        for h in &heads[3..] {
            assert!(
                h.contains("baggage: ") && h.contains("tenant=acme") && h.contains("n=3"),
                "{h}"
            );
        }
    }

    #[tokio::test]
    async fn baggage_does_not_follow_redirects_to_other_hosts() {
        let (other, other_seen) = server(|_| response("200 OK", "text/plain", "other")).await;
        let (addr, _) = server(move |_| {
            format!(
                "HTTP/1.1 302 Found\r\nlocation: http://localhost:{}/landed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                other.port()
            )
        })
        .await;
        let url = format!("http://{addr}/start");
        // With baggage: the redirect to another host is not followed.
        let e = call(json!({"url": url, "baggage": {"k": "v"}, "baggage_hosts": ["127.0.0.1"]}))
            .await
            .unwrap_err();
        assert_eq!(e.kind, "http_status");
        assert!(e.message.contains("302"));
        assert!(other_seen.lock().unwrap().is_empty());
        // Without baggage: followed.
        let out = call(json!({"url": url})).await.unwrap();
        assert_eq!(out["body"], "other");
        assert!(!other_seen.lock().unwrap()[0].contains("baggage"));
    }

    #[tokio::test]
    async fn plan_headers_and_referer_stay_on_the_first_origin() {
        let (other, other_seen) = server(|_| response("200 OK", "text/plain", "other")).await;
        let (addr, first_seen) = server(move |path: &str| {
            if path == "/hop" {
                response("200 OK", "text/plain", "same")
            } else if path == "/same" {
                "HTTP/1.1 302 Found\r\nlocation: /hop\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
            } else {
                format!(
                    "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://localhost:{}/landed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    other.port()
                )
            }
        })
        .await;
        let headers = json!({"X-Api-Key": "k-123456", "X-Tenant": "acme"});
        // To another origin: followed, without any header the plan set and without Referer.
        let out =
            call(json!({"url": format!("http://{addr}/start?api_key=abc"), "headers": headers}))
                .await
                .unwrap();
        assert_eq!(out["body"], "other");
        let landed = other_seen.lock().unwrap()[0].to_ascii_lowercase();
        assert!(
            !landed.contains("x-api-key") && !landed.contains("x-tenant"),
            "{landed}"
        );
        assert!(!landed.contains("referer"), "{landed}");
        assert!(!landed.contains("baggage"), "{landed}");
        // On the same origin the plan's headers go along.
        let out = call(json!({"url": format!("http://{addr}/same"), "headers": headers}))
            .await
            .unwrap();
        assert_eq!(out["body"], "same");
        let hop = first_seen
            .lock()
            .unwrap()
            .last()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            hop.starts_with("get /hop") && hop.contains("x-api-key: k-123456"),
            "{hop}"
        );
        assert!(!hop.contains("referer"), "{hop}");
    }
}
