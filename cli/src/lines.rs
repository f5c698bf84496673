//! Lazy URL input: one URL a line from a file or stdin, cut from the bytes
//! as they are read, never the whole input in memory.
//!
//! Invariants:
//! - Line ends are readline's: `\n`, `\r\n` or a lone `\r`; a last line
//!   without an end counts. Lines are trimmed; blank lines and lines whose
//!   first character is `#` are skipped.
//! - Every byte is looked at once (memchr over the new bytes only): time is
//!   linear in the input whatever the line lengths.
//! - At most [`MAX_LINE`] bytes of one line are kept. A longer line becomes
//!   one [`Line::TooLong`] (its first characters and its length), read to its
//!   end and dropped, so memory stays bounded by the cap plus one read.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// The longest line kept: 1 MiB. Longer lines are rows with an error.
pub const MAX_LINE: usize = 1 << 20;

/// How many characters of a too-long line its row shows.
const PREFIX_CHARS: usize = 200;

/// One input line worth a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A trimmed, non-blank, non-comment line.
    Url(String),
    /// A line over [`MAX_LINE`] bytes: its first characters, its length.
    TooLong {
        /// The line's first characters (trimmed at the start), then `…`.
        prefix: String,
        /// Its length in bytes, line end excluded.
        bytes: u64,
    },
}

/// The pure part: bytes in ([`feed`](Self::feed) / [`finish`](Self::finish)),
/// lines out ([`next_line`](Self::next_line)).
#[derive(Debug)]
pub struct Splitter {
    buf: Vec<u8>,
    /// Start of the current line in `buf`.
    start: usize,
    /// Bytes before this index (from `start`) hold no line end.
    scanned: usize,
    /// The previous line ended with `\r`: a `\n` right after it belongs to it.
    after_cr: bool,
    /// Inside a too-long line: its prefix and the bytes seen so far.
    too_long: Option<(String, u64)>,
    ended: bool,
    max: usize,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl Splitter {
    /// A splitter keeping lines of up to `max` bytes.
    pub fn new(max: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            after_cr: false,
            too_long: None,
            ended: false,
            max,
        }
    }

    /// More input. Call [`next_line`](Self::next_line) until `None` first.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Only the unfinished line is left: move it to the front, once
            // per line (later reads append behind it).
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The input has ended: a last line without a line end counts.
    pub fn finish(&mut self) {
        self.ended = true;
    }

    /// Whether [`finish`](Self::finish) was called and every line was taken.
    pub fn is_done(&self) -> bool {
        self.ended && self.start == self.buf.len() && self.too_long.is_none()
    }

    /// The next line worth a row, or `None` when more input is needed (or,
    /// after `finish`, when there is none left).
    pub fn next_line(&mut self) -> Option<Line> {
        loop {
            if self.after_cr && self.start < self.buf.len() {
                if self.buf[self.start] == b'\n' {
                    self.start += 1;
                }
                self.after_cr = false;
            }
            let from = self.start.max(self.scanned);
            let end = match memchr::memchr2(b'\n', b'\r', &self.buf[from..]) {
                Some(i) => from + i,
                None => {
                    self.scanned = self.buf.len();
                    let pending = self.buf.len() - self.start;
                    if pending > self.max || (self.too_long.is_some() && pending > 0) {
                        self.spill();
                    }
                    if !self.ended {
                        return None;
                    }
                    if self.start == self.buf.len() && self.too_long.is_none() {
                        return None;
                    }
                    self.buf.len()
                }
            };
            let line = &self.buf[self.start..end];
            let out = match self.too_long.take() {
                Some((prefix, seen)) => Some(Line::TooLong {
                    prefix,
                    bytes: seen + line.len() as u64,
                }),
                None if line.len() > self.max => Some(Line::TooLong {
                    prefix: prefix_of(line),
                    bytes: line.len() as u64,
                }),
                None => {
                    let text = String::from_utf8_lossy(line);
                    let t = text.trim();
                    (!t.is_empty() && !t.starts_with('#')).then(|| t.to_owned())
                }
                .map(Line::Url),
            };
            if end < self.buf.len() {
                self.after_cr = self.buf[end] == b'\r';
                self.start = end + 1;
            } else {
                self.start = end;
            }
            self.scanned = self.start;
            if self.start == self.buf.len() {
                self.buf.clear();
                self.start = 0;
                self.scanned = 0;
            }
            if out.is_some() {
                return out;
            }
        }
    }

    /// Drop the kept part of a line that is over the cap, remembering its
    /// prefix and length.
    fn spill(&mut self) {
        let part = &self.buf[self.start..];
        match &mut self.too_long {
            Some((_, seen)) => *seen += part.len() as u64,
            None => self.too_long = Some((prefix_of(part), part.len() as u64)),
        }
        self.buf.clear();
        self.start = 0;
        self.scanned = 0;
    }
}

fn prefix_of(line: &[u8]) -> String {
    let head = &line[..line.len().min(PREFIX_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let mut p: String = text.trim_start().chars().take(PREFIX_CHARS).collect();
    p.push('…');
    p
}

/// Lines read lazily from `reader`, 64 KiB at a time.
#[derive(Debug)]
pub struct Lines<R> {
    reader: R,
    splitter: Splitter,
    chunk: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// Lines of `reader`.
    pub fn new(reader: R) -> Self {
        Lines {
            reader,
            splitter: Splitter::default(),
            chunk: vec![0; 64 * 1024],
        }
    }

    /// The next line worth a row; `Ok(None)` at the end of the input.
    pub async fn next(&mut self) -> io::Result<Option<Line>> {
        loop {
            if let Some(line) = self.splitter.next_line() {
                return Ok(Some(line));
            }
            if self.splitter.is_done() || self.splitter.ended {
                return Ok(None);
            }
            let n = self.reader.read(&mut self.chunk).await?;
            if n == 0 {
                self.splitter.finish();
            } else {
                self.splitter.feed(&self.chunk[..n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(input: &[u8], max: usize, chunk: usize) -> Vec<Line> {
        let mut s = Splitter::new(max);
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            s.feed(piece);
            while let Some(l) = s.next_line() {
                out.push(l);
            }
        }
        s.finish();
        while let Some(l) = s.next_line() {
            out.push(l);
        }
        assert!(s.is_done());
        out
    }

    fn urls(v: &[&str]) -> Vec<Line> {
        v.iter().map(|s| Line::Url((*s).to_owned())).collect()
    }

    #[test]
    fn line_ends_blanks_comments_any_chunking() {
        let input = b"# c\n a \r\nb\rc\r\r\n\n  \n#x\nd";
        for chunk in 1..=input.len() {
            assert_eq!(
                lines_of(input, 100, chunk),
                urls(&["a", "b", "c", "d"]),
                "chunk {chunk}"
            );
        }
        assert_eq!(lines_of(b"", 100, 1), urls(&[]));
        assert_eq!(lines_of(b"\r\n\r\n", 100, 1), urls(&[]));
        assert_eq!(lines_of(b"x\r", 100, 1), urls(&["x"]));
    }

    #[test]
    fn too_long_lines_are_one_item_and_the_next_line_survives() {
        let long = "h".repeat(50);
        let input = format!("a\n{long}\nb\n{long}");
        for chunk in [1, 7, 64, 1000] {
            let got = lines_of(input.as_bytes(), 20, chunk);
            assert_eq!(got.len(), 4, "chunk {chunk}: {got:?}");
            assert_eq!(got[0], Line::Url("a".into()));
            assert_eq!(got[2], Line::Url("b".into()));
            for l in [&got[1], &got[3]] {
                let Line::TooLong { prefix, bytes } = l else {
                    panic!("{l:?}")
                };
                assert_eq!(*bytes, 50, "chunk {chunk}");
                assert!(prefix.starts_with("hhhh") && prefix.ends_with('…'));
            }
        }
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        assert_eq!(
            lines_of(b"a\xffb\n", 100, 2),
            vec![Line::Url("a\u{fffd}b".into())]
        );
    }

    #[test]
    fn memory_is_bounded_by_the_cap() {
        let mut s = Splitter::new(1000);
        let block = [b'x'; 4096];
        for _ in 0..1000 {
            s.feed(&block);
            assert!(s.next_line().is_none());
            assert!(s.buf.capacity() <= 8192, "{}", s.buf.capacity());
        }
        s.feed(b"\nok\n");
        assert!(matches!(
            s.next_line(),
            Some(Line::TooLong {
                bytes: 4_096_000,
                ..
            })
        ));
        assert_eq!(s.next_line(), Some(Line::Url("ok".into())));
    }

    #[tokio::test]
    async fn reads_lazily_from_an_async_reader() {
        let data: &[u8] = b"http://a/1\nhttp://a/2\n";
        let mut l = Lines::new(data);
        assert_eq!(
            l.next().await.unwrap(),
            Some(Line::Url("http://a/1".into()))
        );
        assert_eq!(
            l.next().await.unwrap(),
            Some(Line::Url("http://a/2".into()))
        );
        assert_eq!(l.next().await.unwrap(), None);
        assert_eq!(l.next().await.unwrap(), None);
    }
}
