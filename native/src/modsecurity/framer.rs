//! `modsecurity.AuditFramer.feed`: a serial transaction from its A line to the Z line of the same
//! boundary is one frame (a new A cuts an open one short, and so does the end of input); any other
//! non-blank line outside a transaction is a frame by itself (JSON records, Concurrent index lines).
use std::borrow::Cow;

use memchr::memmem;

/// One record: where its first line starts in the input, and its lines joined with `\n` — borrowed
/// from the block when the record lies wholly in it with no CR to drop (the usual case), so the bytes
/// of a transaction are not copied.
pub struct Frame<'d> {
    pub offset: u64,
    pub raw: Cow<'d, [u8]>,
}

#[derive(Default)]
pub struct Framer {
    /// The open transaction: its offset, boundary and the text gathered so far.
    open: Option<(u64, Vec<u8>)>,
    raw: Vec<u8>,
    /// Runs of lines in `raw` (they are joined with `\n`, as the reference joins its list).
    chunks: usize,
}

/// `(boundary, letter)` of an A or Z line (`--<boundary>-<A|Z>--` then `[ \t\r\f\v]*`: `_EDGE_LINE`).
fn edge(line: &[u8]) -> Option<(&[u8], u8)> {
    let rest = line.strip_prefix(b"--")?;
    let length = rest.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    let after = rest.get(length..length + 4)?;
    let fits = length > 0
        && after[0] == b'-'
        && matches!(after[1], b'A' | b'Z')
        && &after[2..] == b"--"
        && rest[length + 4..]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c));
    fits.then(|| (&rest[..length], after[1]))
}

/// Lines cut from a block for the open transaction: each without the CR before its newline, and the
/// last without its CR (`_lines`).
fn push_lines(out: &mut Vec<u8>, chunk: &[u8]) {
    if memchr::memchr(b'\r', chunk).is_none() {
        out.extend_from_slice(chunk);
        return;
    }
    let mut rest = chunk;
    while let Some(i) = memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest.strip_suffix(b"\r").unwrap_or(rest));
}

/// Python's `bytes.strip()` leaves nothing.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

impl Framer {
    fn add(&mut self, chunk: &[u8]) {
        self.raw.reserve(chunk.len() + 1);
        if self.chunks > 0 {
            self.raw.push(b'\n');
        }
        push_lines(&mut self.raw, chunk);
        self.chunks += 1;
    }

    fn take(&mut self) -> Option<Frame<'static>> {
        let (offset, _) = self.open.take()?;
        self.chunks = 0;
        Some(Frame {
            offset,
            raw: Cow::Owned(std::mem::take(&mut self.raw)),
        })
    }

    /// The open transaction, ended by its last lines in this block (`rest`, None when it has none
    /// here): the block's own bytes when the whole transaction is in `rest` and has no CR.
    fn close<'d>(&mut self, rest: Option<&'d [u8]>) -> Option<Frame<'d>> {
        match rest {
            Some(rest) if self.chunks == 0 && memchr::memchr(b'\r', rest).is_none() => {
                let (offset, _) = self.open.take()?;
                Some(Frame { offset, raw: Cow::Borrowed(rest) })
            }
            Some(rest) => {
                self.add(rest);
                self.take()
            }
            None => self.take(),
        }
    }

    /// Lines outside any transaction (none of them an A line): each non-blank one is a frame.
    fn single_lines<'d>(offset: u64, data: &'d [u8], done: &mut Vec<Frame<'d>>) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let line = &data[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !is_blank(line) {
                done.push(Frame {
                    offset: offset + start as u64,
                    raw: Cow::Borrowed(line),
                });
            }
            start = end + 1;
        }
    }

    /// The frames a block of whole lines (starting at `offset`, ending with a newline) completes.
    pub fn feed<'d>(&mut self, offset: u64, data: &'d [u8], done: &mut Vec<Frame<'d>>) {
        let mut begin = 0; // where the text not yet framed or given to the open transaction starts
        let starts = data
            .starts_with(b"--")
            .then_some(0)
            .into_iter()
            .chain(memmem::find_iter(data, b"\n--").map(|i| i + 1));
        for start in starts {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            if end == data.len() {
                break; // `_EDGE_LINE` needs the newline after the line
            }
            let Some((boundary, letter)) = edge(&data[start..end]) else {
                continue;
            };
            if let Some((_, open)) = &self.open {
                if letter == b'Z' {
                    if boundary == open.as_slice() {
                        done.extend(self.close(Some(&data[begin..end])));
                        begin = end + 1;
                    }
                    continue; // another transaction's Z is content of this one
                }
                done.extend(self.close((start > begin).then(|| &data[begin..start - 1])));
            } else if letter == b'Z' {
                continue; // a stray Z is framed as a line of its own, below
            } else if start > begin {
                Self::single_lines(offset + begin as u64, &data[begin..start], done);
            }
            self.open = Some((offset + start as u64, boundary.to_vec()));
            begin = start; // the A line is the first line of the transaction's text
        }
        if begin < data.len() {
            if self.open.is_some() {
                self.add(&data[begin..data.len() - 1]);
            } else {
                Self::single_lines(offset + begin as u64, &data[begin..], done);
            }
        }
    }

    pub fn finish(&mut self) -> Option<Frame<'static>> {
        self.take()
    }

    pub fn pending_offset(&self) -> Option<u64> {
        self.open.as_ref().map(|(offset, _)| *offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(blocks: &[&[u8]]) -> Vec<(u64, Vec<u8>)> {
        let (mut framer, mut done, mut offset) = (Framer::default(), Vec::new(), 0);
        for block in blocks {
            framer.feed(offset, block, &mut done);
            offset += block.len() as u64;
        }
        done.extend(framer.finish());
        done.into_iter().map(|f| (f.offset, f.raw.into_owned())).collect()
    }

    #[test]
    fn transactions_span_blocks() {
        let whole: &[u8] = b"{\"a\":1}\r\n--x-A--\r\na\r\n--y-Z--\n--x-Z--\n\n--q-A--\nb\n";
        let want = vec![
            (0, b"{\"a\":1}".to_vec()),
            (9, b"--x-A--\na\n--y-Z--\n--x-Z--".to_vec()),
            (38, b"--q-A--\nb".to_vec()),
        ];
        assert_eq!(frames(&[whole]), want);
        assert_eq!(frames(&[&whole[..18], &whole[18..29], &whole[29..]]), want);
    }

    #[test]
    fn a_transaction_within_a_block_is_not_copied() {
        let mut done = Vec::new();
        let mut framer = Framer::default();
        framer.feed(0, b"--x-A--\na\n--x-Z--\n--y-A--\r\nb\r\n--y-Z--\n--z-A--\n", &mut done);
        framer.feed(46, b"c\n--z-Z--\n", &mut done);
        let borrowed: Vec<bool> = done.iter().map(|f| matches!(f.raw, Cow::Borrowed(_))).collect();
        assert_eq!(borrowed, [true, false, false]); // CRs dropped, and one across two blocks: copied
        assert_eq!(&*done[1].raw, b"--y-A--\nb\n--y-Z--");
    }

    #[test]
    fn a_new_a_cuts_the_open_transaction() {
        let got = frames(&[b"--x-A--\nq\n--y-A--\n--y-Z--\n"]);
        assert_eq!(got, vec![(0, b"--x-A--\nq".to_vec()), (10, b"--y-A--\n--y-Z--".to_vec())]);
    }
}
