//! One audit record (one log line): its header and its key=value fields, decoded and named
//! (the port of `secops/sources/auditd/records.py`: auparse's reading and enrichment).
use std::borrow::Cow;

use super::doc::Text;
use super::pytext::{self, char_len, char_slice, first_space, space_at};
use super::tables::{signal_name, tables};

pub const NOT_AUDIT: &str =
    "not an audit record: expected 'type=TYPE msg=audit(SECONDS.MS:SERIAL):'";
/// How deep nested `msg='...'` values may go (Python stops near its recursion limit).
const MAX_NESTING: usize = 300;
const DROP: [&str; 4] = ["", "?", "?,", "(null)"];
const UNSET: [&str; 2] = ["4294967295", "-1"];
const COMMON: [&str; 8] = [
    "auid", "old-auid", "ses", "subj", "success", "res", "exit", "key",
];
const INTERPRETERS: [&str; 4] = [
    "/usr/bin/python",
    "/usr/bin/sh",
    "/usr/bin/bash",
    "/usr/bin/perl",
];
const LOST_SEPARATOR_NAMES: [&str; 20] = [
    "ARCH",
    "SYSCALL",
    "SADDR",
    "AUID",
    "UID",
    "GID",
    "EUID",
    "SUID",
    "FSUID",
    "EGID",
    "SGID",
    "FSGID",
    "OUID",
    "OGID",
    "OAUID",
    "NEW-AUID",
    "OLD-AUID",
    "SAUID",
    "INODE_UID",
    "INODE_GID",
];

pub fn recursion_error() -> String {
    "parser error: RecursionError: maximum recursion depth exceeded".to_owned()
}

/// An ordered string map with Python dict semantics (assigning an existing key keeps its place). The
/// second field is a Bloom filter (two 64-bit words, a bit in each per key) of the keys ever added, so
/// most lookups of absent keys scan nothing.
#[derive(Debug, Default, Clone)]
pub struct Fields<'a>(pub Vec<(Text<'a>, Text<'a>)>, [u64; 2]);

#[inline]
fn key_bits(key: &str) -> [u64; 2] {
    let bytes = key.as_bytes();
    let (first, last) = (
        bytes.first().copied().unwrap_or(0),
        bytes.last().copied().unwrap_or(0),
    );
    let second = bytes.get(1).copied().unwrap_or(0);
    let h = (bytes.len() as u32) << 24
        ^ u32::from(first) << 16
        ^ u32::from(second) << 8
        ^ u32::from(last);
    let h = h.wrapping_mul(0x9e37_79b9);
    [1 << (h >> 26), 1 << (h >> 20 & 63)]
}

impl<'a> Fields<'a> {
    pub fn with_capacity(capacity: usize) -> Self {
        Fields(Vec::with_capacity(capacity), [0; 2])
    }

    #[inline]
    fn position(&self, key: &str) -> Option<usize> {
        self.position_with(key, key_bits(key))
    }

    #[inline]
    fn position_with(&self, key: &str, [a, b]: [u64; 2]) -> Option<usize> {
        if self.1[0] & a == 0 || self.1[1] & b == 0 {
            return None;
        }
        self.0.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Text<'a>> {
        self.position(key).map(|i| &self.0[i].1)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub fn set(&mut self, key: impl Into<Text<'a>>, value: impl Into<Text<'a>>) {
        let key = key.into();
        let value = value.into();
        let bits = key_bits(&key);
        match self.position_with(&key, bits) {
            Some(i) => self.0[i].1 = value,
            None => {
                self.1[0] |= bits[0];
                self.1[1] |= bits[1];
                self.0.push((key, value));
            }
        }
    }

    /// Append a key known to be absent.
    pub fn push_new(&mut self, key: Text<'a>, value: Text<'a>) {
        let [a, b] = key_bits(&key);
        self.1[0] |= a;
        self.1[1] |= b;
        self.0.push((key, value));
    }

    pub fn remove(&mut self, key: &str) -> Option<Text<'a>> {
        let i = self.position(key)?;
        Some(self.0.remove(i).1)
    }

    /// `dict.update`.
    pub fn update(&mut self, other: Fields<'a>) {
        for (k, v) in other.0 {
            self.set(k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn into_owned(self) -> Fields<'static> {
        Fields(
            self.0.into_iter().map(|(k, v)| (own(k), own(v))).collect(),
            self.1,
        )
    }
}

fn own(text: Text<'_>) -> Text<'static> {
    Cow::Owned(text.into_owned())
}

/// A set of field names (the keys whose value was quoted).
#[derive(Debug, Default)]
pub struct Keys<'a>(Vec<Text<'a>>);

impl<'a> Keys<'a> {
    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|k| k == key)
    }

    fn add(&mut self, key: Text<'a>) {
        if !self.contains(&key) {
            self.0.push(key);
        }
    }

    fn discard(&mut self, key: &str) {
        self.0.retain(|k| k != key);
    }

    fn into_owned(self) -> Keys<'static> {
        Keys(self.0.into_iter().map(own).collect())
    }
}

/// A parsed audit record. `data` holds auparse-style interpreted values.
#[derive(Debug)]
pub struct Record<'a> {
    pub typ: &'a str,
    /// The seconds since the epoch; None beyond 2^64 (then no date exists for it).
    pub seconds: Option<u64>,
    pub millis: u32,
    pub sequence: Text<'a>,
    pub node: Option<&'a str>,
    pub data: Fields<'a>,
    pub tags: Vec<Text<'a>>,
    /// Enriched-format interpretations (`UID` → `root`).
    pub names: Fields<'a>,
}

struct Header<'a> {
    node: Option<&'a str>,
    typ: &'a str,
    seconds: &'a str,
    millis: &'a str,
    sequence: &'a str,
    end: usize,
}

/// `(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):?` at the start of `line` (Unicode classes).
fn header(line: &str) -> Option<Header<'_>> {
    let token = |from: usize| from + first_space(&line[from..]).unwrap_or(line.len() - from);
    let mut at = 0;
    let mut node = None;
    if line.starts_with("node=") {
        let end = token(5);
        if end == 5 || !line[end..].starts_with(' ') {
            return None;
        }
        node = Some(&line[5..end]);
        at = end + 1;
    }
    if !line[at..].starts_with("type=") {
        return None;
    }
    let type_start = at + 5;
    let type_end = token(type_start);
    if type_end == type_start || !line[type_end..].starts_with(" msg=audit(") {
        return None;
    }
    let mut at = type_end + " msg=audit(".len();
    let mut number = |close: char| -> Option<&str> {
        let start = at;
        let len: usize = line[at..]
            .chars()
            .take_while(|&c| pytext::decimal(c).is_some())
            .map(char::len_utf8)
            .sum();
        if len == 0 || !line[start + len..].starts_with(close) {
            return None;
        }
        at = start + len + 1;
        Some(&line[start..start + len])
    };
    let seconds = number('.')?;
    let millis = number(':')?;
    let sequence = number(')')?;
    let end = if line[at..].starts_with(':') {
        at + 1
    } else {
        at
    };
    Some(Header {
        node,
        typ: &line[type_start..type_end],
        seconds,
        millis,
        sequence,
        end,
    })
}

/// Parse one `type=... msg=audit(...)` line; Err(reason) when the header is not there.
pub fn parse_record(line: &str) -> Result<Record<'_>, String> {
    let line = pytext::strip(line);
    let h = header(line).ok_or_else(|| NOT_AUDIT.to_owned())?;
    let typ = h.typ;
    let body = &line[h.end..];
    let (body, names) =
        if memchr::memchr(0x1d, body.as_bytes()).is_some() || has_enriched_name(body) {
            split_enriched(body)
        } else {
            (body, Fields::default())
        };
    let (mut data, mut quoted) = if matches!(
        typ,
        "AVC" | "LOGIN" | "CRED_DISP" | "USER_START" | "USER_END"
    ) {
        match normalize(typ, body) {
            Cow::Borrowed(text) => extract(text, 0)?,
            Cow::Owned(text) => {
                let (data, quoted) = extract(&text, 0)?;
                (data.into_owned(), quoted.into_owned())
            }
        }
    } else {
        extract(body, 0)?
    };
    if typ == "EXECVE" && body.contains("_len=") {
        join_execve_pieces(body, &mut data, &mut quoted);
    }
    let tags = enrich(typ, &mut data, &quoted)?;
    let seconds_text = pytext::decimal_text(h.seconds);
    let seconds = if seconds_text.len() <= 20 {
        seconds_text.parse::<u64>().ok()
    } else {
        None
    };
    let mut millis = 0;
    let mut digits = h.millis.chars().filter_map(pytext::decimal);
    for _ in 0..3 {
        millis = millis * 10 + digits.next().unwrap_or(0);
    }
    Ok(Record {
        typ,
        seconds,
        millis,
        sequence: pytext::decimal_text(h.sequence),
        node: h.node,
        data,
        tags,
        names,
    })
}

/// `"UID=" in body or "ARCH=" in body or "SADDR=" in body`.
fn has_enriched_name(body: &str) -> bool {
    use memchr::memmem::Finder;
    static NAMES: std::sync::LazyLock<[Finder<'static>; 3]> = std::sync::LazyLock::new(|| {
        [
            Finder::new("UID="),
            Finder::new("ARCH="),
            Finder::new("SADDR="),
        ]
    });
    NAMES
        .iter()
        .any(|name| name.find(body.as_bytes()).is_some())
}

fn split_enriched(body: &str) -> (&str, Fields<'_>) {
    let (head, tail) = match memchr::memchr(0x1d, body.as_bytes()) {
        Some(sep) => (&body[..sep], &body[sep + 1..]),
        None => {
            if !has_enriched_name(body) {
                return (body, Fields::default());
            }
            match lost_separator(body) {
                Some(sep) if outside_quotes(&body[..sep]) => (&body[..sep], &body[sep..]),
                _ => return (body, Fields::default()),
            }
        }
    };
    let mut names = Fields::default();
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() {
            let mut j = i + 1;
            while j < bytes.len()
                && (bytes[j].is_ascii_uppercase() || bytes[j].is_ascii_digit() || bytes[j] == b'_')
            {
                j += 1;
            }
            if j + 1 < bytes.len() && bytes[j] == b'=' {
                let v = j + 1;
                let closed = if bytes[v] == b'"' {
                    memchr::memchr(b'"', &bytes[v + 1..]).map(|c| v + 1 + c + 1)
                } else {
                    None
                };
                let end =
                    closed.unwrap_or_else(|| v + first_space(&tail[v..]).unwrap_or(tail.len() - v));
                if end > v {
                    names.set(&tail[i..j], tail[v..end].trim_matches('"'));
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    (head, names)
}

/// `_LOST_SEPARATOR.search`: an enriched name glued to the previous value (`res=1AUID="bob"`).
fn lost_separator(body: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    (1..bytes.len()).find(|&p| {
        matches!(
            bytes[p],
            b'A' | b'S' | b'U' | b'G' | b'E' | b'F' | b'O' | b'N' | b'I'
        ) && LOST_SEPARATOR_NAMES
            .iter()
            .any(|name| body[p..].starts_with(name) && body[p + name.len()..].starts_with('='))
            && body[..p]
                .chars()
                .next_back()
                .is_some_and(|c| c != '=' && !pytext::is_space(c))
    })
}

fn outside_quotes(prefix: &str) -> bool {
    prefix.bytes().filter(|&b| b == b'"').count() % 2 == 0
        && prefix.bytes().filter(|&b| b == b'\'').count() % 2 == 0
}

/// Rewrite the few record layouts that are not plain key=value (as auparse does).
fn normalize<'a>(typ: &str, body: &'a str) -> Cow<'a, str> {
    match typ {
        "AVC" => match selinux_avc(body) {
            Some((result, perms, end)) => {
                let perms: Vec<&str> = pytext::split_ws(perms).collect();
                Cow::Owned(format!(
                    "seresult={result} seperms={} {}",
                    perms.join(","),
                    &body[end..]
                ))
            }
            None => Cow::Borrowed(body),
        },
        "LOGIN" => {
            if body.contains("old ") || body.contains("new ") {
                Cow::Owned(body.replacen("old ", "old_", 2).replacen("new ", "new_", 2))
            } else {
                Cow::Borrowed(body)
            }
        }
        _ => {
            const STRIPPED: [char; 2] = [')', '\''];
            if body.contains(" (hostname=") {
                Cow::Owned(
                    body.replacen(" (hostname=", " hostname=", 2)
                        .trim_end_matches(STRIPPED)
                        .to_owned(),
                )
            } else {
                Cow::Borrowed(body.trim_end_matches(STRIPPED))
            }
        }
    }
}

/// Length of the whitespace run at byte `i`.
fn spaces(s: &str, mut i: usize) -> usize {
    let start = i;
    while i < s.len() {
        let (space, len) = space_at(s, i);
        if !space {
            break;
        }
        i += len;
    }
    i - start
}

/// Python's `\w`: a letter, digit or underscore.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `avc:\s+(\w+)\s+\{\s*(.*?)\s*\}\s+for\s+` searched in `body`: (result, permissions, end of match).
fn selinux_avc(body: &str) -> Option<(&str, &str, usize)> {
    let mut from = 0;
    while let Some(found) = body[from..].find("avc:") {
        let start = from + found;
        from = start + 1;
        let mut at = start + 4;
        let gap = spaces(body, at);
        if gap == 0 {
            continue;
        }
        at += gap;
        let word: usize = body[at..]
            .chars()
            .take_while(|&c| is_word(c))
            .map(char::len_utf8)
            .sum();
        if word == 0 {
            continue;
        }
        let result = &body[at..at + word];
        at += word;
        let gap = spaces(body, at);
        if gap == 0 || !body[at + gap..].starts_with('{') {
            continue;
        }
        at += gap + 1;
        let content = at + spaces(body, at);
        let mut close_from = content;
        while let Some(offset) = body[close_from..].find('}') {
            let close = close_from + offset;
            close_from = close + 1;
            let gap = spaces(body, close + 1);
            if gap == 0 || !body[close + 1 + gap..].starts_with("for") {
                continue;
            }
            let after = close + 1 + gap + 3;
            let tail = spaces(body, after);
            if tail == 0 {
                continue;
            }
            let trailing = body[content..close].len()
                - body[content..close]
                    .trim_end_matches(pytext::is_space)
                    .len();
            return Some((result, &body[content..close - trailing], after + tail));
        }
    }
    None
}

/// Key/value pairs (nested `msg='...'` flattened) and the keys whose value was quoted (`_extract`).
fn extract(body: &str, depth: usize) -> Result<(Fields<'_>, Keys<'_>), String> {
    if depth > MAX_NESTING {
        return Err(recursion_error());
    }
    if memchr::memchr(b'\\', body.as_bytes()).is_none() {
        let found = match memchr::memchr(b'\'', body.as_bytes()) {
            None => words(&[body]),
            Some(quote)
                if quote >= 4
                    && body[..quote].ends_with("msg=")
                    && (quote == 4
                        || body[..quote - 4]
                            .chars()
                            .next_back()
                            .is_some_and(pytext::is_space)) =>
            {
                with_message(body, quote, depth)?
            }
            Some(_) => None,
        };
        if let Some(found) = found {
            return Ok(found);
        }
    }
    pairs(body, depth)
}

/// `_with_message`: `words` for a body with one `msg='` word (its quote at `quote`).
fn with_message(
    body: &str,
    quote: usize,
    depth: usize,
) -> Result<Option<(Fields<'_>, Keys<'_>)>, String> {
    let Some(end) = body[quote + 1..].find('\'').map(|e| quote + 1 + e) else {
        return Ok(words(&[&body[..quote - 4], &body[quote + 1..]]));
    };
    if body[end + 1..].contains('\'') {
        return Ok(None);
    }
    let (Some((mut data, mut quoted)), Some((after, after_quoted))) =
        (words(&[&body[..quote - 4]]), words(&[&body[end + 1..]]))
    else {
        return Ok(None);
    };
    let message = body[quote + 1..end].trim_matches(['\'', '"', ' ']);
    if !DROP.contains(&message) {
        merge(&mut data, &mut quoted, message, depth)?;
    }
    if !after.is_empty() {
        for (key, _) in &after.0 {
            quoted.discard(key);
        }
        data.update(after);
        for key in after_quoted.0 {
            quoted.add(key);
        }
    }
    Ok(Some((data, quoted)))
}

/// `_pairs`: auparse's regex over any text, the last of repeated keys winning.
fn pairs(body: &str, depth: usize) -> Result<(Fields<'_>, Keys<'_>), String> {
    let mut data = Fields::with_capacity(memchr::memchr_iter(b'=', body.as_bytes()).count());
    let mut quoted = Keys::default();
    let bytes = body.as_bytes();
    let is_key = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
    let mut i = 0;
    while i < bytes.len() {
        if !is_key(bytes[i]) || (i > 0 && is_key(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < bytes.len() && is_key(bytes[j]) {
            j += 1;
        }
        let Some(end) = (j < bytes.len() && bytes[j] == b'=')
            .then(|| kv_value(body, j + 1))
            .flatten()
        else {
            i = j;
            continue;
        };
        let key = &body[i..j];
        let raw = &body[j + 1..end];
        i = end;
        if matches!(raw.as_bytes()[0], b'\'' | b'"') {
            let value = raw.trim_matches(['\'', '"', ' ']);
            if DROP.contains(&value) {
                continue;
            }
            if key == "msg" {
                merge(&mut data, &mut quoted, value, depth)?;
                continue;
            }
            data.set(key, value);
            quoted.add(Cow::Borrowed(key));
        } else if !DROP.contains(&raw) {
            if key == "msg" {
                merge(&mut data, &mut quoted, raw, depth)?;
                continue;
            }
            data.set(key, raw);
            quoted.discard(key);
        }
    }
    Ok((data, quoted))
}

/// End of the value of `_KV` starting at byte `at`: `[^"'\s]+`, or a quoted string in which `\'` escapes
/// the quote (without a closing quote, the last escaped one closes it).
fn kv_value(body: &str, at: usize) -> Option<usize> {
    let bytes = body.as_bytes();
    let &first = bytes.get(at)?;
    if first == b'\'' || first == b'"' {
        let mut k = at + 1;
        let mut last_escape = None;
        while k < bytes.len() {
            match bytes[k] {
                b if b == first => return Some(k + 1),
                b'\\' if bytes.get(k + 1) == Some(&first) => {
                    last_escape = Some(k + 2);
                    k += 2;
                }
                _ => k += 1,
            }
        }
        return last_escape;
    }
    let mut k = at;
    while k < bytes.len() {
        let b = bytes[k];
        if b == b'\'' || b == b'"' {
            break;
        }
        let (space, len) = space_at(body, k);
        if space {
            break;
        }
        k += len;
    }
    (k > at).then_some(k)
}

/// `_words`: text of whitespace-separated words without `'` or `\` (the concatenation of `parts` with a
/// space between), read as the regex reads it; None where only the regex can decide.
fn words<'a>(parts: &[&'a str]) -> Option<(Fields<'a>, Keys<'a>)> {
    let mut data = Fields::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() / 10 + 4);
    let mut quoted = Keys::default();
    for part in parts {
        let bytes = part.as_bytes();
        let mut i = 0;
        loop {
            while i < bytes.len() {
                let (space, len) = space_at(part, i);
                if !space {
                    break;
                }
                i += len;
            }
            if i >= bytes.len() {
                break;
            }
            // One word: where its first `=` is and how many `"` it holds.
            let start = i;
            let mut eq = usize::MAX;
            let mut quotes = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b < 0x80 {
                    if pytext::is_ascii_space(b) {
                        break;
                    }
                    if b == b'=' && eq == usize::MAX {
                        eq = i;
                    } else if b == b'"' {
                        quotes += 1;
                    }
                    i += 1;
                } else {
                    let (space, len) = space_at(part, i);
                    if space {
                        break;
                    }
                    i += len;
                }
            }
            if eq == usize::MAX || eq + 1 == i {
                if quotes > 0 {
                    return None;
                }
                continue;
            }
            let key = &part[start..eq];
            let value = &part[eq + 1..i];
            if key.is_empty()
                || key == "msg"
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            {
                return None;
            }
            if value.as_bytes()[0] == b'"' {
                if quotes != 2 || !value.ends_with('"') {
                    return None;
                }
                let inner = &value[1..value.len() - 1];
                if DROP.contains(&inner) {
                    continue;
                }
                data.set(key, inner);
                quoted.add(Cow::Borrowed(key));
            } else {
                if quotes > 0 {
                    return None; // a quote inside an unquoted value
                }
                if !DROP.contains(&value) {
                    data.set(key, value);
                    quoted.discard(key);
                }
            }
        }
    }
    Some((data, quoted))
}

/// Flatten a nested `msg='k=v ...'` into the record's fields.
fn merge<'a>(
    data: &mut Fields<'a>,
    quoted: &mut Keys<'a>,
    message: &'a str,
    depth: usize,
) -> Result<(), String> {
    let (inner, inner_quoted) = extract(message, depth + 1)?;
    data.update(inner);
    for key in inner_quoted.0 {
        quoted.add(key);
    }
    Ok(())
}

/// Decimal digits as a comparable number: (length without leading zeros, digits).
type DecimalKey = (usize, String);

fn number_key(digits: &str) -> DecimalKey {
    let text = pytext::decimal_text(digits).into_owned();
    (text.len(), text)
}

/// Arguments longer than the kernel's record limit arrive as `a1_len=N a1[0]=.. a1[1]=..`.
fn join_execve_pieces<'a>(body: &'a str, data: &mut Fields<'a>, quoted: &mut Keys<'a>) {
    // Per argument (its number, in order of appearance): its pieces by index, the last of repeated ones.
    let mut pieces: Vec<(String, Vec<(DecimalKey, &'a str)>)> = Vec::new();
    let bytes = body.as_bytes();
    let mut i = 0;
    while let Some(found) = memchr::memchr(b'a', &bytes[i..]) {
        let start = i + found;
        i = start + 1;
        if body[..start].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let digits = |from: usize| -> usize {
            body[from..]
                .chars()
                .take_while(|&c| pytext::decimal(c).is_some())
                .map(char::len_utf8)
                .sum()
        };
        let arg_len = digits(start + 1);
        let arg_end = start + 1 + arg_len;
        if arg_len == 0 || !body[arg_end..].starts_with('[') {
            continue;
        }
        let index_len = digits(arg_end + 1);
        let index_end = arg_end + 1 + index_len;
        if index_len == 0 || !body[index_end..].starts_with("]=") {
            continue;
        }
        let value_start = index_end + 2;
        let value_end =
            value_start + first_space(&body[value_start..]).unwrap_or(body.len() - value_start);
        if value_end == value_start {
            continue;
        }
        let arg = pytext::decimal_text(&body[start + 1..arg_end]).into_owned();
        let index = number_key(&body[arg_end + 1..index_end]);
        let value = &body[value_start..value_end];
        match pieces.iter_mut().find(|(a, _)| *a == arg) {
            Some((_, parts)) => match parts.iter_mut().find(|(ix, _)| *ix == index) {
                Some(slot) => slot.1 = value,
                None => parts.push((index, value)),
            },
            None => pieces.push((arg, vec![(index, value)])),
        }
        i = value_end;
    }
    for (arg, mut parts) in pieces {
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        let joined: String = parts
            .iter()
            .map(|(_, value)| value.trim_matches('"'))
            .collect();
        let key = format!("a{arg}");
        quoted.discard(&key);
        data.remove(&format!("{key}_len"));
        data.set(key, joined);
    }
}

fn decode_hex(value: &str) -> String {
    pytext::decode_owned(pytext::upper_hex_bytes(value))
}

/// `value.split(":", 4)` as byte ranges.
fn context_parts(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = Some(0);
    let mut count = 0;
    std::iter::from_fn(move || {
        let from = start?;
        count += 1;
        let end = if count < 5 {
            memchr::memchr(b':', &text.as_bytes()[from..]).map(|e| from + e)
        } else {
            None
        };
        start = end.map(|e| e + 1);
        Some(from..end.unwrap_or(text.len()))
    })
}

fn split_context<'a>(data: &mut Fields<'a>, names: [&'static str; 5], key: &str) {
    let Some(value) = data.remove(key) else {
        return;
    };
    for (name, range) in names.into_iter().zip(context_parts(&value)) {
        let part = match &value {
            Cow::Borrowed(text) => Cow::Borrowed(&text[range]),
            Cow::Owned(text) => Cow::Owned(text[range].to_owned()),
        };
        data.set(name, part);
    }
}

const SUBJ: [&str; 5] = [
    "subj_user",
    "subj_role",
    "subj_domain",
    "subj_level",
    "subj_category",
];
const OBJ: [&str; 5] = [
    "obj_user",
    "obj_role",
    "obj_domain",
    "obj_level",
    "obj_category",
];

fn rule_keys<'a>(data: &mut Fields<'a>, quoted: &Keys<'a>) -> Vec<Text<'a>> {
    let Some(value) = data.remove("key") else {
        return Vec::new();
    };
    if !quoted.contains("key") && pytext::is_upper_hex(&value) {
        return decode_hex(&value)
            .split('\x01')
            .map(|part| Cow::Owned(part.to_owned()))
            .collect();
    }
    let tail = match value {
        Cow::Borrowed(text) => Cow::Borrowed(text.split_once('=').map_or(text, |(_, after)| after)),
        Cow::Owned(text) => Cow::Owned(
            text.split_once('=')
                .map_or(text.as_str(), |(_, after)| after)
                .to_owned(),
        ),
    };
    vec![tail]
}

/// Interpret the raw fields in place (auparse's enrichment order); return the rule keys.
fn enrich<'a>(
    typ: &str,
    data: &mut Fields<'a>,
    quoted: &Keys<'a>,
) -> Result<Vec<Text<'a>>, String> {
    let t = tables();
    let mut tags = Vec::new();
    if data.0.iter().any(|(k, _)| COMMON.contains(&k.as_ref())) {
        for key in ["auid", "old-auid", "ses"] {
            if data.get(key).is_some_and(|v| UNSET.contains(&v.as_ref())) {
                data.set(key, "unset");
            }
        }
        if data.contains("subj") {
            split_context(data, SUBJ, "subj");
        }
        if let Some(outcome) = data.remove("success").or_else(|| data.remove("res")) {
            let lowered = pytext::lower(&outcome);
            let success = lowered == "yes" || lowered == "1" || lowered.starts_with("suc");
            data.set("result", if success { "success" } else { "fail" });
        }
        if let Some(code) = data.get("exit").filter(|code| code.starts_with('-')) {
            let mut name = t.exit_names.get(code.as_ref());
            if name.is_none() && pytext::is_digit(&code[1..]) {
                let number = pytext::int_of_digits(&code[1..])?;
                name = t.errno.get(&pytext::saturating_value(&number));
            }
            if let Some(name) = name {
                data.set("exit", name.as_str());
            }
        }
        if data.contains("key") {
            tags = rule_keys(data, quoted);
        }
    }
    match typ {
        "SYSCALL" | "SECCOMP" => {
            if typ == "SECCOMP" {
                name_signal(data);
            }
            name_syscall(data);
        }
        "SOCKADDR" => {
            if let Some(saddr) = data.remove("saddr") {
                for (key, value) in parse_sockaddr(saddr) {
                    data.set(key, value);
                }
            }
        }
        "EXECVE" => decode_execve_arguments(data, quoted)?,
        "PATH" => split_context(data, OBJ, "obj"),
        _ => {}
    }
    let hex_fields: &[&str] = match typ {
        "SYSCALL" | "SECCOMP" => &["cwd", "exe", "comm"],
        "PROCTITLE" => &["cwd", "proctitle"],
        "USER_CMD" => &["cwd", "cmd"],
        "TTY" | "USER_TTY" => &["cwd", "data"],
        "PATH" => &["cwd", "name"],
        "USER_LOGIN" => &["cwd", "acct"],
        "ANOM_ABEND" | "ANOM_PROMISCUOUS" => &["cwd", "comm", "exe"],
        _ => &["cwd"],
    };
    for &key in hex_fields {
        if let Some(value) = data.get(key) {
            if !quoted.contains(key) && pytext::is_upper_hex(value) {
                let text = decode_hex(value).replace('\0', " ");
                data.set(key, text);
            }
        }
    }
    Ok(tags)
}

fn decode_execve_arguments(data: &mut Fields<'_>, quoted: &Keys<'_>) -> Result<(), String> {
    let argc = data.get("argc").map_or("", |v| v.as_ref());
    let count = if pytext::is_digit(argc) {
        number_key(&pytext::int_of_digits(argc)?)
    } else {
        (1, "0".to_owned())
    };
    for i in 0..data.0.len() {
        let (key, value) = &data.0[i];
        let Some(index) = key.strip_prefix('a') else {
            continue;
        };
        let canonical = !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
            && (index == "0" || !index.starts_with('0'));
        if !canonical
            || (index.len(), index.to_owned()) >= count
            || quoted.contains(key)
            || !pytext::is_upper_hex(value)
        {
            continue;
        }
        let mut raw = pytext::upper_hex_bytes(value);
        if let Some(nul) = raw.iter().position(|&b| b == 0) {
            raw.truncate(nul);
        }
        data.0[i].1 = Cow::Owned(pytext::decode_owned(raw).replace('\0', " "));
    }
    Ok(())
}

fn name_signal(data: &mut Fields<'_>) {
    let Some(sig) = data.get("sig").filter(|s| pytext::is_digit(s)) else {
        return;
    };
    let Ok(number) = pytext::int_of_digits(sig) else {
        return;
    };
    if number.len() <= 3 {
        if let Some(name) = signal_name(pytext::saturating_value(&number)) {
            data.set("sig", name);
        }
    }
}

fn name_syscall(data: &mut Fields<'_>) {
    let t = tables();
    let Some(arch) = data.get("arch") else { return };
    let Some(arch_name) = pytext::int_base(arch, 16).and_then(|n| t.arches.get(&n)) else {
        return;
    };
    data.set("arch", arch_name.as_str());
    if let Some(name) = data
        .get("syscall")
        .and_then(|n| t.syscalls.get(arch_name)?.get(n.as_ref()))
    {
        data.set("syscall", name.as_str());
    }
}

/// Decode a SOCKADDR `saddr` hex blob into family, address, port (or unix socket path).
fn parse_sockaddr(saddr: Text<'_>) -> Vec<(&'static str, Text<'_>)> {
    fn fallback(saddr: Text<'_>) -> Vec<(&'static str, Text<'_>)> {
        vec![("saddr", saddr)]
    }
    let family_text = format!("{}{}", char_slice(&saddr, 2, 4), char_slice(&saddr, 0, 2));
    let Some(family) = pytext::int_base(&family_text, 16) else {
        return fallback(saddr);
    };
    let port = |s: &str| pytext::int_base(char_slice(s, 4, 8), 16).map(|p| p.to_string());
    match family {
        1 => match pytext::from_hex(char_slice(&saddr, 4, usize::MAX)) {
            Some(mut raw) => {
                if let Some(nul) = raw.iter().position(|&b| b == 0) {
                    raw.truncate(nul);
                }
                vec![
                    ("family", "unix".into()),
                    ("path", pytext::decode_owned(raw).into()),
                ]
            }
            None => fallback(saddr),
        },
        2 if char_len(&saddr) >= 16 => {
            match (pytext::from_hex(char_slice(&saddr, 8, 16)), port(&saddr)) {
                (Some(octets), Some(port)) => {
                    let addr: Vec<String> = octets.iter().map(u8::to_string).collect();
                    vec![
                        ("family", "ipv4".into()),
                        ("addr", addr.join(".").into()),
                        ("port", port.into()),
                    ]
                }
                _ => fallback(saddr),
            }
        }
        10 if char_len(&saddr) >= 48 => {
            let address =
                pytext::from_hex(char_slice(&saddr, 16, 48)).filter(|raw| raw.len() == 16);
            let flow = pytext::int_base(char_slice(&saddr, 8, 16), 16);
            match (address, port(&saddr), flow) {
                (Some(raw), Some(port), Some(flow)) => {
                    let mut out = vec![
                        ("family", "ipv6".into()),
                        ("addr", ipv6_text(&raw).into()),
                        ("port", port.into()),
                    ];
                    if flow > 0 {
                        out.push(("flow", flow.to_string().into()));
                    }
                    out
                }
                _ => fallback(saddr),
            }
        }
        16 => vec![("family", "netlink".into()), ("saddr", saddr)],
        _ => vec![("family", family.to_string().into()), ("saddr", saddr)],
    }
}

/// `str(ipaddress.IPv6Address(raw))` (Python 3.11: the longest run of zero groups, if two or more, is `::`).
fn ipv6_text(raw: &[u8]) -> String {
    let groups: Vec<u16> = raw
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect();
    let (mut best_start, mut best_len, mut start, mut len) = (0, 0, 0, 0);
    for (i, &group) in groups.iter().enumerate() {
        if group == 0 {
            if len == 0 {
                start = i;
            }
            len += 1;
            if len > best_len {
                best_start = start;
                best_len = len;
            }
        } else {
            len = 0;
        }
    }
    let hex = |gs: &[u16]| {
        gs.iter()
            .map(|g| format!("{g:x}"))
            .collect::<Vec<_>>()
            .join(":")
    };
    if best_len > 1 {
        format!(
            "{}::{}",
            hex(&groups[..best_start]),
            hex(&groups[best_start + best_len..])
        )
    } else {
        hex(&groups)
    }
}

/// The default `summary.how`: the executable, or `comm` when it is an interpreter running a script.
pub fn how_default<'x, 'a>(data: &'x Fields<'a>) -> Option<&'x Text<'a>> {
    match data.get("exe") {
        None => data.get("comm"),
        Some(exe) if INTERPRETERS.iter().any(|p| exe.starts_with(p)) => {
            Some(data.get("comm").unwrap_or(exe))
        }
        Some(exe) => Some(exe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_record_is_named() {
        let line = r#"type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=-13 auid=4294967295 key="k" comm=6C73"#;
        let record = parse_record(line).expect("a record");
        assert_eq!(record.typ, "SYSCALL");
        assert_eq!(record.millis, 123);
        assert_eq!(record.sequence, "42");
        let get = |k: &str| record.data.get(k).map(|v| v.to_string());
        assert_eq!(get("arch").as_deref(), Some("x86_64"));
        assert_eq!(get("syscall").as_deref(), Some("execve"));
        assert_eq!(get("result").as_deref(), Some("success"));
        assert_eq!(get("exit").as_deref(), Some("EACCES"));
        assert_eq!(get("auid").as_deref(), Some("unset"));
        assert_eq!(get("comm").as_deref(), Some("ls"));
        assert_eq!(record.tags, ["k"]);
    }

    #[test]
    fn quoted_values_and_messages() {
        let (data, quoted) = extract(
            r#" pid=1 msg='op=PAM:session_open acct="root" res=success'"#,
            0,
        )
        .unwrap();
        let keys: Vec<&str> = data.0.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["pid", "op", "acct", "res"]);
        assert!(quoted.contains("acct") && !quoted.contains("op"));
        assert_eq!(kv_value(r"'a\'b", 0), Some(4));
        assert_eq!(kv_value("'ab", 0), None);
    }

    #[test]
    fn sockaddr_ipv6() {
        let out = parse_sockaddr("0A0001BB000000002001486048600000000000000000888800000000".into());
        assert_eq!(out[1].1, "2001:4860:4860::8888");
        assert_eq!(out[2].1, "443");
    }
}
