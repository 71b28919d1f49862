//! Field values as the Python reference reads them (`secops/detection/runtime.py` and the accessors
//! `compile.py` generates): dotted paths through dicts and lists, a value's text for string tests
//! (`str()` of numbers and booleans as Python writes them), and the number, boolean and address tests.
use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::Ipv6Addr;

use bumpalo::collections::Vec as ArenaVec;
use bumpalo::Bump;

use super::json::Val;

/// A resolved field: absent (Python None), one non-list value, or a list (a JSON array, or the values
/// collected through a list of objects).
pub enum Raw<'v, 'a> {
    Missing,
    One(&'v Val<'a>),
    List(Vec<&'v Val<'a>>),
}

fn is_index(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

fn present<'v, 'a>(value: Option<&'v Val<'a>>) -> Option<&'v Val<'a>> {
    value.filter(|v| !matches!(v, Val::Null))
}

fn whole<'v, 'a>(value: &'v Val<'a>) -> Raw<'v, 'a> {
    match value {
        Val::Null => Raw::Missing,
        Val::Arr([]) => Raw::Missing,
        Val::Arr(items) => Raw::List(items.iter().collect()),
        other => Raw::One(other),
    }
}

/// `compile._Module.accessor`: the generated resolver of one dotted field.
pub fn resolve<'v, 'a>(doc: &'v Val<'a>, parts: &[String]) -> Raw<'v, 'a> {
    let mut node = doc.get(&parts[0]);
    for index in 1..parts.len() {
        match node {
            Some(Val::Obj(_)) => node = node.and_then(|n| n.get(&parts[index])),
            Some(Val::Arr(items)) => {
                let part = parts[index].as_str();
                if index == parts.len() - 1 && !is_index(part) {
                    // a list of objects: each one's field, as they are (no flattening)
                    let found: Vec<&Val> = items.iter().filter_map(|x| x.get(part)).collect();
                    return if found.is_empty() { Raw::Missing } else { Raw::List(found) };
                }
                return tail_list(items, parts, index);
            }
            _ => return Raw::Missing,
        }
    }
    match node {
        None => Raw::Missing,
        Some(value) => whole(value),
    }
}

/// `runtime.tail` from a non-null node.
fn tail<'v, 'a>(mut node: &'v Val<'a>, parts: &[String], start: usize) -> Raw<'v, 'a> {
    for index in start..parts.len() {
        match node {
            Val::Obj(_) => match node.get(&parts[index]) {
                Some(next) => node = next,
                None => return Raw::Missing,
            },
            Val::Arr(items) => {
                let part = parts[index].as_str();
                if is_index(part) {
                    match part.parse::<usize>().ok().and_then(|p| present(items.get(p))) {
                        Some(next) => node = next,
                        None => return Raw::Missing,
                    }
                } else {
                    return tail_list(items, parts, index);
                }
            }
            _ => return Raw::Missing,
        }
    }
    whole(node)
}

/// `tail` of every element of a list, flattened one level (`runtime._flatten`).
fn tail_list<'v, 'a>(items: &'v [Val<'a>], parts: &[String], index: usize) -> Raw<'v, 'a> {
    let mut flat = Vec::new();
    for item in items {
        if matches!(item, Val::Null) {
            continue;
        }
        match tail(item, parts, index) {
            Raw::Missing => {}
            Raw::One(v) => flat.push(v),
            Raw::List(values) => flat.extend(values.into_iter().filter(|v| !matches!(v, Val::Null))),
        }
    }
    if flat.is_empty() {
        Raw::Missing
    } else {
        Raw::List(flat)
    }
}

/// `raw` for `process.args.1`: the element of the parent's (resolved) list, as it is.
pub fn element<'v, 'a>(parent: &Raw<'v, 'a>, position: usize) -> Raw<'v, 'a> {
    match parent {
        Raw::List(items) => match items.get(position) {
            Some(Val::Null) | None => Raw::Missing,
            Some(Val::Arr(inner)) => Raw::List(inner.iter().collect()),
            Some(other) => Raw::One(other),
        },
        _ => Raw::Missing,
    }
}

impl<'v, 'a> Raw<'v, 'a> {
    pub fn is_missing(&self) -> bool {
        matches!(self, Raw::Missing)
    }

    /// The value, or each element of a list: Sigma's "any element".
    pub fn items(&self) -> &[&'v Val<'a>] {
        match self {
            Raw::Missing => &[],
            Raw::One(v) => std::slice::from_ref(v),
            Raw::List(items) => items,
        }
    }

    /// `runtime.text` / `runtime.lowered`: the texts string tests read (None and an empty tuple alike
    /// are no texts), made in `arena` (a text that is not the value's own string, such as a number's or a
    /// lowered one, is written there too).
    pub fn texts(&self, lower: bool, arena: &'a Bump) -> &'a [&'a str] {
        let items = self.items();
        let mut out = ArenaVec::with_capacity_in(items.len(), arena);
        for item in items {
            let text: &'a str = match **item {
                Val::Str(s) => s,
                Val::Bool(b) => if b { "true" } else { "false" },
                Val::Int(n) => bumpalo::format!(in arena, "{}", n).into_bump_str(),
                Val::UInt(n) => bumpalo::format!(in arena, "{}", n).into_bump_str(),
                Val::Float(f) => arena.alloc_str(&py_float_repr(f)),
                _ => continue,
            };
            out.push(if lower { lower_in(text, arena) } else { text });
        }
        out.into_bump_slice()
    }
}

/// `str.lower()` of `text`, written in `arena` when it differs.
fn lower_in<'a>(text: &'a str, arena: &'a Bump) -> &'a str {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            let lowered = arena.alloc_str(text);
            lowered.make_ascii_lowercase();
            lowered
        } else {
            text
        }
    } else {
        match py_lower(Cow::Borrowed(text)) {
            Cow::Borrowed(same) => same,
            Cow::Owned(lowered) => arena.alloc_str(&lowered),
        }
    }
}

/// `str.lower()`.
pub fn py_lower(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.is_ascii() {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            text
        }
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// `repr(float)`: the shortest round-tripping digits, positional for exponents -5 < e < 16.
pub fn py_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').expect("{:e} has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let mut out = String::with_capacity(digits.len() + 8);
    if negative {
        out.push('-');
    }
    if !(-5 < exponent && exponent < 16) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exponent.abs()));
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exponent as usize + 1;
        if digits.len() > point {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
            out.push_str(".0");
        }
    }
    out
}

// --- numbers ------------------------------------------------------------------------------------------

/// A Python number: int or float.
#[derive(Clone, Copy, Debug)]
pub enum Num {
    Int(i128),
    Float(f64),
}

fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let floor = f.floor();
    let whole = floor as i128;
    Some(match i.cmp(&whole) {
        Ordering::Equal if f > floor => Ordering::Less,
        other => other,
    })
}

/// Python's exact comparison of ints and floats.
pub fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

fn as_num(value: &Val) -> Option<Num> {
    match value {
        Val::Int(n) => Some(Num::Int(*n as i128)),
        Val::UInt(n) => Some(Num::Int(*n as i128)),
        Val::Float(f) => Some(Num::Float(*f)),
        _ => None,
    }
}

/// `runtime.number_equals`: equal as a number, or a string equal to the number's text.
pub fn number_equals(value: &Val, number: Num, text: &str) -> bool {
    match value {
        Val::Str(s) => *s == text,
        Val::Arr(items) => items.iter().any(|v| number_equals(v, number, text)),
        _ => as_num(value).is_some_and(|n| num_cmp(n, number) == Some(Ordering::Equal)),
    }
}

/// `float(text)` for a string, as Python reads it (surrounding whitespace, `_` between digits,
/// `inf`/`nan`), None where Python raises.
pub fn py_float(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(py_space);
    if trimmed.is_empty() {
        return None;
    }
    let cleaned: Cow<str> = if trimmed.contains('_') {
        let bytes = trimmed.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if *b == b'_' {
                let before = i > 0 && bytes[i - 1].is_ascii_digit();
                let after = bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit());
                if !(before && after) {
                    return None;
                }
            }
        }
        Cow::Owned(trimmed.replace('_', ""))
    } else {
        Cow::Borrowed(trimmed)
    };
    let body = cleaned.trim_start_matches(['+', '-']);
    if cleaned.len() - body.len() > 1 {
        return None;
    }
    let lower = body.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    if !special && !body.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    cleaned.parse::<f64>().ok()
}

fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `runtime._numbers`: the numbers of a value or of its (top-level) elements.
pub fn numbers(raw: &Raw) -> Vec<Num> {
    raw.items()
        .iter()
        .filter_map(|item| match item {
            Val::Str(s) => py_float(s).map(Num::Float),
            other => as_num(other),
        })
        .collect()
}

/// `runtime.boolean`.
pub fn boolean(raw: &Raw, wanted: bool) -> bool {
    let word = if wanted { "true" } else { "false" };
    raw.items().iter().any(|item| match item {
        Val::Bool(b) => *b == wanted,
        Val::Str(s) => py_lower(Cow::Borrowed(s)) == word,
        _ => false,
    })
}

// --- addresses ----------------------------------------------------------------------------------------

/// `ipaddress.ip_address(text)`: (is IPv6, the address as an integer), None where Python raises.
pub fn ip_address(text: &str) -> Option<(bool, u128)> {
    if let Some(v4) = ipv4(text) {
        return Some((false, v4 as u128));
    }
    let (address, scope) = match text.split_once('%') {
        Some((address, scope)) => (address, Some(scope)),
        None => (text, None),
    };
    if scope.is_some_and(|s| s.is_empty() || s.contains('%')) {
        return None;
    }
    address.parse::<Ipv6Addr>().ok().map(|a| (true, u128::from(a)))
}

fn ipv4(text: &str) -> Option<u32> {
    let mut value: u32 = 0;
    let mut count = 0;
    for octet in text.split('.') {
        count += 1;
        if count > 4 || octet.is_empty() || octet.len() > 3 || !octet.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if octet.len() > 1 && octet.starts_with('0') {
            return None;
        }
        let n: u32 = octet.parse().ok()?;
        if n > 255 {
            return None;
        }
        value = value << 8 | n;
    }
    (count == 4).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_is_pythons() {
        for (value, text) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (12.0, "12.0"),
        ] {
            assert_eq!(py_float_repr(value), text);
        }
    }

    #[test]
    fn addresses_as_python_reads_them() {
        assert_eq!(ip_address("10.0.0.1"), Some((false, 0x0a000001)));
        assert_eq!(ip_address("010.0.0.1"), None);
        assert_eq!(ip_address("256.0.0.1"), None);
        assert!(ip_address("fe80::1%eth0").is_some());
        assert_eq!(ip_address("fe80::1%"), None);
    }

    #[test]
    fn floats_as_python_reads_them() {
        assert_eq!(py_float(" 12 "), Some(12.0));
        assert_eq!(py_float("1_000"), Some(1000.0));
        assert_eq!(py_float("1__0"), None);
        assert_eq!(py_float("0x10"), None);
        assert_eq!(py_float("abc"), None);
    }

    #[test]
    fn ints_and_floats_compare_exactly() {
        assert_eq!(num_cmp(Num::Int(3), Num::Float(3.5)), Some(Ordering::Less));
        assert_eq!(num_cmp(Num::Float(3.0), Num::Int(3)), Some(Ordering::Equal));
        assert_eq!(num_cmp(Num::Int(-4), Num::Float(-3.5)), Some(Ordering::Less));
    }
}
