//! A borrowed JSON reader that keeps only the fields some rule reads.
//!
//! An event document is about a kilobyte, and a dataset's rules read a few dozen of its fields: building
//! the whole tree (as `orjson.loads` does) would cost more than matching. So the reader takes the
//! dataset's `Filter` (the trie of field paths its rules use) and skips every other value with a byte
//! scan; strings without escapes are borrowed from the text. Numbers keep Python's distinction of int
//! and float, as `orjson.loads` would make them. The kept objects and lists (and the rare unescaped
//! string) live in an arena the caller resets per event, so reading a document allocates nothing once
//! the arena has grown to the largest one: `Val` is `Copy` and is never dropped.
use bumpalo::collections::{String as ArenaString, Vec as ArenaVec};
use bumpalo::Bump;
use memchr::memchr2;

/// A JSON value as the Python reference sees it after `orjson.loads` (borrowing the text and the arena).
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(&'a str),
    Arr(&'a [Val<'a>]),
    Obj(&'a [(&'a str, Val<'a>)]),
}

impl<'a> Val<'a> {
    /// `dict.get(key)`: the last value of a repeated key (as a dict built from the text keeps it),
    /// None when absent or null.
    pub fn get(&self, key: &str) -> Option<&Val<'a>> {
        match self {
            Val::Obj(members) => members
                .iter()
                .rev()
                .find(|(k, _)| same(k.as_bytes(), key.as_bytes()))
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
    /// After `seal`: `children` sorted by key length, and where each length's run starts (keys longer
    /// than `SHORT` share the last run), so a key is compared only with the children as long as it.
    by_len: Vec<u16>,
    /// After `seal`: each child's `prefix`.
    heads: Vec<u64>,
}

const SHORT: usize = 32;

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
            self.children.push((key.to_string(), Filter { children: Vec::new(), whole: true, ..Filter::default() }));
        }
    }

    /// Index the children by key length (here and below); call once all paths are added.
    pub fn seal(&mut self) {
        self.children.sort_by_key(|(k, _)| k.len().min(SHORT + 1));
        self.by_len = (0..=SHORT + 2)
            .map(|n| self.children.partition_point(|(k, _)| k.len().min(SHORT + 1) < n) as u16)
            .collect();
        self.heads = self.children.iter().map(|(k, _)| prefix(k.as_bytes())).collect();
        self.children.iter_mut().for_each(|(_, child)| child.seal());
    }

    #[inline]
    pub fn child(&self, key: &str) -> Option<&Filter> {
        self.child_with(key, prefix(key.as_bytes()))
    }

    /// `child` with the key's `prefix` already read.
    #[inline]
    fn child_with(&self, key: &str, head: u64) -> Option<&Filter> {
        let key = key.as_bytes();
        if self.by_len.is_empty() {
            return self.children.iter().find(|(k, _)| same(k.as_bytes(), key)).map(|(_, f)| f);
        }
        let n = key.len().min(SHORT + 1);
        let (from, to) = (self.by_len[n] as usize, self.by_len[n + 1] as usize);
        (from..to)
            .find(|&i| self.heads[i] == head && (key.len() <= 8 || same(self.children[i].0.as_bytes(), key)))
            .map(|i| &self.children[i].1)
    }
}

/// A key's first eight bytes as one word (zero-padded): most keys differ there, and are no longer.
#[inline(always)]
fn prefix(key: &[u8]) -> u64 {
    key.iter().take(8).enumerate().fold(0, |word, (i, &b)| word | (b as u64) << (8 * i))
}

/// `prefix` of the `len` bytes at `start` of `bytes`, by one load where eight bytes are there to read.
#[inline(always)]
fn prefix_at(bytes: &[u8], start: usize, len: usize) -> u64 {
    match bytes.get(start..start + 8) {
        Some(eight) => {
            let word = u64::from_le_bytes(eight.try_into().expect("8 bytes"));
            if len >= 8 { word } else { word & ((1u64 << (8 * len)) - 1) }
        }
        None => prefix(&bytes[start..start + len.min(bytes.len() - start)]),
    }
}

/// Byte equality without a call to `memcmp` (keys are a few bytes long).
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` equal to `byte` (exact for the lowest one, which is all that is
/// read: a false bit only ever sits above a true one).
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (LOW * byte as u64);
    x.wrapping_sub(LOW) & !x & HIGH
}

/// The offset of the first quote or backslash: eight bytes at a time for the short strings most values
/// are, memchr (SIMD) past 64 bytes.
#[inline(always)]
fn quote_or_escape(rest: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at + 8 <= rest.len() {
        let word = u64::from_le_bytes(rest[at..at + 8].try_into().expect("8 bytes"));
        let found = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
        if at >= 64 {
            return memchr2(b'"', b'\\', &rest[at..]).map(|n| n + at);
        }
    }
    rest[at..].iter().position(|&b| b == b'"' || b == b'\\').map(|n| n + at)
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
    arena: &'a Bump,
}

pub type Parsed<T> = Result<T, String>;

/// The document in `text`, keeping what `filter` names (its containers in `arena`). It must be a JSON
/// object.
pub fn parse<'a>(text: &'a str, filter: &Filter, arena: &'a Bump) -> Parsed<Val<'a>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        arena,
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
        let mut members = ArenaVec::with_capacity_in(filter.map_or(4, |f| f.children.len().min(16)), self.arena);
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Val::Obj(members.into_bump_slice()));
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return self.fail("expected a key");
            }
            let start = self.at + 1;
            let key = self.string()?;
            let head = if self.at == start + key.len() + 1 {
                prefix_at(self.bytes, start, key.len())
            } else {
                prefix(key.as_bytes()) // unescaped into the arena
            };
            self.expect(b':')?;
            match filter {
                None => members.push((key, self.value(None)?)),
                Some(f) => match f.child_with(key, head) {
                    Some(child) => members.push((key, self.value(Some(child))?)),
                    None => self.skip()?,
                },
            }
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Val::Obj(members.into_bump_slice()));
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self, filter: Option<&Filter>) -> Parsed<Val<'a>> {
        self.at += 1;
        let mut items = ArenaVec::new_in(self.arena);
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Val::Arr(items.into_bump_slice()));
        }
        loop {
            // A path runs through lists element by element: each element is filtered alike.
            items.push(self.value(filter)?);
            self.space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Val::Arr(items.into_bump_slice()));
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

    /// The offset (from `from`) of the next quote or backslash.
    #[inline(always)]
    fn quote_or_escape(&self, from: usize) -> Option<usize> {
        quote_or_escape(&self.bytes[from..])
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

    fn string(&mut self) -> Parsed<&'a str> {
        self.at += 1;
        let start = self.at;
        match self.quote_or_escape(start) {
            None => self.fail("unterminated string"),
            Some(n) if self.bytes[start + n] == b'"' => {
                self.at = start + n + 1;
                Ok(&self.text[start..start + n])
            }
            Some(n) => {
                let mut out = ArenaString::from_str_in(&self.text[start..start + n], self.arena);
                self.at = start + n;
                self.escaped(&mut out)?;
                Ok(out.into_bump_str())
            }
        }
    }

    /// The rest of a string with escapes, from a backslash on.
    fn escaped(&mut self, out: &mut ArenaString<'a>) -> Parsed<()> {
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
        let arena = Bump::new();
        let doc = parse(r#"{"a": {"b": "x\"y", "z": [1, {"q": 2}]}, "c": [1, 2.5], "d": {"e": "f"}}"#, &filter, &arena).unwrap();
        let Val::Obj(top) = &doc else { panic!() };
        assert_eq!(top.len(), 2);
        let b = doc.get("a").unwrap().get("b").unwrap();
        assert!(matches!(b, Val::Str(s) if *s == "x\"y"));
        assert!(matches!(doc.get("c"), Some(Val::Arr(items)) if items.len() == 2));
    }

    #[test]
    fn skips_nested_containers_with_brackets_in_strings() {
        let mut filter = Filter::default();
        filter.add("keep");
        let text = r#"{"skip": {"a": ["]", "}", {"b": "\"}]"}], "c": [[1, 2], {}], "d": -1.5e3, "e": null},
                       "also": [true, "x\\"], "keep": "yes"}"#;
        let arena = Bump::new();
        let doc = parse(text, &filter, &arena).unwrap();
        let Val::Obj(top) = &doc else { panic!() };
        assert_eq!(top.len(), 1);
        assert!(matches!(doc.get("keep"), Some(Val::Str(s)) if *s == "yes"));
        assert!(parse(r#"{"skip": {"a": [1, 2}"#, &filter, &arena).is_err());
    }

    #[test]
    fn finds_the_first_quote_or_backslash_at_any_offset() {
        for length in 0..150 {
            for (end, byte) in [(length, b'"'), (length, b'\\')] {
                let mut text = vec![b'a'; length];
                text.push(byte);
                text.extend_from_slice(b"x\"");
                assert_eq!(quote_or_escape(&text), Some(end));
            }
            assert_eq!(quote_or_escape(&vec![b'\xe9'; length]), None);
        }
    }

    #[test]
    fn sealed_filters_find_keys_of_every_length() {
        let names = ["a", "ab", "event", "eventual", "event.id", "user_agent", "a_key_longer_than_thirty_two_bytes", "b_key_longer_than_thirty_two_bytes!"];
        let mut filter = Filter::default();
        for name in names {
            filter.add_literal(name);
        }
        filter.add("nested.inner");
        filter.seal();
        for name in names.iter().chain(["nested"].iter()) {
            assert!(filter.child(name).is_some(), "{name}");
        }
        for missing in ["", "b", "even", "eventua", "eventuals", "user_agenT", "a_key_longer_than_thirty_two_bytez"] {
            assert!(filter.child(missing).is_none(), "{missing}");
        }
        assert!(filter.child("nested").unwrap().child("inner").is_some());
        let arena = Bump::new();
        let text = r#"{"eventual": 1, "a_key_longer_than_thirty_two_bytes": "\u0041", "skip": [{"ab": 2}], "ab": true, "e\u0076ent": null}"#;
        let doc = parse(text, &filter, &arena).unwrap();
        let Val::Obj(top) = &doc else { panic!() };
        assert_eq!(top.len(), 4);
        assert!(matches!(top[3], ("event", Val::Null)));
        assert!(matches!(doc.get("a_key_longer_than_thirty_two_bytes"), Some(Val::Str("A"))));
    }

    #[test]
    fn unicode_escapes_and_numbers() {
        let mut filter = Filter::default();
        filter.add("s");
        filter.add("n");
        let arena = Bump::new();
        let doc = parse(r#"{"s": "\u00e9\ud83d\ude00", "n": 18446744073709551615}"#, &filter, &arena).unwrap();
        assert!(matches!(doc.get("s"), Some(Val::Str(s)) if *s == "é😀"));
        assert!(matches!(doc.get("n"), Some(Val::UInt(u64::MAX))));
    }
}
