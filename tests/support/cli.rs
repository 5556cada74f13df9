//! The `orchestrace` binary, built once per test process, run with a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (the root package's manifest directory).
pub fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The profile directory the test executable was built into (`<target>/debug` for
/// `…/debug/deps/test-…`): built binaries and examples of the same profile live there.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's directory");
    deps.parent()
        .expect("the profile directory above deps/")
        .to_owned()
}

/// Runs `cargo build -q ARGS` for the profile and target directory of this test executable
/// (so `CARGO_TARGET_DIR` and `--release` carry over), panicking with cargo's output on failure.
pub fn cargo_build(args: &[&str]) {
    let profile = profile_dir();
    let target_dir = profile.parent().expect("the target directory").to_owned();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q"]).args(args);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(manifest())
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `orchestrace` binary (package `orchestrace-cli`), built on first use.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        cargo_build(&["-p", "orchestrace-cli", "--bin", "orchestrace"]);
        let bin = profile_dir().join(format!("orchestrace{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.exists(), "{} is missing after the build", bin.display());
        bin
    })
}

/// A command for `program` from the workspace root, with every `OTEL_*` variable and
/// `NO_COLOR` removed from its environment (so only what a test sets applies).
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(manifest()).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        let strip = name
            .to_str()
            .is_some_and(|n| n.starts_with("OTEL_") || n == "NO_COLOR");
        if strip {
            cmd.env_remove(&name);
        }
    }
    cmd
}

/// A command for the `orchestrace` binary with a clean environment (see [`clean_command`]).
pub fn command() -> Command {
    clean_command(binary())
}

/// Runs the binary with `args` and the test's own `env` over a clean environment.
pub fn orchestrace(args: &[&str], env: &[(&str, &str)]) -> Output {
    command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// The trace id from the `trace …` line a run prints.
pub fn trace_id(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("trace "))
        .unwrap_or_else(|| panic!("no trace line in {stdout}"))
        .trim()
        .to_owned()
}

/// Waits for `child` at most `limit`; kills it and returns `None` past the limit (a guard
/// against hangs, not a timing assertion).
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// `orchestrace run PLAN --otlp URL --protocol P`, run off the async runtime: asserts it
/// succeeded quietly (nothing on stderr) and returns its trace id.
pub async fn run_exported(plan: &'static str, url: String, protocol: &'static str) -> String {
    let out = tokio::task::spawn_blocking(move || {
        orchestrace(&["run", plan, "--otlp", &url, "--protocol", protocol], &[])
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "quiet when healthy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    trace_id(&out)
}
