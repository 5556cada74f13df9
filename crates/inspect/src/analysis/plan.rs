//! The analysis of a trace with plan data: by the dependency graph when the tools carry
//! dependency data, else by timing; then the suggestions, one function per kind.

use std::collections::HashSet;

use orchestrace::graph::{critical_path, level_barrier};
use orchestrace::plan::Strategy;

use super::{
    format_duration, levels, ms, r3, sort_suggestions, Analysis, CriticalPathBasis, Suggestion,
    SuggestionKind, ToolTiming, DOMINANT_SHARE, QUEUE_WAIT_THRESHOLD_MS,
};
use crate::model::{Orchestration, ToolCall};

/// What the suggestions are computed from.
struct Facts<'a> {
    orch: &'a Orchestration,
    durations: Vec<f64>,
    deps: Vec<Vec<usize>>,
    levels: Vec<usize>,
    path: Vec<usize>,
    path_ms: f64,
    with_deps: bool,
    makespan: f64,
    t0: u64,
}

pub(super) fn analyze_plan(trace_id: &str, orch: &Orchestration) -> Analysis {
    let tools = &orch.tools;
    let t0 = orch.start_ns();
    let makespan = ms(orch.end_ns().saturating_sub(t0));
    let durations: Vec<f64> = tools.iter().map(ToolCall::duration_ms).collect();
    let serial: f64 = durations.iter().sum();
    let deps = orch.dependency_indices();
    let mut notes = notes(orch);
    let timing = timing_path_flat(tools);
    let with_deps = orch.has_dependency_data;
    let (path, path_ms, basis) = if with_deps {
        let (p, l) = critical_path(&durations, &deps);
        (p, l, CriticalPathBasis::Dependencies)
    } else {
        notes.push(
            "the tool spans carry no dependency data; the critical path is timing-based".into(),
        );
        let l = timing.iter().map(|&i| durations[i]).sum();
        (timing.clone(), l, CriticalPathBasis::Timing)
    };
    let levels = levels(&deps);
    let facts = Facts {
        orch,
        durations,
        deps,
        levels,
        path,
        path_ms,
        with_deps,
        makespan,
        t0,
    };
    let barrier = with_deps.then(|| level_barrier(&facts.durations, &facts.levels));
    let timings = timings(&facts);
    let mut suggestions = Vec::new();
    suggestions.extend(dominant_tool(&facts));
    suggestions.extend(unused_dependencies(&facts));
    suggestions.extend(serial_strategy(&facts));
    suggestions.extend(queue_waits(tools));
    suggestions.extend(retries(&facts));
    sort_suggestions(&mut suggestions);

    let saved = serial - makespan;
    Analysis {
        trace_id: trace_id.to_owned(),
        execution_strategy: orch.strategy,
        total_duration_ms: r3(makespan),
        serial_duration_ms: r3(serial),
        time_saved_ms: r3(saved),
        time_saved_pct: if serial > 0.0 {
            r3(saved / serial * 100.0)
        } else {
            0.0
        },
        critical_path: facts.path.iter().map(|&i| tools[i].id.clone()).collect(),
        critical_path_ms: r3(path_ms),
        level_barrier_ms: barrier.map(r3),
        tools: timings,
        suggestions,
        plan_data: true,
        critical_path_basis: basis,
        timing_critical_path: timing.iter().map(|&i| tools[i].id.clone()).collect(),
        notes,
    }
}

/// Several runs in one trace; dependencies without a span.
fn notes(orch: &Orchestration) -> Vec<String> {
    let mut notes = Vec::new();
    if orch.runs > 1 {
        notes.push(format!(
            "the trace holds {} runs; this analysis covers the first",
            orch.runs
        ));
    }
    for t in &orch.tools {
        for d in &t.depends_on {
            if orch.index_of(d).is_none() {
                notes.push(format!(
                    "{} depends on {d:?}, which has no span in the trace",
                    t.id
                ));
            }
        }
    }
    notes
}

fn timings(f: &Facts<'_>) -> Vec<ToolTiming> {
    let tools = &f.orch.tools;
    let slack = if f.with_deps {
        slack(&f.durations, &f.deps, &f.levels, f.path_ms)
    } else {
        let end = f.orch.end_ns();
        let on_path: HashSet<usize> = f.path.iter().copied().collect();
        (0..tools.len())
            .map(|i| {
                if on_path.contains(&i) {
                    0.0
                } else {
                    ms(end.saturating_sub(tools[i].end_ns))
                }
            })
            .collect()
    };
    tools
        .iter()
        .enumerate()
        .map(|(i, t)| ToolTiming {
            id: t.id.clone(),
            tool: t.tool.clone(),
            group: t.group,
            order: t.order,
            start_ms: r3(ms(t.start_ns.saturating_sub(f.t0))),
            duration_ms: r3(f.durations[i]),
            status: t.status,
            slack_ms: r3(slack[i].max(0.0)),
        })
        .collect()
}

/// A tool taking most of the critical path, when a faster one would shorten the path
/// (another chain may be as long).
fn dominant_tool(f: &Facts<'_>) -> Option<Suggestion> {
    let tools = &f.orch.tools;
    if tools.len() < 2 || f.path_ms <= 0.0 {
        return None;
    }
    let d = &f.durations;
    let &top = f
        .path
        .iter()
        .max_by(|&&a, &&b| d[a].total_cmp(&d[b]).then(b.cmp(&a)))?;
    let share = d[top] / f.path_ms;
    if share < DOMINANT_SHARE {
        return None;
    }
    let gain = r3(if f.with_deps {
        let mut halved = d.clone();
        halved[top] /= 2.0;
        f.path_ms - critical_path(&halved, &f.deps).1
    } else {
        d[top] / 2.0
    });
    (gain > 0.0).then(|| Suggestion {
        kind: SuggestionKind::DominantTool,
        tool: Some(tools[top].id.clone()),
        message: format!(
            "{} takes {} of the {} critical path ({:.0}%); making it twice as fast would cut the critical path by {}",
            tools[top].id,
            format_duration(d[top]),
            format_duration(f.path_ms),
            share * 100.0,
            format_duration(gain)
        ),
        estimated_gain_ms: gain,
    })
}

/// Declared dependencies the data flow never reads.
fn unused_dependencies(f: &Facts<'_>) -> Vec<Suggestion> {
    if !f.with_deps {
        return Vec::new();
    }
    let tools = &f.orch.tools;
    // (gain, tool, its dependency's position in `depends_on`): the sentences are written
    // for the listed ones only.
    let mut found: Vec<(f64, (usize, usize))> = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let sources = t.data_flow_sources(f.orch.plan_mapping(&t.id));
        // The two latest ends among its dependencies: dropping one leaves the other.
        let mut latest: [Option<(u64, usize)>; 2] = [None, None];
        for &k in &f.deps[i] {
            let e = (tools[k].end_ns, k);
            if latest[0].is_none_or(|l| e > l) {
                latest[1] = latest[0];
                latest[0] = Some(e);
            } else if latest[1].is_none_or(|l| e > l) {
                latest[1] = Some(e);
            }
        }
        for (p, d) in t.depends_on.iter().enumerate() {
            if sources.contains(d) {
                continue;
            }
            let Some(di) = f.orch.index_of(d) else {
                continue;
            };
            let others = latest
                .iter()
                .flatten()
                .find(|&&(_, k)| k != di)
                .map(|&(e, _)| e)
                .unwrap_or(f.t0)
                .max(f.t0);
            let gain = r3(ms(t.start_ns.min(tools[di].end_ns).saturating_sub(others)));
            found.push((gain, (i, p)));
        }
    }
    listed(
        SuggestionKind::UnusedDependency,
        found,
        |gain, (i, p)| {
            let t = &tools[i];
            (
                t.id.clone(),
                unused_dependency_message(t, &t.depends_on[p], gain),
            )
        },
        |n, max| {
            format!(
                "{n} more declared dependencies are never read by the data flow (up to {} each); the {MAX_LISTED} with the largest gains are listed",
                format_duration(max)
            )
        },
    )
}

/// At most this many suggestions of one kind are listed, those with the largest gains; the
/// rest are counted in one more suggestion of the kind. A plan of 50,000 tools gets a list a
/// person reads, not 50,000 sentences (25 MB of them, held while the views are drawn).
pub(crate) const MAX_LISTED: usize = 100;

/// The [`MAX_LISTED`] candidates with the largest gains (in the order found among equal
/// gains) as suggestions of `kind` (`item` gives a candidate's tool and sentence), then one
/// more that counts the rest (`rest` says it from their number and largest gain).
fn listed<T>(
    kind: SuggestionKind,
    mut found: Vec<(f64, T)>,
    item: impl Fn(f64, T) -> (String, String),
    rest: impl FnOnce(usize, f64) -> String,
) -> Vec<Suggestion> {
    let mut unlisted = None;
    if found.len() > MAX_LISTED {
        // A stable sort: equal gains keep the order they were found in (plan order).
        found.sort_by(|a, b| b.0.total_cmp(&a.0));
        let left = &found[MAX_LISTED..];
        unlisted = Some((left.len(), left[0].0));
        found.truncate(MAX_LISTED);
    }
    let mut out: Vec<Suggestion> = found
        .into_iter()
        .map(|(gain, c)| {
            let (tool, message) = item(gain, c);
            Suggestion {
                kind,
                tool: Some(tool),
                message,
                estimated_gain_ms: gain,
            }
        })
        .collect();
    out.extend(unlisted.map(|(n, max)| Suggestion {
        kind,
        tool: None,
        message: rest(n, max),
        estimated_gain_ms: max,
    }));
    out
}

fn unused_dependency_message(t: &ToolCall, d: &str, gain: f64) -> String {
    let mut message = if gain > 0.0 {
        format!(
            "{} declares depends_on {d} but its data flow never reads {d}; unless the order matters, dropping the dependency would let {} start {} earlier",
            t.id,
            t.id,
            format_duration(gain)
        )
    } else {
        format!(
            "{} declares depends_on {d} but its data flow never reads {d}; it cost nothing in this run, but unless the order matters the dependency can go",
            t.id
        )
    };
    if !t.ran()
        && t.skip_reason
            .as_deref()
            .is_some_and(|r| r.contains(&format!("{d:?}")))
    {
        message.push_str(&format!(
            ", and it was skipped only because {d} did not succeed"
        ));
    }
    message
}

/// The serial strategy over tools that do not depend on each other.
fn serial_strategy(f: &Facts<'_>) -> Option<Suggestion> {
    if f.orch.strategy != Some(Strategy::Serial) || !f.with_deps {
        return None;
    }
    let tools = &f.orch.tools;
    // The lowest level with two tools, as a level-by-level scan finds it.
    let (_, a, b) = lowest_level_pair(&f.levels)?;
    let gain = r3((f.makespan - f.path_ms).max(0.0));
    Some(Suggestion {
        kind: SuggestionKind::SerialStrategy,
        tool: None,
        message: format!(
            "the serial strategy ran one tool at a time, but {} and {} do not depend on each other; with \"auto\" or \"dag\" the run could take about {} instead of {}",
            tools[a].id,
            tools[b].id,
            format_duration(f.path_ms),
            format_duration(f.makespan)
        ),
        estimated_gain_ms: gain,
    })
}

/// The lowest level holding two tools, with its first two (by index).
fn lowest_level_pair(levels: &[usize]) -> Option<(usize, usize, usize)> {
    let n_levels = levels.iter().map(|&l| l + 1).max().unwrap_or(0);
    let mut first: Vec<Option<usize>> = vec![None; n_levels];
    let mut second: Vec<Option<usize>> = vec![None; n_levels];
    for (i, &l) in levels.iter().enumerate() {
        if first[l].is_none() {
            first[l] = Some(i);
        } else if second[l].is_none() {
            second[l] = Some(i);
        }
    }
    (0..n_levels).find_map(|l| Some((l, first[l]?, second[l]?)))
}

/// Queue waits under a concurrency cap.
fn queue_waits(tools: &[ToolCall]) -> Vec<Suggestion> {
    let found: Vec<(f64, usize)> = tools
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            Some((
                r3(t.queue_wait_ms.filter(|&q| q >= QUEUE_WAIT_THRESHOLD_MS)?),
                i,
            ))
        })
        .collect();
    listed(
        SuggestionKind::QueueWait,
        found,
        |q, i| {
            let id = &tools[i].id;
            (
                id.clone(),
                format!(
                    "{id} waited {} for a free slot after its dependencies were done; a higher max_concurrency would let it start {} earlier",
                    format_duration(q),
                    format_duration(q)
                ),
            )
        },
        |n, max| {
            format!(
                "{n} more tools waited for a free slot (up to {} each); the {MAX_LISTED} that waited longest are listed",
                format_duration(max)
            )
        },
    )
}

/// Time spent on failed attempts, backoff and the fallback.
fn retries(f: &Facts<'_>) -> Vec<Suggestion> {
    let tools = &f.orch.tools;
    let found: Vec<(f64, usize)> = tools
        .iter()
        .enumerate()
        .filter(|(_, t)| t.retry_count > 0 || t.fallback_used)
        .map(|(i, t)| {
            let lost = r3(t.retry_lost_ms.unwrap_or_else(|| {
                let attempts =
                    f64::from(t.retry_count) + 1.0 + f64::from(u8::from(t.fallback_used));
                f.durations[i] * (attempts - 1.0) / attempts
            }));
            (lost, i)
        })
        .collect();
    listed(
        SuggestionKind::Retries,
        found,
        |lost, i| {
            let t = &tools[i];
            let what = match (t.retry_count, t.fallback_used) {
                (0, _) => "its fallback".to_owned(),
                (1, false) => "1 retry".to_owned(),
                (n, false) => format!("{n} retries"),
                (1, true) => "1 retry and its fallback".to_owned(),
                (n, true) => format!("{n} retries and its fallback"),
            };
            (
                t.id.clone(),
                format!(
                    "{} needed {what}; the failed attempts and backoff took {} of its {}",
                    t.id,
                    format_duration(lost),
                    format_duration(f.durations[i])
                ),
            )
        },
        |n, max| {
            format!(
                "{n} more tools needed retries or their fallback (up to {} lost each); the {MAX_LISTED} that lost the most are listed",
                format_duration(max)
            )
        },
    )
}

/// Total float per tool: the critical path's length minus the longest path through the tool.
fn slack(durations: &[f64], deps: &[Vec<usize>], levels: &[usize], path_ms: f64) -> Vec<f64> {
    let n = durations.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (levels[i], i));
    let mut head = vec![0.0f64; n];
    for &i in &order {
        let before = deps[i]
            .iter()
            .filter(|&&d| d != i && levels[d] < levels[i])
            .map(|&d| head[d])
            .fold(0.0, f64::max);
        head[i] = before + durations[i];
    }
    let mut dependents = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            if d != i && levels[d] < levels[i] {
                dependents[d].push(i);
            }
        }
    }
    let mut tail = vec![0.0f64; n];
    for &i in order.iter().rev() {
        let after = dependents[i].iter().map(|&j| tail[j]).fold(0.0, f64::max);
        tail[i] = after + durations[i];
    }
    (0..n)
        .map(|i| {
            let through = head[i] + tail[i] - durations[i];
            let s = path_ms - through;
            if s.abs() < 1e-6 {
                0.0
            } else {
                s
            }
        })
        .collect()
}

/// The timing-based critical path over tools that ran: the last to end, then repeatedly the
/// tool that ended last before the current one started. Indices, first to last.
///
/// The tools are sorted once by how late they end; since each step's bound (the current
/// tool's start) never grows, one cursor through that order finds every step: `n log n`.
pub(crate) fn timing_path_flat(tools: &[ToolCall]) -> Vec<usize> {
    let mut ran: Vec<usize> = (0..tools.len()).filter(|&i| tools[i].ran()).collect();
    // Latest end first; ties: longer, then lower index.
    ran.sort_by(|&a, &b| {
        let (ta, tb) = (&tools[a], &tools[b]);
        (tb.end_ns, tb.end_ns - tb.start_ns, a).cmp(&(ta.end_ns, ta.end_ns - ta.start_ns, b))
    });
    let mut on_path = vec![false; tools.len()];
    let mut path = Vec::new();
    let Some(&first) = ran.first() else {
        return path;
    };
    on_path[first] = true;
    path.push(first);
    let mut cursor = 1;
    let mut bound = tools[first].start_ns;
    while cursor < ran.len() {
        let i = ran[cursor];
        cursor += 1;
        if on_path[i] || tools[i].end_ns > bound {
            continue;
        }
        on_path[i] = true;
        path.push(i);
        bound = bound.min(tools[i].start_ns);
    }
    path.reverse();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_is_total_float() {
        // a(10) → c(50); b(30) → c: a has 20 ms of slack.
        let deps = vec![vec![], vec![], vec![0, 1]];
        let d = [10.0, 30.0, 50.0];
        let levels = levels(&deps);
        let (_, l) = critical_path(&d, &deps);
        assert_eq!(l, 80.0);
        assert_eq!(slack(&d, &deps, &levels, l), vec![20.0, 0.0, 0.0]);
    }

    #[test]
    fn the_lowest_level_with_two_tools_is_named() {
        assert_eq!(lowest_level_pair(&[0, 1, 1, 0]), Some((0, 0, 3)));
        assert_eq!(lowest_level_pair(&[0, 1, 2]), None);
    }
}
