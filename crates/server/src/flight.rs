//! Bounded waits on slow work: analysing or rendering a large trace runs once per key (one
//! blocking task, whatever the number of requests asking for it), and a request waits for it
//! at most a budget, then answers "still analysing, retry". The last few results are kept so
//! that the retry is answered at once.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// A result of the work: `Ok(None)` when the trace is not there.
pub(crate) type Outcome = Arc<Result<Option<String>, String>>;

/// Results kept after their work finished.
const KEEP_DONE: usize = 8;

#[derive(Debug, Default)]
struct Inner {
    running: HashMap<String, watch::Receiver<Option<Outcome>>>,
    done: VecDeque<(String, Outcome)>,
}

/// The work in flight and the last results, by key.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    inner: Mutex<Inner>,
}

impl Flights {
    /// The result of `work` for `key`: starts it unless it is running or just finished, then
    /// waits at most `budget`. `None` when the budget ran out (the work goes on).
    pub(crate) async fn run(
        self: &Arc<Self>,
        key: String,
        budget: Duration,
        work: impl FnOnce() -> Result<Option<String>, String> + Send + 'static,
    ) -> Option<Outcome> {
        let mut rx = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, r)) = inner.done.iter().find(|(k, _)| *k == key) {
                return Some(r.clone());
            }
            match inner.running.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inner.running.insert(key.clone(), rx.clone());
                    let flights = self.clone();
                    tokio::task::spawn_blocking(move || flights.finish(key, tx, work));
                    rx
                }
            }
        };
        let waited = tokio::time::timeout(budget, async {
            rx.wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|v| v.clone())
        })
        .await;
        waited.ok().flatten()
    }

    /// The result of `work` for `key`, computed on this thread unless it is running elsewhere
    /// (then awaited) or just finished. For blocking threads.
    pub(crate) fn run_blocking(
        self: &Arc<Self>,
        key: String,
        work: impl FnOnce() -> Result<Option<String>, String>,
    ) -> Outcome {
        let mut rx = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, r)) = inner.done.iter().find(|(k, _)| *k == key) {
                return r.clone();
            }
            match inner.running.get(&key) {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    inner.running.insert(key.clone(), rx);
                    drop(inner);
                    return self.finish(key, tx, work);
                }
            }
        };
        futures::executor::block_on(async {
            rx.wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|v| v.clone())
        })
        .unwrap_or_else(|| Arc::new(Err("the analysis stopped".into())))
    }

    /// Runs `work`, keeps its result and hands it to the waiters.
    fn finish(
        &self,
        key: String,
        tx: watch::Sender<Option<Outcome>>,
        work: impl FnOnce() -> Result<Option<String>, String>,
    ) -> Outcome {
        let outcome: Outcome = Arc::new(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|_| Err("the analysis failed".into())),
        );
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.running.remove(&key);
        if inner.done.len() == KEEP_DONE {
            inner.done.pop_front();
        }
        inner.done.push_back((key, outcome.clone()));
        drop(inner);
        let _ = tx.send(Some(outcome.clone()));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn slow_work_runs_once_and_answers_within_the_budget() {
        let flights = Arc::new(Flights::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let work = |calls: Arc<AtomicUsize>, rx: Arc<Mutex<std::sync::mpsc::Receiver<()>>>| {
            move || {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = rx.lock().unwrap().recv();
                Ok(Some("done".to_owned()))
            }
        };
        let budget = Duration::from_millis(50);
        let first = flights
            .run("k".into(), budget, work(calls.clone(), release_rx.clone()))
            .await;
        assert!(first.is_none(), "the budget ran out");
        let second = flights
            .run("k".into(), budget, work(calls.clone(), release_rx.clone()))
            .await;
        assert!(second.is_none());
        release_tx.send(()).unwrap();
        let third = flights
            .run(
                "k".into(),
                Duration::from_secs(5),
                work(calls.clone(), release_rx),
            )
            .await
            .expect("finished");
        assert_eq!(third.as_ref().as_ref().unwrap().as_deref(), Some("done"));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one computation for every request"
        );
    }
}
