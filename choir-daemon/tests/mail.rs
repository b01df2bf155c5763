//! Mail and calendar against real servers (`scripts/mail-servers.sh`: Dovecot, an SMTP
//! server delivering into it, Radicale, on loopback): an account is checked before it is
//! kept and kept out of the log; the agent's mail tools search, read, keep drafts and send;
//! its calendar tools list and add events, which converge with another CalDAV client's; bad
//! input and a server that goes away get clear errors and the daemon carries on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod model;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use choir_daemon::agent::ApprovalPolicy;
use choir_daemon::RunningDaemon;
use choir_mail::{Account, Mailbox, Outgoing};
use choir_proto::{AppKind, Command, EventBody, ThreadId, WindowId, World};
use choir_test_support::MailServers;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// The account settings of user `n` (1: alice, 2: bob) as `start` printed them.
fn settings(servers: &MailServers, second: bool) -> Value {
    let suffix = if second { "2" } else { "" };
    json!({
        "CHOIR_IMAP_URL": servers.var("CHOIR_IMAP_URL"),
        "CHOIR_SMTP_URL": servers.var("CHOIR_SMTP_URL"),
        "CHOIR_MAIL_USER": servers.var(&format!("CHOIR_MAIL_USER{suffix}")),
        "CHOIR_MAIL_PASSWORD": servers.var(&format!("CHOIR_MAIL_PASSWORD{suffix}")),
        "CHOIR_MAIL_ADDRESS": servers.var(&format!("CHOIR_MAIL_ADDRESS{suffix}")),
        "CHOIR_CALDAV_URL": servers.var(&format!("CHOIR_CALDAV_URL{suffix}")),
    })
}

fn account(settings: &Value) -> Account {
    Account::from_env(|name| settings[name].as_str().map(str::to_owned)).unwrap()
}

async fn post(daemon: &RunningDaemon, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", daemon.url()))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Calls tool `name` as `choir --exec` does; its result.
async fn tool(daemon: &RunningDaemon, name: &str, args: Value) -> Value {
    let (status, result) = post(daemon, &daemon.token, &format!("/api/tools/{name}"), &args).await;
    assert_eq!(status, 200, "{result}");
    result
}

/// The world once `ready` holds of it.
async fn until(daemon: &RunningDaemon, what: &str, ready: impl Fn(&World) -> bool) -> World {
    common::world_when(daemon, WAIT, what, ready, |world| world.calendars.clone()).await
}

/// Searches alice's INBOX with the tool until a message matching `query` is there.
async fn wait_for_mail(daemon: &RunningDaemon, query: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = tool(daemon, "mail_search", json!({ "query": query })).await;
        let output = found["output"].as_str().unwrap().to_owned();
        assert_eq!(found["ok"], true, "{output}");
        if !output.starts_with("no messages") {
            return output;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message matching {query:?} arrived: {output}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_account_is_checked_kept_out_of_the_log_and_its_mail_searched_read_and_sent() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    let alice = settings(&servers, false);
    let bob = account(&settings(&servers, true));

    // Without an account the tools say how to add one.
    let none = tool(&daemon, "mail_search", json!({})).await;
    assert_eq!(none["ok"], false);
    assert!(
        none["output"]
            .as_str()
            .unwrap()
            .contains("choir account add --from-env"),
        "{none}"
    );

    // A wrong password is refused by the server and nothing is kept.
    let mut wrong = alice.clone();
    wrong["CHOIR_MAIL_PASSWORD"] = json!("not-her-password");
    let (status, refused) = post(&daemon, &daemon.token, "/api/mail/accounts", &wrong).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("refused the user name or password"),
        "{refused}"
    );
    let listed = common::get_json(&daemon, "/api/mail/accounts").await;
    assert_eq!(listed["accounts"], json!([]));
    // A setting that is missing or would send the password in plain text elsewhere is named.
    let mut plain = alice.clone();
    plain["CHOIR_IMAP_URL"] = json!("imap://mail.example.org");
    let (status, refused) = post(&daemon, &daemon.token, "/api/mail/accounts", &plain).await;
    assert_eq!(status, 400);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("CHOIR_IMAP_URL"),
        "{refused}"
    );

    // The right one is kept, 0600, and never shown or logged with its password.
    let (status, kept) = post(&daemon, &daemon.token, "/api/mail/accounts", &alice).await;
    assert_eq!(status, 200, "{kept}");
    let file = dir.path().join("mail-accounts.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let listed = common::get_json(&daemon, "/api/mail/accounts").await;
    assert_eq!(
        listed["accounts"][0]["address"],
        alice["CHOIR_MAIL_ADDRESS"]
    );
    let password = alice["CHOIR_MAIL_PASSWORD"].as_str().unwrap();
    assert!(!listed.to_string().contains(password));

    // Bob writes to alice; the agent's search finds it and reads it.
    let subject = format!("lunch plans {}", std::process::id());
    choir_mail::send(
        &bob,
        &Outgoing {
            to: vec![alice["CHOIR_MAIL_ADDRESS"].as_str().unwrap().to_owned()],
            cc: Vec::new(),
            subject: subject.clone(),
            body: "Noon at the usual place?\nBob\n".into(),
            in_reply_to: None,
        },
    )
    .await
    .unwrap();
    let listed = wait_for_mail(&daemon, &subject).await;
    assert!(
        listed.contains(&subject) && listed.contains("[unread]"),
        "{listed}"
    );
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let read = tool(&daemon, "mail_read", json!({ "id": id })).await;
    let text = read["output"].as_str().unwrap();
    assert_eq!(read["ok"], true, "{text}");
    assert!(text.contains("Noon at the usual place?"), "{text}");
    assert!(text.contains(&bob.address), "{text}");
    // Reading changed nothing on the server: still unread.
    let again = wait_for_mail(&daemon, &subject).await;
    assert!(again.contains("[unread]"), "{again}");

    // A draft goes to Drafts, unsent; a reply is sent and reaches bob.
    let draft = tool(
        &daemon,
        "mail_draft",
        json!({ "to": bob.address, "subject": "Re: draft only", "body": "thinking…" }),
    )
    .await;
    // The server marks its drafts folder (Brouillons, here): that is where it goes.
    assert_eq!(
        draft["output"], "kept in Brouillons of alice@example.test: Re: draft only",
        "{draft}"
    );
    let drafts = tool(&daemon, "mail_search", json!({ "folder": "Brouillons" })).await;
    assert!(
        drafts["output"].as_str().unwrap().contains("draft only"),
        "{drafts}"
    );
    let sent = tool(
        &daemon,
        "mail_send",
        json!({ "to": bob.address, "subject": format!("Re: {subject}"), "body": "Noon works.",
                "in_reply_to": "whatever@example.test" }),
    )
    .await;
    assert_eq!(sent["ok"], true, "{sent}");
    let reply = format!("Re: {subject}");
    let deadline = tokio::time::Instant::now() + WAIT;
    let found = loop {
        let mut bobs = Mailbox::open(&bob).await.unwrap();
        let found = bobs.search("INBOX", &reply, 0, 5).await.unwrap();
        bobs.close().await;
        if !found.is_empty() || tokio::time::Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(found.len(), 1, "alice's reply in bob's INBOX: {found:?}");
    assert_eq!(found[0].subject, reply);
    assert!(found[0]
        .from
        .contains(alice["CHOIR_MAIL_ADDRESS"].as_str().unwrap()));

    // The password is nowhere in the log, even where something printed it.
    tool(
        &daemon,
        "bash",
        json!({ "cmd": format!("echo pw={password}") }),
    )
    .await;
    let events = common::get_json(&daemon, "/api/events?from=1").await;
    let printed = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|event| event["type"] == "tool.finished")
        .unwrap();
    assert_eq!(
        printed["data"]["output"], "pw=[password removed]\n",
        "{printed}"
    );
    assert!(!events.to_string().contains(password));
    daemon.shutdown().await;
}

/// Keeps alice's account in `daemon`.
async fn keep_alice(daemon: &RunningDaemon, servers: &MailServers) {
    let (status, kept) = post(
        daemon,
        &daemon.token,
        "/api/mail/accounts",
        &settings(servers, false),
    )
    .await;
    assert_eq!(status, 200, "{kept}");
}

#[tokio::test]
async fn the_agent_sending_mail_always_waits_for_approval_showing_the_message() {
    let (url, _script) = model::model_server(vec![
        model::Reply::Stream(model::openai_tool_call(
            "call_m",
            "mail_send",
            &[r#"{"to": "bob@example.test", "subject": "Friday", "body": "See you at noon."}"#],
        )),
        model::Reply::Stream(model::openai_text(&["Sent."])),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    // A policy under which nothing else asks.
    let daemon = model::start_at(dir.path(), model::openai(&url, ApprovalPolicy::AutoAll)).await;
    let servers = MailServers::start(dir.path());
    keep_alice(&daemon, &servers).await;
    let _chat = model::chat(&daemon, "tell bob I'll see him at noon").await;

    let call_id = model::wait_for_call(&daemon, "tool.requested").await;
    let events = daemon.store.read(1, 1000).await.unwrap();
    let preview = events
        .iter()
        .find_map(|event| match &event.body {
            EventBody::ToolRequested {
                needs_approval: true,
                preview: Some(preview),
                ..
            } => Some(preview.clone()),
            _ => None,
        })
        .expect("the call waits for approval with a preview");
    assert_eq!(
        preview,
        "From: alice@example.test\nTo: bob@example.test\nSubject: Friday\n\nSee you at noon."
    );
    // Nothing is sent before the approval.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let bob = account(&settings(&servers, true));
    let mut bobs = Mailbox::open(&bob).await.unwrap();
    assert!(bobs
        .search("INBOX", "Friday", 0, 5)
        .await
        .unwrap()
        .is_empty());
    bobs.close().await;

    let (mut approver, _) = common::Client::hello(&daemon, None).await;
    approver.command(9, Command::ApproveTool { call_id }).await;
    let events = model::turn_events(&daemon).await;
    let finished = events
        .iter()
        .find_map(|event| match &event.body {
            EventBody::ToolFinished { ok, output, .. } => Some((*ok, output.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        finished,
        (
            true,
            "sent from alice@example.test to bob@example.test: Friday".to_owned()
        )
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut bobs = Mailbox::open(&bob).await.unwrap();
        let found = bobs.search("INBOX", "Friday", 0, 5).await.unwrap();
        bobs.close().await;
        if let Some(header) = found.first() {
            assert_eq!(header.from, "alice@example.test");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "bob never got it");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn malformed_and_huge_messages_and_a_server_that_goes_away_get_clear_errors() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    keep_alice(&daemon, &servers).await;
    let alice = account(&settings(&servers, false));
    // Put the messages straight into the INBOX, as a server would keep them.
    let mut mailbox = Mailbox::open(&alice).await.unwrap();
    let broken = b"Subject: broken one\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain; charset=nonsense\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n";
    mailbox.append("INBOX", broken, false).await.unwrap();
    let attached = b"Subject: report one\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../q4 report.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC/w==\r\n--b--\r\n";
    mailbox.append("INBOX", attached, false).await.unwrap();
    let mut huge = b"Subject: huge one\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    huge.resize(huge.len() + (50 << 20), b'x');
    mailbox.append("INBOX", &huge, false).await.unwrap();
    mailbox.close().await;

    let listed = wait_for_mail(&daemon, "one").await;
    assert!(
        listed.contains("broken one") && listed.contains("huge one"),
        "{listed}"
    );
    let id_of = |subject: &str| {
        listed
            .lines()
            .find(|line| line.contains(subject))
            .and_then(|line| line.split_whitespace().next())
            .unwrap()
            .to_owned()
    };
    let broken = tool(&daemon, "mail_read", json!({ "id": id_of("broken one") })).await;
    assert_eq!(broken["ok"], true, "read as far as it goes: {broken}");
    assert!(broken["output"]
        .as_str()
        .unwrap()
        .contains("Subject: broken one"));
    let huge = tool(&daemon, "mail_read", json!({ "id": id_of("huge one") })).await;
    assert_eq!(huge["ok"], false);
    assert!(
        huge["output"]
            .as_str()
            .unwrap()
            .contains("more than the 26214400 read here"),
        "{huge}"
    );
    // An attachment is saved in the workspace, under a name that stays inside it.
    let report = id_of("report one");
    let saved = tool(
        &daemon,
        "mail_save_attachment",
        json!({ "id": report, "name": "../q4 report.bin" }),
    )
    .await;
    assert_eq!(saved["ok"], true, "{saved}");
    let file = dir.path().join("workspace/attachments/_q4 report.bin");
    assert_eq!(std::fs::read(&file).unwrap(), [0, 1, 2, 255]);
    let outside = tool(
        &daemon,
        "mail_save_attachment",
        json!({ "id": report, "name": "../q4 report.bin", "path": "../../stolen.bin" }),
    )
    .await;
    assert_eq!(outside["ok"], false, "{outside}");
    // The workspace is DIR/workspace: `../../` would be DIR's parent.
    assert!(!dir.path().parent().unwrap().join("stolen.bin").exists());
    let absolute = dir.path().join("absolute.bin");
    let refused = tool(
        &daemon,
        "mail_save_attachment",
        json!({ "id": report, "name": "../q4 report.bin", "path": absolute.to_str().unwrap() }),
    )
    .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(!absolute.exists());
    let missing = tool(
        &daemon,
        "mail_save_attachment",
        json!({ "id": report, "name": "nope.pdf" }),
    )
    .await;
    assert!(
        missing["output"]
            .as_str()
            .unwrap()
            .contains("no attachment named `nope.pdf`"),
        "{missing}"
    );

    // In a mail window: the broken one opens as far as it goes, the huge one says why it is
    // not shown, the report's attachment is saved from it (inside the workspace).
    let (mut desk, _) = common::Client::hello(&daemon, None).await;
    desk.command(
        1,
        Command::OpenWindow {
            app: AppKind::Mail,
            title: None,
            rect: None,
        },
    )
    .await;
    let window = WindowId(1);
    let world = until(&daemon, "the inbox", |world| {
        world.mail.get(&window).is_some_and(|view| view.total == 3)
    })
    .await;
    let uid_of = |subject: &str| {
        world.mail[&window]
            .headers
            .iter()
            .find(|header| header.subject == subject)
            .unwrap()
            .uid
    };
    let (broken, huge, report_uid) = (
        uid_of("broken one"),
        uid_of("huge one"),
        uid_of("report one"),
    );
    let open = |uid: u32| Command::OpenMailMessage {
        window_id: window,
        uid: Some(uid),
    };
    desk.command(2, open(broken)).await;
    until(&daemon, "the broken message shown", |world| {
        world.mail[&window]
            .message
            .as_ref()
            .is_some_and(|message| message.header.uid == broken)
    })
    .await;
    desk.command(3, open(huge)).await;
    let world = until(&daemon, "the huge message refused", |world| {
        world.mail[&window].problem.is_some()
    })
    .await;
    let problem = world.mail[&window].problem.clone().unwrap();
    assert!(
        problem.contains("more than the 26214400 read here"),
        "{problem}"
    );
    desk.command(4, open(report_uid)).await;
    let world = until(&daemon, "the report shown", |world| {
        world.mail[&window]
            .message
            .as_ref()
            .is_some_and(|message| message.header.uid == report_uid)
    })
    .await;
    let listed = &world.mail[&window].message.as_ref().unwrap().attachments;
    assert_eq!(listed[0].name, "../q4 report.bin");
    std::fs::remove_file(&file).unwrap();
    desk.command(5, Command::SaveAttachments { window_id: window })
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let said = daemon
            .store
            .read(1, 10_000)
            .await
            .unwrap()
            .into_iter()
            .find_map(|event| match event.body {
                EventBody::MailDone { said, .. } => Some(said),
                _ => None,
            });
        if let Some(said) = said {
            assert!(said.contains("to attachments/_q4 report.bin"), "{said}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read(&file).unwrap(), [0, 1, 2, 255]);

    // Ids that name nothing, or are not ids.
    for (id, says) in [
        ("INBOX/1/999999", "no message INBOX/1/999999"),
        ("Nowhere/1/1", "no folder named `Nowhere`"),
        ("../../etc/passwd", "is not a message id"),
    ] {
        let read = tool(&daemon, "mail_read", json!({ "id": id })).await;
        assert_eq!(read["ok"], false);
        assert!(
            read["output"].as_str().unwrap().contains(says),
            "{id}: {read}"
        );
    }

    // The servers go away: the tools say so at once, the daemon carries on.
    drop(servers);
    let gone = tool(&daemon, "mail_search", json!({})).await;
    assert_eq!(gone["ok"], false);
    assert!(
        gone["output"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach 127.0.0.1:"),
        "{gone}"
    );
    let state = common::get_json(&daemon, "/api/state").await;
    assert!(state["world"]["head"].as_u64().unwrap() > 0);
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_share_cannot_see_or_change_the_owners_mail_accounts() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    keep_alice(&daemon, &servers).await;
    for read_only in [true, false] {
        let (status, share) = post(
            &daemon,
            &daemon.token,
            "/api/shares",
            &json!({ "read_only": read_only }),
        )
        .await;
        assert_eq!(status, 200);
        let token = share["token"].as_str().unwrap();
        let listed = reqwest::Client::new()
            .get(format!("{}/api/mail/accounts", daemon.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(listed.status(), 403);
        let body = listed.text().await.unwrap();
        assert!(!body.contains("alice@example.test"), "{body}");
        // Replacing the account (to mail someone else's servers) is refused too.
        let (status, _) = post(
            &daemon,
            token,
            "/api/mail/accounts",
            &settings(&servers, true),
        )
        .await;
        assert_eq!(status, 403);
        let removed = reqwest::Client::new()
            .delete(format!(
                "{}/api/mail/accounts/alice@example.test",
                daemon.url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(removed.status(), 403);
    }
    let listed = common::get_json(&daemon, "/api/mail/accounts").await;
    assert_eq!(listed["accounts"][0]["address"], "alice@example.test");
    assert_eq!(listed["accounts"].as_array().unwrap().len(), 1);
    daemon.shutdown().await;
}

#[tokio::test]
async fn calendar_events_from_the_tools_the_agent_and_another_client_converge() {
    let (url, _script) = model::model_server(vec![
        model::Reply::Stream(model::openai_tool_call(
            "call_c",
            "calendar_add",
            &[r#"{"title": "Dentist", "start": "2031-03-04T15:00:00+01:00", "end": "2031-03-04T15:30:00+01:00"}"#],
        )),
        model::Reply::Stream(model::openai_text(&["Added."])),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = model::start_at(dir.path(), model::openai(&url, ApprovalPolicy::Ask)).await;
    let servers = MailServers::start(dir.path());
    keep_alice(&daemon, &servers).await;
    // A calendar window shows the days of it all.
    let (mut desk, _) = common::Client::hello(&daemon, None).await;
    desk.command(
        1,
        Command::OpenWindow {
            app: AppKind::Calendar,
            title: None,
            rect: None,
        },
    )
    .await;
    let window = WindowId(1);
    until(&daemon, "the calendar window's first week", |world| {
        world
            .calendars
            .get(&window)
            .is_some_and(|view| !view.loading)
    })
    .await;
    desk.command(
        2,
        Command::OpenCalendarRange {
            window_id: window,
            from: "2031-03-03".into(),
            days: 7,
            week: true,
        },
    )
    .await;

    // Another CalDAV client puts an event in, in a time zone of its own.
    let calendar = servers.var("CHOIR_CALDAV_CALENDAR");
    let other = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other client//EN\r\nBEGIN:VEVENT\r\nUID:other-1\r\nDTSTAMP:20310301T000000Z\r\nSUMMARY:Board meeting\r\nLOCATION:Room 4\r\nDTSTART;TZID=Europe/Berlin:20310304T100000\r\nDTEND;TZID=Europe/Berlin:20310304T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put = reqwest::Client::new()
        .put(format!("{calendar}other-1.ics"))
        .basic_auth("alice", Some(servers.var("CHOIR_MAIL_PASSWORD")))
        .header("Content-Type", "text/calendar")
        .body(other)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    // The tool adds one; the agent asks to add another and waits for approval.
    let added = tool(
        &daemon,
        "calendar_add",
        json!({ "title": "Lunch", "start": "2031-03-04T12:00:00Z", "end": "2031-03-04T13:00:00Z" }),
    )
    .await;
    assert_eq!(added["ok"], true, "{added}");
    // (The calendar window is window 1: the chat is window and thread 2.)
    desk.command(
        10,
        Command::OpenWindow {
            app: AppKind::Chat,
            title: None,
            rect: None,
        },
    )
    .await;
    desk.command(
        11,
        Command::PostChat {
            thread_id: ThreadId(2),
            text: "book the dentist on the 4th at 3pm".into(),
        },
    )
    .await;
    let call_id = model::wait_for_call(&daemon, "tool.requested").await;
    let events = daemon.store.read(1, 1000).await.unwrap();
    let preview = events.iter().find_map(|event| match &event.body {
        EventBody::ToolRequested {
            preview: Some(preview),
            ..
        } => Some(preview.clone()),
        _ => None,
    });
    assert_eq!(
        preview.as_deref(),
        Some("Dentist\n2031-03-04T14:00:00Z – 2031-03-04T14:30:00Z (UTC)")
    );
    let (mut approver, _) = common::Client::hello(&daemon, None).await;
    approver.command(9, Command::ApproveTool { call_id }).await;
    model::turn_events(&daemon).await;

    // All three, in order, in UTC, from the daemon's side…
    let listed = tool(
        &daemon,
        "calendar_list",
        json!({ "from": "2031-03-04T00:00:00Z", "to": "2031-03-05T00:00:00Z" }),
    )
    .await;
    let text = listed["output"].as_str().unwrap();
    assert_eq!(listed["ok"], true, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "3 events from 2031-03-04T00:00:00Z to 2031-03-05T00:00:00Z:"
    );
    assert!(
        lines[1].starts_with("2031-03-04T09:00:00Z – 2031-03-04T10:00:00Z  Board meeting @ Room 4"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("2031-03-04T12:00:00Z – 2031-03-04T13:00:00Z  Lunch"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("2031-03-04T14:00:00Z – 2031-03-04T14:30:00Z  Dentist"),
        "{text}"
    );
    // …and from the other client's.
    let report = reqwest::Client::new()
        .request(reqwest::Method::from_bytes(b"REPORT").unwrap(), &calendar)
        .basic_auth("alice", Some(servers.var("CHOIR_MAIL_PASSWORD")))
        .header("Depth", "1")
        .header("Content-Type", "application/xml")
        .body(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for title in ["Board meeting", "Lunch", "Dentist"] {
        assert!(report.contains(&format!("SUMMARY:{title}")), "{report}");
    }

    // …and in the window, without asking again.
    let titles = |world: &World| -> Vec<String> {
        world.calendars[&window]
            .events
            .iter()
            .map(|event| event.title.clone())
            .collect()
    };
    let world = until(&daemon, "the window showing all three", |world| {
        titles(world) == ["Board meeting", "Lunch", "Dentist"]
    })
    .await;
    let lunch = world.calendars[&window].events[1].uid.clone();
    let board = world.calendars[&window].events[0].uid.clone();

    // The window adds, moves and deletes; the other client sees it, the window shows it.
    desk.command(
        3,
        Command::AddCalendarEvent {
            window_id: window,
            title: "Standup".into(),
            start: "2031-03-05T08:00:00Z".into(),
            end: "2031-03-05T08:15:00Z".into(),
        },
    )
    .await;
    until(&daemon, "the added event shown", |world| {
        titles(world).contains(&"Standup".to_owned())
    })
    .await;
    desk.command(
        4,
        Command::MoveCalendarEvent {
            window_id: window,
            uid: lunch.clone(),
            start: "2031-03-04T13:00:00Z".into(),
            end: "2031-03-04T14:00:00Z".into(),
        },
    )
    .await;
    until(&daemon, "the moved event shown", |world| {
        world.calendars[&window]
            .events
            .iter()
            .any(|event| event.uid == lunch && event.start == "2031-03-04T13:00:00Z")
    })
    .await;
    desk.command(
        5,
        Command::DeleteCalendarEvent {
            window_id: window,
            uid: board.clone(),
        },
    )
    .await;
    let world = until(&daemon, "the deleted event gone", |world| {
        !titles(world).contains(&"Board meeting".to_owned())
    })
    .await;
    assert_eq!(titles(&world), ["Lunch", "Dentist", "Standup"]);
    let seen = choir_mail::Calendar::open(&account(&settings(&servers, false)))
        .await
        .unwrap()
        .events(
            "2031-03-03T00:00:00Z".parse().unwrap(),
            "2031-03-10T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    let seen: Vec<(String, String)> = seen
        .into_iter()
        .map(|event| (event.title, event.start))
        .collect();
    assert_eq!(
        seen,
        [
            ("Lunch".to_owned(), "2031-03-04T13:00:00Z".to_owned()),
            ("Dentist".to_owned(), "2031-03-04T14:00:00Z".to_owned()),
            ("Standup".to_owned(), "2031-03-05T08:00:00Z".to_owned()),
        ]
    );
    // Moving what another client deleted meanwhile is said in the window.
    let dentist = world.calendars[&window].events[1].uid.clone();
    choir_mail::Calendar::open(&account(&settings(&servers, false)))
        .await
        .unwrap()
        .remove(&dentist)
        .await
        .unwrap();
    desk.command(
        6,
        Command::MoveCalendarEvent {
            window_id: window,
            uid: dentist,
            start: "2031-03-04T16:00:00Z".into(),
            end: "2031-03-04T16:30:00Z".into(),
        },
    )
    .await;
    let world = until(&daemon, "the failed move said", |world| {
        world.calendars[&window].problem.is_some()
    })
    .await;
    let problem = world.calendars[&window].problem.clone().unwrap();
    assert!(problem.contains("no event"), "{problem}");
    // What another client adds later shows up by itself (the window looks again).
    choir_mail::Calendar::open(&account(&settings(&servers, false)))
        .await
        .unwrap()
        .add(
            "Retro",
            "2031-03-06T15:00:00Z".parse().unwrap(),
            "2031-03-06T16:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    until(&daemon, "the other client's event shown", |world| {
        titles(world).contains(&"Retro".to_owned())
    })
    .await;

    // Bad input is said plainly.
    for (args, says) in [
        (
            json!({ "title": "x", "start": "tomorrow", "end": "2031-03-04T13:00:00Z" }),
            "not an RFC 3339 time",
        ),
        (
            json!({ "title": "x", "start": "2031-03-04T13:00:00Z", "end": "2031-03-04T12:00:00Z" }),
            "must end after it starts",
        ),
    ] {
        let refused = tool(&daemon, "calendar_add", args).await;
        assert_eq!(refused["ok"], false);
        assert!(
            refused["output"].as_str().unwrap().contains(says),
            "{refused}"
        );
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn tls_is_spoken_and_the_servers_certificates_are_checked() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    let ca = std::fs::read_to_string(servers.var("CHOIR_MAIL_CA")).unwrap();
    let other_ca = std::fs::read_to_string(servers.var("CHOIR_MAIL_OTHER_CA")).unwrap();
    let over_tls = |second: bool, ca: Option<&str>| {
        let mut settings = settings(&servers, second);
        settings["CHOIR_IMAP_URL"] = json!(servers.var("CHOIR_IMAPS_URL"));
        settings["CHOIR_SMTP_URL"] = json!(servers.var("CHOIR_SMTPS_URL"));
        settings.as_object_mut().unwrap().remove("CHOIR_CALDAV_URL");
        if let Some(ca) = ca {
            settings["CHOIR_MAIL_CA_PEM"] = json!(ca);
        }
        settings
    };
    // A certificate from an authority the account does not trust, or none from the web's:
    // refused, and nothing kept.
    for ca in [Some(other_ca.as_str()), None] {
        let (status, refused) = post(
            &daemon,
            &daemon.token,
            "/api/mail/accounts",
            &over_tls(false, ca),
        )
        .await;
        assert_eq!(status, 502, "{refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(
            message.contains("TLS") && message.contains("certificate"),
            "{message}"
        );
    }
    let listed = common::get_json(&daemon, "/api/mail/accounts").await;
    assert_eq!(listed["accounts"], json!([]));
    // Sending checks the certificate as reading does.
    let unsent = choir_mail::send(
        &account(&over_tls(true, Some(&other_ca))),
        &Outgoing {
            to: vec!["alice@example.test".into()],
            cc: Vec::new(),
            subject: "never".into(),
            body: "never".into(),
            in_reply_to: None,
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        unsent.contains("certificate") || unsent.contains("UnknownIssuer"),
        "{unsent}"
    );
    // A key pasted with the certificates is refused (it would be kept with the account).
    let key = std::fs::read_to_string(
        std::path::Path::new(&servers.var("CHOIR_MAIL_CA")).with_file_name("ca.key"),
    )
    .unwrap();
    let (status, refused) = post(
        &daemon,
        &daemon.token,
        "/api/mail/accounts",
        &over_tls(false, Some(&format!("{ca}{key}"))),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("certificates only"),
        "{refused}"
    );
    // Not a certificate at all.
    let (status, refused) = post(
        &daemon,
        &daemon.token,
        "/api/mail/accounts",
        &over_tls(
            false,
            Some("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"),
        ),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("CHOIR_MAIL_CA_PEM"),
        "{refused}"
    );

    // The account's own authority: kept, and mail goes both ways over TLS.
    let (status, kept) = post(
        &daemon,
        &daemon.token,
        "/api/mail/accounts",
        &over_tls(false, Some(&ca)),
    )
    .await;
    assert_eq!(status, 200, "{kept}");
    let bob = account(&over_tls(true, Some(&ca)));
    let subject = format!("over tls {}", std::process::id());
    choir_mail::send(
        &bob,
        &Outgoing {
            to: vec!["alice@example.test".into()],
            cc: Vec::new(),
            subject: subject.clone(),
            body: "sealed".into(),
            in_reply_to: None,
        },
    )
    .await
    .unwrap();
    let listed = wait_for_mail(&daemon, &subject).await;
    assert!(listed.contains(&subject), "{listed}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn an_invitation_received_by_mail_is_shown_and_answered() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    keep_alice(&daemon, &servers).await;
    let alice = account(&settings(&servers, false));
    let bob = account(&settings(&servers, true));
    let invitation = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Invitation: Planning\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlanning on the 10th?\r\n--b\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bob//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:plan-1@example.test\r\nDTSTAMP:20310301T000000Z\r\nORGANIZER:mailto:bob@example.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.test\r\nSUMMARY:Planning\r\nDTSTART:20310310T090000Z\r\nDTEND:20310310T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--b--\r\n";
    let mut mailbox = Mailbox::open(&alice).await.unwrap();
    mailbox
        .append("INBOX", invitation.as_bytes(), false)
        .await
        .unwrap();
    mailbox
        .append("INBOX", b"Subject: no invitation here\r\n\r\nhi\r\n", false)
        .await
        .unwrap();
    mailbox.close().await;

    let listed = wait_for_mail(&daemon, "Planning").await;
    let id = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let read = tool(&daemon, "mail_read", json!({ "id": id })).await;
    let text = read["output"].as_str().unwrap();
    assert!(
        text.contains("Invitation (REQUEST) from bob@example.test: Planning 2031-03-10T09:00:00Z – 2031-03-10T10:00:00Z (uid plan-1@example.test)"),
        "{text}"
    );
    let answered = tool(
        &daemon,
        "calendar_reply",
        json!({ "id": id, "answer": "accept" }),
    )
    .await;
    assert_eq!(
        answered["output"],
        "answered ACCEPTED to bob@example.test for Planning; the event is in the calendar",
        "{answered}"
    );
    // In alice's calendar…
    let listed = tool(
        &daemon,
        "calendar_list",
        json!({ "from": "2031-03-10T00:00:00Z", "to": "2031-03-11T00:00:00Z" }),
    )
    .await;
    assert!(
        listed["output"]
            .as_str()
            .unwrap()
            .contains("Planning  (uid plan-1@example.test)"),
        "{listed}"
    );
    // …and bob has her answer, in iTIP.
    let deadline = tokio::time::Instant::now() + WAIT;
    let reply = loop {
        let mut bobs = Mailbox::open(&bob).await.unwrap();
        let found = bobs.search("INBOX", "Accepted", 0, 5).await.unwrap();
        let read = match found.first() {
            Some(header) => Some(bobs.read(&header.id).await.unwrap()),
            None => None,
        };
        bobs.close().await;
        if let Some(message) = read {
            break message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bob never got the answer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(reply.header.subject, "Accepted: Planning");
    assert_eq!(reply.invitations.len(), 1, "{reply:?}");
    assert_eq!(reply.invitations[0].method, "REPLY");
    assert_eq!(reply.invitations[0].event.uid, "plan-1@example.test");

    // A message without one has nothing to answer.
    let listed = wait_for_mail(&daemon, "invitation here").await;
    let other = listed
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    let refused = tool(
        &daemon,
        "calendar_reply",
        json!({ "id": other, "answer": "decline" }),
    )
    .await;
    assert_eq!(refused["ok"], false);
    assert!(
        refused["output"]
            .as_str()
            .unwrap()
            .contains("holds no invitation to answer"),
        "{refused}"
    );
    daemon.shutdown().await;
}
