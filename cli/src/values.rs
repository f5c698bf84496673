//! Parsers for the values of `weir`'s options: rates (`20/s`,
//! `20/s,burst=5`), durations (`20s`, `none`), delay ranges (`0-300ms`),
//! headers (`Name: value`), bounded whole numbers.
//!
//! Invariants: every parser is pure (text in, value or message out); a
//! message says what was expected and quotes what was given, and clap puts
//! the option's name in front of it, so every bad value is named. The forms
//! accepted and their bounds are those of the JS CLI (js/cli/args.js): one
//! command line means the same thing to both binaries.

use std::time::Duration;

use weir::Quota;

/// The longest interval of a rate and the longest duration (`--timeout`,
/// `--delay`): 365 days.
pub const MAX_MS: f64 = 365.0 * 24.0 * 3_600_000.0;

/// A unit's length in milliseconds.
fn unit_ms(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" => 1.0,
        "s" | "sec" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" | "hr" => 3_600_000.0,
        _ => return None,
    })
}

/// Splits `text` into a leading decimal number (digits, optionally `.`
/// digits) and the rest, both trimmed. `None` when it does not start with one.
fn leading_number(text: &str) -> Option<(f64, &str)> {
    let t = text.trim_start();
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, rest) = t.split_at(end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') || num.matches('.').count() > 1
    {
        return None;
    }
    Some((num.parse().ok()?, rest.trim()))
}

/// A whole number from `min` to `max` (`_` separators allowed).
pub fn whole(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("expected a whole number, got '{text}'"));
    }
    match t.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be from {min} to {max}, got '{text}'")),
    }
}

/// A rate: `limit/interval` with an optional `,burst=N`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Units per interval, 1 to 2³²−1.
    pub limit: u32,
    /// The interval in milliseconds (> 0, at most [`MAX_MS`]).
    pub interval_ms: f64,
    /// Bursts of up to this many (default: `limit`).
    pub burst: Option<u32>,
}

impl Rate {
    /// The core's quota for this rate.
    pub fn quota(&self) -> Quota {
        let interval = Duration::from_secs_f64(self.interval_ms / 1000.0);
        let q = Quota::new(self.limit, interval).expect("checked by parse_rate");
        match self.burst {
            Some(b) => q.with_burst(b).expect("checked by parse_rate"),
            None => q,
        }
    }
}

/// `20/s`, `600/min`, `5/h`, `1/ms`, `10/2s`, each optionally followed by
/// `,burst=N` (default burst: the count, e.g. 20 for `20/s`).
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let expected = || {
        format!(
            "expected a rate like 20/s, 600/min, 5/h or 1/ms, optionally ',burst=N', got '{text}'"
        )
    };
    let (main, burst) = match text.split_once(',') {
        Some((m, b)) => (m, Some(b)),
        None => (text, None),
    };
    let (count, per) = main.split_once('/').ok_or_else(expected)?;
    let count = count.trim();
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(expected());
    }
    let per = per.trim();
    let (times, unit) = match leading_number(per) {
        Some((n, unit)) => (n, unit),
        None => (1.0, per),
    };
    let unit = unit_ms(unit).ok_or_else(expected)?;
    let limit = match count.parse::<u64>() {
        Ok(n) if (1..=u64::from(u32::MAX)).contains(&n) => n as u32,
        _ => {
            return Err(format!(
                "the count must be from 1 to {}, got '{text}'",
                u32::MAX
            ))
        }
    };
    let interval_ms = times * unit;
    // (NaN cannot come out of the parse: digits only.)
    if interval_ms <= 0.0 || interval_ms > MAX_MS {
        return Err(format!(
            "the interval must be positive and at most 365 days, got '{text}'"
        ));
    }
    let burst = match burst {
        None => None,
        Some(b) => {
            let b = b.trim();
            let n = b
                .strip_prefix("burst")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('='))
                .ok_or_else(expected)?;
            let n = whole(n, 1, u64::from(u32::MAX))
                .map_err(|m| format!("burst: {m} (in '{text}')"))?;
            Some(n as u32)
        }
    };
    Ok(Rate {
        limit,
        interval_ms,
        burst,
    })
}

/// `20s`, `500ms`, `2m`, `1h`, bare seconds `20` → milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<f64, String> {
    let expected = || format!("expected a duration like 20s, 500ms or 2m, got '{text}'");
    let (n, unit) = leading_number(text).ok_or_else(expected)?;
    let unit = if unit.is_empty() {
        1_000.0
    } else {
        unit_ms(unit).ok_or_else(expected)?
    };
    let ms = n * unit;
    if ms <= 0.0 || ms > MAX_MS {
        return Err(format!(
            "the duration must be positive and at most 365 days, got '{text}'"
        ));
    }
    Ok(ms)
}

/// `--timeout`: a duration, or `none` (no timeout).
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    if text.trim() == "none" {
        return Ok(None);
    }
    parse_duration_ms(text).map(|ms| Some(Duration::from_secs_f64(ms / 1000.0)))
}

/// `0-300ms`, `50ms`, `0-3s`, bare milliseconds → `(low, high)` in ms.
pub fn parse_delay_range(text: &str) -> Result<(f64, f64), String> {
    let expected = || format!("expected a delay range like 0-300ms or 2s, got '{text}'");
    let (lo, rest) = leading_number(text).ok_or_else(expected)?;
    let (hi, unit) = match rest.strip_prefix('-') {
        Some(r) => leading_number(r).ok_or_else(expected)?,
        None => (lo, rest),
    };
    let unit = match unit {
        "" => 1.0,
        "ms" => 1.0,
        "s" => 1_000.0,
        _ => return Err(expected()),
    };
    let (lo, hi) = (lo * unit, hi * unit);
    if hi < lo {
        return Err(format!("the range must be low-high, got '{text}'"));
    }
    if hi > MAX_MS {
        return Err(format!("the delay must be at most 365 days, got '{text}'"));
    }
    Ok((lo, hi))
}

/// `Name: value` → `(Name, value)`, the name a valid header token.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let bad = || format!("expected 'Name: value', got '{text}'");
    let (name, value) = text.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(bad());
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// An HTTP method: letters only, upper-cased.
pub fn parse_method(text: &str) -> Result<String, String> {
    let m = text.to_ascii_uppercase();
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!("expected a method like GET or HEAD, got '{text}'"));
    }
    Ok(m)
}

/// A number from `min` to `max` (e.g. `--429-rate`).
pub fn parse_number(text: &str, min: f64, max: f64) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "expected a number from {min} to {max}, got '{text}'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_with_units_multiples_and_bursts() {
        let r = parse_rate("20/s").unwrap();
        assert_eq!((r.limit, r.interval_ms, r.burst), (20, 1000.0, None));
        assert_eq!(parse_rate("600/min").unwrap().interval_ms, 60_000.0);
        assert_eq!(parse_rate("5/h").unwrap().interval_ms, 3_600_000.0);
        assert_eq!(parse_rate("1/ms").unwrap().interval_ms, 1.0);
        assert_eq!(parse_rate("10/2s").unwrap().interval_ms, 2000.0);
        assert_eq!(parse_rate("10/0.5s").unwrap().interval_ms, 500.0);
        let b = parse_rate("20/s,burst=5").unwrap();
        assert_eq!(b.burst, Some(5));
        assert_eq!(b.quota().burst(), 5);
        assert_eq!(parse_rate("20/s").unwrap().quota().burst(), 20);
        assert_eq!(parse_rate("20/s, burst = 40").unwrap().burst, Some(40));
        assert_eq!(parse_rate("4294967295/s").unwrap().limit, u32::MAX);
    }

    #[test]
    fn bad_rates_say_why() {
        for bad in [
            "0/s",
            "20",
            "20/fortnight",
            "-1/s",
            "x/s",
            "20/s,burst=0",
            "20/s,burst",
            "20/s,bust=3",
            "20/0s",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        let e = parse_rate("4294967296/s").unwrap_err();
        assert!(e.contains("4294967295"), "{e}");
        let e = parse_rate("5000000000/s").unwrap_err();
        assert!(e.contains("count"), "{e}");
        assert!(parse_rate("1/9999999h").unwrap_err().contains("365 days"));
    }

    #[test]
    fn durations_timeouts_delays() {
        assert_eq!(parse_duration_ms("20s").unwrap(), 20_000.0);
        assert_eq!(parse_duration_ms("500ms").unwrap(), 500.0);
        assert_eq!(parse_duration_ms("2m").unwrap(), 120_000.0);
        assert_eq!(parse_duration_ms("3").unwrap(), 3000.0);
        assert!(parse_duration_ms("0s").is_err());
        assert!(parse_duration_ms("soon").is_err());
        assert!(parse_duration_ms("9000h").is_err());
        assert_eq!(parse_timeout("none").unwrap(), None);
        assert_eq!(
            parse_timeout("400ms").unwrap(),
            Some(Duration::from_millis(400))
        );
        assert_eq!(parse_delay_range("0-300ms").unwrap(), (0.0, 300.0));
        assert_eq!(parse_delay_range("1-3s").unwrap(), (1000.0, 3000.0));
        assert_eq!(parse_delay_range("50").unwrap(), (50.0, 50.0));
        assert!(parse_delay_range("300-0ms").is_err());
    }

    #[test]
    fn headers_methods_numbers() {
        assert_eq!(
            parse_header("X-A:  b: c ").unwrap(),
            ("X-A".to_owned(), "b: c".to_owned())
        );
        assert!(parse_header("bad header: x").is_err());
        assert!(parse_header("no colon").is_err());
        assert_eq!(parse_method("head").unwrap(), "HEAD");
        assert!(parse_method("G E T").is_err());
        assert_eq!(whole("1_000", 1, 10_000).unwrap(), 1000);
        assert!(whole("1.5", 0, 100).is_err());
        assert!(whole("-3", 1, 100).is_err());
        assert!(whole("0", 1, 100).unwrap_err().contains("from 1 to 100"));
        assert!(parse_number("2", 0.0, 1.0).is_err());
        assert_eq!(parse_number("0.5", 0.0, 1.0).unwrap(), 0.5);
    }
}
