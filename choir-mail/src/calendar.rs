//! An account's calendar over CalDAV: its events in a range (a `calendar-query` REPORT), and
//! an event added (a PUT that never replaces one). The CalDAV URL is the calendar itself or
//! the collection holding it (the first calendar there is used); it shares the account's
//! user and password, and, as mail does, is TLS unless it is on this machine.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use icalendar::{Component, DatePerhapsTime, EventLike};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::account::{is_loopback, Account};
use crate::{unreachable_at, MailError, TIMEOUT};

/// Events a range lists at most.
pub const MAX_EVENTS: usize = 500;
/// Largest answer read from the server.
const MAX_ANSWER: usize = 8 << 20;

/// An event as ChoirOS shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEvent {
    pub uid: String,
    pub title: String,
    /// RFC 3339 in UTC, or a date (`2026-12-24`) for an all-day event.
    pub start: String,
    pub end: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
}

/// A calendar, found and logged in to. `Debug` leaves the password out.
pub struct Calendar {
    http: reqwest::Client,
    url: Url,
    user: String,
    password: String,
}

impl std::fmt::Debug for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calendar")
            .field("url", &self.url.as_str())
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Calendar {
    /// The account's calendar: its CalDAV URL if that is a calendar, else the first
    /// calendar in that collection.
    pub async fn open(account: &Account) -> Result<Self, MailError> {
        let Some(url) = account.caldav.as_deref() else {
            return Err(MailError::NoCalendar(
                "the account has no CalDAV URL (CHOIR_CALDAV_URL)".into(),
            ));
        };
        let url = caldav_url(url)?;
        // Straight to the server: a proxy from the environment would see the password.
        let mut http = reqwest::Client::builder().no_proxy();
        if let Some(ca) = &account.ca {
            for certificate in reqwest::Certificate::from_pem_bundle(ca.as_bytes())
                .map_err(|err| MailError::CalDav(format!("the account's CA: {err}")))?
            {
                http = http.add_root_certificate(certificate);
            }
        }
        let http = http
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|err| MailError::CalDav(err.to_string()))?;
        let mut calendar = Self {
            http,
            url,
            user: account.user.clone(),
            password: account.password.clone(),
        };
        let body = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#;
        let answer = calendar
            .ask("PROPFIND", &calendar.url.clone(), "1", body)
            .await?;
        let found = calendars(&answer, &calendar.url)?;
        let Some(first) = found.into_iter().next() else {
            return Err(MailError::NoCalendar(format!(
                "{} holds no calendar",
                calendar.url
            )));
        };
        calendar.url = first;
        Ok(calendar)
    }

    /// Where the calendar is.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The events that overlap `from`..`to`, by start (recurring events by their first
    /// occurrence only).
    pub async fn events(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<CalendarEvent>, MailError> {
        let stamp = |at: DateTime<Utc>| at.format("%Y%m%dT%H%M%SZ").to_string();
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:time-range start="{}" end="{}"/>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#,
            stamp(from),
            stamp(to)
        );
        let answer = self.ask("REPORT", &self.url, "1", &body).await?;
        let mut events = calendar_data(&answer)?
            .iter()
            .flat_map(|text| parse_events(text))
            .collect::<Vec<_>>();
        events.sort_by(|a, b| a.start.cmp(&b.start).then(a.title.cmp(&b.title)));
        events.truncate(MAX_EVENTS);
        Ok(events)
    }

    /// Adds an event; its uid.
    pub async fn add(
        &self,
        title: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<CalendarEvent, MailError> {
        if end <= start {
            return Err(MailError::CalDav(
                "an event must end after it starts".into(),
            ));
        }
        if title.trim().is_empty() || title.chars().any(char::is_control) {
            return Err(MailError::CalDav(
                "an event's title is one line of text, not empty".into(),
            ));
        }
        let uid = format!("{}@choiros", random_uid());
        let mut event = icalendar::Event::new();
        event
            .uid(&uid)
            .summary(title)
            .starts(start)
            .ends(end)
            .timestamp(Utc::now());
        let mut calendar = icalendar::Calendar::new();
        calendar.push(event.done());
        let text = calendar.done().to_string();
        let href = self
            .url
            .join(&format!("{uid}.ics"))
            .map_err(|err| MailError::CalDav(err.to_string()))?;
        let response = self
            .http
            .put(href.clone())
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .header("If-None-Match", "*")
            .body(text)
            .send()
            .await
            .map_err(|err| unreachable(&href, err))?;
        stored(&href, response.status())?;
        Ok(CalendarEvent {
            uid,
            title: title.to_owned(),
            start: rfc3339(start),
            end: rfc3339(end),
            location: String::new(),
        })
    }

    /// Moves event `uid` to `start`..`end`, keeping the rest of it; refused if it changed on
    /// the server since it was read (another client moved it first).
    pub async fn reschedule(
        &self,
        uid: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(), MailError> {
        if end <= start {
            return Err(MailError::CalDav(
                "an event must end after it starts".into(),
            ));
        }
        let (href, etag, text) = self.stored_event(uid).await?;
        let mut calendar: icalendar::Calendar = text
            .parse()
            .map_err(|err| MailError::CalDav(format!("{href} is not iCalendar: {err}")))?;
        let mut moved = false;
        for component in calendar.components.iter_mut() {
            if let icalendar::CalendarComponent::Event(event) = component {
                if event.get_uid() == Some(uid) {
                    event.starts(start).ends(end).timestamp(Utc::now());
                    moved = true;
                }
            }
        }
        if !moved {
            return Err(MailError::CalDav(format!(
                "{href} does not hold event {uid}"
            )));
        }
        let mut put = self
            .http
            .put(href.clone())
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(calendar.to_string());
        if let Some(etag) = etag {
            put = put.header("If-Match", etag);
        }
        let response = put.send().await.map_err(|err| unreachable(&href, err))?;
        if response.status() == StatusCode::PRECONDITION_FAILED {
            return Err(MailError::CalDav(format!(
                "event {uid} changed on the server meanwhile; look again and move it then"
            )));
        }
        stored(&href, response.status())
    }

    /// Deletes event `uid` (the whole object that holds it).
    pub async fn remove(&self, uid: &str) -> Result<(), MailError> {
        let (href, etag, _) = self.stored_event(uid).await?;
        let mut delete = self
            .http
            .delete(href.clone())
            .basic_auth(&self.user, Some(&self.password));
        if let Some(etag) = etag {
            delete = delete.header("If-Match", etag);
        }
        let response = delete.send().await.map_err(|err| unreachable(&href, err))?;
        stored(&href, response.status())
    }

    /// Where event `uid` is stored, its etag, and its text.
    async fn stored_event(&self, uid: &str) -> Result<(Url, Option<String>, String), MailError> {
        let escaped = uid
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
    <c:prop-filter name="UID"><c:text-match collation="i;octet">{escaped}</c:text-match></c:prop-filter>
  </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"#
        );
        let answer = self.ask("REPORT", &self.url, "1", &body).await?;
        let doc = roxmltree::Document::parse(&answer).map_err(|err| {
            MailError::CalDav(format!("the calendar answered with bad XML: {err}"))
        })?;
        let text_of = |node: roxmltree::Node<'_, '_>, tag: (&str, &str)| {
            node.descendants()
                .find(|child| child.has_tag_name(tag))
                .and_then(|child| child.text())
                .map(|text| text.trim().to_owned())
        };
        for response in doc
            .descendants()
            .filter(|node| node.has_tag_name(("DAV:", "response")))
        {
            let (Some(href), Some(text)) = (
                text_of(response, ("DAV:", "href")),
                text_of(response, (CALDAV, "calendar-data")),
            ) else {
                continue;
            };
            if !parse_events(&text).iter().any(|event| event.uid == uid) {
                continue;
            }
            let href = self
                .url
                .join(&href)
                .map_err(|err| MailError::CalDav(err.to_string()))?;
            // The password only goes where it was told to go.
            if href.origin() != self.url.origin() {
                continue;
            }
            return Ok((href, text_of(response, ("DAV:", "getetag")), text));
        }
        Err(MailError::CalDav(format!(
            "no event {uid} in the calendar: it was deleted or moved elsewhere"
        )))
    }

    /// Puts an invitation's event in the calendar (replacing an earlier version of it).
    pub async fn keep(&self, invitation: &crate::Invitation) -> Result<(), MailError> {
        let name: String = invitation
            .event
            .uid
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-._@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let href = self
            .url
            .join(&format!("{name}.ics"))
            .map_err(|err| MailError::CalDav(err.to_string()))?;
        let response = self
            .http
            .put(href.clone())
            .basic_auth(&self.user, Some(&self.password))
            .header("Content-Type", "text/calendar; charset=utf-8")
            .body(invitation.stored()?)
            .send()
            .await
            .map_err(|err| unreachable(&href, err))?;
        stored(&href, response.status())
    }

    /// Sends a WebDAV request; the body of its multistatus answer.
    async fn ask(
        &self,
        method: &str,
        url: &Url,
        depth: &str,
        body: &str,
    ) -> Result<String, MailError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|err| MailError::CalDav(err.to_string()))?;
        let response = self
            .http
            .request(method, url.clone())
            .basic_auth(&self.user, Some(&self.password))
            .header("Depth", depth)
            .header("Content-Type", "application/xml; charset=utf-8")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|err| unreachable(url, err))?;
        check(url, response.status())?;
        let too_large =
            || MailError::CalDav(format!("{url} answered with more than {MAX_ANSWER} bytes"));
        if response
            .content_length()
            .is_some_and(|length| length > MAX_ANSWER as u64)
        {
            return Err(too_large());
        }
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| unreachable(url, err))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The CalDAV URL, refused if it would send the password in plain text elsewhere.
fn caldav_url(text: &str) -> Result<Url, MailError> {
    let bad = || {
        MailError::NoCalendar(format!(
            "`{text}` is not a CalDAV URL like https://dav.example.org/calendars/alice/"
        ))
    };
    let mut url = Url::parse(text.trim()).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?.to_owned();
    // The password goes in its own header, never in the URL that is shown and logged.
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad());
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            return Err(MailError::NoCalendar(format!(
                "`{text}` would send the password in plain text to another machine; use https://"
            )))
        }
        _ => return Err(bad()),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn check(url: &Url, status: StatusCode) -> Result<(), MailError> {
    match status.as_u16() {
        200..=299 => Ok(()),
        401 | 403 => Err(MailError::LoginRefused {
            server: url.to_string(),
            reason: status.to_string(),
        }),
        404 => Err(MailError::NoCalendar(format!("{url} is not there (404)"))),
        412 => Err(MailError::CalDav(format!(
            "{url} already holds such an event"
        ))),
        _ => Err(MailError::CalDav(format!("{url} answered {status}"))),
    }
}

/// The answer to a PUT: the login was already taken, so a refusal is about the event.
fn stored(url: &Url, status: StatusCode) -> Result<(), MailError> {
    match status.as_u16() {
        401 => check(url, status),
        403 | 409 | 415 | 422 => Err(MailError::CalDav(format!(
            "{url} refused the event ({status})"
        ))),
        _ => check(url, status),
    }
}

fn unreachable(url: &Url, err: reqwest::Error) -> MailError {
    if err.is_timeout() {
        return MailError::TimedOut {
            server: url.to_string(),
        };
    }
    unreachable_at(url.as_str(), err)
}

/// The calendars a PROPFIND answer lists: `base` first if it is one, then the others.
fn calendars(answer: &str, base: &Url) -> Result<Vec<Url>, MailError> {
    let doc = roxmltree::Document::parse(answer)
        .map_err(|err| MailError::CalDav(format!("{base} answered with bad XML: {err}")))?;
    let mut found: Vec<Url> = doc
        .descendants()
        .filter(|node| node.has_tag_name(("DAV:", "response")))
        .filter(|response| {
            response
                .descendants()
                .any(|node| node.has_tag_name((CALDAV, "calendar")))
        })
        .filter_map(|response| {
            let href = response
                .descendants()
                .find(|node| node.has_tag_name(("DAV:", "href")))?
                .text()?
                .trim()
                .to_owned();
            base.join(&href).ok()
        })
        // A server may name any URL; the password only goes where it was told to go.
        .filter(|url| url.origin() == base.origin())
        .collect();
    found.sort_by_key(|url| url != base);
    Ok(found)
}

const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

/// The `calendar-data` of each response of a REPORT answer.
fn calendar_data(answer: &str) -> Result<Vec<String>, MailError> {
    let doc = roxmltree::Document::parse(answer)
        .map_err(|err| MailError::CalDav(format!("the calendar answered with bad XML: {err}")))?;
    Ok(doc
        .descendants()
        .filter(|node| node.has_tag_name((CALDAV, "calendar-data")))
        .filter_map(|node| node.text().map(str::to_owned))
        .collect())
}

/// The events of one iCalendar object; what cannot be read is left out.
pub(crate) fn parse_events(text: &str) -> Vec<CalendarEvent> {
    let Ok(calendar) = text.parse::<icalendar::Calendar>() else {
        return Vec::new();
    };
    calendar.events().filter_map(event_of).collect()
}

/// One event as ChoirOS shows it; `None` when it has no start.
pub(crate) fn event_of(event: &icalendar::Event) -> Option<CalendarEvent> {
    Some(CalendarEvent {
        uid: event.get_uid().unwrap_or_default().to_owned(),
        title: event.get_summary().unwrap_or("(no title)").to_owned(),
        start: when(event.get_start()?),
        end: event.get_end().map(when).unwrap_or_default(),
        location: event.get_location().unwrap_or_default().to_owned(),
    })
}

fn when(at: DatePerhapsTime) -> String {
    match at {
        DatePerhapsTime::Date(date) => date.format("%Y-%m-%d").to_string(),
        DatePerhapsTime::DateTime(at) => match (at.try_into_utc(), at) {
            (Some(utc), _) => rfc3339(utc),
            // A time zone this machine does not know, or a floating time: as written.
            (None, icalendar::CalendarDateTime::WithTimezone { date_time, tzid }) => {
                format!("{} ({tzid})", date_time.format("%Y-%m-%dT%H:%M:%S"))
            }
            (None, icalendar::CalendarDateTime::Floating(date_time)) => {
                format!("{} (local time)", date_time.format("%Y-%m-%dT%H:%M:%S"))
            }
            (None, icalendar::CalendarDateTime::Utc(utc)) => rfc3339(utc),
        },
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A uid no one else has: the time and a random part.
fn random_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Utc::now().timestamp_nanos_opt().unwrap_or_default() as u128);
    format!(
        "{}-{:016x}",
        Utc::now().format("%Y%m%dT%H%M%S"),
        hasher.finish()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calendar_url_is_tls_unless_on_this_machine() {
        assert!(caldav_url("http://127.0.0.1:5232/alice/").is_ok());
        assert_eq!(
            caldav_url("http://127.0.0.1:5232/alice").unwrap().path(),
            "/alice/"
        );
        assert!(caldav_url("https://dav.example.org/c/").is_ok());
        let plain = caldav_url("http://dav.example.org/c/")
            .unwrap_err()
            .to_string();
        assert!(plain.contains("plain text"), "{plain}");
        assert!(caldav_url("ftp://x/").is_err());
        // No password in the URL itself, where it would be shown and logged.
        assert!(caldav_url("https://alice:pw@dav.example.org/c/").is_err());
        assert!(caldav_url("https://dav.example.org/c/?token=x").is_err());
    }

    #[test]
    fn a_calendar_elsewhere_named_by_the_server_is_not_followed() {
        let base = Url::parse("http://127.0.0.1:5232/alice/").unwrap();
        let answer = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>//evil.example/steal/</href><propstat><prop><resourcetype><C:calendar/></resourcetype></prop></propstat></response>
 <response><href>http://127.0.0.1:9999/other/</href><propstat><prop><resourcetype><C:calendar/></resourcetype></prop></propstat></response>
</multistatus>"#;
        assert!(calendars(answer, &base).unwrap().is_empty());
    }

    #[test]
    fn events_are_read_from_icalendar_in_utc_or_as_dates() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\n\
BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:Standup\r\nDTSTART:20261207T090000Z\r\nDTEND:20261207T091500Z\r\nLOCATION:Room 1\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:b\r\nSUMMARY:Holiday\r\nDTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261225\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";
        let events = parse_events(text);
        assert_eq!(
            events,
            vec![
                CalendarEvent {
                    uid: "a".into(),
                    title: "Standup".into(),
                    start: "2026-12-07T09:00:00Z".into(),
                    end: "2026-12-07T09:15:00Z".into(),
                    location: "Room 1".into(),
                },
                CalendarEvent {
                    uid: "b".into(),
                    title: "Holiday".into(),
                    start: "2026-12-24".into(),
                    end: "2026-12-25".into(),
                    location: String::new(),
                },
            ]
        );
        assert!(parse_events("not a calendar").is_empty());
    }

    #[test]
    fn the_calendars_of_a_collection_are_found_in_its_propfind_answer() {
        let base = Url::parse("http://127.0.0.1:5232/alice/").unwrap();
        let answer = r#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/alice/</href><propstat><prop><resourcetype><collection/></resourcetype></prop></propstat></response>
 <response><href>/alice/calendar/</href><propstat><prop><resourcetype><collection/><C:calendar/></resourcetype></prop></propstat></response>
</multistatus>"#;
        assert_eq!(
            calendars(answer, &base).unwrap(),
            vec![Url::parse("http://127.0.0.1:5232/alice/calendar/").unwrap()]
        );
        assert!(calendars("<not xml", &base).is_err());
    }
}
