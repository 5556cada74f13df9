//! Hostile and oversized input, and the token.

mod support;

use std::io::Write;

use support::{diamond, export_run, get, post, start, t0, Transport};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_malformed_bodies_are_refused_and_the_server_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let otlp = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());
    let ui = format!("http://{}", server.ui_addr());
    let proto = || ("content-type", "application/x-protobuf".to_string());
    let json = || ("content-type", "application/json".to_string());

    // Over 16 MiB on the wire.
    let (status, _, _) = post(
        otlp.clone(),
        vec![proto()],
        vec![0u8; orchestrace_server::MAX_BODY_BYTES + 1],
    )
    .await;
    assert_eq!(status, 413);
    // A gzip bomb: 40 MiB of zeros in about 40 KiB.
    let bomb = gzip(&vec![0u8; 40 << 20]);
    assert!(bomb.len() < 100_000);
    let (status, _, body) = post(
        otlp.clone(),
        vec![proto(), ("content-encoding", "gzip".into())],
        bomb,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (413, "the decompressed body is over 16 MiB\n")
    );
    // Not gzip at all.
    let (status, _, body) = post(
        otlp.clone(),
        vec![proto(), ("content-encoding", "gzip".into())],
        b"plain".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.starts_with("gzip body does not inflate"), "{body}");
    // Not protobuf, not OTLP JSON.
    let (status, _, body) = post(otlp.clone(), vec![proto()], vec![0xff; 64]).await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("body is not an OTLP protobuf export request"),
        "{body}"
    );
    let (status, _, body) = post(
        otlp.clone(),
        vec![json()],
        b"{\"resourceSpans\": 7}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with("body is not an OTLP JSON export request"),
        "{body}"
    );
    // Well-formed JSON with a short trace id: the place is named.
    let bad_id = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708","name":"x"}]}]}]}"#;
    let (status, _, body) = post(otlp.clone(), vec![json()], bad_id.to_vec()).await;
    assert_eq!(status, 400, "{body}");
    // Unknown media type and encoding.
    let (status, _, _) = post(
        otlp.clone(),
        vec![("content-type", "text/plain".into())],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    let (status, _, _) = post(
        otlp.clone(),
        vec![proto(), ("content-encoding", "br".into())],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    // Still up, and still ingesting.
    let id = export_run(
        &server,
        Transport::HttpProto,
        "diamond",
        t0(0),
        diamond(60, false),
        None,
    )
    .await;
    let (status, _) = get(format!("{ui}/api/traces/{id}")).await;
    assert_eq!(status, 200);
    let (status, _) = get(format!("{ui}/healthz")).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_strings_are_escaped_on_the_trace_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |_| {}).await;
    let ui = format!("http://{}", server.ui_addr());
    let evil = "<script>alert(1)</script>";
    let id = export_run(
        &server,
        Transport::HttpJson,
        evil,
        t0(0),
        diamond(60, true),
        None,
    )
    .await;
    let (status, page) = get(format!("{ui}/traces/{id}")).await;
    assert_eq!(status, 200);
    assert!(!page.contains(evil));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The only script is the server's own file.
    assert_eq!(page.matches("<script").count(), 1);
    assert!(page.contains("<script src=\"/assets/app.js\" defer></script>"));
    server.shutdown().await;
}

#[test]
fn off_loopback_without_a_token_does_not_start() {
    let mut c = orchestrace_server::Config::new();
    c.listen = "0.0.0.0:16680".parse().unwrap();
    assert_eq!(
        c.validate().unwrap_err(),
        "listening on 0.0.0.0:16680 (not loopback) needs a token: give --token or set ORCHESTRACE_TOKEN"
    );
    c.listen = "127.0.0.1:16680".parse().unwrap();
    c.otlp_grpc = Some("[::]:4317".parse().unwrap());
    assert!(c.validate().unwrap_err().contains("[::]:4317"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_checked_on_ui_api_and_otlp() {
    const TOKEN: &str = "s3cret-token-1";
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), |c| c.token = Some(TOKEN.into())).await;
    let ui = format!("http://{}", server.ui_addr());
    let otlp = format!("http://{}/v1/traces", server.otlp_http_addr().unwrap());
    for path in ["/", "/api/traces", "/healthz", "/assets/app.js"] {
        let (status, _) = get(format!("{ui}{path}")).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = get(format!("{ui}/api/traces?token=wrong-token-1")).await;
    assert_eq!(status, 401);
    let (status, _, _) = post(
        otlp.clone(),
        vec![("content-type", "application/x-protobuf".into())],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401);
    // With the token: gRPC and HTTP exports land; the API answers to the header, the query
    // (which sets the cookie) and the cookie.
    export_run(
        &server,
        Transport::Grpc,
        "diamond",
        t0(0),
        diamond(60, false),
        Some(TOKEN),
    )
    .await;
    export_run(
        &server,
        Transport::HttpProto,
        "diamond",
        t0(1),
        diamond(60, false),
        Some(TOKEN),
    )
    .await;
    let (status, body) = get(format!("{ui}/api/traces?token={TOKEN}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let ui2 = ui.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let c = reqwest::blocking::Client::new();
        let bearer = c
            .get(format!("{ui}/api/traces"))
            .bearer_auth(TOKEN)
            .send()
            .unwrap()
            .status()
            .as_u16();
        let cookie = c
            .get(format!("{ui}/healthz"))
            .header("cookie", format!("orchestrace_token={TOKEN}"))
            .send()
            .unwrap()
            .status()
            .as_u16();
        let set = c.get(format!("{ui}/?token={TOKEN}")).send().unwrap();
        let set_cookie = set
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        (bearer, cookie, set_cookie)
    })
    .await
    .unwrap();
    assert_eq!((answer.0, answer.1), (200, 200));
    assert!(answer
        .2
        .starts_with(&format!("orchestrace_token={TOKEN}; Path=/; HttpOnly")));
    // Exports without the token are refused: nothing more is stored.
    export_run(
        &server,
        Transport::Grpc,
        "diamond",
        t0(2),
        diamond(60, false),
        None,
    )
    .await;
    export_run(
        &server,
        Transport::HttpJson,
        "diamond",
        t0(3),
        diamond(60, false),
        None,
    )
    .await;
    let (_, body) = get(format!("{ui2}/api/traces?token={TOKEN}")).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    server.shutdown().await;
}
