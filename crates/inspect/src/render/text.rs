//! The terminal views: trace detail (the seed's box layout), timeline (a Gantt chart on a
//! shared time axis) and performance analysis.

use std::io::{self, Write};

use serde_json::Value;

use super::{clean, cut, str_width, Line, RenderOptions, Style};
use crate::analysis::{
    critical_tools, format_duration as dur, timing_segments, Analysis, CriticalPathBasis,
};
use crate::model::{Orchestration, ToolCall, Trace};

fn emit<W: Write + ?Sized>(out: &mut W, line: &Line, opts: &RenderOptions) -> io::Result<()> {
    writeln!(out, "{}", line.clone().trim_end().render(opts.color()))
}

pub(crate) fn status_mark(status: &str) -> &'static str {
    match status {
        "ok" => "✓",
        "error" => "✗",
        "skipped" => "○",
        "cancelled" => "⊘",
        _ => "·",
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Compact JSON of a value, strings without quotes when `bare`.
pub(crate) fn compact(v: &Value, bare: bool) -> String {
    match v {
        Value::String(s) if bare => clean(s),
        other => clean(&other.to_string()),
    }
}

/// `keywords=["server"], metrics=["count"]` for an object, compact JSON otherwise.
pub(crate) fn params_text(v: &Value) -> String {
    match v {
        Value::Object(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{}={}", clean(k), compact(v, false)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(_) => "{}".to_owned(),
        other => compact(other, true),
    }
}

pub(crate) fn bytes_text(n: i64) -> String {
    if n < 1024 {
        format!("{n} bytes")
    } else if n < 1024 * 1024 {
        format!("{:.1} KB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The result summary: `42 rows (1.2 KB)`.
pub(crate) fn result_text(t: &ToolCall) -> Option<String> {
    match (t.result_count, t.result_size_bytes) {
        (Some(1), Some(b)) => Some(format!("1 row ({})", bytes_text(b))),
        (Some(n), Some(b)) => Some(format!("{n} rows ({})", bytes_text(b))),
        (Some(1), None) => Some("1 row".to_owned()),
        (Some(n), None) => Some(format!("{n} rows")),
        (None, Some(b)) => Some(bytes_text(b)),
        (None, None) => None,
    }
}

/// The strategy as the seed writes it: `DAG`, `Parallel`, `Serial`.
pub(crate) fn strategy_name(s: Option<&str>) -> String {
    match s {
        Some("dag") => "DAG".to_owned(),
        Some(other) => title_case(other),
        None => "unknown (no plan data)".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// Trace detail

struct BoxWriter<'a, W: Write + ?Sized> {
    out: &'a mut W,
    opts: &'a RenderOptions,
}

impl<W: Write + ?Sized> BoxWriter<'_, W> {
    fn w(&self) -> usize {
        self.opts.width()
    }

    fn raw(&mut self, line: Line) -> io::Result<()> {
        emit(self.out, &line, self.opts)
    }

    /// A line inside the outer box, wrapped.
    fn outer(&mut self, line: Line, indent: usize) -> io::Result<()> {
        let inner = self.w() - 6;
        for l in line.wrap(inner, indent) {
            let row = Line::new()
                .with(Style::Dim, "║  ")
                .chain(l.pad(inner))
                .with(Style::Dim, "  ║");
            self.raw(row)?;
        }
        Ok(())
    }

    /// A line inside a level box, wrapped.
    fn inner(&mut self, line: Line, indent: usize) -> io::Result<()> {
        let inner = self.w() - 10;
        for l in line.wrap(inner, indent) {
            let row = Line::new()
                .with(Style::Dim, "║  │ ")
                .chain(l.pad(inner))
                .with(Style::Dim, " │  ║");
            self.raw(row)?;
        }
        Ok(())
    }

    fn rule(&mut self, left: &str, fill: &str, right: &str, inset: bool) -> io::Result<()> {
        let line = if inset {
            format!("║  {left}{}{right}  ║", fill.repeat(self.w() - 8))
        } else {
            format!("{left}{}{right}", fill.repeat(self.w() - 2))
        };
        self.raw(Line::new().with(Style::Dim, line))
    }

    fn title(&mut self, title: &str) -> io::Result<()> {
        let inner = self.w() - 2;
        let left = (inner - str_width(title)) / 2;
        let row = Line::new()
            .with(Style::Dim, "║")
            .with(Style::Plain, " ".repeat(left))
            .with(Style::Bold, title)
            .pad(inner + 1)
            .with(Style::Dim, "║");
        self.raw(row)
    }
}

impl Line {
    fn chain(mut self, other: Line) -> Line {
        self.0.extend(other.0);
        self
    }
}

/// The trace detail view: with plan data the seed's box layout — strategy, total duration,
/// each level with its mode and duration, each tool with status, duration, tool type, asset,
/// params, result count, parallel peers, dependencies and the data flow (template → resolved
/// value); without, the span tree.
pub fn write_detail<W: Write + ?Sized>(
    out: &mut W,
    trace: &Trace,
    analysis: &Analysis,
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut b = BoxWriter { out, opts };
    match trace.orchestration() {
        Some(orch) => detail_plan(&mut b, trace, &orch, analysis),
        None => detail_tree(&mut b, trace, analysis),
    }
}

fn detail_plan<W: Write + ?Sized>(
    b: &mut BoxWriter<'_, W>,
    trace: &Trace,
    orch: &Orchestration,
    a: &Analysis,
) -> io::Result<()> {
    let critical = critical_tools(orch, a);
    b.rule("╔", "═", "╗", false)?;
    b.title("Execution Trace")?;
    b.rule("╠", "═", "╣", false)?;
    b.outer(Line::new(), 0)?;
    let mut head = Line::new()
        .with(Style::Dim, "Trace: ")
        .with(Style::Plain, &trace.trace_id);
    if let Some(p) = &orch.plan_id {
        head.push(Style::Dim, format!("  (plan {})", clean(p)));
    }
    b.outer(head, 4)?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Execution Strategy: ")
            .with(Style::Bold, strategy_name(a.execution_strategy.as_deref())),
        4,
    )?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Total Duration: ")
            .with(Style::Bold, dur(a.makespan_ms)),
        4,
    )?;
    for level in &orch.levels {
        b.outer(Line::new(), 0)?;
        b.rule("┌", "─", "┐", true)?;
        let mut h = Line::new().with(
            Style::Bold,
            format!(
                "Level {} ({}): {}",
                level.index,
                title_case(&level.mode),
                dur(level.duration_ms())
            ),
        );
        if !level.depends_on_groups.is_empty() {
            let after: Vec<String> = level
                .depends_on_groups
                .iter()
                .map(|g| g.to_string())
                .collect();
            h.push(Style::Dim, format!("  after level {}", after.join(", ")));
        }
        b.inner(h, 4)?;
        b.rule("├", "─", "┤", true)?;
        for (k, &ti) in level.tools.iter().enumerate() {
            if k > 0 {
                b.inner(Line::new(), 0)?;
            }
            tool_block(b, &orch.tools[ti], critical[ti])?;
        }
        b.rule("└", "─", "┘", true)?;
    }
    b.outer(Line::new(), 0)?;
    b.rule("╚", "═", "╝", false)
}

fn tool_block<W: Write + ?Sized>(
    b: &mut BoxWriter<'_, W>,
    t: &ToolCall,
    critical: bool,
) -> io::Result<()> {
    let mut head = Line::new()
        .with(Style::for_status(&t.status), status_mark(&t.status))
        .with(Style::Plain, " ")
        .with(Style::Bold, clean(&t.id))
        .with(Style::Plain, format!(" [{}]", dur(t.duration_ms())));
    if t.status != "ok" {
        head.push(Style::for_status(&t.status), format!(" {}", t.status));
    }
    if !t.parallel_with.is_empty() {
        head.push(
            Style::Dim,
            format!(" (parallel with {})", clean(&t.parallel_with.join(", "))),
        );
    }
    if critical {
        head.push(Style::Critical, "  ◆ critical path");
    }
    b.inner(head, 4)?;
    let field = |label: &str, value: String| {
        Line::new()
            .with(Style::Plain, "   ")
            .with(Style::Dim, format!("{label}: "))
            .with(Style::Plain, value)
    };
    b.inner(field("Tool", clean(&t.tool)), 6)?;
    if let Some(asset) = &t.asset_id {
        b.inner(field("Asset", clean(asset)), 6)?;
    }
    if !t.depends_on.is_empty() {
        b.inner(
            field(
                "Depends on",
                format!("[{}]", clean(&t.depends_on.join(", "))),
            ),
            6,
        )?;
    }
    if !t.data_flow.is_empty() {
        b.inner(
            Line::new()
                .with(Style::Plain, "   ")
                .with(Style::Dim, "Data Flow:"),
            6,
        )?;
        for e in &t.data_flow {
            b.inner(
                Line::new()
                    .with(Style::Plain, format!("     {}: ", clean(&e.key)))
                    .with(Style::Cyan, compact(&e.expression, true)),
                9,
            )?;
            b.inner(
                Line::new()
                    .with(Style::Dim, "     → Resolved to: ")
                    .with(Style::Plain, compact(&e.value, false)),
                9,
            )?;
        }
    }
    if let Some(p) = &t.params {
        b.inner(field("Params", params_text(p)), 6)?;
    }
    if let Some(r) = result_text(t) {
        b.inner(field("Result", r), 6)?;
    }
    let mut extras = Vec::new();
    if t.retry_count > 0 {
        extras.push(format!("retries {}", t.retry_count));
    }
    if t.fallback_used {
        extras.push("fallback used".to_owned());
    }
    if t.cache_hit {
        extras.push("cache hit".to_owned());
    }
    if let Some(q) = t.queue_wait_ms.filter(|&q| q >= 0.05) {
        extras.push(format!("queued {}", dur(q)));
    }
    if !extras.is_empty() {
        b.inner(field("Notes", extras.join(" · ")), 6)?;
    }
    if t.status == "error" {
        let what = match (&t.error_type, &t.error_message) {
            (Some(k), Some(m)) => format!("{}: {}", clean(k), clean(m)),
            (Some(k), None) => clean(k),
            (None, Some(m)) => clean(m),
            (None, None) => "failed".to_owned(),
        };
        b.inner(
            Line::new()
                .with(Style::Plain, "   ")
                .with(Style::Red, "Error: ")
                .with(Style::Plain, what),
            6,
        )?;
    }
    if let Some(r) = &t.skip_reason {
        let label = if t.status == "cancelled" {
            "Cancelled"
        } else {
            "Skipped"
        };
        b.inner(
            Line::new()
                .with(Style::Plain, "   ")
                .with(Style::Yellow, format!("{label}: "))
                .with(Style::Plain, clean(r)),
            6,
        )?;
    }
    Ok(())
}

fn detail_tree<W: Write + ?Sized>(
    b: &mut BoxWriter<'_, W>,
    trace: &Trace,
    a: &Analysis,
) -> io::Result<()> {
    let services = trace.services();
    b.rule("╔", "═", "╗", false)?;
    b.title("Trace Detail")?;
    b.rule("╠", "═", "╣", false)?;
    b.outer(Line::new(), 0)?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Trace: ")
            .with(Style::Plain, &trace.trace_id)
            .with(
                Style::Dim,
                format!(
                    "  ({} span{}, {} service{}, {})",
                    trace.spans.len(),
                    if trace.spans.len() == 1 { "" } else { "s" },
                    services.len(),
                    if services.len() == 1 { "" } else { "s" },
                    trace.format.as_str()
                ),
            ),
        4,
    )?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Total Duration: ")
            .with(Style::Bold, dur(a.makespan_ms)),
        4,
    )?;
    b.outer(Line::new(), 0)?;
    let on_path: Vec<bool> = trace
        .spans
        .iter()
        .map(|s| a.critical_path.contains(&s.span_id))
        .collect();
    let children = trace.children();
    let t0 = trace.start_ns();
    let inner = b.w() - 6;
    // Depth-first with tree prefixes.
    let mut stack: Vec<(usize, String, bool, bool)> = trace
        .roots()
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &r)| (r, String::new(), k == 0, true))
        .collect();
    let mut shown = 0;
    while let Some((i, prefix, last, root)) = stack.pop() {
        if shown >= MAX_ROWS {
            b.outer(
                Line::new().with(
                    Style::Dim,
                    format!("… {} more spans", trace.spans.len() - shown),
                ),
                0,
            )?;
            break;
        }
        shown += 1;
        let s = &trace.spans[i];
        let status = if s.is_error() { "error" } else { "ok" };
        let branch = if root {
            String::new()
        } else if last {
            "└─ ".to_owned()
        } else {
            "├─ ".to_owned()
        };
        let mut line = Line::new()
            .with(Style::Dim, format!("{prefix}{branch}"))
            .with(Style::for_status(status), status_mark(status))
            .with(Style::Plain, " ")
            .with(Style::Bold, clean(&s.name))
            .with(
                Style::Plain,
                format!(
                    " [{}] +{}",
                    dur(s.duration_ns() as f64 / 1e6),
                    dur(s.start_ns.saturating_sub(t0) as f64 / 1e6)
                ),
            );
        if let Some(svc) = &s.service {
            line.push(Style::Dim, format!(" {}", clean(svc)));
        }
        if s.kind != crate::model::SpanKind::Unspecified {
            line.push(Style::Dim, format!(" ({})", s.kind.as_str()));
        }
        for l in &s.links {
            let rt = l
                .attributes
                .get("opentracing.ref_type")
                .and_then(Value::as_str)
                .unwrap_or("link");
            line.push(Style::Dim, format!(" ↪ {rt} {}", l.span_id));
        }
        if on_path[i] {
            line.push(Style::Critical, " ◆");
        }
        b.outer(line.truncate(inner), 0)?;
        let child_prefix = if root {
            String::new()
        } else if last {
            format!("{prefix}   ")
        } else {
            format!("{prefix}│  ")
        };
        let kids = &children[i];
        for (k, &c) in kids.iter().enumerate().rev() {
            stack.push((c, child_prefix.clone(), k + 1 == kids.len(), false));
        }
    }
    b.outer(Line::new(), 0)?;
    b.rule("╚", "═", "╝", false)
}

/// Rows shown at most in the tree and timeline of a trace without plan data.
const MAX_ROWS: usize = 200;

// ---------------------------------------------------------------------------------------------
// Timeline

struct Row {
    label: Line,
    start: u64,
    end: u64,
    queued_from: Option<u64>,
    critical: Vec<(u64, u64)>,
    skipped: bool,
    duration_ms: f64,
    mark: bool,
}

enum Item {
    Header(Line),
    Bar(Row),
}

/// The timeline view: tools on a shared time axis grouped by level (without plan data: spans
/// in tree order), stretches where two or more run at once marked below, the critical path in
/// solid bars, and the seed's footer — strategy, total time, "vs X if serial", time saved.
pub fn write_timeline<W: Write + ?Sized>(
    out: &mut W,
    trace: &Trace,
    analysis: &Analysis,
    opts: &RenderOptions,
) -> io::Result<()> {
    let (items, t0, t1) = match trace.orchestration() {
        Some(orch) => timeline_plan(&orch, analysis),
        None => timeline_tree(trace, analysis),
    };
    let w = opts.width();
    emit(out, &Line::new().with(Style::Bold, "Timeline"), opts)?;
    emit(out, &Line::new().with(Style::Dim, "─".repeat(w)), opts)?;
    let label_w = items
        .iter()
        .filter_map(|i| match i {
            Item::Bar(r) => Some(r.label.width()),
            Item::Header(_) => None,
        })
        .max()
        .unwrap_or(8)
        .clamp(10, 28);
    let dur_w = 8;
    let bar_w = w - label_w - 4 - dur_w;
    let span = t1.saturating_sub(t0).max(1);
    let at = |c: usize| t0 as f64 + (c as f64 + 0.5) * span as f64 / bar_w as f64;
    let col =
        |t: u64| (((t.saturating_sub(t0)) as f64 / span as f64) * bar_w as f64).floor() as usize;
    // Axis.
    let total_ms = span as f64 / 1e6;
    let (l, m, r) = ("0ms".to_owned(), dur(total_ms / 2.0), dur(total_ms));
    let mut labels = vec![' '; bar_w];
    let mut put = |pos: usize, text: &str| {
        for (k, c) in text.chars().enumerate() {
            if pos + k < bar_w {
                labels[pos + k] = c;
            }
        }
    };
    put(0, &l);
    put((bar_w / 2).saturating_sub(m.len() / 2), &m);
    put(bar_w.saturating_sub(r.len()), &r);
    let pad = " ".repeat(label_w + 3);
    emit(
        out,
        &Line::new()
            .with(Style::Plain, pad.clone())
            .with(Style::Dim, labels.iter().collect::<String>()),
        opts,
    )?;
    let axis = {
        let mut a: Vec<char> = vec!['─'; bar_w];
        a[0] = '├';
        a[bar_w / 2] = '┼';
        a[bar_w - 1] = '┤';
        a.into_iter().collect::<String>()
    };
    emit(
        out,
        &Line::new()
            .with(Style::Plain, pad.clone())
            .with(Style::Dim, axis.clone()),
        opts,
    )?;
    let mut active = vec![0usize; bar_w];
    let mut max_active = 0;
    for item in &items {
        match item {
            Item::Header(h) => emit(out, &h.clone().truncate(w), opts)?,
            Item::Bar(row) => {
                let mut line = row.label.clone().truncate(label_w).pad(label_w);
                line.push(Style::Plain, " ");
                if row.mark {
                    line.push(Style::Critical, "◆");
                } else {
                    line.push(Style::Plain, " ");
                }
                line.push(Style::Plain, " ");
                let mut cells: Vec<(Style, char)> = vec![(Style::Plain, ' '); bar_w];
                let mut any = false;
                for (c, cell) in cells.iter_mut().enumerate() {
                    let t = at(c);
                    if t >= row.start as f64 && t < row.end as f64 {
                        any = true;
                        if !row.skipped {
                            active[c] += 1;
                        }
                        let crit = row
                            .critical
                            .iter()
                            .any(|&(s, e)| t >= s as f64 && t < e as f64);
                        *cell = if crit {
                            (Style::Critical, '█')
                        } else {
                            (Style::Cyan, '▒')
                        };
                    } else if let Some(q) = row.queued_from {
                        if t >= q as f64 && t < row.start as f64 {
                            *cell = (Style::Dim, '·');
                        }
                    }
                }
                if !any {
                    let c = col(row.start).min(bar_w - 1);
                    cells[c] = if row.skipped {
                        (Style::Yellow, '○')
                    } else if row.critical.is_empty() {
                        (Style::Cyan, '▏')
                    } else {
                        (Style::Critical, '▏')
                    };
                }
                let mut cur: Option<(Style, String)> = None;
                for (s, c) in cells {
                    match &mut cur {
                        Some((cs, text)) if *cs == s => text.push(c),
                        _ => {
                            if let Some((cs, text)) = cur.take() {
                                line.push(cs, text);
                            }
                            cur = Some((s, c.to_string()));
                        }
                    }
                }
                if let Some((cs, text)) = cur {
                    line.push(cs, text);
                }
                let d = if row.skipped {
                    "skipped".to_owned()
                } else {
                    dur(row.duration_ms)
                };
                line.push(Style::Plain, format!(" {d:>dur_w$}"));
                emit(out, &line, opts)?;
            }
        }
    }
    for &n in &active {
        max_active = max_active.max(n);
    }
    emit(
        out,
        &Line::new()
            .with(Style::Plain, pad.clone())
            .with(Style::Dim, axis),
        opts,
    )?;
    let par: String = active
        .iter()
        .map(|&n| if n >= 2 { '═' } else { ' ' })
        .collect();
    let par_label = if trace_has_plan(analysis) {
        "parallel"
    } else {
        "concurrent"
    };
    emit(
        out,
        &Line::new()
            .with(Style::Dim, format!("{par_label:<label_w$}   "))
            .with(Style::Green, par),
        opts,
    )?;
    emit(out, &Line::new(), opts)?;
    let mut legend = Line::new()
        .with(Style::Critical, "█")
        .with(Style::Dim, " critical path  ")
        .with(Style::Cyan, "▒")
        .with(Style::Dim, " off the path  ")
        .with(Style::Dim, "· queued  ○ skipped  ")
        .with(Style::Green, "═");
    legend.push(
        Style::Dim,
        if max_active >= 2 {
            format!(" 2+ at once (up to {max_active})")
        } else {
            " 2+ at once (never)".to_owned()
        },
    );
    emit(out, &legend.truncate(w), opts)?;
    emit(out, &Line::new(), opts)?;
    footer(out, analysis, opts)
}

fn trace_has_plan(a: &Analysis) -> bool {
    a.plan_data
}

fn footer<W: Write + ?Sized>(out: &mut W, a: &Analysis, opts: &RenderOptions) -> io::Result<()> {
    emit(
        out,
        &Line::new()
            .with(Style::Dim, "Execution Strategy: ")
            .with(Style::Bold, strategy_name(a.execution_strategy.as_deref())),
        opts,
    )?;
    emit(
        out,
        &Line::new()
            .with(Style::Dim, "Total Time: ")
            .with(Style::Bold, dur(a.makespan_ms))
            .with(
                Style::Plain,
                format!(" (vs {} if serial)", dur(a.serial_duration_ms)),
            ),
        opts,
    )?;
    let saved = if a.time_saved_ms > 0.0 {
        Line::new()
            .with(Style::Dim, "Time Saved: ")
            .with(Style::Green, dur(a.time_saved_ms))
            .with(Style::Plain, format!(" ({:.0}% faster)", a.time_saved_pct))
    } else {
        Line::new()
            .with(Style::Dim, "Time Saved: ")
            .with(Style::Yellow, "none")
            .with(
                Style::Plain,
                if a.time_saved_ms < 0.0 {
                    format!(
                        " ({} idle between {})",
                        dur(-a.time_saved_ms),
                        if a.plan_data { "tools" } else { "spans" }
                    )
                } else {
                    " (nothing ran in parallel)".to_owned()
                },
            )
    };
    emit(out, &saved, opts)
}

fn timeline_plan(orch: &Orchestration, a: &Analysis) -> (Vec<Item>, u64, u64) {
    let critical = critical_tools(orch, a);
    let mut items = Vec::new();
    for level in &orch.levels {
        items.push(Item::Header(Line::new().with(
            Style::Bold,
            format!(
                "Level {} ({}) · {}",
                level.index,
                level.mode,
                dur(level.duration_ms())
            ),
        )));
        for &ti in &level.tools {
            let t = &orch.tools[ti];
            let queued_from = t
                .queue_wait_ms
                .filter(|&q| q > 0.0)
                .map(|q| t.start_ns.saturating_sub((q * 1e6) as u64));
            items.push(Item::Bar(Row {
                label: Line::new()
                    .with(Style::Plain, "  ")
                    .with(Style::for_status(&t.status), status_mark(&t.status))
                    .with(Style::Plain, format!(" {}", clean(&t.id))),
                start: t.start_ns,
                end: t.end_ns,
                queued_from,
                critical: if critical[ti] {
                    vec![(t.start_ns, t.end_ns)]
                } else {
                    Vec::new()
                },
                skipped: !t.ran(),
                duration_ms: t.duration_ms(),
                mark: critical[ti],
            }));
        }
    }
    (items, orch.start_ns(), orch.end_ns())
}

fn timeline_tree(trace: &Trace, _a: &Analysis) -> (Vec<Item>, u64, u64) {
    let segments = timing_segments(trace);
    let mut items = Vec::new();
    for (k, (i, depth)) in trace.tree_order().into_iter().enumerate() {
        if k >= MAX_ROWS {
            items.push(Item::Header(Line::new().with(
                Style::Dim,
                format!("… {} more spans", trace.spans.len() - MAX_ROWS),
            )));
            break;
        }
        let s = &trace.spans[i];
        let status = if s.is_error() { "error" } else { "ok" };
        let crit: Vec<(u64, u64)> = segments
            .iter()
            .filter(|&&(j, _, _)| j == i)
            .map(|&(_, a, b)| (a, b))
            .collect();
        let indent = "  ".repeat(depth.min(8));
        items.push(Item::Bar(Row {
            label: Line::new()
                .with(Style::Plain, indent)
                .with(Style::for_status(status), status_mark(status))
                .with(Style::Plain, format!(" {}", clean(&s.name))),
            start: s.start_ns,
            end: s.end_ns,
            queued_from: None,
            mark: !crit.is_empty(),
            critical: crit,
            skipped: false,
            duration_ms: s.duration_ns() as f64 / 1e6,
        }));
    }
    (items, trace.start_ns(), trace.end_ns())
}

// ---------------------------------------------------------------------------------------------
// Analysis

/// The analysis's notes (no plan data found, several runs in one trace, …), one `note:` line
/// each, wrapped to the width.
pub fn write_notes<W: Write + ?Sized>(
    out: &mut W,
    a: &Analysis,
    opts: &RenderOptions,
) -> io::Result<()> {
    for n in &a.notes {
        let line = Line::new()
            .with(Style::Yellow, "note: ")
            .with(Style::Plain, clean(n));
        for part in line.wrap(opts.width(), 6) {
            emit(out, &part, opts)?;
        }
    }
    Ok(())
}

/// The performance analysis view: makespan, serial sum, time saved, critical path,
/// level barrier, the per-tool table with slack, and the suggestions.
pub fn write_analysis<W: Write + ?Sized>(
    out: &mut W,
    trace: &Trace,
    a: &Analysis,
    opts: &RenderOptions,
) -> io::Result<()> {
    let w = opts.width();
    let names: std::collections::HashMap<&str, String> = if a.plan_data {
        a.tools
            .iter()
            .map(|t| (t.id.as_str(), clean(&t.id)))
            .collect()
    } else {
        a.tools
            .iter()
            .map(|t| (t.id.as_str(), clean(&t.tool)))
            .collect()
    };
    let path_text = |ids: &[String]| {
        ids.iter()
            .map(|id| names.get(id.as_str()).cloned().unwrap_or_else(|| clean(id)))
            .collect::<Vec<_>>()
            .join(" → ")
    };
    emit(
        out,
        &Line::new().with(Style::Bold, "Performance Analysis"),
        opts,
    )?;
    emit(out, &Line::new().with(Style::Dim, "─".repeat(w)), opts)?;
    let what = if a.plan_data { "tool" } else { "span" };
    let row = |label: &str, value: String, note: Line| {
        Line::new()
            .with(Style::Plain, format!("  {label:<15}"))
            .with(Style::Bold, format!("{value:<10}"))
            .with(Style::Plain, " ")
            .chain(note)
    };
    let lines = vec![
        row(
            "Makespan",
            dur(a.makespan_ms),
            Line::new().with(Style::Dim, format!("first {what} start → last {what} end")),
        ),
        row(
            "Serial sum",
            dur(a.serial_duration_ms),
            Line::new().with(
                Style::Dim,
                if a.plan_data {
                    "sum of tool durations: one at a time"
                } else {
                    "sum of span self times"
                },
            ),
        ),
        row(
            "Time saved",
            dur(a.time_saved_ms),
            Line::new().with(Style::Dim, format!("{:.1}% of serial", a.time_saved_pct)),
        ),
        row(
            "Critical path",
            dur(a.critical_path_ms),
            Line::new()
                .with(Style::Critical, path_text(&a.critical_path))
                .with(
                    Style::Dim,
                    match a.critical_path_basis {
                        CriticalPathBasis::Dependencies => "  (by dependencies)",
                        CriticalPathBasis::Timing => "  (by timing)",
                    },
                ),
        ),
    ];
    for l in lines {
        for part in l.wrap(w, 28) {
            emit(out, &part, opts)?;
        }
    }
    if let Some(lb) = a.level_barrier_ms {
        for part in row(
            "Level barrier",
            dur(lb),
            Line::new().with(
                Style::Dim,
                "level by level, each level waiting for its slowest tool",
            ),
        )
        .wrap(w, 28)
        {
            emit(out, &part, opts)?;
        }
    }
    if a.critical_path_basis == CriticalPathBasis::Dependencies
        && a.timing_critical_path != a.critical_path
        && !a.timing_critical_path.is_empty()
    {
        for part in row(
            "Timing path",
            String::new(),
            Line::new()
                .with(Style::Plain, path_text(&a.timing_critical_path))
                .with(Style::Dim, "  (what actually ran back to back)"),
        )
        .wrap(w, 28)
        {
            emit(out, &part, opts)?;
        }
    }
    emit(out, &Line::new(), opts)?;

    // The table.
    let first_w = a
        .tools
        .iter()
        .map(|t| {
            if a.plan_data {
                str_width(&t.id)
            } else {
                str_width(&t.tool) + 2 * t.group.min(8)
            }
        })
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let mut type_w = if a.plan_data {
        a.tools
            .iter()
            .map(|t| str_width(&t.tool))
            .max()
            .unwrap_or(4)
            .clamp(4, 20)
    } else {
        0
    };
    // The columns after the names take 58 (with levels and orders) or 51 columns, and the
    // type 2 more; at narrow widths the type goes first, then the names shrink.
    let fixed = if a.plan_data { 60 } else { 53 };
    if a.plan_data && first_w + type_w + fixed + 2 > w {
        type_w = 0;
    }
    let type_cols = if type_w > 0 { type_w + 2 } else { 0 };
    let first_w = first_w.min(w.saturating_sub(fixed + type_cols)).max(4);
    let mut head = Line::new().with(Style::Dim, format!("  {:<first_w$}", what));
    if a.plan_data && type_w > 0 {
        head.push(Style::Dim, format!("  {:<type_w$}  level  order", "type"));
    } else if a.plan_data {
        head.push(Style::Dim, "  level  order");
    } else {
        head.push(Style::Dim, "  depth");
    }
    head.push(
        Style::Dim,
        format!(
            "  {:>8}  {:>8}  {:<9}  {:>8}",
            "start", "duration", "status", "slack"
        ),
    );
    emit(out, &head.truncate(w), opts)?;
    for (k, t) in a.tools.iter().enumerate() {
        if !a.plan_data && k >= MAX_ROWS {
            emit(
                out,
                &Line::new().with(Style::Dim, format!("  … {} more spans", a.tools.len() - k)),
                opts,
            )?;
            break;
        }
        let first = if a.plan_data {
            cut(&clean(&t.id), first_w)
        } else {
            cut(
                &format!("{}{}", "  ".repeat(t.group.min(8)), clean(&t.tool)),
                first_w,
            )
        };
        let pad = first_w.saturating_sub(str_width(&first));
        let mut line = Line::new().with(Style::Plain, format!("  {first}{}", " ".repeat(pad)));
        if a.plan_data && type_w > 0 {
            let ty = cut(&clean(&t.tool), type_w);
            let pad = type_w.saturating_sub(str_width(&ty));
            line.push(
                Style::Plain,
                format!("  {ty}{}  {:>5}  {:>5}", " ".repeat(pad), t.group, t.order),
            );
        } else if a.plan_data {
            line.push(Style::Plain, format!("  {:>5}  {:>5}", t.group, t.order));
        } else {
            line.push(Style::Plain, format!("  {:>5}", t.group));
        }
        line.push(
            Style::Plain,
            format!("  {:>8}  {:>8}  ", dur(t.start_ms), dur(t.duration_ms)),
        );
        line.push(Style::for_status(&t.status), format!("{:<9}", t.status));
        line.push(Style::Plain, format!("  {:>8}", dur(t.slack_ms)));
        if a.critical_path.contains(&t.id) {
            line.push(Style::Critical, "  ◆");
        }
        emit(out, &line.truncate(w), opts)?;
    }
    emit(out, &Line::new(), opts)?;
    emit(out, &Line::new().with(Style::Bold, "Suggestions"), opts)?;
    if a.suggestions.is_empty() {
        emit(
            out,
            &Line::new().with(Style::Dim, "  none: nothing stands out in this trace"),
            opts,
        )?;
    }
    for (k, s) in a.suggestions.iter().enumerate() {
        let num = format!("  {}. ", k + 1);
        let line = Line::new()
            .with(Style::Plain, num.clone())
            .with(Style::Plain, clean(&s.message))
            .with(
                Style::Dim,
                format!("  [{}, ~{}]", s.kind.as_str(), dur(s.estimated_gain_ms)),
            );
        for part in line.wrap(w, str_width(&num)) {
            emit(out, &part, opts)?;
        }
    }
    let _ = trace;
    Ok(())
}
