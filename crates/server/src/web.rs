//! The browser UI and the JSON API (one axum router), the OTLP/HTTP router, and the token
//! check they share.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use std::time::Duration;

use crate::config::MAX_BODY_BYTES;
use crate::flight::Flights;
use crate::ingest::{self, Ingest};
use crate::store::{self, ListQuery, Readers};
use crate::{inspector, jaeger, stats};

const INDEX_HTML: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

/// No inline script anywhere; styles inline are allowed for the inspector's report.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// The cookie that carries the token for the browser.
const TOKEN_COOKIE: &str = "orchestrace_token";

/// Compares tokens in time independent of where they differ.
pub(crate) fn same_token(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = (a.len() ^ b.len()) as u64;
    for (i, x) in a.iter().enumerate() {
        diff |= u64::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Shared by every handler.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) readers: Arc<Readers>,
    pub(crate) jaeger: Option<Arc<str>>,
    /// Analyses and pages being computed, and the last ones computed.
    pub(crate) flights: Arc<Flights>,
}

/// How long a request waits for an analysis or a page before answering "still analysing".
const REQUEST_BUDGET: Duration = Duration::from_secs(5);

/// The `Retry-After` of that answer, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// 503 with `Retry-After`: the work goes on and the retry finds it done.
fn still_analysing(html: bool) -> Response {
    let message = "still analysing this trace; retry in a few seconds";
    let mut r = if html {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!(
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\">\
                 <title>orchestrace · analysing</title>\
                 <link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
                 <body><nav class=\"ot-nav\"><a href=\"/\">orchestrace</a></nav>\
                 <p>Still analysing this trace; this page reloads in {RETRY_AFTER_SECS} s.</p>\
                 </body></html>\n"
            ),
        )
            .into_response()
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, message)
    };
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    r
}

/// Runs `work` through the flights within [`REQUEST_BUDGET`].
async fn bounded(
    s: &AppState,
    key: String,
    html: bool,
    work: impl FnOnce() -> Result<Option<String>, String> + Send + 'static,
) -> Result<Option<String>, Response> {
    match s.flights.run(key, REQUEST_BUDGET, work).await {
        None => Err(still_analysing(html)),
        Some(outcome) => match outcome.as_ref() {
            Ok(v) => Ok(v.clone()),
            Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.clone())),
        },
    }
}

#[derive(Debug, Clone)]
struct Auth {
    token: Option<Arc<str>>,
}

/// Bearer header, the cookie, or `?token=` (which then sets the cookie).
async fn check_token(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let Some(token) = auth.token.as_deref() else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
        .next();
    let query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_owned)
    });
    let ok = bearer.is_some_and(|t| same_token(token, t))
        || cookie.is_some_and(|t| same_token(token, t));
    if ok {
        return next.run(request).await;
    }
    if query.as_deref().is_some_and(|t| same_token(token, t)) {
        let mut response = next.run(request).await;
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
        return response;
    }
    let mut r = (StatusCode::UNAUTHORIZED, "a token is required\n").into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut r = next.run(request).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The UI and API router.
pub(crate) fn ui_router(state: AppState, token: Option<Arc<str>>) -> Router {
    Router::new()
        .route("/", get(shell))
        .route("/workflows/{name}", get(shell))
        .route("/compare", get(shell))
        .route("/jaeger", get(shell))
        .route("/traces/{id}", get(trace_page))
        .route("/jaeger/traces/{id}", get(jaeger_trace_page))
        .route("/assets/app.js", get(app_js))
        .route("/assets/app.css", get(app_css))
        .route("/healthz", get(healthz))
        .route("/api/config", get(api_config))
        .route("/api/traces", get(api_list))
        .route("/api/traces/{id}", get(api_trace))
        .route("/api/traces/{id}/summary", get(api_summary))
        .route("/api/traces/{id}/analysis", get(api_analysis))
        .route("/api/workflows/{name}/stats", get(api_workflow_stats))
        .route("/api/jaeger/traces", get(api_jaeger_search))
        .route("/api/jaeger/traces/{id}/analysis", get(api_jaeger_analysis))
        .with_state(state)
        .layer(middleware::from_fn_with_state(Auth { token }, check_token))
        .layer(middleware::from_fn(security_headers))
}

/// The OTLP/HTTP router (`POST /v1/traces`).
pub(crate) fn otlp_router(ingest: Ingest, token: Option<Arc<str>>) -> Router {
    Router::new()
        .route("/v1/traces", post(ingest::http_export))
        .with_state(ingest)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(Auth { token }, check_token))
}

/// Plain-text error response.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into() + "\n").into_response()
}

fn json_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// A trace id from a path: 32 hex digits (16 bytes), lower-cased.
#[allow(clippy::result_large_err)]
fn trace_id(raw: &str) -> Result<String, Response> {
    if raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(error(
            StatusCode::BAD_REQUEST,
            "a trace id is 32 hexadecimal digits",
        ))
    }
}

/// Runs blocking store work off the async threads.
#[allow(clippy::result_large_err)]
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn shell() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

async fn app_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_JS,
    )
        .into_response()
}

async fn app_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        APP_CSS,
    )
        .into_response()
}

async fn healthz(State(s): State<AppState>) -> Response {
    let r = s.readers.clone();
    match blocking(move || r.with(store::counts)).await {
        Ok((traces, spans, pending)) => json_response(
            json!({
                "status": "ok",
                "traces": traces,
                "spans": spans,
                "pending_analyses": pending,
            })
            .to_string(),
        ),
        Err(e) => e,
    }
}

async fn api_config(State(s): State<AppState>) -> Response {
    json_response(json!({"jaeger": s.jaeger.as_deref()}).to_string())
}

#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<String>,
    workflow: Option<String>,
    status: Option<String>,
    min_ms: Option<String>,
    since: Option<String>,
}

fn parse_list(p: ListParams) -> Result<ListQuery, String> {
    let limit = match p.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| format!("limit: expected a count, got {l:?}"))?
            .clamp(1, 10_000),
    };
    let status = p.status.filter(|s| !s.is_empty());
    if let Some(s) = &status {
        if !matches!(s.as_str(), "ok" | "error" | "running") {
            return Err(format!("status: expected ok, error or running, got {s:?}"));
        }
    }
    let min_ms = match p.min_ms.as_deref() {
        None | Some("") => None,
        Some(m) => Some(
            m.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("min_ms: expected milliseconds, got {m:?}"))?,
        ),
    };
    let since_ns = match p.since.as_deref() {
        None | Some("") => None,
        Some(s) => Some(orchestrace_inspect::time::parse_since(s, store::now_ns())?),
    };
    Ok(ListQuery {
        limit,
        workflow: p.workflow.filter(|w| !w.is_empty()),
        status,
        min_ms,
        since_ns,
    })
}

async fn api_list(State(s): State<AppState>, Query(p): Query<ListParams>) -> Response {
    let q = match parse_list(p) {
        Ok(q) => q,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let r = s.readers.clone();
    match blocking(move || r.with(|c| store::list(c, &q))).await {
        Ok(rows) => json_response(serde_json::to_string(&rows).unwrap_or_default()),
        Err(e) => e,
    }
}

async fn api_trace(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match trace_id(&id) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let r = s.readers.clone();
    let found = blocking(move || {
        r.with(|c| store::load_data(c, &id))
            .map(|d| d.map(|d| serde_json::to_string(&d).unwrap_or_default()))
    })
    .await;
    match found {
        Ok(Some(text)) => json_response(text),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(e) => e,
    }
}

async fn api_summary(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match trace_id(&id) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let r = s.readers.clone();
    match blocking(move || r.with(|c| store::summary(c, &id))).await {
        Ok(Some(row)) => json_response(serde_json::to_string(&row).unwrap_or_default()),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(e) => e,
    }
}

/// A path's trace id, checked, with the stored trace's cached analysis (when there is one) and
/// its version; a 400 or 404 answer otherwise.
async fn cached_analysis(
    s: &AppState,
    id: &str,
) -> Result<(String, Option<String>, i64), Response> {
    let id = trace_id(id)?;
    let r = s.readers.clone();
    let lookup = {
        let id = id.clone();
        blocking(move || r.with(|c| store::cached_analysis(c, &id))).await?
    };
    match lookup {
        None => Err(error(StatusCode::NOT_FOUND, "no such trace")),
        Some((text, version)) => Ok((id, text, version)),
    }
}

async fn api_analysis(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let (id, version) = match cached_analysis(&s, &id).await {
        // A trace the analyzer could not read is cached as `null`: recompute to say why.
        Ok((_, Some(text), _)) if text != "null" => return json_response(text),
        Ok((id, _, version)) => (id, version),
        Err(e) => return e,
    };
    let r = s.readers.clone();
    let key = store::analysis_key(&id, version);
    let work = move || {
        r.with(|c| store::compute_analysis(c, &id))
            .map(|a| a.map(|(json, _)| json))
    };
    match bounded(&s, key, false, work).await {
        Ok(Some(text)) => json_response(text),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(e) => e,
    }
}

#[derive(Debug, Deserialize)]
struct StatsParams {
    last: Option<String>,
}

async fn api_workflow_stats(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<StatsParams>,
) -> Response {
    let last = match p.last.as_deref() {
        None | Some("") => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) => n.clamp(1, 10_000),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("last: expected a count, got {l:?}"),
                )
            }
        },
    };
    let r = s.readers.clone();
    match blocking(move || r.with(|c| stats::workflow_stats(c, &name, last))).await {
        Ok(v) => json_response(v.to_string()),
        Err(e) => e,
    }
}

/// Escapes text for HTML: the report's own escaping.
pub(crate) use orchestrace_inspect::escape_html as esc;

/// Percent-encodes a path segment.
pub(crate) fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inspector's report with the server's navigation bar, stylesheet and script added.
fn page_from_report(report: &str, nav: &str, status: &str) -> String {
    let head_extra = "<link rel=\"stylesheet\" href=\"/assets/app.css\">\n\
                      <script src=\"/assets/app.js\" defer></script>\n</head>";
    let body_tag = format!("<body data-page=\"trace\" data-status=\"{}\">", esc(status));
    let html = report.replacen("</head>", head_extra, 1);
    match html.find("<body>") {
        Some(i) => format!(
            "{}{body_tag}\n{nav}{}",
            &html[..i],
            &html[i + "<body>".len()..]
        ),
        None => format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\">{head_extra}{body_tag}{nav}{html}</body></html>"
        ),
    }
}

fn html_response(html: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn trace_page(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let (id, version) = match cached_analysis(&s, &id).await {
        Ok((id, _, version)) => (id, version),
        Err(e) => return e,
    };
    let r = s.readers.clone();
    let jaeger = s.jaeger.clone();
    let flights = s.flights.clone();
    let key = format!("page/{id}/{version}");
    let work = move || {
        // The analysis first (shared with the analyzer and the analysis endpoint), then the
        // page: one trace model in memory at a time.
        let cached = r
            .with(|c| store::cached_analysis(c, &id))?
            .and_then(|(text, _)| text)
            .and_then(|t| inspector::parse_analysis(&t));
        let analysis =
            cached.or_else(
                || match store::shared_analysis(&flights, &r, &id, version).as_ref() {
                    Ok(Some(json)) => inspector::parse_analysis(json),
                    _ => None,
                },
            );
        r.with(|c| render_trace_page(c, &id, analysis, jaeger.as_deref()))
    };
    match bounded(&s, key, true, work).await {
        Ok(Some(html)) => html_response(html),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such trace"),
        Err(e) => e,
    }
}

/// The trace page of a stored trace, from its cached analysis when current.
fn render_trace_page(
    c: &rusqlite::Connection,
    id: &str,
    cached: Option<inspector::Analysis>,
    jaeger: Option<&str>,
) -> Result<Option<String>, String> {
    let Some(summary) = store::summary(c, id)? else {
        return Ok(None);
    };
    let url = format!("/api/traces/{id}/analysis");
    let spans = usize::try_from(summary.span_count).unwrap_or(0);
    let report = match cached {
        // A large trace's page needs its analysis alone.
        Some(a) if spans > inspector::FULL_REPORT_MAX_SPANS => {
            inspector::summarised_html(&a, spans, &url)
        }
        cached => {
            let Some(trace) = store::load_trace(c, id)? else {
                return Ok(None);
            };
            let analysis = cached.unwrap_or_else(|| inspector::analyze(&trace));
            inspector::report_html(&trace, &analysis, &url)
        }
    };
    let mut nav = String::from("<nav class=\"ot-nav\"><a href=\"/\">orchestrace</a>");
    if let Some(w) = &summary.workflow {
        nav += &format!(
            "<a href=\"/workflows/{}\">workflow {}</a><a href=\"/compare?a={id}\">compare…</a>",
            url_segment(w),
            esc(w)
        );
    }
    nav += &format!(
        "<a href=\"/api/traces/{id}\">OTLP JSON</a><a href=\"/api/traces/{id}/analysis\">analysis JSON</a>"
    );
    if let Some(j) = jaeger {
        nav += &format!(
            "<a href=\"{}/trace/{id}\" rel=\"noreferrer\">Jaeger</a>",
            esc(j.trim_end_matches('/'))
        );
    }
    nav += &format!(
        "<span class=\"ot-meta\">{} spans · {}</span></nav>\n",
        summary.span_count,
        esc(&summary.status)
    );
    Ok(Some(page_from_report(&report, &nav, &summary.status)))
}

#[derive(Debug, Deserialize)]
struct JaegerSearch {
    service: Option<String>,
    lookback: Option<String>,
    limit: Option<String>,
}

async fn api_jaeger_search(State(s): State<AppState>, Query(p): Query<JaegerSearch>) -> Response {
    let Some(base) = s.jaeger.clone() else {
        return error(StatusCode::NOT_FOUND, "no Jaeger configured (--jaeger URL)");
    };
    let Some(service) = p.service.filter(|s| !s.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "service: required");
    };
    let lookback = match p.lookback.as_deref() {
        None | Some("") => std::time::Duration::from_secs(3600),
        Some(l) => match orchestrace_inspect::time::parse_duration(l) {
            Some(d) => d,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("lookback: expected a duration like 1h, got {l:?}"),
                )
            }
        },
    };
    let limit = p
        .limit
        .as_deref()
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 200);
    match blocking(move || jaeger::search(&base, &service, lookback, limit)).await {
        Ok(v) => json_response(v.to_string()),
        Err(e) => e,
    }
}

#[allow(clippy::result_large_err)]
async fn jaeger_trace_doc(s: &AppState, id: &str) -> Result<inspector::Trace, Response> {
    let Some(base) = s.jaeger.clone() else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "no Jaeger configured (--jaeger URL)",
        ));
    };
    let id = id.to_owned();
    blocking(move || jaeger::fetch_trace(&base, &id)).await
}

async fn api_jaeger_analysis(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match trace_id(&id) {
        Ok(id) => id,
        Err(e) => return e,
    };
    match jaeger_trace_doc(&s, &id).await {
        Ok(trace) => json_response(inspector::analysis_json(&inspector::analyze(&trace))),
        Err(e) => e,
    }
}

async fn jaeger_trace_page(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let id = match trace_id(&id) {
        Ok(id) => id,
        Err(e) => return e,
    };
    match jaeger_trace_doc(&s, &id).await {
        Ok(trace) => {
            let analysis = inspector::analyze(&trace);
            let report = inspector::report_html(
                &trace,
                &analysis,
                &format!("/api/jaeger/traces/{id}/analysis"),
            );
            let base = s.jaeger.as_deref().unwrap_or("").trim_end_matches('/');
            let nav = format!(
                "<nav class=\"ot-nav\"><a href=\"/\">orchestrace</a><a href=\"/jaeger\">Jaeger search</a>\
                 <a href=\"/api/jaeger/traces/{id}/analysis\">analysis JSON</a>\
                 <a href=\"{}/trace/{id}\" rel=\"noreferrer\">open in Jaeger</a>\
                 <span class=\"ot-meta\">from Jaeger</span></nav>\n",
                esc(base)
            );
            html_response(page_from_report(&report, &nav, "ok"))
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("abcdefgh", "abcdefgh"));
        assert!(!same_token("abcdefgh", "abcdefg"));
        assert!(!same_token("abcdefgh", "abcdefghi"));
        assert!(!same_token("abcdefgh", "abcdefgX"));
        assert!(!same_token("abcdefgh", ""));
    }

    #[test]
    fn report_gets_nav_and_assets() {
        let page = page_from_report(
            "<html><head><style>x</style></head>\n<body>\n<h1>r</h1></body></html>",
            "<nav>n</nav>",
            "ok",
        );
        assert!(page.contains("<script src=\"/assets/app.js\" defer></script>\n</head>"));
        assert!(page
            .contains("<body data-page=\"trace\" data-status=\"ok\">\n<nav>n</nav>\n<h1>r</h1>"));
    }
}
