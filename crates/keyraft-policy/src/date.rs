//! Dates of `Date…` conditions: ISO 8601 (W3C profile) or epoch seconds, as milliseconds since
//! the Unix epoch.

/// Parses `2026-12-04`, `2026-12-04T13:37:06Z`, `2026-12-04T13:37:06.123+01:00`, `…T13:37Z`
/// or epoch seconds (`1796390226`, `1796390226.5`). `None` when it is neither.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        if let Some(epoch) = parse_epoch(text) {
            return Some(epoch);
        }
    }
    parse_iso(text)
}

fn parse_epoch(text: &str) -> Option<i64> {
    if text.len() == 10 && text.as_bytes().get(4) == Some(&b'-') {
        return None; // a date, not a number
    }
    if let Ok(secs) = text.parse::<i64>() {
        return secs.checked_mul(1000);
    }
    let secs = text.parse::<f64>().ok()?;
    if !secs.is_finite() || secs.abs() > 1e14 {
        return None;
    }
    Some((secs * 1000.0).round() as i64)
}

fn parse_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(millis);
    }
    if rest[0] != b'T' && rest[0] != b't' {
        return None;
    }
    let rest = &rest[1..];
    if rest.len() < 5 || rest[2] != b':' {
        return None;
    }
    let hour = digits(&rest[0..2])?;
    let minute = digits(&rest[3..5])?;
    let mut i = 5;
    let mut second = 0;
    let mut fraction_ms = 0;
    if rest.get(i) == Some(&b':') {
        second = digits(rest.get(i + 1..i + 3)?)?;
        i += 3;
        if rest.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < rest.len() && rest[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return None;
            }
            let frac = &rest[start..i.min(start + 3)];
            fraction_ms = digits(frac)? * [100, 10, 1][frac.len() - 1];
        }
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let offset_min = match rest.get(i..)? {
        [b'Z' | b'z'] | [] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let minutes = digits(&[*h1, *h2])? * 60 + digits(&[*m1, *m2])?;
            if *sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    millis += ((hour * 60 + minute - offset_min) * 60 + second) * 1000 + fraction_ms;
    Some(millis)
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn iso_forms() {
        assert_eq!(parse("1970-01-01"), Some(0));
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2019-07-16T12:00:00Z"), Some(1_563_278_400_000));
        assert_eq!(parse("2019-07-16T14:00:00+02:00"), Some(1_563_278_400_000));
        assert_eq!(parse("2019-07-16T12:00:00.250Z"), Some(1_563_278_400_250));
        assert_eq!(parse("2019-07-16T12:00Z"), Some(1_563_278_400_000));
        assert_eq!(parse("2000-02-29"), Some(951_782_400_000));
    }

    #[test]
    fn epoch_forms() {
        assert_eq!(parse("1563278400"), Some(1_563_278_400_000));
        assert_eq!(parse("0"), Some(0));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "yesterday", "2019-13-01", "2019-02-30", "2019-07-16T25:00:00Z", "2019-07-16X"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
