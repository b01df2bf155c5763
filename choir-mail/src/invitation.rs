//! Invitations received by mail (iCalendar `METHOD:REQUEST` in a `text/calendar` part), and
//! the answers to them: an iTIP `REPLY` to the organizer, and the event put in the calendar
//! when it is accepted.

use chrono::Utc;
use icalendar::Component;
use serde::{Deserialize, Serialize};

use crate::calendar::{parse_events, CalendarEvent};
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

/// The invitations in one `text/calendar` part.
pub(crate) fn invitations(text: &str) -> Vec<Invitation> {
    let Ok(calendar) = text.parse::<icalendar::Calendar>() else {
        return Vec::new();
    };
    let method = calendar
        .property_value("METHOD")
        .unwrap_or("PUBLISH")
        .to_ascii_uppercase();
    let events = parse_events(text);
    calendar
        .events()
        .zip(events)
        .map(|(vevent, event)| Invitation {
            method: method.clone(),
            organizer: vevent
                .property_value("ORGANIZER")
                .map(address_of)
                .unwrap_or_default(),
            event,
            vevent: Some(vevent.clone()),
        })
        .collect()
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

    /// The iTIP reply of `attendee` (an address) saying `answer`.
    pub(crate) fn reply(&self, attendee: &str, answer: Answer) -> Result<String, MailError> {
        let received = self.vevent.as_ref().ok_or_else(lost)?;
        let mut event = icalendar::Event::new();
        event.uid(&self.event.uid).timestamp(Utc::now());
        if let Some(summary) = received.get_summary() {
            event.summary(summary);
        }
        for key in ["ORGANIZER", "SEQUENCE", "DTSTART", "DTEND", "RECURRENCE-ID"] {
            if let Some(property) = received.properties().get(key) {
                event.append_property(property.clone());
            }
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
    MailError::CalDav("the invitation's event could not be read".into())
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
}
