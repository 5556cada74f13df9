//! One tool's calls: attempts under a timeout, retries with backoff, the fallback type, and
//! panics caught per attempt.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures::FutureExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::tool::{Tool, ToolContext};
use super::MAX_RETRY_BACKOFF;
use crate::run::{Attempt, ToolError};

/// What a finished tool task reports back to the scheduler.
pub(super) struct Outcome {
    pub(super) result: Result<Arc<Value>, ToolError>,
    pub(super) attempts: Vec<Attempt>,
    pub(super) retry_count: u32,
    pub(super) fallback_used: bool,
}

impl Outcome {
    /// The outcome of a tool that ended without a call (a cache hit, a data-flow failure).
    pub(super) fn of(result: Result<Arc<Value>, ToolError>) -> Self {
        Outcome {
            result,
            attempts: Vec::new(),
            retry_count: 0,
            fallback_used: false,
        }
    }
}

/// Where a task reports its facts, with its tool's plan index.
pub(super) type FactSender = mpsc::UnboundedSender<(usize, Fact)>;

/// A fact a task reports while the tool runs.
pub(super) enum Fact {
    Retry {
        attempt: u32,
        error: ToolError,
        delay: Duration,
    },
    Fallback {
        tool: String,
        error: ToolError,
    },
}

/// One tool's calls: attempts with timeouts, retries, fallback.
pub(super) struct Call {
    /// The tool's plan index, for the facts it reports.
    pub(super) index: usize,
    /// Where retries and fallbacks are reported, to reach the observers as they happen.
    pub(super) facts: FactSender,
    /// What the tool sees: its id, type and span; the attempt and type change as it goes.
    pub(super) ctx: ToolContext,
    pub(super) primary: Arc<dyn Tool>,
    pub(super) fallback: Option<(String, Arc<dyn Tool>)>,
    pub(super) timeout: Option<Duration>,
    pub(super) retries: u32,
    pub(super) backoff: Duration,
    pub(super) t0: Instant,
}

impl Call {
    pub(super) async fn run(mut self, input: Value) -> Outcome {
        // Most tools succeed at their first attempt: room for one, not the default four.
        let mut attempts = Vec::with_capacity(1);
        let mut delay = self.backoff;
        let mut last_err: Option<ToolError> = None;
        for attempt in 0..=self.retries {
            if attempt > 0 {
                if let Some(error) = &last_err {
                    let _ = self.facts.send((
                        self.index,
                        Fact::Retry {
                            attempt,
                            error: error.clone(),
                            delay,
                        },
                    ));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_BACKOFF);
            }
            self.ctx.attempt = attempt;
            let result = self.attempt(&self.primary, &input, &mut attempts).await;
            match result {
                Ok(output) => {
                    return Outcome {
                        result: Ok(Arc::new(output)),
                        attempts,
                        retry_count: attempt,
                        fallback_used: false,
                    }
                }
                Err(e) => last_err = Some(e),
            }
        }
        if let Some((fb_type, fb)) = &self.fallback {
            if let Some(error) = &last_err {
                let _ = self.facts.send((
                    self.index,
                    Fact::Fallback {
                        tool: fb_type.clone(),
                        error: error.clone(),
                    },
                ));
            }
            self.ctx.tool_type = Arc::from(fb_type.as_str());
            self.ctx.attempt = self.retries + 1;
            let result = self.attempt(fb, &input, &mut attempts).await;
            return Outcome {
                result: result.map(Arc::new),
                attempts,
                retry_count: self.retries,
                fallback_used: true,
            };
        }
        Outcome {
            result: Err(last_err.expect("at least one attempt")),
            attempts,
            retry_count: self.retries,
            fallback_used: false,
        }
    }

    async fn attempt(
        &self,
        tool: &Arc<dyn Tool>,
        input: &Value,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Value, ToolError> {
        let start = self.t0.elapsed();
        let call = AssertUnwindSafe(tool.call(input.clone(), &self.ctx)).catch_unwind();
        let result = match self.timeout {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => Ok(Err(ToolError::with_kind(
                    "timeout",
                    format!("no result within {} ms", limit.as_millis()),
                ))),
            },
            None => call.await,
        };
        let result = result.unwrap_or_else(|payload| {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the tool panicked".to_owned());
            Err(ToolError::with_kind("panic", msg))
        });
        attempts.push(Attempt {
            tool: self.ctx.tool_type.to_string(),
            start,
            end: self.t0.elapsed(),
            error: result.as_ref().err().cloned(),
        });
        result
    }
}

/// A tool's task, in its span while polled and while dropped (what `Instrument` does), with
/// the span shared with the tool's context rather than a second handle: cloning and dropping a
/// handle is a dispatch through every layer each. The future is boxed so that it can be
/// dropped first, inside the span, without `unsafe` pin projection: a cancelled tool's clean-up
/// still logs under its span.
pub(super) struct InSpan<F> {
    span: Arc<tracing::Span>,
    fut: Option<std::pin::Pin<Box<F>>>,
}

impl<F> InSpan<F> {
    pub(super) fn new(span: Arc<tracing::Span>, fut: F) -> Self {
        InSpan {
            span,
            fut: Some(Box::pin(fut)),
        }
    }
}

impl<F: std::future::Future> std::future::Future for InSpan<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let Some(fut) = this.fut.as_mut() else {
            // Not polled again once it has finished.
            return std::task::Poll::Pending;
        };
        let poll = fut.as_mut().poll(cx);
        if poll.is_ready() {
            // Dropped here, in the span already entered.
            this.fut = None;
        }
        poll
    }
}

impl<F> Drop for InSpan<F> {
    fn drop(&mut self) {
        // Only a future that did not finish (an aborted task) is left to drop.
        if self.fut.is_some() {
            let _entered = self.span.enter();
            self.fut = None;
        }
    }
}
