//! Points of the log and lengths of time as people type them on the command line.

pub use choir_proto::parse_duration;
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// A point of the log: right after an event, or at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Seq(u64),
    /// Milliseconds since the epoch.
    Time(i64),
}

impl Point {
    /// The seek a replay starts from.
    pub fn seek(self) -> choir_proto::Seek {
        match self {
            Point::Seq(seq) => choir_proto::Seek::Seq { seq },
            Point::Time(ts) => choir_proto::Seek::Time { ts },
        }
    }
}

/// What `--at` and `--between` accept, for error messages.
pub const POINT_FORMS: &str = "a seq (1234), a time ago (-90s, -10m, -2h, -3d), a time today \
    (14:05), a local date and time (2026-11-27 14:05[:30]) or RFC 3339 (2026-11-27T14:05:00Z)";

/// Reads a point; `now` is the time relative points count back from.
pub fn parse_point(text: &str, now: DateTime<Local>) -> Result<Point, String> {
    let text = text.trim();
    if let Ok(seq) = text.parse::<u64>() {
        return Ok(Point::Seq(seq));
    }
    if let Some(ago) = text.strip_prefix('-') {
        let ms = i64::try_from(parse_duration(ago)?.as_millis()).unwrap_or(i64::MAX);
        return Ok(Point::Time(now.timestamp_millis().saturating_sub(ms)));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Point::Time(at.timestamp_millis()));
    }
    let local = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|date| date.and_time(NaiveTime::MIN))
    })
    .or_else(|| {
        ["%H:%M:%S", "%H:%M"]
            .iter()
            .find_map(|format| NaiveTime::parse_from_str(text, format).ok())
            .map(|time| now.date_naive().and_time(time))
    });
    match local.and_then(|naive| Local.from_local_datetime(&naive).earliest()) {
        Some(at) => Ok(Point::Time(at.timestamp_millis())),
        None => Err(format!(
            "`{text}` is not a point of the log: give {POINT_FORMS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Local> {
        Local.with_ymd_and_hms(2026, 11, 27, 18, 0, 0).unwrap()
    }

    #[test]
    fn points_are_read_in_every_form() {
        assert_eq!(parse_point("1234", now()), Ok(Point::Seq(1234)));
        let now_ms = now().timestamp_millis();
        assert_eq!(
            parse_point("-10m", now()),
            Ok(Point::Time(now_ms - 600_000))
        );
        assert_eq!(
            parse_point("2026-11-27T17:00:00Z", now()),
            Ok(Point::Time(
                DateTime::parse_from_rfc3339("2026-11-27T17:00:00Z")
                    .unwrap()
                    .timestamp_millis()
            ))
        );
        let local = |h, m| {
            Local
                .with_ymd_and_hms(2026, 11, 27, h, m, 0)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(parse_point("14:05", now()), Ok(Point::Time(local(14, 5))));
        assert_eq!(
            parse_point("2026-11-27 14:05", now()),
            Ok(Point::Time(local(14, 5)))
        );
        let err = parse_point("yesterday-ish", now()).unwrap_err();
        assert!(err.contains("not a point of the log"), "{err}");
    }
}
