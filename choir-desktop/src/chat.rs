//! A chat window's items as every client draws them: the thread's messages and tool-call cards
//! in the order they happened, and the words of a message's header.

use choir_proto::{
    AppKind, ChatMessage, ChatRole, ChatThread, ThreadId, ToolCard, ToolCardStatus, Window, World,
};

/// A message or a tool-call card.
#[derive(Debug, Clone, Copy)]
pub enum ChatItem<'a> {
    Message(&'a ChatMessage),
    Card(&'a ToolCard),
}

impl ChatItem<'_> {
    /// The seq of the event that made it: the order items are drawn in.
    pub fn seq(&self) -> u64 {
        match self {
            ChatItem::Message(message) => message.seq,
            ChatItem::Card(card) => card.seq,
        }
    }
}

/// The thread's messages and cards, oldest first (`.rev()`: newest first), merged by seq
/// without sorting: each list is already in order.
pub fn items(thread: &ChatThread) -> Items<'_> {
    Items {
        messages: &thread.messages,
        cards: &thread.tools,
    }
}

/// The items of a thread still to be taken, from either end.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    messages: &'a [ChatMessage],
    cards: &'a [ToolCard],
}

impl<'a> Iterator for Items<'a> {
    type Item = ChatItem<'a>;

    fn next(&mut self) -> Option<ChatItem<'a>> {
        let card_first = match (self.messages.first(), self.cards.first()) {
            (Some(message), Some(card)) => card.seq < message.seq,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if card_first {
            let (card, rest) = self.cards.split_first()?;
            self.cards = rest;
            Some(ChatItem::Card(card))
        } else {
            let (message, rest) = self.messages.split_first()?;
            self.messages = rest;
            Some(ChatItem::Message(message))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.messages.len() + self.cards.len();
        (left, Some(left))
    }
}

impl DoubleEndedIterator for Items<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let card_last = match (self.messages.last(), self.cards.last()) {
            (Some(message), Some(card)) => card.seq > message.seq,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if card_last {
            let (card, rest) = self.cards.split_last()?;
            self.cards = rest;
            Some(ChatItem::Card(card))
        } else {
            let (message, rest) = self.messages.split_last()?;
            self.messages = rest;
            Some(ChatItem::Message(message))
        }
    }
}

impl ExactSizeIterator for Items<'_> {}

/// Whether `window` is a chat whose thread has a tool call waiting for the user's approval:
/// the taskbars mark it, so it is seen from any other window.
pub fn waits_for_approval(world: &World, window: &Window) -> bool {
    window.app == AppKind::Chat
        && world
            .chats
            .get(&ThreadId(window.id.0))
            .is_some_and(|thread| {
                thread
                    .tools
                    .iter()
                    .any(|card| card.status == ToolCardStatus::AwaitingApproval)
            })
}

/// Who a message is from, as its header says.
pub fn who(role: ChatRole) -> &'static str {
    match role {
        ChatRole::User => "you",
        ChatRole::Assistant => "assistant",
        ChatRole::System => "system",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::CallId;
    use proptest::prelude::*;

    fn thread(messages: &[u64], cards: &[u64]) -> ChatThread {
        let mut thread = ChatThread::new(ThreadId(1), "t");
        thread.messages = messages
            .iter()
            .map(|&seq| ChatMessage {
                seq,
                ts: 0,
                role: ChatRole::User,
                text: String::new(),
                ending: None,
            })
            .collect();
        thread.tools = cards
            .iter()
            .map(|&seq| ToolCard {
                seq,
                call_id: CallId(format!("c{seq}")),
                tool: "bash".into(),
                args: serde_json::Value::Null,
                status: ToolCardStatus::Running,
                output: String::new(),
                preview: None,
            })
            .collect();
        thread
    }

    proptest! {
        /// From the front or from the back, in any mix, every item comes once and in seq
        /// order: the same as sorting both lists together.
        #[test]
        fn items_are_the_two_lists_in_seq_order(
            seqs in proptest::collection::btree_set(1u64..500, 0..40),
            as_card in proptest::collection::vec(any::<bool>(), 40),
            from_back in proptest::collection::vec(any::<bool>(), 80),
        ) {
            let seqs: Vec<u64> = seqs.into_iter().collect();
            let (mut messages, mut cards) = (Vec::new(), Vec::new());
            for (seq, card) in seqs.iter().zip(&as_card) {
                if *card { cards.push(*seq) } else { messages.push(*seq) }
            }
            let thread = thread(&messages, &cards);
            let mut items = items(&thread);
            prop_assert_eq!(items.len(), seqs.len());
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for back_now in from_back {
                let item = if back_now { items.next_back() } else { items.next() };
                let Some(item) = item else { break };
                let kind_right = match item {
                    ChatItem::Message(_) => messages.contains(&item.seq()),
                    ChatItem::Card(_) => cards.contains(&item.seq()),
                };
                prop_assert!(kind_right);
                if back_now { back.push(item.seq()) } else { front.push(item.seq()) }
            }
            front.extend(items.map(|item| item.seq()));
            front.extend(back.into_iter().rev());
            prop_assert_eq!(front, seqs);
        }
    }
}
