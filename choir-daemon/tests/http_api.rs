//! The HTTP routes and the data dir, against a real daemon on 127.0.0.1:0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use choir_daemon::datadir::{read_endpoint, DataDirError};
use choir_daemon::DaemonError;
use choir_proto::MAX_FRAME_BYTES;
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

async fn call(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn the_web_page_is_open_but_holds_nothing_of_the_sandbox() {
    let (_dir, daemon) = common::start().await;
    let http = reqwest::Client::new();
    let url = daemon.url();
    let page = http.get(format!("{url}/")).send().await.unwrap();
    let status = page.status().as_u16();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(!html.contains(&daemon.token));
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    if choir_daemon::api::web_mirror_embedded() {
        assert_eq!(status, 200, "{html}");
        // Every file the page names is served, the wasm compressed for a browser.
        let assets: Vec<&str> = html
            .split("\"/assets/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(assets.iter().any(|name| name.ends_with(".wasm")), "{html}");
        for name in assets {
            let asset = http
                .get(format!("{url}/assets/{name}"))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status().as_u16(), 200, "{name}");
            assert!(asset.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable"));
            if name.ends_with(".wasm") {
                assert_eq!(asset.headers()["content-type"], "application/wasm");
                assert_eq!(asset.headers()["content-encoding"], "gzip");
            }
        }
    } else {
        assert_eq!(status, 503);
        assert!(html.contains("scripts/build-web.sh"), "{html}");
    }
    // The open routes lead nowhere else.
    for path in [
        "/assets/nothing.js",
        "/assets/..%2Fapi%2Fstate",
        "/assets/%2e%2e/token",
        "/assets/../api/state",
    ] {
        let response = http.get(format!("{url}{path}")).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(status == 404 || status == 401, "{path}: {status} {body}");
        assert!(
            !body.contains(&daemon.token) && !body.contains("\"world\""),
            "{path}"
        );
    }
}

#[tokio::test]
async fn health_is_open_and_everything_else_needs_the_token() {
    let (_dir, daemon) = common::start().await;
    let http = reqwest::Client::new();
    let url = daemon.url();
    let (status, body) = call(http.get(format!("{url}/health"))).await;
    assert_eq!((status, body["status"].clone()), (200, json!("ok")));

    for path in ["/api/state", "/api/events", "/nowhere", "/assets"] {
        let (status, body) = call(http.get(format!("{url}{path}"))).await;
        assert_eq!(
            (status, body["code"].clone()),
            (401, json!("unauthorized")),
            "{path}"
        );
        let (status, _) = call(http.get(format!("{url}{path}")).bearer_auth("wrong")).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = call(http.post(format!("{url}/api/commands")).body("{}")).await;
    assert_eq!(status, 401);

    let (status, _) = call(
        http.get(format!("{url}/api/state"))
            .bearer_auth(&daemon.token),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        http.get(format!("{url}/api/state"))
            .header("x-choir-token", &daemon.token),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(http.get(format!("{url}/api/state?token={}", daemon.token))).await;
    assert_eq!(status, 200);
    let (status, body) = call(
        http.get(format!("{url}/nowhere"))
            .bearer_auth(&daemon.token),
    )
    .await;
    assert_eq!((status, body["code"].clone()), (404, json!("not_found")));
    daemon.shutdown().await;
}

#[tokio::test]
async fn commands_and_events_over_http() {
    let (_dir, daemon) = common::start().await;
    let http = reqwest::Client::new();
    let url = daemon.url();
    let post = |body: String| {
        http.post(format!("{url}/api/commands"))
            .bearer_auth(&daemon.token)
            .body(body)
    };
    for _ in 0..3 {
        let (status, body) = call(post(r#"{"type":"window.open","app":"writer"}"#.into())).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = call(post(
        r#"{"type":"window.move","window_id":2,"x":9,"y":9}"#.into(),
    ))
    .await;
    assert_eq!((status, body), (200, json!({"seqs": [4]})));

    let cases = [
        (
            r#"{"type":"window.fly"}"#.to_owned(),
            400,
            "unknown_command",
        ),
        ("not json".to_owned(), 400, "malformed_frame"),
        (
            r#"{"type":"window.close"}"#.to_owned(),
            400,
            "invalid_command",
        ),
        (
            r#"{"type":"window.close","window_id":99}"#.to_owned(),
            404,
            "not_found",
        ),
        (
            r#"{"type":"window.open","app":"chat","rect":{"x":0,"y":0,"w":2,"h":2}}"#.to_owned(),
            400,
            "invalid_command",
        ),
    ];
    for (body, want_status, want_code) in cases {
        let (status, reply) = call(post(body.clone())).await;
        assert_eq!(
            (status, reply["code"].clone()),
            (want_status, json!(want_code)),
            "{body}"
        );
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = call(post("x".repeat(MAX_FRAME_BYTES + 1))).await;
    assert_eq!(status, 413);

    let (status, body) = call(
        http.get(format!("{url}/api/events?from=2&limit=2"))
            .bearer_auth(&daemon.token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["head"], json!(4));
    let seqs: Vec<u64> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3]);
    assert_eq!(body["events"][0]["type"], json!("window.opened"));
    assert_eq!(body["events"][0]["actor"], json!("http"));

    let (_, state) = call(
        http.get(format!("{url}/api/state"))
            .bearer_auth(&daemon.token),
    )
    .await;
    assert_eq!(state["head"], json!(4));
    assert_eq!(
        state["world"]["desktop"]["windows"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_data_dir_is_locked_private_and_announces_the_endpoint() {
    let (dir, daemon) = common::start().await;
    let second = choir_daemon::Daemon::start(choir_daemon::DaemonConfig::local(dir.path())).await;
    assert!(matches!(
        second.err(),
        Some(DaemonError::DataDir(DataDirError::InUse { .. }))
    ));

    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("token"), 0o600);
    assert_eq!(mode("daemon.json"), 0o600);
    assert!(dir.path().join("workspace").is_dir());
    let endpoint = read_endpoint(dir.path()).unwrap();
    assert_eq!(endpoint.url, daemon.url());
    assert_eq!(endpoint.token, daemon.token);
    let token = daemon.token.clone();
    daemon.shutdown().await;
    assert!(
        read_endpoint(dir.path()).is_err(),
        "endpoint removed on shutdown"
    );

    // Restart: same token, lock free again.
    let again = common::start_in(dir.path()).await;
    assert_eq!(again.token, token);
    again.shutdown().await;
}
