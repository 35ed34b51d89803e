//! The injected clock. Nothing in the core reads time itself.

/// Wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// `ms` since the Unix epoch as ISO 8601 in UTC with whole seconds: `2026-12-04T14:30:00Z`
/// (CloudTrail's `eventTime`, the policy key `aws:CurrentTime`).
pub fn iso8601_utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, for days ≥ 0).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso8601() {
        assert_eq!(super::iso8601_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601_utc(784_111_777_000), "1994-11-06T08:49:37Z");
        assert_eq!(super::iso8601_utc(951_782_400_999), "2000-02-29T00:00:00Z");
        assert_eq!(super::iso8601_utc(1_796_393_400_000), "2026-12-04T14:10:00Z");
        assert_eq!(super::iso8601_utc(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }
}
