//! Shared by the command's tests: the binary in a clean environment, plan files, a counting
//! TCP listener.
#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The binary with nothing inherited that changes what it does: no `OTEL_*`, no `NO_COLOR`,
/// no `ORCHESTRACE_*`, working in `dir`.
pub fn orchestrace(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrace"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("OTEL_") || key.starts_with("ORCHESTRACE_") || key == "NO_COLOR" {
            cmd.env_remove(&key);
        }
    }
    cmd.current_dir(dir).stdin(Stdio::null());
    cmd
}

/// Runs to the end and returns the output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `plan` as `name` in `dir`.
pub fn write_plan(dir: &Path, name: &str, plan: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(plan).unwrap()).unwrap();
    path
}

/// One `sleep` tool of `ms` milliseconds.
pub fn sleep_plan(ms: u64) -> Value {
    json!({"plan_id": "long", "tools": [{"id": "nap", "tool": "sleep", "params": {"ms": ms}}]})
}

/// Whether the process has handlers installed for SIGHUP, SIGINT and SIGTERM (Linux: the
/// `SigCgt` mask of `/proc/PID/status`).
fn catches_signals(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| {
            let bit = |n: u32| mask & (1 << (n - 1)) != 0;
            bit(1) && bit(2) && bit(15)
        })
}

/// Waits until the child catches the shutdown signals (at most 20 s).
pub fn wait_until_catching(child: &Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !catches_signals(child.id()) {
        assert!(
            Instant::now() < deadline,
            "the command never listened for signals"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn kill(child: &Child, signal: &str) {
    let ok = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs")
        .success();
    assert!(ok, "kill -{signal} failed");
}

/// Waits for the child to exit, at most `bound`; kills it and fails past the bound.
pub fn wait_within(child: &mut Child, bound: Duration) -> (std::process::ExitStatus, Duration) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, t0.elapsed());
        }
        if t0.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not exit within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The spans of an OTLP JSON document.
pub fn spans(otlp: &Value) -> Vec<&Value> {
    otlp["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rs| rs["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|ss| ss["spans"].as_array().into_iter().flatten())
        .collect()
}

/// A span's string attribute.
pub fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// A TCP listener on 127.0.0.1 that accepts and holds connections, never answering; it
/// counts them. Stopped when dropped.
pub struct Listener {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let thread = {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((mut conn, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            let _ = conn.set_nonblocking(true);
                            let _ = conn.read(&mut [0u8; 64]);
                            held.lock().unwrap().push(conn);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Listener {
            addr,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
