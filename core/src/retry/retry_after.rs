//! `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.

use core::time::Duration;

/// How long a `Retry-After` header value asks to wait, given the current
/// time as whole seconds since the Unix epoch (the date form is absolute).
///
/// Accepts delta-seconds (`"120"`) and all three HTTP-date forms: IMF-fixdate
/// (`"Sun, 06 Nov 1994 08:49:37 GMT"`), RFC 850 (`"Sunday, 06-Nov-94 08:49:37
/// GMT"`) and asctime (`"Sun Nov  6 08:49:37 1994"`). A date in the past gives
/// zero; anything unparsable gives `None` (ignore the header).
///
/// ```
/// use core::time::Duration;
/// use weir::retry::parse_retry_after;
/// let now = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now_unix_secs: u64) -> Option<Duration> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    if value.is_empty() {
        return None;
    }
    if let Some(rest) = value.strip_prefix('-') {
        // A negative delay is nonsense; read it as "now" when it is a number.
        return all_digits(rest).then_some(Duration::ZERO);
    }
    if all_digits(value) {
        // Saturate absurdly long delays instead of failing (callers cap them).
        let secs = value
            .bytes()
            .try_fold(0u64, |n, d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value, now_unix_secs)?;
    Some(Duration::from_secs(at.saturating_sub(now_unix_secs)))
}

/// Seconds since the Unix epoch for an HTTP-date in any of its three forms.
/// Two-digit RFC 850 years more than 50 years ahead of `now` are read as the
/// previous century (RFC 9110 §5.6.7). Runs of whitespace count as one space.
pub fn parse_http_date(value: &str, now_unix_secs: u64) -> Option<u64> {
    let mut c = Cursor(value.as_bytes());
    c.spaces();
    c.weekday()?;
    let (day, month, year, time) = if c.eat(b',') {
        c.space()?;
        let day = c.digits(2, 2)?;
        let (month, year) = if c.eat(b'-') {
            // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
            let month = c.month()?;
            c.expect(b'-')?;
            (month, full_year(c.digits(2, 2)?, now_unix_secs))
        } else {
            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
            c.space()?;
            let month = c.month()?;
            c.space()?;
            (month, c.digits(4, 4)?)
        };
        c.space()?;
        let time = c.time()?;
        c.space()?;
        c.literal(b"GMT")?;
        (day, month, year, time)
    } else {
        // asctime: Sun Nov  6 08:49:37 1994 (day space-padded or not)
        c.space()?;
        let month = c.month()?;
        c.space()?;
        let day = c.digits(1, 2)?;
        c.space()?;
        let time = c.time()?;
        c.space()?;
        (day, month, c.digits(4, 4)?, time)
    };
    c.spaces();
    if !c.0.is_empty() || year < 1970 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_since_epoch(year, month, day) * 86_400 + time)
}

/// The unread rest of an HTTP-date.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> u8 {
        self.0.first().copied().unwrap_or(0)
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == byte;
        if hit {
            self.0 = &self.0[1..];
        }
        hit
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn literal(&mut self, text: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(text)?;
        Some(())
    }

    /// Whitespace, if any.
    fn spaces(&mut self) {
        while self.peek().is_ascii_whitespace() {
            self.0 = &self.0[1..];
        }
    }

    /// At least one whitespace character.
    #[inline(never)]
    fn space(&mut self) -> Option<()> {
        self.peek().is_ascii_whitespace().then_some(())?;
        self.spaces();
        Some(())
    }

    /// A day name (letters, not checked against the calendar).
    fn weekday(&mut self) -> Option<()> {
        let len = self
            .0
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .count();
        self.0 = &self.0[len..];
        (len > 0).then_some(())
    }

    /// `min` to `max` ASCII digits, not followed by another.
    #[inline(never)]
    fn digits(&mut self, min: usize, max: usize) -> Option<u64> {
        let mut n = 0;
        let mut len = 0;
        while self.peek().is_ascii_digit() {
            if len == max {
                return None;
            }
            n = n * 10 + u64::from(self.peek() - b'0');
            len += 1;
            self.0 = &self.0[1..];
        }
        (len >= min).then_some(n)
    }

    /// `Jan` … `Dec` as 1 … 12.
    fn month(&mut self) -> Option<u64> {
        const MONTHS: &[u8; 36] = b"JanFebMarAprMayJunJulAugSepOctNovDec";
        let name = self.0.get(..3)?;
        let at = MONTHS.chunks(3).position(|m| m == name)?;
        self.0 = &self.0[3..];
        Some(at as u64 + 1)
    }

    /// `hh:mm:ss` as seconds into the day (60 allows a leap second).
    fn time(&mut self) -> Option<u64> {
        let h = self.digits(2, 2)?;
        self.expect(b':')?;
        let m = self.digits(2, 2)?;
        self.expect(b':')?;
        let s = self.digits(2, 2)?;
        (h <= 23 && m <= 59 && s <= 60).then_some(h * 3_600 + m * 60 + s)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given civil date (year ≥ 1970).
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    // Howard Hinnant's days_from_civil, shifted to unsigned arithmetic.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil year of a day count since 1970-01-01 (Hinnant's civil_from_days).
fn year_of_day(days: u64) -> u64 {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let year = yoe + era * 400;
    if mp >= 10 {
        year + 1
    } else {
        year
    }
}

fn full_year(yy: u64, now_unix_secs: u64) -> u64 {
    let now_year = year_of_day(now_unix_secs / 86_400);
    let century = now_year / 100 * 100;
    let candidate = century + yy;
    if candidate > now_year + 50 {
        candidate - 100
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_days_match_known_dates() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", 0), Some(0));
        assert_eq!(year_of_day(0), 1970);
        assert_eq!(year_of_day(10_956), 1999); // 1999-12-31
        assert_eq!(year_of_day(10_957), 2000); // 2000-01-01
        assert_eq!(year_of_day(11_016), 2000); // 2000-02-29
    }

    #[test]
    fn two_digit_years_at_the_turn_of_a_century() {
        // On 2000-01-01, "00" is 2000, not 1900.
        assert_eq!(
            parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT", 946_684_800),
            Some(946_684_800)
        );
    }
}
