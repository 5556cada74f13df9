//! Headless Chromium against a live server: the list, the trace page and the workflow page
//! render what a user looks for, with no console message (script error or CSP violation).

mod support;

use std::process::Command;

use support::{diamond, export_run, start, t0, wait_for_traces, Transport};

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM after scripts ran, and the console lines Chromium logged.
fn dump_dom(url: &str) -> (String, Vec<String>) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=4000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs (scripts/test.sh installs it)");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Content Security Policy"))
        .map(str::to_owned)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_show_up_in_the_list_trace_and_workflow_pages() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install -y chromium"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let mut ids = Vec::new();
    for (i, b) in [60, 70, 80].into_iter().enumerate() {
        ids.push(
            export_run(
                &server,
                Transport::Grpc,
                "diamond",
                t0(i as u64),
                diamond(b, false),
                None,
            )
            .await,
        );
    }
    wait_for_traces(&ui, 3).await;

    let list_url = format!("{ui}/");
    let (dom, console) = tokio::task::spawn_blocking(move || dump_dom(&list_url))
        .await
        .unwrap();
    assert!(console.is_empty(), "{console:#?}");
    for id in &ids {
        assert!(
            dom.contains(&format!("data-trace=\"{id}\"")),
            "{id} missing from the list"
        );
    }
    assert!(dom.contains("href=\"/workflows/diamond\""));

    let trace_url = format!("{ui}/traces/{}", ids[0]);
    let (dom, console) = tokio::task::spawn_blocking(move || dump_dom(&trace_url))
        .await
        .unwrap();
    assert!(console.is_empty(), "{console:#?}");
    for level in ["Level 0", "Level 1", "Level 2"] {
        assert!(dom.contains(level), "{level} missing from the trace page");
    }
    assert!(dom.contains("critical path"));
    assert!(dom.contains("{a.rows}"), "the data flow template is shown");
    assert!(
        dom.contains("class=\"bar critical\""),
        "the Gantt marks the critical path"
    );
    assert!(
        dom.contains("class=\"edge critical\""),
        "the DAG marks the critical path"
    );

    let wf_url = format!("{ui}/workflows/diamond");
    let (dom, console) = tokio::task::spawn_blocking(move || dump_dom(&wf_url))
        .await
        .unwrap();
    assert!(console.is_empty(), "{console:#?}");
    assert!(dom.contains("Tools across runs"));
    assert!(
        dom.contains("<div class=\"v\">3</div>"),
        "three runs counted"
    );
    assert!(
        dom.contains("<polyline class=\"makespan\""),
        "the makespan trend is drawn"
    );
    // b's p50 and p95 over 60, 70 and 80 ms.
    assert!(dom.contains("<td class=\"num\">70ms</td><td class=\"num\">80ms</td>"));

    let cmp_url = format!("{ui}/compare?a={}&b={}", ids[0], ids[2]);
    let (dom, console) = tokio::task::spawn_blocking(move || dump_dom(&cmp_url))
        .await
        .unwrap();
    assert!(console.is_empty(), "{console:#?}");
    assert!(dom.contains("The critical path did not move."));
    assert!(dom.contains("+20ms (+33%)"), "b got 20 ms slower");
    server.shutdown().await;
}
