//! The command line: exit codes and one-line messages for bad input, and the main commands.

mod support;

use std::path::Path;

use support::orchestrace;

/// Every malformed plan under `tests/bad_plans/`, with the message it must produce after
/// `error: FILE: `.
const BAD_PLANS: &[(&str, &str)] = &[
    ("bad_on_failure.json", "1:23: unknown variant `ignore`, expected `continue` or `fail_fast`"),
    ("bad_strategy.json", "1:32: unknown variant `fastest`, expected one of `auto`, `parallel`, `serial`, `dag`"),
    ("bom_and_comment.json", "1:1: expected a JSON object (the plan) here"),
    ("cycle_1_via_template.json", "tools[0] \"a\", output_mapping.x: tool \"a\" depends on itself"),
    ("cycle_2.json", "tools[0] \"a\": dependency cycle: a → b → a"),
    ("cycle_3.json", "tools[0] \"a\": dependency cycle: a → b → c → a"),
    ("cycle_4_mixed.json", "tools[1] \"a\": dependency cycle: a → b → c → d → a"),
    ("deep_nesting.json", "1:179: recursion limit exceeded"),
    ("duplicate_id.json", "tools[2].id: duplicate tool id \"a\""),
    ("empty_file.json", "the plan is empty"),
    ("huge_integer.json", "1:70: invalid type: floating point `1e+20`, expected u32"),
    ("huge_number.json", "1:58: number out of range"),
    ("invalid_id.json", "tools[0].id: invalid tool id \"a b\": ids match [A-Za-z_][A-Za-z0-9_-]*"),
    ("missing_tool_type.json", "6:5: missing field `tool`"),
    ("missing_tools.json", "1:16: missing field `tools`"),
    ("negative_timeout.json", "1:55: invalid value: integer `-5`, expected u64"),
    ("no_tools.json", "tools: the plan has no tools"),
    ("non_utf8.json", "1:23: invalid unicode code point"),
    ("not_an_object.json", "1:1: expected a JSON object (the plan) here"),
    ("parallel_with_dependencies.json", "execution_strategy: execution_strategy \"parallel\" forbids dependencies, but \"b\" depends on \"a\" (use \"auto\" or \"dag\")"),
    ("params_not_object.json", "1:49: invalid type: sequence, expected a map"),
    ("self_dependency.json", "tools[0] \"a\", depends_on[0]: tool \"a\" depends on itself"),
    ("syntax_trailing_comma.json", "4:3: trailing comma"),
    ("syntax_trailing_garbage.json", "1:42: trailing characters"),
    ("syntax_unterminated_string.json", "1:24: expected `,` or `}`"),
    ("template_bad_index.json", "tools[1] \"b\", output_mapping.v: template \"{a.rows[first]}\", column 9: expected an index or a quoted key, found 'f'"),
    ("template_empty.json", "tools[1] \"b\", output_mapping.v: template \"x {} y\", column 4: empty template '{}'"),
    ("template_nested_error.json", "tools[1] \"b\", output_mapping.filter.types[1]: template \"{a.y\", column 1: unclosed '{'"),
    ("template_unclosed.json", "tools[1] \"b\", output_mapping.v: template \"{a.data.rows[0]\", column 1: unclosed '{'"),
    ("template_unclosed_quote.json", "tools[1] \"b\", output_mapping.v: template \"{a[\\\"key]}\", column 4: unclosed quoted key"),
    ("template_unknown_tool.json", "tools[1] \"b\", output_mapping.v: unknown tool \"primary\""),
    ("template_unmatched_close.json", "tools[1] \"b\", output_mapping.v: template \"count} {a}\", column 6: unmatched '}' (write '}}' for a literal brace)"),
    ("tools_not_array.json", "1:10: invalid type: map, expected a sequence"),
    ("unknown_dependency.json", "tools[1] \"b\", depends_on[1]: unknown tool \"c\""),
    ("unknown_fallback.json", "tools[0] \"a\", fallback: unknown tool type \"nope\""),
    ("unknown_plan_field.json", "1:51: unknown field `strategy`, expected one of `plan_id`, `query`, `execution_strategy`, `max_concurrency`, `on_failure`, `memory_budget_mb`, `tools`"),
    ("unknown_tool_field.json", "3:14: unknown field `dependson`, expected one of `id`, `tool`, `asset_id`, `params`, `depends_on`, `output_mapping`, `timeout_ms`, `retries`, `fallback`, `cache_ttl_ms`, `expected_duration_ms`"),
    ("unknown_tool_type.json", "tools[1] \"b\", tool: unknown tool type \"teleport\""),
    ("whitespace_only.json", "the plan is empty"),
    ("wrong_type_retries.json", "1:57: invalid type: string \"three\", expected u32"),
    ("zero_concurrency.json", "max_concurrency: max_concurrency must be at least 1"),
];

#[test]
fn every_bad_plan_exits_2_with_one_located_line_and_runs_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_plans");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let listed: Vec<String> = BAD_PLANS.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        on_disk, listed,
        "every file in tests/bad_plans is listed, and only those"
    );
    assert!(BAD_PLANS.len() >= 30);
    for (file, message) in BAD_PLANS {
        let path = format!("tests/bad_plans/{file}");
        for cmd in ["run", "plan"] {
            let out = orchestrace(&[cmd, &path], &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {file}: {stderr}");
            assert_eq!(
                stderr,
                format!("error: {path}: {message}\n"),
                "{cmd} {file}"
            );
            assert!(
                out.stdout.is_empty(),
                "{cmd} {file} printed {:?}",
                out.stdout
            );
            assert!(!stderr.contains("panicked"));
        }
    }
}

#[test]
fn a_plan_over_the_size_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.json");
    let pad = " ".repeat(50 * 1024 * 1024);
    std::fs::write(
        &path,
        format!("{{\"tools\": [{{\"id\": \"a\", \"tool\": \"echo\"}}]{pad}}}"),
    )
    .unwrap();
    let out = orchestrace(&["run", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: the plan is 50.0 MiB, more than the 16 MiB a plan may have\n",
            path.display()
        )
    );
}

#[test]
fn a_wide_level_shows_each_tools_first_peers_from_the_level() {
    // Tool spans of a level wider than 16 carry only their peers' count; the views take the
    // peers from the level, the first 16 of them, never the tool itself.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.json");
    let tools: Vec<String> = (0..20)
        .map(|i| format!("{{\"id\": \"t{i:02}\", \"tool\": \"echo\"}}"))
        .collect();
    std::fs::write(&path, format!("{{\"tools\": [{}]}}", tools.join(","))).unwrap();
    let out = orchestrace(
        &["run", path.to_str().unwrap(), "--view", "detail", "--all"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    // The list may wrap inside the box: borders out, spaces collapsed.
    let peers = |id: &str| {
        let at = text
            .find(&format!(" {id} ["))
            .unwrap_or_else(|| panic!("no block for {id}:\n{text}"));
        let list = text[at..]
            .split("(parallel with ")
            .nth(1)
            .expect("peers listed");
        let list = &list[..list.find(')').unwrap()];
        list.replace(['│', '║'], " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let first16 = |skip: usize| {
        (0..20)
            .filter(|&i| i != skip)
            .take(16)
            .map(|i| format!("t{i:02}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(peers("t00"), first16(0));
    assert_eq!(peers("t05"), first16(5));
    assert_eq!(peers("t19"), first16(19));
}

#[test]
fn suggestions_of_one_kind_are_listed_up_to_a_hundred_then_counted() {
    // 150 tools depend on t000 without reading it: 150 unused dependencies.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unused.json");
    let mut tools = vec![r#"{"id": "t000", "tool": "echo"}"#.to_owned()];
    tools.extend(
        (1..=150)
            .map(|i| format!(r#"{{"id": "t{i:03}", "tool": "echo", "depends_on": ["t000"]}}"#)),
    );
    std::fs::write(&path, format!(r#"{{"tools": [{}]}}"#, tools.join(","))).unwrap();
    let out = orchestrace(
        &["run", path.to_str().unwrap(), "--view", "analysis", "--all"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches(" declares depends_on t000 ").count(), 100);
    let counted: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("more declared dependencies are never read"))
        .collect();
    assert_eq!(counted.len(), 1, "{text}");
    assert!(
        counted[0].contains(" 50 more declared dependencies"),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let out = orchestrace(&["plan", "no/such/plan.json"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no/such/plan.json: cannot read the plan: No such file or directory (os error 2)\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = orchestrace(&["run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = orchestrace(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = orchestrace(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Analyze a plan without running it"));
}

#[test]
fn plan_prints_levels_and_dependencies() {
    let out = orchestrace(&["plan", "examples/plans/ci_ops.json"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "plan ci-ops-42: 3 tools, strategy dag (requested auto), max_concurrency 16, on_failure continue\n\
         query: servers and network devices by type\n\
         level 0 (parallel)  ~900 ms\n\
        \x20 primary    ci_lookup\n\
        \x20 secondary  ci_lookup\n\
         level 1 (serial)  after level 0  ~500 ms\n\
        \x20 aggregate  ci_aggregate  ← primary, secondary\n\
         expected: 1400 ms level by level\n"
    );
}

#[test]
fn plan_json_is_the_execution_plan() {
    let out = orchestrace(&["plan", "examples/plans/diamond.json", "--json"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let ep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ep["execution_strategy"], "dag");
    let groups: Vec<_> = ep["execution_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["tools"].clone())
        .collect();
    assert_eq!(
        groups,
        vec![
            serde_json::json!(["inventory"]),
            serde_json::json!(["servers", "network"]),
            serde_json::json!(["join"])
        ]
    );
    assert_eq!(
        ep["execution_groups"][2]["depends_on_groups"],
        serde_json::json!([1])
    );
}

#[test]
fn every_example_plan_analyzes_and_runs_with_the_expected_exit_code() {
    for (plan, code) in [
        ("ci_ops", 0),
        ("parallel", 0),
        ("serial_chain", 0),
        ("diamond", 0),
        ("failing", 1),
    ] {
        let path = format!("examples/plans/{plan}.json");
        assert_eq!(
            orchestrace(&["plan", &path], &[]).status.code(),
            Some(0),
            "{plan}"
        );
        let out = orchestrace(&["run", &path, "--json"], &[]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{plan}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(report["execution"]["tools"].as_array().unwrap().len() >= 3);
        assert!(report["plan_trace"]["orchestration"]["groups"].is_array());
    }
}

#[test]
fn run_reports_the_failed_branch_and_the_skipped_dependent() {
    let out = orchestrace(&["run", "examples/plans/failing.json", "--json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let status = |id: &str| {
        r["execution"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(status("flaky_source")["status"], "error");
    assert_eq!(status("flaky_source")["retry_count"], 1);
    assert_eq!(status("aggregate")["status"], "skipped");
    assert_eq!(
        status("aggregate")["reason"],
        "dependency \"flaky_source\" failed"
    );
    assert_eq!(status("summary")["status"], "ok");
    assert_eq!(
        status("summary")["output"],
        serde_json::json!({"servers": 59})
    );
}
