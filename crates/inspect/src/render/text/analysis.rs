//! The performance analysis view: the figures, the per-tool table and the suggestions.

use std::collections::HashSet;
use std::io::{self, Write};

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
        let name = |id: &String| names.get(id.as_str()).cloned().unwrap_or_else(|| clean(id));
        // A long path names its ends and says how much lies between.
        if ids.len() > 20 && !opts.all_rows() {
            let head: Vec<String> = ids[..10].iter().map(name).collect();
            let tail: Vec<String> = ids[ids.len() - 10..].iter().map(name).collect();
            format!(
                "{} → … {} more … → {}",
                head.join(" → "),
                ids.len() - 20,
                tail.join(" → ")
            )
        } else {
            ids.iter().map(name).collect::<Vec<_>>().join(" → ")
        }
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
            dur(a.total_duration_ms),
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
    let on_path: HashSet<&str> = a.critical_path.iter().map(String::as_str).collect();
    let selection = if a.plan_data {
        super::select::select_timings(a, opts)
    } else {
        None
    };
    for (k, t) in a.tools.iter().enumerate() {
        if selection.as_ref().is_some_and(|s| !s.shown[k]) {
            continue;
        }
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
        line.push(
            Style::for_status(t.status.as_str()),
            format!("{:<9}", t.status.as_str()),
        );
        line.push(Style::Plain, format!("  {:>8}", dur(t.slack_ms)));
        if on_path.contains(t.id.as_str()) {
            line.push(Style::Critical, "  ◆");
        }
        emit(out, &line.truncate(w), opts)?;
    }
    if let Some(sel) = &selection {
        for part in Line::new()
            .with(Style::Dim, format!("  {}", sel.note()))
            .wrap(w, 4)
        {
            emit(out, &part, opts)?;
        }
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
    // Many suggestions (one per unused dependency of a long chain) are cut like the table.
    let listed = if opts.all_rows() {
        a.suggestions.len()
    } else {
        a.suggestions.len().min(opts.max_rows())
    };
    for (k, s) in a.suggestions[..listed].iter().enumerate() {
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
    if listed < a.suggestions.len() {
        emit(
            out,
            &Line::new().with(
                Style::Dim,
                format!(
                    "  … {} more suggestions with smaller gains; pass --all to see every one",
                    a.suggestions.len() - listed
                ),
            ),
            opts,
        )?;
    }
    let _ = trace;
    Ok(())
}
