//! The guard that shuts the pipeline down within its bound, and the summary of what export
//! achieved: every span that ended was either exported or dropped, and the one warning says
//! how many were dropped and why.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::exporter::{Accepted, Failed};
use super::layer::Telemetry;

/// Counters shared by the processor, its exports and the guard.
#[derive(Debug, Default)]
pub(crate) struct ExportStats {
    /// Spans handed to the export processor.
    pub(crate) ended: AtomicU64,
    /// Spans the receiver accepted.
    pub(crate) exported: AtomicU64,
    /// Spans the receiver answered for but rejected (partial success).
    pub(crate) rejected: AtomicU64,
    /// Spans of exports that failed after their retries.
    pub(crate) failed: AtomicU64,
    /// Spans dropped because the queue stayed full past the wait bound.
    pub(crate) dropped_queue_full: AtomicU64,
    /// Spans still queued when the processor stopped, or ended after it stopped.
    pub(crate) dropped_closed: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
    pub(crate) last_rejection: Mutex<Option<String>>,
}

impl ExportStats {
    /// Records the outcome of one export of `n` spans; true when the receiver answered.
    pub(crate) fn record(&self, n: u64, result: Result<Accepted, Failed>) -> bool {
        match result {
            Ok(a) => {
                let rejected = a.rejected.min(n);
                self.exported.fetch_add(n - rejected, Ordering::SeqCst);
                if rejected > 0 || a.message.is_some() {
                    self.rejected.fetch_add(rejected, Ordering::SeqCst);
                    *self
                        .last_rejection
                        .lock()
                        .unwrap_or_else(|p| p.into_inner()) = a.message;
                }
                true
            }
            Err(e) => {
                self.failed.fetch_add(n, Ordering::SeqCst);
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.message);
                false
            }
        }
    }

    /// The summary now: dropped is whatever ended and was not exported; the reasons add up
    /// to it.
    pub(crate) fn summary(&self, endpoint: Option<String>, timeout: Duration) -> ExportSummary {
        let ended = self.ended.load(Ordering::SeqCst);
        let exported = self.exported.load(Ordering::SeqCst);
        let dropped = ended.saturating_sub(exported);
        let mut left = dropped;
        let mut reasons = Vec::new();
        let mut take = |n: u64| {
            let n = n.min(left);
            left -= n;
            n
        };
        let queue_full = take(self.dropped_queue_full.load(Ordering::SeqCst));
        let failed = take(self.failed.load(Ordering::SeqCst));
        let rejected = take(self.rejected.load(Ordering::SeqCst));
        let unsent = left;
        if failed > 0 {
            let why = self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_else(|| "export failed".into());
            reasons.push(format!("{failed} failed: {why}"));
        }
        if rejected > 0 {
            let why = self
                .last_rejection
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            reasons.push(format!("{rejected} rejected by the receiver{why}"));
        }
        if queue_full > 0 {
            reasons.push(format!(
                "{queue_full} dropped from a full queue (the collector did not keep up)"
            ));
        }
        if unsent > 0 {
            reasons.push(format!(
                "{unsent} not delivered within the {} ms shutdown timeout",
                timeout.as_millis()
            ));
        }
        ExportSummary {
            endpoint,
            ended,
            exported,
            dropped,
            last_error: (!reasons.is_empty()).then(|| reasons.join("; ")),
        }
    }
}

/// What export achieved, reported at shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Where spans went, if anywhere (without credentials).
    pub endpoint: Option<String>,
    /// Spans handed to the exporter pipeline.
    pub ended: u64,
    /// Spans the receiver accepted.
    pub exported: u64,
    /// Spans that did not arrive: `ended - exported` (failed, rejected, dropped from a full
    /// queue, or cut off by the shutdown timeout).
    pub dropped: u64,
    /// Why spans were dropped, counted by reason, with the last export error.
    pub last_error: Option<String>,
}

impl ExportSummary {
    /// The one warning to print when spans were lost, naming the endpoint and the count.
    pub fn warning(&self) -> Option<String> {
        if self.dropped == 0 {
            return None;
        }
        let endpoint = self.endpoint.as_deref().unwrap_or("the exporter");
        let why = self
            .last_error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        Some(format!(
            "{} of {} spans were not exported to {endpoint}{why}",
            self.dropped, self.ended
        ))
    }
}

/// Flushes and shuts the pipeline down when dropped (or on [`TelemetryGuard::shutdown`]),
/// waiting at most the shutdown timeout. Dropping it prints the lost-spans warning, once, to
/// stderr; call `shutdown` to handle the summary yourself.
#[derive(Debug)]
pub struct TelemetryGuard {
    pub(super) inner: Option<Telemetry>,
}

impl TelemetryGuard {
    /// The spans captured so far as OTLP JSON (`{"resourceSpans": …}`, the collector file
    /// exporter's shape), when capture is on.
    pub fn captured(&self) -> Option<serde_json::Value> {
        // The capture processor is synchronous: every ended span is already there.
        let capture = self.inner.as_ref()?.capture.as_ref()?;
        Some(capture.otlp_json())
    }

    /// Whether spans are being exported, and where (without credentials).
    pub fn endpoint(&self) -> Option<&str> {
        self.inner.as_ref()?.endpoint.as_deref()
    }

    /// Flushes and shuts down, waiting at most the shutdown timeout.
    pub fn shutdown(mut self) -> ExportSummary {
        self.shutdown_inner()
    }

    fn shutdown_inner(&mut self) -> ExportSummary {
        let Some(t) = self.inner.take() else {
            return ExportSummary {
                endpoint: None,
                ended: 0,
                exported: 0,
                dropped: 0,
                last_error: None,
            };
        };
        let provider = t.provider.clone();
        let timeout = t.shutdown_timeout;
        // The export processor keeps its own deadline; the thread only protects against a
        // processor added by someone else that does not.
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("orchestrace-otel-shutdown".into())
            .spawn(move || {
                let _ = provider.shutdown_with_timeout(timeout);
                let _ = tx.send(());
            });
        if spawned.is_ok() {
            let _ = rx.recv_timeout(timeout + Duration::from_millis(500));
        }
        t.stats.summary(t.endpoint.clone(), timeout)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.inner.is_some() {
            if let Some(w) = self.shutdown_inner().warning() {
                eprintln!("warning: orchestrace: {w}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reasons_add_up_to_the_dropped_count() {
        let s = ExportStats::default();
        s.ended.store(100, Ordering::SeqCst);
        assert!(s.record(40, Ok(Accepted::default())));
        assert!(s.record(
            10,
            Ok(Accepted {
                rejected: 3,
                message: Some("too old".into())
            })
        ));
        assert!(!s.record(
            20,
            Err(Failed {
                message: "HTTP 400 Bad Request".into()
            })
        ));
        s.dropped_queue_full.store(5, Ordering::SeqCst);
        let summary = s.summary(
            Some("http://h:4318/v1/traces".into()),
            Duration::from_secs(5),
        );
        assert_eq!(
            (summary.ended, summary.exported, summary.dropped),
            (100, 47, 53)
        );
        assert_eq!(
            summary.warning().unwrap(),
            "53 of 100 spans were not exported to http://h:4318/v1/traces: 20 failed: HTTP 400 Bad Request; \
             3 rejected by the receiver: too old; 5 dropped from a full queue (the collector did not keep up); \
             25 not delivered within the 5000 ms shutdown timeout"
        );
        let healthy = ExportStats::default();
        healthy.ended.store(3, Ordering::SeqCst);
        healthy.record(3, Ok(Accepted::default()));
        assert_eq!(
            healthy.summary(None, Duration::from_secs(5)).warning(),
            None
        );
    }
}
