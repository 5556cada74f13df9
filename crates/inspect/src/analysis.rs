//! Performance analysis of a trace (SPEC §9): makespan, serial sum, time saved, the
//! dependency-based critical path, the level-barrier figure, per-tool slack, and suggestions
//! with estimated gains.
//!
//! With plan data (tool spans carrying `orchestration.depends_on`), the critical path is the
//! longest path through the *dependency* graph weighted by actual durations
//! ([`orchestrace::graph::critical_path`], the same function the executor's summary uses), slack is each
//! tool's total float against it, and the level barrier is what level-by-level execution of
//! the dependency levels would have taken ([`orchestrace::graph::level_barrier`]). The *timing-based*
//! critical path — the chain of spans that actually ran back to back up to the last end — is
//! computed as well; it is the only one for traces without plan data, where every span is a
//! "tool", the serial sum is the sum of self times, and slack is the time a span could have
//! ended later without delaying its parent.

use serde::{Deserialize, Serialize};

use super::model::{Orchestration, ToolCall, Trace};
use orchestrace::graph::{critical_path, level_barrier, levels_of};

/// The analysis of one trace; its JSON form is what `orchestrace inspect --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The trace id.
    pub trace_id: String,
    /// `parallel`, `serial` or `dag`; `null` without plan data.
    pub execution_strategy: Option<String>,
    /// First tool start to last tool end, in milliseconds.
    pub makespan_ms: f64,
    /// Sum of tool durations (without plan data: of span self times), in milliseconds.
    pub serial_duration_ms: f64,
    /// `serial_duration_ms - makespan_ms` (negative when tools idled between each other).
    pub time_saved_ms: f64,
    /// `time_saved_ms` as a percentage of `serial_duration_ms`.
    pub time_saved_pct: f64,
    /// Tool ids of the critical path, first to last.
    pub critical_path: Vec<String>,
    /// Its length, in milliseconds.
    pub critical_path_ms: f64,
    /// What level-by-level execution with a barrier after each level would have taken;
    /// `null` without dependency data.
    pub level_barrier_ms: Option<f64>,
    /// Per tool, in planned order (without plan data: every span, depth first).
    pub tools: Vec<ToolTiming>,
    /// What to change to go faster, largest estimated gain first.
    pub suggestions: Vec<Suggestion>,
    /// Whether the trace carried orchestrace plan data (tool spans).
    pub plan_data: bool,
    /// What `critical_path` follows: `dependencies` or `timing`.
    pub critical_path_basis: CriticalPathBasis,
    /// The timing-based critical path: what actually ran back to back up to the last end.
    pub timing_critical_path: Vec<String>,
    /// Remarks on the data (no plan data found, several runs in one trace, …).
    pub notes: Vec<String>,
}

/// What a critical path follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CriticalPathBasis {
    /// The dependency graph, weighted by actual durations.
    Dependencies,
    /// Span timing alone.
    Timing,
}

/// One tool's timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolTiming {
    /// The plan's tool id (without plan data: the span id).
    pub id: String,
    /// The tool type (without plan data: the span name).
    pub tool: String,
    /// Level (without plan data: depth in the span tree).
    pub group: usize,
    /// Planned order index (without plan data: position depth first).
    pub order: usize,
    /// Start, in milliseconds from the first tool start.
    pub start_ms: f64,
    /// Duration in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `error`, `skipped` or `cancelled`.
    pub status: String,
    /// How much later it could have finished without lengthening the critical path.
    pub slack_ms: f64,
}

/// What kind of change a suggestion proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SuggestionKind {
    /// One tool takes most of the critical path.
    DominantTool,
    /// A declared dependency the data flow never reads.
    UnusedDependency,
    /// The serial strategy over tools that do not depend on each other.
    SerialStrategy,
    /// Tools waited for a concurrency slot.
    QueueWait,
    /// Time spent on failed attempts, backoff and the fallback.
    Retries,
}

impl SuggestionKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionKind::DominantTool => "dominant_tool",
            SuggestionKind::UnusedDependency => "unused_dependency",
            SuggestionKind::SerialStrategy => "serial_strategy",
            SuggestionKind::QueueWait => "queue_wait",
            SuggestionKind::Retries => "retries",
        }
    }
}

/// A change that would make the run faster, with its estimated gain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The kind of change.
    pub kind: SuggestionKind,
    /// The tool concerned; `null` for plan-wide suggestions.
    pub tool: Option<String>,
    /// One sentence a user can act on.
    pub message: String,
    /// Milliseconds saved (see each kind's message for what the gain applies to).
    pub estimated_gain_ms: f64,
}

/// Waits shorter than this are noise, not a concurrency problem.
const QUEUE_WAIT_THRESHOLD_MS: f64 = 1.0;
/// A tool dominates the critical path from this share on.
const DOMINANT_SHARE: f64 = 0.5;

/// Milliseconds rounded to the microsecond.
pub(crate) fn r3(ms: f64) -> f64 {
    let r = (ms * 1000.0).round() / 1000.0;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// A duration for messages: `750ms`, `1.5s`, `0.25ms`.
pub fn format_duration(ms: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let a = ms.abs();
    let sign = if ms < 0.0 { "-" } else { "" };
    if a >= 1000.0 {
        format!("{sign}{}s", trim(format!("{:.2}", a / 1000.0)))
    } else if a >= 1.0 {
        format!("{sign}{}ms", trim(format!("{a:.1}")))
    } else if a > 0.0 {
        format!("{sign}{}ms", trim(format!("{a:.2}")))
    } else {
        "0ms".to_owned()
    }
}

/// Analyzes a trace: with plan data by its dependencies, else by timing alone.
pub fn analyze(trace: &Trace) -> Analysis {
    match trace.orchestration() {
        Some(orch) => analyze_plan(trace, &orch),
        None => analyze_spans(trace),
    }
}

/// Whether the tools carry dependency data (so the dependency-based path means something).
pub(crate) fn has_dependency_data(trace: &Trace, orch: &Orchestration) -> bool {
    orch.execution_plan.is_some()
        || orch.tools.iter().any(|t| {
            trace.spans[t.span]
                .attr(orchestrace::semconv::DEPENDS_ON)
                .is_some()
        })
}

/// Per tool: whether it is on the critical path (dependency- or timing-based as the analysis
/// chose).
pub(crate) fn critical_tools(orch: &Orchestration, a: &Analysis) -> Vec<bool> {
    orch.tools
        .iter()
        .map(|t| a.critical_path.contains(&t.id))
        .collect()
}

fn analyze_plan(trace: &Trace, orch: &Orchestration) -> Analysis {
    let tools = &orch.tools;
    let t0 = orch.start_ns();
    let makespan = ms(orch.end_ns().saturating_sub(t0));
    let durations: Vec<f64> = tools.iter().map(ToolCall::duration_ms).collect();
    let serial: f64 = durations.iter().sum();
    let deps = orch.dependency_indices();
    let mut notes = Vec::new();
    if orch.runs > 1 {
        notes.push(format!(
            "the trace holds {} runs; this analysis covers the first",
            orch.runs
        ));
    }
    for t in tools {
        for d in &t.depends_on {
            if orch.index_of(d).is_none() {
                notes.push(format!(
                    "{} depends on {d:?}, which has no span in the trace",
                    t.id
                ));
            }
        }
    }
    let timing = timing_path_flat(tools);
    let timing_ids: Vec<String> = timing.iter().map(|&i| tools[i].id.clone()).collect();
    let with_deps = has_dependency_data(trace, orch);
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
    let levels = levels_of(&deps);
    let barrier = if with_deps {
        Some(level_barrier(&durations, &levels))
    } else {
        None
    };
    let slack = if with_deps {
        slack(&durations, &deps, &levels, path_ms)
    } else {
        let end = orch.end_ns();
        (0..tools.len())
            .map(|i| {
                if path.contains(&i) {
                    0.0
                } else {
                    ms(end.saturating_sub(tools[i].end_ns))
                }
            })
            .collect()
    };
    let timings = tools
        .iter()
        .enumerate()
        .map(|(i, t)| ToolTiming {
            id: t.id.clone(),
            tool: t.tool.clone(),
            group: t.group,
            order: t.order,
            start_ms: r3(ms(t.start_ns.saturating_sub(t0))),
            duration_ms: r3(durations[i]),
            status: t.status.clone(),
            slack_ms: r3(slack[i].max(0.0)),
        })
        .collect();

    let mut suggestions = Vec::new();
    // A tool dominating the critical path.
    if tools.len() > 1 && path_ms > 0.0 {
        if let Some(&top) = path
            .iter()
            .max_by(|&&a, &&b| durations[a].total_cmp(&durations[b]).then(b.cmp(&a)))
        {
            let share = durations[top] / path_ms;
            if share >= DOMINANT_SHARE {
                // Only when a faster tool would shorten the path (another chain may be as long).
                let gain = r3(if with_deps {
                    let mut halved = durations.clone();
                    halved[top] /= 2.0;
                    path_ms - critical_path(&halved, &deps).1
                } else {
                    durations[top] / 2.0
                });
                if gain > 0.0 {
                    suggestions.push(Suggestion {
                    kind: SuggestionKind::DominantTool,
                    tool: Some(tools[top].id.clone()),
                    message: format!(
                        "{} takes {} of the {} critical path ({:.0}%); making it twice as fast would cut the critical path by {}",
                        tools[top].id,
                        format_duration(durations[top]),
                        format_duration(path_ms),
                        share * 100.0,
                        format_duration(gain)
                    ),
                    estimated_gain_ms: r3(gain),
                });
                }
            }
        }
    }
    // Declared dependencies the data flow never reads.
    if with_deps {
        for (i, t) in tools.iter().enumerate() {
            let sources = t.data_flow_sources(orch.plan_mapping(&t.id));
            for d in &t.depends_on {
                if sources.contains(d) {
                    continue;
                }
                let Some(di) = orch.index_of(d) else { continue };
                let others = deps[i]
                    .iter()
                    .filter(|&&k| k != di)
                    .map(|&k| tools[k].end_ns)
                    .max()
                    .unwrap_or(t0)
                    .max(t0);
                let gain = r3(ms(t.start_ns.min(tools[di].end_ns).saturating_sub(others)));
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
                suggestions.push(Suggestion {
                    kind: SuggestionKind::UnusedDependency,
                    tool: Some(t.id.clone()),
                    message,
                    estimated_gain_ms: r3(gain),
                });
            }
        }
    }
    // The serial strategy over independent tools.
    if orch.strategy.as_deref() == Some("serial") && with_deps {
        let mut by_level: Vec<Vec<usize>> = Vec::new();
        for (i, &l) in levels.iter().enumerate() {
            if by_level.len() <= l {
                by_level.resize(l + 1, Vec::new());
            }
            by_level[l].push(i);
        }
        if let Some(group) = by_level.iter().find(|g| g.len() > 1) {
            let gain = r3((makespan - path_ms).max(0.0));
            suggestions.push(Suggestion {
                kind: SuggestionKind::SerialStrategy,
                tool: None,
                message: format!(
                    "the serial strategy ran one tool at a time, but {} and {} do not depend on each other; with \"auto\" or \"dag\" the run could take about {} instead of {}",
                    tools[group[0]].id,
                    tools[group[1]].id,
                    format_duration(path_ms),
                    format_duration(makespan)
                ),
                estimated_gain_ms: r3(gain),
            });
        }
    }
    // Queue waits under a concurrency cap.
    for t in tools {
        if let Some(q) = t
            .queue_wait_ms
            .filter(|&q| q >= QUEUE_WAIT_THRESHOLD_MS)
            .map(r3)
        {
            suggestions.push(Suggestion {
                kind: SuggestionKind::QueueWait,
                tool: Some(t.id.clone()),
                message: format!(
                    "{} waited {} for a free slot after its dependencies were done; a higher max_concurrency would let it start {} earlier",
                    t.id,
                    format_duration(q),
                    format_duration(q)
                ),
                estimated_gain_ms: r3(q),
            });
        }
    }
    // Retries and the fallback.
    for (i, t) in tools.iter().enumerate() {
        if t.retry_count == 0 && !t.fallback_used {
            continue;
        }
        let lost = r3(t.retry_lost_ms.unwrap_or_else(|| {
            let attempts = f64::from(t.retry_count) + 1.0 + f64::from(u8::from(t.fallback_used));
            durations[i] * (attempts - 1.0) / attempts
        }));
        let what = match (t.retry_count, t.fallback_used) {
            (0, _) => "its fallback".to_owned(),
            (1, false) => "1 retry".to_owned(),
            (n, false) => format!("{n} retries"),
            (1, true) => "1 retry and its fallback".to_owned(),
            (n, true) => format!("{n} retries and its fallback"),
        };
        suggestions.push(Suggestion {
            kind: SuggestionKind::Retries,
            tool: Some(t.id.clone()),
            message: format!(
                "{} needed {what}; the failed attempts and backoff took {} of its {}",
                t.id,
                format_duration(lost),
                format_duration(durations[i])
            ),
            estimated_gain_ms: r3(lost),
        });
    }
    sort_suggestions(&mut suggestions);

    let saved = serial - makespan;
    Analysis {
        trace_id: trace.trace_id.clone(),
        execution_strategy: orch.strategy.clone(),
        makespan_ms: r3(makespan),
        serial_duration_ms: r3(serial),
        time_saved_ms: r3(saved),
        time_saved_pct: if serial > 0.0 {
            r3(saved / serial * 100.0)
        } else {
            0.0
        },
        critical_path: path.iter().map(|&i| tools[i].id.clone()).collect(),
        critical_path_ms: r3(path_ms),
        level_barrier_ms: barrier.map(r3),
        tools: timings,
        suggestions,
        plan_data: true,
        critical_path_basis: basis,
        timing_critical_path: timing_ids,
        notes,
    }
}

fn sort_suggestions(s: &mut [Suggestion]) {
    s.sort_by(|a, b| {
        b.estimated_gain_ms
            .total_cmp(&a.estimated_gain_ms)
            .then(a.kind.cmp(&b.kind))
            .then(a.tool.cmp(&b.tool))
    });
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
pub(crate) fn timing_path_flat(tools: &[ToolCall]) -> Vec<usize> {
    let ran: Vec<usize> = (0..tools.len()).filter(|&i| tools[i].ran()).collect();
    let better = |a: usize, b: usize| {
        // Whether `a` ends later than `b` (ties: longer, then lower index).
        let (ta, tb) = (&tools[a], &tools[b]);
        (ta.end_ns, ta.end_ns - ta.start_ns, std::cmp::Reverse(a))
            > (tb.end_ns, tb.end_ns - tb.start_ns, std::cmp::Reverse(b))
    };
    let pick = |cands: &mut dyn Iterator<Item = usize>| {
        cands.fold(None, |best: Option<usize>, i| match best {
            Some(b) if !better(i, b) => Some(b),
            _ => Some(i),
        })
    };
    let mut path = Vec::new();
    let Some(mut cur) = pick(&mut ran.iter().copied()) else {
        return path;
    };
    path.push(cur);
    loop {
        let start = tools[cur].start_ns;
        let next = pick(
            &mut ran
                .iter()
                .copied()
                .filter(|&i| !path.contains(&i) && tools[i].end_ns <= start),
        );
        match next {
            Some(n) => {
                path.push(n);
                cur = n;
            }
            None => break,
        }
    }
    path.reverse();
    path
}

/// A stretch of the timing-based critical path: span index, start, end (ns).
pub(crate) type Segment = (usize, u64, u64);

/// The timing-based critical path of a span tree (Jaeger's algorithm): from the trace's end
/// backwards, each span's time is its own until the child that finished last before the
/// cursor, whose own path follows, and so on. Spans that outlive their parent count as
/// children of the nearest ancestor that contains their end (or of the trace). Segments in
/// time order; idle gaps between top-level spans are left out.
pub(crate) fn timing_segments(trace: &Trace) -> Vec<Segment> {
    let spans = &trace.spans;
    let n = spans.len();
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, s) in spans.iter().enumerate() {
        let mut p = s.parent;
        while let Some(a) = p {
            if s.end_ns <= spans[a].end_ns {
                break;
            }
            p = spans[a].parent;
        }
        kids[p.unwrap_or(n)].push(i);
    }
    let mut out = Vec::new();
    walk(spans, &kids, n, trace.start_ns(), trace.end_ns(), &mut out);
    out.retain(|&(i, s, e)| i < n && e > s);
    out.reverse();
    out
}

fn walk(
    spans: &[super::model::Span],
    kids: &[Vec<usize>],
    node: usize,
    s: u64,
    e: u64,
    out: &mut Vec<Segment>,
) {
    let mut cursor = e;
    let mut used: Vec<usize> = Vec::new();
    loop {
        let next = kids[node]
            .iter()
            .copied()
            .filter(|k| !used.contains(k))
            .map(|k| (k, spans[k].start_ns.max(s), spans[k].end_ns.min(e)))
            .filter(|&(_, ks, ke)| ke > ks && ke <= cursor && ke > s)
            .fold(None, |best: Option<(usize, u64, u64)>, c| match best {
                Some(b) if (b.2, b.2 - b.1) >= (c.2, c.2 - c.1) => Some(b),
                _ => Some(c),
            });
        let Some((k, ks, ke)) = next else {
            if cursor > s {
                out.push((node, s, cursor));
            }
            return;
        };
        if cursor > ke {
            out.push((node, ke, cursor));
        }
        used.push(k);
        walk(spans, kids, k, ks, ke, out);
        cursor = ks;
        if cursor <= s {
            return;
        }
    }
}

/// Self time of each span: its duration minus the union of its children's (clipped) time.
pub(crate) fn self_times(trace: &Trace) -> Vec<u64> {
    let children = trace.children();
    trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut iv: Vec<(u64, u64)> = children[i]
                .iter()
                .map(|&c| {
                    (
                        trace.spans[c].start_ns.clamp(s.start_ns, s.end_ns),
                        trace.spans[c].end_ns.clamp(s.start_ns, s.end_ns),
                    )
                })
                .filter(|(a, b)| b > a)
                .collect();
            iv.sort_unstable();
            let mut covered = 0;
            let mut cur: Option<(u64, u64)> = None;
            for (a, b) in iv {
                match cur {
                    Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
                    Some((ca, cb)) => {
                        covered += cb - ca;
                        cur = Some((a, b));
                    }
                    None => cur = Some((a, b)),
                }
            }
            if let Some((ca, cb)) = cur {
                covered += cb - ca;
            }
            s.duration_ns().saturating_sub(covered)
        })
        .collect()
}

fn analyze_spans(trace: &Trace) -> Analysis {
    let t0 = trace.start_ns();
    let makespan = ms(trace.end_ns().saturating_sub(t0));
    let selfs = self_times(trace);
    let serial: f64 = selfs.iter().map(|&n| ms(n)).sum();
    let segments = timing_segments(trace);
    let mut path: Vec<usize> = Vec::new();
    for &(i, _, _) in &segments {
        if !path.contains(&i) {
            path.push(i);
        }
    }
    let path_ms: f64 = segments.iter().map(|&(_, s, e)| ms(e - s)).sum();
    let order = trace.tree_order();
    let tools: Vec<ToolTiming> = order
        .iter()
        .enumerate()
        .map(|(k, &(i, depth))| {
            let s = &trace.spans[i];
            let limit = s
                .parent
                .map(|p| trace.spans[p].end_ns)
                .unwrap_or_else(|| trace.end_ns());
            ToolTiming {
                id: s.span_id.clone(),
                tool: s.name.clone(),
                group: depth,
                order: k,
                start_ms: r3(ms(s.start_ns.saturating_sub(t0))),
                duration_ms: r3(ms(s.duration_ns())),
                status: if s.is_error() { "error" } else { "ok" }.to_owned(),
                slack_ms: if path.contains(&i) {
                    0.0
                } else {
                    r3(ms(limit.saturating_sub(s.end_ns)))
                },
            }
        })
        .collect();
    let mut suggestions = Vec::new();
    if path_ms > 0.0 && trace.spans.len() > 1 {
        let mut share: Vec<(usize, u64)> = Vec::new();
        for &(i, s, e) in &segments {
            match share.iter_mut().find(|(j, _)| *j == i) {
                Some((_, t)) => *t += e - s,
                None => share.push((i, e - s)),
            }
        }
        if let Some(&(top, t)) = share
            .iter()
            .max_by_key(|&&(i, t)| (t, std::cmp::Reverse(i)))
        {
            let part = ms(t) / path_ms;
            if part >= DOMINANT_SHARE {
                let s = &trace.spans[top];
                suggestions.push(Suggestion {
                    kind: SuggestionKind::DominantTool,
                    tool: Some(s.span_id.clone()),
                    message: format!(
                        "{} spends {} of the {} critical path in its own code ({:.0}%); making that twice as fast would cut the critical path by {}",
                        s.name,
                        format_duration(ms(t)),
                        format_duration(path_ms),
                        part * 100.0,
                        format_duration(ms(t) / 2.0)
                    ),
                    estimated_gain_ms: r3(ms(t) / 2.0),
                });
            }
        }
    }
    let mut notes = vec![
        "no orchestration plan data found; showing the span tree and a timing-based critical path"
            .to_owned(),
    ];
    let ids = trace.trace_ids();
    if ids.len() > 1 {
        notes.push(format!("the file holds spans of {} trace ids", ids.len()));
    }
    let saved = serial - makespan;
    Analysis {
        trace_id: trace.trace_id.clone(),
        execution_strategy: None,
        makespan_ms: r3(makespan),
        serial_duration_ms: r3(serial),
        time_saved_ms: r3(saved),
        time_saved_pct: if serial > 0.0 {
            r3(saved / serial * 100.0)
        } else {
            0.0
        },
        critical_path: path
            .iter()
            .map(|&i| trace.spans[i].span_id.clone())
            .collect(),
        critical_path_ms: r3(path_ms),
        level_barrier_ms: None,
        tools,
        suggestions,
        plan_data: false,
        critical_path_basis: CriticalPathBasis::Timing,
        timing_critical_path: path
            .iter()
            .map(|&i| trace.spans[i].span_id.clone())
            .collect(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_seed() {
        assert_eq!(format_duration(2400.0), "2.4s");
        assert_eq!(format_duration(800.0), "800ms");
        assert_eq!(format_duration(21.44), "21.4ms");
        assert_eq!(format_duration(0.25), "0.25ms");
        assert_eq!(format_duration(0.0), "0ms");
        assert_eq!(format_duration(1500.0), "1.5s");
        assert_eq!(format_duration(-100.0), "-100ms");
    }

    #[test]
    fn slack_is_total_float() {
        // a(10) → c(50); b(30) → c: a has 20 ms of slack.
        let deps = vec![vec![], vec![], vec![0, 1]];
        let d = [10.0, 30.0, 50.0];
        let levels = levels_of(&deps);
        let (_, l) = critical_path(&d, &deps);
        assert_eq!(l, 80.0);
        assert_eq!(slack(&d, &deps, &levels, l), vec![20.0, 0.0, 0.0]);
    }
}
