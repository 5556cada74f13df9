//! The timeline view: a Gantt chart of tools (or spans) on a shared time axis.

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
// Timeline

struct Row {
    label: Line,
    start: u64,
    end: u64,
    queued_from: Option<u64>,
    critical: Vec<(u64, u64)>,
    skipped: bool,
    cancelled: bool,
    duration_ms: f64,
    mark: bool,
}

enum Item {
    Header(Line),
    Bar(Row),
}

/// The timeline view: tools on a shared time axis grouped by level (without plan data: spans
/// in tree order), stretches where two or more run at once marked below, the critical path in
/// solid bars, and a footer — strategy, total time, "vs X if serial", time saved.
pub fn write_timeline<W: Write + ?Sized>(
    out: &mut W,
    trace: &Trace,
    analysis: &Analysis,
    opts: &RenderOptions,
) -> io::Result<()> {
    let (items, t0, t1) = match trace.orchestration() {
        Some(orch) => timeline_plan(&orch, analysis, opts),
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
            Item::Header(h) => {
                for part in h.wrap(w, 2) {
                    emit(out, &part, opts)?;
                }
            }
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
                // The stretches are in time order and `t` grows with `c`: one cursor.
                let mut next_crit = 0;
                for (c, cell) in cells.iter_mut().enumerate() {
                    let t = at(c);
                    while row
                        .critical
                        .get(next_crit)
                        .is_some_and(|&(_, e)| t >= e as f64)
                    {
                        next_crit += 1;
                    }
                    if t >= row.start as f64 && t < row.end as f64 {
                        any = true;
                        if !row.skipped {
                            active[c] += 1;
                        }
                        let crit = row
                            .critical
                            .get(next_crit)
                            .is_some_and(|&(s, e)| t >= s as f64 && t < e as f64);
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
                    cells[c] = if row.cancelled {
                        (Style::Yellow, '⊘')
                    } else if row.skipped {
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
                let d = if row.cancelled && row.skipped {
                    "cancelled".to_owned()
                } else if row.skipped {
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
        .with(Style::Dim, "· queued  ○ skipped  ⊘ cancelled  ")
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
            .with(Style::Bold, strategy_name(a.execution_strategy)),
        opts,
    )?;
    emit(
        out,
        &Line::new()
            .with(Style::Dim, "Total Time: ")
            .with(Style::Bold, dur(a.total_duration_ms))
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

fn timeline_plan(
    orch: &Orchestration,
    a: &Analysis,
    opts: &RenderOptions,
) -> (Vec<Item>, u64, u64) {
    let critical = critical_tools(orch, a);
    let selection = super::select::select(orch, a, opts);
    let shown = |ti: usize| selection.as_ref().is_none_or(|s| s.shown[ti]);
    let mut items = Vec::new();
    for level in &orch.levels {
        if !level.tools.iter().any(|&ti| shown(ti)) {
            continue;
        }
        items.push(Item::Header(Line::new().with(
            Style::Bold,
            format!(
                "Level {} ({}) · {}",
                level.index,
                level.mode.as_str(),
                dur(level.duration_ms())
            ),
        )));
        for &ti in level.tools.iter().filter(|&&ti| shown(ti)) {
            let t = &orch.tools[ti];
            let queued_from = t
                .queue_wait_ms
                .filter(|&q| q > 0.0)
                .map(|q| t.start_ns.saturating_sub((q * 1e6) as u64));
            items.push(Item::Bar(Row {
                label: Line::new()
                    .with(Style::Plain, "  ")
                    .with(
                        Style::for_status(t.status.as_str()),
                        status_mark(t.status.as_str()),
                    )
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
                cancelled: t.status == ToolStatus::Cancelled,
                duration_ms: t.duration_ms(),
                mark: critical[ti],
            }));
        }
    }
    if let Some(sel) = &selection {
        items.push(Item::Header(Line::new().with(Style::Dim, sel.note())));
    }
    (items, orch.start_ns(), orch.end_ns())
}

fn timeline_tree(trace: &Trace, _a: &Analysis) -> (Vec<Item>, u64, u64) {
    let mut order = trace.tree_order();
    let more = order.len() > MAX_ROWS;
    order.truncate(MAX_ROWS);
    // The critical stretches of the listed spans, in time order, from one pass over the path.
    let mut row_of: Vec<Option<usize>> = vec![None; trace.spans.len()];
    for (k, &(i, _)) in order.iter().enumerate() {
        row_of[i] = Some(k);
    }
    let mut crits: Vec<Vec<(u64, u64)>> = vec![Vec::new(); order.len()];
    for (j, a, b) in timing_segments(trace) {
        if let Some(k) = row_of[j] {
            crits[k].push((a, b));
        }
    }
    let mut items = Vec::new();
    for ((i, depth), crit) in order.into_iter().zip(crits) {
        let s = &trace.spans[i];
        let status = if s.is_error() { "error" } else { "ok" };
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
            cancelled: false,
            duration_ms: s.duration_ns() as f64 / 1e6,
        }));
    }
    if more {
        items.push(Item::Header(Line::new().with(
            Style::Dim,
            format!("… {} more spans", trace.spans.len() - MAX_ROWS),
        )));
    }
    (items, trace.start_ns(), trace.end_ns())
}
