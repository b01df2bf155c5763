//! Every wire variant encodes to a reviewed JSON snapshot and decodes back to itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod samples;

use choir_proto::{
    ClientFrame, Command, ErrorCode, Event, EventBody, ServerFrame, KNOWN_COMMAND_TYPES,
    KNOWN_EVENT_TYPES, MAX_FRAME_BYTES,
};
use pretty_assertions::assert_eq;
use serde_json::json;

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(value).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_event_round_trips() {
    let events: Vec<Event> = samples::event_bodies()
        .into_iter()
        .enumerate()
        .map(|(i, body)| samples::event(i as u64 + 1, body))
        .collect();
    for event in &events {
        assert_eq!(&round_trip(event), event);
    }
    insta::assert_json_snapshot!("events", events);
}

#[test]
fn event_types_are_stable_and_listed() {
    for body in samples::event_bodies() {
        let value = serde_json::to_value(&body).unwrap();
        assert_eq!(value["type"], json!(body.type_name()));
        let known = KNOWN_EVENT_TYPES.contains(&body.type_name());
        assert_eq!(
            known,
            !matches!(body, EventBody::Unknown { .. }),
            "{}",
            body.type_name()
        );
    }
    let listed_once = KNOWN_EVENT_TYPES
        .iter()
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(listed_once.len(), KNOWN_EVENT_TYPES.len());
    assert_eq!(KNOWN_EVENT_TYPES.len() + 1, samples::event_bodies().len());
}

#[test]
fn stored_parts_rebuild_every_body() {
    for body in samples::event_bodies() {
        let data = body.data().unwrap();
        let text = body.data_json().unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            data
        );
        assert_eq!(
            EventBody::from_stored(body.type_name(), 1, &text).unwrap(),
            body
        );
        assert_eq!(
            EventBody::from_parts(body.type_name(), 1, data).unwrap(),
            body
        );
    }
}

#[test]
fn unknown_event_type_decodes_to_unknown_and_keeps_its_payload() {
    let text = r#"{"seq":9,"ts":1,"actor":"agent","v":3,"type":"robot.danced","data":{"moves":3}}"#;
    let event: Event = serde_json::from_str(text).unwrap();
    assert_eq!(
        event.body,
        EventBody::Unknown {
            type_name: "robot.danced".into(),
            data: json!({"moves": 3})
        }
    );
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        serde_json::from_str::<serde_json::Value>(text).unwrap()
    );
}

#[test]
fn known_event_type_with_a_bad_payload_is_an_error_not_unknown() {
    let text =
        r#"{"seq":9,"ts":1,"actor":"a","v":1,"type":"window.moved","data":{"window_id":"x"}}"#;
    assert!(serde_json::from_str::<Event>(text).is_err());
    assert!(EventBody::from_stored("window.moved", 1, r#"{"window_id":"x"}"#).is_err());
}

#[test]
fn every_client_frame_round_trips() {
    let frames = samples::client_frames();
    for frame in &frames {
        assert_eq!(&round_trip(frame), frame);
        let text = serde_json::to_string(frame).unwrap();
        assert_eq!(&ClientFrame::parse(&text).unwrap(), frame);
    }
    insta::assert_json_snapshot!("client_frames", frames);
}

#[test]
fn every_server_frame_round_trips() {
    let frames = samples::server_frames();
    for frame in &frames {
        assert_eq!(&round_trip(frame), frame);
    }
    insta::assert_json_snapshot!("server_frames", frames);
}

#[test]
fn every_command_is_listed_and_parses_alone() {
    let commands = samples::commands();
    for command in &commands {
        assert!(KNOWN_COMMAND_TYPES.contains(&command.type_name()));
        let text = serde_json::to_string(command).unwrap();
        assert_eq!(&Command::parse(&text).unwrap(), command);
    }
    insta::assert_json_snapshot!("commands", commands);
}

#[test]
fn bad_client_frames_are_classified() {
    let cases = [
        ("{not json", None, ErrorCode::MalformedFrame),
        (r#"{"type":"dance"}"#, None, ErrorCode::MalformedFrame),
        (
            r#"{"type":"command","id":4,"command":{"type":"window.explode"}}"#,
            Some(4),
            ErrorCode::UnknownCommand,
        ),
        (
            r#"{"type":"command","id":5,"command":{"type":"window.move","window_id":1}}"#,
            Some(5),
            ErrorCode::InvalidCommand,
        ),
        (
            r#"{"type":"command","id":6,"command":{"type":"window.resize","window_id":1,"w":-3,"h":4}}"#,
            Some(6),
            ErrorCode::InvalidCommand,
        ),
    ];
    for (text, id, code) in cases {
        let err = ClientFrame::parse(text).unwrap_err();
        assert_eq!((err.id, err.code), (id, code), "{text}: {}", err.message);
    }
    let huge = format!(
        r#"{{"type":"ping","nonce":1,"pad":"{}"}}"#,
        "x".repeat(MAX_FRAME_BYTES)
    );
    assert_eq!(
        ClientFrame::parse(&huge).unwrap_err().code,
        ErrorCode::FrameTooLarge
    );
    assert_eq!(
        Command::parse(r#"{"type":"x.y"}"#).unwrap_err().code,
        ErrorCode::UnknownCommand
    );
    assert_eq!(
        Command::parse(r#"{"app":"chat"}"#).unwrap_err().code,
        ErrorCode::InvalidCommand
    );
}

#[test]
fn unknown_error_codes_and_ephemerals_decode() {
    let frame: ServerFrame =
        serde_json::from_str(r#"{"type":"error","code":"quota_exceeded","message":"m"}"#).unwrap();
    assert_eq!(
        frame,
        ServerFrame::Error {
            id: None,
            code: ErrorCode::Unknown,
            message: "m".into()
        }
    );
    let frame: ServerFrame =
        serde_json::from_str(r#"{"type":"ephemeral","body":{"kind":"cursor","x":1}}"#).unwrap();
    assert_eq!(
        frame,
        ServerFrame::Ephemeral {
            body: choir_proto::EphemeralBody::Unknown
        }
    );
}

#[test]
fn events_decode_whatever_the_order_of_their_members() {
    // A `Value` keeps its members sorted: `data` before `type`, as another tool may write.
    for (i, body) in samples::event_bodies().into_iter().enumerate() {
        let event = samples::event(i as u64 + 1, body);
        let sorted = serde_json::to_value(&event).unwrap();
        assert_eq!(
            serde_json::from_value::<Event>(sorted.clone()).unwrap(),
            event
        );
        assert_eq!(
            serde_json::from_str::<Event>(&sorted.to_string()).unwrap(),
            event,
            "{sorted}"
        );
    }
    let unknown =
        r#"{"data":{"moves":3},"type":"robot.danced","v":1,"seq":2,"ts":1,"actor":"a","x":0}"#;
    assert_eq!(
        serde_json::from_str::<Event>(unknown).unwrap().body,
        EventBody::Unknown {
            type_name: "robot.danced".into(),
            data: json!({"moves": 3})
        }
    );
    let no_type = r#"{"seq":2,"ts":1,"actor":"a","v":1,"data":{}}"#;
    let err = serde_json::from_str::<Event>(no_type).unwrap_err();
    assert!(err.to_string().contains("missing field `type`"), "{err}");
}

#[test]
fn tagged_objects_decode_whatever_the_order_of_their_members() {
    // The daemon writes each tag first; a `Value` (members sorted) or another tool may not.
    for frame in samples::server_frames() {
        let sorted = serde_json::to_value(&frame).unwrap();
        assert_eq!(
            serde_json::from_str::<ServerFrame>(&sorted.to_string()).unwrap(),
            frame
        );
        assert_eq!(
            serde_json::from_value::<ServerFrame>(sorted).unwrap(),
            frame
        );
    }
    let later = r#"{"nonce":7,"type":"pong"}"#;
    assert_eq!(
        serde_json::from_str::<ServerFrame>(later).unwrap(),
        ServerFrame::Pong { nonce: 7 }
    );
    let nested = r#"{"body":{"text":"x","thread_id":1,"kind":"chat_delta"},"type":"ephemeral"}"#;
    assert_eq!(
        serde_json::from_str::<ServerFrame>(nested).unwrap(),
        ServerFrame::Ephemeral {
            body: choir_proto::EphemeralBody::ChatDelta {
                thread_id: choir_proto::ThreadId(1),
                text: "x".into()
            }
        }
    );
    // Members after the tag come in any order; unknown ones are skipped.
    let frame: ServerFrame =
        serde_json::from_str(r#"{"type":"ack","seqs":[3],"extra":true,"id":9}"#).unwrap();
    assert_eq!(
        frame,
        ServerFrame::Ack {
            id: 9,
            seqs: vec![3]
        }
    );
    let status = r#"{"exit_code":2,"ok":false,"state":"done"}"#;
    assert_eq!(
        serde_json::from_str::<choir_proto::ToolCardStatus>(status).unwrap(),
        choir_proto::ToolCardStatus::Done {
            ok: false,
            exit_code: Some(2)
        }
    );
    // Without its tag, an object says which member is missing.
    let err = serde_json::from_str::<ServerFrame>(r#"{"nonce":7}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `type`"), "{err}");
    let err = serde_json::from_str::<ServerFrame>(r#"{"type":"pong"}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `nonce`"), "{err}");
}
