//! Performance analysis of a trace: makespan, serial sum, time saved, the
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

//!
//! Every step is linear or `n log n` in the number of tools or spans, and none recurses: a
//! chain of 100,000 spans or tools is analyzed like a flat list.

mod plan;
mod spans;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use orchestrace::plan::Strategy;
use orchestrace::run::{RunSummary, ToolStatus};

use super::model::{Orchestration, Trace};

pub(crate) use spans::timing_segments;

/// The analysis of one trace; its JSON form is what `orchestrace inspect --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The trace id.
    pub trace_id: String,
    /// `parallel`, `serial` or `dag`; `null` without plan data.
    pub execution_strategy: Option<Strategy>,
    /// The makespan: first tool start to last tool end, in milliseconds (as in the library's
    /// [`RunSummary`]; `makespan_ms` in JSON).
    #[serde(rename = "makespan_ms")]
    pub total_duration_ms: f64,
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
    pub status: ToolStatus,
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
        Some(orch) => plan::analyze_plan(&trace.trace_id, &orch),
        None => spans::analyze_spans(trace),
    }
}

impl Analysis {
    /// The run's summary in the library's terms (what the `execute` span carries).
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            total_duration_ms: self.total_duration_ms,
            serial_duration_ms: self.serial_duration_ms,
            time_saved_ms: self.time_saved_ms,
            critical_path: self.critical_path.clone(),
            critical_path_ms: self.critical_path_ms,
        }
    }
}

/// Per tool: whether it is on the critical path (dependency- or timing-based as the analysis
/// chose).
pub(crate) fn critical_tools(orch: &Orchestration, a: &Analysis) -> Vec<bool> {
    let on: HashSet<&str> = a.critical_path.iter().map(String::as_str).collect();
    orch.tools
        .iter()
        .map(|t| on.contains(t.id.as_str()))
        .collect()
}

fn sort_suggestions(s: &mut [Suggestion]) {
    s.sort_by(|a, b| {
        b.estimated_gain_ms
            .total_cmp(&a.estimated_gain_ms)
            .then(a.kind.cmp(&b.kind))
            // A count of the unlisted ones of a kind comes after its listed ones.
            .then(a.tool.is_none().cmp(&b.tool.is_none()))
            .then(a.tool.cmp(&b.tool))
    });
}

/// Levels from dependency lists alone (0 without dependencies, else 1 + the highest level of
/// the dependencies; a dependency that closes a cycle counts as level 0), as
/// [`orchestrace::graph::levels_of`] computes them, with an explicit stack instead of
/// recursion: a chain of any length is fine.
pub(crate) fn levels(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut level: Vec<Option<usize>> = vec![None; n];
    let mut on_stack = vec![false; n];
    // (node, next dependency to look at, highest level found so far)
    let mut stack: Vec<(usize, usize, usize)> = Vec::new();
    for root in 0..n {
        if level[root].is_some() {
            continue;
        }
        on_stack[root] = true;
        stack.push((root, 0, 0));
        while let Some(top) = stack.last_mut() {
            let (i, k) = (top.0, top.1);
            if let Some(&d) = deps[i].get(k) {
                top.1 += 1;
                if d >= n || d == i {
                    continue;
                }
                match level[d] {
                    Some(l) => top.2 = top.2.max(l + 1),
                    None if on_stack[d] => top.2 = top.2.max(1),
                    None => {
                        on_stack[d] = true;
                        stack.push((d, 0, 0));
                    }
                }
                continue;
            }
            let best = top.2;
            stack.pop();
            on_stack[i] = false;
            level[i] = Some(best);
            if let Some(parent) = stack.last_mut() {
                parent.2 = parent.2.max(best + 1);
            }
        }
    }
    level.into_iter().map(|l| l.unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrace::graph::levels_of;

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
    fn levels_match_the_library_and_survive_long_chains() {
        let cases: Vec<Vec<Vec<usize>>> = vec![
            vec![vec![], vec![0], vec![0, 1], vec![]],
            vec![vec![1], vec![0]],
            vec![vec![2], vec![0], vec![1], vec![2, 9]],
            vec![vec![0]],
        ];
        for deps in cases {
            assert_eq!(levels(&deps), levels_of(&deps), "{deps:?}");
        }
        let chain: Vec<Vec<usize>> = (0..200_000)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert_eq!(levels(&chain)[199_999], 199_999);
    }
}
