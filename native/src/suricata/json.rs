//! JSON as orjson reads it: the same values (integers beyond 64 bits become floats, duplicate keys keep
//! their first place and last value) and the same error messages and positions (orjson reports yyjson's
//! messages), because the message is part of the dead-letter reason the Python reference gives.
//!
//! Values borrow their strings from the input where no escape had to be undone; objects are small
//! vectors, which is faster than a map for EVE's dozen keys per object and keeps insertion order.
use std::borrow::Cow;
use std::fmt::Write;

use crate::jsonw::{special, write_str};

/// The depth orjson allows (its patched yyjson refuses the 1025th nested container).
const DEPTH_LIMIT: usize = 1024;

#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// Every JSON integer orjson keeps as an int (-2^63 ..= 2^64-1).
    Int(i128),
    Float(f64),
    /// Text. A *borrowed* string never needs escaping in JSON: it is string content read from JSON
    /// text without escapes (or a slice of such), or a literal of this crate; it is written as it is.
    /// Anything else (built, decoded, or handed over by Python) is owned and escaped when written.
    Str(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
    /// A member removed from its object (removal leaves a tombstone rather than shifting the rest).
    Gone,
}

/// A JSON object: keys in insertion order, each once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object<'a>(pub Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Object<'a> {
    fn index(&self, key: &str) -> Option<usize> {
        self.0
            .iter()
            .position(|(k, v)| k == key && !matches!(v, Value::Gone))
    }

    /// The members, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&Cow<'a, str>, &Value<'a>)> {
        self.0
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Gone))
            .map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.index(key).map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value<'a>> {
        self.index(key).map(|i| &mut self.0[i].1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.index(key).is_some()
    }

    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        self.index(key)
            .map(|i| std::mem::replace(&mut self.0[i].1, Value::Gone))
    }

    /// `dict[key] = value`: a new key goes last, an existing one keeps its place.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        let key = key.into();
        match self.index(&key) {
            Some(i) => self.0[i].1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }

    pub fn str(&self, key: &str) -> Option<&Cow<'a, str>> {
        match self.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i128> {
        match self.get(key) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// Move a string out (it stays when it holds something else).
    pub fn take_str(&mut self, key: &str) -> Option<Cow<'a, str>> {
        let value = self.get_mut(key)?;
        if !matches!(value, Value::Str(_)) {
            return None;
        }
        match std::mem::replace(value, Value::Gone) {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Move an integer out (it stays when it holds something else).
    pub fn take_int(&mut self, key: &str) -> Option<i128> {
        let value = self.get_mut(key)?;
        let Value::Int(i) = *value else { return None };
        *value = Value::Gone;
        Some(i)
    }
}

impl<'a> Value<'a> {
    /// A literal or text built here (see `Str` on which borrowed strings are allowed).
    pub fn str(text: impl Into<Cow<'a, str>>) -> Self {
        Value::Str(text.into())
    }

    /// Python's `type(value).__name__`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Array(_) => "list",
            Value::Object(_) => "dict",
            Value::Gone => "NoneType",
        }
    }
}

// --- reading --------------------------------------------------------------------------------------------

/// A parse failure: yyjson's message and the byte position orjson reports it at.
#[derive(Debug, PartialEq)]
pub struct JsonError {
    pub msg: &'static str,
    pub pos: usize,
}

impl JsonError {
    /// orjson's `JSONDecodeError` text: `msg: line L column C (char P)`, positions in characters.
    pub fn describe(&self, text: &str) -> String {
        let before = &text.as_bytes()[..self.pos.min(text.len())];
        let pos = before.iter().filter(|&&b| (b & 0xC0) != 0x80).count();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = match before.iter().rposition(|&b| b == b'\n') {
            Some(newline) => {
                let newline_char = before[..newline]
                    .iter()
                    .filter(|&&b| (b & 0xC0) != 0x80)
                    .count();
                pos - newline_char
            }
            None => pos + 1,
        };
        format!(
            "{}: line {} column {} (char {})",
            self.msg, line, column, pos
        )
    }
}

const NOT_END: &str = "unexpected end of data";

/// Length and first bytes of a key: equal keys have equal signatures.
#[inline]
fn signature(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let mut head = [0u8; 8];
    let n = bytes.len().min(7);
    head[..n].copy_from_slice(&bytes[..n]);
    head[7] = bytes.len() as u8;
    u64::from_le_bytes(head)
}

/// Parse one JSON document the way `orjson.loads` does.
pub fn parse(text: &str) -> Result<Value<'_>, JsonError> {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return Err(JsonError {
            msg: "Input is a zero-length, empty document",
            pos: 0,
        });
    }
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(JsonError {
            msg: "UTF-8 byte order mark (BOM) is not supported",
            pos: 0,
        });
    }
    let mut reader = Reader {
        text,
        bytes,
        pos: 0,
        depth: 0,
        // Sized for an EVE record, so that reading one grows none of them.
        entries: Vec::with_capacity(64),
        signatures: Vec::with_capacity(64),
        items: Vec::with_capacity(16),
    };
    reader.skip_space();
    if reader.pos >= bytes.len() {
        return Err(JsonError {
            msg: "input data is empty",
            pos: 0,
        });
    }
    let value = reader.value().map_err(|e| reader.settle(e))?;
    reader.skip_space();
    if reader.pos < bytes.len() {
        return Err(JsonError {
            msg: "unexpected content after document",
            pos: reader.pos,
        });
    }
    Ok(value)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// Members of the objects being read, innermost last: each object is allocated once, at its size.
    entries: Vec<(Cow<'a, str>, Value<'a>)>,
    /// A cheap signature of each key in `entries`, to find repeated keys without comparing strings.
    signatures: Vec<u64>,
    /// Items of the arrays being read, likewise.
    items: Vec<Value<'a>>,
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

impl<'a> Reader<'a> {
    /// The byte at `i`, 0 past the end (yyjson reads a NUL-padded buffer).
    #[inline]
    fn at(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    /// An error found at or past the end of the input is reported as truncation, at the end.
    fn settle(&self, error: JsonError) -> JsonError {
        if error.pos >= self.bytes.len() {
            JsonError {
                msg: NOT_END,
                pos: self.bytes.len(),
            }
        } else {
            error
        }
    }

    #[inline]
    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value<'a>, JsonError> {
        match self.at(self.pos) {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => Ok(Value::Str(self.string()?)),
            b'-' | b'+' | b'.' | b'0'..=b'9' => self.number(),
            b't' => self.literal(
                b"true",
                "invalid literal, expected 'true'",
                Value::Bool(true),
            ),
            b'f' => self.literal(
                b"false",
                "invalid literal, expected 'false'",
                Value::Bool(false),
            ),
            b'n' => self.literal(b"null", "invalid literal, expected 'null'", Value::Null),
            _ => Err(JsonError {
                msg: "unexpected character, expected a JSON value",
                pos: self.pos,
            }),
        }
    }

    fn literal(
        &mut self,
        word: &[u8],
        msg: &'static str,
        value: Value<'a>,
    ) -> Result<Value<'a>, JsonError> {
        let rest = &self.bytes[self.pos..];
        if rest.starts_with(word) {
            self.pos += word.len();
            return Ok(value);
        }
        if word.starts_with(rest) {
            return Err(JsonError {
                msg: NOT_END,
                pos: self.bytes.len(),
            });
        }
        Err(JsonError { msg, pos: self.pos })
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > DEPTH_LIMIT {
            return Err(JsonError {
                msg: "depth limit exceeded",
                pos: self.pos + 1,
            });
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value<'a>, JsonError> {
        self.enter()?;
        self.pos += 1;
        let base = self.entries.len();
        let result = self.members(base);
        let members: Vec<_> = self.entries.drain(base..).collect();
        self.signatures.truncate(base);
        result?;
        self.depth -= 1;
        Ok(Value::Object(Object(members)))
    }

    fn members(&mut self, base: usize) -> Result<(), JsonError> {
        self.skip_space();
        if self.at(self.pos) == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if self.at(self.pos) != b'"' {
                return Err(JsonError {
                    msg: "unexpected character, expected a string key",
                    pos: self.pos,
                });
            }
            let key = self.string()?;
            self.skip_space();
            if self.at(self.pos) != b':' {
                return Err(JsonError {
                    msg: "unexpected character, expected ':' after key",
                    pos: self.pos,
                });
            }
            self.pos += 1;
            self.skip_space();
            let value = self.value()?;
            // A repeated key keeps its first place and takes the last value, as a Python dict does.
            let signature = signature(&key);
            let signatures = &self.signatures[base..];
            let repeated = (0..signatures.len())
                .filter(|&i| signatures[i] == signature)
                .find(|&i| self.entries[base + i].0 == key);
            match repeated {
                Some(i) => self.entries[base + i].1 = value,
                None => {
                    self.entries.push((key, value));
                    self.signatures.push(signature);
                }
            }
            self.skip_space();
            match self.at(self.pos) {
                b',' => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_space();
                    if self.at(self.pos) == b'}' {
                        return Err(JsonError {
                            msg: "trailing comma is not allowed",
                            pos: comma,
                        });
                    }
                }
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {
                    return Err(JsonError {
                        msg: "unexpected character, expected ',' or '}'",
                        pos: self.pos,
                    })
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value<'a>, JsonError> {
        self.enter()?;
        self.pos += 1;
        let base = self.items.len();
        let result = self.elements();
        let items: Vec<_> = self.items.drain(base..).collect();
        result?;
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    fn elements(&mut self) -> Result<(), JsonError> {
        self.skip_space();
        if self.at(self.pos) == b']' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let value = self.value()?;
            self.items.push(value);
            self.skip_space();
            match self.at(self.pos) {
                b',' => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_space();
                    if self.at(self.pos) == b']' {
                        return Err(JsonError {
                            msg: "trailing comma is not allowed",
                            pos: comma,
                        });
                    }
                }
                b']' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {
                    return Err(JsonError {
                        msg: "unexpected character, expected ',' or ']'",
                        pos: self.pos,
                    })
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let mut i = start;
        if self.at(i) == b'-' {
            i += 1;
        }
        if !self.at(i).is_ascii_digit() {
            return Err(JsonError {
                msg: "no digit after sign",
                pos: i,
            });
        }
        if self.at(i) == b'0' && self.at(i + 1).is_ascii_digit() {
            return Err(JsonError {
                msg: "number with leading zero is not allowed",
                pos: i,
            });
        }
        let mut magnitude: u64 = 0;
        let mut overflow = false;
        while self.at(i).is_ascii_digit() {
            let digit = (self.at(i) - b'0') as u64;
            match magnitude.checked_mul(10).and_then(|m| m.checked_add(digit)) {
                Some(m) => magnitude = m,
                None => overflow = true,
            }
            i += 1;
        }
        let mut integral = true;
        if self.at(i) == b'.' {
            integral = false;
            i += 1;
            if !self.at(i).is_ascii_digit() {
                return Err(JsonError {
                    msg: "no digit after decimal point",
                    pos: i,
                });
            }
            while self.at(i).is_ascii_digit() {
                i += 1;
            }
        }
        if matches!(self.at(i), b'e' | b'E') {
            integral = false;
            i += 1;
            if matches!(self.at(i), b'+' | b'-') {
                i += 1;
            }
            if !self.at(i).is_ascii_digit() {
                return Err(JsonError {
                    msg: "no digit after exponent sign",
                    pos: i,
                });
            }
            while self.at(i).is_ascii_digit() {
                i += 1;
            }
        }
        self.pos = i;
        let text = &self.text[start..i];
        if integral && !overflow {
            // orjson keeps -2^63 ..= 2^64-1 as ints; beyond, a float.
            if self.at(start) != b'-' {
                return Ok(Value::Int(magnitude as i128));
            }
            if magnitude <= 1 << 63 {
                return Ok(Value::Int(-(magnitude as i128)));
            }
        }
        let value: f64 = text.parse().map_err(|_| JsonError {
            msg: "invalid number",
            pos: start,
        })?;
        if value.is_infinite() {
            return Err(JsonError {
                msg: "number is infinity when parsed as double",
                pos: start,
            });
        }
        Ok(Value::Float(value))
    }

    /// A string starting at the opening quote at `self.pos`.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let start = self.pos + 1;
        let bytes = self.bytes;
        let i = special(bytes, start);
        match bytes.get(i) {
            None => {
                return Err(JsonError {
                    msg: NOT_END,
                    pos: bytes.len(),
                })
            }
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(Cow::Borrowed(&self.text[start..i]));
            }
            Some(b'\\') => {}
            Some(_) => {
                return Err(JsonError {
                    msg: "unexpected control character in string",
                    pos: i,
                })
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.text[start..i]);
        let mut run = i;
        let mut i = i;
        loop {
            i = special(bytes, i);
            match bytes.get(i) {
                None => {
                    return Err(JsonError {
                        msg: NOT_END,
                        pos: bytes.len(),
                    })
                }
                Some(b'"') => {
                    out.push_str(&self.text[run..i]);
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    out.push_str(&self.text[run..i]);
                    i = self.escape(i, &mut out)?;
                    run = i;
                }
                Some(_) => {
                    return Err(JsonError {
                        msg: "unexpected control character in string",
                        pos: i,
                    })
                }
            }
        }
    }

    /// Four hex digits at `at`; `None` when one is not a hex digit.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        if !digits.iter().all(|&b| is_hex(b)) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    }

    /// Undo the escape at `slash` (a backslash) into `out`; the position after it.
    fn escape(&self, slash: usize, out: &mut String) -> Result<usize, JsonError> {
        let invalid = |msg| JsonError { msg, pos: slash };
        let end = self.bytes.len();
        let simple = match self.at(slash + 1) {
            _ if slash + 1 >= end => {
                return Err(JsonError {
                    msg: NOT_END,
                    pos: end,
                })
            }
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => '\0',
            _ => return Err(invalid("invalid escaped sequence in string")),
        };
        if self.at(slash + 1) != b'u' {
            out.push(simple);
            return Ok(slash + 2);
        }
        let unit = match self.hex4(slash + 2) {
            Some(unit) => unit,
            None if truncated(&self.bytes[slash + 2..], &[HEX, HEX, HEX, HEX]) => {
                return Err(JsonError {
                    msg: NOT_END,
                    pos: end,
                })
            }
            None => return Err(invalid("invalid escaped sequence in string")),
        };
        if !(0xD800..0xE000).contains(&unit) {
            out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            return Ok(slash + 6);
        }
        // A surrogate: cut short anywhere inside a would-be pair is truncation, not a bad escape.
        if truncated(&self.bytes[slash..], &SURROGATE_PAIR) {
            return Err(JsonError {
                msg: NOT_END,
                pos: end,
            });
        }
        if unit >= 0xDC00 {
            return Err(invalid("invalid high surrogate in string"));
        }
        let low = slash + 6;
        if self.at(low) != b'\\' || self.at(low + 1) != b'u' {
            return Err(invalid("no low surrogate in string"));
        }
        let second = self
            .hex4(low + 2)
            .ok_or_else(|| invalid("invalid escape in string"))?;
        if !(0xDC00..0xE000).contains(&second) {
            return Err(invalid("invalid low surrogate in string"));
        }
        let code = 0x10000 + ((unit - 0xD800) << 10) + (second - 0xDC00);
        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
        Ok(low + 6)
    }
}

const HEX: &[u8] = b"0123456789abcdefABCDEF";
/// A surrogate pair escape, `\uD8xx\uDCxx`, place by place.
const SURROGATE_PAIR: [&[u8]; 12] = [
    b"\\",
    b"u",
    b"dD",
    b"89abcdefABCDEF",
    HEX,
    HEX,
    b"\\",
    b"u",
    b"dD",
    b"cdefCDEF",
    HEX,
    HEX,
];

/// Whether `rest` is a proper prefix of a sequence matching `pattern` (one set of bytes per place):
/// input cut short in the middle of something valid.
fn truncated(rest: &[u8], pattern: &[&[u8]]) -> bool {
    rest.len() < pattern.len()
        && rest
            .iter()
            .zip(pattern)
            .all(|(b, allowed)| allowed.contains(b))
}

// --- writing --------------------------------------------------------------------------------------------

/// Append `value` as compact JSON.
pub fn write(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Int(i) => write_int(out, *i),
        Value::Float(f) => write_float(out, *f),
        Value::Str(Cow::Borrowed(s)) => write_plain(out, s),
        Value::Str(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => write_object(out, object),
        Value::Gone => out.push_str("null"),
    }
}

pub fn write_object(out: &mut String, object: &Object<'_>) {
    out.push('{');
    for (n, (key, value)) in object.entries().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match key {
            Cow::Borrowed(key) => write_plain(out, key),
            Cow::Owned(key) => write_str(out, key),
        }
        out.push(':');
        write(out, value);
    }
    out.push('}');
}

pub fn write_int(out: &mut String, value: i128) {
    // Nearly every integer fits 64 bits, whose division is a multiplication; 128-bit division is a call.
    if let Ok(small) = u64::try_from(value) {
        write_u64(out, small);
        return;
    }
    let mut digits = [0u8; 40];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// The decimal digits of `value`.
pub fn write_u64(out: &mut String, value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

/// A float as JSON that reads back as the same float (and as a float, never an int).
fn write_float(out: &mut String, f: f64) {
    if f.is_finite() {
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

/// A string known to need no escaping.
#[inline]
fn write_plain(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    out.push_str(text);
    out.push('"');
}

#[cfg(test)]
mod tests {
use super::*;

    fn error(text: &str) -> String {
        parse(text)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.describe(text))
    }

    #[test]
    fn reads_values_as_orjson_does() {
        let value =
            parse(r#"{"a":1,"b":[true,null,-0.5,"x\u00e9\ud83d\ude00"],"a":18446744073709551616}"#)
                .unwrap();
        let Value::Object(object) = value else {
            panic!("object")
        };
        assert_eq!(object.entries().count(), 2);
        assert_eq!(object.get("a"), Some(&Value::Float(18446744073709551616.0)));
        let Some(Value::Array(items)) = object.get("b") else {
            panic!("array")
        };
        assert_eq!(items[3], Value::str("xé😀"));
        assert_eq!(
            parse("-9223372036854775808").unwrap(),
            Value::Int(-(1 << 63))
        );
        assert_eq!(
            parse("18446744073709551615").unwrap(),
            Value::Int(u64::MAX as i128)
        );
    }

    #[test]
    fn errors_match_orjson() {
        assert_eq!(
            error(""),
            "Input is a zero-length, empty document: line 1 column 1 (char 0)"
        );
        assert_eq!(error("  "), "input data is empty: line 1 column 1 (char 0)");
        assert_eq!(
            error(r#"{"a":"#),
            "unexpected end of data: line 1 column 6 (char 5)"
        );
        assert_eq!(
            error(r#"{"中":tru}"#),
            "invalid literal, expected 'true': line 1 column 6 (char 5)"
        );
        assert_eq!(
            error(r#"{"a":1,}"#),
            "trailing comma is not allowed: line 1 column 7 (char 6)"
        );
        assert_eq!(
            error(r#"{"a":-01}"#),
            "number with leading zero is not allowed: line 1 column 7 (char 6)"
        );
        assert_eq!(
            error(r#"{"a":.5}"#),
            "no digit after sign: line 1 column 6 (char 5)"
        );
        assert_eq!(
            error(r#"{"a":1e400}"#),
            "number is infinity when parsed as double: line 1 column 6 (char 5)"
        );
        assert_eq!(
            error(r#"{"a":"\ud800\udc0"#),
            "unexpected end of data: line 1 column 18 (char 17)"
        );
        assert_eq!(
            error(r#"{"a":"\ud800\ud80"#),
            "invalid escape in string: line 1 column 7 (char 6)"
        );
        assert_eq!(
            error(r#"{"a":"\ud800x"}"#),
            "no low surrogate in string: line 1 column 7 (char 6)"
        );
        assert_eq!(
            error("{\"a\":1,\n\"b\":x}"),
            "unexpected character, expected a JSON value: line 2 column 5 (char 12)"
        );
        assert_eq!(
            error("{} x"),
            "unexpected content after document: line 1 column 4 (char 3)"
        );
    }

    #[test]
    fn writes_json_that_reads_back() {
        let mut out = String::new();
        write(
            &mut out,
            &parse(r#"{"s":"a\"\\\n\u0001é","f":[1e300,0.1,-0.0,1.5e-7],"i":-3}"#).unwrap(),
        );
        assert_eq!(
            out,
            r#"{"s":"a\"\\\n\u0001é","f":[1e300,0.1,-0.0,1.5e-7],"i":-3}"#
        );
    }
}
