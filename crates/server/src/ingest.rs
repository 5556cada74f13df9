//! OTLP in: the bounded ingest queue, OTLP/HTTP (`/v1/traces`, protobuf or JSON, optionally
//! gzip) and OTLP/gRPC (`TraceService/Export`, optionally gzip).
//!
//! Every batch is validated, then queued for the writer only if the queue has room for its
//! size; a full queue answers with backpressure (gRPC `RESOURCE_EXHAUSTED`, HTTP 429 with
//! `Retry-After`) so memory stays bounded under load. The answer is sent after the writer
//! committed the batch.

use std::io::Read;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::sync::{oneshot, Semaphore};

use crate::config::MAX_BODY_BYTES;
use crate::store::WriteJob;

/// Why a batch was not stored.
#[derive(Debug)]
pub(crate) enum IngestError {
    /// Malformed: the message says where.
    Invalid(String),
    /// The queue is full: retry later.
    Busy,
    /// The store failed or is shutting down.
    Unavailable(String),
}

/// The ingest queue's sending side (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Ingest {
    jobs: SyncSender<WriteJob>,
    /// Queue room in KiB.
    room: Arc<Semaphore>,
    room_kib: u32,
}

impl Ingest {
    pub(crate) fn new(jobs: SyncSender<WriteJob>, queue_bytes: usize) -> Ingest {
        let room_kib =
            (queue_bytes / 1024).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize)) as u32;
        Ingest {
            jobs,
            room: Arc::new(Semaphore::new(room_kib as usize)),
            room_kib,
        }
    }

    /// Queues a batch and waits for its commit; returns the spans rejected (over a trace's
    /// size limit).
    pub(crate) async fn submit(
        &self,
        request: ExportTraceServiceRequest,
    ) -> Result<i64, IngestError> {
        let spans = crate::store::validate(&request).map_err(IngestError::Invalid)?;
        if spans == 0 {
            return Ok(0);
        }
        let kib = (request.encoded_len() / 1024 + 1).min(self.room_kib as usize) as u32;
        let permit = self
            .room
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| IngestError::Busy)?;
        let (ack, answer) = oneshot::channel();
        match self.jobs.try_send(WriteJob::Batch {
            request,
            ack,
            permit,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(IngestError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(IngestError::Unavailable(
                    "the store is shutting down".into(),
                ))
            }
        }
        match answer.await {
            Ok(Ok(rejected)) => Ok(rejected),
            Ok(Err(e)) => Err(IngestError::Unavailable(e)),
            Err(_) => Err(IngestError::Unavailable("the store stopped".into())),
        }
    }
}

fn partial(rejected: i64) -> ExportTraceServiceResponse {
    ExportTraceServiceResponse {
        partial_success: (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: format!(
                "{rejected} spans rejected: their trace is over the stored size limit ({} MiB)",
                crate::store::MAX_TRACE_STORED_BYTES >> 20
            ),
        }),
    }
}

/// Decompresses and decodes an OTLP/HTTP body. Errors are (status, message).
pub(crate) fn decode_http(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(ExportTraceServiceRequest, bool), (StatusCode, String)> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let inflated;
    let bytes: &[u8] = match encoding.as_str() {
        "identity" | "" => body,
        "gzip" | "x-gzip" => {
            let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_BODY_BYTES));
            flate2::read::MultiGzDecoder::new(body)
                .take(MAX_BODY_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("gzip body does not inflate: {e}"),
                    )
                })?;
            if out.len() > MAX_BODY_BYTES {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the decompressed body is over {} MiB", MAX_BODY_BYTES >> 20),
                ));
            }
            inflated = out;
            &inflated
        }
        other => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other:?} is not supported (use gzip or none)"),
            ))
        }
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-protobuf");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    match mime {
        "application/x-protobuf" | "application/protobuf" => ExportTraceServiceRequest::decode(bytes)
            .map(|r| (r, false))
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("body is not an OTLP protobuf export request: {e}"))),
        "application/json" => serde_json::from_slice::<ExportTraceServiceRequest>(bytes)
            .map(|r| (r, true))
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("body is not an OTLP JSON export request: {e}"))),
        other => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Type {other:?} is not supported (use application/x-protobuf or application/json)"),
        )),
    }
}

/// `POST /v1/traces`.
pub(crate) async fn http_export(
    State(ingest): State<Ingest>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (request, json) = match decode_http(&headers, &body) {
        Ok(r) => r,
        Err((status, message)) => return (status, message + "\n").into_response(),
    };
    drop(body);
    match ingest.submit(request).await {
        Ok(rejected) => {
            let response = partial(rejected);
            if json {
                let text = serde_json::to_string(&response).unwrap_or_else(|_| "{}".into());
                ([(header::CONTENT_TYPE, "application/json")], text).into_response()
            } else {
                (
                    [(header::CONTENT_TYPE, "application/x-protobuf")],
                    response.encode_to_vec(),
                )
                    .into_response()
            }
        }
        Err(IngestError::Invalid(m)) => (StatusCode::BAD_REQUEST, m + "\n").into_response(),
        Err(IngestError::Busy) => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                "the ingest queue is full; retry later\n",
            )
                .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        Err(IngestError::Unavailable(m)) => {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, m + "\n").into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            r
        }
    }
}

/// The OTLP/gRPC trace service.
#[derive(Debug, Clone)]
pub(crate) struct GrpcIngest {
    pub(crate) ingest: Ingest,
    pub(crate) token: Option<Arc<str>>,
}

#[tonic::async_trait]
impl TraceService for GrpcIngest {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if let Some(token) = &self.token {
            let given = request
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            if !crate::web::same_token(token, given) {
                return Err(tonic::Status::unauthenticated("a bearer token is required"));
            }
        }
        match self.ingest.submit(request.into_inner()).await {
            Ok(rejected) => Ok(tonic::Response::new(partial(rejected))),
            Err(IngestError::Invalid(m)) => Err(tonic::Status::invalid_argument(m)),
            Err(IngestError::Busy) => Err(tonic::Status::resource_exhausted(
                "the ingest queue is full; retry later",
            )),
            Err(IngestError::Unavailable(m)) => Err(tonic::Status::unavailable(m)),
        }
    }
}

/// The gRPC service with gzip accepted and the message size bounded (decompressed too).
pub(crate) fn grpc_service(svc: GrpcIngest) -> TraceServiceServer<GrpcIngest> {
    TraceServiceServer::new(svc)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES)
}
