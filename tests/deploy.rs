//! Checks the `docker compose up` stack without a docker engine: `docker-compose.yml`,
//! `otel-collector.yaml` and the files under `deploy/` are parsed and their wiring is checked
//! against each other — pipelines reference defined components in the right order, every
//! exporter and Grafana data source points at a compose service on a port that service
//! actually listens on, the app-facing ports are published, images are pinned, mounted files
//! exist, and the collector's redaction rules mask secrets without touching orchestrace's own
//! attributes.
//!
//! Every check returns the problems it found. `stack_is_consistent` asserts there are none;
//! the other tests break one thing in a parsed copy and assert that the matching check
//! reports it, so no check passes vacuously.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use regex::Regex;
use serde_json::{json, Value};

const COMPOSE_FILE: &str = "docker-compose.yml";
const COLLECTOR: &str = "otel-collector";
const JAEGER: &str = "jaeger";
const TEMPO: &str = "tempo";
const GRAFANA: &str = "grafana";
const PROMETHEUS: &str = "prometheus";
const REQUIRED_SERVICES: [&str; 5] = [COLLECTOR, JAEGER, TEMPO, GRAFANA, PROMETHEUS];
/// The tail-sampling example, checked as if compose mounted it for the collector.
const TAIL_SAMPLING: &str = "deploy/otel-collector-tail-sampling.yaml";
/// The provisioned dashboard.
const DASHBOARD: &str = "deploy/grafana/dashboards/orchestrace-runs.json";
/// Where the Grafana image reads provisioned data sources from.
const GRAFANA_DATASOURCES_DIR: &str = "/etc/grafana/provisioning/datasources";
/// The collector release that renamed the `otlp`/`otlphttp` exporters to
/// `otlp_grpc`/`otlp_http`; older collectors reject the new names.
const OTLP_RENAME_VERSION: (u64, u64, u64) = (0, 144, 0);

// ---------------------------------------------------------------------------------------
// The stack: the compose file and every YAML file it mounts, parsed.
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Stack {
    root: PathBuf,
    compose: Value,
    /// Parsed YAML files mounted by compose, keyed by path relative to the repo root.
    files: BTreeMap<String, Value>,
    /// Raw text of the same files (comments matter for some checks).
    texts: BTreeMap<String, String>,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse_yaml(text: &str, name: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{name}: invalid YAML: {e}"))
}

fn load_stack() -> Stack {
    let root = repo_root();
    let compose_text = std::fs::read_to_string(root.join(COMPOSE_FILE))
        .unwrap_or_else(|e| panic!("{COMPOSE_FILE}: {e}"));
    let compose = parse_yaml(&compose_text, COMPOSE_FILE);
    let mut stack = Stack {
        root,
        compose,
        files: BTreeMap::new(),
        texts: BTreeMap::new(),
    };
    let sources: Vec<String> = services(&stack.compose)
        .into_iter()
        .flat_map(|(_, svc)| bind_mounts(svc))
        .map(|m| m.source)
        .collect();
    for source in sources {
        let Some(rel) = normalize(&source) else {
            continue;
        };
        let path = stack.root.join(&rel);
        let mut yaml_files = Vec::new();
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("{rel}: {e}"))
                .map(|entry| entry.expect("directory entry").path())
                .collect();
            entries.sort();
            for entry in entries {
                let name = entry.file_name().unwrap().to_string_lossy().into_owned();
                yaml_files.push(format!("{rel}/{name}"));
            }
        } else {
            yaml_files.push(rel);
        }
        for file in yaml_files {
            if !(file.ends_with(".yaml") || file.ends_with(".yml")) {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(stack.root.join(&file)) {
                stack.files.insert(file.clone(), parse_yaml(&text, &file));
                stack.texts.insert(file, text);
            }
        }
    }
    stack
}

/// `./a/../b.yaml` → `b.yaml`; `None` for paths outside the repo or absolute paths.
fn normalize(source: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(source).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

// ---------------------------------------------------------------------------------------
// Compose helpers
// ---------------------------------------------------------------------------------------

fn services(compose: &Value) -> Vec<(&str, &Value)> {
    compose
        .get("services")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

fn service<'a>(compose: &'a Value, name: &str) -> Option<&'a Value> {
    compose.get("services")?.get(name)
}

fn image(svc: &Value) -> &str {
    svc.get("image").and_then(Value::as_str).unwrap_or("")
}

/// Repository and tag of an image reference (`registry:5000/repo:tag@digest`).
fn split_image(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (
            &name[..last_slash + i],
            Some(&name[last_slash + i + 1..]),
            digest,
        ),
        None => (name, None, digest),
    }
}

fn version_of(tag: &str) -> Option<(u64, u64, u64)> {
    let caps = Regex::new(r"^v?(\d+)\.(\d+)\.(\d+)")
        .unwrap()
        .captures(tag)?;
    let n = |i: usize| caps[i].parse().ok();
    Some((n(1)?, n(2)?, n(3)?))
}

struct Mount {
    source: String,
    target: String,
}

/// Bind mounts of a service (short `./src:/dst[:ro]` or long `{type: bind, ...}` syntax);
/// named volumes are left out.
fn bind_mounts(svc: &Value) -> Vec<Mount> {
    let Some(volumes) = svc.get("volumes").and_then(Value::as_array) else {
        return Vec::new();
    };
    volumes
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => {
                let mut parts = s.splitn(3, ':');
                let source = parts.next()?;
                let target = parts.next()?;
                let is_path = source.starts_with('.') || source.starts_with('/');
                is_path.then(|| Mount {
                    source: source.to_string(),
                    target: target.to_string(),
                })
            }
            Value::Object(m) if m.get("type").and_then(Value::as_str) == Some("bind") => {
                Some(Mount {
                    source: m.get("source")?.as_str()?.to_string(),
                    target: m.get("target")?.as_str()?.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

fn command_line(svc: &Value) -> String {
    match svc.get("command") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The config file a service is started with: the bind mount whose target its command names.
fn config_file(stack: &Stack, name: &str) -> Result<String, String> {
    let svc = service(&stack.compose, name).ok_or_else(|| format!("no service {name}"))?;
    let command = command_line(svc);
    let mount = bind_mounts(svc)
        .into_iter()
        .find(|m| command.contains(&m.target))
        .ok_or_else(|| {
            format!("service {name}: its command `{command}` names no mounted config file")
        })?;
    normalize(&mount.source).ok_or_else(|| {
        format!(
            "service {name}: mount source {} is outside the repo",
            mount.source
        )
    })
}

fn config<'a>(stack: &'a Stack, name: &str) -> Result<&'a Value, String> {
    let file = config_file(stack, name)?;
    stack
        .files
        .get(&file)
        .ok_or_else(|| format!("service {name}: config file {file} was not found or parsed"))
}

/// `(host port, container port)` of each published port.
fn published_ports(svc: &Value) -> Vec<(Option<u16>, u16)> {
    let Some(ports) = svc.get("ports").and_then(Value::as_array) else {
        return Vec::new();
    };
    ports
        .iter()
        .filter_map(|p| match p {
            Value::String(s) => {
                let s = s.split('/').next().unwrap_or(s);
                let parts: Vec<&str> = s.rsplitn(3, ':').collect();
                let container = parts.first()?.parse().ok()?;
                let host = parts.get(1).and_then(|h| h.parse().ok());
                Some((host, container))
            }
            Value::Number(n) => Some((None, u16::try_from(n.as_u64()?).ok()?)),
            Value::Object(m) => {
                let target = m.get("target")?;
                let target = target.as_u64().or_else(|| target.as_str()?.parse().ok())?;
                let published = m.get("published").and_then(|p| {
                    p.as_u64()
                        .or_else(|| p.as_str()?.parse().ok())
                        .and_then(|p| u16::try_from(p).ok())
                });
                Some((published, u16::try_from(target).ok()?))
            }
            _ => None,
        })
        .collect()
}

fn env_var(svc: &Value, key: &str) -> Option<String> {
    match svc.get("environment")? {
        Value::Array(items) => items.iter().filter_map(Value::as_str).find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| v.to_string())
        }),
        Value::Object(m) => m.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Endpoints and listening ports
// ---------------------------------------------------------------------------------------

/// `host:port`, `http://host:port/path`, `[::]:port` or `:port` → `(host, port)`.
fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

fn binds_all_interfaces(host: &str) -> bool {
    matches!(host, "" | "0.0.0.0" | "::")
}

/// Every string under an `endpoint` key anywhere below `v`.
fn endpoints_below(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match (k.as_str(), child) {
                    ("endpoint", Value::String(s)) => out.push(s.clone()),
                    _ => endpoints_below(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| endpoints_below(i, out)),
        _ => {}
    }
}

/// Ports a service accepts connections on from other containers, read from its own config
/// (endpoints bound to localhost don't count: nobody outside the container reaches them).
fn listen_ports(stack: &Stack, name: &str) -> Result<BTreeSet<u16>, String> {
    let svc = service(&stack.compose, name).ok_or_else(|| format!("no service {name}"))?;
    let (repo, _, _) = split_image(image(svc));
    let mut endpoints = Vec::new();
    let mut ports = BTreeSet::new();
    if repo.starts_with("otel/opentelemetry-collector") || repo == "jaegertracing/jaeger" {
        let cfg = config(stack, name)?;
        for section in ["receivers", "extensions"] {
            if let Some(s) = cfg.get(section) {
                endpoints_below(s, &mut endpoints);
            }
        }
    } else if repo == "grafana/tempo" {
        let cfg = config(stack, name)?;
        let server = cfg.get("server");
        let address = server
            .and_then(|s| s.get("http_listen_address"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if binds_all_interfaces(address) {
            for key in ["http_listen_port", "grpc_listen_port"] {
                if let Some(p) = server.and_then(|s| s.get(key)).and_then(Value::as_u64) {
                    ports.insert(u16::try_from(p).map_err(|e| e.to_string())?);
                }
            }
        }
        if let Some(receivers) = cfg.get("distributor").and_then(|d| d.get("receivers")) {
            endpoints_below(receivers, &mut endpoints);
        }
    } else if repo == "prom/prometheus" {
        // --web.listen-address, default 0.0.0.0:9090.
        let command = command_line(svc);
        let address = command
            .split_whitespace()
            .find_map(|a| a.strip_prefix("--web.listen-address="))
            .unwrap_or("0.0.0.0:9090");
        match host_port(address) {
            Some((host, port)) if binds_all_interfaces(&host) => {
                ports.insert(port);
            }
            _ => {}
        }
    } else if repo == "grafana/grafana" {
        let port = env_var(svc, "GF_SERVER_HTTP_PORT").unwrap_or_else(|| "3000".into());
        ports.insert(port.parse().map_err(|_| format!("{name}: bad http port"))?);
    } else {
        return Err(format!(
            "service {name}: don't know which ports image {repo} listens on"
        ));
    }
    for endpoint in endpoints {
        match host_port(&endpoint) {
            Some((host, port)) if binds_all_interfaces(&host) => {
                ports.insert(port);
            }
            Some(_) => {}
            None => return Err(format!("service {name}: unparseable endpoint {endpoint:?}")),
        }
    }
    Ok(ports)
}

/// A URL or endpoint must name a compose service and a port that service listens on.
fn check_target(stack: &Stack, what: &str, endpoint: &str) -> Option<String> {
    let Some((host, port)) = host_port(endpoint) else {
        return Some(format!("{what}: cannot parse host:port from {endpoint:?}"));
    };
    if service(&stack.compose, &host).is_none() {
        return Some(format!(
            "{what}: host {host:?} in {endpoint:?} is not a compose service"
        ));
    }
    match listen_ports(stack, &host) {
        Ok(ports) if ports.contains(&port) => None,
        Ok(ports) => Some(format!(
            "{what}: {host} does not listen on port {port} (it listens on {ports:?})"
        )),
        Err(e) => Some(format!("{what}: {e}")),
    }
}

// ---------------------------------------------------------------------------------------
// Collector helpers
// ---------------------------------------------------------------------------------------

/// `otlp_grpc/jaeger` → `otlp_grpc`.
fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

fn names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn pipelines(cfg: &Value) -> Vec<(String, &Value)> {
    cfg.get("service")
        .and_then(|s| s.get("pipelines"))
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v)).collect())
        .unwrap_or_default()
}

fn collector(stack: &Stack) -> Result<&Value, String> {
    config(stack, COLLECTOR)
}

// ---------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------

fn check_services(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    for name in REQUIRED_SERVICES {
        match service(&stack.compose, name) {
            None => problems.push(format!("compose has no service {name}")),
            Some(svc) if image(svc).is_empty() => {
                problems.push(format!("service {name} has no image"))
            }
            Some(_) => {}
        }
    }
    problems
}

/// Every image has an exact version tag (or a digest), never `latest`.
fn check_images_pinned(stack: &Stack) -> Vec<String> {
    let exact = Regex::new(r"^v?\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?$").unwrap();
    let mut problems = Vec::new();
    for (name, svc) in services(&stack.compose) {
        let image = image(svc);
        let (_, tag, digest) = split_image(image);
        match tag {
            _ if image.is_empty() => problems.push(format!("service {name}: no image")),
            Some("latest") => problems.push(format!("service {name}: image {image} uses latest")),
            Some(t) if !exact.is_match(t) && digest.is_none() => problems.push(format!(
                "service {name}: tag {t:?} of {image} is not an exact version"
            )),
            None if digest.is_none() => {
                problems.push(format!("service {name}: image {image} has no tag"))
            }
            _ => {}
        }
    }
    problems
}

/// The collector image can run its config: contrib for contrib-only components, and a
/// release that knows the exporter names used.
fn check_collector_image_fits_config(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let image = service(&stack.compose, COLLECTOR).map_or("", image);
    let (repo, tag, _) = split_image(image);
    let mut problems = Vec::new();
    let processors = cfg.get("processors").and_then(Value::as_object);
    let uses_contrib = processors.is_some_and(|p| {
        p.keys()
            .any(|k| matches!(component_type(k), "redaction" | "attributes"))
    });
    if uses_contrib && repo != "otel/opentelemetry-collector-contrib" {
        problems.push(format!(
            "the collector config uses contrib processors but the image is {image}"
        ));
    }
    let exporters = cfg.get("exporters").and_then(Value::as_object);
    let new_names = exporters.is_some_and(|e| {
        e.keys()
            .any(|k| matches!(component_type(k), "otlp_grpc" | "otlp_http"))
    });
    if new_names
        && tag
            .and_then(version_of)
            .is_none_or(|v| v < OTLP_RENAME_VERSION)
    {
        problems.push(format!(
            "exporters otlp_grpc/otlp_http need collector >= {OTLP_RENAME_VERSION:?}, image is {image}"
        ));
    }
    problems
}

/// Bind-mounted files and directories exist, and configured services get their config file.
fn check_mounts_exist(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, svc) in services(&stack.compose) {
        for mount in bind_mounts(svc) {
            match normalize(&mount.source) {
                None => problems.push(format!(
                    "service {name}: mount source {} is outside the repo",
                    mount.source
                )),
                Some(rel) if !stack.root.join(&rel).exists() => problems.push(format!(
                    "service {name}: mounted {} does not exist in the repo",
                    mount.source
                )),
                Some(_) => {}
            }
        }
    }
    for name in [COLLECTOR, JAEGER, TEMPO] {
        if let Err(e) = config(stack, name) {
            problems.push(e);
        }
    }
    problems
}

/// Every pipeline's components are defined; the extensions too, health_check included.
fn check_pipelines_defined(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let all = pipelines(cfg);
    if !all.iter().any(|(id, _)| component_type(id) == "traces") {
        problems.push("the collector has no traces pipeline".to_string());
    }
    for (id, pipeline) in &all {
        for section in ["receivers", "processors", "exporters"] {
            let used = names(pipeline.get(section));
            if used.is_empty() && section != "processors" {
                problems.push(format!("pipeline {id} has no {section}"));
            }
            for name in used {
                if cfg.get(section).and_then(|s| s.get(&name)).is_none() {
                    problems.push(format!(
                        "pipeline {id} uses {section} {name:?}, which is not defined"
                    ));
                }
            }
        }
    }
    let extensions = names(cfg.get("service").and_then(|s| s.get("extensions")));
    for name in &extensions {
        if cfg.get("extensions").and_then(|e| e.get(name)).is_none() {
            problems.push(format!("extension {name:?} is enabled but not defined"));
        }
    }
    if !extensions
        .iter()
        .any(|e| component_type(e) == "health_check")
    {
        problems.push("the health_check extension is not enabled".to_string());
    }
    problems
}

/// memory_limiter first, then a redaction step, then batch.
fn check_processor_order(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    for (id, pipeline) in pipelines(cfg) {
        let procs = names(pipeline.get("processors"));
        let position = |pred: &dyn Fn(&str) -> bool| procs.iter().position(|p| pred(p));
        if procs.first().map(|p| component_type(p)) != Some("memory_limiter") {
            problems.push(format!(
                "pipeline {id}: memory_limiter must be the first processor, got {procs:?}"
            ));
        }
        let redact = position(&|p| matches!(component_type(p), "redaction" | "attributes"));
        let batch = position(&|p| component_type(p) == "batch");
        // Metric attributes are names and statuses, never content: redaction is for traces.
        let redact = if component_type(&id) == "traces" {
            redact
        } else {
            redact.or(Some(1))
        };
        match (redact, batch) {
            (_, None) => problems.push(format!("pipeline {id}: no batch processor")),
            (None, _) => problems.push(format!("pipeline {id}: no redaction processor")),
            (Some(r), Some(b)) if r == 0 || r > b => problems.push(format!(
                "pipeline {id}: redaction must come after memory_limiter and before batch, got {procs:?}"
            )),
            _ => {}
        }
    }
    problems
}

/// Keys that must be masked by the collector (the redaction list of the README's failure table, with `_`/`-`/`.`/space).
const SECRET_KEYS: &[&str] = &[
    "password",
    "db.user_password",
    "passwd",
    "client_secret",
    "access_token",
    "oauth.refresh-token",
    "api_key",
    "x-api-key",
    "api key",
    "auth",
    "http.request.header.authorization",
    "Authorization",
    "credentials",
    "private_key",
    "session",
    "session_id",
    "http.response.header.set-cookie",
    "jwt",
    "user.ssn",
    "credit_card_number",
];

/// Values that must be masked wherever they appear.
const SECRET_VALUES: &[&str] = &[
    "Bearer abcdefghijklmnop0123456789",
    "authorization: bearer mF_9.B5f-4.1JqM",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

/// Keys and values that must pass untouched, besides every key orchestrace emits.
const HARMLESS_KEYS: &[&str] = &[
    "author",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "service.name",
    "http.request.method",
];
const HARMLESS_VALUES: &[&str] = &[
    "ci_lookup:v1:published",
    r#"{"primary_count":{"expression":"{primary.data.rows[0].count}","value":42}}"#,
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "bearer of bad news",
    "execute_tool",
];

/// Every string constant in src/telemetry/attributes.rs: the attribute keys (and the
/// values) orchestrace itself emits.
fn product_attribute_keys(root: &Path) -> Vec<String> {
    let src =
        std::fs::read_to_string(root.join("src/semconv.rs")).expect("src/telemetry/attributes.rs");
    Regex::new(r#"pub const [A-Z0-9_]+: &str = "([^"]+)";"#)
        .unwrap()
        .captures_iter(&src)
        .map(|c| c[1].to_string())
        .collect()
}

fn compile_all(v: Option<&Value>, what: &str, problems: &mut Vec<String>) -> Vec<Regex> {
    names(v)
        .iter()
        .filter_map(|p| match Regex::new(p) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("{what} {p:?} does not compile: {e}"));
                None
            }
        })
        .collect()
}

/// The redaction step keeps orchestrace's attributes and masks secrets. The patterns are
/// Go RE2 in the collector; the Rust `regex` crate shares that syntax and semantics for
/// what is used here (classes, alternation, `(?i)`, `\s`), and Go matches them unanchored
/// like `is_match`.
fn check_redaction_rules(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let used: BTreeSet<String> = pipelines(cfg)
        .iter()
        .flat_map(|(_, p)| names(p.get("processors")))
        .collect();
    let redactions: Vec<(&String, &Value)> = cfg
        .get("processors")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| component_type(k) == "redaction" && used.contains(*k))
                .collect()
        })
        .unwrap_or_default();
    if redactions.is_empty() {
        // An attributes processor is the alternative: it must delete or hash something.
        let attrs_ok = cfg
            .get("processors")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(k, _)| component_type(k) == "attributes" && used.contains(*k))
            .any(|(_, v)| {
                v.get("actions").and_then(Value::as_array).is_some_and(|a| {
                    a.iter().any(|act| {
                        matches!(
                            act.get("action").and_then(Value::as_str),
                            Some("delete" | "hash")
                        )
                    })
                })
            });
        if !attrs_ok {
            problems.push("no redaction processor in use".to_string());
        }
        return problems;
    }
    let product_keys = product_attribute_keys(&stack.root);
    for (id, conf) in redactions {
        if conf.get("allow_all_keys") != Some(&json!(true)) {
            problems.push(format!(
                "processor {id}: without allow_all_keys: true it deletes every attribute not \
                 listed in allowed_keys, orchestrace's included"
            ));
        }
        let key_patterns = compile_all(
            conf.get("blocked_key_patterns"),
            &format!("{id} blocked_key_patterns"),
            &mut problems,
        );
        let value_patterns = compile_all(
            conf.get("blocked_values"),
            &format!("{id} blocked_values"),
            &mut problems,
        );
        let masks_key = |k: &str| key_patterns.iter().any(|r| r.is_match(k));
        let masks_value = |v: &str| value_patterns.iter().any(|r| r.is_match(v));
        for key in SECRET_KEYS {
            if !masks_key(key) {
                problems.push(format!("processor {id}: key {key:?} is not masked"));
            }
        }
        for key in product_keys
            .iter()
            .map(String::as_str)
            .chain(HARMLESS_KEYS.iter().copied())
        {
            if masks_key(key) {
                problems.push(format!("processor {id}: masks the harmless key {key:?}"));
            }
        }
        for value in SECRET_VALUES {
            if !masks_value(value) {
                problems.push(format!("processor {id}: value {value:?} is not masked"));
            }
        }
        for value in HARMLESS_VALUES {
            if masks_value(value) {
                problems.push(format!(
                    "processor {id}: masks the harmless value {value:?}"
                ));
            }
        }
    }
    problems
}

/// Exporters in use reach compose services on ports they listen on; traces reach both
/// Jaeger and Tempo.
fn check_exporters_reach_services(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let mut reached = BTreeSet::new();
    for (pipeline, p) in pipelines(cfg) {
        for id in names(p.get("exporters")) {
            let Some(exporter) = cfg.get("exporters").and_then(|e| e.get(&id)) else {
                continue; // reported by check_pipelines_defined
            };
            if matches!(component_type(&id), "debug" | "nop") {
                continue;
            }
            let Some(endpoint) = exporter.get("endpoint").and_then(Value::as_str) else {
                problems.push(format!("exporter {id} has no endpoint"));
                continue;
            };
            match check_target(stack, &format!("exporter {id}"), endpoint) {
                Some(problem) => problems.push(problem),
                None => {
                    if let Some((host, _)) = host_port(endpoint) {
                        reached.insert((component_type(&pipeline).to_string(), host));
                    }
                }
            }
        }
    }
    for backend in [JAEGER, TEMPO] {
        if !reached.contains(&("traces".to_string(), backend.to_string())) {
            problems.push(format!("no traces pipeline exports to {backend}"));
        }
    }
    if !reached.contains(&("metrics".to_string(), PROMETHEUS.to_string())) {
        problems.push(format!("no metrics pipeline exports to {PROMETHEUS}"));
    }
    problems
}

/// The debug exporter is there to switch on, but off: commented out, not defined.
fn check_debug_exporter_commented(stack: &Stack) -> Vec<String> {
    let (file, cfg) = match config_file(stack, COLLECTOR).and_then(|f| Ok((f, collector(stack)?))) {
        Ok(found) => found,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let text = stack.texts.get(&file).map_or("", String::as_str);
    let commented = Regex::new(r"(?m)^\s*#\s*debug:\s*$").unwrap();
    if !commented.is_match(text) {
        problems.push(format!("{file}: no commented-out `debug:` exporter"));
    }
    let defined = cfg
        .get("exporters")
        .and_then(Value::as_object)
        .is_some_and(|e| e.keys().any(|k| component_type(k) == "debug"));
    if defined {
        problems.push(format!("{file}: the debug exporter is enabled"));
    }
    problems
}

/// The collector's receivers listen on all interfaces and compose publishes their ports on
/// the same host ports (the app is told `localhost:4317`).
fn check_receivers_published(stack: &Stack) -> Vec<String> {
    let cfg = match collector(stack) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    let published = service(&stack.compose, COLLECTOR).map_or_else(Vec::new, published_ports);
    let used: BTreeSet<String> = pipelines(cfg)
        .iter()
        .flat_map(|(_, p)| names(p.get("receivers")))
        .collect();
    let mut ports = BTreeSet::new();
    for id in &used {
        let mut endpoints = Vec::new();
        if let Some(r) = cfg.get("receivers").and_then(|r| r.get(id)) {
            endpoints_below(r, &mut endpoints);
        }
        if endpoints.is_empty() {
            problems.push(format!("receiver {id}: no explicit endpoint"));
        }
        for endpoint in endpoints {
            match host_port(&endpoint) {
                Some((host, port)) if binds_all_interfaces(&host) => {
                    ports.insert(port);
                }
                Some((host, _)) => problems.push(format!(
                    "receiver {id}: {endpoint} binds {host}, unreachable through a published port"
                )),
                None => problems.push(format!("receiver {id}: bad endpoint {endpoint:?}")),
            }
        }
    }
    for wanted in [4317, 4318] {
        if !ports.contains(&wanted) {
            problems.push(format!("no collector receiver listens on {wanted}"));
        }
    }
    for port in ports {
        if !published.contains(&(Some(port), port)) {
            problems.push(format!(
                "compose does not publish the collector's receiver port {port} as {port}:{port}"
            ));
        }
    }
    problems
}

/// A published port must be one the service listens on (e.g. Tempo's API on 3200).
fn check_published_ports_listened(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, svc) in services(&stack.compose) {
        let published = published_ports(svc);
        if published.is_empty() {
            continue;
        }
        match listen_ports(stack, name) {
            Ok(listening) => {
                for (_, port) in published {
                    if !listening.contains(&port) {
                        problems.push(format!(
                            "service {name} publishes {port} but listens on {listening:?}"
                        ));
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// Grafana gets the data sources file; Tempo and Jaeger point at their services' HTTP APIs.
fn check_datasources(stack: &Stack) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(grafana) = service(&stack.compose, GRAFANA) else {
        return vec!["no grafana service".to_string()];
    };
    let mut files = Vec::new();
    for mount in bind_mounts(grafana) {
        let inside = mount.target.trim_end_matches('/');
        let Some(rel) = normalize(&mount.source) else {
            continue;
        };
        if inside == GRAFANA_DATASOURCES_DIR || inside == "/etc/grafana/provisioning" {
            let prefix = if inside == GRAFANA_DATASOURCES_DIR {
                format!("{rel}/")
            } else {
                format!("{rel}/datasources/")
            };
            files.extend(
                stack
                    .files
                    .iter()
                    .filter(|(path, _)| path.starts_with(&prefix)),
            );
        }
    }
    if files.is_empty() {
        problems.push(format!(
            "grafana mounts no data sources file into {GRAFANA_DATASOURCES_DIR}"
        ));
    }
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for (path, file) in files {
        for ds in file
            .get("datasources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = ds.get("type").and_then(Value::as_str).unwrap_or("");
            let Some(url) = ds.get("url").and_then(Value::as_str) else {
                problems.push(format!("{path}: data source of type {kind:?} has no url"));
                continue;
            };
            if let Some(p) = check_target(stack, &format!("{path}: {kind} data source"), url) {
                problems.push(p);
            }
            if let Some((host, port)) = host_port(url) {
                found.insert(kind.to_string(), format!("{host}:{port}"));
            }
        }
    }
    for (kind, expected) in [
        ("tempo", "tempo:3200"),
        ("jaeger", "jaeger:16686"),
        ("prometheus", "prometheus:9090"),
    ] {
        match found.get(kind) {
            Some(at) if at == expected => {}
            Some(at) => problems.push(format!(
                "the {kind} data source points at {at}, not {expected}"
            )),
            None => problems.push(format!("no {kind} data source is provisioned")),
        }
    }
    problems
}

/// Tempo takes OTLP gRPC on 4317 from other containers.
fn check_tempo_otlp(stack: &Stack) -> Vec<String> {
    let cfg = match config(stack, TEMPO) {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let endpoint = cfg
        .pointer("/distributor/receivers/otlp/protocols/grpc/endpoint")
        .and_then(Value::as_str);
    match endpoint.and_then(host_port) {
        Some((host, 4317)) if binds_all_interfaces(&host) => Vec::new(),
        _ => vec![format!(
            "tempo: distributor.receivers.otlp.protocols.grpc.endpoint is {endpoint:?}, \
             expected 0.0.0.0:4317"
        )],
    }
}

type Check = fn(&Stack) -> Vec<String>;

const CHECKS: &[(&str, Check)] = &[
    ("services", check_services),
    ("images_pinned", check_images_pinned),
    (
        "collector_image_fits_config",
        check_collector_image_fits_config,
    ),
    ("mounts_exist", check_mounts_exist),
    ("pipelines_defined", check_pipelines_defined),
    ("processor_order", check_processor_order),
    ("redaction_rules", check_redaction_rules),
    ("exporters_reach_services", check_exporters_reach_services),
    ("debug_exporter_commented", check_debug_exporter_commented),
    ("receivers_published", check_receivers_published),
    ("published_ports_listened", check_published_ports_listened),
    ("datasources", check_datasources),
    ("tempo_otlp", check_tempo_otlp),
];

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn stack_is_consistent() {
    let stack = load_stack();
    let problems: Vec<String> = CHECKS
        .iter()
        .flat_map(|(name, check)| {
            check(&stack)
                .into_iter()
                .map(move |p| format!("[{name}] {p}"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "deploy problems:\n{}",
        problems.join("\n")
    );
}

#[test]
fn collector_config_is_found_through_compose() {
    let stack = load_stack();
    assert_eq!(
        config_file(&stack, COLLECTOR).unwrap(),
        "otel-collector.yaml"
    );
    assert_eq!(config_file(&stack, TEMPO).unwrap(), "deploy/tempo.yaml");
    assert_eq!(config_file(&stack, JAEGER).unwrap(), "deploy/jaeger.yaml");
    assert!(stack
        .files
        .contains_key("deploy/grafana/provisioning/datasources/datasources.yaml"));
    assert_eq!(
        listen_ports(&stack, TEMPO).unwrap(),
        BTreeSet::from([3200, 4317, 4318, 9095])
    );
}

// --- each check can fail ----------------------------------------------------------------

/// Applies `edit` to a fresh copy of the stack and returns the problems `check` reports.
fn problems_after(check: Check, edit: impl FnOnce(&mut Stack)) -> Vec<String> {
    let mut stack = load_stack();
    assert!(check(&stack).is_empty(), "the unedited stack must pass");
    edit(&mut stack);
    check(&stack)
}

fn assert_reports(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

fn svc_mut<'a>(stack: &'a mut Stack, name: &str) -> &'a mut Value {
    stack.compose["services"].get_mut(name).unwrap()
}

fn collector_mut(stack: &mut Stack) -> &mut Value {
    stack.files.get_mut("otel-collector.yaml").unwrap()
}

fn traces_pipeline(stack: &mut Stack) -> &mut Value {
    &mut collector_mut(stack)["service"]["pipelines"]["traces"]
}

#[test]
fn a_missing_service_is_reported() {
    let p = problems_after(check_services, |s| {
        s.compose["services"].as_object_mut().unwrap().remove(TEMPO);
    });
    assert_reports(&p, "no service tempo");
}

#[test]
fn latest_missing_and_loose_tags_are_reported() {
    let p = problems_after(check_images_pinned, |s| {
        svc_mut(s, JAEGER)["image"] = json!("jaegertracing/jaeger:latest");
        svc_mut(s, TEMPO)["image"] = json!("grafana/tempo");
        svc_mut(s, GRAFANA)["image"] = json!("grafana/grafana:12");
    });
    assert_reports(&p, "uses latest");
    assert_reports(&p, "has no tag");
    assert_reports(&p, "not an exact version");
    // A registry port is not a tag.
    assert_eq!(
        split_image("localhost:5000/otel/collector"),
        ("localhost:5000/otel/collector", None, None)
    );
}

#[test]
fn a_collector_too_old_for_its_config_is_reported() {
    let p = problems_after(check_collector_image_fits_config, |s| {
        svc_mut(s, COLLECTOR)["image"] = json!("otel/opentelemetry-collector-contrib:0.130.0");
    });
    assert_reports(&p, "need collector");
    let p = problems_after(check_collector_image_fits_config, |s| {
        svc_mut(s, COLLECTOR)["image"] = json!("otel/opentelemetry-collector:0.153.0");
    });
    assert_reports(&p, "contrib processors");
}

#[test]
fn a_mount_of_a_missing_file_is_reported() {
    let p = problems_after(check_mounts_exist, |s| {
        svc_mut(s, TEMPO)["volumes"] =
            json!(["./deploy/tempo-missing.yaml:/etc/tempo/tempo.yaml:ro"]);
    });
    assert_reports(&p, "does not exist");
    let p = problems_after(check_mounts_exist, |s| {
        svc_mut(s, JAEGER)["command"] = json!(["--config", "/etc/jaeger/other.yaml"]);
    });
    assert_reports(&p, "names no mounted config file");
}

#[test]
fn an_undefined_component_or_missing_health_check_is_reported() {
    let p = problems_after(check_pipelines_defined, |s| {
        traces_pipeline(s)["processors"] = json!(["memory_limiter", "transform", "batch"]);
        traces_pipeline(s)["exporters"] = json!(["otlp_grpc/jaeger", "otlp_grpc/zipkin"]);
        collector_mut(s)["service"]["extensions"] = json!(["zpages"]);
    });
    assert_reports(&p, "processors \"transform\"");
    assert_reports(&p, "exporters \"otlp_grpc/zipkin\"");
    assert_reports(&p, "\"zpages\" is enabled but not defined");
    assert_reports(&p, "health_check extension is not enabled");
}

#[test]
fn a_wrong_processor_order_is_reported() {
    let p = problems_after(check_processor_order, |s| {
        traces_pipeline(s)["processors"] = json!(["redaction", "memory_limiter", "batch"]);
    });
    assert_reports(&p, "memory_limiter must be the first");
    let p = problems_after(check_processor_order, |s| {
        traces_pipeline(s)["processors"] = json!(["memory_limiter", "batch", "redaction"]);
    });
    assert_reports(&p, "before batch");
    let p = problems_after(check_processor_order, |s| {
        traces_pipeline(s)["processors"] = json!(["memory_limiter", "batch"]);
    });
    assert_reports(&p, "no redaction processor");
    let p = problems_after(check_processor_order, |s| {
        traces_pipeline(s)["processors"] = json!(["memory_limiter", "redaction"]);
    });
    assert_reports(&p, "no batch processor");
}

#[test]
fn weak_or_overreaching_redaction_is_reported() {
    let p = problems_after(check_redaction_rules, |s| {
        collector_mut(s)["processors"]["redaction"]["allow_all_keys"] = json!(false);
    });
    assert_reports(&p, "allow_all_keys");
    let p = problems_after(check_redaction_rules, |s| {
        collector_mut(s)["processors"]["redaction"]["blocked_key_patterns"] =
            json!(["(?i).*token.*", "(?i).*session.*"]);
    });
    assert_reports(&p, "key \"password\" is not masked");
    assert_reports(&p, "harmless key \"gen_ai.usage.input_tokens\"");
    let p = problems_after(check_redaction_rules, |s| {
        collector_mut(s)["processors"]["redaction"]["blocked_key_patterns"] = json!(["(?i)auth"]);
    });
    assert_reports(&p, "harmless key \"author\"");
    let p = problems_after(check_redaction_rules, |s| {
        collector_mut(s)["processors"]["redaction"]["blocked_values"] = json!(["(?i)bearer"]);
    });
    assert_reports(&p, "value \"eyJ");
    assert_reports(&p, "harmless value \"bearer of bad news\"");
    let p = problems_after(check_redaction_rules, |s| {
        collector_mut(s)["processors"]["redaction"]["blocked_values"] = json!(["(unclosed"]);
    });
    assert_reports(&p, "does not compile");
    let p = problems_after(check_redaction_rules, |s| {
        traces_pipeline(s)["processors"] = json!(["memory_limiter", "batch"]);
    });
    assert_reports(&p, "no redaction processor in use");
    // Orchestrace's own keys are read from the source, so the list is not empty.
    assert!(product_attribute_keys(&repo_root())
        .iter()
        .any(|k| k == "orchestration.data_flow_inputs"));
}

#[test]
fn an_exporter_to_an_unknown_host_or_closed_port_is_reported() {
    let p = problems_after(check_exporters_reach_services, |s| {
        collector_mut(s)["exporters"]["otlp_grpc/jaeger"]["endpoint"] = json!("jaegr:4317");
    });
    assert_reports(&p, "\"jaegr\" in \"jaegr:4317\" is not a compose service");
    assert_reports(&p, "no traces pipeline exports to jaeger");
    let p = problems_after(check_exporters_reach_services, |s| {
        collector_mut(s)["exporters"]["otlp_grpc/tempo"]["endpoint"] = json!("tempo:4319");
    });
    assert_reports(&p, "tempo does not listen on port 4319");
    // Tempo falling back to its localhost default makes 4317 unreachable for the collector.
    let p = problems_after(check_exporters_reach_services, |s| {
        let tempo = s.files.get_mut("deploy/tempo.yaml").unwrap();
        tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] =
            json!("localhost:4317");
    });
    assert_reports(&p, "tempo does not listen on port 4317");
    let p = problems_after(check_exporters_reach_services, |s| {
        let jaeger = s.files.get_mut("deploy/jaeger.yaml").unwrap();
        jaeger["receivers"]["otlp"]["protocols"]
            .as_object_mut()
            .unwrap()
            .remove("grpc");
    });
    assert_reports(&p, "jaeger does not listen on port 4317");
}

#[test]
fn an_enabled_or_missing_debug_exporter_is_reported() {
    let p = problems_after(check_debug_exporter_commented, |s| {
        let text = s.texts.get_mut("otel-collector.yaml").unwrap();
        *text = text.replace("# debug:", "debug:");
        collector_mut(s)["exporters"]["debug"] = json!({"verbosity": "detailed"});
    });
    assert_reports(&p, "no commented-out");
    assert_reports(&p, "debug exporter is enabled");
}

#[test]
fn an_unpublished_or_local_receiver_is_reported() {
    let p = problems_after(check_receivers_published, |s| {
        svc_mut(s, COLLECTOR)["ports"] = json!(["4317:4317", "14318:4318"]);
    });
    assert_reports(&p, "receiver port 4318 as 4318:4318");
    let p = problems_after(check_receivers_published, |s| {
        collector_mut(s)["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] =
            json!("localhost:4317");
    });
    assert_reports(&p, "binds localhost");
    assert_reports(&p, "no collector receiver listens on 4317");
}

#[test]
fn a_published_port_nobody_listens_on_is_reported() {
    let p = problems_after(check_published_ports_listened, |s| {
        s.files.get_mut("deploy/tempo.yaml").unwrap()["server"]["http_listen_port"] = json!(80);
    });
    assert_reports(&p, "service tempo publishes 3200");
    let p = problems_after(check_published_ports_listened, |s| {
        svc_mut(s, GRAFANA)["environment"]
            .as_array_mut()
            .unwrap()
            .push(json!("GF_SERVER_HTTP_PORT=3001"));
    });
    assert_reports(&p, "service grafana publishes 3000");
}

#[test]
fn a_wrong_datasource_is_reported() {
    const DS: &str = "deploy/grafana/provisioning/datasources/datasources.yaml";
    let p = problems_after(check_datasources, |s| {
        let file = s.files.get_mut(DS).unwrap();
        file["datasources"][0]["url"] = json!("http://tempo:3100");
        file["datasources"][1]["url"] = json!("http://localhost:16686");
    });
    assert_reports(&p, "tempo does not listen on port 3100");
    assert_reports(&p, "the tempo data source points at tempo:3100");
    assert_reports(
        &p,
        "host \"localhost\" in \"http://localhost:16686\" is not a compose service",
    );
    let p = problems_after(check_datasources, |s| {
        svc_mut(s, GRAFANA)["volumes"] = json!([]);
    });
    assert_reports(&p, "mounts no data sources file");
}

#[test]
fn a_tempo_otlp_receiver_on_localhost_is_reported() {
    let p = problems_after(check_tempo_otlp, |s| {
        let tempo = s.files.get_mut("deploy/tempo.yaml").unwrap();
        tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"] = Value::Null;
    });
    assert_reports(&p, "expected 0.0.0.0:4317");
}

#[test]
fn endpoint_and_port_parsing() {
    assert_eq!(host_port("jaeger:4317"), Some(("jaeger".into(), 4317)));
    assert_eq!(
        host_port("http://tempo:3200/api"),
        Some(("tempo".into(), 3200))
    );
    assert_eq!(host_port("[::]:4317"), Some(("::".into(), 4317)));
    assert_eq!(host_port(":4318"), Some((String::new(), 4318)));
    assert_eq!(host_port("tempo"), None);
    let svc = json!({"ports": ["127.0.0.1:4317:4317/tcp", "16686", 9411,
                               {"target": 3200, "published": "3201"}]});
    assert_eq!(
        published_ports(&svc),
        vec![
            (Some(4317), 4317),
            (None, 16686),
            (None, 9411),
            (Some(3201), 3200)
        ]
    );
    assert_eq!(
        normalize("./deploy/../deploy/tempo.yaml").as_deref(),
        Some("deploy/tempo.yaml")
    );
    assert_eq!(normalize("../outside.yaml"), None);
}

// --- metrics: the dashboard and the tail-sampling example ---------------------------------

/// The Prometheus name of one of our instruments (OTLP translation with suffixes): dots
/// become underscores, seconds get `_seconds`, counters `_total`.
fn prometheus_names() -> Vec<String> {
    use orchestrace::semconv::metrics as m;
    let seconds = [
        m::EXECUTE_TOOL_DURATION,
        m::INVOCATION_DURATION,
        m::RUN_MAKESPAN,
        m::RUN_SERIAL_DURATION,
        m::RUN_TIME_SAVED,
        m::RUN_CRITICAL_PATH,
        m::TOOL_QUEUE_WAIT,
    ];
    let counters = [
        m::RUNS,
        m::TOOL_RUNS,
        m::TOOL_RETRIES,
        m::TOOL_FALLBACKS,
        m::TOOL_CACHE_HITS,
        m::TOOL_CRITICAL_PATH,
    ];
    let mut out = Vec::new();
    for name in seconds {
        let base = format!("{}_seconds", name.replace('.', "_"));
        for suffix in ["_bucket", "_sum", "_count"] {
            out.push(format!("{base}{suffix}"));
        }
    }
    for name in counters {
        out.push(format!("{}_total", name.replace('.', "_")));
    }
    out
}

/// Every metric a dashboard query names is one orchestrace exports, every panel uses the
/// provisioned Prometheus data source, and the panels the runbook needs are there.
fn check_dashboard(root: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(root.join(DASHBOARD)) {
        Ok(t) => t,
        Err(e) => return vec![format!("{DASHBOARD}: {e}")],
    };
    let dash: Value = match serde_json::from_str(&text) {
        Ok(d) => d,
        Err(e) => return vec![format!("{DASHBOARD}: invalid JSON: {e}")],
    };
    let known = prometheus_names();
    let metric = Regex::new(r"\b(orchestration|gen_ai)_[a-z_]+").unwrap();
    let mut problems = Vec::new();
    let mut titles = Vec::new();
    for panel in dash["panels"].as_array().into_iter().flatten() {
        let title = panel["title"].as_str().unwrap_or("?").to_owned();
        if panel["datasource"]["uid"] != "prometheus" {
            problems.push(format!(
                "{DASHBOARD}: panel {title:?} does not use the prometheus data source"
            ));
        }
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or("");
            for m in metric.find_iter(expr) {
                let name = m.as_str();
                // Label names (gen_ai_tool_name, …) appear in by-clauses and matchers.
                let is_label = expr[m.end()..]
                    .trim_start()
                    .starts_with(['=', '!', ',', ')'])
                    || expr[m.end()..].trim_start().starts_with("=~");
                if !is_label && !known.iter().any(|k| k == name) {
                    problems.push(format!(
                        "{DASHBOARD}: panel {title:?} queries unknown metric {name}"
                    ));
                }
            }
        }
        titles.push(title);
    }
    for needed in [
        "Runs per minute",
        "Makespan p50 / p95",
        "Time saved",
        "critical path",
        "error rate",
    ] {
        if !titles.iter().any(|t| t.contains(needed)) {
            problems.push(format!("{DASHBOARD}: no panel about {needed:?}"));
        }
    }
    problems
}

/// The stack with the tail-sampling example mounted as the collector's config.
fn tail_sampling_stack() -> Stack {
    let mut stack = load_stack();
    let text = std::fs::read_to_string(stack.root.join(TAIL_SAMPLING)).unwrap();
    stack
        .files
        .insert(TAIL_SAMPLING.into(), parse_yaml(&text, TAIL_SAMPLING));
    stack.texts.insert(TAIL_SAMPLING.into(), text);
    let svc = stack.compose["services"][COLLECTOR]
        .as_object_mut()
        .unwrap();
    for v in svc["volumes"].as_array_mut().unwrap() {
        if let Some(s) = v
            .as_str()
            .filter(|s| s.starts_with("./otel-collector.yaml:"))
        {
            *v = Value::String(s.replace("./otel-collector.yaml", &format!("./{TAIL_SAMPLING}")));
        }
    }
    stack
}

#[test]
fn the_dashboard_queries_what_is_exported() {
    let problems = check_dashboard(&repo_root());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(prometheus_names().contains(&"orchestration_run_makespan_seconds_bucket".to_owned()));
}

#[test]
fn the_tail_sampling_example_is_wired_like_the_stack() {
    let stack = tail_sampling_stack();
    assert_eq!(config_file(&stack, COLLECTOR).unwrap(), TAIL_SAMPLING);
    for (name, check) in CHECKS {
        if *name == "debug_exporter_commented" {
            continue;
        }
        let problems = check(&stack);
        assert!(problems.is_empty(), "[{name}] {}", problems.join("\n"));
    }
    let cfg = collector(&stack).unwrap();
    let traces = names(cfg.pointer("/service/pipelines/traces/processors"));
    assert_eq!(
        traces,
        ["memory_limiter", "redaction", "tail_sampling", "batch"]
    );
    let policies: Vec<&str> = cfg
        .pointer("/processors/tail_sampling/policies")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        policies,
        [
            "status_code",
            "string_attribute",
            "latency",
            "probabilistic"
        ]
    );
}
