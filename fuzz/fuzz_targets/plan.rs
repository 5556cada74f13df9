//! Fuzzes the plan loader and the analysis behind it: arbitrary bytes into
//! `Plan::from_json_slice`, and every plan that loads into `analyze` (all tool types known).
//!
//! Neither may panic, and every error must `Display` as a single line (the CLI prints it as
//! one).

#![no_main]

use libfuzzer_sys::fuzz_target;
use orchestrace::schedule::analyze;
use orchestrace::{Plan, PlanError};

fuzz_target!(|data: &[u8]| {
    match Plan::from_json_slice(data) {
        Ok(plan) => {
            if let Err(e) = analyze(plan, &|_| true) {
                check_one_line(&e);
            }
        }
        Err(e) => check_one_line(&e),
    }
});

fn check_one_line(e: &PlanError) {
    let shown = e.to_string();
    assert!(!shown.contains('\n'), "error spans lines: {shown:?}");
}
