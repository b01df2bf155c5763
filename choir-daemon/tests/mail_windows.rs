//! Mail windows against real servers (`scripts/mail-servers.sh`: Dovecot, an SMTP server
//! delivering into it, on loopback): a window shows a page of a folder; mail sent over SMTP
//! shows up in it live (IMAP IDLE); a message opens with its text; a reply and a forward are
//! written in the writer and sent; a missing account, a missing folder, a draft without a
//! recipient and a server that went away are said in the window, and the daemon carries on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::run;

use std::time::Duration;

use choir_daemon::RunningDaemon;
use choir_mail::{Account, Mailbox, Outgoing};
use choir_proto::mail::{AccountSettings, Draft, InvitationAnswer};
use choir_proto::{
    AppKind, Command, DocId, EventBody, MailView, Query, Reply, Seek, TextOp, WindowId, World,
};
use choir_test_support::MailServers;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

fn settings(servers: &MailServers, suffix: &str) -> Value {
    json!({
        "CHOIR_IMAP_URL": servers.var("CHOIR_IMAP_URL"),
        "CHOIR_SMTP_URL": servers.var("CHOIR_SMTP_URL"),
        "CHOIR_MAIL_USER": servers.var(&format!("CHOIR_MAIL_USER{suffix}")),
        "CHOIR_MAIL_PASSWORD": servers.var(&format!("CHOIR_MAIL_PASSWORD{suffix}")),
        "CHOIR_MAIL_ADDRESS": servers.var(&format!("CHOIR_MAIL_ADDRESS{suffix}")),
    })
}

fn account(settings: &Value) -> Account {
    Account::from_env(|name| settings[name].as_str().map(str::to_owned)).unwrap()
}

/// The world once `ready` holds of it.
async fn until(daemon: &RunningDaemon, what: &str, ready: impl Fn(&World) -> bool) -> World {
    common::world_when(daemon, WAIT, what, ready, |world| world.mail.clone()).await
}

fn view(world: &World, window: WindowId) -> &MailView {
    &world.mail[&window]
}

/// The events of type `kind` in the log.
async fn events(daemon: &RunningDaemon, kind: &str) -> Vec<EventBody> {
    common::bodies_of(daemon, kind, 10_000).await
}

async fn send_to_alice(servers: &MailServers, bob: &Account, subject: &str, body: &str) {
    let outgoing = Outgoing {
        to: vec![servers.var("CHOIR_MAIL_ADDRESS")],
        cc: Vec::new(),
        subject: subject.into(),
        body: body.into(),
        in_reply_to: None,
    };
    choir_mail::send(bob, &outgoing).await.unwrap();
}

/// Replaces the whole text of document `doc_id` with `text`.
async fn rewrite(daemon: &RunningDaemon, doc_id: DocId, text: &str) {
    let doc = daemon.world().doc(doc_id).await.unwrap().unwrap();
    let old = doc.text().unwrap();
    run(
        daemon,
        Command::EditDoc {
            doc_id,
            base_version: doc.version,
            op: TextOp::new().delete(old.chars().count()).insert(text),
            edit_id: None,
        },
    )
    .await;
}

#[tokio::test]
async fn a_mail_window_shows_a_folder_live_opens_messages_and_answers_them() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    let alice = settings(&servers, "");
    let bob = account(&settings(&servers, "2"));
    let window = WindowId(1);

    // Without an account the window says how to add one.
    run(
        &daemon,
        Command::OpenWindow {
            app: AppKind::Mail,
            title: None,
            rect: None,
        },
    )
    .await;
    let world = until(&daemon, "the missing account said", |w| {
        view(w, window).problem.is_some()
    })
    .await;
    let problem = view(&world, window).problem.clone().unwrap();
    assert!(
        problem.contains("choir account add --from-env"),
        "{problem}"
    );

    // The window's form adds an account: a wrong password is refused in the server's words,
    // a share's holder may not, and the owner's right one is kept and its inbox shown.
    let form = |password: &str| {
        let mut settings = alice.as_object().unwrap().clone();
        settings.insert("CHOIR_MAIL_PASSWORD".into(), json!(password));
        let settings = settings
            .into_iter()
            .map(|(name, value)| (name, value.as_str().unwrap().to_owned()))
            .collect();
        json!({
            "type": "mail.add_account",
            "window_id": window.0,
            "settings": AccountSettings(settings),
        })
    };
    let post = |token: String, body: Value| {
        let url = format!("{}/api/commands", daemon.url());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, refused) = post(daemon.token.clone(), form("not-her-password")).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("refused the user name or password"),
        "{refused}"
    );
    let share = reqwest::Client::new()
        .post(format!("{}/api/shares", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(json!({ "read_only": false }).to_string())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let share_token = share["token"].as_str().unwrap().to_owned();
    let password = alice["CHOIR_MAIL_PASSWORD"].as_str().unwrap().to_owned();
    let (status, refused) = post(share_token, form(&password)).await;
    assert_eq!(status, 403, "{refused}");
    let listed = common::get_json(&daemon, "/api/mail/accounts").await;
    assert_eq!(listed["accounts"], json!([]), "nothing kept yet");
    let (status, added) = post(daemon.token.clone(), form(&password)).await;
    assert_eq!(status, 200, "{added}");
    for n in 1..=3 {
        send_to_alice(
            &servers,
            &bob,
            &format!("note {n}"),
            &format!("text of note {n}"),
        )
        .await;
    }
    let mut imap = Mailbox::open(&account(&alice)).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while imap.page("INBOX", 0, 10).await.unwrap().total < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notes were not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The form showed the inbox at once (empty then); the notes come in live.
    let world = until(&daemon, "the inbox shown", |w| view(w, window).total == 3).await;
    let shown = view(&world, window);
    assert_eq!(shown.account, servers.var("CHOIR_MAIL_ADDRESS"));
    assert!(shown.folders.iter().any(|folder| folder == "INBOX"));
    let subjects: Vec<&str> = shown.headers.iter().map(|h| h.subject.as_str()).collect();
    assert_eq!(subjects, ["note 3", "note 2", "note 1"]);

    // Mail sent now shows up by itself, once.
    send_to_alice(&servers, &bob, "Lunch?", "Noon at the usual place?\n\nBob").await;
    let world = until(&daemon, "the new mail shown live", |w| {
        view(w, window).total == 4
    })
    .await;
    let shown = view(&world, window);
    assert_eq!(shown.headers[0].subject, "Lunch?");
    assert_eq!(shown.headers.len(), 4);
    assert!(!shown.headers[0].seen);
    // Each message that came in is recorded once, for all windows.
    let mut arrived: Vec<u32> = events(&daemon, "mail.arrived")
        .await
        .into_iter()
        .flat_map(|body| match body {
            EventBody::MailArrived { headers, .. } => headers,
            _ => Vec::new(),
        })
        .map(|header| header.uid)
        .collect();
    arrived.sort_unstable();
    assert_eq!(arrived, [1, 2, 3, 4]);

    // Time travel shows the window as it was: just before the arrival, without it.
    let arrival = daemon
        .store
        .read(1, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| {
            matches!(&event.body, EventBody::MailArrived { headers, .. }
                if headers.iter().any(|h| h.subject == "Lunch?"))
        })
        .map(|event| event.seq)
        .next()
        .unwrap();
    let (mut traveller, _) = common::Client::hello(&daemon, None).await;
    let subjects_at = |reply: Reply| match reply {
        Reply::Moment { moment } => moment.world.mail[&window]
            .headers
            .iter()
            .map(|h| h.subject.clone())
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    let before = traveller
        .query(
            1,
            Query::Moment {
                at: Seek::Seq { seq: arrival - 1 },
            },
        )
        .await;
    assert_eq!(subjects_at(before), ["note 3", "note 2", "note 1"]);
    let after = traveller
        .query(
            2,
            Query::Moment {
                at: Seek::Seq { seq: arrival },
            },
        )
        .await;
    assert_eq!(subjects_at(after)[0], "Lunch?");

    // It opens with its text.
    let lunch = shown.headers[0].uid;
    run(
        &daemon,
        Command::OpenMailMessage {
            window_id: window,
            uid: Some(lunch),
        },
    )
    .await;
    let world = until(&daemon, "the message shown", |w| {
        view(w, window).message.is_some()
    })
    .await;
    let message = view(&world, window).message.clone().unwrap();
    assert_eq!(message.text.trim_end(), "Noon at the usual place?\n\nBob");
    assert!(view(&world, window).headers[0].seen);

    // A read-only share made now sees what the window shows from now on: not the page or the
    // message shown before it began, but mail that comes in after.
    let share = reqwest::Client::new()
        .post(format!("{}/api/shares", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(json!({ "read_only": true }).to_string())
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let watcher = share["token"].as_str().unwrap().to_owned();
    send_to_alice(&servers, &bob, "After the share", "seen by the watcher").await;
    until(&daemon, "the mail after the share shown", |w| {
        view(w, window).total == 5
    })
    .await;
    let seen: Value = reqwest::Client::new()
        .get(format!("{}/api/state", daemon.url()))
        .bearer_auth(&watcher)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shared = seen["world"]["mail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|view| view["window_id"] == window.0)
        .unwrap()
        .clone();
    let subjects: Vec<&str> = shared["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|header| header["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["After the share"], "{shared}");
    assert!(shared.get("message").is_none(), "{shared}");
    assert!(!seen.to_string().contains("Noon at the usual place"));

    // A search shows only what it finds; Esc (an empty search) shows the folder again.
    run(
        &daemon,
        Command::OpenMailFolder {
            window_id: window,
            account: None,
            folder: "INBOX".into(),
            offset: 0,
            query: "note".into(),
        },
    )
    .await;
    let world = until(&daemon, "the search's results", |w| {
        view(w, window).query == "note" && !view(w, window).loading
    })
    .await;
    let found: Vec<&str> = view(&world, window)
        .headers
        .iter()
        .map(|h| h.subject.as_str())
        .collect();
    assert_eq!(found, ["note 3", "note 2", "note 1"]);
    assert_eq!(view(&world, window).total, 3);
    run(
        &daemon,
        Command::OpenMailFolder {
            window_id: window,
            account: None,
            folder: "INBOX".into(),
            offset: 0,
            query: String::new(),
        },
    )
    .await;
    let world = until(&daemon, "the inbox again", |w| {
        view(w, window).query.is_empty() && !view(w, window).loading
    })
    .await;
    let lunch = view(&world, window)
        .headers
        .iter()
        .find(|h| h.subject == "Lunch?")
        .unwrap()
        .uid;
    run(
        &daemon,
        Command::OpenMailMessage {
            window_id: window,
            uid: Some(lunch),
        },
    )
    .await;
    until(&daemon, "the message shown again", |w| {
        view(w, window).message.is_some()
    })
    .await;

    // A reply is written in the writer and sent through alice's SMTP server.
    run(
        &daemon,
        Command::ComposeMail {
            window_id: window,
            reply: true,
            forward: false,
        },
    )
    .await;
    let world = daemon.world().welcome().await.unwrap();
    let writer = world
        .desktop
        .windows
        .values()
        .find(|w| w.app == AppKind::Writer)
        .unwrap();
    let doc_id = writer.doc_id.unwrap();
    let draft_text = daemon
        .world()
        .doc(doc_id)
        .await
        .unwrap()
        .unwrap()
        .text()
        .unwrap();
    let mut draft = Draft::parse(&draft_text).unwrap();
    assert_eq!(draft.to, bob.address);
    assert_eq!(draft.subject, "Re: Lunch?");
    draft.text = format!("Yes, see you there.{}", draft.text);
    rewrite(&daemon, doc_id, &draft.to_text()).await;
    run(&daemon, Command::SendMail { doc_id }).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let sent = events(&daemon, "mail.sent").await;
        if let Some(EventBody::MailSent { to, subject, .. }) = sent.first() {
            assert_eq!(
                (to.as_str(), subject.as_str()),
                (bob.address.as_str(), "Re: Lunch?")
            );
            break;
        }
        let failed = events(&daemon, "mail.send_failed").await;
        assert!(failed.is_empty(), "{failed:?}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reply was not sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its writer window closes, as a compose window does; the draft stays, named for it.
    until(&daemon, "the sent draft put away", |w| {
        !w.desktop.windows.values().any(|w| w.doc_id == Some(doc_id))
            && w.docs[&doc_id].title == "Sent: Re: Lunch?"
    })
    .await;
    let mut bob_imap = Mailbox::open(&bob).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    let reply = loop {
        let found = bob_imap.search("INBOX", "Re: Lunch", 0, 5).await.unwrap();
        if let Some(header) = found.first() {
            break bob_imap.read(&header.id).await.unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "bob got no reply");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        reply.text.starts_with("Yes, see you there."),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains("> Noon at the usual place?"),
        "{}",
        reply.text
    );

    // A forward without a recipient is refused, saying why, and the draft is kept.
    run(
        &daemon,
        Command::ComposeMail {
            window_id: window,
            reply: false,
            forward: true,
        },
    )
    .await;
    let forward = DocId(doc_id.0 + 1);
    run(&daemon, Command::SendMail { doc_id: forward }).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let error = loop {
        if let Some(EventBody::MailSendFailed { error, .. }) =
            events(&daemon, "mail.send_failed").await.pop()
        {
            break error;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the forward was not refused"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("To:"), "{error}");
    let kept = daemon.world().doc(forward).await.unwrap().unwrap();
    assert!(kept.text().unwrap().contains("Noon at the usual place?"));

    // A folder that is not there is said in the window.
    run(
        &daemon,
        Command::OpenMailFolder {
            window_id: window,
            account: None,
            folder: "Nowhere".into(),
            offset: 0,
            query: Default::default(),
        },
    )
    .await;
    let world = until(&daemon, "the missing folder said", |w| {
        view(w, window).problem.is_some()
    })
    .await;
    let problem = view(&world, window).problem.clone().unwrap();
    assert!(problem.contains("no folder named `Nowhere`"), "{problem}");

    // A calendar window, with an account that has no calendar, says how to add one.
    let opened = run(
        &daemon,
        Command::OpenWindow {
            app: AppKind::Calendar,
            title: None,
            rect: None,
        },
    )
    .await;
    let world = daemon.world().welcome().await.unwrap();
    let calendar = world
        .desktop
        .windows
        .values()
        .find(|w| w.app == AppKind::Calendar)
        .unwrap()
        .id;
    assert!(!opened.is_empty());
    let world = until(&daemon, "the calendar's missing account said", |w| {
        w.calendars[&calendar].problem.is_some()
    })
    .await;
    let problem = world.calendars[&calendar].problem.clone().unwrap();
    assert!(problem.contains("no account has a calendar"), "{problem}");

    // The servers go away: the window says so, and the desktop carries on.
    imap.close().await;
    bob_imap.close().await;
    drop(servers);
    run(
        &daemon,
        Command::OpenMailFolder {
            window_id: window,
            account: None,
            folder: "INBOX".into(),
            offset: 0,
            query: Default::default(),
        },
    )
    .await;
    let world = until(&daemon, "the lost server said", |w| {
        view(w, window).problem.is_some()
    })
    .await;
    let problem = view(&world, window).problem.clone().unwrap();
    assert!(problem.contains("cannot reach"), "{problem}");
    run(
        &daemon,
        Command::OpenWindow {
            app: AppKind::Chat,
            title: None,
            rect: None,
        },
    )
    .await;
    // The password went to the servers and the accounts file, never into the log.
    let log = daemon.store.read(1, 100_000).await.unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(&password), "the password is in the log");
    daemon.shutdown().await;
}

#[tokio::test]
async fn an_invitation_is_shown_in_the_window_and_answered_from_it() {
    let (dir, daemon) = common::start().await;
    let servers = MailServers::start(dir.path());
    let mut alice = settings(&servers, "");
    alice["CHOIR_CALDAV_URL"] = json!(servers.var("CHOIR_CALDAV_URL"));
    let response = reqwest::Client::new()
        .post(format!("{}/api/mail/accounts", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(alice.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let invitation = "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Invitation: Planning\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPlanning on the 10th?\r\n--b\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bob//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:plan-2@example.test\r\nDTSTAMP:20310301T000000Z\r\nORGANIZER:mailto:bob@example.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.test\r\nSUMMARY:Planning\r\nDTSTART:20310310T090000Z\r\nDTEND:20310310T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n--b--\r\n";
    let mut mailbox = Mailbox::open(&account(&alice)).await.unwrap();
    mailbox
        .append("INBOX", b"Subject: no invitation here\r\n\r\nhi\r\n", false)
        .await
        .unwrap();
    mailbox
        .append("INBOX", invitation.as_bytes(), false)
        .await
        .unwrap();
    mailbox.close().await;
    let window = WindowId(1);
    run(
        &daemon,
        Command::OpenWindow {
            app: AppKind::Mail,
            title: None,
            rect: None,
        },
    )
    .await;
    let world = until(&daemon, "the inbox", |w| view(w, window).total == 2).await;
    let (planning, plain) = (
        view(&world, window).headers[0].uid,
        view(&world, window).headers[1].uid,
    );

    // A message without one has nothing to answer.
    run(
        &daemon,
        Command::OpenMailMessage {
            window_id: window,
            uid: Some(plain),
        },
    )
    .await;
    until(&daemon, "the plain message", |w| {
        view(w, window).message.is_some()
    })
    .await;
    let refused = daemon
        .world()
        .execute(
            Command::AnswerInvitation {
                window_id: window,
                answer: InvitationAnswer::Accept,
            },
            "user".into(),
            None,
        )
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // The invitation shows, and is answered from the window.
    run(
        &daemon,
        Command::OpenMailMessage {
            window_id: window,
            uid: Some(planning),
        },
    )
    .await;
    let world = until(&daemon, "the invitation", |w| {
        view(w, window)
            .message
            .as_ref()
            .is_some_and(|m| m.header.uid == planning)
    })
    .await;
    let shown = view(&world, window).message.clone().unwrap();
    assert_eq!(
        shown.invitations,
        ["REQUEST: Planning, 2031-03-10T09:00:00Z to 2031-03-10T10:00:00Z"]
    );
    run(
        &daemon,
        Command::AnswerInvitation {
            window_id: window,
            answer: InvitationAnswer::Tentative,
        },
    )
    .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let said = loop {
        if let Some(EventBody::MailDone { said, .. }) = events(&daemon, "mail.done").await.pop() {
            break said;
        }
        let failed = events(&daemon, "mail.failed").await;
        assert!(failed.is_empty(), "{failed:?}");
        assert!(tokio::time::Instant::now() < deadline, "never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        said,
        "answered TENTATIVE to bob@example.test for Planning; the event is in the calendar"
    );
    let kept = choir_mail::Calendar::open(&account(&alice))
        .await
        .unwrap()
        .events(
            "2031-03-10T00:00:00Z".parse().unwrap(),
            "2031-03-11T00:00:00Z".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].uid, "plan-2@example.test");
    daemon.shutdown().await;
}
