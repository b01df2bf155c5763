use super::*;
use crate::event::{Event, EventBody};
use crate::frame::Reply;
use crate::ids::{ThreadId, WindowId};
use crate::text_op::TextOp;
use crate::world::World;

fn event(seq: u64) -> ServerFrame {
    ServerFrame::Event {
        event: Event {
            seq,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body: EventBody::WindowFocused {
                window_id: WindowId(1),
            },
        },
    }
}

fn resume_from(frame: &ClientFrame) -> Option<u64> {
    match frame {
        ClientFrame::Hello { resume_from, .. } => *resume_from,
        other => panic!("not a hello: {other:?}"),
    }
}

#[test]
fn a_new_link_asks_for_a_snapshot_and_a_reconnect_resumes_after_the_last_event() {
    let mut link = Link::new();
    assert_eq!(resume_from(&link.hello(Some("t".into()), "web")), None);
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: 7,
        snapshot: Some(Box::new(World::default())),
        read_only: false,
    };
    assert!(matches!(link.receive(welcome), Received::Frame(_)));
    assert_eq!(link.last_seq(), Some(7));
    link.receive(event(8));
    link.receive(event(9));
    link.lost();
    assert_eq!(resume_from(&link.hello(None, "web")), Some(9));
    // A welcome that resumes carries no snapshot and leaves the seq alone.
    let resumed = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: 12,
        snapshot: None,
        read_only: false,
    };
    link.receive(resumed);
    assert_eq!(link.last_seq(), Some(9));
}

#[test]
fn refusals_go_back_to_the_edit_or_query_they_answer_and_others_pass() {
    let mut link = Link::new();
    link.hello(None, "web");
    let edit = link.command(Command::EditDoc {
        doc_id: DocId(3),
        base_version: 0,
        op: TextOp::splice(0, 0, 0, "x"),
        edit_id: None,
    });
    let query = link.query(Query::ThreadMessages {
        thread_id: ThreadId(2),
        before: None,
        limit: 10,
    });
    let post = link.command(Command::PostChat {
        thread_id: ThreadId(2),
        text: "hi".into(),
    });
    let id = |frame: &ClientFrame| match frame {
        ClientFrame::Command { id, .. } | ClientFrame::Query { id, .. } => *id,
        other => panic!("{other:?}"),
    };
    let (edit, query, post) = (id(&edit), id(&query), id(&post));
    assert!(edit != query && query != post && edit != post);
    let error = |id| ServerFrame::Error {
        id: Some(id),
        code: ErrorCode::InvalidCommand,
        message: "no".into(),
    };
    assert_eq!(
        link.receive(error(edit)),
        Received::EditRefused {
            doc_id: DocId(3),
            message: "no".into()
        }
    );
    assert!(matches!(
        link.receive(error(query)),
        Received::QueryFailed { .. }
    ));
    assert_eq!(link.receive(error(post)), Received::Frame(error(post)));
    // Each is answered once: the same id again is no longer ours.
    assert_eq!(link.receive(error(edit)), Received::Frame(error(edit)));
}

#[test]
fn a_lost_link_gives_back_its_unanswered_queries_and_forgets_answered_ones() {
    let mut link = Link::new();
    link.hello(None, "web");
    let asked = link.query(Query::Doc { doc_id: DocId(1) });
    link.query(Query::Doc { doc_id: DocId(2) });
    let ClientFrame::Query { id, .. } = asked else {
        panic!()
    };
    let doc = crate::world::Doc::new(DocId(1), "a", "", 1);
    link.receive(ServerFrame::Reply {
        id,
        reply: Reply::Doc { doc },
    });
    assert_eq!(link.lost(), vec![Query::Doc { doc_id: DocId(2) }]);
    assert!(link.lost().is_empty());
}

#[test]
fn a_replaced_log_starts_over_and_a_refused_hello_says_why() {
    let mut link = Link::new();
    link.hello(None, "web");
    link.receive(event(40));
    link.lost();
    let replaced = ServerFrame::Error {
        id: None,
        code: ErrorCode::ResumeBeyondHead,
        message: "beyond".into(),
    };
    assert_eq!(link.receive(replaced), Received::LogReplaced);
    assert_eq!(resume_from(&link.hello(None, "web")), None);
    let refused = ServerFrame::Error {
        id: None,
        code: ErrorCode::Unauthorized,
        message: "bad token".into(),
    };
    assert_eq!(
        link.receive(refused),
        Received::Refused {
            code: ErrorCode::Unauthorized,
            message: "bad token".into()
        }
    );
}
