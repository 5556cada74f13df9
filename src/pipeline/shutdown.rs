//! Stopping a run on a shutdown signal.
//!
//! A process is asked to stop by more than Ctrl-C: `docker stop`, Kubernetes, systemd and CI
//! timeouts send SIGTERM, a closed terminal sends SIGHUP. Left to their default action these
//! end the process at once, and the spans of the run in flight are lost. [`shutdown_signal`]
//! turns all three into a future to hand to [`Runner::run_until`](super::Runner::run_until)
//! or [`Orchestrator::run_until`](crate::Orchestrator::run_until): the run is cancelled, its
//! open tool spans end as `cancelled`, and the host flushes its telemetry before it exits with
//! [`Signal::exit_code`].
//!
//! Listening replaces the signals' default action for the rest of the process's life (that is
//! how Unix signal handling works), so a host that listens must also act on what it hears.
//! [`ShutdownSignals`] keeps listening after the first signal, for hosts that want a second
//! one to cut the flush short.

use std::fmt;

/// A signal asking the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT: Ctrl-C in a terminal (the only one outside Unix).
    Interrupt,
    /// SIGTERM: `docker stop`, Kubernetes, systemd, CI timeouts.
    Terminate,
    /// SIGHUP: the controlling terminal went away.
    Hangup,
}

impl Signal {
    /// The signal's number on Unix (2, 15, 1).
    pub fn number(self) -> u8 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            Signal::Hangup => 1,
        }
    }

    /// The conventional exit code of a process stopped by this signal: 128 + its number
    /// (130, 143, 129).
    pub fn exit_code(self) -> u8 {
        128 + self.number()
    }

    /// The signal's name: `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Listens for SIGINT, SIGTERM and SIGHUP (Ctrl-C outside Unix) from the moment it is created,
/// so a signal that comes before the first [`recv`](ShutdownSignals::recv) is not lost.
///
/// ```no_run
/// use orchestrace::pipeline::ShutdownSignals;
///
/// # async fn demo(runner: orchestrace::Runner) -> std::io::Result<()> {
/// let mut signals = ShutdownSignals::new()?;
/// let (stop, stopped) = tokio::sync::oneshot::channel();
/// tokio::spawn(async move {
///     let first = signals.recv().await;
///     let _ = stop.send(first);
///     // A second signal while the host flushes: stop at once.
///     signals.recv().await;
///     std::process::exit(first.exit_code().into());
/// });
/// let result = runner
///     .run_until("servers by type", async {
///         let _ = stopped.await;
///     })
///     .await;
/// # let _ = result;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ShutdownSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Starts listening; the error says why the operating system refused.
    ///
    /// # Panics
    ///
    /// Like `tokio::signal`, outside a Tokio runtime or in one built without its I/O driver
    /// (build it with `enable_all`, or use `#[tokio::main]`).
    pub fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(ShutdownSignals {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
                hangup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(ShutdownSignals {})
        }
    }

    /// Waits for the next signal and says which one came. Cancel-safe: it can be dropped in a
    /// `select!` without losing a signal.
    pub async fn recv(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                Some(()) = self.interrupt.recv() => Signal::Interrupt,
                Some(()) = self.terminate.recv() => Signal::Terminate,
                Some(()) = self.hangup.recv() => Signal::Hangup,
                // The runtime's signal driver is gone: no signal can come any more.
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => Signal::Interrupt,
                Err(_) => std::future::pending().await,
            }
        }
    }
}

/// Resolves when the process is asked to stop — SIGINT, SIGTERM or SIGHUP on Unix, Ctrl-C
/// elsewhere — with the signal that came.
///
/// Listening starts when the future is first polled (use [`ShutdownSignals`] to start
/// earlier). If the operating system refuses to deliver the signals it never resolves;
/// [`ShutdownSignals::new`] reports that as an error. Panics as [`ShutdownSignals::new`] does.
///
/// ```no_run
/// use orchestrace::pipeline::shutdown_signal;
///
/// # async fn demo(runner: orchestrace::Runner) {
/// // The run stops on the first signal; its open tool spans end as `cancelled`.
/// let result = runner
///     .run_until("servers by type", async {
///         shutdown_signal().await;
///     })
///     .await;
/// # let _ = result;
/// # }
/// ```
pub async fn shutdown_signal() -> Signal {
    match ShutdownSignals::new() {
        Ok(mut signals) => signals.recv().await,
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Hangup.exit_code(), 129);
        assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_sent_to_the_process_is_received_not_fatal() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut signals = ShutdownSignals::new().unwrap();
            let sent = std::process::Command::new("kill")
                .args(["-HUP", &std::process::id().to_string()])
                .status()
                .unwrap();
            assert!(sent.success());
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), signals.recv())
                .await
                .expect("the signal arrives");
            assert_eq!(got, Signal::Hangup);
        });
    }
}
