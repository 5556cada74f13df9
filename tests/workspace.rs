//! The crate graph a host app gets when it adds the library: none of the command line's,
//! the inspector's or the test receiver's crates, and no network stack without the export
//! features.

use std::process::Command;

/// `cargo tree -p orchestrace -e normal --prefix none ARGS`: one crate name per line.
fn crates(args: &[&str]) -> Vec<String> {
    let lock_complete = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "tree",
        "-p",
        "orchestrace",
        "-e",
        "normal",
        "--prefix",
        "none",
    ])
    .args(args)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if lock_complete {
        cmd.args(["--locked", "--offline"]);
    }
    let out = cmd.output().expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    assert!(
        names.iter().any(|n| n == "tokio") && names.iter().any(|n| n == "orchestrace"),
        "cargo tree printed the graph: {text}"
    );
    names
}

fn assert_absent(names: &[String], banned: &[&str], what: &str) {
    let found: Vec<&String> = names
        .iter()
        .filter(|n| banned.contains(&n.as_str()))
        .collect();
    assert!(found.is_empty(), "{what} pulls in {found:?}");
}

#[test]
fn a_host_app_compiles_neither_the_cli_nor_the_inspector() {
    let names = crates(&[]);
    assert_absent(
        &names,
        &[
            "clap",
            "clap_builder",
            "axum",
            "orchestrace-inspect",
            "orchestrace-cli",
            "rusqlite",
            "libsqlite3-sys",
            // HTML rendering and templating crates.
            "askama",
            "maud",
            "handlebars",
            "tera",
            "minijinja",
            "horrorshow",
            "markup",
            "sailfish",
        ],
        "orchestrace with default features",
    );
    // The default features do bring the exporters.
    assert!(names.iter().any(|n| n == "tonic"), "{names:?}");
    assert!(names.iter().any(|n| n == "reqwest"), "{names:?}");
}

#[test]
fn without_default_features_there_is_no_network_stack() {
    let names = crates(&["--no-default-features"]);
    assert_absent(
        &names,
        &[
            "tonic",
            "reqwest",
            "hyper",
            "hyper-util",
            "h2",
            "axum",
            "clap",
        ],
        "orchestrace without default features",
    );
}
