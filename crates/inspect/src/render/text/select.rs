//! Which tools a view of a large run shows: above [`RenderOptions::max_rows`] tools, the
//! failed ones, the slowest, the critical path and the other tools that did not succeed, up
//! to that many rows; the view then says how many it left out and how to see them all.

use std::collections::HashSet;

use orchestrace::run::ToolStatus;

use crate::analysis::{critical_tools, Analysis};
use crate::model::Orchestration;
use crate::render::RenderOptions;

/// How many of the slowest tools a summary always names.
const SLOWEST: usize = 10;

/// The tools a summarized view shows.
#[derive(Debug)]
pub(super) struct Selection {
    /// Per tool (index into [`Orchestration::tools`]), whether it is shown.
    pub(super) shown: Vec<bool>,
    /// How many are left out.
    pub(super) hidden: usize,
}

impl Selection {
    /// The line saying what was left out and how to see it.
    pub(super) fn note(&self) -> String {
        let total = self.shown.len();
        format!(
            "… {} of {total} tools not shown (shown: the failed, the {SLOWEST} slowest and the critical path); pass --all to see every tool",
            self.hidden
        )
    }
}

/// `None` when every tool is shown (few tools, or all rows asked for).
pub(super) fn select(
    orch: &Orchestration,
    a: &Analysis,
    opts: &RenderOptions,
) -> Option<Selection> {
    let tools = &orch.tools;
    pick(
        tools.len(),
        |i| tools[i].status,
        |i| tools[i].duration_ms(),
        || critical_tools(orch, a),
        opts,
    )
}

/// The same choice over the analysis's own rows ([`Analysis::tools`], with plan data in
/// the planned order of [`Orchestration::tools`]).
pub(super) fn select_timings(a: &Analysis, opts: &RenderOptions) -> Option<Selection> {
    let tools = &a.tools;
    pick(
        tools.len(),
        |i| tools[i].status,
        |i| tools[i].duration_ms,
        || {
            let on: HashSet<&str> = a.critical_path.iter().map(String::as_str).collect();
            tools.iter().map(|t| on.contains(t.id.as_str())).collect()
        },
        opts,
    )
}

/// Up to [`RenderOptions::max_rows`] of `n` tools: a quarter of that many failed ones, the
/// slowest, the critical path, then the others that did not succeed.
fn pick(
    n: usize,
    status: impl Fn(usize) -> ToolStatus,
    duration_ms: impl Fn(usize) -> f64,
    critical: impl FnOnce() -> Vec<bool>,
    opts: &RenderOptions,
) -> Option<Selection> {
    if opts.all_rows() || n <= opts.max_rows() {
        return None;
    }
    let budget = opts.max_rows();
    let mut shown = vec![false; n];
    let mut count = 0;
    let mut take = |i: usize, shown: &mut Vec<bool>| {
        if count < budget && !shown[i] {
            shown[i] = true;
            count += 1;
        }
    };
    let failed = (0..n).filter(|&i| status(i) == ToolStatus::Error);
    for i in failed.take(budget / 4) {
        take(i, &mut shown);
    }
    let mut by_duration: Vec<usize> = (0..n).collect();
    by_duration.sort_by(|&x, &y| duration_ms(y).total_cmp(&duration_ms(x)).then(x.cmp(&y)));
    for &i in by_duration.iter().take(SLOWEST) {
        take(i, &mut shown);
    }
    let critical = critical();
    for i in (0..n).filter(|&i| critical[i]) {
        take(i, &mut shown);
    }
    for i in (0..n).filter(|&i| status(i) != ToolStatus::Ok) {
        take(i, &mut shown);
    }
    let hidden = n - shown.iter().filter(|&&s| s).count();
    Some(Selection { shown, hidden })
}
