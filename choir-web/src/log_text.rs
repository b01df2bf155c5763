//! An event's data as the daemon wrote it: the text of its `data` member, cut out of the
//! frame (or the page of events) it came in, so that the event log shows and searches it
//! without the page encoding every event again (nor holding the code to).

/// Bytes of an event's data an event log entry keeps, to show and to search.
pub const KEPT: usize = 2048;

/// The `data` member of event JSON `text` (`{"seq":…,"type":"…","data":…}`, its members in
/// any order), or of an event frame (`{"type":"event","event":{…}}`); `None` when it has none
/// or is not JSON. Read without building anything: the data stays the text it was.
pub fn event_data(text: &str) -> Option<&str> {
    /// An event, or a frame holding one: only their data is read.
    #[derive(serde::Deserialize)]
    struct Holder<'a> {
        #[serde(borrow, default)]
        data: Option<&'a serde_json::value::RawValue>,
        #[serde(borrow, default)]
        event: Option<Event<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Event<'a> {
        #[serde(borrow, default)]
        data: Option<&'a serde_json::value::RawValue>,
    }
    let holder: Holder<'_> = serde_json::from_str(text).ok()?;
    let data = match holder.event {
        Some(event) => event.data,
        None => holder.data,
    };
    data.map(|raw| raw.get())
}

/// `data` cut to [`KEPT`] bytes on a character boundary.
pub fn kept(data: &str) -> &str {
    if data.len() <= KEPT {
        return data;
    }
    let mut end = KEPT;
    while !data.is_char_boundary(end) {
        end -= 1;
    }
    &data[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::{Event, EventBody, ThreadId, WindowId};
    use proptest::prelude::*;

    fn event(body: EventBody) -> Event {
        Event {
            seq: 7,
            ts: 1,
            actor: "user \",data\":1".into(),
            correlation: Some("c".into()),
            v: 1,
            body,
        }
    }

    proptest! {
        /// The text cut out is the data the daemon wrote, whatever the text holds.
        #[test]
        fn the_data_cut_out_is_the_events_own(text in ".{0,80}", window in 0u64..1000) {
            for body in [
                EventBody::ChatUserMessage { thread_id: ThreadId(window), text: text.clone() },
                EventBody::ShellOutput { window_id: WindowId(window), data: text.clone(), chunk: 3 },
                EventBody::MailFailed { window_id: WindowId(window), error: text.clone() },
            ] {
                let event = event(body);
                let json = serde_json::to_string(&event).unwrap();
                let frame = format!("{{\"type\":\"event\",\"event\":{json}}}");
                // As `GET /api/events` gives it: through a `Value`, its members sorted, `data`
                // before `seq`.
                let sorted = serde_json::to_value(&event).unwrap().to_string();
                let want = event.body.data().unwrap();
                for text in [json.as_str(), frame.as_str(), sorted.as_str()] {
                    let cut = event_data(text).unwrap();
                    let got: serde_json::Value = serde_json::from_str(cut).unwrap();
                    prop_assert_eq!(&got, &want);
                }
            }
        }
    }

    #[test]
    fn what_is_kept_is_cut_on_a_character_boundary() {
        let long = "é".repeat(KEPT);
        assert!(kept(&long).len() <= KEPT);
        assert!(kept(&long).chars().all(|c| c == 'é'));
        assert_eq!(kept("short"), "short");
        assert_eq!(event_data("{\"seq\":1}"), None);
        assert_eq!(event_data("not json"), None);
    }
}
