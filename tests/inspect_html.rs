//! The HTML report: self-contained (no script, nothing fetched), one Gantt bar per tool, and
//! rendered for real in headless Chromium, whose screenshot must not be blank.
//!
//! Chromium is Debian's `chromium` (`scripts/test.sh` installs it when missing), found through
//! the `CHROMIUM` variable or at `/usr/bin/chromium`. Under `CI=true` a missing browser fails
//! the test; locally it is skipped with a note.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use orchestrace_inspect as inspect;
use orchestrace_inspect::{analyze, Trace};
use support::orchestrace;
use support::traces::*;

fn report(trace: &Trace) -> String {
    let mut out = Vec::new();
    inspect::write_html(&mut out, trace, &analyze(trace)).unwrap();
    String::from_utf8(out).unwrap()
}

fn traces() -> Vec<(&'static str, Trace)> {
    vec![
        ("seed", Trace::from_otlp_json(&seed_trace()).unwrap()),
        ("failing", Trace::from_otlp_json(&failing_trace()).unwrap()),
        (
            "hotrod",
            inspect::load_file(fixtures().join("otlp/jaeger-api-v3_hotrod_result-envelope.json"))
                .unwrap(),
        ),
        (
            "jaeger",
            inspect::load_file(
                fixtures().join("jaeger/jaeger-ui_trace_11-spans_follows-from_error.json"),
            )
            .unwrap(),
        ),
    ]
}

#[test]
fn html_report_is_self_contained_with_one_bar_per_tool() {
    for (name, trace) in traces() {
        let html = report(&trace);
        let a = analyze(&trace);
        assert!(html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(html.trim_end().ends_with("</html>"), "{name}");
        let lower = html.to_ascii_lowercase();
        for forbidden in ["<script", " src=", " href=", "url(http", "@import", "<link"] {
            assert!(!lower.contains(forbidden), "{name}: {forbidden}");
        }
        if a.plan_data {
            // The only URL is the SVG namespace, which is a name, not a fetch.
            assert_eq!(
                lower.matches("http").count(),
                lower
                    .matches("xmlns=\"http://www.w3.org/2000/svg\"")
                    .count(),
                "{name}"
            );
        }
        assert_eq!(
            html.matches("class=\"bar").count(),
            a.tools.len(),
            "{name}: one Gantt bar per tool"
        );
        for t in &a.tools {
            let id = t.id.replace('&', "&amp;").replace('"', "&quot;");
            assert!(
                html.contains(&format!("data-tool=\"{id}\"")),
                "{name}: {}",
                t.id
            );
        }
        for section in [
            "id=\"timeline\"",
            "id=\"dag\"",
            "id=\"detail\"",
            "id=\"analysis\"",
        ] {
            assert!(html.contains(section), "{name}: {section}");
        }
    }
    let seed = report(&Trace::from_otlp_json(&seed_trace()).unwrap());
    // The DAG: three nodes, two dependency edges, the critical one highlighted.
    assert_eq!(seed.matches("<g class=\"node").count(), 3);
    assert_eq!(seed.matches("<path class=\"edge").count(), 2);
    assert_eq!(seed.matches("<path class=\"edge critical").count(), 1);
    assert!(seed.contains("Total Time: 2.4s (vs 3.2s if serial)"));
    assert!(seed.contains("Time Saved: 800ms (25% faster)"));
    assert!(seed.contains("{primary.data.rows[0].count}  →  42"));
}

#[test]
fn text_from_the_trace_is_escaped() {
    let mut doc = seed_trace();
    let spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    for s in spans.iter_mut() {
        for a in s["attributes"].as_array_mut().unwrap() {
            if a["key"] == "orchestration.asset_id" {
                a["value"] = serde_json::json!({"stringValue": "<script>alert(1)</script>"});
            }
        }
    }
    let html = report(&Trace::from_otlp_json(&doc).unwrap());
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if candidate.exists() {
        return Some(candidate);
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "chromium not found at {} (set CHROMIUM, or run scripts/test.sh, which installs it)",
        candidate.display()
    );
    eprintln!(
        "note: skipping the headless Chromium check: no browser at {} (scripts/test.sh installs Debian's chromium)",
        candidate.display()
    );
    None
}

/// (distinct colours, share of pixels that differ from the top-left one) of a PNG.
fn pixel_stats(png_path: &Path) -> (usize, f64) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let first = pixels[0];
    let differ = pixels.iter().filter(|p| *p != &first).count();
    let mut distinct: Vec<&[u8]> = pixels.clone();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len(), differ as f64 / pixels.len() as f64)
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, trace) in traces().into_iter().take(3) {
        let html_path = dir.path().join(format!("{name}.html"));
        std::fs::write(&html_path, report(&trace)).unwrap();
        let png_path = dir.path().join(format!("{name}.png"));
        let profile = dir.path().join(format!("profile-{name}"));
        let out = Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--screenshot={}", png_path.display()))
            .arg("--window-size=1200,900")
            .arg(format!("file://{}", html_path.display()))
            .output()
            .expect("chromium runs");
        assert!(
            png_path.exists(),
            "{name}: no screenshot; chromium exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let (colours, share) = pixel_stats(&png_path);
        assert!(
            colours > 20,
            "{name}: {colours} colours: the page looks blank"
        );
        assert!(
            share > 0.05,
            "{name}: only {:.1}% of pixels differ from the background",
            share * 100.0
        );
    }
}

#[test]
fn inspect_html_writes_the_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace_file = write_temp(dir.path(), "seed.json", &seed_trace().to_string());
    let html = dir.path().join("report.html");
    let out = orchestrace(
        &[
            "inspect",
            trace_file.to_str().unwrap(),
            "--view",
            "none",
            "--html",
            html.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&html).unwrap();
    assert_eq!(text.matches("class=\"bar").count(), 3);
    let out = orchestrace(
        &[
            "inspect",
            trace_file.to_str().unwrap(),
            "--html",
            dir.path().join("no/such/dir/r.html").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
