//! The few Python `str` operations the reference applies to transaction text, with Python's answers:
//! `strip` (Unicode whitespace, including `\x1c`-`\x1f`), `split()` and `int()` of ASCII digits.
//! Where Python's Unicode rules would take more than a table (non-ASCII digits, case mappings), the
//! callers give the record back to the reference instead (`Defer`).

/// The record is left to the Python reference: it is rejected, or unusual enough that only the
/// reference's own code is sure to read it the same way.
#[derive(Debug)]
pub struct Defer;

pub type Parsed<T> = Result<T, Defer>;

/// `str.isspace()` for one character.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t'..='\r'
            | '\x1c'..='\x1f'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
    )
}

/// `text.strip()`.
pub fn strip(text: &str) -> &str {
    text.trim_matches(is_space)
}

/// `text.rstrip()`.
pub fn rstrip(text: &str) -> &str {
    text.trim_end_matches(is_space)
}

/// `text.split()`.
pub fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_space).filter(|part| !part.is_empty())
}

/// `text.isdigit()` for ASCII text; Defer for non-ASCII text, whose digits Python reads by Unicode rules.
pub fn is_digits(text: &str) -> Parsed<bool> {
    if !text.is_ascii() {
        return Err(Defer);
    }
    Ok(!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
}

/// `int(text)` of ASCII digits (what `is_digits` accepted), Defer beyond 18 digits (a Python int
/// that large would not survive `orjson.dumps`; the reference decides).
pub fn digits_value(text: &str) -> Parsed<i64> {
    let digits = text.trim_start_matches('0');
    if digits.len() > 18 {
        return Err(Defer);
    }
    Ok(digits
        .bytes()
        .fold(0i64, |value, b| value * 10 + i64::from(b - b'0')))
}

/// `int(text)` for a string, as Python reads it: surrounding whitespace, a sign, digits with single
/// underscores between them. None where Python raises ValueError; Defer for non-ASCII text.
pub fn py_int(text: &str) -> Parsed<Option<i64>> {
    let body = strip(text);
    if !body.is_ascii() {
        return Err(Defer);
    }
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let bytes = digits.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes[0].is_ascii_digit()
        && bytes[bytes.len() - 1].is_ascii_digit()
        && bytes.iter().all(|&b| b.is_ascii_digit() || b == b'_')
        && !digits.contains("__");
    if !well_formed {
        return Ok(None);
    }
    let value = if digits.contains('_') {
        digits_value(&digits.replace('_', ""))?
    } else {
        digits_value(digits)?
    };
    Ok(Some(if negative { -value } else { value }))
}

/// `modsecurity_model.port` of a string: `int(value)` when it lies in 0..=65535, else None.
pub fn port_of_str(text: &str) -> Parsed<Option<u16>> {
    Ok(match py_int(text) {
        Ok(Some(value)) => u16::try_from(value).ok(),
        Ok(None) => None,
        Err(Defer) => {
            // Past 18 digits the number is out of range whatever it is; non-ASCII text is Python's.
            if strip(text).is_ascii() {
                None
            } else {
                return Err(Defer);
            }
        }
    })
}

/// `text.split(separator)`, given where the separators start (in order, not overlapping) and their
/// length: the searches are memchr's, not `str::split`'s.
pub fn split_at(
    text: &str,
    mut separators: impl Iterator<Item = usize>,
    length: usize,
) -> impl Iterator<Item = &str> {
    let mut start = Some(0);
    std::iter::from_fn(move || {
        let from = start?;
        match separators.next() {
            Some(at) => {
                start = Some(at + length);
                Some(&text[from..at])
            }
            None => {
                start = None;
                Some(&text[from..])
            }
        }
    })
}

/// `text.split("\n")`.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    split_at(text, memchr::memchr_iter(b'\n', text.as_bytes()), 1)
}

/// `text[:n]` counted in characters, as Python slices.
pub fn prefix_chars(text: &str, n: usize) -> Option<&str> {
    text.char_indices().nth(n).map(|(i, _)| &text[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_reads_as_python() {
        assert_eq!(py_int(" +1_0 ").unwrap(), Some(10));
        assert_eq!(py_int("0080").unwrap(), Some(80));
        assert_eq!(py_int("1__0").unwrap(), None);
        assert_eq!(py_int("_1").unwrap(), None);
        assert_eq!(py_int("").unwrap(), None);
        assert_eq!(py_int("-5").unwrap(), Some(-5));
        assert!(py_int("٨٠").is_err());
        assert_eq!(port_of_str("99999999999999999999999").unwrap(), None);
        assert_eq!(port_of_str("65536").unwrap(), None);
        assert_eq!(port_of_str("\x1c443").unwrap(), Some(443));
    }

    #[test]
    fn strip_takes_unicode_whitespace() {
        assert_eq!(strip("\u{3000} a b\x1f\u{85}"), "a b");
        assert_eq!(split(" a\x1cb  c ").collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(prefix_chars("héllo", 2), Some("hé"));
        assert_eq!(prefix_chars("hé", 2), None);
    }

    #[test]
    fn lines_split_as_str_split() {
        for text in ["", "\n", "a", "a\n", "\na\n\nb", "中\n文"] {
            assert_eq!(
                lines(text).collect::<Vec<_>>(),
                text.split('\n').collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }
}
