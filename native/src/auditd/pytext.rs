//! Python's text semantics where the reference parser relies on them: `str.isspace`, `str.split()`,
//! `str.isdigit`/`isdecimal`, `int(text, base)`, `bytes.fromhex`, `repr`, and `secops.events.decode`.
//! The reference reads Unicode text, so these differ from Rust's ASCII or Unicode notions in small ways
//! (U+001C..U+001F are whitespace in Python; `int` accepts Arabic-Indic digits, `_` and a `0x` prefix).
use std::borrow::Cow;

/// `str.isspace()` (Python 3.11, Unicode 14).
pub fn is_space(c: char) -> bool {
    matches!(c, '\t'..='\r' | '\x1c'..='\x20' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// `str.isspace()` for an ASCII byte.
#[inline]
pub fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x20)
}

/// Python's whitespace in one byte, for scanning UTF-8 text: ASCII whitespace, or the lead byte of a
/// character that must be decoded to tell (all non-ASCII whitespace starts with 0xC2, 0xE1, 0xE2 or 0xE3).
#[inline]
fn may_be_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | 0x1c..=0x20 | 0xc2 | 0xe1..=0xe3)
}

/// Whether the character starting at byte `i` of `s` is whitespace, and its length in bytes.
#[inline(always)]
pub fn space_at(s: &str, i: usize) -> (bool, usize) {
    let b = s.as_bytes()[i];
    if b < 0x80 {
        return (may_be_space(b), 1);
    }
    let c = s[i..].chars().next().unwrap_or('\0');
    (may_be_space(b) && is_space(c), c.len_utf8())
}

/// `str.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `not s.strip()`.
#[inline]
pub fn is_blank(s: &str) -> bool {
    match s.as_bytes().first() {
        None => true,
        Some(&b) if !may_be_space(b) => false,
        _ => strip(s).is_empty(),
    }
}

/// `str.split()`: the runs of non-whitespace.
pub fn split_ws(s: &str) -> SplitWhitespace<'_> {
    SplitWhitespace { s, at: 0 }
}

pub struct SplitWhitespace<'s> {
    s: &'s str,
    at: usize,
}

impl<'s> Iterator for SplitWhitespace<'s> {
    type Item = &'s str;

    fn next(&mut self) -> Option<&'s str> {
        let bytes = self.s.as_bytes();
        let mut i = self.at;
        while i < bytes.len() {
            let (space, len) = if may_be_space(bytes[i]) {
                space_at(self.s, i)
            } else {
                (false, 0)
            };
            if !space {
                break;
            }
            i += len;
        }
        if i >= bytes.len() {
            self.at = i;
            return None;
        }
        let start = i;
        while i < bytes.len() {
            if may_be_space(bytes[i]) {
                let (space, len) = space_at(self.s, i);
                if space {
                    break;
                }
                i += len;
            } else {
                i += 1;
            }
        }
        self.at = i;
        Some(&self.s[start..i])
    }
}

/// Byte index of the first whitespace character of `s`.
pub fn first_space(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !may_be_space(bytes[i]) {
            i += 1;
            continue;
        }
        let (space, len) = space_at(s, i);
        if space {
            return Some(i);
        }
        i += len;
    }
    None
}

/// The first character of each run of ten Unicode decimal digits (category Nd), as Python 3.11 knows them.
const DECIMAL_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// Characters for which `str.isdigit()` holds but `str.isdecimal()` does not (superscripts, circled digits).
const OTHER_DIGITS: [(u32, u32); 20] = [
    (0xb2, 0xb3),
    (0xb9, 0xb9),
    (0x1369, 0x1371),
    (0x19da, 0x19da),
    (0x2070, 0x2070),
    (0x2074, 0x2079),
    (0x2080, 0x2089),
    (0x2460, 0x2468),
    (0x2474, 0x247c),
    (0x2488, 0x2490),
    (0x24ea, 0x24ea),
    (0x24f5, 0x24fd),
    (0x24ff, 0x24ff),
    (0x2776, 0x277e),
    (0x2780, 0x2788),
    (0x278a, 0x2792),
    (0x10a40, 0x10a43),
    (0x10e60, 0x10e68),
    (0x11052, 0x1105a),
    (0x1f100, 0x1f10a),
];

/// The value of a decimal digit (`str.isdecimal()`), ASCII or not.
#[inline]
pub fn decimal(c: char) -> Option<u32> {
    let n = c as u32;
    if n < 0x80 {
        return c.to_digit(10);
    }
    let at = DECIMAL_ZEROS.partition_point(|&zero| zero <= n);
    (at > 0 && n - DECIMAL_ZEROS[at - 1] < 10).then(|| n - DECIMAL_ZEROS[at - 1])
}

fn is_digit_char(c: char) -> bool {
    decimal(c).is_some() || {
        let n = c as u32;
        n >= 0x80 && OTHER_DIGITS.iter().any(|&(a, b)| a <= n && n <= b)
    }
}

/// `str.isdigit()`.
pub fn is_digit(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_digit_char)
}

/// `str(int(s))` for text of decimal digits: the value without leading zeros, in ASCII.
pub fn decimal_text(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = s.trim_start_matches('0');
        return Cow::Borrowed(if trimmed.is_empty() {
            &s[s.len() - 1..]
        } else {
            trimmed
        });
    }
    let digits: String = s
        .chars()
        .filter_map(decimal)
        .map(|d| char::from(b'0' + d as u8))
        .collect();
    let trimmed = digits.trim_start_matches('0');
    Cow::Owned(if trimmed.is_empty() {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    })
}

/// `int(s)` for text that passed `str.isdigit()`: the ASCII digits, or the reason Python's ValueError gives.
pub fn int_of_digits(s: &str) -> Result<Cow<'_, str>, String> {
    if s.chars().all(|c| decimal(c).is_some()) {
        Ok(decimal_text(s))
    } else {
        Err(format!(
            "parser error: ValueError: invalid literal for int() with base 10: {}",
            repr(s)
        ))
    }
}

/// The numeric value of ASCII digits, saturating (`int(...)` compared against small numbers).
pub fn saturating_value(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    })
}

/// `int(text, base)` for base 8 or 16: None where Python raises ValueError. Out-of-range magnitudes
/// saturate (no caller distinguishes values beyond 2^100).
pub fn int_base(text: &str, base: u32) -> Option<i128> {
    // CPython first maps non-ASCII whitespace to ' ' and non-ASCII decimals to ASCII, failing on others.
    let mapped: Vec<u8>;
    let ascii: &[u8] = if text.bytes().all(|b| b < 127) {
        text.as_bytes()
    } else {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            if (c as u32) < 127 {
                out.push(c as u8);
            } else if is_space(c) {
                out.push(b' ');
            } else {
                out.push(b'0' + decimal(c)? as u8);
            }
        }
        mapped = out;
        &mapped
    };
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t'..=b'\r');
    let start = ascii.iter().position(|b| !is_ws(b))?;
    let end = ascii.iter().rposition(|b| !is_ws(b))? + 1;
    let mut s = &ascii[start..end];
    let negative = s[0] == b'-';
    if matches!(s[0], b'-' | b'+') {
        s = &s[1..];
    }
    let prefix = if base == 16 { b'x' } else { b'o' };
    let mut underscore_ok = false;
    if s.len() >= 2 && s[0] == b'0' && s[1].to_ascii_lowercase() == prefix {
        s = &s[2..];
        underscore_ok = true;
    }
    if s.is_empty() {
        return None;
    }
    let mut value: i128 = 0;
    let mut previous_underscore = false;
    let mut any = false;
    for &b in s {
        if b == b'_' {
            if previous_underscore || !(any || underscore_ok) {
                return None;
            }
            previous_underscore = true;
            continue;
        }
        let digit = (b as char).to_digit(base)?;
        value = value
            .saturating_mul(i128::from(base))
            .saturating_add(i128::from(digit))
            .min(1 << 100);
        previous_underscore = false;
        any = true;
    }
    if previous_underscore || !any {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// `bytes.fromhex(text)`: pairs of hex digits, ASCII whitespace skipped between pairs.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b' ' | b'\t'..=b'\r') {
            i += 1;
            continue;
        }
        let high = (bytes[i] as char).to_digit(16)?;
        let low = (*bytes.get(i + 1)? as char).to_digit(16)?;
        out.push((high * 16 + low) as u8);
        i += 2;
    }
    Some(out)
}

/// Upper-case hex bytes, `(?:[0-9A-F]{2})+`.
pub fn is_upper_hex(value: &str) -> bool {
    !value.is_empty()
        && value.len().is_multiple_of(2)
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

/// Bytes of text that passed `is_upper_hex`.
pub fn upper_hex_bytes(value: &str) -> Vec<u8> {
    let nibble = |b: u8| if b <= b'9' { b - b'0' } else { b - b'A' + 10 };
    value
        .as_bytes()
        .chunks_exact(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

/// `repr(text)` as Python prints it in error messages (printable non-ASCII kept; controls escaped).
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c != ' '
                && (is_space(c)
                    || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{feff}')) =>
            {
                let n = c as u32;
                out.push_str(&if n < 0x100 {
                    format!("\\x{n:02x}")
                } else {
                    format!("\\u{n:04x}")
                });
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str.lower()` (full Unicode case mapping; ASCII text, the usual case, is borrowed).
pub fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

pub use crate::text::decode;

/// `decode` into an owned-or-borrowed text with the lifetime of `raw`'s owner (for hex-decoded values).
pub fn decode_owned(raw: Vec<u8>) -> String {
    match String::from_utf8(raw) {
        Ok(text) => text,
        Err(err) => decode(err.as_bytes()).into_owned(),
    }
}

/// Python's `str[a:b]` by character positions (non-negative bounds, clamped).
pub fn char_slice(s: &str, start: usize, end: usize) -> &str {
    if s.is_ascii() {
        let len = s.len();
        return &s[start.min(len)..end.min(len).max(start.min(len))];
    }
    let at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    let (a, b) = (at(start), at(end));
    &s[a..b.max(a)]
}

/// `len(str)` in characters.
pub fn char_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_base_follows_python() {
        assert_eq!(int_base("0x1f", 16), Some(31));
        assert_eq!(int_base("0x_1f", 16), Some(31));
        assert_eq!(int_base("1_0", 8), Some(8));
        assert_eq!(int_base("1__0", 8), None);
        assert_eq!(int_base("\u{663}f", 16), Some(63));
        assert_eq!(int_base("\x1c7", 8), None);
        assert_eq!(int_base("\u{85}7", 8), Some(7));
        assert_eq!(int_base("0b1", 16), Some(0xb1));
        assert_eq!(int_base("-0", 8), Some(0));
        assert_eq!(int_base("0o7", 16), None);
    }

    #[test]
    fn whitespace_and_digits() {
        assert_eq!(
            split_ws(" a\x1cb\u{a0} c ").collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(strip("\x1d x \u{3000}"), "x");
        assert!(is_digit("\u{b2}") && int_of_digits("\u{b2}").is_err());
        assert_eq!(decimal_text("\u{661}\u{660}"), "10");
        assert_eq!(decimal_text("000"), "0");
    }

    #[test]
    fn hex_and_repr() {
        assert_eq!(from_hex("0a 0b"), Some(vec![10, 11]));
        assert_eq!(from_hex("0 a"), None);
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("a\u{b2}\x01"), "'a\u{b2}\\x01'");
    }
}
