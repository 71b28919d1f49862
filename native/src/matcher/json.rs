//! A borrowed JSON reader that keeps only the fields some rule reads.
//!
//! An event document is about a kilobyte, and a dataset's rules read a few dozen of its fields: building
//! the whole tree (as `orjson.loads` does) would cost more than matching. So the reader takes the
//! dataset's `Filter` (the trie of field paths its rules use) and skips every other value with a byte
//! scan; strings without escapes are borrowed from the text. Numbers keep Python's distinction of int
//! and float, as `orjson.loads` would make them.
use std::borrow::Cow;

use memchr::memchr2;

/// A JSON value as the Python reference sees it after `orjson.loads`.
#[derive(Debug)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Arr(Vec<Val<'a>>),
    Obj(Vec<(Cow<'a, str>, Val<'a>)>),
}

impl<'a> Val<'a> {
    /// `dict.get(key)`: the last value of a repeated key (as a dict built from the text keeps it),
    /// None when absent or null.
    pub fn get(&self, key: &str) -> Option<&Val<'a>> {
        match self {
            Val::Obj(members) => members
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
                .filter(|v| !matches!(v, Val::Null)),
            _ => None,
        }
    }
}

/// Which parts of a document to keep: the children named, or (`whole`) everything below.
#[derive(Debug, Default)]
pub struct Filter {
    pub children: Vec<(String, Filter)>,
    pub whole: bool,
}

impl Filter {
    /// Add a dotted path; a path that ends at a node, or indexes a list (`process.args.1`), keeps its
    /// whole value.
    pub fn add(&mut self, path: &str) {
        let mut node = self;
        for part in path.split('.') {
            if node.whole {
                return;
            }
            if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                node.whole = true;
                node.children.clear();
                return;
            }
            let at = match node.children.iter().position(|(k, _)| k == part) {
                Some(at) => at,
                None => {
                    node.children.push((part.to_string(), Filter::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[at].1;
        }
        node.whole = true;
        node.children.clear();
    }

    /// Keep a top-level key spelled with dots (`"source.ip": ...`), which dotted access also reads.
    pub fn add_literal(&mut self, key: &str) {
        if !self.whole && !self.children.iter().any(|(k, _)| k == key) {
            self.children.push((key.to_string(), Filter { children: Vec::new(), whole: true }));
        }
    }

    pub fn child(&self, key: &str) -> Option<&Filter> {
        let first = key.as_bytes().first();
        self.children
            .iter()
            .find(|(k, _)| k.len() == key.len() && k.as_bytes().first() == first && k == key)
            .map(|(_, f)| f)
    }
}

/// The bytes a container skip stops at: quotes and brackets.
const STRUCTURAL: [bool; 256] = {
    let mut table = [false; 256];
    table[b'"' as usize] = true;
    table[b'{' as usize] = true;
    table[b'[' as usize] = true;
    table[b'}' as usize] = true;
    table[b']' as usize] = true;
    table
};

pub struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

pub type Parsed<T> = Result<T, String>;

/// The document in `text`, keeping what `filter` names. It must be a JSON object.
pub fn parse<'a>(text: &'a str, filter: &Filter) -> Parsed<Val<'a>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    reader.space();
    if reader.peek() != Some(b'{') {
        return Err("the document is not a JSON object".into());
    }
    let doc = reader.value(Some(filter))?;
    reader.space();
    if reader.at != reader.bytes.len() {
        return Err(format!("trailing data at byte {}", reader.at));
    }
    Ok(doc)
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Parsed<T> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn expect(&mut self, byte: u8) -> Parsed<()> {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            self.fail(&format!("expected {:?}", byte as char))
        }
    }

    /// One value; `filter` None keeps all of it.
    fn value(&mut self, filter: Option<&Filter>) -> Parsed<Val<'a>> {
        let filter = filter.filter(|f| !f.whole);
        self.space();
        match self.peek() {
            Some(b'{') => self.object(filter),
            Some(b'[') => self.array(filter),
            Some(b'"') => Ok(Val::Str(self.string()?)),
            Some(b't') => self.word("true", Val::Bool(true)),
            Some(b'f') => self.word("false", Val::Bool(false)),
            Some(b'n') => self.word("null", Val::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("unexpected character"),
        }
    }

    fn word(&mut self, word: &str, value: Val<'a>) -> Parsed<Val<'a>> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            self.fail("unexpected word")
        }
    }

    fn object(&mut self, filter: Option<&Filter>) -> Parsed<Val<'a>> {
        self.at += 1;
        let mut members = Vec::with_capacity(filter.map_or(4, |f| f.children.len().min(16)));
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Val::Obj(members));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return self.fail("expected a key");
            }
            let key = self.string()?;
            self.expect(b':')?;
            match filter {
                None => members.push((key, self.value(None)?)),
                Some(f) => match f.child(&key) {
                    Some(child) => members.push((key, self.value(Some(child))?)),
                    None => self.skip()?,
                },
            }
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Val::Obj(members));
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self, filter: Option<&Filter>) -> Parsed<Val<'a>> {
        self.at += 1;
        let mut items = Vec::new();
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Val::Arr(items));
        }
        loop {
            // A path runs through lists element by element: each element is filtered alike.
            items.push(self.value(filter)?);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Val::Arr(items));
                }
                _ => return self.fail("expected ',' or ']'"),
            }
        }
    }

    /// Past one value without keeping it: a container by jumping from one structural byte (quote,
    /// bracket) to the next, a scalar by scanning to its delimiter.
    fn skip(&mut self) -> Parsed<()> {
        self.space();
        match self.peek() {
            None => self.fail("unexpected end"),
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => self.skip_container(),
            Some(b'}' | b']') => self.fail("unbalanced bracket"),
            Some(b',' | b':') => self.fail("expected a value"),
            Some(_) => {
                // a number or a literal
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r' | b':') {
                        break;
                    }
                    self.at += 1;
                }
                Ok(())
            }
        }
    }

    /// Past a `{...}` or `[...]` (brackets counted, strings skipped whole; the inside is not validated).
    fn skip_container(&mut self) -> Parsed<()> {
        let mut depth = 0usize;
        loop {
            let rest = &self.bytes[self.at..];
            let Some(n) = rest.iter().position(|&b| STRUCTURAL[b as usize]) else {
                self.at = self.bytes.len();
                return self.fail("unexpected end");
            };
            self.at += n;
            match self.bytes[self.at] {
                b'"' => self.skip_string()?,
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                _ => {
                    depth -= 1;
                    self.at += 1;
                    if depth == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The offset (from `from`) of the next quote or backslash: a plain loop for the short strings
    /// most values are, memchr past 32 bytes.
    fn quote_or_escape(&self, from: usize) -> Option<usize> {
        let rest = &self.bytes[from..];
        let head = rest.len().min(32);
        match rest[..head].iter().position(|&b| b == b'"' || b == b'\\') {
            Some(n) => Some(n),
            None if head == rest.len() => None,
            None => memchr2(b'"', b'\\', &rest[head..]).map(|n| n + head),
        }
    }

    fn skip_string(&mut self) -> Parsed<()> {
        self.at += 1;
        loop {
            match self.quote_or_escape(self.at) {
                None => return self.fail("unterminated string"),
                Some(n) => {
                    self.at += n;
                    if self.bytes[self.at] == b'"' {
                        self.at += 1;
                        return Ok(());
                    }
                    self.at += 2;
                }
            }
        }
    }

    fn string(&mut self) -> Parsed<Cow<'a, str>> {
        self.at += 1;
        let start = self.at;
        match self.quote_or_escape(start) {
            None => self.fail("unterminated string"),
            Some(n) if self.bytes[start + n] == b'"' => {
                self.at = start + n + 1;
                Ok(Cow::Borrowed(&self.text[start..start + n]))
            }
            Some(n) => {
                let mut out = String::from(&self.text[start..start + n]);
                self.at = start + n;
                self.escaped(&mut out)?;
                Ok(Cow::Owned(out))
            }
        }
    }

    /// The rest of a string with escapes, from a backslash on.
    fn escaped(&mut self, out: &mut String) -> Parsed<()> {
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    let code = self.bytes.get(self.at + 1).copied();
                    self.at += 2;
                    match code {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => out.push(self.unicode()?),
                        _ => return self.fail("bad escape"),
                    }
                }
                Some(_) => {
                    let rest = &self.bytes[self.at..];
                    let n = memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                    out.push_str(&self.text[self.at..self.at + n]);
                    self.at += n;
                }
            }
        }
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or_else(|| format!("short \\u escape at byte {}", self.at))?;
        let code = u32::from_str_radix(digits, 16).map_err(|_| format!("bad \\u escape at byte {}", self.at))?;
        self.at += 4;
        Ok(code)
    }

    fn unicode(&mut self) -> Parsed<char> {
        let high = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.bytes[self.at..].starts_with(b"\\u") {
                return self.fail("lone surrogate");
            }
            self.at += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return self.fail("lone surrogate");
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| format!("lone surrogate at byte {}", self.at))
    }

    fn number(&mut self) -> Parsed<Val<'a>> {
        let start = self.at;
        let mut float = false;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => float = true,
                _ => break,
            }
            self.at += 1;
        }
        let text = &self.text[start..self.at];
        if float {
            return text
                .parse::<f64>()
                .map(Val::Float)
                .map_err(|_| format!("bad number {text:?}"));
        }
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Val::Int(n));
        }
        text.parse::<u64>()
            .map(Val::UInt)
            .map_err(|_| format!("integer {text:?} out of the 64-bit range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_filtered_fields() {
        let mut filter = Filter::default();
        filter.add("a.b");
        filter.add("c");
        let doc = parse(r#"{"a": {"b": "x\"y", "z": [1, {"q": 2}]}, "c": [1, 2.5], "d": {"e": "f"}}"#, &filter).unwrap();
        let Val::Obj(top) = &doc else { panic!() };
        assert_eq!(top.len(), 2);
        let b = doc.get("a").unwrap().get("b").unwrap();
        assert!(matches!(b, Val::Str(s) if s == "x\"y"));
        assert!(matches!(doc.get("c"), Some(Val::Arr(items)) if items.len() == 2));
    }

    #[test]
    fn skips_nested_containers_with_brackets_in_strings() {
        let mut filter = Filter::default();
        filter.add("keep");
        let text = r#"{"skip": {"a": ["]", "}", {"b": "\"}]"}], "c": [[1, 2], {}], "d": -1.5e3, "e": null},
                       "also": [true, "x\\"], "keep": "yes"}"#;
        let doc = parse(text, &filter).unwrap();
        let Val::Obj(top) = &doc else { panic!() };
        assert_eq!(top.len(), 1);
        assert!(matches!(doc.get("keep"), Some(Val::Str(s)) if s == "yes"));
        assert!(parse(r#"{"skip": {"a": [1, 2}"#, &filter).is_err());
    }

    #[test]
    fn unicode_escapes_and_numbers() {
        let mut filter = Filter::default();
        filter.add("s");
        filter.add("n");
        let doc = parse(r#"{"s": "\u00e9\ud83d\ude00", "n": 18446744073709551615}"#, &filter).unwrap();
        assert!(matches!(doc.get("s"), Some(Val::Str(s)) if s == "é😀"));
        assert!(matches!(doc.get("n"), Some(Val::UInt(u64::MAX))));
    }
}
