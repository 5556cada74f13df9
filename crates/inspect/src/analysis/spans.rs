//! The analysis of a trace without plan data: span self times, and the timing-based critical
//! path of the span tree (Jaeger's algorithm), walked with an explicit stack.

use std::collections::{HashMap, HashSet};

use orchestrace::run::ToolStatus;

use super::{
    format_duration, ms, r3, Analysis, CriticalPathBasis, Suggestion, SuggestionKind, ToolTiming,
    DOMINANT_SHARE,
};
use crate::model::{Trace, TraceSpan};

/// A stretch of the timing-based critical path: span index, start, end (ns).
pub(crate) type Segment = (usize, u64, u64);

/// Per span, the spans it counts as children for the critical path: spans that outlive their
/// parent count as children of the nearest ancestor that contains their end (index `n`: the
/// trace). Ancestors are skipped through `up` links (nearest ancestor ending later), so no
/// walk repeats a stretch of a long chain.
fn path_children(trace: &Trace) -> Vec<Vec<usize>> {
    let spans = &trace.spans;
    let n = spans.len();
    let mut up: Vec<Option<usize>> = vec![None; n];
    let later_ancestor = |up: &[Option<usize>], from: Option<usize>, end: u64, strict: bool| {
        let mut c = from;
        while let Some(p) = c {
            let contains = if strict {
                spans[p].end_ns > end
            } else {
                spans[p].end_ns >= end
            };
            if contains {
                break;
            }
            c = up[p];
        }
        c
    };
    for (a, _) in trace.tree_order() {
        up[a] = later_ancestor(&up, spans[a].parent, spans[a].end_ns, true);
    }
    let mut kids: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, s) in spans.iter().enumerate() {
        let p = later_ancestor(&up, s.parent, s.end_ns, false);
        kids[p.unwrap_or(n)].push(i);
    }
    kids
}

/// One node of the walk: its window, the cursor moving back from its end, and its children
/// clipped to the window, latest end first.
struct Frame {
    node: usize,
    start: u64,
    cursor: u64,
    kids: Vec<Segment>,
    next: usize,
}

impl Frame {
    fn new(spans: &[TraceSpan], kids: &[usize], node: usize, start: u64, end: u64) -> Frame {
        let mut clipped: Vec<(usize, Segment)> = kids
            .iter()
            .enumerate()
            .map(|(pos, &k)| {
                let ks = spans[k].start_ns.max(start);
                let ke = spans[k].end_ns.min(end);
                (pos, (k, ks, ke))
            })
            .filter(|&(_, (_, ks, ke))| ke > ks && ke > start)
            .collect();
        // Latest end first; ties: longer, then first listed.
        clipped.sort_by(|a, b| {
            let (pa, (_, sa, ea)) = *a;
            let (pb, (_, sb, eb)) = *b;
            (eb, eb - sb, pa).cmp(&(ea, ea - sa, pb))
        });
        Frame {
            node,
            start,
            cursor: end,
            kids: clipped.into_iter().map(|(_, k)| k).collect(),
            next: 0,
        }
    }
}

/// The timing-based critical path of a span tree (Jaeger's algorithm): from the trace's end
/// backwards, each span's time is its own until the child that finished last before the
/// cursor, whose own path follows, and so on. Segments in time order; idle gaps between
/// top-level spans are left out.
///
/// Each node's children are sorted once; the cursor only moves back, so one pointer through
/// them finds every next child: `n log n` overall, on an explicit stack.
pub(crate) fn timing_segments(trace: &Trace) -> Vec<Segment> {
    let spans = &trace.spans;
    let n = spans.len();
    let kids = path_children(trace);
    let mut out = Vec::new();
    let mut stack = vec![Frame::new(
        spans,
        &kids[n],
        n,
        trace.start_ns(),
        trace.end_ns(),
    )];
    while let Some(f) = stack.last_mut() {
        if f.cursor <= f.start {
            stack.pop();
            continue;
        }
        let mut picked = None;
        while let Some(&(k, ks, ke)) = f.kids.get(f.next) {
            f.next += 1;
            if ke <= f.cursor {
                picked = Some((k, ks, ke));
                break;
            }
        }
        let Some((k, ks, ke)) = picked else {
            out.push((f.node, f.start, f.cursor));
            stack.pop();
            continue;
        };
        if f.cursor > ke {
            out.push((f.node, ke, f.cursor));
        }
        f.cursor = ks;
        let child = Frame::new(spans, &kids[k], k, ks, ke);
        stack.push(child);
    }
    out.retain(|&(i, s, e)| i < n && e > s);
    out.reverse();
    out
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

pub(super) fn analyze_spans(trace: &Trace) -> Analysis {
    let t0 = trace.start_ns();
    let t1 = trace.end_ns();
    let makespan = ms(t1.saturating_sub(t0));
    let serial: f64 = self_times(trace).iter().map(|&n| ms(n)).sum();
    let segments = timing_segments(trace);
    let mut on_path = HashSet::new();
    let path: Vec<usize> = segments
        .iter()
        .map(|&(i, _, _)| i)
        .filter(|&i| on_path.insert(i))
        .collect();
    let path_ms: f64 = segments.iter().map(|&(_, s, e)| ms(e - s)).sum();
    let tools: Vec<ToolTiming> = trace
        .tree_order()
        .iter()
        .enumerate()
        .map(|(k, &(i, depth))| {
            let s = &trace.spans[i];
            let limit = s.parent.map_or(t1, |p| trace.spans[p].end_ns);
            ToolTiming {
                id: s.span_id.clone(),
                tool: s.name.clone(),
                group: depth,
                order: k,
                start_ms: r3(ms(s.start_ns.saturating_sub(t0))),
                duration_ms: r3(ms(s.duration_ns())),
                status: if s.is_error() {
                    ToolStatus::Error
                } else {
                    ToolStatus::Ok
                },
                slack_ms: if on_path.contains(&i) {
                    0.0
                } else {
                    r3(ms(limit.saturating_sub(s.end_ns)))
                },
            }
        })
        .collect();
    let suggestions = dominant_self_time(trace, &segments, path_ms)
        .into_iter()
        .collect();
    let mut notes = vec![
        "no orchestration plan data found; showing the span tree and a timing-based critical path"
            .to_owned(),
    ];
    let ids = trace.trace_ids();
    if ids.len() > 1 {
        notes.push(format!("the file holds spans of {} trace ids", ids.len()));
    }
    let saved = serial - makespan;
    let path_ids: Vec<String> = path
        .iter()
        .map(|&i| trace.spans[i].span_id.clone())
        .collect();
    Analysis {
        trace_id: trace.trace_id.clone(),
        execution_strategy: None,
        total_duration_ms: r3(makespan),
        serial_duration_ms: r3(serial),
        time_saved_ms: r3(saved),
        time_saved_pct: if serial > 0.0 {
            r3(saved / serial * 100.0)
        } else {
            0.0
        },
        critical_path: path_ids.clone(),
        critical_path_ms: r3(path_ms),
        level_barrier_ms: None,
        tools,
        suggestions,
        plan_data: false,
        critical_path_basis: CriticalPathBasis::Timing,
        timing_critical_path: path_ids,
        notes,
    }
}

/// A span spending most of the critical path in its own code.
fn dominant_self_time(trace: &Trace, segments: &[Segment], path_ms: f64) -> Option<Suggestion> {
    if path_ms <= 0.0 || trace.spans.len() < 2 {
        return None;
    }
    let mut share: HashMap<usize, u64> = HashMap::new();
    for &(i, s, e) in segments {
        *share.entry(i).or_insert(0) += e - s;
    }
    let (top, t) = share
        .into_iter()
        .max_by_key(|&(i, t)| (t, std::cmp::Reverse(i)))?;
    let part = ms(t) / path_ms;
    if part < DOMINANT_SHARE {
        return None;
    }
    let s = &trace.spans[top];
    Some(Suggestion {
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TraceFormat;

    fn span(id: &str, parent: Option<&str>, start: u64, end: u64) -> TraceSpan {
        crate::model::trace_span_for_tests(id, parent, start, end)
    }

    #[test]
    fn the_path_follows_the_last_child_back() {
        // root 0..100: a 10..40, b 30..90 (b ends last), c under b 50..80; a ends after b
        // starts, so it is off the path.
        let t = Trace::new(
            vec![
                span("root", None, 0, 100),
                span("a", Some("root"), 10, 40),
                span("b", Some("root"), 30, 90),
                span("c", Some("b"), 50, 80),
            ],
            TraceFormat::Otlp,
        );
        assert_eq!(
            timing_segments(&t),
            vec![
                (0, 0, 30),
                (2, 30, 50),
                (3, 50, 80),
                (2, 80, 90),
                (0, 90, 100)
            ]
        );
    }

    #[test]
    fn a_child_outliving_its_parent_hangs_under_the_grandparent() {
        let t = Trace::new(
            vec![
                span("root", None, 0, 100),
                span("p", Some("root"), 0, 20),
                span("late", Some("p"), 10, 60),
            ],
            TraceFormat::Otlp,
        );
        let kids = path_children(&t);
        assert_eq!(kids[0], vec![1, 2]);
    }
}
