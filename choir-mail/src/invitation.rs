//! Invitations received by mail (iCalendar `METHOD:REQUEST` in a `text/calendar` part), and
//! the answers to them: an iTIP `REPLY` to the organizer, and the event put in the calendar
//! when it is accepted.

use chrono::Utc;
use icalendar::Component;
use serde::{Deserialize, Serialize};

use crate::calendar::{event_of, CalendarEvent};
use crate::MailError;

/// An invitation found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// `REQUEST`, `CANCEL`, …
    pub method: String,
    pub event: CalendarEvent,
    /// Who invites (an address).
    pub organizer: String,
    /// The event as received, one `VEVENT` (for the calendar and the reply).
    #[serde(skip)]
    pub(crate) vevent: Option<icalendar::Event>,
}

/// How an invitation is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Accept,
    Tentative,
    Decline,
}

impl Answer {
    /// The participation status the reply says.
    pub fn partstat(self) -> &'static str {
        match self {
            Answer::Accept => "ACCEPTED",
            Answer::Tentative => "TENTATIVE",
            Answer::Decline => "DECLINED",
        }
    }

    /// Whether the event goes into the calendar.
    pub fn keeps(self) -> bool {
        !matches!(self, Answer::Decline)
    }
}

/// Largest `text/calendar` part read (a bigger one is no invitation a person sent).
const MAX_PART: usize = 256 << 10;

/// The invitations in one `text/calendar` part. An event with a control character in any
/// of its properties (a line break smuggled into a value, which would become a line of its
/// own where it is copied), without a start or without a uid is left out.
pub(crate) fn invitations(text: &str) -> Vec<Invitation> {
    if text.len() > MAX_PART {
        return Vec::new();
    }
    // Every line ending as CRLF: a lone CR or LF is a line break, never part of a value.
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace('\n', "\r\n");
    let Ok(calendar) = text.parse::<icalendar::Calendar>() else {
        return Vec::new();
    };
    let method = calendar
        .property_value("METHOD")
        .unwrap_or("PUBLISH")
        .to_ascii_uppercase();
    calendar
        .events()
        .filter(|vevent| clean(vevent))
        .filter_map(|vevent| {
            let event = event_of(vevent)?;
            let usable = !event.uid.is_empty() && !event.uid.starts_with('.');
            usable.then(|| Invitation {
                method: method.clone(),
                organizer: vevent
                    .property_value("ORGANIZER")
                    .map(address_of)
                    .unwrap_or_default(),
                event,
                vevent: Some(vevent.clone()),
            })
        })
        .collect()
}

/// Whether no property of `vevent` (value or parameter) holds a control character.
fn clean(vevent: &icalendar::Event) -> bool {
    let free = |text: &str| !text.chars().any(char::is_control);
    let fine = |property: &icalendar::Property| {
        free(property.key())
            && free(property.value())
            && property
                .params()
                .values()
                .all(|param| free(param.key()) && free(param.value()))
    };
    vevent.properties().values().all(fine) && vevent.multi_properties().values().flatten().all(fine)
}

/// `mailto:bob@example.org` as `bob@example.org`.
fn address_of(value: &str) -> String {
    let value = value.trim();
    match value.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => value[7..].to_owned(),
        _ => value.to_owned(),
    }
}

impl Invitation {
    /// The event as the calendar keeps it (no `METHOD`: a stored object has none).
    pub(crate) fn stored(&self) -> Result<String, MailError> {
        let vevent = self.vevent.clone().ok_or_else(lost)?;
        let mut calendar = icalendar::Calendar::new();
        calendar.push(vevent);
        Ok(calendar.done().to_string())
    }

    /// The iTIP reply of `attendee` (an address) saying `answer`: the uid, the summary and
    /// the times received (their values checked clean when the invitation was read), the
    /// organizer as an address only.
    pub(crate) fn reply(&self, attendee: &str, answer: Answer) -> Result<String, MailError> {
        let received = self.vevent.as_ref().ok_or_else(lost)?;
        let mut event = icalendar::Event::new();
        event
            .uid(&self.event.uid)
            .summary(&self.event.title)
            .timestamp(Utc::now());
        event.append_property(icalendar::Property::new(
            "ORGANIZER",
            format!("mailto:{}", self.organizer),
        ));
        for key in ["DTSTART", "DTEND", "RECURRENCE-ID"] {
            if let Some(property) = received.properties().get(key) {
                event.append_property(property.clone());
            }
        }
        if let Some(sequence) = received
            .property_value("SEQUENCE")
            .filter(|n| !n.is_empty() && n.len() < 10 && n.bytes().all(|b| b.is_ascii_digit()))
        {
            event.add_property("SEQUENCE", sequence);
        }
        let mut who = icalendar::Property::new("ATTENDEE", format!("mailto:{attendee}"));
        who.add_parameter("PARTSTAT", answer.partstat());
        event.append_multi_property(who);
        let mut calendar = icalendar::Calendar::new();
        calendar.append_property(icalendar::Property::new("METHOD", "REPLY"));
        calendar.push(event.done());
        Ok(calendar.done().to_string())
    }
}

fn lost() -> MailError {
    MailError::Compose("the invitation's event could not be read".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bob//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VEVENT\r\nUID:plan-1@example.test\r\nDTSTAMP:20310301T000000Z\r\nSEQUENCE:2\r\n\
ORGANIZER;CN=Bob:mailto:bob@example.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:alice@example.test\r\n\
SUMMARY:Planning\r\nDTSTART:20310310T090000Z\r\nDTEND:20310310T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn an_invitation_is_read_and_answered_in_itip() {
        let found = invitations(REQUEST);
        assert_eq!(found.len(), 1);
        let invitation = &found[0];
        assert_eq!(invitation.method, "REQUEST");
        assert_eq!(invitation.organizer, "bob@example.test");
        assert_eq!(invitation.event.title, "Planning");
        assert_eq!(invitation.event.start, "2031-03-10T09:00:00Z");
        let reply = invitation
            .reply("alice@example.test", Answer::Accept)
            .unwrap();
        for line in [
            "METHOD:REPLY",
            "UID:plan-1@example.test",
            "SEQUENCE:2",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.test",
            "mailto:bob@example.test",
        ] {
            assert!(reply.contains(line), "{line} in {reply}");
        }
        let stored = invitation.stored().unwrap();
        assert!(!stored.contains("METHOD"), "{stored}");
        assert!(stored.contains("UID:plan-1@example.test"), "{stored}");
        assert!(invitations("not a calendar").is_empty());
    }

    #[test]
    fn a_line_smuggled_into_a_value_is_never_a_line_of_the_reply() {
        // A bare LF inside CRLF lines, a CR alone, a line break inside a quoted parameter. A
        // line break ends the value: what follows is a property of the invitation (as any its
        // sender lists), or the event is left out; never a line of the reply.
        for smuggled in [
            "SEQUENCE:2\nATTENDEE;PARTSTAT=ACCEPTED:mailto:eve@example.test\r\n",
            "SUMMARY:Planning\rATTENDEE:mailto:eve@example.test\r\n",
            "ORGANIZER;CN=\"Bob\r\nATTENDEE:mailto:eve@example.test\":mailto:bob@example.test\r\n",
        ] {
            let text = REQUEST.replace("SEQUENCE:2\r\n", smuggled);
            for invitation in invitations(&text) {
                let reply = invitation
                    .reply("alice@example.test", Answer::Accept)
                    .unwrap();
                assert!(!reply.contains("eve@"), "{smuggled:?} gave {reply}");
                assert!(reply.contains("ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.test"));
            }
        }
    }

    #[test]
    fn each_invitation_shows_the_event_it_holds() {
        // The first event has no start: it is left out, not paired with the second's.
        let two = REQUEST.replace(
            "BEGIN:VEVENT\r\n",
            "BEGIN:VEVENT\r\nUID:hidden@example.test\r\nSUMMARY:Hidden\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\n",
        );
        let found = invitations(&two);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event.uid, "plan-1@example.test");
        assert!(found[0]
            .stored()
            .unwrap()
            .contains("UID:plan-1@example.test"));
        assert!(!found[0].stored().unwrap().contains("Hidden"));
    }
}
