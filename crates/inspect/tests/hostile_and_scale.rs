//! The inspector on hostile and large input: bounded reads with one clear line, no stack
//! overflow on deep chains, control characters stripped, large runs summarized, and runs
//! drawn from a report with the library's own numbers.

mod gen;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use orchestrace_inspect::{
    self as inspect, analyze, Backend, FetchErrorKind, FetchOptions, LoadErrorKind, RenderOptions,
    Trace,
};

fn views(trace: &Trace, opts: &RenderOptions) -> String {
    let a = analyze(trace);
    let mut out = Vec::new();
    inspect::write_detail(&mut out, trace, &a, opts).unwrap();
    inspect::write_timeline(&mut out, trace, &a, opts).unwrap();
    inspect::write_analysis(&mut out, trace, &a, opts).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn dev_zero_stops_at_the_limit_with_one_line() {
    let e = inspect::load_file_with_limit("/dev/zero", 4096).unwrap_err();
    assert_eq!(e.kind(), &LoadErrorKind::TooLarge(4096));
    assert_eq!(
        e.to_string(),
        "/dev/zero: the trace is larger than the limit of 4096 bytes; reading stopped there"
    );
}

#[test]
fn a_symlink_to_dev_zero_is_named_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("trace.json");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let e = inspect::load_file_with_limit(&link, 1000).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the trace is larger than the limit of 1000 bytes; reading stopped there",
            link.display()
        )
    );
}

#[test]
fn an_endless_fifo_stops_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        let chunk = vec![b' '; 8192];
        // Ends when the reader closes its end (EPIPE).
        while f.write_all(&chunk).is_ok() {}
    });
    let e = inspect::load_file_with_limit(&fifo, 100_000).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the trace is larger than the limit of 100000 bytes; reading stopped there",
            fifo.display()
        )
    );
    writer.join().unwrap();
}

/// A server answering every request with `head` and then `body` (repeated forever when
/// `endless`), or nothing at all after the head when `stall`.
fn serve(head: &'static str, endless: bool, stall: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut sock, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(head.as_bytes());
            if stall {
                std::thread::sleep(Duration::from_secs(5));
                return;
            }
            let chunk = vec![b' '; 16384];
            while endless && sock.write_all(&chunk).is_ok() {}
        }
    });
    format!("http://{addr}")
}

#[test]
fn an_endless_answer_stops_at_the_limit() {
    let base = serve(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n",
        true,
        false,
    );
    let opts = FetchOptions::new().with_max_bytes(50_000);
    let e = inspect::fetch_with(Backend::Jaeger, &base, "abc", &opts).unwrap_err();
    assert_eq!(e.kind(), &FetchErrorKind::TooLarge(50_000));
    assert_eq!(
        e.to_string(),
        format!("{base}/api/v3/traces/abc: the answer is larger than the limit of 50000 bytes; reading stopped there")
    );
    assert!(e.is_unavailable());
}

#[test]
fn a_huge_content_length_is_refused_before_reading() {
    let base = serve(
        "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n{",
        false,
        false,
    );
    let opts = FetchOptions::new().with_max_bytes(1_000);
    let e = inspect::fetch_with(Backend::Tempo, &base, "abc", &opts).unwrap_err();
    assert_eq!(e.kind(), &FetchErrorKind::TooLarge(1_000));
}

#[test]
fn a_stalled_answer_hits_the_total_timeout() {
    let base = serve(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{",
        false,
        true,
    );
    let opts = FetchOptions::new().with_timeout(Duration::from_millis(300));
    let e = inspect::fetch_with(Backend::Jaeger, &base, "abc", &opts).unwrap_err();
    assert_eq!(
        e.kind(),
        &FetchErrorKind::Timeout(Duration::from_millis(300))
    );
    assert_eq!(
        e.to_string(),
        format!("{base}/api/v3/traces/abc: no complete answer within the fetch timeout of 300ms")
    );
}

#[test]
fn a_100k_deep_chain_loads_analyses_and_renders_on_a_small_stack() {
    let text = gen::deep(100_000);
    // A 1 MiB stack: any recursion as deep as the chain would overflow it.
    let handle = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let trace = inspect::load_str(&text).unwrap();
            let a = analyze(&trace);
            let out = views(&trace, &RenderOptions::new());
            (
                trace.spans.len(),
                a.total_duration_ms,
                out.contains("more spans"),
            )
        })
        .unwrap();
    let (n, makespan, summarized) = handle.join().unwrap();
    assert_eq!(n, 100_000);
    assert_eq!(makespan, 200_000.0);
    assert!(summarized);
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let text = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[
        {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
         "name":"evil\u001b[2J\u001b]0;pwned\u0007","startTimeUnixNano":"1","endTimeUnixNano":"5",
         "attributes":[{"key":"k\u001b[31m","value":{"stringValue":"v\u009b1m"}}]}]}]}]}"#;
    let trace = inspect::load_str(text).unwrap();
    let out = views(&trace, &RenderOptions::new().with_color(false));
    assert!(out.contains("evil [2J ]0;pwned "), "{out}");
    assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
}

#[test]
fn large_runs_are_summarized_unless_all_rows_are_asked_for() {
    let trace = inspect::load_str(&gen::orchestrace_run(500, false)).unwrap();
    let opts = RenderOptions::new();
    let a = analyze(&trace);
    let mut detail = Vec::new();
    inspect::write_detail(&mut detail, &trace, &a, &opts).unwrap();
    let detail = String::from_utf8(detail).unwrap();
    // Shown: the 5 failed tools, the 10 slowest and the critical path (one tool): 15 or fewer.
    let shown = detail.matches("Tool: work").count();
    assert!((6..=16).contains(&shown), "{shown}");
    let hidden = 500 - shown;
    assert!(
        detail.contains(&format!("… {hidden} of 500 tools not shown")),
        "{detail}"
    );
    assert!(detail.contains("--all"));
    let mut all = Vec::new();
    inspect::write_detail(&mut all, &trace, &a, &opts.with_all_rows(true)).unwrap();
    assert_eq!(
        String::from_utf8(all)
            .unwrap()
            .matches("Tool: work")
            .count(),
        500
    );
    let mut timeline = Vec::new();
    inspect::write_timeline(&mut timeline, &trace, &a, &opts).unwrap();
    let timeline = String::from_utf8(timeline).unwrap();
    assert!(timeline.contains(&format!("… {hidden} of 500 tools not shown")));
    assert!(timeline.contains("⊘ cancelled"));
    // The analysis table lists the same tools as the detail view, and says what it left out.
    let table_rows = |text: &str| {
        text.lines()
            .filter(|l| {
                l.strip_prefix("  t")
                    .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
            })
            .count()
    };
    let mut analysis = Vec::new();
    inspect::write_analysis(&mut analysis, &trace, &a, &opts).unwrap();
    let analysis = String::from_utf8(analysis).unwrap();
    assert_eq!(table_rows(&analysis), shown, "{analysis}");
    assert!(analysis.contains(&format!("… {hidden} of 500 tools not shown")));
    let mut all = Vec::new();
    inspect::write_analysis(&mut all, &trace, &a, &opts.with_all_rows(true)).unwrap();
    let all = String::from_utf8(all).unwrap();
    assert_eq!(table_rows(&all), 500);
    assert!(!all.contains("not shown"));
}

#[test]
fn a_long_chain_lists_its_largest_suggestions_and_counts_the_rest() {
    // 300 tools in a chain: each of the 299 dependencies is declared but never read. The
    // analysis keeps the 100 with the largest gains and one more that counts the 199 others.
    let trace = inspect::load_str(&gen::orchestrace_run(300, true)).unwrap();
    let a = analyze(&trace);
    assert_eq!(a.suggestions.len(), 101);
    let last = a.suggestions.last().unwrap();
    assert_eq!(last.tool, None);
    assert!(
        last.message
            .starts_with("199 more declared dependencies are never read by the data flow"),
        "{}",
        last.message
    );
    let listed_min = a.suggestions[..100]
        .iter()
        .map(|s| s.estimated_gain_ms)
        .fold(f64::INFINITY, f64::min);
    assert!(last.estimated_gain_ms <= listed_min);
    let opts = RenderOptions::new().with_max_rows(20);
    let mut out = Vec::new();
    inspect::write_analysis(&mut out, &trace, &a, &opts).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("\n  20. t280 declares"), "{out}");
    assert!(!out.contains("\n  21. "), "{out}");
    assert!(
        out.contains("  … 81 more suggestions with smaller gains; pass --all to see every one"),
        "{out}"
    );
    let mut all = Vec::new();
    inspect::write_analysis(&mut all, &trace, &a, &opts.with_all_rows(true)).unwrap();
    let all = String::from_utf8(all).unwrap();
    assert!(
        all.contains("\n  101. 199 more declared dependencies"),
        "{all}"
    );
    assert!(!all.contains("\n  102. "));
    assert!(!all.contains("more suggestions"));
}

#[test]
fn error_messages_keep_their_cause() {
    let cause = "caused by: connection reset by peer while reading the response body of the upstream inventory service";
    let text = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[
        {{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331",
         "name":"execute_tool http","startTimeUnixNano":"1","endTimeUnixNano":"5",
         "status":{{"code":2,"message":"request failed after 3 attempts\n{cause}"}},
         "attributes":[{{"key":"gen_ai.operation.name","value":{{"stringValue":"execute_tool"}}}},
                       {{"key":"orchestration.status","value":{{"stringValue":"error"}}}},
                       {{"key":"error.type","value":{{"stringValue":"tool_error"}}}}]}}]}}]}}]}}"#
    );
    let trace = inspect::load_str(&text).unwrap();
    let out = views(&trace, &RenderOptions::new().with_width(200));
    assert!(out.contains("Error: tool_error"), "{out}");
    assert!(out.contains("request failed after 3 attempts"));
    assert!(out.contains(cause), "{out}");
}

#[test]
fn a_report_gives_the_library_numbers() {
    let report: orchestrace::RunReport = serde_json::from_value(serde_json::json!({
        "plan_id": "p", "strategy": "dag",
        "started": {"secs_since_epoch": 1_700_000_000u64, "nanos_since_epoch": 0},
        "duration": 130.0,
        "tools": [
            {"id": "a", "tool": "w", "asset_id": null, "index": 0, "group": 0, "order": 0,
             "status": "ok", "output": [1, 2], "error": null, "reason": null, "input": null,
             "data_flow": [], "ready_at": 0.0, "started_at": 0.0, "ended_at": 100.0,
             "attempts": [], "retry_count": 0, "fallback_used": false, "cache_hit": false},
            {"id": "b", "tool": "w", "asset_id": null, "index": 1, "group": 0, "order": 1,
             "status": "error", "output": null, "error": {"kind": "timeout", "message": "slow"},
             "reason": null, "input": null, "data_flow": [], "ready_at": 0.0,
             "started_at": 0.0, "ended_at": 50.0, "attempts": [], "retry_count": 0,
             "fallback_used": false, "cache_hit": false},
            {"id": "c", "tool": "w", "asset_id": null, "index": 2, "group": 1, "order": 2,
             "status": "ok", "output": null, "error": null, "reason": null, "input": null,
             "data_flow": [{"key": "q", "expression": "{a.data}", "value": null}],
             "ready_at": 100.0, "started_at": 100.0, "ended_at": 130.0, "attempts": [],
             "retry_count": 0, "fallback_used": false, "cache_hit": false}
        ],
        "execution_plan": {"execution_strategy": "dag", "total_expected_duration_ms": 0,
            "is_optimized": true, "execution_groups": [
            {"group_index": 0, "execution_mode": "parallel", "tools": ["a", "b"],
             "depends_on_groups": [], "expected_duration_ms": 0, "tools_info": [
                {"tool_id": "a", "tool_type": "w", "depends_on": [], "output_mapping": {}},
                {"tool_id": "b", "tool_type": "w", "depends_on": [], "output_mapping": {}}]},
            {"group_index": 1, "execution_mode": "serial", "tools": ["c"],
             "depends_on_groups": [0], "expected_duration_ms": 0, "tools_info": [
                {"tool_id": "c", "tool_type": "w", "depends_on": ["a"],
                 "output_mapping": {"q": "{a.data}"}}]}]},
        "summary": {"total_duration_ms": 130.0, "serial_duration_ms": 180.0,
            "time_saved_ms": -50.0, "critical_path": ["a", "c"], "critical_path_ms": 130.0},
        "trace_id": "0af7651916cd43dd8448eb211c80319c"
    }))
    .unwrap();
    let trace = Trace::from_report(report);
    let a = analyze(&trace);
    assert_eq!(a.total_duration_ms, 130.0);
    assert_eq!(a.serial_duration_ms, 180.0);
    assert_eq!(a.critical_path, vec!["a", "c"]);
    assert_eq!(a.critical_path_ms, 130.0);
    assert_eq!(a.level_barrier_ms, Some(130.0));
    assert_eq!(a.execution_strategy, Some(orchestrace::plan::Strategy::Dag));
    let orch = trace.orchestration().unwrap();
    assert_eq!(orch.tools[1].status, orchestrace::run::ToolStatus::Error);
    assert_eq!(orch.tools[1].error_message.as_deref(), Some("slow"));
    assert_eq!(orch.tools[2].data_flow[0].value, None);
    assert_eq!(
        orch.levels[0].mode,
        orchestrace::schedule::ExecutionMode::Parallel
    );
    // The JSON keeps its keys.
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["makespan_ms"], 130.0);
    assert_eq!(json["tools"][1]["status"], "error");
}
