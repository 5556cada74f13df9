//! Output paths are checked before anything runs: a `--trace-out` or `--html` that cannot be
//! written is one line and exit 2, and the plan's tools never ran.

mod support;

use std::path::Path;

use serde_json::json;
use support::*;

/// A plan whose one tool calls `listener`: a run that reached it leaves a connection.
fn calling_plan(dir: &Path, listener: &Listener) -> std::path::PathBuf {
    write_plan(
        dir,
        "call.json",
        &json!({"plan_id": "call", "tools": [{"id": "hit", "tool": "http",
            "params": {"url": format!("http://{}/side-effect", listener.addr), "timeout_ms": 200}}]}),
    )
}

fn refused_before_the_run(flag: &str, path: &Path, expected: &str) {
    let listener = Listener::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = calling_plan(dir.path(), &listener);
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .arg(flag)
            .arg(path),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o), format!("error: {expected}\n"));
    assert_eq!(stdout(&o), "");
    assert_eq!(listener.accepted(), 0, "the tool ran");
}

#[test]
fn a_trace_out_in_a_missing_folder_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("trace.json");
    refused_before_the_run(
        "--trace-out",
        &path,
        &format!(
            "--trace-out {}: the folder {} does not exist",
            path.display(),
            dir.path().join("no-such-dir").display()
        ),
    );
}

#[test]
fn a_folder_as_trace_out_or_html_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--trace-out", "--html"] {
        refused_before_the_run(
            flag,
            dir.path(),
            &format!("{flag} {}: is a folder, not a file", dir.path().display()),
        );
    }
}

#[cfg(unix)]
#[test]
fn an_unwritable_html_path_is_refused_before_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut path = locked.join("report.html");
    // Permissions do not stop root; sysfs refuses new files to everyone.
    if std::fs::write(&path, "").is_ok() {
        std::fs::remove_file(&path).unwrap();
        path = "/sys/kernel/orchestrace-report.html".into();
    }
    refused_before_the_run(
        "--html",
        &path,
        &format!(
            "--html {}: cannot be written: permission denied",
            path.display()
        ),
    );
}

#[test]
fn inspect_checks_html_before_reading_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let o = output(orchestrace(dir.path()).args([
        "inspect",
        "missing-trace.json",
        "--html",
        "nowhere/r.html",
    ]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: --html nowhere/r.html: the folder nowhere does not exist\n"
    );
}

#[test]
fn an_invalid_plan_leaves_no_output_file_behind_and_an_old_one_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "bad.json",
        &json!({"plan_id": "bad", "tools": [{"id": "a", "tool": "echo", "depends_on": ["b"]}]}),
    );
    std::fs::write(dir.path().join("old.html"), "keep me").unwrap();
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).args([
        "--trace-out",
        "new.json",
        "--html",
        "old.html",
    ]));
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("new.json").exists());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("old.html")).unwrap(),
        "keep me"
    );
}

#[test]
fn trace_out_and_html_are_written_after_a_good_run() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "two.json",
        &json!({"plan_id": "two", "tools": [{"id": "a", "tool": "echo"}, {"id": "b", "tool": "echo", "depends_on": ["a"]}]}),
    );
    std::fs::write(dir.path().join("t.json"), "x".repeat(100_000)).unwrap();
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).args([
        "--trace-out",
        "t.json",
        "--html",
        "r.html",
        "--view",
        "none",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let trace: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("t.json")).unwrap()).unwrap();
    let tools: Vec<_> = spans(&trace)
        .into_iter()
        .filter_map(|s| attr(s, "orchestration.tool_id"))
        .collect();
    assert_eq!(tools.len(), 2);
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
}

/// The witness the refusals above rely on: run for real, the plan's tool reaches the listener.
#[test]
fn the_calling_plan_reaches_its_listener_when_it_runs() {
    let listener = Listener::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = calling_plan(dir.path(), &listener);
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .args(["--view", "none"]),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the call times out: {}",
        stderr(&o)
    );
    assert_eq!(listener.accepted(), 1);
}
