//! Numbers as people read them, the same in every client (and the hypervisor's messages).

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Reads a length of time as people write one: a whole number with `ms`, `s`, `m` (or
/// `min`), `h`, `d` or `w`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a length of time like 90s, 30m, 2h, 7d or 500ms"))?;
    let seconds = |factor: u64| {
        number
            .checked_mul(factor)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("`{text}` is too long"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "" | "s" => seconds(1),
        "m" | "min" => seconds(60),
        "h" => seconds(3600),
        "d" => seconds(86_400),
        "w" => seconds(7 * 86_400),
        other => Err(format!(
            "unknown unit `{other}` in `{text}` (ms, s, m, h, d or w)"
        )),
    }
}

/// An error and what caused it, down the chain: an HTTP client's own message ("error
/// sending request") says little; its sources say "connection refused".
pub fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The length of `value` as JSON, without making the text: roughly what it holds, for
/// clients that must keep within a memory budget.
pub fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and no type of the protocol fails to serialize.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::{encoded_len, parse_duration, thousands};
    use std::time::Duration;

    #[test]
    fn lengths_of_time_are_read_in_every_unit() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 90s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("10min"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(604_800)));
        assert!(parse_duration("3y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("99999999999999999999").is_err());
        assert!(parse_duration(&format!("{}w", u64::MAX / 2))
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn the_encoded_length_is_that_of_the_json() {
        let value = serde_json::json!({"a": [1, 2, "three"], "b": "é"});
        assert_eq!(
            encoded_len(&value),
            serde_json::to_vec(&value).unwrap().len()
        );
    }
}

/// `n / unit` with one decimal, rounded half up: `one_decimal(12_345, 1_000)` is `12.3`. In
/// integers, so the browser's code carries no float formatting.
pub(crate) fn one_decimal(n: u64, unit: u64) -> String {
    let unit = unit.clamp(1, u64::MAX / 10);
    // The fraction's tenths, rounded; 10 carries into the whole part.
    let tenths = ((n % unit) * 10 + unit / 2) / unit;
    // No overflow: a carry needs a remainder, so `n / unit` is below the maximum.
    let whole = n / unit + tenths / 10;
    format!("{whole}.{}", tenths % 10)
}

#[cfg(test)]
mod one_decimal_tests {
    use super::one_decimal;

    #[test]
    fn rounds_half_up_to_one_decimal() {
        assert_eq!(one_decimal(12_345, 1_000), "12.3");
        assert_eq!(one_decimal(12_350, 1_000), "12.4");
        assert_eq!(one_decimal(999_999, 1_000), "1000.0");
        assert_eq!(one_decimal(104_857_600, 1_000_000), "104.9");
        assert_eq!(one_decimal(u64::MAX, 1), format!("{}.0", u64::MAX));
        assert_eq!(one_decimal(5, 0), "5.0", "a unit of 0 counts as 1");
    }
}
