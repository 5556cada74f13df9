//! In-process capture: every ended span kept in memory, rendered as OTLP JSON on demand.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Spans kept in memory.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    spans: Mutex<Vec<SpanData>>,
    resource: Mutex<Option<Resource>>,
}

impl Capture {
    /// The spans so far as `{"resourceSpans": …}`.
    pub(crate) fn otlp_json(&self) -> serde_json::Value {
        let spans = self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let resource = self
            .resource
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_else(|| Resource::builder_empty().build());
        let data = TracesData {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(&resource),
            ),
        };
        serde_json::to_value(&data).unwrap_or(serde_json::Value::Null)
    }
}

/// The processor that fills a [`Capture`], synchronously.
#[derive(Debug)]
pub(crate) struct CaptureProcessor(pub(crate) Arc<Capture>);

impl SpanProcessor for CaptureProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.0
            .spans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self.0.resource.lock().unwrap_or_else(|p| p.into_inner()) = Some(resource.clone());
    }
}
