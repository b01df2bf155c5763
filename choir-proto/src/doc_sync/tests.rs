use std::collections::VecDeque;

use proptest::prelude::*;
use ropey::Rope;

use super::*;
use crate::event::EventBody;

type Server = crate::testing::Daemon;

const DOC: DocId = DocId(1);

struct Client {
    text: Rope,
    sync: DocSync,
    /// Commands sent but not yet read by the server.
    outbox: VecDeque<Command>,
    /// How many log events it has received.
    received: usize,
}

impl Client {
    fn new(id: usize, server: &Server) -> Self {
        Client {
            text: Rope::from_str(&server.text(DOC)),
            sync: DocSync::new(DOC, 0, format!("c{id}")),
            outbox: VecDeque::new(),
            received: server.log.len(),
        }
    }

    fn edit(&mut self, at: usize, delete: usize, insert: &str) {
        let len = self.text.len_chars();
        let start = at % (len + 1);
        let op = TextOp::splice(len, start, start + delete, insert);
        op.apply_rope(&mut self.text).unwrap();
        if let Some(command) = self.sync.local(op).unwrap() {
            self.outbox.push_back(command);
        }
    }

    fn receive(&mut self, server: &Server) -> bool {
        let Some(event) = server.log.get(self.received) else {
            return false;
        };
        self.received += 1;
        if let EventBody::DocEdited {
            version,
            op,
            edit_id,
            ..
        } = &event.body
        {
            let synced = self
                .sync
                .committed(*version, op, edit_id.as_deref())
                .unwrap();
            if let Some(op) = synced.apply {
                op.apply_rope(&mut self.text).unwrap();
            }
            self.outbox.extend(synced.send);
        }
        true
    }

    /// The connection dropped: whatever was not read yet is lost; the client resends.
    fn reconnect(&mut self) {
        self.outbox.clear();
        self.outbox.extend(self.sync.resend());
    }
}

#[derive(Debug, Clone)]
enum Step {
    Edit {
        client: usize,
        at: usize,
        delete: usize,
        insert: String,
    },
    Deliver(usize),
    Receive(usize),
    Reconnect(usize),
}

fn steps(
    clients: usize,
    inserts: &'static str,
    max_delete: usize,
) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        4 => (0..clients, 0usize..64, 0..=max_delete, inserts).prop_map(|(client, at, delete, insert)| Step::Edit { client, at, delete, insert }),
        3 => (0..clients).prop_map(Step::Deliver),
        3 => (0..clients).prop_map(Step::Receive),
        1 => (0..clients).prop_map(Step::Reconnect),
    ];
    prop::collection::vec(step, 1..120)
}

/// Runs `steps`, then lets every message through until all is quiet.
fn run(seed: &str, clients: usize, steps: Vec<Step>) -> (Server, Vec<Client>) {
    let mut server = Server::with_doc(seed);
    let mut all: Vec<Client> = (0..clients).map(|id| Client::new(id, &server)).collect();
    for step in steps {
        match step {
            Step::Edit {
                client,
                at,
                delete,
                insert,
            } => all[client].edit(at, delete, &insert),
            Step::Deliver(client) => {
                if let Some(command) = all[client].outbox.pop_front() {
                    server.run(&command);
                }
            }
            Step::Receive(client) => {
                all[client].receive(&server);
            }
            Step::Reconnect(client) => all[client].reconnect(),
        }
    }
    loop {
        let mut busy = false;
        for client in all.iter_mut() {
            while let Some(command) = client.outbox.pop_front() {
                server.run(&command);
                busy = true;
            }
        }
        for client in all.iter_mut() {
            while client.receive(&server) {
                busy = true;
            }
        }
        if !busy {
            break;
        }
    }
    (server, all)
}

proptest! {
    /// Any interleaving of typing (inserts and deletes), delivery, receipt and reconnects:
    /// once quiet, every client shows the committed text and has nothing unsaved.
    #[test]
    fn clients_converge_on_the_committed_text(steps in steps(3, "[a-z漢]{0,3}", 3)) {
        let (server, clients) = run("the quick brown fox", 3, steps);
        for client in &clients {
            prop_assert_eq!(client.text.to_string(), server.text(DOC));
            prop_assert!(client.sync.is_saved());
        }
    }

    /// With inserts only, each a unique character, no edit is dropped or applied twice —
    /// reconnects and resends included.
    #[test]
    fn no_insert_is_lost_or_doubled(steps in steps(3, "[a-z]", 0)) {
        // Make each insert unique.
        let mut n = 0;
        let steps: Vec<Step> = steps.into_iter().map(|step| match step {
            Step::Edit { client, at, delete, .. } => {
                n += 1;
                let unique = char::from_u32(0x4E00 + n).unwrap().to_string();
                Step::Edit { client, at, delete, insert: unique }
            }
            other => other,
        }).collect();
        let (server, clients) = run("", 3, steps);
        let text = server.text(DOC);
        prop_assert_eq!(text.chars().count(), n as usize);
        for code in 1..=n {
            let marker = char::from_u32(0x4E00 + code).unwrap();
            prop_assert_eq!(text.matches(marker).count(), 1);
        }
        for client in &clients {
            prop_assert_eq!(client.text.to_string(), text.clone());
        }
    }
}

#[test]
fn a_repeated_committed_edit_is_ignored() {
    let mut sync = DocSync::new(DOC, 3, "a");
    let op = TextOp::new().insert("x");
    let first = sync.committed(4, &op, None).unwrap();
    assert_eq!(first.apply, Some(op.clone()));
    assert_eq!(sync.committed(4, &op, None).unwrap(), Synced::default());
    assert_eq!(sync.version(), 4);
}

#[test]
fn edits_typed_while_one_is_in_flight_wait_and_go_as_one() {
    let mut sync = DocSync::new(DOC, 0, "a");
    let first = sync.local(TextOp::new().insert("a")).unwrap();
    assert!(matches!(
        first,
        Some(Command::EditDoc {
            base_version: 0,
            ..
        })
    ));
    assert_eq!(
        sync.local(TextOp::new().retain(1).insert("b")).unwrap(),
        None
    );
    assert_eq!(
        sync.local(TextOp::new().retain(2).insert("c")).unwrap(),
        None
    );
    assert!(!sync.is_saved());
    let synced = sync
        .committed(1, &TextOp::new().insert("a"), Some("a-0"))
        .unwrap();
    assert_eq!(synced.apply, None);
    let Some(Command::EditDoc {
        base_version, op, ..
    }) = synced.send
    else {
        panic!("the waiting edits go next: {synced:?}");
    };
    assert_eq!(
        (base_version, op),
        (1, TextOp::new().retain(1).insert("bc"))
    );
}
