//! The embedded store: one SQLite file in WAL mode.
//!
//! # Layout
//!
//! - `chunks(id, trace_id, data)`: the spans of one trace from one export batch, encoded as an
//!   OTLP protobuf `TracesData` (resource and scope kept). An export batch adds one row per
//!   trace it carries. Appending is O(batch) whatever the trace's size — a 50,000-span trace
//!   arriving in 100 batches is 100 inserts, where one blob per trace would be rewritten 100
//!   times — and protobuf is the compact form the spans arrived in (about a third of the OTLP
//!   JSON). A trace is read back by concatenating its chunks in insertion order; nothing ever
//!   needs a single span by id, so rows per span would only multiply index size.
//! - `traces(trace_id, …)`: the per-trace summary the list, filters and workflow statistics
//!   read, folded from each batch as it is written: workflow (`gen_ai.workflow.name`, else the
//!   root span's name), plan id, first start / last end, first tool start / last tool end (the
//!   makespan is the tool range when the trace has tool spans, as in the analysis, else the
//!   span range), span, tool and error counts, whether the root span arrived, and a version
//!   bumped by every batch. The analysis JSON is cached here per version, computed once a
//!   trace is quiet.
//! - `run_stats(trace_id, version, …)` and `tool_stats(trace_id, seq, …)`: what workflow
//!   statistics need of each analysis (per run: makespan, serial duration, time saved,
//!   critical path; per tool: duration, status, on the critical path, slack), written in the
//!   same transaction as the cached analysis. `run_stats.version` says which version they
//!   (and the cached analysis) belong to, so the statistics and the analyzer's poll never read
//!   the analysis text. A store without these tables gets them and is analysed again.
//!
//! # Durability
//!
//! One writer thread owns the write connection; it commits a group of queued batches in one
//! transaction and acknowledges them only after the commit. WAL with `synchronous=NORMAL` keeps
//! every committed transaction across a killed process (a power loss may drop the last ones);
//! an interrupted transaction is rolled back when the file is next opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{
    status::StatusCode, ResourceSpans, ScopeSpans, Span, TracesData,
};
use prost::Message;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::config::Retention;
use crate::inspector;

/// Most protobuf bytes kept for one trace (64 MiB); spans past it are rejected (reported as
/// OTLP partial success) so that one runaway trace cannot exhaust the reader.
pub const MAX_TRACE_STORED_BYTES: i64 = 64 * 1024 * 1024;

/// How long a trace must be quiet before its analysis is computed and cached.
const QUIET_BEFORE_ANALYSIS: Duration = Duration::from_millis(800);

/// Opens (creating when missing) the store in `dir` with the schema in place.
pub(crate) fn open(dir: &Path) -> Result<Connection, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{}: cannot create the data folder: {e}", dir.display()))?;
    let path = db_path(dir);
    let conn = Connection::open(&path)
        .map_err(|e| format!("{}: cannot open the store: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    // A store from before the per-run statistics tables: drop its cached analyses so the
    // analyzer recomputes them and fills the tables.
    let had_stats: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'tool_stats'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| format!("{}: cannot read the store: {e}", path.display()))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=OFF;
         CREATE TABLE IF NOT EXISTS traces(
            trace_id TEXT PRIMARY KEY,
            workflow TEXT,
            plan_id TEXT,
            service TEXT,
            start_ns INTEGER NOT NULL,
            end_ns INTEGER NOT NULL,
            tool_start_ns INTEGER,
            tool_end_ns INTEGER,
            span_count INTEGER NOT NULL,
            tool_count INTEGER NOT NULL,
            error_count INTEGER NOT NULL,
            root_seen INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            dropped_spans INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL,
            received_ns INTEGER NOT NULL,
            analysis TEXT,
            analysis_version INTEGER
         );
         CREATE INDEX IF NOT EXISTS traces_by_start ON traces(start_ns);
         CREATE INDEX IF NOT EXISTS traces_by_workflow ON traces(workflow, start_ns);
         CREATE INDEX IF NOT EXISTS traces_by_received ON traces(received_ns);
         CREATE TABLE IF NOT EXISTS chunks(
            id INTEGER PRIMARY KEY,
            trace_id TEXT NOT NULL,
            data BLOB NOT NULL
         );
         CREATE INDEX IF NOT EXISTS chunks_by_trace ON chunks(trace_id, id);
         CREATE TABLE IF NOT EXISTS run_stats(
            trace_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            makespan_ms REAL,
            serial_duration_ms REAL,
            time_saved_ms REAL,
            critical_path_ms REAL,
            critical_path TEXT
         );
         CREATE TABLE IF NOT EXISTS tool_stats(
            trace_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            tool_id TEXT NOT NULL,
            tool TEXT NOT NULL,
            ord REAL NOT NULL,
            duration_ms REAL NOT NULL,
            error INTEGER NOT NULL,
            critical INTEGER NOT NULL,
            slack_ms REAL NOT NULL,
            PRIMARY KEY(trace_id, seq)
         ) WITHOUT ROWID;",
    )
    .map_err(|e| format!("{}: cannot prepare the store: {e}", path.display()))?;
    if !had_stats {
        conn.execute("UPDATE traces SET analysis_version = NULL", [])
            .map_err(|e| format!("{}: cannot prepare the store: {e}", path.display()))?;
    }
    Ok(conn)
}

/// The store file in a data folder.
pub(crate) fn db_path(dir: &Path) -> PathBuf {
    dir.join("orchestrace.sqlite3")
}

/// What the writer thread is asked to do.
#[derive(Debug)]
pub(crate) enum WriteJob {
    /// Store an export batch; answer with the number of spans rejected, after the commit.
    Batch {
        request: ExportTraceServiceRequest,
        ack: oneshot::Sender<Result<i64, String>>,
        /// Released (returning queue room) when the job is done.
        permit: tokio::sync::OwnedSemaphorePermit,
    },
    /// Cache an analysis and its statistics rows if the trace is still at `version`.
    Analysis {
        trace_id: String,
        version: i64,
        json: String,
        /// `None` when the trace could not be analysed (cached as `null`).
        rows: Option<Box<RunRows>>,
    },
}

/// The writer thread: groups queued batches into one transaction, acknowledges after the
/// commit, applies retention periodically. Returns when every sender is gone.
pub(crate) fn run_writer(mut conn: Connection, jobs: Receiver<WriteJob>, retention: Retention) {
    let mut last_retention: Option<Instant> = None;
    loop {
        if last_retention.is_none_or(|t| t.elapsed() >= retention.every) {
            if let Err(e) = apply_retention(&conn, &retention) {
                eprintln!("warning: retention failed: {e}");
            }
            last_retention = Some(Instant::now());
        }
        let first = match jobs.recv_timeout(Duration::from_secs(1)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut group = vec![first];
        while group.len() < 256 {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        write_group(&mut conn, group);
    }
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
}

fn write_group(conn: &mut Connection, group: Vec<WriteJob>) {
    let now = now_ns();
    let result = (|| -> rusqlite::Result<Vec<i64>> {
        let tx = conn.transaction()?;
        let mut rejected = Vec::with_capacity(group.len());
        for job in &group {
            match job {
                WriteJob::Batch { request, .. } => rejected.push(store_batch(&tx, request, now)?),
                WriteJob::Analysis {
                    trace_id,
                    version,
                    json,
                    rows,
                } => cache_analysis(&tx, trace_id, *version, json, rows.as_deref())?,
            }
        }
        tx.commit()?;
        Ok(rejected)
    })();
    let mut rejected = match result {
        Ok(r) => r.into_iter().map(Ok).collect::<Vec<_>>(),
        Err(e) => {
            eprintln!("warning: cannot write to the store: {e}");
            vec![Err(format!("cannot write to the store: {e}")); group.len()]
        }
    }
    .into_iter();
    for job in group {
        if let WriteJob::Batch { ack, permit, .. } = job {
            let _ = ack.send(rejected.next().unwrap_or(Ok(0)));
            drop(permit);
        }
    }
}

/// What workflow statistics need of one analysed run: its figures and one row per tool.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunRows {
    pub(crate) makespan_ms: f64,
    pub(crate) serial_duration_ms: f64,
    pub(crate) time_saved_ms: f64,
    pub(crate) critical_path_ms: f64,
    pub(crate) critical_path: Vec<String>,
    pub(crate) tools: Vec<ToolRow>,
}

/// One tool of one analysed run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolRow {
    pub(crate) id: String,
    pub(crate) tool: String,
    pub(crate) order: f64,
    pub(crate) duration_ms: f64,
    pub(crate) error: bool,
    pub(crate) critical: bool,
    pub(crate) slack_ms: f64,
}

impl RunRows {
    /// The rows of an analysis.
    pub(crate) fn of(a: &inspector::Analysis) -> RunRows {
        let critical: std::collections::HashSet<&str> =
            a.critical_path.iter().map(String::as_str).collect();
        RunRows {
            makespan_ms: a.total_duration_ms,
            serial_duration_ms: a.serial_duration_ms,
            time_saved_ms: a.time_saved_ms,
            critical_path_ms: a.critical_path_ms,
            critical_path: a.critical_path.clone(),
            tools: a
                .tools
                .iter()
                .map(|t| ToolRow {
                    id: t.id.clone(),
                    tool: t.tool.clone(),
                    order: t.order as f64,
                    duration_ms: t.duration_ms,
                    error: inspector::is_error(t),
                    critical: critical.contains(t.id.as_str()),
                    slack_ms: t.slack_ms,
                })
                .collect(),
        }
    }
}

/// Caches an analysis and replaces the trace's statistics rows, if the trace is still at
/// `version` (a batch that arrived since makes both stale).
fn cache_analysis(
    tx: &rusqlite::Transaction<'_>,
    trace_id: &str,
    version: i64,
    json: &str,
    rows: Option<&RunRows>,
) -> rusqlite::Result<()> {
    let n = tx.execute(
        "UPDATE traces SET analysis = ?1, analysis_version = ?2
         WHERE trace_id = ?3 AND version = ?2",
        params![json, version, trace_id],
    )?;
    if n == 0 {
        return Ok(());
    }
    tx.execute("DELETE FROM tool_stats WHERE trace_id = ?1", [trace_id])?;
    let Some(rows) = rows else {
        // Analysed at this version, nothing to count (the trace could not be read).
        tx.execute(
            "INSERT OR REPLACE INTO run_stats(trace_id, version) VALUES (?1, ?2)",
            params![trace_id, version],
        )?;
        return Ok(());
    };
    tx.execute(
        "INSERT OR REPLACE INTO run_stats(trace_id, version, makespan_ms, serial_duration_ms,
            time_saved_ms, critical_path_ms, critical_path) VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)",
        params![
            trace_id,
            rows.makespan_ms,
            rows.serial_duration_ms,
            rows.time_saved_ms,
            rows.critical_path_ms,
            serde_json::to_string(&rows.critical_path).unwrap_or_else(|_| "[]".into()),
            version,
        ],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO tool_stats(trace_id, seq, tool_id, tool, ord, duration_ms, error, critical,
            slack_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (seq, t) in rows.tools.iter().enumerate() {
        insert.execute(params![
            trace_id,
            seq as i64,
            t.id,
            t.tool,
            t.order,
            t.duration_ms,
            t.error,
            t.critical,
            t.slack_ms,
        ])?;
    }
    Ok(())
}

/// The summary fields one batch contributes to a trace.
#[derive(Debug, Default)]
struct Fold {
    data: TracesData,
    /// (resource index, scope index) of the last span appended.
    last: Option<(usize, usize)>,
    workflow: Option<String>,
    root_name: Option<String>,
    plan_id: Option<String>,
    service: Option<String>,
    start: Option<u64>,
    end: u64,
    tool_start: Option<u64>,
    tool_end: Option<u64>,
    spans: i64,
    tools: i64,
    errors: i64,
    root: bool,
}

fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
            _ => None,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Checks what the store relies on: 16-byte trace ids, 8-byte span ids, a parent id empty or
/// of 8 bytes. The message names the first bad span.
pub(crate) fn validate(request: &ExportTraceServiceRequest) -> Result<usize, String> {
    let mut n = 0;
    for (ri, rs) in request.resource_spans.iter().enumerate() {
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            for (i, span) in ss.spans.iter().enumerate() {
                let place = || format!("resourceSpans[{ri}].scopeSpans[{si}].spans[{i}]");
                if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
                    return Err(format!(
                        "{}: traceId must be 16 bytes, not all zero",
                        place()
                    ));
                }
                if span.span_id.len() != 8 {
                    return Err(format!("{}: spanId must be 8 bytes", place()));
                }
                if !span.parent_span_id.is_empty() && span.parent_span_id.len() != 8 {
                    return Err(format!(
                        "{}: parentSpanId must be empty or 8 bytes",
                        place()
                    ));
                }
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Splits a batch by trace and folds each part into its summary. Returns the spans rejected
/// because their trace is over [`MAX_TRACE_STORED_BYTES`].
fn store_batch(
    tx: &rusqlite::Transaction<'_>,
    request: &ExportTraceServiceRequest,
    now: u64,
) -> rusqlite::Result<i64> {
    let mut folds: HashMap<&[u8], Fold> = HashMap::new();
    for (ri, rs) in request.resource_spans.iter().enumerate() {
        let service = rs
            .resource
            .as_ref()
            .and_then(|r| str_attr(&r.attributes, "service.name"));
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            for span in &ss.spans {
                let f = folds.entry(span.trace_id.as_slice()).or_default();
                if f.last.map(|(r, _)| r) != Some(ri) {
                    f.data.resource_spans.push(ResourceSpans {
                        resource: rs.resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                    f.last = None;
                }
                let rso = f.data.resource_spans.last_mut().expect("pushed above");
                if f.last != Some((ri, si)) {
                    rso.scope_spans.push(ScopeSpans {
                        scope: ss.scope.clone(),
                        spans: Vec::new(),
                        schema_url: ss.schema_url.clone(),
                    });
                }
                rso.scope_spans
                    .last_mut()
                    .expect("pushed above")
                    .spans
                    .push(span.clone());
                f.last = Some((ri, si));
                fold_span(f, span, service);
            }
        }
    }
    let mut rejected = 0;
    for (trace_id, f) in folds {
        rejected += store_trace_part(tx, &hex(trace_id), f, now)?;
    }
    Ok(rejected)
}

fn fold_span(f: &mut Fold, span: &Span, service: Option<&str>) {
    use orchestrace::semconv as sc;
    f.spans += 1;
    let (start, end) = (
        span.start_time_unix_nano,
        span.end_time_unix_nano.max(span.start_time_unix_nano),
    );
    f.start = Some(f.start.map_or(start, |s| s.min(start)));
    f.end = f.end.max(end);
    let attrs = &span.attributes;
    if str_attr(attrs, sc::GEN_AI_OPERATION_NAME) == Some(sc::OP_EXECUTE_TOOL)
        || (str_attr(attrs, sc::TOOL_ID).is_some() && str_attr(attrs, sc::STAGE).is_some())
    {
        f.tools += 1;
        f.tool_start = Some(f.tool_start.map_or(start, |s| s.min(start)));
        f.tool_end = Some(f.tool_end.map_or(end, |e| e.max(end)));
    }
    let error = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32)
        || str_attr(attrs, sc::STATUS) == Some("error");
    if error {
        f.errors += 1;
    }
    if let Some(w) = str_attr(attrs, sc::GEN_AI_WORKFLOW_NAME) {
        f.workflow = Some(w.to_owned());
    }
    if let Some(p) = str_attr(attrs, sc::PLAN_ID).filter(|p| !p.is_empty()) {
        f.plan_id = Some(p.to_owned());
    }
    if span.parent_span_id.is_empty() {
        f.root = true;
        f.root_name = Some(span.name.clone());
        if let Some(s) = service {
            f.service = Some(s.to_owned());
        }
    } else if f.service.is_none() {
        f.service = service.map(str::to_owned);
    }
}

fn store_trace_part(
    tx: &rusqlite::Transaction<'_>,
    trace_id: &str,
    f: Fold,
    now: u64,
) -> rusqlite::Result<i64> {
    let blob = f.data.encode_to_vec();
    let existing: Option<i64> = tx
        .query_row(
            "SELECT bytes FROM traces WHERE trace_id = ?1",
            [trace_id],
            |r| r.get(0),
        )
        .optional()?;
    if existing.unwrap_or(0) + blob.len() as i64 > MAX_TRACE_STORED_BYTES {
        tx.execute(
            "UPDATE traces SET dropped_spans = dropped_spans + ?1 WHERE trace_id = ?2",
            params![f.spans, trace_id],
        )?;
        return Ok(f.spans);
    }
    tx.execute(
        "INSERT INTO chunks(trace_id, data) VALUES (?1, ?2)",
        params![trace_id, blob],
    )?;
    let i = |v: u64| v.min(i64::MAX as u64) as i64;
    let workflow = f.workflow.clone();
    tx.execute(
        "INSERT INTO traces(trace_id, workflow, plan_id, service, start_ns, end_ns,
            tool_start_ns, tool_end_ns, span_count, tool_count, error_count, root_seen, bytes,
            version, received_ns)
         VALUES (?1, COALESCE(?2, ?14), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?15)
         ON CONFLICT(trace_id) DO UPDATE SET
            workflow = CASE WHEN ?2 IS NOT NULL THEN ?2
                            WHEN ?14 IS NOT NULL AND root_seen = 0 THEN ?14
                            ELSE workflow END,
            plan_id = COALESCE(?3, plan_id),
            service = CASE WHEN ?12 = 1 AND ?4 IS NOT NULL THEN ?4
                           ELSE COALESCE(service, ?4) END,
            start_ns = MIN(start_ns, ?5),
            end_ns = MAX(end_ns, ?6),
            tool_start_ns = CASE WHEN ?7 IS NULL THEN tool_start_ns
                                 ELSE MIN(COALESCE(tool_start_ns, ?7), ?7) END,
            tool_end_ns = CASE WHEN ?8 IS NULL THEN tool_end_ns
                               ELSE MAX(COALESCE(tool_end_ns, ?8), ?8) END,
            span_count = span_count + ?9,
            tool_count = tool_count + ?10,
            error_count = error_count + ?11,
            root_seen = MAX(root_seen, ?12),
            bytes = bytes + ?13,
            version = version + 1,
            received_ns = ?15",
        params![
            trace_id,
            workflow,
            f.plan_id,
            f.service,
            i(f.start.unwrap_or(0)),
            i(f.end),
            f.tool_start.map(i),
            f.tool_end.map(i),
            f.spans,
            f.tools,
            f.errors,
            f.root as i64,
            blob.len() as i64,
            f.root_name,
            i(now),
        ],
    )?;
    Ok(0)
}

/// Deletes traces past the age, count and size limits, oldest (by arrival) first.
pub(crate) fn apply_retention(conn: &Connection, r: &Retention) -> rusqlite::Result<u64> {
    let mut deleted = 0u64;
    let delete_where = |cond: &str, p: i64| -> rusqlite::Result<u64> {
        let tx = conn.unchecked_transaction()?;
        for table in ["chunks", "run_stats", "tool_stats"] {
            tx.execute(
                &format!(
                    "DELETE FROM {table} WHERE trace_id IN (SELECT trace_id FROM traces WHERE {cond})"
                ),
                [p],
            )?;
        }
        let n = tx.execute(&format!("DELETE FROM traces WHERE {cond}"), [p])?;
        tx.commit()?;
        Ok(n as u64)
    };
    if let Some(age) = r.max_age {
        let cutoff = now_ns().saturating_sub(age.as_nanos() as u64) as i64;
        deleted += delete_where("received_ns < ?1", cutoff)?;
    }
    if let Some(max) = r.max_traces {
        let count: i64 = conn.query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?;
        if count > max as i64 {
            let cutoff: i64 = conn.query_row(
                "SELECT received_ns FROM traces ORDER BY received_ns DESC LIMIT 1 OFFSET ?1",
                [max as i64],
                |r| r.get(0),
            )?;
            deleted += delete_where("received_ns <= ?1", cutoff)?;
        }
    }
    if let Some(max_bytes) = r.max_bytes {
        for _ in 0..64 {
            let used: i64 = conn.query_row(
                "SELECT (page_count - freelist_count) * page_size
                 FROM pragma_page_count, pragma_freelist_count, pragma_page_size",
                [],
                |r| r.get(0),
            )?;
            if used <= max_bytes as i64 {
                break;
            }
            // Drop the oldest tenth (at least one trace) and look again.
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))?;
            if count == 0 {
                break;
            }
            let cutoff: i64 = conn.query_row(
                "SELECT received_ns FROM traces ORDER BY received_ns ASC LIMIT 1 OFFSET ?1",
                [(count / 10).max(1) - 1],
                |r| r.get(0),
            )?;
            deleted += delete_where("received_ns <= ?1", cutoff)?;
        }
    }
    if deleted > 0 {
        conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);")?;
    }
    Ok(deleted)
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A small pool of read connections (WAL lets them read while the writer commits).
#[derive(Debug)]
pub(crate) struct Readers {
    dir: PathBuf,
    pool: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(dir: &Path) -> Arc<Self> {
        Arc::new(Readers {
            dir: dir.to_owned(),
            pool: Mutex::new(Vec::new()),
        })
    }

    /// Runs `f` with a read connection.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, String>,
    ) -> Result<T, String> {
        let conn = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    db_path(&self.dir),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| format!("cannot open the store: {e}"))?;
                c.busy_timeout(Duration::from_secs(10))
                    .map_err(|e| e.to_string())?;
                c
            }
        };
        let out = f(&conn);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < 8 {
            pool.push(conn);
        }
        out
    }
}

/// One row of the trace list.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TraceSummary {
    pub(crate) trace_id: String,
    pub(crate) workflow: Option<String>,
    pub(crate) plan_id: Option<String>,
    /// RFC 3339.
    pub(crate) start: String,
    pub(crate) makespan_ms: f64,
    /// `ok`, `error`, or `running` (the root span has not arrived).
    pub(crate) status: String,
    pub(crate) tool_count: i64,
    pub(crate) span_count: i64,
    pub(crate) service: Option<String>,
}

/// Filters of the trace list.
#[derive(Debug, Default, Clone)]
pub(crate) struct ListQuery {
    pub(crate) limit: usize,
    pub(crate) workflow: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) min_ms: Option<f64>,
    pub(crate) since_ns: Option<u64>,
}

const MAKESPAN_NS: &str = "(CASE WHEN tool_count > 0 THEN tool_end_ns - tool_start_ns
                                 ELSE end_ns - start_ns END)";
const STATUS: &str = "(CASE WHEN error_count > 0 THEN 'error'
                            WHEN root_seen = 0 THEN 'running' ELSE 'ok' END)";

fn summary_columns() -> String {
    format!(
        "trace_id, workflow, plan_id, start_ns, {MAKESPAN_NS}, {STATUS}, tool_count, span_count, service"
    )
}

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TraceSummary> {
    Ok(TraceSummary {
        trace_id: r.get(0)?,
        workflow: r.get(1)?,
        plan_id: r.get(2)?,
        start: orchestrace_inspect::time::rfc3339(r.get::<_, i64>(3)?.max(0) as u64),
        makespan_ms: r.get::<_, i64>(4)? as f64 / 1e6,
        status: r.get(5)?,
        tool_count: r.get(6)?,
        span_count: r.get(7)?,
        service: r.get(8)?,
    })
}

/// The trace list, newest first.
pub(crate) fn list(conn: &Connection, q: &ListQuery) -> Result<Vec<TraceSummary>, String> {
    let mut sql = format!("SELECT {} FROM traces WHERE 1=1", summary_columns());
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(w) = &q.workflow {
        args.push(w.clone().into());
        sql += &format!(" AND workflow = ?{}", args.len());
    }
    if let Some(s) = &q.status {
        args.push(s.clone().into());
        sql += &format!(" AND {STATUS} = ?{}", args.len());
    }
    if let Some(ms) = q.min_ms {
        args.push(((ms * 1e6) as i64).into());
        sql += &format!(" AND {MAKESPAN_NS} >= ?{}", args.len());
    }
    if let Some(since) = q.since_ns {
        args.push((since.min(i64::MAX as u64) as i64).into());
        sql += &format!(" AND start_ns >= ?{}", args.len());
    }
    args.push((q.limit as i64).into());
    sql += &format!(" ORDER BY start_ns DESC LIMIT ?{}", args.len());
    let mut stmt = conn.prepare_cached(&sql).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), summary_row)
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

/// One trace's summary.
pub(crate) fn summary(conn: &Connection, id: &str) -> Result<Option<TraceSummary>, String> {
    conn.query_row(
        &format!(
            "SELECT {} FROM traces WHERE trace_id = ?1",
            summary_columns()
        ),
        [id],
        summary_row,
    )
    .optional()
    .map_err(|e| e.to_string())
}

/// A trace's spans as one OTLP `TracesData` (`None` when the store has no such trace).
pub(crate) fn load_data(conn: &Connection, id: &str) -> Result<Option<TracesData>, String> {
    let mut stmt = conn
        .prepare_cached("SELECT data FROM chunks WHERE trace_id = ?1 ORDER BY id")
        .map_err(|e| e.to_string())?;
    let mut rows = stmt.query([id]).map_err(|e| e.to_string())?;
    let mut data = TracesData::default();
    let mut any = false;
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let blob = row.get_ref(0).map_err(|e| e.to_string())?;
        let part = TracesData::decode(blob.as_blob().map_err(|e| e.to_string())?)
            .map_err(|e| format!("stored chunk of {id} does not decode: {e}"))?;
        data.resource_spans.extend(part.resource_spans);
        any = true;
    }
    Ok(any.then_some(data))
}

/// A trace as OTLP JSON (`{"resourceSpans": …}`).
pub(crate) fn load_json(conn: &Connection, id: &str) -> Result<Option<serde_json::Value>, String> {
    Ok(load_data(conn, id)?.map(|d| serde_json::to_value(&d).unwrap_or(serde_json::Value::Null)))
}

/// The cached analysis when it is current, and the trace's version.
pub(crate) fn cached_analysis(
    conn: &Connection,
    id: &str,
) -> Result<Option<(Option<String>, i64)>, String> {
    conn.query_row(
        "SELECT CASE WHEN analysis_version = version THEN analysis END, version
         FROM traces WHERE trace_id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(|e| e.to_string())
}

/// Traces whose analysis is missing or stale and that have been quiet a while: (id, version).
pub(crate) fn stale_analyses(
    conn: &Connection,
    limit: usize,
) -> Result<Vec<(String, i64)>, String> {
    let quiet = now_ns().saturating_sub(QUIET_BEFORE_ANALYSIS.as_nanos() as u64) as i64;
    let mut stmt = conn
        .prepare_cached(
            // `run_stats` is written with every cached analysis; reading it instead of
            // `traces.analysis_version` keeps this poll off the cached analysis text.
            "SELECT t.trace_id, t.version FROM traces t
             LEFT JOIN run_stats r ON r.trace_id = t.trace_id
             WHERE (r.version IS NULL OR r.version <> t.version) AND t.received_ns < ?1
             ORDER BY t.received_ns DESC LIMIT ?2",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(params![quiet, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

/// Loads a stored trace into the inspector's model (`None` when the store has no such trace).
pub(crate) fn load_trace(conn: &Connection, id: &str) -> Result<Option<inspector::Trace>, String> {
    let Some(doc) = load_json(conn, id)? else {
        return Ok(None);
    };
    inspector::load_otlp(&doc).map(Some)
}

/// The key under which the analysis of a trace at a version is computed (once, whoever asks).
pub(crate) fn analysis_key(id: &str, version: i64) -> String {
    format!("analysis/{id}/{version}")
}

/// The analysis JSON of a trace at `version`: computed once whoever asks (the analyzer, a
/// request, a page), or taken from the flight that is computing it.
pub(crate) fn shared_analysis(
    flights: &std::sync::Arc<crate::flight::Flights>,
    readers: &Readers,
    id: &str,
    version: i64,
) -> crate::flight::Outcome {
    flights.run_blocking(analysis_key(id, version), || {
        readers
            .with(|c| compute_analysis(c, id))
            .map(|a| a.map(|(json, _)| json))
    })
}

/// Computes the analysis of a stored trace: its JSON text (as `orchestrace inspect --json`)
/// and its statistics rows.
pub(crate) fn compute_analysis(
    conn: &Connection,
    id: &str,
) -> Result<Option<(String, RunRows)>, String> {
    let Some(trace) = load_trace(conn, id)? else {
        return Ok(None);
    };
    let analysis = inspector::analyze(&trace);
    Ok(Some((
        inspector::analysis_json(&analysis),
        RunRows::of(&analysis),
    )))
}

/// One of the last runs of a workflow, newest first, with its statistics when its cached
/// analysis is current (`None`: not analysed yet, or stale).
#[derive(Debug)]
pub(crate) struct WorkflowRun {
    pub(crate) summary: TraceSummary,
    /// Whether the cached analysis is current (then `rows` is `None` only for a trace the
    /// analyzer could not read).
    pub(crate) current: bool,
    pub(crate) rows: Option<RunRows>,
}

/// The last `last` runs of a workflow (newest first) with their cached statistics rows: one
/// query for the runs, one for their tools. Neither reads the cached analysis text.
pub(crate) fn workflow_runs(
    conn: &Connection,
    workflow: &str,
    last: usize,
) -> Result<Vec<WorkflowRun>, String> {
    let cols = summary_columns()
        .split(", ")
        .map(|c| {
            if c.starts_with('(') {
                c.to_owned()
            } else {
                format!("t.{c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn
        .prepare_cached(&format!(
            // `run_stats.version`, not `traces.analysis_version`: that column sits past the
            // cached analysis text in the row, which this query never needs to read.
            "SELECT {cols}, COALESCE(r.version = t.version, 0),
                r.makespan_ms, r.serial_duration_ms, r.time_saved_ms, r.critical_path_ms,
                r.critical_path
             FROM traces t LEFT JOIN run_stats r ON r.trace_id = t.trace_id
             WHERE t.workflow = ?1 ORDER BY t.start_ns DESC LIMIT ?2"
        ))
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(params![workflow, last as i64], |r| {
            let current: bool = r.get(9)?;
            let critical: Option<String> = r.get(14)?;
            let rows = match (current, critical) {
                (true, Some(cp)) => Some(RunRows {
                    makespan_ms: r.get(10)?,
                    serial_duration_ms: r.get(11)?,
                    time_saved_ms: r.get(12)?,
                    critical_path_ms: r.get(13)?,
                    critical_path: serde_json::from_str(&cp).unwrap_or_default(),
                    tools: Vec::new(),
                }),
                _ => None,
            };
            Ok(WorkflowRun {
                summary: summary_row(r)?,
                current,
                rows,
            })
        })
        .map_err(|e| e.to_string())?;
    let mut runs = rows
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    let index: HashMap<String, usize> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.rows.is_some())
        .map(|(i, r)| (r.summary.trace_id.clone(), i))
        .collect();
    let mut seqs: Vec<Vec<(i64, ToolRow)>> = runs.iter().map(|_| Vec::new()).collect();
    let mut stmt = conn
        .prepare_cached(
            // Driven by the runs (each a range of the primary key); the order within a run
            // is restored below, so no sort of the whole result.
            "SELECT s.trace_id, s.tool_id, s.tool, s.ord, s.duration_ms, s.error, s.critical,
                s.slack_ms, s.seq
             FROM (SELECT trace_id FROM traces WHERE workflow = ?1
                   ORDER BY start_ns DESC LIMIT ?2) t
             CROSS JOIN tool_stats s ON s.trace_id = t.trace_id",
        )
        .map_err(|e| e.to_string())?;
    let mut q = stmt
        .query(params![workflow, last as i64])
        .map_err(|e| e.to_string())?;
    while let Some(r) = q.next().map_err(|e| e.to_string())? {
        let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, (i64, ToolRow))> {
            Ok((
                r.get(0)?,
                (
                    r.get(8)?,
                    ToolRow {
                        id: r.get(1)?,
                        tool: r.get(2)?,
                        order: r.get(3)?,
                        duration_ms: r.get(4)?,
                        error: r.get(5)?,
                        critical: r.get(6)?,
                        slack_ms: r.get(7)?,
                    },
                ),
            ))
        };
        let (trace_id, row) = get(r).map_err(|e| e.to_string())?;
        if let Some(&i) = index.get(&trace_id) {
            seqs[i].push(row);
        }
    }
    for (run, mut tools) in runs.iter_mut().zip(seqs) {
        if let Some(rows) = run.rows.as_mut() {
            tools.sort_by_key(|(seq, _)| *seq);
            rows.tools = tools.into_iter().map(|(_, t)| t).collect();
        }
    }
    Ok(runs)
}

/// Counts for `/healthz`: traces, spans, and traces whose analysis is not cached yet.
pub(crate) fn counts(conn: &Connection) -> Result<(i64, i64, i64), String> {
    conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(t.span_count), 0),
            COALESCE(SUM(r.version IS NULL OR r.version <> t.version), 0)
         FROM traces t LEFT JOIN run_stats r ON r.trace_id = t.trace_id",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .map_err(|e| e.to_string())
}
