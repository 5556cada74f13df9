// orchestrace serve: the live views. Every string from a trace reaches the page through
// textContent or setAttribute (never innerHTML), so span data is always escaped.
"use strict";

const POLL_MS = 2000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") e.textContent = String(v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = String(v); else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) e.append(c);
  return e;
}

function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const a = Math.abs(ms), sign = ms < 0 ? "-" : "";
  if (a >= 1000) return sign + (a / 1000).toFixed(2).replace(/\.?0+$/, "") + "s";
  if (a >= 1) return sign + a.toFixed(1).replace(/\.0$/, "") + "ms";
  if (a > 0) return sign + a.toFixed(2) + "ms";
  return "0ms";
}

function fmtTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

async function getJSON(url) {
  const r = await fetch(url, { headers: { Accept: "application/json" } });
  if (!r.ok) throw new Error(url + ": " + r.status + " " + (await r.text()).trim());
  return r.json();
}

function status(s) { return el("span", { class: "st " + s, text: s }); }

function traceLink(id) {
  return el("a", { href: "/traces/" + encodeURIComponent(id), class: "mono", text: id.slice(0, 16) + "…" });
}

function workflowLink(w) {
  return w ? el("a", { href: "/workflows/" + encodeURIComponent(w), text: w }) : el("span", { class: "muted", text: "–" });
}

function showError(root, err) {
  root.append(el("div", { class: "error-box", text: String(err.message || err) }));
}

// ---- trace list ----

function listPage(root) {
  const params = new URLSearchParams(location.search);
  const field = (name, label, attrs) =>
    el("label", {}, label, el("input", Object.assign({ name, value: params.get(name) || "" }, attrs)));
  const statusSel = el("select", { name: "status" },
    ["", "ok", "error", "running"].map((s) =>
      el("option", { value: s, selected: params.get("status") === s ? "selected" : null, text: s || "any" })));
  const form = el("form", { class: "filters", method: "get", action: "/" },
    field("workflow", "workflow", { placeholder: "any" }),
    el("label", {}, "status", statusSel),
    field("min_ms", "slower than (ms)", { inputmode: "decimal", placeholder: "0" }),
    field("since", "since", { placeholder: "1h or 2024-05-01T00:00:00Z" }),
    field("limit", "limit", { inputmode: "numeric", placeholder: "100" }),
    el("button", { type: "submit", text: "Filter" }));
  const live = el("span", { class: "muted", id: "live" });
  const body = el("tbody", { id: "traces" });
  const table = el("table", { class: "grid" },
    el("thead", {}, el("tr", {},
      ["start", "trace", "workflow", "plan", "status"].map((h) => el("th", { text: h })),
      el("th", { class: "num", text: "makespan" }), el("th", { class: "num", text: "tools" }),
      el("th", { class: "num", text: "spans" }))),
    body);
  root.append(el("h1", { text: "Traces" }), form, live, table);
  const api = new URLSearchParams();
  for (const k of ["workflow", "status", "min_ms", "since", "limit"]) {
    if (params.get(k)) api.set(k, params.get(k));
  }
  const seen = new Map();
  let first = true;
  async function refresh() {
    try {
      const rows = await getJSON("/api/traces?" + api.toString());
      body.replaceChildren(...rows.map((t) => {
        const key = t.trace_id + "/" + t.span_count;
        const fresh = !first && !seen.has(key);
        seen.set(key, true);
        return el("tr", { class: fresh ? "fresh" : null, "data-trace": t.trace_id },
          el("td", { text: fmtTime(t.start) }),
          el("td", {}, traceLink(t.trace_id)),
          el("td", {}, workflowLink(t.workflow)),
          el("td", { text: t.plan_id || "–" }),
          el("td", {}, status(t.status)),
          el("td", { class: "num", text: fmtMs(t.makespan_ms) }),
          el("td", { class: "num", text: t.tool_count }),
          el("td", { class: "num", text: t.span_count }));
      }));
      if (rows.length === 0) {
        body.append(el("tr", {}, el("td", { colspan: 8, class: "empty",
          text: "No traces yet. Point an OTLP exporter at this server (see the otlp lines it printed)." })));
      }
      live.textContent = "live · updated " + new Date().toLocaleTimeString();
      first = false;
    } catch (e) {
      live.textContent = "update failed: " + e.message;
    }
  }
  refresh();
  setInterval(refresh, POLL_MS);
}

// ---- workflow page ----

function trendChart(runs) {
  const W = 960, H = 240, L = 60, R = 16, T = 16, B = 30;
  const vals = runs.flatMap((r) => [r.makespan_ms, r.time_saved_ms]);
  const max = Math.max(1, ...vals), min = Math.min(0, ...vals);
  const x = (i) => L + (runs.length <= 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (runs.length - 1));
  const y = (v) => T + ((max - v) * (H - T - B)) / (max - min || 1);
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "makespan and time saved per run" });
  for (let k = 0; k <= 4; k++) {
    const v = min + ((max - min) * k) / 4;
    chart.append(svg("line", { class: "axis", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", text: fmtMs(v) }));
  }
  for (const [key, cls] of [["makespan_ms", "makespan"], ["time_saved_ms", "saved"]]) {
    const pts = runs.map((r, i) => `${x(i).toFixed(1)},${y(r[key]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { class: cls, points: pts }));
    runs.forEach((r, i) => {
      const dot = svg("circle", { class: "dot-" + cls, cx: x(i), cy: y(r[key]), r: 3 });
      dot.append(svg("title", { text: `${r.trace_id}: ${cls} ${fmtMs(r[key])}` }));
      chart.append(dot);
    });
  }
  chart.append(svg("text", { x: L, y: H - 8, text: "oldest" }),
    svg("text", { x: W - R, y: H - 8, "text-anchor": "end", text: "newest" }));
  return chart;
}

async function workflowPage(root, name) {
  const params = new URLSearchParams(location.search);
  const last = params.get("last") || "100";
  root.append(el("h1", {}, "Workflow ", el("span", { class: "mono", text: name })));
  let stats;
  try {
    stats = await getJSON(`/api/workflows/${encodeURIComponent(name)}/stats?last=${encodeURIComponent(last)}`);
  } catch (e) { showError(root, e); return; }
  const runs = stats.per_run;
  if (runs.length === 0) { root.append(el("p", { class: "empty", text: "No runs of this workflow yet." })); return; }
  const sorted = (k) => runs.map((r) => r[k]).sort((a, b) => a - b);
  const median = (k) => { const s = sorted(k); return s[Math.ceil(s.length / 2) - 1]; };
  const failed = runs.filter((r) => r.status === "error").length;
  const card = (v, k) => el("div", { class: "card" }, el("div", { class: "v", text: v }), el("div", { class: "k", text: k }));
  root.append(el("div", { class: "cards", id: "wf-cards" },
    card(String(stats.runs), "runs (last " + last + ")"),
    card(fmtMs(median("makespan_ms")), "median makespan"),
    card(fmtMs(median("time_saved_ms")), "median time saved"),
    card(String(failed), "failed runs")));
  root.append(el("h2", { text: "Tools across runs" }),
    el("p", { class: "muted", text: "Which tools hold the plan back: how often each sits on the dependency critical path, and how much slack it usually has." }));
  const tbody = el("tbody", { id: "wf-tools" }, stats.tools.map((t) => el("tr", {},
    el("td", { class: "mono", text: t.id }), el("td", { text: t.tool }),
    el("td", { class: "num", text: t.runs }),
    el("td", { class: "num", text: fmtMs(t.p50_ms) }), el("td", { class: "num", text: fmtMs(t.p95_ms) }),
    el("td", { class: "num " + (t.error_rate > 0 ? "slower" : ""), text: (t.error_rate * 100).toFixed(0) + "%" }),
    el("td", {}, el("span", { class: "share", "data-w": Math.round(t.critical_share * 100) }),
      (t.critical_share * 100).toFixed(0) + "%"),
    el("td", { class: "num", text: fmtMs(t.mean_slack_ms) }))));
  root.append(el("table", { class: "grid" }, el("thead", {}, el("tr", {},
    el("th", { text: "tool id" }), el("th", { text: "tool" }), el("th", { class: "num", text: "runs" }),
    el("th", { class: "num", text: "p50" }), el("th", { class: "num", text: "p95" }),
    el("th", { class: "num", text: "errors" }), el("th", { text: "on critical path" }),
    el("th", { class: "num", text: "mean slack" }))), tbody));
  for (const s of tbody.querySelectorAll(".share")) s.style.width = (Number(s.dataset.w) || 0) + "px";
  root.append(el("h2", { text: "Makespan and time saved per run" }),
    el("p", { class: "legend" }, el("span", {}, el("i", { class: "swatch makespan" }), "makespan"),
      el("span", {}, el("i", { class: "swatch saved" }), "time saved by parallelism")),
    trendChart(runs));
  root.append(el("h2", { text: "Runs" }));
  const newest = runs.slice().reverse();
  root.append(el("table", { class: "grid" }, el("thead", {}, el("tr", {},
    el("th", { text: "start" }), el("th", { text: "trace" }), el("th", { text: "status" }),
    el("th", { class: "num", text: "makespan" }), el("th", { class: "num", text: "time saved" }),
    el("th", { text: "critical path" }), el("th", { text: "" }))),
  el("tbody", {}, newest.map((r, i) => el("tr", {},
    el("td", { text: fmtTime(r.start) }), el("td", {}, traceLink(r.trace_id)), el("td", {}, status(r.status)),
    el("td", { class: "num", text: fmtMs(r.makespan_ms) }), el("td", { class: "num", text: fmtMs(r.time_saved_ms) }),
    el("td", { class: "wrap mono", text: r.critical_path.join(" → ") }),
    el("td", {}, i + 1 < newest.length
      ? el("a", { href: `/compare?a=${newest[i + 1].trace_id}&b=${r.trace_id}`, text: "vs previous" }) : ""))))));
}

// ---- compare ----

async function comparePage(root) {
  const params = new URLSearchParams(location.search);
  const a = params.get("a"), b = params.get("b");
  root.append(el("h1", { text: "Compare two runs" }));
  if (!a || !b) {
    const form = el("form", { class: "filters", method: "get", action: "/compare" },
      el("label", {}, "run A (trace id)", el("input", { name: "a", value: a || "", size: 34 })),
      el("label", {}, "run B (trace id)", el("input", { name: "b", value: b || "", size: 34 })),
      el("button", { type: "submit", text: "Compare" }));
    root.append(form);
    if (a) {
      try {
        const s = await getJSON(`/api/traces/${encodeURIComponent(a)}/summary`);
        if (s.workflow) {
          const rows = await getJSON(`/api/traces?limit=20&workflow=${encodeURIComponent(s.workflow)}`);
          root.append(el("h2", { text: "Other runs of " + s.workflow }), el("ul", {}, rows
            .filter((r) => r.trace_id !== a)
            .map((r) => el("li", {}, el("a", { href: `/compare?a=${a}&b=${r.trace_id}`, text: fmtTime(r.start) }),
              " · " + fmtMs(r.makespan_ms) + " · ", status(r.status)))));
        }
      } catch (e) { showError(root, e); }
    }
    return;
  }
  let A, B;
  try {
    [A, B] = await Promise.all([a, b].map((id) => getJSON(`/api/traces/${encodeURIComponent(id)}/analysis`)));
  } catch (e) { showError(root, e); return; }
  const delta = (x, y) => {
    const d = y - x;
    const cls = d > 0.05 * Math.max(x, 1) ? "slower" : d < -0.05 * Math.max(x, 1) ? "faster" : "";
    return el("td", { class: "num " + cls, text: (d > 0 ? "+" : "") + fmtMs(d) + (x > 0 ? ` (${d > 0 ? "+" : ""}${((d / x) * 100).toFixed(0)}%)` : "") });
  };
  root.append(el("div", { class: "cards" },
    el("div", { class: "card" }, el("div", { class: "v", text: fmtMs(A.makespan_ms) + " → " + fmtMs(B.makespan_ms) }), el("div", { class: "k", text: "makespan" })),
    el("div", { class: "card" }, el("div", { class: "v", text: fmtMs(A.time_saved_ms) + " → " + fmtMs(B.time_saved_ms) }), el("div", { class: "k", text: "time saved" }))));
  const same = JSON.stringify(A.critical_path) === JSON.stringify(B.critical_path);
  root.append(el("h2", { text: "Critical path" }),
    el("p", { id: "cp-verdict", class: same ? "" : "crit", text: same ? "The critical path did not move." : "The critical path moved." }),
    el("p", { class: "mono" }, el("a", { href: "/traces/" + a, text: "A" }), ": " + A.critical_path.join(" → ") + " (" + fmtMs(A.critical_path_ms) + ")"),
    el("p", { class: "mono" }, el("a", { href: "/traces/" + b, text: "B" }), ": " + B.critical_path.join(" → ") + " (" + fmtMs(B.critical_path_ms) + ")"));
  const byId = new Map(A.tools.map((t) => [t.id, t]));
  const rows = B.tools.filter((t) => byId.has(t.id)).map((t) => [byId.get(t.id), t])
    .sort((p, q) => (q[1].duration_ms - q[0].duration_ms) - (p[1].duration_ms - p[0].duration_ms));
  root.append(el("h2", { text: "Tools, most slowed first" }), el("table", { class: "grid" },
    el("thead", {}, el("tr", {}, el("th", { text: "tool id" }), el("th", { text: "tool" }),
      el("th", { class: "num", text: "A" }), el("th", { class: "num", text: "B" }), el("th", { class: "num", text: "change" }),
      el("th", { text: "status A → B" }), el("th", { text: "critical A → B" }))),
    el("tbody", { id: "cmp-tools" }, rows.map(([x, y]) => el("tr", {},
      el("td", { class: "mono", text: y.id }), el("td", { text: y.tool }),
      el("td", { class: "num", text: fmtMs(x.duration_ms) }), el("td", { class: "num", text: fmtMs(y.duration_ms) }),
      delta(x.duration_ms, y.duration_ms),
      el("td", {}, status(x.status), " → ", status(y.status)),
      el("td", { text: (A.critical_path.includes(x.id) ? "yes" : "no") + " → " + (B.critical_path.includes(y.id) ? "yes" : "no") }))))));
}

// ---- Jaeger search ----

function jaegerPage(root) {
  const params = new URLSearchParams(location.search);
  root.append(el("h1", { text: "Traces in Jaeger" }),
    el("form", { class: "filters", method: "get", action: "/jaeger" },
      el("label", {}, "service", el("input", { name: "service", value: params.get("service") || "" })),
      el("label", {}, "lookback", el("input", { name: "lookback", value: params.get("lookback") || "1h" })),
      el("button", { type: "submit", text: "Search" })));
  if (!params.get("service")) return;
  getJSON("/api/jaeger/traces?" + params.toString()).then((rows) => {
    root.append(el("table", { class: "grid" }, el("thead", {}, el("tr", {},
      el("th", { text: "start" }), el("th", { text: "trace" }), el("th", { text: "root span" }),
      el("th", { class: "num", text: "duration" }), el("th", { class: "num", text: "spans" }))),
    el("tbody", {}, rows.map((r) => el("tr", {},
      el("td", { text: fmtTime(r.start) }),
      el("td", {}, el("a", { class: "mono", href: "/jaeger/traces/" + encodeURIComponent(r.trace_id), text: r.trace_id })),
      el("td", { text: r.root }), el("td", { class: "num", text: fmtMs(r.duration_ms) }),
      el("td", { class: "num", text: r.span_count }))))));
  }, (e) => showError(root, e));
}

// ---- trace page (the inspector's report, rendered by the server) ----

function tracePage() {
  if (document.body.dataset.status !== "running") return;
  const id = location.pathname.split("/").pop();
  let spans = null;
  setInterval(async () => {
    try {
      const s = await getJSON(`/api/traces/${encodeURIComponent(id)}/summary`);
      if (spans === null) spans = s.span_count;
      else if (s.span_count !== spans || s.status !== "running") location.reload();
    } catch (e) { /* the next poll tries again */ }
  }, POLL_MS);
}

async function health() {
  try {
    const h = await getJSON("/healthz");
    const m = document.getElementById("health");
    if (m) m.textContent = `${h.traces} traces · ${h.spans} spans`;
    const c = await getJSON("/api/config");
    const j = document.getElementById("jaeger-link");
    if (j && c.jaeger) j.hidden = false;
  } catch (e) { /* the page works without the counters */ }
}

function main() {
  if (document.body.dataset.page === "trace") { tracePage(); return; }
  const root = document.getElementById("app");
  root.replaceChildren();
  health();
  const path = location.pathname;
  if (path.startsWith("/workflows/")) workflowPage(root, decodeURIComponent(path.slice("/workflows/".length)));
  else if (path === "/compare") comparePage(root);
  else if (path === "/jaeger") jaegerPage(root);
  else listPage(root);
}

main();
