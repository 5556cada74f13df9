//! The exporter: one OTLP request per batch, over gRPC (tonic) or HTTP/protobuf (reqwest),
//! with a bounded number of retries, and error messages a user can act on.
//!
//! It runs on the export runtime (see the processor) and may have several requests in flight
//! at once. An error names the whole cause (each `source()` once), and every URL in a message
//! is shown without its userinfo and with secret query parameters masked.

// Without a transport the exporter is never built; its helpers stay for the messages.
#![cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]

use std::collections::HashSet;
use std::error::Error as StdError;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

#[allow(unused_imports)]
use super::settings::{OtlpProtocol, Resolved};

/// First retry delay; doubled for each further retry, up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// What a receiver answered to one accepted request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Spans the receiver said it rejected (OTLP partial success).
    pub(crate) rejected: u64,
    /// Its message about them.
    pub(crate) message: Option<String>,
}

/// Why an export failed, after its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failed {
    pub(crate) message: String,
}

#[derive(Debug)]
enum Transport {
    #[cfg(feature = "grpc")]
    Grpc(
        opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient<
            tonic::transport::Channel,
        >,
    ),
    #[cfg(feature = "http-proto")]
    Http(reqwest::Client),
    /// Without a transport compiled in, no exporter is ever built.
    #[cfg(not(any(feature = "grpc", feature = "http-proto")))]
    #[allow(dead_code)]
    None(std::convert::Infallible),
}

/// Sends batches to one OTLP endpoint.
#[derive(Debug)]
pub(crate) struct OtlpExporter {
    transport: Transport,
    endpoint: String,
    headers: Vec<(String, String)>,
    resource: ResourceAttributesWithSchema,
    timeout: Duration,
    max_retries: u32,
}

/// One attempt's failure, and whether trying again may help.
struct AttemptError {
    message: String,
    retryable: bool,
}

impl OtlpExporter {
    /// Builds the exporter for `endpoint`. Must run inside the export runtime (the gRPC
    /// channel spawns its connection task there). Connections are made on first use.
    #[allow(unreachable_code, unused_variables)]
    pub(crate) fn new(
        settings: &Resolved,
        endpoint: &str,
        resource: &Resource,
    ) -> Result<OtlpExporter, String> {
        let timeout = settings.processor.export_timeout;
        let transport = match settings.protocol {
            #[cfg(feature = "grpc")]
            OtlpProtocol::Grpc => {
                let mut ep = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
                    .map_err(|e| format!("{}: {}", redact_url(endpoint), error_chain(&e)))?
                    .connect_timeout(timeout)
                    .tcp_nodelay(true);
                if endpoint.starts_with("https://") {
                    ep = ep
                        .tls_config(tonic::transport::ClientTlsConfig::new().with_native_roots())
                        .map_err(|e| {
                            format!("TLS for {}: {}", redact_url(endpoint), error_chain(&e))
                        })?;
                }
                Transport::Grpc(
                    opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient::new(
                        ep.connect_lazy(),
                    ),
                )
            }
            #[cfg(feature = "http-proto")]
            OtlpProtocol::HttpProtobuf => {
                // https uses rustls with the platform's verifier and root certificates.
                let b = reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .tcp_nodelay(true);
                Transport::Http(
                    b.build()
                        .map_err(|e| format!("HTTP client: {}", error_chain(&e)))?,
                )
            }
            #[allow(unreachable_patterns)]
            other => {
                let _ = (endpoint, resource, timeout);
                return Err(format!(
                "{other:?} export is not compiled in (enable the `grpc` or `http-proto` feature)"
            ));
            }
        };
        Ok(OtlpExporter {
            transport,
            endpoint: endpoint.to_owned(),
            headers: settings.headers.clone(),
            resource: ResourceAttributesWithSchema::from(resource),
            timeout,
            max_retries: settings.processor.max_retries,
        })
    }

    /// The request for a batch, grouped by resource and scope.
    pub(crate) fn request(&self, batch: Vec<SpanData>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        }
    }

    /// Sends one batch, retrying retryable failures at most `max_retries` times with a
    /// doubling delay.
    pub(crate) async fn export(&self, batch: Vec<SpanData>) -> Result<Accepted, Failed> {
        let request = self.request(batch);
        let mut attempt = 0;
        loop {
            match self.attempt(&request).await {
                Ok(accepted) => return Ok(accepted),
                Err(e) if e.retryable && attempt < self.max_retries => {
                    let delay = INITIAL_BACKOFF
                        .saturating_mul(1 << attempt.min(16))
                        .min(MAX_BACKOFF);
                    attempt += 1;
                    tokio::time::sleep(delay).await;
                }
                Err(e) => {
                    let tries = if attempt > 0 {
                        format!(" (after {} attempts)", attempt + 1)
                    } else {
                        String::new()
                    };
                    return Err(Failed {
                        message: redact_text(&format!("{}{tries}", e.message)),
                    });
                }
            }
        }
    }

    #[allow(unused_variables)]
    async fn attempt(&self, request: &ExportTraceServiceRequest) -> Result<Accepted, AttemptError> {
        match &self.transport {
            #[cfg(feature = "grpc")]
            Transport::Grpc(client) => {
                let mut req = tonic::Request::new(request.clone());
                req.set_timeout(self.timeout);
                for (k, v) in &self.headers {
                    if let (Ok(k), Ok(v)) = (
                        tonic::metadata::MetadataKey::from_bytes(k.as_bytes()),
                        tonic::metadata::MetadataValue::try_from(v.as_str()),
                    ) {
                        req.metadata_mut().insert(k, v);
                    }
                }
                let mut client = client.clone();
                match tokio::time::timeout(self.timeout, client.export(req)).await {
                    Err(_) => Err(AttemptError {
                        message: format!("no answer within {} ms", self.timeout.as_millis()),
                        retryable: true,
                    }),
                    Ok(Ok(response)) => Ok(accepted(response.into_inner())),
                    Ok(Err(status)) => {
                        use tonic::Code;
                        let retryable = matches!(
                            status.code(),
                            Code::Unavailable
                                | Code::Cancelled
                                | Code::DeadlineExceeded
                                | Code::Aborted
                                | Code::DataLoss
                        );
                        let mut parts = vec![format!("gRPC {:?}", status.code())];
                        if !status.message().is_empty() {
                            parts.push(status.message().to_owned());
                        }
                        let mut source = status.source();
                        while let Some(s) = source {
                            parts.push(s.to_string());
                            source = s.source();
                        }
                        Err(AttemptError {
                            message: join_parts(parts),
                            retryable,
                        })
                    }
                }
            }
            #[cfg(feature = "http-proto")]
            Transport::Http(client) => {
                use prost::Message as _;
                let mut req = client
                    .post(&self.endpoint)
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(request.encode_to_vec());
                for (k, v) in &self.headers {
                    req = req.header(k.as_str(), v.as_str());
                }
                let response = req.send().await.map_err(|e| AttemptError {
                    retryable: e.is_connect() || e.is_timeout() || e.is_request(),
                    message: error_chain(&e),
                })?;
                let status = response.status();
                let body = response.bytes().await.unwrap_or_default();
                if status.is_success() {
                    return Ok(ExportTraceServiceResponse::decode(body.as_ref())
                        .map(accepted)
                        .unwrap_or_default());
                }
                let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                let text = String::from_utf8_lossy(&body);
                let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
                let mut message = format!("HTTP {status}");
                if !text.trim().is_empty() {
                    message = format!("{message}: {}", text.trim());
                }
                Err(AttemptError { message, retryable })
            }
            #[cfg(not(any(feature = "grpc", feature = "http-proto")))]
            Transport::None(never) => match *never {},
        }
    }
}

fn accepted(response: ExportTraceServiceResponse) -> Accepted {
    match response.partial_success {
        Some(p) if p.rejected_spans > 0 || !p.error_message.is_empty() => Accepted {
            rejected: p.rejected_spans.max(0) as u64,
            message: (!p.error_message.is_empty()).then_some(p.error_message),
        },
        _ => Accepted::default(),
    }
}

/// An error and its causes, `: `-separated, each text once.
pub(crate) fn error_chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    join_parts(parts)
}

/// Joins the parts of a message, leaving out empty ones and repeats (causes often restate
/// the error that wraps them).
fn join_parts(parts: Vec<String>) -> String {
    let mut seen = HashSet::new();
    let mut kept: Vec<String> = Vec::new();
    for p in parts {
        let p = p.trim().to_owned();
        if p.is_empty() || !seen.insert(p.clone()) {
            continue;
        }
        if kept.last().is_some_and(|last| last.ends_with(&p)) {
            continue;
        }
        kept.push(p);
    }
    kept.join(": ")
}

/// Whether a query parameter name holds a secret.
fn is_secret_param(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        n.as_str(),
        "sig" | "signature" | "pwd" | "pass" | "code" | "session" | "sessionid" | "sid"
    ) || [
        "token",
        "key",
        "secret",
        "password",
        "passwd",
        "auth",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// The URL without userinfo (`user:password@`) and with the values of secret query parameters
/// (`token`, `key`, `api_key`, `password`, `sig`, …) replaced by `REDACTED`.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (before_fragment, fragment) = match tail.find('#') {
        Some(i) => tail.split_at(i),
        None => (tail, ""),
    };
    let redacted_tail = match before_fragment.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if is_secret_param(k) => format!("{k}=REDACTED"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => before_fragment.to_owned(),
    };
    format!("{scheme}{host}{redacted_tail}{fragment}")
}

/// Every `http://` or `https://` URL in a message passed through [`redact_url`].
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["http://", "https://"]
            .iter()
            .filter_map(|s| rest.find(s))
            .min();
        let Some(start) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..start]);
        let url_end = rest[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | '<'))
            .map_or(rest.len(), |i| start + i);
        out.push_str(&redact_url(&rest[start..url_end]));
        rest = &rest[url_end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_userinfo_and_secret_parameters() {
        assert_eq!(
            redact_url("https://user:pa55@collector.example:4318/v1/traces?token=abc&tenant=t1&api_key=k&SIG=s#frag"),
            "https://collector.example:4318/v1/traces?token=REDACTED&tenant=t1&api_key=REDACTED&SIG=REDACTED#frag"
        );
        assert_eq!(redact_url("http://127.0.0.1:4317"), "http://127.0.0.1:4317");
        assert_eq!(redact_url("u@host:4317"), "host:4317");
        assert_eq!(
            redact_url("http://h/p?password=x&X-Amz-Credential=y&q"),
            "http://h/p?password=REDACTED&X-Amz-Credential=REDACTED&q"
        );
    }

    #[test]
    fn urls_inside_messages_are_redacted() {
        assert_eq!(
            redact_text("error sending request for url (http://a:b@h:1/v1/traces?key=s): refused"),
            "error sending request for url (http://h:1/v1/traces?key=REDACTED): refused"
        );
        assert_eq!(redact_text("no url here"), "no url here");
    }

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for E {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn error_chains_name_each_cause_once() {
        let e = E(
            "network error",
            Some(Box::new(E(
                "tcp connect error",
                Some(Box::new(E(
                    "tcp connect error",
                    Some(Box::new(E("Connection refused (os error 111)", None))),
                ))),
            ))),
        );
        assert_eq!(
            error_chain(&e),
            "network error: tcp connect error: Connection refused (os error 111)"
        );
        let e = E("client error: boom", Some(Box::new(E("boom", None))));
        assert_eq!(error_chain(&e), "client error: boom");
    }
}
