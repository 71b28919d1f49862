//! One WAF transaction, whatever log format it came from, and its ECS document: the native twin of
//! `secops.sources.modsecurity_model` (`Transaction`, `RuleMatch`, `parse_message`, `parse_log_time`,
//! `to_doc`). The document is written as JSON text directly, stamped when a `Stamp` is given.
use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;

use super::pystr::{self, Defer, Parsed};
use crate::civil::{civil_from_days, days_from_civil};
use crate::jsonw::{write_ascii, write_str};

pub type Text<'a> = Cow<'a, str>;

const SEVERITIES: [&str; 8] = [
    "EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG",
];
/// Keys `parse_message` knows; the others it skips are unknown, and make a message's tail irregular.
const KEYS: [&str; 14] = [
    "file", "line", "id", "rev", "msg", "data", "severity", "ver", "maturity", "accuracy", "tag",
    "hostname", "uri", "unique_id",
];
const MAX_URL_IN_MESSAGE: usize = 200;
/// Where a message's metadata starts, what ends each of its parts, and the leads of the anomaly
/// scores (searchers built once).
static FILE_META: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(" [file \""));
static PART_END: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new("\"] ["));
static INBOUND: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new("Inbound Anomaly Score Exceeded ("));
static OUTBOUND: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new("Outbound Anomaly Score Exceeded ("));

/// A wall-clock time and its offset from UTC in seconds (the zone the log wrote it in).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moment {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
    pub offset: i64,
}

/// The request and response headers `to_doc` reads (lower-case names).
#[derive(Default)]
pub struct Headers<'a> {
    pub host: Option<Text<'a>>,
    pub user_agent: Option<Text<'a>>,
    pub referer: Option<Text<'a>>,
    pub content_type: Option<Text<'a>>,
    pub content_length: Option<Text<'a>>,
}

impl<'a> Headers<'a> {
    /// A header by its name as the reference lower-cases it (`name.lower()`): names with other than
    /// ASCII letters can only lower-case to one of the five read here through the Kelvin sign, which
    /// none of them holds, so they are passed over. `last` when a later header replaces an earlier one.
    pub fn offer(&mut self, name: &str, value: Text<'a>, last: bool) {
        if let Some(slot) = self.slot(name) {
            if last || slot.is_none() {
                *slot = Some(value);
            }
        }
    }

    /// Whether a header of this name is one `to_doc` reads.
    pub fn reads(&mut self, name: &str) -> bool {
        self.slot(name).is_some()
    }

    fn slot(&mut self, name: &str) -> Option<&mut Option<Text<'a>>> {
        let is = |target: &str| name.eq_ignore_ascii_case(target);
        Some(if is("host") {
            &mut self.host
        } else if is("user-agent") {
            &mut self.user_agent
        } else if is("referer") {
            &mut self.referer
        } else if is("content-type") {
            &mut self.content_type
        } else if is("content-length") {
            &mut self.content_length
        } else {
            return None;
        })
    }
}

/// One rule that matched (`RuleMatch`; its `text` is never in the document, so not kept).
#[derive(Default, Debug)]
pub struct Rule<'a> {
    pub id: Option<Text<'a>>,
    pub message: Option<Text<'a>>,
    pub severity: Option<Text<'a>>,
    pub data: Option<Text<'a>>,
    pub tags: Vec<Text<'a>>,
    pub file: Option<Text<'a>>,
    pub line: Option<i64>,
    pub version: Option<Text<'a>>,
}

pub struct Transaction<'a> {
    pub time: Moment,
    pub unique_id: Text<'a>,
    pub client_ip: Option<Text<'a>>,
    pub client_port: Option<u16>,
    pub server_ip: Option<Text<'a>>,
    pub server_port: Option<u16>,
    pub method: Option<Text<'a>>,
    pub uri: Option<Text<'a>>,
    pub http_version: Option<Text<'a>>,
    pub request: Headers<'a>,
    pub request_body_bytes: Option<i64>,
    pub status: Option<i64>,
    pub response: Headers<'a>,
    pub rules: Vec<Rule<'a>>,
    pub intercepted: bool,
    pub engine_mode: Option<Text<'a>>,
    pub producer: Option<Text<'a>>,
}

impl<'a> Transaction<'a> {
    pub fn new(time: Moment, unique_id: Text<'a>) -> Self {
        Transaction {
            time,
            unique_id,
            client_ip: None,
            client_port: None,
            server_ip: None,
            server_port: None,
            method: None,
            uri: None,
            http_version: None,
            request: Headers::default(),
            request_body_bytes: None,
            status: None,
            response: Headers::default(),
            rules: Vec::new(),
            intercepted: false,
            engine_mode: None,
            producer: None,
        }
    }

    /// `apply_request_line`: `GET /a?b HTTP/1.1` → method, uri, version (a URI with spaces kept whole).
    pub fn apply_request_line(&mut self, line: &'a str) {
        let first = line.find(' ');
        self.method = Some(&line[..first.unwrap_or(line.len())])
            .filter(|m| !m.is_empty())
            .map(Cow::Borrowed);
        let Some(first) = first else { return };
        let last = line.rfind(' ').unwrap_or(first);
        if last > first && line[last + 1..].starts_with("HTTP/") {
            self.uri = Some(Cow::Borrowed(&line[first + 1..last]));
            self.http_version = Some(Cow::Borrowed(&line[last + 6..]));
        } else {
            self.uri = Some(Cow::Borrowed(&line[first + 1..]));
        }
    }

    /// `apply_content_length`: a request's Content-Length is the body size its client declared.
    pub fn apply_content_length(&mut self) -> Parsed<()> {
        if let Some(length) = &self.request.content_length {
            if pystr::is_digits(length)? {
                self.request_body_bytes = Some(pystr::digits_value(length)?);
            }
        }
        Ok(())
    }
}

// --- messages -------------------------------------------------------------------------------------------

/// `severity_name` of a string: `CRITICAL` stays, `2` becomes `CRITICAL`, "" is None.
pub fn severity_name(value: &str) -> Parsed<Option<Text<'static>>> {
    if value.is_empty() {
        return Ok(None);
    }
    let text = pystr::strip(value);
    if pystr::is_digits(text)? {
        let number = text.trim_start_matches('0');
        let index = if number.len() > 1 {
            None
        } else {
            number.parse::<usize>().ok().or(Some(0))
        };
        return Ok(Some(match index {
            Some(i) if i < SEVERITIES.len() => Cow::Borrowed(SEVERITIES[i]),
            _ => Cow::Owned(text.to_owned()),
        }));
    }
    Ok(Some(Cow::Owned(text.to_ascii_uppercase())))
}

/// `_UNESCAPE.sub(r"\1", raw)`: `\"` and `\\` lose their backslash.
fn unescape(raw: &str) -> Text<'_> {
    if !raw.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(&next @ ('"' | '\\')) = chars.peek() {
                out.push(next);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// `_rule`: the rule from its `(key, has separator, value)` parts; None when a part is not
/// `known-key "value`.
fn rule_from<'a>(parts: impl Iterator<Item = (&'a str, bool, &'a str)>) -> Parsed<Option<Rule<'a>>> {
    let mut rule = Rule::default();
    let mut converted: Vec<(bool, &'a str)> = Vec::new();
    for (key, sep, raw) in parts {
        if !sep {
            return Ok(None);
        }
        match key {
            "tag" => rule.tags.push(unescape(raw)),
            "id" => rule.id = Some(unescape(raw)),
            "msg" => rule.message = Some(unescape(raw)),
            "data" => rule.data = Some(unescape(raw)),
            "file" => rule.file = Some(unescape(raw)),
            "ver" => rule.version = Some(unescape(raw)),
            "severity" | "line" => converted.push((key == "severity", raw)),
            _ if KEYS.contains(&key) => {}
            _ => return Ok(None),
        }
    }
    for (severity, raw) in converted {
        let value = unescape(raw);
        if severity {
            rule.severity = severity_name(&value)?;
        } else {
            rule.line = if pystr::is_digits(&value)? {
                Some(pystr::digits_value(&value)?)
            } else {
                None
            };
        }
    }
    Ok(Some(rule))
}

/// `text.split("\"] [")`.
fn split_parts(text: &str) -> impl Iterator<Item = &str> {
    pystr::split_at(text, PART_END.find_iter(text.as_bytes()), PART_END.needle().len())
}

/// `part.partition(" \"")` as `(key, found, value)` (keys are short: a plain search).
fn key_value(part: &str) -> (&str, bool, &str) {
    match part.as_bytes().windows(2).position(|pair| pair == b" \"") {
        Some(i) => (&part[..i], true, &part[i + 2..]),
        None => (part, false, ""),
    }
}

/// `parse_message`: a `Message:` line (without its prefix) → the rule it names and its metadata.
pub fn parse_message(text: &str) -> Parsed<Rule<'_>> {
    let start = FILE_META.find(text.as_bytes());
    if let Some(start) = start {
        let tail = pystr::rstrip(&text[start + 1..]);
        if tail.len() >= 3 && tail.starts_with('[') && tail.ends_with("\"]") {
            if let Some(rule) = rule_from(split_parts(&tail[1..tail.len() - 2]).map(key_value))? {
                return Ok(rule);
            }
        }
    }
    let found = meta_matches(text, start.unwrap_or(0));
    rule_from(found.into_iter().map(|(key, value)| (key, true, value)))?.ok_or(Defer)
}

/// `_META.finditer(text, from)`: every `[key "value"]` of a known key, values with `\x` escapes.
fn meta_matches(text: &str, from: usize) -> Vec<(&str, &str)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = from;
    while let Some(p) = memchr::memchr(b'[', &bytes[i..]) {
        let open = i + p;
        i = open + 1;
        let rest = &text[open + 1..];
        let Some(key) = KEYS
            .iter()
            .find(|k| rest.starts_with(**k) && rest[k.len()..].starts_with(" \""))
        else {
            continue;
        };
        let start = open + 1 + key.len() + 2;
        let mut j = start;
        let closed = loop {
            match bytes.get(j) {
                Some(b'"') => break bytes.get(j + 1) == Some(&b']'),
                Some(b'\\') => match bytes.get(j + 1) {
                    Some(&c) if c != b'\n' => j += 2,
                    _ => break false,
                },
                Some(_) => j += 1,
                None => break false,
            }
        };
        if closed {
            found.push((*key, &text[start..j]));
            i = j + 2;
        }
    }
    found
}

// --- times ----------------------------------------------------------------------------------------------

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

pub fn month_number(name: &str) -> Option<u32> {
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Plain ASCII digits only; anything else is left to the reference.
fn number(text: &str) -> Parsed<i64> {
    if pystr::is_digits(text)? {
        pystr::digits_value(text)
    } else {
        Err(Defer)
    }
}

/// A wall-clock date and time Python's `datetime` accepts (year 1000 on, so it prints four digits).
pub fn valid_civil(year: i64, month: u32, day: i64, hour: i64, minute: i64, second: i64) -> bool {
    (1000..=9999).contains(&year)
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year as i32, month) as i64
        && hour < 24
        && minute < 60
        && second < 60
}

/// `parse_log_time`: `22/Nov/2026:03:01:57.780932 +0800` (fraction optional). Only the plain form
/// is read here; the rest (and every rejection) is the reference's.
pub fn parse_log_time(text: &str) -> Parsed<Moment> {
    let stripped = pystr::strip(text);
    let (stamp, zone) = stripped.split_once(' ').ok_or(Defer)?;
    let mut parts = stamp.splitn(3, '/');
    let (day, month, rest) = (parts.next(), parts.next(), parts.next());
    let (Some(day), Some(month), Some(rest)) = (day, month, rest) else {
        return Err(Defer);
    };
    let clock: Vec<&str> = rest.split(':').collect();
    let [year, hour, minute, second] = clock[..] else {
        return Err(Defer);
    };
    let (whole, fraction) = second.split_once('.').unwrap_or((second, ""));
    let zb = zone.as_bytes();
    if zb.len() != 5 || !matches!(zb[0], b'+' | b'-') || !zb[1..].iter().all(u8::is_ascii_digit) {
        return Err(Defer);
    }
    let minutes = i64::from(zb[1] - b'0') * 600
        + i64::from(zb[2] - b'0') * 60
        + i64::from(zb[3] - b'0') * 10
        + i64::from(zb[4] - b'0');
    if minutes >= 24 * 60 {
        return Err(Defer);
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Defer);
    }
    // `int((fraction + "000000")[:6])`
    let micro = (fraction.bytes().chain(std::iter::repeat(b'0')).take(6))
        .fold(0, |value, digit| value * 10 + u32::from(digit - b'0'));
    let month = month_number(month).ok_or(Defer)?;
    let (year, day, hour, minute, whole) = (
        number(year)?,
        number(day)?,
        number(hour)?,
        number(minute)?,
        number(whole)?,
    );
    if !valid_civil(year, month, day, hour, minute, whole) {
        return Err(Defer);
    }
    Ok(Moment {
        year: year as i32,
        month,
        day: day as u32,
        hour: hour as u32,
        minute: minute as u32,
        second: whole as u32,
        micro,
        offset: if zb[0] == b'-' { -minutes * 60 } else { minutes * 60 },
    })
}

/// `_stamp`: `@timestamp` (UTC, microseconds, `Z`) and `event.timezone` (`+08:00`). Defer when the
/// UTC time leaves the years Python prints with four digits.
pub fn stamp(moment: &Moment) -> Parsed<(String, String)> {
    let date = (i64::from(moment.year), i64::from(moment.month), i64::from(moment.day));
    let local = days_from_civil(date.0, date.1, date.2) * 86_400
        + i64::from(moment.hour * 3600 + moment.minute * 60 + moment.second);
    let utc = local - moment.offset;
    let (year, month, day) = civil_from_days(utc.div_euclid(86_400));
    if !(1000..=9999).contains(&year) {
        return Err(Defer);
    }
    let secs = utc.rem_euclid(86_400) as u64;
    // `{year:04}-{month:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}.{micro:06}Z`
    let mut timestamp = String::with_capacity(27);
    let fields = [
        (year as u64, 4, '-'),
        (month as u64, 2, '-'),
        (day as u64, 2, 'T'),
        (secs / 3600, 2, ':'),
        (secs / 60 % 60, 2, ':'),
        (secs % 60, 2, '.'),
        (u64::from(moment.micro), 6, 'Z'),
    ];
    for (value, width, then) in fields {
        push_digits::<10>(&mut timestamp, value, width);
        timestamp.push(then);
    }
    let minutes = moment.offset.div_euclid(60);
    let mut zone = String::with_capacity(6);
    zone.push(if minutes >= 0 { '+' } else { '-' });
    push_digits::<10>(&mut zone, minutes.unsigned_abs() / 60, 2);
    zone.push(':');
    push_digits::<10>(&mut zone, minutes.unsigned_abs() % 60, 2);
    Ok((timestamp, zone))
}

/// `value` in base `RADIX` (10, or 16 in lower case), zero-padded to `width` digits: what `{:0width$}`
/// and `{:0width$x}` write for widths up to 20, without the formatting machinery (a few per document).
pub fn push_digits<const RADIX: u64>(out: &mut String, mut value: u64, width: usize) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = DIGITS[(value % RADIX) as usize];
        value /= RADIX;
        if value == 0 {
            break;
        }
    }
    let start = start.min(digits.len().saturating_sub(width));
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// `value` in decimal.
fn push_int(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    push_digits::<10>(out, value.unsigned_abs(), 1);
}

// --- the document ---------------------------------------------------------------------------------------

/// What the pipeline's `Stamper` adds to a document.
pub struct Stamp<'s> {
    pub id: &'s str,
    pub dataset: &'s str,
    pub original: Option<&'s str>,
    pub label: &'s str,
    pub offset: u64,
    pub observer: &'s str,
}

/// The parts of a written document the caller needs besides its text.
pub struct Written {
    pub timestamp: String,
    pub message: String,
}

/// Writes `"key":` after a comma unless it opens its object.
struct Object<'o> {
    out: &'o mut String,
    first: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut String) -> Self {
        out.push('{');
        Object { out, first: true }
    }

    /// Inlined everywhere: each name is a literal, so its copy needs no call.
    #[inline(always)]
    fn key(&mut self, name: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    #[inline(always)]
    fn str(&mut self, name: &str, value: &str) {
        write_str(self.key(name), value);
    }

    /// A string written in ASCII (`jsonw::write_ascii`).
    #[inline(always)]
    fn ascii(&mut self, name: &str, value: &str) {
        write_ascii(self.key(name), value);
    }

    #[inline(always)]
    fn opt_str(&mut self, name: &str, value: &Option<Text<'_>>) {
        match value {
            Some(value) => self.str(name, value),
            None => self.key(name).push_str("null"),
        }
    }

    #[inline(always)]
    fn int(&mut self, name: &str, value: i64) {
        push_int(self.key(name), value);
    }

    #[inline(always)]
    fn bool(&mut self, name: &str, value: bool) {
        self.key(name).push_str(if value { "true" } else { "false" });
    }

    #[inline(always)]
    fn strs<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v str>) {
        write_strs(self.key(name), values);
    }

    /// A value already written as JSON.
    #[inline(always)]
    fn json(&mut self, name: &str, json: &str) {
        self.key(name).push_str(json);
    }

    #[inline(always)]
    fn object(&mut self, name: &str) -> Object<'_> {
        Object::open(self.key(name))
    }

    fn close(self) {
        self.out.push('}');
    }
}

/// A JSON array of strings.
fn write_strs<'v>(out: &mut String, values: impl IntoIterator<Item = &'v str>) {
    out.push('[');
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, value);
    }
    out.push(']');
}

/// The first decimal number after any of `prefixes`, at the first place one of them matches with
/// digits after it (what `re.search` finds for `_INBOUND` and `_OUTBOUND`).
fn score_after(message: &str, lead: &memmem::Finder<'_>, prefixes: &[&str]) -> Parsed<Option<i64>> {
    for at in lead.find_iter(message.as_bytes()) {
        let rest = &message[at + lead.needle().len()..];
        for prefix in prefixes {
            let Some(tail) = rest.strip_prefix(prefix) else { continue };
            let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            if tail[digits..].chars().next().is_some_and(|c| !c.is_ascii()) {
                return Err(Defer); // Python's \d takes Unicode digits too
            }
            if digits > 0 {
                return Ok(Some(pystr::digits_value(&tail[..digits])?));
            }
        }
    }
    Ok(None)
}

fn paranoia_level(rule: &Rule<'_>) -> Parsed<Option<i64>> {
    for tag in &rule.tags {
        if let Some(level) = tag.strip_prefix("paranoia-level/") {
            if pystr::is_digits(level)? {
                return Ok(Some(pystr::digits_value(level)?));
            }
        }
    }
    Ok(None)
}

fn rank(severity: &str) -> Option<i64> {
    SEVERITIES.iter().position(|s| *s == severity).map(|i| i as i64)
}

/// `_host_domain`: the host name of a Host header (brackets and port removed).
fn host_domain(host: &str) -> &str {
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.find(']') {
            Some(end) => &inner[..end],
            None => inner,
        };
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => name,
        _ => host,
    }
}

fn dedup<'t>(items: impl Iterator<Item = &'t str>) -> Vec<&'t str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// `to_doc`: the ECS document of a transaction written to `out` (Filebeat's ModSecurity layout),
/// stamped when `stamp` is given. Nothing is written when it defers.
pub fn write_doc(tx: &Transaction<'_>, stamp: Option<&Stamp<'_>>, out: &mut String) -> Parsed<Written> {
    let (timestamp, zone) = self::stamp(&tx.time)?;
    let rules = &tx.rules;
    let ids = dedup(rules.iter().filter_map(|r| r.id.as_deref()));
    let tags = dedup(rules.iter().flat_map(|r| r.tags.iter().map(|t| &**t)));
    let (mut inbound, mut outbound, mut severity) = (None::<i64>, None::<i64>, None::<i64>);
    let mut levels = Vec::with_capacity(rules.len());
    for rule in rules {
        if let Some(message) = rule.message.as_deref() {
            let prefixes = ["Total Score: ", "Total Inbound Score: "];
            if let Some(score) = score_after(message, &INBOUND, &prefixes)? {
                inbound = Some(inbound.unwrap_or(0).max(score));
            }
            let prefixes = ["Total Score: ", "Total Outbound Score: ", "score "];
            if let Some(score) = score_after(message, &OUTBOUND, &prefixes)? {
                outbound = Some(outbound.unwrap_or(0).max(score));
            }
        }
        if let Some(r) = rule.severity.as_deref().and_then(rank) {
            severity = Some(severity.map_or(r, |s| s.min(r)));
        }
        levels.push(paranoia_level(rule)?);
    }
    let summary = summary(tx, &ids);
    let start = out.len();
    let mut doc = Object::open(out);
    doc.str("@timestamp", &timestamp);
    let mut event = doc.object("event");
    let intercepted = tx.intercepted;
    if rules.is_empty() {
        event.str("kind", "event");
        event.strs("category", ["web"]);
        let types: &[&str] = if intercepted { &["access", "denied"] } else { &["access"] };
        event.strs("type", types.iter().copied());
        event.str("action", if intercepted { "intercepted" } else { "passed" });
    } else {
        event.str("kind", "alert");
        event.strs("category", ["web", "intrusion_detection"]);
        event.strs("type", ["access", if intercepted { "denied" } else { "allowed" }]);
        event.str("action", if intercepted { "intercepted" } else { "detected" });
    }
    if let Some(status) = tx.status {
        event.str("outcome", if status < 400 { "success" } else { "failure" });
    }
    if let Some(severity) = severity {
        event.int("severity", severity);
    }
    event.str("timezone", &zone);
    if let Some(stamp) = stamp {
        event.str("id", stamp.id);
        event.str("dataset", stamp.dataset);
        if let Some(original) = stamp.original {
            event.str("original", original);
        }
    }
    event.close();

    let headers = &tx.request;
    let mut http = doc.object("http");
    let mut request = http.object("request");
    if let Some(method) = tx.method.as_deref().filter(|m| !m.is_empty()) {
        request.str("method", method);
    }
    if let Some(bytes) = tx.request_body_bytes {
        request.object("body").int_close("bytes", bytes);
    }
    if let Some(referer) = &headers.referer {
        request.str("referrer", referer);
    }
    if let Some(mime) = &headers.content_type {
        request.str("mime_type", pystr::strip(mime.split(';').next().unwrap_or_default()));
    }
    request.str("id", &tx.unique_id);
    request.close();
    if let Some(version) = tx.http_version.as_deref().filter(|v| !v.is_empty()) {
        http.str("version", version);
    }
    if let Some(status) = tx.status {
        let mut response = http.object("response");
        response.int("status_code", status);
        if let Some(length) = &tx.response.content_length {
            if pystr::is_digits(length)? {
                response.object("body").int_close("bytes", pystr::digits_value(length)?);
            }
        }
        response.close();
    }
    http.close();

    let host = headers.host.as_deref().filter(|h| !h.is_empty());
    if tx.uri.is_some() || host.is_some() {
        let mut url = doc.object("url");
        if let Some(uri) = &tx.uri {
            url.str("original", uri);
            let (path, query) = match uri.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (&**uri, None),
            };
            url.str("path", path);
            if let Some(query) = query {
                url.str("query", query);
            }
        }
        if let Some(host) = host {
            url.str("domain", host_domain(host));
        }
        url.close();
    }
    if let Some(agent) = &headers.user_agent {
        doc.object("user_agent").str_close("original", agent);
    }
    for (name, ip, port) in [
        ("source", &tx.client_ip, tx.client_port),
        ("destination", &tx.server_ip, tx.server_port),
    ] {
        if let Some(ip) = ip.as_deref().filter(|ip| !ip.is_empty()) {
            let mut end = doc.object(name);
            end.str("ip", ip);
            if let Some(port) = port {
                end.int("port", i64::from(port));
            }
            end.close();
        }
    }
    doc.object("transaction").str_close("id", &tx.unique_id);
    if !ids.is_empty() {
        let mut rule = doc.object("rule");
        rule.strs("id", ids.iter().copied());
        if let Some(version) = rules.iter().find_map(|r| r.version.as_deref().filter(|v| !v.is_empty())) {
            rule.str("ruleset", version);
        }
        rule.close();
    }
    // The same tags twice (`tags`, `modsecurity.tags`): written once.
    let tags = (!tags.is_empty()).then(|| {
        let mut json = String::with_capacity(tags.iter().map(|t| t.len() + 3).sum::<usize>() + 2);
        write_strs(&mut json, tags.iter().copied());
        json
    });
    if let Some(tags) = &tags {
        doc.json("tags", tags);
    }

    let mut modsec = doc.object("modsecurity");
    modsec.str("unique_id", &tx.unique_id);
    modsec.bool("intercepted", intercepted);
    if !rules.is_empty() {
        let out = modsec.key("rules");
        out.push('[');
        for (i, (rule, level)) in rules.iter().zip(&levels).enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut item = Object::open(out);
            item.opt_str("id", &rule.id);
            item.opt_str("message", &rule.message);
            item.opt_str("severity", &rule.severity);
            if let Some(data) = &rule.data {
                item.str("data", data);
            }
            if !rule.tags.is_empty() {
                item.strs("tags", rule.tags.iter().map(|t| &**t));
            }
            if let Some(file) = &rule.file {
                item.str("file", file);
            }
            if let Some(line) = rule.line {
                item.int("line", line);
            }
            if let Some(level) = level {
                item.int("paranoia_level", *level);
            }
            item.close();
        }
        out.push(']');
    }
    if let Some(tags) = &tags {
        modsec.json("tags", tags);
    }
    if inbound.is_some() || outbound.is_some() {
        let mut score = modsec.object("anomaly_score");
        if let Some(inbound) = inbound {
            score.int("inbound", inbound);
        }
        if let Some(outbound) = outbound {
            score.int("outbound", outbound);
        }
        score.close();
    }
    if let Some(mode) = tx.engine_mode.as_deref().filter(|m| !m.is_empty()) {
        modsec.str("engine_mode", mode);
    }
    if let Some(producer) = tx.producer.as_deref().filter(|p| !p.is_empty()) {
        modsec.str("producer", producer);
    }
    modsec.close();
    // The summary's arrow is the one non-ASCII character of most documents: escaped, they stay ASCII.
    doc.ascii("message", &summary);
    if let Some(stamp) = stamp {
        let mut log = doc.object("log");
        log.object("file").str_close("path", stamp.label);
        log.int("offset", stamp.offset as i64);
        log.close();
        doc.object("observer").str_close("hostname", stamp.observer);
    }
    doc.close();
    debug_assert!(out.len() > start);
    Ok(Written { timestamp, message: summary })
}

impl Object<'_> {
    fn int_close(mut self, name: &str, value: i64) {
        self.int(name, value);
        self.close();
    }

    fn str_close(mut self, name: &str, value: &str) {
        self.str(name, value);
        self.close();
    }
}

/// `summary`: `GET /path?x → 403; rules 942100,949110`.
fn summary(tx: &Transaction<'_>, ids: &[&str]) -> String {
    let uri = tx.uri.as_deref().filter(|u| !u.is_empty()).unwrap_or("?");
    let mut text = String::with_capacity(uri.len().min(400) + 64);
    text.push_str(tx.method.as_deref().filter(|m| !m.is_empty()).unwrap_or("?"));
    text.push(' ');
    match pystr::prefix_chars(uri, MAX_URL_IN_MESSAGE) {
        Some(cut) if cut.len() < uri.len() => {
            text.push_str(cut);
            text.push('…');
        }
        _ => text.push_str(uri),
    }
    text.push_str(" → ");
    match tx.status {
        Some(status) => {
            push_int(&mut text, status);
        }
        None => text.push('?'),
    }
    if tx.intercepted {
        text.push_str(" intercepted");
    }
    if !ids.is_empty() {
        text.push_str("; rules ");
        text.push_str(&ids.join(","));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_the_reference() {
        let rule = parse_message(
            r#"Warning. x [file "/r.conf"] [line "66"] [id "942100"] [msg "a \"q\""] [severity "2"] [tag "t1"] [tag "paranoia-level/2"]"#,
        )
        .unwrap();
        assert_eq!(rule.id.as_deref(), Some("942100"));
        assert_eq!(rule.message.as_deref(), Some("a \"q\""));
        assert_eq!(rule.severity.as_deref(), Some("CRITICAL"));
        assert_eq!(rule.line, Some(66));
        assert_eq!(rule.tags.len(), 2);
        // An unknown key sends the message to the regex reading, which skips it.
        let rule = parse_message(r#"m [file "f"] [ref "o1"] [id "1"]"#).unwrap();
        assert_eq!(rule.id.as_deref(), Some("1"));
        assert_eq!(rule.file.as_deref(), Some("f"));
    }

    #[test]
    fn times_convert_to_utc() {
        let moment = parse_log_time("22/Nov/2026:03:01:57.78 +0800").unwrap();
        let (ts, zone) = stamp(&moment).unwrap();
        assert_eq!(ts, "2026-11-21T19:01:57.780000Z");
        assert_eq!(zone, "+08:00");
        assert!(parse_log_time("31/Feb/2026:03:01:57 +0800").is_err());
        assert!(parse_log_time("22/Nov/2026:03:01:57 +2400").is_err());
    }

    #[test]
    fn digits_as_format_writes_them() {
        for value in [0, 7, 42, 65_535, 1 << 40, u64::MAX] {
            for width in [1, 2, 4, 6, 12, 20] {
                let (mut decimal, mut hex) = (String::new(), String::new());
                push_digits::<10>(&mut decimal, value, width);
                push_digits::<16>(&mut hex, value, width);
                assert_eq!((decimal, hex), (format!("{value:0width$}"), format!("{value:0width$x}")));
            }
        }
        let mut out = String::new();
        push_int(&mut out, -403);
        assert_eq!(out, "-403");
    }

    #[test]
    fn hosts_lose_ports_and_brackets() {
        assert_eq!(host_domain("[::1]:80"), "::1");
        assert_eq!(host_domain("a.cn:8080"), "a.cn");
        assert_eq!(host_domain("a:b:c"), "a:b:c");
    }
}
