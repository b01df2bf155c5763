//! Dates as a mail list shows them, from the RFC 3339 stamps headers carry.

/// An RFC 3339 stamp as a list shows it, at the viewer's offset: `Dec 05 14:03` (empty when
/// it is not one).
pub fn short_date(date: &str, utc_offset: i32) -> String {
    match choir_proto::dates::parse_rfc3339(date) {
        Some(ms) => {
            let secs = ms.div_euclid(1000) + i64::from(utc_offset);
            let days = secs.div_euclid(86_400);
            let (_, month, day) = choir_proto::dates::civil(days);
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let minutes = secs.rem_euclid(86_400) / 60;
            format!(
                "{} {day:02} {:02}:{:02}",
                MONTHS[(month - 1) as usize],
                minutes / 60,
                minutes % 60
            )
        }
        None => String::new(),
    }
}
