//! Timestamps and durations: what `time<…`, `--since` and `--until` compare.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Nanoseconds since the Unix epoch, UTC. Integers compare fast and exactly; 128 bits
/// hold every time RFC 3339 can write (years 0000–9999), not only 1677–2262.
pub type Nanos = i128;

fn nanos_of<Tz: chrono::TimeZone>(t: &DateTime<Tz>) -> Nanos {
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

/// Parses the timestamps found in audit logs: RFC 3339 (`2026-01-05T10:00:00.123456Z`,
/// offsets like `-04:00`), and the near-misses seen in the wild (a space instead of `T`,
/// no zone, read as UTC, as in Panther-normalised events).
pub fn parse_timestamp(text: &str) -> Option<Nanos> {
    let text = text.trim();
    if text.len() < 10 || !text.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(nanos_of(&t));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(nanos_of(&t.and_utc()));
        }
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(nanos_of(&date.and_hms_opt(0, 0, 0)?.and_utc()));
    }
    None
}

/// Parses a duration like `500ms`, `90s`, `90m`, `2h`, `7d`, `1w`, or combinations such
/// as `1h30m`: the one duration grammar of every option and of the query language.
pub fn parse_duration(text: &str) -> Option<Nanos> {
    const MS: Nanos = 1_000_000;
    const S: Nanos = 1_000 * MS;
    let text = text.trim().as_bytes();
    let mut total: Nanos = 0;
    let mut i = 0;
    if text.is_empty() {
        return None;
    }
    while i < text.len() {
        let digits = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 30 {
            return None;
        }
        let n: Nanos = std::str::from_utf8(&text[i..i + digits])
            .ok()?
            .parse()
            .ok()?;
        i += digits;
        let (unit, len) = match text.get(i..)? {
            [b'm', b's', ..] => (MS, 2),
            [b's', ..] => (S, 1),
            [b'm', ..] => (60 * S, 1),
            [b'h', ..] => (3600 * S, 1),
            [b'd', ..] => (86_400 * S, 1),
            [b'w', ..] => (7 * 86_400 * S, 1),
            _ => return None,
        };
        i += len;
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    Some(total)
}

/// Resolves a `--since`/`--until` argument: a duration back from `now`, or a timestamp.
pub fn parse_time_bound(text: &str, now: DateTime<Utc>) -> Result<Nanos, crate::invalid::Invalid> {
    if let Some(ago) = parse_duration(text) {
        return Ok(nanos_of(&now).saturating_sub(ago));
    }
    parse_timestamp(text).ok_or_else(|| {
        format!(
            "`{text}` is neither a duration (like 90m, 2h, 7d) nor an RFC 3339 time \
             (like 2026-01-05T10:00:00Z)"
        )
        .into()
    })
}

/// Formats nanoseconds as RFC 3339 UTC with milliseconds, for tables and warnings.
pub fn format_nanos(nanos: Nanos) -> String {
    format_nanos_with(nanos, "%Y-%m-%dT%H:%M:%S%.3fZ")
}

/// Formats nanoseconds as RFC 3339 UTC with as many fraction digits as needed (none,
/// 3, 6 or 9), so the text reads back as the same instant (JSON reports).
pub fn format_nanos_exact(nanos: Nanos) -> String {
    format_nanos_with(nanos, "%Y-%m-%dT%H:%M:%S%.fZ")
}

/// Formats nanoseconds (UTC) with a chrono format string.
pub fn format_nanos_with(nanos: Nanos, format: &str) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000) as u32;
    match i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, sub))
    {
        Some(t) => t.format(format).to_string(),
        None => format!("{nanos} ns since the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_variants() {
        let z = parse_timestamp("2026-01-05T10:00:00Z").unwrap();
        assert_eq!(parse_timestamp("2026-01-05T10:00:00.000000Z"), Some(z));
        assert_eq!(parse_timestamp("2026-01-05T06:00:00-04:00"), Some(z));
        assert_eq!(parse_timestamp("2026-01-05 10:00:00"), Some(z));
        assert_eq!(parse_timestamp("2026-01-05T10:00:00"), Some(z));
        assert_eq!(
            parse_timestamp("2026-01-05T10:00:00.5Z"),
            Some(z + 500_000_000)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        let old = parse_timestamp("1500-01-01T00:00:00Z").unwrap();
        let late = parse_timestamp("2500-01-01T00:00:00Z").unwrap();
        assert!(old < z && z < late);
        assert_eq!(format_nanos(old), "1500-01-01T00:00:00.000Z");
        assert_eq!(format_nanos_exact(z), "2026-01-05T10:00:00Z");
        assert_eq!(
            format_nanos_exact(z + 2_284_000),
            "2026-01-05T10:00:00.002284Z"
        );
        assert_eq!(parse_timestamp(&format_nanos_exact(z + 1)), Some(z + 1));
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("90m"), Some(90 * 60 * 1_000_000_000));
        assert_eq!(parse_duration("2h"), Some(2 * 3600 * 1_000_000_000));
        assert_eq!(parse_duration("7d"), Some(7 * 86_400 * 1_000_000_000));
        assert_eq!(parse_duration("1h30m"), Some(5400 * 1_000_000_000));
        assert_eq!(parse_duration("90"), None);
        assert_eq!(parse_duration("2x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("1s500ms"), Some(1_500_000_000));
        assert_eq!(parse_duration("1w"), Some(7 * 86_400 * 1_000_000_000));
        for bad in ["ms", "5 m", "5mm", "m5", "-5s", "1.5h", "5M"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn time_bound_accepts_both_forms() {
        let now = DateTime::parse_from_rfc3339("2026-01-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let two_hours_ago = parse_time_bound("2h", now).unwrap();
        assert_eq!(format_nanos(two_hours_ago), "2026-01-05T10:00:00.000Z");
        assert!(parse_time_bound("2026-01-05T10:00:00Z", now).is_ok());
        assert!(
            parse_time_bound("soon", now)
                .unwrap_err()
                .0
                .contains("duration")
        );
    }
}
