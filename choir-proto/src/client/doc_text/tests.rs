use super::*;
use crate::event::{Event, EventBody};

use crate::testing::Daemon;

fn doc(daemon: &Daemon) -> &Doc {
    &daemon.world.docs[&DocId(1)]
}

/// Feeds committed edits to a client; returns what it has to send next.
fn deliver(client: &mut DocText, events: &[Event]) -> (Vec<TextOp>, Vec<Command>) {
    let (mut remote, mut sends) = (Vec::new(), Vec::new());
    for event in events {
        if let EventBody::DocEdited {
            version,
            op,
            edit_id,
            ..
        } = &event.body
        {
            let merged = client.committed(*version, op, edit_id.as_deref()).unwrap();
            remote.extend(merged.remote);
            sends.extend(merged.send);
        }
    }
    (remote, sends)
}

#[test]
fn two_clients_typing_at_once_end_on_the_daemons_text() {
    let mut daemon = Daemon::with_doc("hello world");
    let mut a = DocText::open(doc(&daemon), "a").unwrap();
    let mut b = DocText::open(doc(&daemon), "b").unwrap();
    let sent_a = a.splice(0, 0, "A ").unwrap().unwrap();
    let sent_b = b.splice(11, 11, "!").unwrap().unwrap();
    // Typed while the first is in flight: it waits.
    assert_eq!(a.splice(2, 2, "x").unwrap(), None);
    let first = daemon.run(&sent_a);
    let second = daemon.run(&sent_b);
    let (remote, next) = deliver(&mut a, &[first.clone(), second.clone()].concat());
    assert_eq!(remote.len(), 1, "b's edit reaches a");
    let third = daemon.run(&next[0]);
    deliver(&mut a, &third);
    let (remote, _) = deliver(&mut b, &[first, second, third].concat());
    assert_eq!(remote.len(), 2);
    let committed = doc(&daemon).content.clone().unwrap().to_string();
    assert_eq!(committed, "A xhello world!");
    assert_eq!(a.text().to_string(), committed);
    assert_eq!(b.text().to_string(), committed);
    assert!(a.is_saved() && b.is_saved());
    assert_eq!(a.version(), doc(&daemon).version);
}

#[test]
fn a_remote_edit_comes_back_as_the_op_that_moves_positions() {
    let mut daemon = Daemon::with_doc("hello world");
    let mut reader = DocText::open(doc(&daemon), "r").unwrap();
    let events = daemon.run(&Command::EditDoc {
        doc_id: DocId(1),
        base_version: 0,
        op: TextOp::splice(11, 0, 0, "START "),
        edit_id: None,
    });
    let (remote, _) = deliver(&mut reader, &events);
    // A caret after "hello" stays after "hello".
    assert_eq!(remote[0].transform_position(5), 11);
    assert_eq!(reader.text().to_string(), "START hello world");
}

#[test]
fn an_edit_that_does_not_fit_changes_nothing_and_a_refusal_restores_the_saved_text() {
    let daemon = Daemon::with_doc("abc");
    let mut client = DocText::open(doc(&daemon), "c").unwrap();
    assert!(client.edit(TextOp::splice(10, 0, 0, "x")).is_err());
    assert_eq!(client.text().to_string(), "abc");
    assert!(client.is_saved());
    client.splice(3, 3, "def").unwrap();
    assert_eq!(client.refused(doc(&daemon)), "abcdef");
    assert_eq!(client.text().to_string(), "abc");
    assert!(client.is_saved() && client.resend().is_none());
}
