//! The web server with a browser in Rust (HTTP, cookies, `Origin`, WebAuthn by
//! `webauthn-authenticator-rs`'s soft passkey, the protocol WebSocket) against a real
//! `choir-hypervisor serve`: invite → register → sign in → the desktop, live with the same
//! user's SSH session; and every way in that must stay shut, tried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::browser::{frame_of, next_frame, Browser, Socket};
use common::{exec, Hypervisor};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use webauthn_authenticator_rs::prelude::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const CLOSE_UNAUTHORIZED: u16 = choir_proto::CLOSE_UNAUTHORIZED;

fn start(users: &[&str], args: &[&str]) -> (Hypervisor, Browser) {
    let args = [&["--http-listen", "127.0.0.1:0"][..], args].concat();
    let hv = Hypervisor::start(users, &args);
    let (origin, addr) = hv.web();
    (hv, Browser::new(&origin, addr))
}

/// A browser of the same site, without a cookie yet.
fn another(browser: &Browser) -> Browser {
    let addr = browser.base.trim_start_matches("http://").parse().unwrap();
    Browser::new(&browser.origin, addr)
}

/// Registers a fresh soft passkey for `user` by invite; the browser is then signed in.
async fn enrol(hv: &Hypervisor, browser: &mut Browser, user: &str) -> SoftPasskey {
    let mut passkey = SoftPasskey::new(true);
    let answer = browser.register(&hv.invite(user, &[]), &mut passkey).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["next"], "/");
    assert!(browser.cookie.is_some(), "registering by invite signs in");
    passkey
}

/// The first value under `key` anywhere in `value`.
fn find<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find(v, key)),
        _ => None,
    }
}

/// Opens a chat window over `socket` and posts `text` in its thread.
async fn post_chat(socket: &mut Socket, text: &str) {
    let open =
        json!({ "type": "command", "id": 1, "command": { "type": "window.open", "app": "chat" } });
    socket.send(Message::text(open.to_string())).await.unwrap();
    let thread = loop {
        let frame = next_frame(socket).await.unwrap();
        if frame["type"] == "event" && frame.to_string().contains("chat.thread_created") {
            break find(&frame, "thread_id").unwrap().clone();
        }
    };
    let post = json!({ "type": "command", "id": 2,
        "command": { "type": "chat.post", "thread_id": thread, "text": text } });
    socket.send(Message::text(post.to_string())).await.unwrap();
    while frame_of(socket, "ack").await.unwrap()["id"] != 2 {}
}

/// The close that ends `socket` (frames before it skipped).
async fn closed(socket: &mut Socket) -> (u16, String) {
    loop {
        if let Err(close) = next_frame(socket).await {
            return close;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invite_register_sign_in_and_the_browser_shares_the_sandbox_with_ssh() {
    let (hv, mut browser) = start(&["alice"], &[]);

    // The desktop needs a session: without one, the sign-in page.
    let home = browser.get("/").await;
    assert_eq!(
        (home.status, home.headers["location"].to_str().unwrap()),
        (303, "/signin")
    );
    let page = browser.get("/invite").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text
            .contains("<meta name=\"choir-page\" content=\"invite\">"),
        "{}",
        page.text
    );

    let link = hv.invite("alice", &[]);
    assert!(
        link.starts_with(&format!("{}/invite#", browser.origin)),
        "{link}"
    );
    let secret = link.split_once('#').unwrap().1;
    let check = browser
        .post("/auth/invite", json!({ "invite": secret }))
        .await;
    assert_eq!(
        (check.status, check.json()["user"].clone()),
        (200, json!("alice"))
    );
    let mut passkey = SoftPasskey::new(true);
    let registered = browser.register(&link, &mut passkey).await;
    assert_eq!(registered.status, 200, "{registered:?}");
    let first_cookie = browser.cookie.clone().unwrap();
    let set = registered.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );

    // The desktop page knows who is signed in, and holds no token.
    let desktop = browser.get("/").await;
    assert_eq!(desktop.status, 200);
    assert!(desktop
        .text
        .contains("<meta name=\"choir-user\" content=\"alice\">"));

    // A chat message typed in the browser is in the log the SSH side reads.
    let mut socket = browser.desktop().await;
    let welcome = frame_of(&mut socket, "welcome").await.unwrap();
    assert!(welcome["head"].is_u64(), "{welcome}");
    post_chat(&mut socket, "hello from the browser").await;
    let ssh = hv.connect("alice").await;
    let events = exec(&ssh, "choir events").await;
    assert_eq!(events.status, Some(0), "{}", events.err);
    assert!(
        events.out.contains("hello from the browser"),
        "{}",
        events.out
    );

    // …and what SSH does arrives in the open browser, live.
    let run = exec(&ssh, "choir --exec bash --arg 'cmd=echo from-ssh'").await;
    assert_eq!(run.status, Some(0), "{}", run.err);
    loop {
        let frame = next_frame(&mut socket).await.unwrap();
        if frame["type"] == "event" && frame.to_string().contains("from-ssh") {
            break;
        }
    }

    // The API goes to the same sandbox, token added by the hypervisor (the browser's own
    // `?token=` is dropped, not passed on).
    let state = browser
        .get("/api/events?from=1&limit=100&token=nonsense")
        .await;
    assert_eq!(state.status, 200, "{state:?}");
    assert!(state.text.contains("hello from the browser"));
    assert_eq!(state.headers["content-type"], "application/json");
    assert!(!state.headers.contains_key("set-cookie"));

    // `user list` shows the passkey beside the SSH key.
    let list = String::from_utf8(hv.run(&["user", "list"]).stdout).unwrap();
    assert!(list.contains("  ssh      SHA256:"), "{list}");
    assert!(
        list.contains("  passkey  ") && list.contains("\"soft\""),
        "{list}"
    );

    // Sign-out ends the session: the open socket closes, the cookie opens nothing.
    let out = browser.post("/auth/signout", json!({})).await;
    assert_eq!(out.status, 200);
    assert_eq!(closed(&mut socket).await.0, CLOSE_UNAUTHORIZED);
    browser.cookie = Some(first_cookie.clone());
    assert_eq!(browser.get("/api/state").await.status, 401);

    // Signing in again gives a new session id.
    let signed = browser.sign_in("alice", &mut passkey).await;
    assert_eq!(signed.status, 200, "{signed:?}");
    assert_ne!(browser.cookie.as_deref(), Some(first_cookie.as_str()));
    assert_eq!(browser.get("/api/state").await.status, 200);
    let list = String::from_utf8(hv.run(&["user", "list"]).stdout).unwrap();
    assert!(list.contains("last used"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_cookie_a_forged_cookie_or_a_foreign_origin_gets_nothing() {
    let (hv, mut browser) = start(&["alice"], &[]);
    let _passkey = enrol(&hv, &mut browser, "alice").await;
    let real = browser.cookie.clone().unwrap();
    let (name, id) = real.split_once('=').unwrap();
    let forgeries = [
        None,
        Some(format!("{name}={}", &id[..id.len() - 1])),
        // The last character changed (to one it is not).
        Some(format!(
            "{name}={}{}",
            &id[..id.len() - 1],
            if id.ends_with('A') { 'B' } else { 'A' }
        )),
        Some(format!("{name}={}", "A".repeat(43))),
        Some(format!("__Host-choir_session={id}")),
        Some(format!("{name}=")),
    ];
    for cookie in forgeries {
        let mut stranger = another(&browser);
        stranger.cookie = cookie.clone();
        let what = format!("cookie {cookie:?}");
        assert_eq!(stranger.get("/").await.status, 303, "{what}");
        assert_eq!(stranger.get("/api/state").await.status, 401, "{what}");
        assert_eq!(stranger.get("/account").await.status, 303, "{what}");
        assert_eq!(stranger.get("/auth/passkeys").await.status, 401, "{what}");
        let mut socket = stranger.desktop().await;
        assert_eq!(closed(&mut socket).await.0, CLOSE_UNAUTHORIZED, "{what}");
    }

    // A stranger's large body is not read: no session, no reading.
    let big = reqwest::Client::new()
        .post(format!("{}/api/commands", browser.base))
        .header("origin", &browser.origin)
        .header("content-type", "application/json")
        .body(vec![b' '; 4 << 20])
        .send()
        .await;
    assert!(big.map(|answer| answer.status() == 401).unwrap_or(true));
    // One user's tabs are bounded (each holds a socket to the sandbox).
    let mut tabs = Vec::new();
    for _ in 0..32 {
        tabs.push(browser.websocket_from(&browser.origin).await.unwrap());
    }
    assert_eq!(
        browser.websocket_from(&browser.origin).await.err(),
        Some(429)
    );
    drop(tabs);

    // A page of another site cannot open the socket, even with the right cookie…
    for origin in [
        "http://evil.example",
        "null",
        "http://localhost:1",
        &browser.origin.replace("http:", "https:"),
    ] {
        assert_eq!(
            browser.websocket_from(origin).await.err(),
            Some(403),
            "{origin}"
        );
    }
    // …nor change anything: a cross-site POST, or one that hides where it came from.
    let passkeys = browser.get("/auth/passkeys").await.json();
    let id = passkeys["passkeys"][0]["id"].clone();
    for origin in [Some("http://evil.example"), None] {
        let remove = browser
            .post_from("/auth/passkeys/remove", json!({ "id": id }), origin)
            .await;
        assert_eq!(remove.status, 403, "{origin:?}");
        let out = browser.post_from("/auth/signout", json!({}), origin).await;
        assert_eq!(out.status, 403, "{origin:?}");
        let command = browser
            .post_from(
                "/api/commands",
                json!({ "type": "window.open", "app": "chat" }),
                origin,
            )
            .await;
        assert_eq!(command.status, 403, "{origin:?}");
    }
    // A body that is not JSON (what a form could send) is refused, even from our origin.
    let remove = reqwest::Client::new()
        .post(format!("{}/auth/passkeys/remove", browser.base))
        .header("origin", &browser.origin)
        .header("cookie", &real)
        .header("content-type", "text/plain")
        .body(json!({ "id": id }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(remove.status(), 415);
    let left = browser.get("/auth/passkeys").await.json();
    assert_eq!(left["passkeys"].as_array().unwrap().len(), 1, "{left}");
    drop(hv);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invites_work_once_and_not_after_they_expire() {
    let (hv, mut browser) = start(&["alice"], &[]);
    let link = hv.invite("alice", &[]);
    let mut passkey = SoftPasskey::new(true);
    assert_eq!(browser.register(&link, &mut passkey).await.status, 200);

    // Used: refused at every step, for anyone.
    let mut thief = another(&browser);
    let secret = link.split_once('#').unwrap().1;
    let check = thief
        .post("/auth/invite", json!({ "invite": secret }))
        .await;
    assert_eq!(check.status, 410);
    assert!(check.json()["error"]
        .as_str()
        .unwrap()
        .contains("already used"));
    let start = thief
        .post("/auth/register/start", json!({ "invite": secret }))
        .await;
    assert_eq!(start.status, 410);
    assert!(thief.cookie.is_none());

    // Two browsers racing on one invite: one passkey gets in.
    let link = hv.invite("alice", &[]);
    let secret = link.split_once('#').unwrap().1;
    let mut first = another(&browser);
    let mut second = another(&browser);
    let a = first
        .post("/auth/register/start", json!({ "invite": secret }))
        .await
        .json();
    let b = second
        .post("/auth/register/start", json!({ "invite": secret }))
        .await
        .json();
    let origin = url::Url::parse(&browser.origin).unwrap();
    let mut passkey_a = SoftPasskey::new(true);
    let mut passkey_b = SoftPasskey::new(true);
    let cred_a = passkey_a
        .do_registration(
            origin.clone(),
            serde_json::from_value(a["options"].clone()).unwrap(),
        )
        .unwrap();
    let cred_b = passkey_b
        .do_registration(
            origin,
            serde_json::from_value(b["options"].clone()).unwrap(),
        )
        .unwrap();
    let done_a = first
        .post(
            "/auth/register/finish",
            json!({ "ceremony": a["ceremony"], "credential": cred_a }),
        )
        .await;
    let done_b = second
        .post(
            "/auth/register/finish",
            json!({ "ceremony": b["ceremony"], "credential": cred_b }),
        )
        .await;
    assert_eq!((done_a.status, done_b.status), (200, 410), "{done_b:?}");
    assert!(second.cookie.is_none());
    // The loser's passkey was not kept: it cannot sign in.
    let mut loser = another(&browser);
    let start = loser
        .post("/auth/signin/start", json!({ "user": "alice" }))
        .await
        .json();
    let allowed = start["options"]["publicKey"]["allowCredentials"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(allowed, 2, "the first passkey and the race's winner");

    // A ceremony is finished once: replaying the winner's answer opens nothing.
    let replay = loser
        .post(
            "/auth/register/finish",
            json!({ "ceremony": a["ceremony"], "credential": cred_a }),
        )
        .await;
    assert_eq!(replay.status, 400);

    // Expired.
    let link = hv.invite("alice", &["--expires", "1s"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let secret = link.split_once('#').unwrap().1;
    let check = thief
        .post("/auth/invite", json!({ "invite": secret }))
        .await;
    assert_eq!(check.status, 410);
    assert!(check.json()["error"].as_str().unwrap().contains("expired"));
    let start = thief
        .post("/auth/register/start", json!({ "invite": secret }))
        .await;
    assert_eq!(start.status, 410);

    // Made up or cut short.
    for forged in ["x".repeat(43), secret[..20].to_owned(), String::new()] {
        let check = thief
            .post("/auth/invite", json!({ "invite": forged }))
            .await;
        assert_eq!(check.status, 404, "{forged}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_users_session_never_reaches_another_users_sandbox() {
    let (hv, mut alice) = start(&["alice", "bob"], &[]);
    let mut alice_key = enrol(&hv, &mut alice, "alice").await;
    let mut bob = another(&alice);
    let mut bob_key = enrol(&hv, &mut bob, "bob").await;

    let mut socket = alice.desktop().await;
    frame_of(&mut socket, "welcome").await.unwrap();
    post_chat(&mut socket, "alice's secret plan").await;
    let alice_token = std::fs::read_to_string(hv.sandbox_dir("alice").join("daemon.json")).unwrap();
    let alice_token: Value = serde_json::from_str(&alice_token).unwrap();
    let alice_token = alice_token["token"].as_str().unwrap().to_owned();

    // Everything Bob's browser can ask, every way of naming Alice, answers from Bob's
    // sandbox or not at all.
    let mut answers = Vec::new();
    for path in [
        "/api/events?from=1&limit=1000",
        "/api/events?from=1&limit=1000&user=alice",
        "/api/state",
        "/api/../api/state",
        "/api/%2e%2e/alice/api/state",
        "//api/state",
        "/api/events?from=1&token=",
        "/ws",
        "/alice/api/state",
        "/sandboxes/alice/events.db",
        "/assets/../sandboxes/alice/daemon.json",
    ] {
        let answer = bob.get(path).await;
        answers.push(format!("{path} {answer:?}"));
    }
    let with_headers = reqwest::Client::new()
        .get(format!("{}/api/events?from=1&limit=1000", bob.base))
        .header("cookie", bob.cookie.clone().unwrap())
        .header("x-choir-user", "alice")
        .header("x-forwarded-user", "alice")
        .header("authorization", format!("Bearer {alice_token}"))
        .header("host", "alice.localhost")
        .send()
        .await
        .unwrap();
    answers.push(with_headers.text().await.unwrap());
    let mut bob_socket = bob.desktop().await;
    let welcome = frame_of(&mut bob_socket, "welcome").await.unwrap();
    answers.push(welcome.to_string());
    post_chat(&mut bob_socket, "bob was here").await;
    for answer in &answers {
        assert!(
            !answer.contains("secret plan"),
            "Bob saw Alice's chat: {answer}"
        );
        assert!(
            !answer.contains(&alice_token),
            "Bob saw Alice's token: {answer}"
        );
    }
    let bob_events = bob.get("/api/events?from=1&limit=1000").await;
    assert!(bob_events.text.contains("bob was here"));
    let alice_events = alice.get("/api/events?from=1&limit=1000").await;
    assert!(!alice_events.text.contains("bob was here"));

    // Alice's tabs never carried her token either.
    for path in ["/", "/account", "/auth/passkeys", "/api/state"] {
        let answer = alice.get(path).await;
        assert!(!answer.text.contains(&alice_token), "{path}");
    }

    // Bob's passkey cannot sign in as Alice: Alice's challenge, signed by Bob's key.
    let mut attacker = another(&alice);
    let start = attacker
        .post("/auth/signin/start", json!({ "user": "alice" }))
        .await
        .json();
    let bob_start = another(&alice)
        .post("/auth/signin/start", json!({ "user": "bob" }))
        .await
        .json();
    let mut options = start["options"].clone();
    options["publicKey"]["allowCredentials"] =
        bob_start["options"]["publicKey"]["allowCredentials"].clone();
    let forged = bob_key
        .do_authentication(
            url::Url::parse(&alice.origin).unwrap(),
            serde_json::from_value(options).unwrap(),
        )
        .unwrap();
    let finish = attacker
        .post(
            "/auth/signin/finish",
            json!({ "ceremony": start["ceremony"], "credential": forged }),
        )
        .await;
    assert_eq!(finish.status, 401, "{finish:?}");
    assert!(finish.json()["error"]
        .as_str()
        .unwrap()
        .contains("not registered for alice"));
    assert!(attacker.cookie.is_none());
    // …nor can Bob's signed-in session add its passkey to Alice's account, or remove hers.
    let alice_passkeys = alice.get("/auth/passkeys").await.json();
    let alice_id = alice_passkeys["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let remove = bob
        .post("/auth/passkeys/remove", json!({ "id": alice_id }))
        .await;
    assert_eq!(remove.status, 400, "{remove:?}");
    assert_eq!(
        alice.get("/auth/passkeys").await.json()["passkeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(alice.sign_in("alice", &mut alice_key).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_a_passkey_or_the_user_ends_their_sessions_at_once() {
    let (hv, mut laptop) = start(&["alice"], &[]);
    let mut first = enrol(&hv, &mut laptop, "alice").await;
    let mut phone = another(&laptop);
    let mut second = SoftPasskey::new(true);
    // The second passkey is added from the signed-in laptop, then used on the phone.
    let added = laptop.add_passkey(&mut second, "phone").await;
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(phone.sign_in("alice", &mut second).await.status, 200);
    let mut laptop_socket = laptop.desktop().await;
    let mut phone_socket = phone.desktop().await;
    frame_of(&mut laptop_socket, "welcome").await.unwrap();
    frame_of(&mut phone_socket, "welcome").await.unwrap();

    let passkeys = laptop.get("/auth/passkeys").await.json();
    let phone_id = passkeys["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["label"] == "phone")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A sign-in with it is under way when it goes.
    let mut racer = another(&laptop);
    let started = racer
        .post("/auth/signin/start", json!({ "user": "alice" }))
        .await
        .json();
    let out = hv.run(&["user", "remove-passkey", "alice", &phone_id[..12]]);
    assert!(out.status.success(), "{out:?}");
    let (code, reason) = closed(&mut phone_socket).await;
    assert_eq!(code, CLOSE_UNAUTHORIZED, "{reason}");
    assert_eq!(phone.get("/api/state").await.status, 401);
    assert_eq!(
        phone.sign_in("alice", &mut second).await.status,
        0,
        "no longer asked for"
    );
    assert_eq!(
        racer.finish_sign_in(&started, &mut second).await.status,
        401
    );
    assert!(racer.cookie.is_none());
    // The laptop, signed in with the other passkey, goes on.
    assert_eq!(laptop.get("/api/state").await.status, 200);

    // Removing one's own passkey on the web signs that browser out.
    let passkeys = laptop.get("/auth/passkeys").await.json();
    let own = passkeys["passkeys"][0]["id"].clone();
    assert_eq!(passkeys["passkeys"][0]["current"], true);
    let mut third = SoftPasskey::new(true);
    assert_eq!(laptop.add_passkey(&mut third, "spare").await.status, 200);
    let removed = laptop
        .post("/auth/passkeys/remove", json!({ "id": own }))
        .await;
    assert_eq!(removed.json()["signed_out"], true, "{removed:?}");
    assert_eq!(closed(&mut laptop_socket).await.0, CLOSE_UNAUTHORIZED);
    assert_eq!(
        laptop.sign_in("alice", &mut first).await.status,
        0,
        "no longer asked for"
    );

    // The user goes: every session with them.
    assert_eq!(laptop.sign_in("alice", &mut third).await.status, 200);
    let mut socket = laptop.desktop().await;
    frame_of(&mut socket, "welcome").await.unwrap();
    let out = hv.run(&["user", "remove", "alice"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(closed(&mut socket).await.0, CLOSE_UNAUTHORIZED);
    assert_eq!(laptop.get("/api/state").await.status, 401);
    // A removed user's name answers as any name without passkeys: the passkey is not asked for.
    assert_eq!(laptop.sign_in("alice", &mut third).await.status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_expire_and_sign_in_attempts_are_limited() {
    let (hv, mut browser) = start(
        &["alice"],
        &["--session-max-age", "3s", "--limit-signin", "6"],
    );
    let mut passkey = enrol(&hv, &mut browser, "alice").await;
    let mut socket = browser.desktop().await;
    frame_of(&mut socket, "welcome").await.unwrap();
    assert_eq!(browser.get("/api/state").await.status, 200);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(browser.get("/api/state").await.status, 401, "too old");
    assert_eq!(browser.get("/").await.status, 303);

    // Each registration and sign-in step is an attempt; six a minute from one address.
    let mut limited = None;
    for n in 0..10 {
        let answer = browser
            .post("/auth/signin/start", json!({ "user": "alice" }))
            .await;
        if answer.status == 429 {
            limited = Some((n, answer));
            break;
        }
    }
    let (n, answer) = limited.expect("never limited");
    assert!(n <= 6, "limited after {n}");
    assert!(answer.headers.contains_key("retry-after"));
    assert!(answer.json()["error"]
        .as_str()
        .unwrap()
        .contains("too many attempts"));
    assert!(browser.sign_in("alice", &mut passkey).await.status == 429);
    drop(socket);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_https_the_cookie_is_secure_and_plain_http_gets_nothing() {
    let certs = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let hv = Hypervisor::start(
        &["alice"],
        &[
            "--http-listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let (origin, addr) = hv.web();
    assert!(origin.starts_with("https://localhost:"), "{origin}");
    let trusted = reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .resolve("localhost", addr);
    let mut browser = Browser::with_client(&origin, &origin, client);
    let _passkey = enrol(&hv, &mut browser, "alice").await;
    let cookie = browser.cookie.clone().unwrap();
    assert!(cookie.starts_with("__Host-choir_session="), "{cookie}");
    assert_eq!(browser.get("/api/state").await.status, 200);
    let set = browser.post("/auth/signout", json!({})).await;
    assert!(set.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    // Plain HTTP on the TLS port, and a client that does not trust the certificate: nothing.
    assert!(reqwest::get(format!("http://{addr}/signin")).await.is_err());
    let untrusting = reqwest::Client::builder()
        .resolve("localhost", addr)
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{origin}/signin"))
        .send()
        .await
        .is_err());
}

/// The shape of a JSON value: its keys, array lengths and kinds of leaves, not their values;
/// strings are kept where `keep` says so.
fn shape(value: &Value, keep: &dyn Fn(&str) -> bool, key: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), shape(v, keep, k)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| shape(v, keep, key)).collect()),
        Value::String(text) if keep(key) => Value::String(text.clone()),
        Value::String(_) => Value::String("…".into()),
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_tells_no_one_which_names_exist() {
    // Alice has a passkey; Bob is a user with only an SSH key; Mallory does not exist.
    let (hv, mut browser) = start(&["alice", "bob"], &["--limit-signin", "100"]);
    let mut alice_key = enrol(&hv, &mut browser, "alice").await;
    let mut asker = another(&browser);
    let mut answers = Vec::new();
    for name in ["alice", "bob", "mallory", "no such name!", "alice"] {
        let answer = asker
            .post("/auth/signin/start", json!({ "user": name }))
            .await;
        assert_eq!(answer.status, 200, "{name}: {answer:?}");
        answers.push((name, answer.json()));
    }
    // Every answer has the same fields, the same relying party, timeout and verification;
    // a real passkey's id and a made-up one are both opaque strings.
    let fixed = |key: &str| matches!(key, "rpId" | "userVerification" | "type");
    let keys_of = |value: &Value| {
        let mut shape = shape(value, &fixed, "");
        let allowed = shape["options"]["publicKey"]["allowCredentials"].take();
        // One entry stands for all: how many a user has is theirs (one, most often).
        shape["entry"] = allowed.get(0).cloned().unwrap_or(Value::Null);
        shape
    };
    let alice_shape = keys_of(&answers[0].1);
    assert_ne!(alice_shape["entry"], Value::Null, "{alice_shape}");
    for (name, answer) in &answers[1..] {
        let their_shape = keys_of(answer);
        if their_shape["entry"] != Value::Null {
            assert_eq!(their_shape, alice_shape, "{name}");
        } else {
            assert_eq!(their_shape["options"], alice_shape["options"], "{name}");
        }
    }
    let ids = |answer: &Value| answer["options"]["publicKey"]["allowCredentials"].clone();
    assert_eq!(
        ids(&answers[0].1),
        ids(&answers[4].1),
        "Alice's ids are stable"
    );
    let again = asker
        .post("/auth/signin/start", json!({ "user": "mallory" }))
        .await
        .json();
    assert_eq!(
        ids(&answers[2].1),
        ids(&again),
        "made-up ids are stable too"
    );
    // Made-up ids differ from name to name. A name may get none (webauthn-rs's generator
    // gives some accounts no passkey, about one in six), so several names are asked.
    let mut made_up = Vec::new();
    for name in [
        "bob", "mallory", "carol", "dave", "erin", "frank", "grace", "heidi",
    ] {
        let answer = asker
            .post("/auth/signin/start", json!({ "user": name }))
            .await
            .json();
        made_up.push(ids(&answer));
    }
    made_up.retain(|ids| ids.as_array().is_some_and(|ids| !ids.is_empty()));
    assert!(!made_up.is_empty(), "eight names and no made-up id");
    for (n, one) in made_up.iter().enumerate() {
        assert!(
            !made_up[n + 1..].contains(one),
            "two names got the same ids: {one}"
        );
    }
    // After a restart (the same data dir) the made-up ids are the same: they do not give
    // themselves away by changing when real ones do not.
    drop(asker);
    let mut hv = hv;
    hv.restart();
    let (origin, addr) = hv.web();
    let mut asker = Browser::new(&origin, addr);
    let after = asker
        .post("/auth/signin/start", json!({ "user": "mallory" }))
        .await
        .json();
    assert_eq!(ids(&again), ids(&after));

    // Finishing: Alice's passkey offered for Mallory and for Bob fails as a wrong passkey does
    // for a real user, and signs no one in.
    for name in ["mallory", "bob"] {
        let mut attacker = Browser::new(&origin, addr);
        let start = attacker
            .post("/auth/signin/start", json!({ "user": name }))
            .await
            .json();
        let alice_start = Browser::new(&origin, addr)
            .post("/auth/signin/start", json!({ "user": "alice" }))
            .await
            .json();
        let mut options = start["options"].clone();
        options["publicKey"]["allowCredentials"] =
            alice_start["options"]["publicKey"]["allowCredentials"].clone();
        let credential = alice_key
            .do_authentication(
                url::Url::parse(&origin).unwrap(),
                serde_json::from_value(options).unwrap(),
            )
            .unwrap();
        let finish = attacker
            .post(
                "/auth/signin/finish",
                json!({ "ceremony": start["ceremony"], "credential": credential }),
            )
            .await;
        assert_eq!(finish.status, 401, "{name}: {finish:?}");
        assert_eq!(
            finish.json()["error"],
            format!("this passkey is not registered for {name} here"),
        );
        assert!(attacker.cookie.is_none());
    }
    // Alice still signs in.
    let mut alice = Browser::new(&origin, addr);
    assert_eq!(alice.sign_in("alice", &mut alice_key).await.status, 200);
}
