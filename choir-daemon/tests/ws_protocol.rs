//! The `/ws` protocol against a real daemon on 127.0.0.1:0 with a real WebSocket client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use choir_proto::{
    AppKind, ClientFrame, Command, ErrorCode, EventBody, Rect, ServerFrame, WindowId, World,
    CLOSE_EXPECTED_HELLO, CLOSE_PROTOCOL_VERSION, CLOSE_RESUME_BEYOND_HEAD, CLOSE_UNAUTHORIZED,
    MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use common::{event_seqs, Client};
use pretty_assertions::assert_eq;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn open_window() -> Command {
    Command::OpenWindow {
        app: AppKind::EventLog,
        title: None,
        rect: None,
    }
}

fn has_ack(frames: &[ServerFrame], id: u64) -> bool {
    frames
        .iter()
        .any(|frame| matches!(frame, ServerFrame::Ack { id: acked, .. } if *acked == id))
}

#[tokio::test]
async fn a_command_is_acked_and_its_event_reaches_every_client() {
    let (_dir, daemon) = common::start().await;
    let (mut alice, welcome) = Client::hello(&daemon, None).await;
    let ServerFrame::Welcome { head, snapshot, .. } = welcome else {
        unreachable!()
    };
    assert_eq!(
        (head, snapshot.map(|world| *world)),
        (0, Some(World::default()))
    );
    let (mut bob, _) = Client::hello(&daemon, None).await;

    alice.command(1, open_window()).await;
    let frames = alice
        .recv_while(|f| !(has_ack(f, 1) && event_seqs(f) == [1]))
        .await;
    assert!(frames.contains(&ServerFrame::Ack {
        id: 1,
        seqs: vec![1]
    }));
    let ServerFrame::Event { event } = bob.recv().await else {
        panic!("bob expected an event")
    };
    assert_eq!(event.seq, 1);
    assert_eq!(event.actor, "client:test");
    assert!(event.correlation.is_some());
    assert_eq!(
        event.body,
        EventBody::WindowOpened {
            window_id: WindowId(1),
            app: AppKind::EventLog,
            title: "Event log".into(),
            rect: Rect::new(2, 1, 60, 16),
        }
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn snapshot_plus_live_events_equals_the_daemon_state() {
    let (_dir, daemon) = common::start().await;
    let (mut writer, _) = Client::hello(&daemon, None).await;
    for id in 1..=3 {
        writer.command(id, open_window()).await;
    }
    writer.recv_while(|f| !has_ack(f, 3)).await;

    let (mut reader, welcome) = Client::hello(&daemon, None).await;
    let ServerFrame::Welcome {
        snapshot: Some(snapshot),
        head,
        ..
    } = welcome
    else {
        panic!("expected a snapshot")
    };
    assert_eq!(head, 3);
    let mut world = *snapshot;
    writer
        .command(
            4,
            Command::MoveWindow {
                window_id: WindowId(2),
                x: 30,
                y: 9,
            },
        )
        .await;
    writer
        .command(
            5,
            Command::MinimizeWindow {
                window_id: WindowId(3),
            },
        )
        .await;
    let frames = reader.recv_while(|f| event_seqs(f).len() < 2).await;
    for frame in &frames {
        if let ServerFrame::Event { event } = frame {
            world.apply(event);
        }
    }
    let state: serde_json::Value = common::get_json(&daemon, "/api/state").await;
    let served: World = serde_json::from_value(state["world"].clone()).unwrap();
    assert_eq!(world, served);
    assert_eq!(world.desktop.focused, Some(WindowId(2)));
    daemon.shutdown().await;
}

#[tokio::test]
async fn resume_from_delivers_exactly_the_missed_events_then_live_ones() {
    let (_dir, daemon) = common::start().await;
    let (mut writer, _) = Client::hello(&daemon, None).await;
    for id in 1..=4 {
        writer.command(id, open_window()).await;
    }
    writer.recv_while(|f| !has_ack(f, 4)).await;

    let (mut resumed, welcome) = Client::hello(&daemon, Some(2)).await;
    assert_eq!(
        welcome,
        ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            head: 4,
            snapshot: None,
            read_only: false
        }
    );
    writer
        .command(
            5,
            Command::CloseWindow {
                window_id: WindowId(1),
            },
        )
        .await;
    let frames = resumed.recv_while(|f| event_seqs(f).len() < 3).await;
    assert_eq!(event_seqs(&frames), vec![3, 4, 5]);
    daemon.shutdown().await;
}

/// Sends `hello` on a fresh connection; returns the error code and the close code it got.
async fn refused_hello(
    daemon: &choir_daemon::RunningDaemon,
    protocol: u32,
    token: Option<String>,
    resume_from: Option<u64>,
) -> (ErrorCode, Option<u16>) {
    let mut client = Client::connect(daemon).await;
    let hello = ClientFrame::Hello {
        protocol,
        token,
        resume_from,
        client: None,
    };
    client.send(&hello).await;
    let (frames, close) = client.recv_until_close().await;
    match &frames[..] {
        [ServerFrame::Error { code, .. }] => (*code, close),
        other => panic!("expected one error frame, got {other:?}"),
    }
}

#[tokio::test]
async fn resume_beyond_head_is_refused_with_a_close_code() {
    let (_dir, daemon) = common::start().await;
    let token = Some(daemon.token.clone());
    assert_eq!(
        refused_hello(&daemon, PROTOCOL_VERSION, token, Some(99)).await,
        (ErrorCode::ResumeBeyondHead, Some(CLOSE_RESUME_BEYOND_HEAD))
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_wrong_or_missing_token_closes_the_socket() {
    let (_dir, daemon) = common::start().await;
    for token in [Some("nope".to_owned()), None] {
        assert_eq!(
            refused_hello(&daemon, PROTOCOL_VERSION, token, None).await,
            (ErrorCode::Unauthorized, Some(CLOSE_UNAUTHORIZED))
        );
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_on_the_upgrade_request_gets_401() {
    let (_dir, daemon) = common::start().await;
    let err = Client::connect_url(&format!("ws://{}/ws?token=wrong", daemon.addr))
        .await
        .err()
        .expect("upgrade must fail");
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP error, got {err}")
    };
    assert_eq!(response.status(), 401);
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_token_in_the_upgrade_header_or_query_authorizes_a_tokenless_hello() {
    let (_dir, daemon) = common::start().await;
    let mut request = format!("ws://{}/ws", daemon.addr)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", daemon.token).parse().unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    drop(ws);
    let mut client =
        Client::connect_url(&format!("ws://{}/ws?token={}", daemon.addr, daemon.token))
            .await
            .unwrap();
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: None,
            resume_from: None,
            client: None,
        })
        .await;
    assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
    daemon.shutdown().await;
}

#[tokio::test]
async fn another_protocol_version_is_refused() {
    let (_dir, daemon) = common::start().await;
    let token = Some(daemon.token.clone());
    assert_eq!(
        refused_hello(&daemon, PROTOCOL_VERSION + 1, token, None).await,
        (ErrorCode::ProtocolVersion, Some(CLOSE_PROTOCOL_VERSION))
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn the_first_frame_must_be_hello() {
    let (_dir, daemon) = common::start().await;
    let mut client = Client::connect(&daemon).await;
    client.send(&ClientFrame::Ping { nonce: 1 }).await;
    let (frames, code) = client.recv_until_close().await;
    assert!(matches!(
        frames[..],
        [ServerFrame::Error {
            code: ErrorCode::ExpectedHello,
            ..
        }]
    ));
    assert_eq!(code, Some(CLOSE_EXPECTED_HELLO));
    daemon.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_error_codes_and_the_connection_stays_open() {
    let (_dir, daemon) = common::start().await;
    let (mut client, _) = Client::hello(&daemon, None).await;

    let expect_error = |frame: ServerFrame, id: Option<u64>, code: ErrorCode| match frame {
        ServerFrame::Error {
            id: got_id,
            code: got,
            message,
        } => {
            assert_eq!((got_id, got), (id, code), "{message}");
        }
        other => panic!("expected an error, got {other:?}"),
    };

    client.send_text("{this is not json".into()).await;
    expect_error(client.recv().await, None, ErrorCode::MalformedFrame);
    client
        .send_raw(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    expect_error(client.recv().await, None, ErrorCode::MalformedFrame);
    client
        .send_text(r#"{"type":"command","id":7,"command":{"type":"window.teleport"}}"#.into())
        .await;
    expect_error(client.recv().await, Some(7), ErrorCode::UnknownCommand);
    client
        .send_text(
            r#"{"type":"command","id":8,"command":{"type":"window.move","window_id":1}}"#.into(),
        )
        .await;
    expect_error(client.recv().await, Some(8), ErrorCode::InvalidCommand);
    client
        .command(
            9,
            Command::CloseWindow {
                window_id: WindowId(42),
            },
        )
        .await;
    expect_error(client.recv().await, Some(9), ErrorCode::NotFound);
    client
        .command(
            10,
            Command::ResizeWindow {
                window_id: WindowId(1),
                w: 1,
                h: 1,
            },
        )
        .await;
    expect_error(client.recv().await, Some(10), ErrorCode::NotFound);
    client
        .send(&ClientFrame::Hello {
            protocol: 1,
            token: None,
            resume_from: None,
            client: None,
        })
        .await;
    expect_error(client.recv().await, None, ErrorCode::ExpectedHello);

    // Over 1 MiB: refused with an error, and the connection lives on.
    let padding = "x".repeat(MAX_FRAME_BYTES + 10);
    client
        .send_text(format!(r#"{{"type":"ping","nonce":1,"pad":"{padding}"}}"#))
        .await;
    expect_error(client.recv().await, None, ErrorCode::FrameTooLarge);

    client.send(&ClientFrame::Ping { nonce: 77 }).await;
    assert_eq!(client.recv().await, ServerFrame::Pong { nonce: 77 });
    client.command(11, open_window()).await;
    let frames = client.recv_while(|f| !has_ack(f, 11)).await;
    assert!(frames.contains(&ServerFrame::Ack {
        id: 11,
        seqs: vec![1]
    }));
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_giant_message_closes_only_that_connection() {
    let (_dir, daemon) = common::start().await;
    let (mut bad, _) = Client::hello(&daemon, None).await;
    let (mut good, _) = Client::hello(&daemon, None).await;
    let _ = bad
        .send_raw(Message::text("y".repeat(5 * MAX_FRAME_BYTES)))
        .await;
    let (_, _code) = bad.recv_until_close().await;
    good.send(&ClientFrame::Ping { nonce: 3 }).await;
    assert_eq!(good.recv().await, ServerFrame::Pong { nonce: 3 });
    daemon.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_sessions_with_going_away() {
    let (_dir, daemon) = common::start().await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    let shutdown = tokio::spawn(daemon.shutdown());
    let (_, code) = client.recv_until_close().await;
    assert_eq!(code, Some(1001));
    tokio::time::timeout(common::WAIT, shutdown)
        .await
        .unwrap()
        .unwrap();
}
