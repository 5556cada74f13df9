//! SIGTERM, SIGHUP and SIGINT cancel a run like Ctrl-C: open tool spans end as `cancelled`,
//! the outputs are written, the exit code is 128 + the signal's number; a second signal cuts
//! the flush short.
#![cfg(target_os = "linux")]

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// Starts `run` on a 60 s sleep with `--trace-out`, sends `signal` once it is listening and
/// returns the exit code, the time from the signal to the exit and the trace written.
fn interrupted_by(signal: &str) -> (Option<i32>, Duration, Value) {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), "long.json", &sleep_plan(60_000));
    let out = dir.path().join("trace.json");
    let mut child = orchestrace(dir.path())
        .arg("run")
        .arg(&plan)
        .arg("--trace-out")
        .arg(&out)
        .args(["--view", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until_catching(&child);
    // Let the run reach its tool (a signal before that cancels the run just the same).
    std::thread::sleep(Duration::from_millis(300));
    kill(&child, signal);
    let (status, took) = wait_within(&mut child, Duration::from_secs(15));
    let trace: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    (status.code(), took, trace)
}

fn tool_status(trace: &Value, id: &str) -> String {
    spans(trace)
        .into_iter()
        .find(|s| attr(s, "orchestration.tool_id") == Some(id))
        .and_then(|s| attr(s, "orchestration.status"))
        .unwrap_or("<no span>")
        .to_owned()
}

#[test]
fn sigterm_cancels_the_run_writes_the_trace_and_exits_143() {
    let (code, took, trace) = interrupted_by("TERM");
    assert_eq!(code, Some(143));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(tool_status(&trace, "nap"), "cancelled");
    assert!(spans(&trace).iter().any(|s| s["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("invoke_workflow"))));
}

#[test]
fn sighup_exits_129_with_the_trace_written() {
    let (code, _, trace) = interrupted_by("HUP");
    assert_eq!(code, Some(129));
    assert_eq!(tool_status(&trace, "nap"), "cancelled");
}

#[test]
fn sigint_exits_130_with_the_trace_written() {
    let (code, _, trace) = interrupted_by("INT");
    assert_eq!(code, Some(130));
    assert_eq!(tool_status(&trace, "nap"), "cancelled");
}

/// With a collector that accepts connections and never answers, the flush after the first
/// signal waits out the export's 5 s bound; a second signal ends the process at once, with the
/// first signal's code and before the outputs are written.
#[test]
fn a_second_signal_cuts_the_flush_short() {
    let collector = Listener::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), "long.json", &sleep_plan(60_000));
    let out = dir.path().join("trace.json");
    let mut child = orchestrace(dir.path())
        .arg("run")
        .arg(&plan)
        .arg("--otlp")
        .arg(format!("http://{}", collector.addr))
        .arg("--trace-out")
        .arg(&out)
        .args(["--view", "none"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until_catching(&child);
    std::thread::sleep(Duration::from_millis(300));
    kill(&child, "TERM");
    // Into the flush: the run is cancelled within milliseconds, the export then hangs.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the flush should still be waiting"
    );
    kill(&child, "INT");
    let (status, took) = wait_within(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(143));
    assert!(
        took < Duration::from_secs(2),
        "took {took:?} after the second signal"
    );
    // Cut short before the outputs: the file opened up front is still empty.
    assert_eq!(std::fs::read(&out).unwrap().len(), 0);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(
        err,
        "SIGTERM: cancelling the run and writing what it produced (a second signal stops at once)\nSIGINT: stopping now\n"
    );
    assert!(collector.accepted() > 0, "the exporter never connected");
}
