//! Text helpers between the browser's text fields (UTF-16 offsets, whole values) and the
//! protocol's edits (char positions, splices). Pure, so they are tested on the host.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// The UTF-16 offset of char position `chars` in `text` (clamped to its end).
pub fn utf16_of_char(text: &str, chars: usize) -> u32 {
    let units: usize = text.chars().take(chars).map(char::len_utf16).sum();
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The char position of UTF-16 offset `units` in `text` (clamped to its end; an offset inside
/// a surrogate pair counts the pair as passed).
pub fn char_of_utf16(text: &str, units: u32) -> usize {
    let mut seen = 0u32;
    let mut chars = 0;
    for c in text.chars() {
        if seen >= units {
            break;
        }
        seen += c.len_utf16() as u32;
        chars += 1;
    }
    chars
}

/// One splice that turns `old` into `new`: `(start, end, inserted)` in chars of `old`, or
/// `None` when they are equal. `caret` (a char position in `new`, where the caret is after
/// the change) settles ambiguous cases: typing `a` into `aa` is placed where it was typed.
pub fn splice_between(
    old: &str,
    new: &str,
    caret: Option<usize>,
) -> Option<(usize, usize, String)> {
    if old == new {
        return None;
    }
    let old: Vec<char> = old.chars().collect();
    let new: Vec<char> = new.chars().collect();
    let shorter = old.len().min(new.len());
    let mut suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(shorter);
    if let Some(caret) = caret {
        // The change ends at the caret: nothing after it changed.
        suffix = suffix.min(new.len().saturating_sub(caret));
    }
    let prefix = old
        .iter()
        .zip(&new)
        .take_while(|(a, b)| a == b)
        .count()
        .min(shorter - suffix);
    let inserted: String = new[prefix..new.len() - suffix].iter().collect();
    Some((prefix, old.len() - suffix, inserted))
}

/// `HH:MM` of a Unix time in milliseconds, `utc_offset_min` minutes east of UTC.
pub fn clock(ts: i64, utc_offset_min: i32) -> String {
    let minutes = (ts.div_euclid(60_000) + i64::from(utc_offset_min)).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `YYYY-MM-DD HH:MM:SS` of a Unix time in milliseconds, `utc_offset_min` minutes east of UTC.
pub fn date_time(ts: i64, utc_offset_min: i32) -> String {
    let seconds = ts.div_euclid(1000) + i64::from(utc_offset_min) * 60;
    let (days, second) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second / 3600,
        second % 3600 / 60,
        second % 60
    )
}

/// A length in CSS pixels (not negative) to a thousandth, written without the standard
/// library's float formatting (which would take 11 KiB of the wasm for this alone).
pub fn css_px(value: f64) -> String {
    let thousandths = (value.max(0.0) * 1000.0).round() as u64;
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn apply(old: &str, (start, end, inserted): (usize, usize, String)) -> String {
        let chars: Vec<char> = old.chars().collect();
        let mut out: String = chars[..start].iter().collect();
        out.push_str(&inserted);
        out.extend(&chars[end..]);
        out
    }

    #[test]
    fn typing_into_a_run_of_the_same_letter_lands_at_the_caret() {
        assert_eq!(
            splice_between("aa", "aaa", Some(1)),
            Some((0, 0, "a".into()))
        );
        assert_eq!(
            splice_between("aa", "aaa", Some(3)),
            Some((2, 2, "a".into()))
        );
        assert_eq!(splice_between("abc", "abc", Some(1)), None);
        assert_eq!(
            splice_between("héllo", "hé llo", Some(3)),
            Some((2, 2, " ".into()))
        );
        assert_eq!(
            splice_between("select me", "x", Some(1)),
            Some((0, 9, "x".into()))
        );
    }

    #[test]
    fn the_clock_is_local_time_of_day() {
        // 2026-11-27 05:48:00 UTC.
        let ts = 1_795_758_480_000;
        assert_eq!(clock(ts, 0), "05:48");
        assert_eq!(clock(ts, 60), "06:48");
        assert_eq!(clock(ts, -6 * 60), "23:48");
        assert_eq!(clock(ts + 999, 330), "11:18");
    }

    #[test]
    fn date_times_are_local_calendar_dates() {
        // 2026-11-27 05:48:00 UTC.
        let ts = 1_795_758_480_000;
        assert_eq!(date_time(ts, 0), "2026-11-27 05:48:00");
        assert_eq!(date_time(ts, -6 * 60), "2026-11-26 23:48:00");
        assert_eq!(date_time(0, 0), "1970-01-01 00:00:00");
        // 2024-02-29 12:00:01 UTC (a leap day).
        assert_eq!(date_time(1_709_208_001_000, 0), "2024-02-29 12:00:01");
    }

    #[test]
    fn utf16_offsets_count_astral_chars_twice() {
        let text = "a😀b";
        assert_eq!(utf16_of_char(text, 0), 0);
        assert_eq!(utf16_of_char(text, 2), 3);
        assert_eq!(utf16_of_char(text, 99), 4);
        assert_eq!(char_of_utf16(text, 3), 2);
        assert_eq!(char_of_utf16(text, 2), 2);
        assert_eq!(char_of_utf16(text, 99), 3);
    }

    proptest! {
        #[test]
        fn the_splice_turns_the_old_text_into_the_new(
            old in "[ab😀\n]{0,12}",
            new in "[ab😀\n]{0,12}",
            caret in proptest::option::of(0usize..14),
        ) {
            let caret = caret.map(|at| at.min(new.chars().count()));
            match splice_between(&old, &new, caret) {
                None => prop_assert_eq!(&old, &new),
                Some(splice) => prop_assert_eq!(apply(&old, splice), new),
            }
        }

        #[test]
        fn offsets_round_trip(text in "[a😀é]{0,10}", at in 0usize..12) {
            let at = at.min(text.chars().count());
            prop_assert_eq!(char_of_utf16(&text, utf16_of_char(&text, at)), at);
        }
    }

    #[test]
    fn css_lengths_are_written_to_a_thousandth() {
        assert_eq!(super::css_px(8.40625), "8.406");
        assert_eq!(super::css_px(0.0), "0.000");
        assert_eq!(super::css_px(12.0), "12.000");
        assert_eq!(super::css_px(-3.0), "0.000");
        assert_eq!(super::css_px(1.0005), "1.001");
    }
}
