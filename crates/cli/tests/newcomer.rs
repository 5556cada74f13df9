//! What a newcomer meets: where `--query` finds plans, `--view none`, JSON numbers, help,
//! a quiet stderr off a terminal, the tool limit.

mod support;

use serde_json::{json, Value};
use support::*;

fn plans_folder(dir: &std::path::Path) -> std::path::PathBuf {
    let plans = dir.join("plans");
    std::fs::create_dir(&plans).unwrap();
    write_plan(
        &plans,
        "servers.json",
        &json!({"plan_id": "servers", "query": "servers by type",
                "tools": [{"id": "a", "tool": "echo", "params": {"x": 1}}]}),
    );
    plans
}

#[test]
fn query_outside_the_repository_says_where_it_looked_and_what_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let o = output(orchestrace(dir.path()).args(["run", "--query", "servers by type"]));
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: --query needs a folder of plans: ./examples/plans does not exist in {}; pass --plans DIR or set ORCHESTRACE_PLANS\n",
            dir.path().display()
        )
    );
}

#[test]
fn query_finds_plans_from_the_flag_the_variable_or_examples_plans() {
    let dir = tempfile::tempdir().unwrap();
    let plans = plans_folder(dir.path());
    let run = |cmd: &mut std::process::Command, extra: &[&std::ffi::OsStr]| {
        let o = output(
            cmd.args(["run", "--query", "servers by type", "--json"])
                .args(extra),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["plan_trace"]["plan_id"], "servers");
    };
    run(
        &mut orchestrace(dir.path()),
        &["--plans".as_ref(), plans.as_os_str()],
    );
    run(
        orchestrace(dir.path()).env("ORCHESTRACE_PLANS", &plans),
        &[],
    );
    std::fs::create_dir(dir.path().join("examples")).unwrap();
    std::fs::rename(&plans, dir.path().join("examples/plans")).unwrap();
    run(&mut orchestrace(dir.path()), &[]);
}

#[test]
fn a_bad_plans_folder_is_named_as_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let plans = plans_folder(dir.path());
    let cases = [
        (vec!["--plans", "nope"], "error: --plans nope: the folder does not exist\n".to_owned()),
        (
            vec!["--plans", "plans/servers.json"],
            "error: --plans plans/servers.json: is a file, not a folder of plans (to run one plan, give it as PLAN)\n".to_owned(),
        ),
        (
            vec!["--plans", "plans", "--query", "nothing matches"],
            "error: --plans plans: no plan matches the query \"nothing matches\"\n".to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = orchestrace(dir.path());
        cmd.arg("run");
        if !args.contains(&"--query") {
            cmd.args(["--query", "servers"]);
        }
        let o = output(cmd.args(&args));
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(stderr(&o), expected);
    }
    std::fs::remove_file(plans.join("servers.json")).unwrap();
    let o = output(orchestrace(dir.path()).args(["run", "--query", "x", "--plans", "plans"]));
    assert_eq!(
        stderr(&o),
        "error: --plans plans: the folder holds no plans (*.json)\n"
    );
}

#[test]
fn view_none_prints_the_trace_id_line_and_nothing_else_and_stderr_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "p.json",
        &json!({"plan_id": "p", "tools": [{"id": "a", "tool": "echo"}, {"id": "b", "tool": "sleep", "params": {"ms": 150}}]}),
    );
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .args(["--view", "none"]),
    );
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let id = out
        .strip_prefix("trace ")
        .and_then(|r| r.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert_eq!(id.len(), 32);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    // Not a terminal: no progress line, nothing at all on stderr.
    assert_eq!(stderr(&o), "");
}

fn decimals(n: &serde_json::Number) -> usize {
    let text = n.to_string();
    text.split_once('.').map_or(0, |(_, frac)| frac.len())
}

#[test]
fn json_durations_have_at_most_microsecond_precision() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        "p.json",
        &json!({"plan_id": "p", "tools": [
            {"id": "a", "tool": "echo", "params": {"ratio": 0.123456789}},
            {"id": "b", "tool": "echo", "depends_on": ["a"]}]}),
    );
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).arg("--json"));
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut durations = 0;
    let mut stack = vec![(String::new(), &v)];
    while let Some((key, v)) = stack.pop() {
        match v {
            Value::Object(m) => stack.extend(m.iter().map(|(k, v)| (k.clone(), v))),
            Value::Array(a) => stack.extend(a.iter().map(|v| (key.clone(), v))),
            Value::Number(n) if key.ends_with("_ms") || key == "started_at" || key == "end" => {
                durations += 1;
                assert!(decimals(n) <= 3, "{key}: {n}");
            }
            _ => {}
        }
    }
    assert!(durations > 10, "only {durations} durations found");
    // User data is not rounded.
    assert_eq!(v["execution"]["tools"][0]["output"]["ratio"], 0.123456789);

    let trace = dir.path().join("t.json");
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .arg("--trace-out")
            .arg(&trace)
            .args(["--view", "none"]),
    );
    assert_eq!(o.status.code(), Some(0));
    let o = output(
        orchestrace(dir.path())
            .arg("inspect")
            .arg(&trace)
            .arg("--json"),
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for t in v["tools"].as_array().unwrap() {
        for k in ["start_ms", "duration_ms", "slack_ms"] {
            assert!(decimals(t[k].as_number().unwrap()) <= 3, "{k}: {}", t[k]);
        }
    }
}

#[test]
fn every_command_explains_itself_with_an_example() {
    let dir = tempfile::tempdir().unwrap();
    for (cmd, example) in [
        ("plan", "orchestrace plan examples/plans/diamond.json"),
        ("run", "orchestrace run examples/plans/diamond.json"),
        ("inspect", "orchestrace inspect trace.json"),
    ] {
        let o = output(orchestrace(dir.path()).args([cmd, "--help"]));
        assert_eq!(o.status.code(), Some(0));
        let help = stdout(&o);
        assert!(help.contains("Examples:\n"), "{cmd}: {help}");
        assert!(help.contains(example), "{cmd}: {help}");
    }
    let o = output(orchestrace(dir.path()).args(["run", "--help"]));
    assert!(stdout(&o).contains("--max-tools <N>"));
    assert!(stdout(&o).contains("SIGTERM"));
}

fn wide_plan(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let tools: Vec<Value> = (0..n)
        .map(|i| json!({"id": format!("t{i}"), "tool": "echo"}))
        .collect();
    write_plan(
        dir,
        "wide.json",
        &json!({"plan_id": "wide", "max_concurrency": 256, "tools": tools}),
    )
}

#[test]
fn the_tool_limit_is_a_flag_and_its_error_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let plan = wide_plan(dir.path(), 101);
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .args(["--max-tools", "100"]),
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        format!(
            "error: {}: tools: the plan has 101 tools, more than the limit of 100 (raise it with --max-tools N)\n",
            plan.display()
        )
    );
    let o = output(orchestrace(dir.path()).arg("run").arg(&plan).args([
        "--max-tools",
        "101",
        "--view",
        "none",
    ]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn a_plan_of_fifty_thousand_tools_runs_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let plan = wide_plan(dir.path(), 50_000);
    let o = output(
        orchestrace(dir.path())
            .arg("run")
            .arg(&plan)
            .args(["--view", "none"]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("trace "));
}

/// A plan that fans one large output out to many readers stops at the memory budget: the
/// readers past it fail with `resource_exhausted`, the run ends, exit 1.
#[test]
fn the_memory_budget_flag_bounds_a_fan_out() {
    let dir = tempfile::tempdir().unwrap();
    let blob = "x".repeat(1 << 20);
    let mut tools =
        vec![serde_json::json!({"id": "src", "tool": "echo", "params": {"blob": blob}})];
    for k in 0..20 {
        tools.push(serde_json::json!({"id": format!("r{k}"), "tool": "echo",
                                      "output_mapping": {"v": "{src.blob}"}}));
    }
    let plan = dir.path().join("fan.json");
    std::fs::write(
        &plan,
        serde_json::json!({"plan_id": "fan", "tools": tools}).to_string(),
    )
    .unwrap();
    let out = output(orchestrace(dir.path()).args([
        "run",
        plan.to_str().unwrap(),
        "--json",
        "--memory-budget",
        "8",
    ]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains("resource_exhausted"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.contains("memory budget for tool outputs and inputs (8 MiB)"));
}
