//! Writing JSON strings, shared by the parsers: `"`, `\\` and control characters escaped, the rest of
//! the text as UTF-8. Plain runs are found eight bytes at a time.
use std::fmt::Write;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` that are zero, as their high bits (exact up to the first one).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The bytes of `word` that end a run of plain string content: `"`, `\\` or a control character.
#[inline]
fn special_bytes(word: u64) -> u64 {
    zero_bytes(word ^ (ONES * b'"' as u64))
        | zero_bytes(word ^ (ONES * b'\\' as u64))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
}

/// The first index from `i` holding `"`, `\\` or a control character (or the length), eight bytes at
/// a time.
#[inline]
pub fn special(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 8) {
        let found = special_bytes(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1F) {
        i += 1;
    }
    i
}

/// `text` as a JSON string.
pub fn write_str(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(text.len() + 2);
    out.push('"');
    let mut run = 0;
    let mut i = special(bytes, 0);
    while let Some(&b) = bytes.get(i) {
        out.push_str(&text[run..i]);
        // Two-character escapes pushed as characters: no call for the one or two bytes.
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0x08 => 'b',
            0x0C => 'f',
            _ => '\0',
        };
        if short == '\0' {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push('\\');
            out.push(short);
        }
        run = i + 1;
        i = special(bytes, run);
    }
    out.push_str(&text[run..]);
    out.push('"');
}
