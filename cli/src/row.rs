//! The NDJSON row of one URL: `{"url","status","bytes","ms","attempts","error"}`,
//! byte for byte what the JS CLI writes (`JSON.stringify` of the same object).
//!
//! Invariants: keys always present and in this order; `status` and `error`
//! are `null` when absent; `ms` is rounded to 0.1 and printed as JavaScript
//! prints numbers (`12`, `12.5`); strings are escaped as `JSON.stringify`
//! escapes them, so every row is one line of valid JSON.

use std::fmt::Write;

/// One finished URL.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The input line as written (trimmed).
    pub url: String,
    /// The final response's status; `None` when there was none.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// Milliseconds from the start of the URL's work to its end.
    pub ms: f64,
    /// Attempts sent.
    pub attempts: u32,
    /// Why there is no (complete) response.
    pub error: Option<String>,
}

impl Row {
    /// A row for a line that never reached the network.
    pub fn failed(url: impl Into<String>, error: impl Into<String>) -> Row {
        Row {
            url: url.into(),
            status: None,
            bytes: 0,
            ms: 0.0,
            attempts: 0,
            error: Some(error.into()),
        }
    }

    /// Appends the row and its `\n` to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push_str("{\"url\":");
        json_string(out, &self.url);
        out.push_str(",\"status\":");
        match self.status {
            Some(s) => {
                let _ = write!(out, "{s}");
            }
            None => out.push_str("null"),
        }
        let ms = (self.ms * 10.0).round() / 10.0;
        let _ = write!(
            out,
            ",\"bytes\":{},\"ms\":{},\"attempts\":{},\"error\":",
            self.bytes,
            if ms == 0.0 { 0.0 } else { ms },
            self.attempts
        );
        match &self.error {
            Some(e) => json_string(out, e),
            None => out.push_str("null"),
        }
        out.push_str("}\n");
    }
}

/// `s` as a JSON string literal, escaped as `JSON.stringify` does.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(row: &Row) -> String {
        let mut s = String::new();
        row.write_to(&mut s);
        s
    }

    #[test]
    fn as_json_stringify_writes_it() {
        let row = Row {
            url: "http://h/a\"b\\c\u{1}".into(),
            status: Some(200),
            bytes: 13,
            ms: 12.345,
            attempts: 1,
            error: None,
        };
        assert_eq!(
            text(&row),
            "{\"url\":\"http://h/a\\\"b\\\\c\\u0001\",\"status\":200,\"bytes\":13,\"ms\":12.3,\"attempts\":1,\"error\":null}\n"
        );
        let row = Row {
            ms: 7.0,
            ..Row::failed("x y", "invalid URL")
        };
        assert_eq!(
            text(&row),
            "{\"url\":\"x y\",\"status\":null,\"bytes\":0,\"ms\":7,\"attempts\":0,\"error\":\"invalid URL\"}\n"
        );
        let row = Row {
            ms: 0.04,
            ..Row::failed("é\t", "e")
        };
        assert!(text(&row).contains("\"url\":\"é\\t\",") && text(&row).contains("\"ms\":0,"));
    }
}
