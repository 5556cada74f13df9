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
    let n = orch.tools.len();
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
    let failed = (0..n).filter(|&i| orch.tools[i].status == ToolStatus::Error);
    for i in failed.take(budget / 4) {
        take(i, &mut shown);
    }
    let mut by_duration: Vec<usize> = (0..n).collect();
    by_duration.sort_by(|&x, &y| {
        orch.tools[y]
            .duration_ms()
            .total_cmp(&orch.tools[x].duration_ms())
            .then(x.cmp(&y))
    });
    for &i in by_duration.iter().take(SLOWEST) {
        take(i, &mut shown);
    }
    let critical = critical_tools(orch, a);
    for i in (0..n).filter(|&i| critical[i]) {
        take(i, &mut shown);
    }
    let not_ok: HashSet<usize> = (0..n)
        .filter(|&i| orch.tools[i].status != ToolStatus::Ok)
        .collect();
    for i in (0..n).filter(|i| not_ok.contains(i)) {
        take(i, &mut shown);
    }
    let hidden = n - shown.iter().filter(|&&s| s).count();
    Some(Selection { shown, hidden })
}
