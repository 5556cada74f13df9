//! The `orchestrace` binary as a subprocess.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The CLI binary, built by `cargo build -p orchestrace-cli` (a no-op when fresh) and copied
/// aside so that another build into the same target folder cannot swap it mid-test.
pub fn binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "orchestrace-cli",
                "--bin",
                "orchestrace",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "cannot build the orchestrace binary");
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap().to_owned();
        let name = format!("orchestrace{}", std::env::consts::EXE_SUFFIX);
        let aside =
            std::env::temp_dir().join(format!("orchestrace-server-test-{}", std::process::id()));
        std::fs::create_dir_all(&aside).unwrap();
        std::fs::copy(dir.join(&name), aside.join(&name)).unwrap();
        aside.join(name)
    })
    .clone()
}

/// A running `orchestrace serve` and its listener URLs.
pub struct Serve {
    pub child: Child,
    pub ui: String,
    pub otlp_http: String,
}

impl Serve {
    /// Starts `orchestrace serve --data DIR` on free loopback ports (gRPC off) and reads its
    /// listener lines.
    pub fn start(data: &std::path::Path) -> Serve {
        let mut child = Command::new(binary())
            .args(["serve", "--data"])
            .arg(data)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--otlp-grpc",
                "off",
                "--otlp-http",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ui = lines.next().unwrap().unwrap();
        let otlp_http = lines.next().unwrap().unwrap();
        assert!(ui.starts_with("ui http://127.0.0.1:"), "{ui}");
        assert!(
            otlp_http.starts_with("otlp-http http://127.0.0.1:"),
            "{otlp_http}"
        );
        Serve {
            child,
            ui: ui["ui ".len()..].to_owned(),
            otlp_http: otlp_http["otlp-http ".len()..].to_owned(),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
