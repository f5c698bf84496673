//! `Retry-After` parsing: delta-seconds and the three HTTP-date forms.

use core::time::Duration;

use proptest::prelude::*;
use weir::retry::{parse_http_date, parse_retry_after};

/// Sun, 06 Nov 1994 08:49:37 GMT
const NOV_6_1994: u64 = 784_111_777;

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const WEEKDAYS_LONG: [&str; 7] = [
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month, day) of a day count since 1970-01-01 (an independent
/// implementation of the inverse, for round trips).
fn civil(days: u64) -> (u64, u64, u64) {
    let (mut y, mut d) = (1970u64, days);
    loop {
        let len = if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            366
        } else {
            365
        };
        if d < len {
            break;
        }
        d -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let lens = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while d >= lens[m] {
        d -= lens[m];
        m += 1;
    }
    (y, m as u64 + 1, d + 1)
}

fn imf_fixdate(t: u64) -> String {
    let (y, m, d) = civil(t / 86_400);
    let s = t % 86_400;
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(t / 86_400 % 7) as usize],
        d,
        MONTHS[m as usize - 1],
        y,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

#[test]
fn delta_seconds() {
    assert_eq!(parse_retry_after("0", NOV_6_1994), Some(Duration::ZERO));
    assert_eq!(
        parse_retry_after("1", NOV_6_1994),
        Some(Duration::from_secs(1))
    );
    assert_eq!(
        parse_retry_after(" 120\t", NOV_6_1994),
        Some(Duration::from_secs(120))
    );
    assert_eq!(parse_retry_after("007", 0), Some(Duration::from_secs(7)));
    // Absurdly long delays saturate rather than fail (callers cap them).
    assert_eq!(
        parse_retry_after("99999999999999999999999", 0),
        Some(Duration::from_secs(u64::MAX))
    );
}

#[test]
fn negative_delays_mean_now() {
    assert_eq!(parse_retry_after("-5", NOV_6_1994), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("-", NOV_6_1994), None);
    assert_eq!(parse_retry_after("-x", NOV_6_1994), None);
}

#[test]
fn the_three_date_forms_agree() {
    let later = NOV_6_1994 + 90;
    for form in [
        "Sun, 06 Nov 1994 08:51:07 GMT",
        "Sunday, 06-Nov-94 08:51:07 GMT",
        "Sun Nov  6 08:51:07 1994",
        "Sun Nov 6 08:51:07 1994",
    ] {
        assert_eq!(parse_http_date(form, NOV_6_1994), Some(later), "{form}");
        assert_eq!(
            parse_retry_after(form, NOV_6_1994),
            Some(Duration::from_secs(90)),
            "{form}"
        );
    }
}

#[test]
fn whitespace_runs_count_as_one_space() {
    let later = Some(NOV_6_1994 + 90);
    assert_eq!(
        parse_http_date("  Sun,  06 Nov\t1994 08:51:07  GMT ", NOV_6_1994),
        later
    );
    assert_eq!(
        parse_http_date("Sunday,   06-Nov-94 08:51:07 GMT", NOV_6_1994),
        later
    );
}

#[test]
fn past_dates_mean_now() {
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOV_6_1994),
        Some(Duration::ZERO)
    );
}

#[test]
fn rfc850_two_digit_years_pick_the_century_within_50_years() {
    // "now" in 2026: 94 is 1994, 30 is 2030, 76 is 2076 (≤ 50 years ahead).
    let now_2026 = 1_779_000_000;
    let year = |s: &str| parse_http_date(s, now_2026).map(|t| civil(t / 86_400).0);
    assert_eq!(year("Sunday, 06-Nov-94 08:49:37 GMT"), Some(1994));
    assert_eq!(year("Monday, 01-Jan-30 00:00:00 GMT"), Some(2030));
    assert_eq!(year("Monday, 01-Jan-76 00:00:00 GMT"), Some(2076));
    assert_eq!(year("Monday, 01-Jan-77 00:00:00 GMT"), Some(1977));
}

#[test]
fn leap_days_and_leap_seconds() {
    assert!(parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT", 0).is_some());
    assert_eq!(parse_http_date("Thu, 29 Feb 2023 12:00:00 GMT", 0), None);
    assert_eq!(
        parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT", 0),
        Some(951_782_400)
    );
    assert_eq!(parse_http_date("Mon, 29 Feb 1900 00:00:00 GMT", 0), None);
    assert!(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT", 0).is_some());
}

#[test]
fn garbage_is_ignored() {
    for bad in [
        "",
        "   ",
        "soon",
        "1.5",
        "1e3",
        "+5",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 32 Dec 1994 08:49:37 GMT",
        "Sun, 00 Dec 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:60:00 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1969 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-94-1 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov 123 08:49:37 1994",
        "Sun Nov  6 08:49:37 94",
        "Sun, 06 Nov 1994 08:49:37 GMTZ",
        "Sunday, 06-Nov-94 08:49:37",
        "Sun, 06-Nov 1994 08:49:37 GMT",
        ", 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "١٢٣",
    ] {
        assert_eq!(parse_retry_after(bad, NOV_6_1994), None, "{bad:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn imf_fixdate_round_trips(t in 0u64..8_000_000_000, now in 0u64..8_000_000_000) {
        let text = imf_fixdate(t);
        prop_assert_eq!(parse_http_date(&text, now), Some(t), "{}", text);
        prop_assert_eq!(parse_retry_after(&text, now), Some(Duration::from_secs(t.saturating_sub(now))));
    }

    #[test]
    fn rfc850_and_asctime_round_trip(t in 0u64..4_000_000_000) {
        let (y, m, d) = civil(t / 86_400);
        let s = t % 86_400;
        let hms = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
        let rfc850 = format!("{}, {:02}-{}-{:02} {} GMT",
            WEEKDAYS_LONG[(t / 86_400 % 7) as usize], d, MONTHS[m as usize - 1], y % 100, hms);
        // "now" = the date itself: the century is unambiguous.
        prop_assert_eq!(parse_http_date(&rfc850, t), Some(t), "{}", rfc850);
        let asctime = format!("{} {} {:>2} {} {}",
            WEEKDAYS[(t / 86_400 % 7) as usize], MONTHS[m as usize - 1], d, hms, y);
        prop_assert_eq!(parse_http_date(&asctime, 0), Some(t), "{}", asctime);
    }

    #[test]
    fn any_text_parses_or_not_without_panicking(text in ".{0,40}", now in any::<u64>()) {
        let _ = parse_retry_after(&text, now);
    }

    #[test]
    fn delta_seconds_are_taken_verbatim(n in any::<u32>(), now in any::<u64>()) {
        prop_assert_eq!(parse_retry_after(&n.to_string(), now), Some(Duration::from_secs(u64::from(n))));
    }
}
