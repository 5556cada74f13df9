//! The export span processor: a bounded queue with backpressure in front of the exporter.
//!
//! The SDK's batch processor drops every span that finds its queue full, and a run ends spans
//! far faster than one exporter drains them: the spans lost are the last to end (the run's
//! root among them). Here a span's end waits for room instead, for a bounded time:
//!
//! - the queue holds at most `max_queue_size` spans; ending a span in a full queue waits at
//!   most `max_wait_per_span` for room, and all waits of the pipeline together at most
//!   `wait_budget`. A wait that runs out drops the span (counted), and from then on spans are
//!   dropped without waiting until an export succeeds again: a stalled collector costs the
//!   traced code one wait, not one per span;
//! - batches are cut at `max_batch_size` spans or `max_batch_bytes` estimated encoded bytes,
//!   whichever comes first, so one request stays well under a receiver's 4 MiB limit;
//! - up to `max_concurrent_exports` requests are in flight, on a dedicated thread with its own
//!   Tokio runtime (the host's runtime may be gone by shutdown, and is never used);
//! - a partial batch goes after `schedule_delay`; `force_flush` sends everything queued and
//!   waits for it; shutdown does the same within its deadline, then stops, counting what did
//!   not arrive.
//!
//! Every span handed to the processor is counted as ended, and ends up either exported or
//! dropped: at shutdown `ended = exported + dropped`, exactly.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::trace::Status;
use opentelemetry::{Array, Context, Value};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use tokio::sync::{Notify, Semaphore};

use super::exporter::OtlpExporter;
use super::guard::ExportStats;
use super::settings::ProcessorSettings;

/// Fixed bytes of an encoded span besides its strings: ids, times, kind, status, flags and
/// the field tags and lengths around them (rounded up).
const SPAN_OVERHEAD: usize = 96;
/// Bytes around one attribute, event or link besides its strings (tags, lengths, wrappers).
const ITEM_OVERHEAD: usize = 16;
/// Bytes of a number or boolean value with its wrapper.
const SCALAR: usize = 12;

/// Estimated protobuf size of a value: never below the real one for the shapes we emit.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => SCALAR,
        Value::String(s) => s.as_str().len() + 8,
        Value::Array(a) => {
            8 + match a {
                Array::Bool(v) => v.len() * SCALAR,
                Array::I64(v) => v.len() * SCALAR,
                Array::F64(v) => v.len() * SCALAR,
                Array::String(v) => v.iter().map(|s| s.as_str().len() + 8).sum(),
                _ => 0,
            }
        }
        _ => SCALAR,
    }
}

fn attributes_bytes<'a>(kvs: impl IntoIterator<Item = &'a opentelemetry::KeyValue>) -> usize {
    kvs.into_iter()
        .map(|kv| ITEM_OVERHEAD + kv.key.as_str().len() + value_bytes(&kv.value))
        .sum()
}

/// Estimated encoded size of a span in an OTLP request.
pub(crate) fn estimate_span_bytes(span: &SpanData) -> usize {
    let status = match &span.status {
        Status::Error { description } => description.len(),
        _ => 0,
    };
    SPAN_OVERHEAD
        + span.name.len()
        + status
        + span.span_context.trace_state().header().len()
        + attributes_bytes(&span.attributes)
        + span
            .events
            .iter()
            .map(|e| ITEM_OVERHEAD + SCALAR + e.name.len() + attributes_bytes(&e.attributes))
            .sum::<usize>()
        + span
            .links
            .iter()
            .map(|l| {
                ITEM_OVERHEAD
                    + 32
                    + l.span_context.trace_state().header().len()
                    + attributes_bytes(&l.attributes)
            })
            .sum::<usize>()
}

/// Estimated bytes a request carries besides its spans: the resource and the scope.
pub(crate) fn estimate_resource_bytes(resource: &Resource) -> usize {
    256 + resource
        .iter()
        .map(|(k, v)| ITEM_OVERHEAD + k.as_str().len() + value_bytes(v))
        .sum::<usize>()
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<(SpanData, usize)>,
    queued_bytes: usize,
    /// A wait for room ran out; drop without waiting until an export succeeds.
    shedding: bool,
    waited: Duration,
    flush_requested: u64,
    flush_done: u64,
    /// Set by shutdown: no more spans are taken; the worker finishes by this time.
    deadline: Option<Instant>,
    /// The worker has stopped.
    stopped: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Producers waiting for room; flushers waiting for their flush.
    changed: Condvar,
    wake: Notify,
    stats: Arc<ExportStats>,
    settings: ProcessorSettings,
    /// Estimated bytes of the resource and scope in each request.
    request_overhead: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn batch_budget(&self) -> usize {
        self.settings
            .max_batch_bytes
            .saturating_sub(self.request_overhead)
            .max(1)
    }

    /// Whether a full batch is waiting (by count or by bytes).
    fn batch_ready(&self, st: &State) -> bool {
        st.queue.len() >= self.settings.max_batch_size || st.queued_bytes >= self.batch_budget()
    }

    /// Takes the next batch: at most `max_batch_size` spans and the byte budget (a span
    /// larger than the budget goes alone).
    fn take_batch(&self, st: &mut State) -> Vec<SpanData> {
        let budget = self.batch_budget();
        let mut bytes = 0;
        let mut batch = Vec::new();
        while let Some((_, size)) = st.queue.front() {
            if batch.len() >= self.settings.max_batch_size
                || (!batch.is_empty() && bytes + size > budget)
            {
                break;
            }
            let (span, size) = st.queue.pop_front().expect("front exists");
            bytes += size;
            st.queued_bytes -= size;
            batch.push(span);
        }
        batch
    }
}

/// Our span processor: see the module docs.
#[derive(Debug)]
pub(crate) struct ExportProcessor {
    shared: Arc<Shared>,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl ExportProcessor {
    /// Starts the export thread, which drives `runtime` (the exporter was built in it).
    pub(crate) fn start(
        settings: ProcessorSettings,
        stats: Arc<ExportStats>,
        resource: &Resource,
        runtime: tokio::runtime::Runtime,
        exporter: OtlpExporter,
    ) -> Result<ExportProcessor, String> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            wake: Notify::new(),
            stats,
            request_overhead: estimate_resource_bytes(resource),
            settings,
        });
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("orchestrace-otlp-batch".into())
            .spawn(move || {
                runtime.block_on(run(worker_shared.clone(), Arc::new(exporter)));
                // In-flight exports were finished or given up on by `run`.
                runtime.shutdown_background();
                let mut st = worker_shared.lock();
                st.stopped = true;
                st.flush_done = st.flush_requested;
                drop(st);
                worker_shared.changed.notify_all();
            })
            .map_err(|e| format!("cannot start the export thread: {e}"))?;
        Ok(ExportProcessor {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    fn enqueue(&self, span: SpanData) {
        let sh = &*self.shared;
        sh.stats.ended.fetch_add(1, Ordering::Relaxed);
        let size = estimate_span_bytes(&span);
        let s = &sh.settings;
        let mut st = sh.lock();
        loop {
            if st.deadline.is_some() || st.stopped {
                drop(st);
                sh.stats.dropped_closed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if st.queue.len() < s.max_queue_size {
                st.queue.push_back((span, size));
                st.queued_bytes += size;
                let ready = sh.batch_ready(&st);
                drop(st);
                if ready {
                    sh.wake.notify_one();
                }
                return;
            }
            let left = s.wait_budget.saturating_sub(st.waited);
            if st.shedding || left.is_zero() {
                drop(st);
                sh.stats.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
                return;
            }
            sh.wake.notify_one();
            let wait = s.max_wait_per_span.min(left);
            let started = Instant::now();
            let (guard, timeout) = sh
                .changed
                .wait_timeout_while(st, wait, |st| {
                    st.queue.len() >= s.max_queue_size && st.deadline.is_none() && !st.stopped
                })
                .unwrap_or_else(|p| p.into_inner());
            st = guard;
            st.waited += started.elapsed();
            if timeout.timed_out() {
                st.shedding = true;
            }
        }
    }

    /// Sends everything queued and waits for it, at most `timeout`.
    fn flush_within(&self, timeout: Duration) -> OTelSdkResult {
        let sh = &*self.shared;
        let mut st = sh.lock();
        if st.stopped {
            return Ok(());
        }
        st.flush_requested += 1;
        let target = st.flush_requested;
        sh.wake.notify_one();
        let (st, res) = sh
            .changed
            .wait_timeout_while(st, timeout, |st| st.flush_done < target && !st.stopped)
            .unwrap_or_else(|p| p.into_inner());
        drop(st);
        if res.timed_out() {
            Err(OTelSdkError::Timeout(timeout))
        } else {
            Ok(())
        }
    }
}

impl SpanProcessor for ExportProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.enqueue(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        let s = &self.shared.settings;
        // Bounded: the queue's worth of batches, each with its export timeout.
        let batches = s.max_queue_size.div_ceil(s.max_batch_size) as u32 + 1;
        self.flush_within(s.export_timeout.saturating_mul(batches))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let sh = &*self.shared;
        {
            let mut st = sh.lock();
            if st.deadline.is_some() {
                return Ok(());
            }
            st.deadline = Some(Instant::now() + timeout);
        }
        sh.wake.notify_one();
        sh.changed.notify_all();
        let handle = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take();
        // The worker stops by the deadline; give it a little more to count, then go on.
        let st = sh.lock();
        let (st, res) = sh
            .changed
            .wait_timeout_while(st, timeout + Duration::from_millis(200), |st| !st.stopped)
            .unwrap_or_else(|p| p.into_inner());
        drop(st);
        if res.timed_out() {
            return Err(OTelSdkError::Timeout(timeout));
        }
        if let Some(h) = handle {
            let _ = h.join();
        }
        Ok(())
    }

    fn set_resource(&mut self, _resource: &Resource) {}
}

/// The export loop: cuts batches and runs up to `max_concurrent_exports` exports at once.
async fn run(sh: Arc<Shared>, exporter: Arc<OtlpExporter>) {
    let s = &sh.settings;
    let permits = Arc::new(Semaphore::new(s.max_concurrent_exports));
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_tick = tokio::time::Instant::now() + s.schedule_delay;
    // The flush being served (all spans queued before it are sent, then in-flight exports
    // are awaited).
    let mut flushing: Option<u64> = None;
    loop {
        while tasks.try_join_next().is_some() {}
        let (deadline, take) = {
            let st = sh.lock();
            if flushing.is_none() && st.flush_requested > st.flush_done {
                flushing = Some(st.flush_requested);
            }
            let due = tokio::time::Instant::now() >= next_tick;
            if due && st.queue.is_empty() {
                next_tick = tokio::time::Instant::now() + s.schedule_delay;
            }
            let draining = flushing.is_some() || st.deadline.is_some() || due;
            let take = !st.queue.is_empty() && (sh.batch_ready(&st) || draining);
            (st.deadline, take)
        };
        let deadline = deadline.map(tokio::time::Instant::from_std);
        if take {
            let permit = match deadline {
                Some(d) => {
                    tokio::select! {
                        p = permits.clone().acquire_owned() => p,
                        _ = tokio::time::sleep_until(d) => break,
                    }
                }
                None => permits.clone().acquire_owned().await,
            };
            let Ok(permit) = permit else { break };
            let batch = {
                let mut st = sh.lock();
                sh.take_batch(&mut st)
            };
            sh.changed.notify_all();
            if batch.is_empty() {
                continue;
            }
            next_tick = tokio::time::Instant::now() + s.schedule_delay;
            let exporter = exporter.clone();
            let sh2 = sh.clone();
            tasks.spawn(async move {
                let n = batch.len() as u64;
                let result = exporter.export(batch).await;
                if sh2.stats.record(n, result) {
                    sh2.lock().shedding = false;
                }
                drop(permit);
                sh2.wake.notify_one();
            });
            continue;
        }
        // Nothing to send now. Finish a flush or the shutdown once in-flight exports end.
        if flushing.is_some() || deadline.is_some() {
            let all = s.max_concurrent_exports as u32;
            let drained = match deadline {
                Some(d) => tokio::select! {
                    p = permits.acquire_many(all) => p.is_ok(),
                    _ = tokio::time::sleep_until(d) => false,
                },
                None => tokio::select! {
                    p = permits.acquire_many(all) => p.is_ok(),
                    // Spans keep coming while a flush waits: serve them too.
                    _ = sh.wake.notified() => false,
                },
            };
            if drained {
                if let Some(target) = flushing.take() {
                    sh.lock().flush_done = target;
                    sh.changed.notify_all();
                }
                let empty = sh.lock().queue.is_empty();
                if deadline.is_some() && empty {
                    break;
                }
                continue;
            }
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                break;
            }
            continue;
        }
        tokio::select! {
            _ = sh.wake.notified() => {}
            _ = tokio::time::sleep_until(next_tick) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    // Past the deadline (or done): stop what is in flight; their spans count as dropped.
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let left = {
        let mut st = sh.lock();
        let n = st.queue.len() as u64;
        st.queue.clear();
        st.queued_bytes = 0;
        n
    };
    sh.stats.dropped_closed.fetch_add(left, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use prost::Message as _;
    use std::time::SystemTime;

    pub(crate) fn span(i: u64, attr_bytes: usize) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(1u128),
                SpanId::from(i + 1),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: format!("tool {i}").into(),
            start_time: SystemTime::now(),
            end_time: SystemTime::now(),
            attributes: vec![
                KeyValue::new("orchestration.tool_id", format!("t{i}")),
                KeyValue::new("orchestration.params", "x".repeat(attr_bytes)),
                KeyValue::new("orchestration.retry_count", 0i64),
                KeyValue::new(
                    "orchestration.parallel_with",
                    Value::Array(Array::String(
                        (0..20).map(|j| format!("t{j}").into()).collect(),
                    )),
                ),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::error("boom"),
            instrumentation_scope: Default::default(),
        }
    }

    #[test]
    fn the_size_estimate_is_never_below_the_encoded_size() {
        let resource = Resource::builder().with_service_name("svc").build();
        let attrs = ResourceAttributesWithSchema::from(&resource);
        for attr_bytes in [0, 10, 1000, 100_000] {
            let spans: Vec<SpanData> = (0..50).map(|i| span(i, attr_bytes)).collect();
            let estimate: usize = spans.iter().map(estimate_span_bytes).sum::<usize>()
                + estimate_resource_bytes(&resource);
            let request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest {
                resource_spans: opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope(
                    spans, &attrs,
                ),
            };
            let real = request.encoded_len();
            assert!(
                estimate >= real,
                "{attr_bytes}: estimate {estimate} < {real}"
            );
            assert!(
                estimate <= real * 2 + 2048,
                "{attr_bytes}: estimate {estimate} far above {real}"
            );
        }
    }

    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
}
