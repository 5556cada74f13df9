//! Server configuration: listeners, data folder, limits, retention, token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Largest request body accepted, compressed and after decompression (16 MiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Bytes of decoded export batches waiting for the writer (64 MiB); past it ingest answers
/// with backpressure (gRPC `RESOURCE_EXHAUSTED`, HTTP 429 with `Retry-After`).
pub const DEFAULT_QUEUE_BYTES: usize = 64 * 1024 * 1024;

/// How the store forgets: by age, by count and by size, checked every `every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Traces that arrived longer ago than this are deleted.
    pub max_age: Option<Duration>,
    /// At most this many traces are kept (the oldest go first).
    pub max_traces: Option<u64>,
    /// At most this many bytes of live pages in the store file.
    pub max_bytes: Option<u64>,
    /// How often the limits are applied.
    pub every: Duration,
}

impl Default for Retention {
    /// 7 days, 100,000 traces, 2 GiB, checked every minute.
    fn default() -> Self {
        Retention {
            max_age: Some(Duration::from_secs(7 * 86_400)),
            max_traces: Some(100_000),
            max_bytes: Some(2 << 30),
            every: Duration::from_secs(60),
        }
    }
}

impl Retention {
    /// Parses `age=7d,traces=100000,size=2GiB` (any subset; `none` turns a limit off), over
    /// the defaults. The error names the bad part.
    pub fn parse(s: &str) -> Result<Retention, String> {
        let mut r = Retention::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("--retention: expected key=value, got {part:?}"))?;
            let none = v == "none";
            match k {
                "age" => {
                    r.max_age = if none {
                        None
                    } else {
                        Some(orchestrace_inspect::time::parse_duration(v).ok_or_else(|| {
                            format!(
                                "--retention: age: expected a duration like 7d or 12h, got {v:?}"
                            )
                        })?)
                    }
                }
                "traces" => {
                    r.max_traces = if none {
                        None
                    } else {
                        Some(v.parse().map_err(|_| {
                            format!("--retention: traces: expected a count, got {v:?}")
                        })?)
                    }
                }
                "size" => r.max_bytes = if none { None } else { Some(parse_size(v)?) },
                _ => {
                    return Err(format!(
                        "--retention: unknown limit {k:?} (expected age, traces or size)"
                    ))
                }
            }
        }
        Ok(r)
    }
}

fn parse_size(v: &str) -> Result<u64, String> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("--retention: size: expected a size like 500MiB, got {v:?}"))?;
    let mul: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" | "KB" => 1 << 10,
        "MiB" | "M" | "MB" => 1 << 20,
        "GiB" | "G" | "GB" => 1 << 30,
        _ => return Err(format!("--retention: size: unknown unit in {v:?}")),
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("--retention: size: {v:?} is too large"))
}

/// Everything `orchestrace serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The folder of the store.
    pub data_dir: PathBuf,
    /// The browser UI and JSON API.
    pub listen: SocketAddr,
    /// OTLP/gRPC; `None` turns it off.
    pub otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP (`/v1/traces`); `None` turns it off.
    pub otlp_http: Option<SocketAddr>,
    /// A Jaeger query service (v3 API) to browse as well.
    pub jaeger: Option<String>,
    /// Retention limits.
    pub retention: Retention,
    /// The bearer token; required when any listener is not on a loopback address.
    pub token: Option<String>,
    /// Bytes of queued export batches before backpressure.
    pub queue_bytes: usize,
}

impl Config {
    /// The defaults: data in [`default_data_dir`], UI on 127.0.0.1:16680, OTLP on
    /// 127.0.0.1:4317 (gRPC) and 127.0.0.1:4318 (HTTP), default retention, no token.
    pub fn new() -> Config {
        Config {
            data_dir: default_data_dir(),
            listen: SocketAddr::from(([127, 0, 0, 1], 16680)),
            otlp_grpc: Some(SocketAddr::from(([127, 0, 0, 1], 4317))),
            otlp_http: Some(SocketAddr::from(([127, 0, 0, 1], 4318))),
            jaeger: None,
            retention: Retention::default(),
            token: None,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }

    /// Checks the settings together: a listener off loopback needs a token.
    pub fn validate(&self) -> Result<(), String> {
        let exposed = std::iter::once(self.listen)
            .chain(self.otlp_grpc)
            .chain(self.otlp_http)
            .find(|a| !a.ip().is_loopback());
        if let (Some(addr), None) = (exposed, &self.token) {
            return Err(format!(
                "listening on {addr} (not loopback) needs a token: give --token or set ORCHESTRACE_TOKEN"
            ));
        }
        if let Some(t) = &self.token {
            if t.len() < 8 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err("the token must be at least 8 printable ASCII characters".into());
            }
        }
        if let Some(url) = &self.jaeger {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "--jaeger: expected an http:// or https:// URL, got {url:?}"
                ));
            }
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

/// The platform data folder's `orchestrace` (`$XDG_DATA_HOME/orchestrace`,
/// `~/.local/share/orchestrace`, `~/Library/Application Support/orchestrace`,
/// `%APPDATA%\orchestrace`), else `./orchestrace-data`.
pub fn default_data_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        env("APPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share")))
    };
    base.map(|b| b.join("orchestrace"))
        .unwrap_or_else(|| PathBuf::from("orchestrace-data"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_parses_each_limit_and_names_bad_parts() {
        let r = Retention::parse("age=12h,traces=500,size=10MiB").unwrap();
        assert_eq!(r.max_age, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(r.max_traces, Some(500));
        assert_eq!(r.max_bytes, Some(10 << 20));
        assert_eq!(Retention::parse("age=none").unwrap().max_age, None);
        assert_eq!(
            Retention::parse("size=10XB").unwrap_err(),
            "--retention: size: unknown unit in \"10XB\""
        );
        assert!(Retention::parse("color=red")
            .unwrap_err()
            .contains("unknown limit"));
    }

    #[test]
    fn off_loopback_needs_a_token() {
        let mut c = Config::new();
        c.listen = "0.0.0.0:0".parse().unwrap();
        assert!(c.validate().unwrap_err().contains("needs a token"));
        c.token = Some("s3cret-token".into());
        assert!(c.validate().is_ok());
    }
}
