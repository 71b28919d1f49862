//! `modsecurity.AuditFramer.feed`: a serial transaction from its A line to the Z line of the same
//! boundary is one frame (a new A cuts an open one short, and so does the end of input); any other
//! non-blank line outside a transaction is a frame by itself (JSON records, Concurrent index lines).
use memchr::memmem;

/// One record: where its first line starts in the input, and its lines joined with `\n`.
pub struct Frame {
    pub offset: u64,
    pub raw: Vec<u8>,
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
    if !chunk.contains(&b'\r') {
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

    fn take(&mut self) -> Option<Frame> {
        let (offset, _) = self.open.take()?;
        self.chunks = 0;
        Some(Frame {
            offset,
            raw: std::mem::take(&mut self.raw),
        })
    }

    /// Lines outside any transaction (none of them an A line): each non-blank one is a frame.
    fn single_lines(offset: u64, data: &[u8], done: &mut Vec<Frame>) {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let line = &data[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !is_blank(line) {
                done.push(Frame {
                    offset: offset + start as u64,
                    raw: line.to_vec(),
                });
            }
            start = end + 1;
        }
    }

    /// The frames a block of whole lines (starting at `offset`, ending with a newline) completes.
    pub fn feed(&mut self, offset: u64, data: &[u8], done: &mut Vec<Frame>) {
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
                        self.add(&data[begin..end]);
                        done.extend(self.take());
                        begin = end + 1;
                    }
                    continue; // another transaction's Z is content of this one
                }
                if start > begin {
                    self.add(&data[begin..start - 1]);
                }
                done.extend(self.take());
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

    pub fn finish(&mut self) -> Option<Frame> {
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
        done.into_iter().map(|f| (f.offset, f.raw)).collect()
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
    fn a_new_a_cuts_the_open_transaction() {
        let got = frames(&[b"--x-A--\nq\n--y-A--\n--y-Z--\n"]);
        assert_eq!(got, vec![(0, b"--x-A--\nq".to_vec()), (10, b"--y-A--\n--y-Z--".to_vec())]);
    }
}
