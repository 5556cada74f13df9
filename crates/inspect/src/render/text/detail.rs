//! The trace detail view: levels in boxes, each tool with its facts and data flow; without
//! plan data, the span tree.

use std::io::{self, Write};

use orchestrace::run::ToolStatus;

#[allow(unused_imports)]
use super::{
    compact, emit, params_text, result_text, status_mark, strategy_name, title_case, MAX_ROWS,
};
#[allow(unused_imports)]
use crate::analysis::{
    critical_tools, format_duration as dur, timing_segments, Analysis, CriticalPathBasis,
};
#[allow(unused_imports)]
use crate::model::{Orchestration, ToolCall, Trace};
#[allow(unused_imports)]
use crate::render::{clean, cut, str_width, Line, RenderOptions, Style};
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
        self.framed(line, indent, "║  ", "  ║")
    }

    /// A line inside a level box, wrapped.
    fn inner(&mut self, line: Line, indent: usize) -> io::Result<()> {
        self.framed(line, indent, "║  │ ", " │  ║")
    }

    /// `line` wrapped to the width between the two frames, each row framed by them.
    fn framed(&mut self, line: Line, indent: usize, left: &str, right: &str) -> io::Result<()> {
        let inner = self.w() - left.chars().count() - right.chars().count();
        for l in line.wrap(inner, indent) {
            let row = Line::new()
                .with(Style::Dim, left)
                .chain(l.pad(inner))
                .with(Style::Dim, right);
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

/// The trace detail view: with plan data a box layout — strategy, total duration,
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
        .with(Style::Plain, clean(&trace.trace_id));
    if let Some(p) = &orch.plan_id {
        head.push(Style::Dim, format!("  (plan {})", clean(p)));
    }
    b.outer(head, 4)?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Execution Strategy: ")
            .with(Style::Bold, strategy_name(a.execution_strategy)),
        4,
    )?;
    b.outer(
        Line::new()
            .with(Style::Dim, "Total Duration: ")
            .with(Style::Bold, dur(a.total_duration_ms)),
        4,
    )?;
    let selection = super::select::select(orch, a, b.opts);
    let shown = |ti: usize| selection.as_ref().is_none_or(|s| s.shown[ti]);
    let mut hidden_levels = 0;
    for level in &orch.levels {
        if !level.tools.iter().any(|&ti| shown(ti)) {
            hidden_levels += 1;
            continue;
        }
        b.outer(Line::new(), 0)?;
        b.rule("┌", "─", "┐", true)?;
        let mut h = Line::new().with(
            Style::Bold,
            format!(
                "Level {} ({}): {}",
                level.index,
                title_case(level.mode.as_str()),
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
        let listed: Vec<usize> = level
            .tools
            .iter()
            .copied()
            .filter(|&ti| shown(ti))
            .collect();
        for (k, &ti) in listed.iter().enumerate() {
            if k > 0 {
                b.inner(Line::new(), 0)?;
            }
            tool_block(b, &orch.tools[ti], &orch.parallel_with(ti), critical[ti])?;
        }
        if listed.len() < level.tools.len() {
            b.inner(
                Line::new().with(
                    Style::Dim,
                    format!(
                        "… {} more tools in this level",
                        level.tools.len() - listed.len()
                    ),
                ),
                2,
            )?;
        }
        b.rule("└", "─", "┘", true)?;
    }
    if let Some(sel) = &selection {
        b.outer(Line::new(), 0)?;
        if hidden_levels > 0 {
            b.outer(
                Line::new().with(
                    Style::Dim,
                    format!("… {hidden_levels} levels without a shown tool left out"),
                ),
                2,
            )?;
        }
        b.outer(Line::new().with(Style::Dim, sel.note()), 2)?;
    }
    b.outer(Line::new(), 0)?;
    b.rule("╚", "═", "╝", false)
}

fn tool_block<W: Write + ?Sized>(
    b: &mut BoxWriter<'_, W>,
    t: &ToolCall,
    parallel_with: &[&str],
    critical: bool,
) -> io::Result<()> {
    let mut head = Line::new()
        .with(
            Style::for_status(t.status.as_str()),
            status_mark(t.status.as_str()),
        )
        .with(Style::Plain, " ")
        .with(Style::Bold, clean(&t.id))
        .with(Style::Plain, format!(" [{}]", dur(t.duration_ms())));
    if t.status != ToolStatus::Ok {
        head.push(
            Style::for_status(t.status.as_str()),
            format!(" {}", clean(t.status_label())),
        );
    }
    if !parallel_with.is_empty() {
        head.push(
            Style::Dim,
            format!(" (parallel with {})", clean(&parallel_with.join(", "))),
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
                Line::new().with(Style::Dim, "     → Resolved to: ").with(
                    Style::Plain,
                    e.value
                        .as_ref()
                        .map_or_else(|| "(unresolved)".to_owned(), |v| compact(v, false)),
                ),
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
    if t.status == ToolStatus::Error {
        let kind = t.error_type.as_deref().map(clean);
        b.inner(
            Line::new()
                .with(Style::Plain, "   ")
                .with(Style::Red, "Error: ")
                .with(Style::Plain, kind.unwrap_or_else(|| "failed".to_owned())),
            6,
        )?;
        // The whole message, each of its lines wrapped on lines of their own: a cause at
        // the end of a long message is never cut.
        if let Some(m) = &t.error_message {
            for part in m.lines().filter(|l| !l.trim().is_empty()) {
                b.inner(
                    Line::new()
                        .with(Style::Plain, "     ")
                        .with(Style::Plain, clean(part.trim_end())),
                    5,
                )?;
            }
        }
    }
    if let Some(r) = &t.skip_reason {
        let label = if t.status == ToolStatus::Cancelled {
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
            .with(Style::Plain, clean(&trace.trace_id))
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
            .with(Style::Bold, dur(a.total_duration_ms)),
        4,
    )?;
    b.outer(Line::new(), 0)?;
    let path: std::collections::HashSet<&str> =
        a.critical_path.iter().map(String::as_str).collect();
    let on_path: Vec<bool> = trace
        .spans
        .iter()
        .map(|s| path.contains(s.span_id.as_str()))
        .collect();
    let children = trace.children();
    let t0 = trace.start_ns();
    let inner = b.w() - 6;
    // Depth-first with tree prefixes. A prefix is built once per listed span and shared by
    // its children (by index into `prefixes`), so a span with many children costs one entry
    // each, not one copy of the prefix each.
    let mut prefixes: Vec<String> = vec![String::new()];
    let mut stack: Vec<(usize, usize, bool, bool)> = trace
        .roots()
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &r)| (r, 0, k == 0, true))
        .collect();
    let mut shown = 0;
    while let Some((i, prefix_at, last, root)) = stack.pop() {
        let prefix = prefixes[prefix_at].as_str();
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
                .get(orchestrace::semconv::OPENTRACING_REF_TYPE)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("link");
            line.push(
                Style::Dim,
                format!(" ↪ {} {}", clean(rt), clean(&l.span_id)),
            );
        }
        if on_path[i] {
            line.push(Style::Critical, " ◆");
        }
        b.outer(line.truncate(inner), 0)?;
        let kids = &children[i];
        if kids.is_empty() {
            continue;
        }
        let child_prefix = if root {
            0
        } else {
            let p = if last {
                format!("{prefix}   ")
            } else {
                format!("{prefix}│  ")
            };
            prefixes.push(p);
            prefixes.len() - 1
        };
        for (k, &c) in kids.iter().enumerate().rev() {
            stack.push((c, child_prefix, k + 1 == kids.len(), false));
        }
    }
    b.outer(Line::new(), 0)?;
    b.rule("╚", "═", "╝", false)
}
