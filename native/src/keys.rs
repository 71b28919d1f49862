//! Address keys for the SQLite store's free-text index: every string a member named `ip` holds (or an
//! array under `ip` holds at its top level), as `#`-prefixed tokens appended to the row's message.
//!
//! A field filter such as `source.ip=198.18.3.17` then finds its few candidate rows through the index
//! instead of reading every document newest first. Free-text queries never produce a `#` token, so the
//! keys never change what text search finds. The store's SQL view rebuilds the same tokens from the
//! document when rows are pruned (`json_tree`), so both sides must agree exactly: the keys are the
//! distinct decoded strings, sorted by their UTF-8 bytes.
use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

/// The decoded strings under members named `ip`, distinct and sorted (borrowed from `doc` unless a
/// string held an escape: no allocation for the usual two or three addresses of a row).
pub fn address_keys(doc: &str) -> Vec<Cow<'_, str>> {
    static MEMBER: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b"\"ip\""));
    let bytes = doc.as_bytes();
    let mut keys = Vec::new();
    for at in MEMBER.find_iter(bytes) {
        if escaped(bytes, at) {
            continue; // the quote belongs to a string, not to a member name
        }
        let mut i = skip_space(bytes, at + 4);
        if bytes.get(i) != Some(&b':') {
            continue; // the string "ip" as a value
        }
        i = skip_space(bytes, i + 1);
        match bytes.get(i) {
            Some(b'"') => {
                if let Some((value, _)) = string_at(doc, i) {
                    keys.push(value);
                }
            }
            Some(b'[') => array_strings(doc, i + 1, &mut keys),
            _ => {}
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Whether the quote at `at` is escaped (an odd run of backslashes before it).
fn escaped(bytes: &[u8], at: usize) -> bool {
    bytes[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

fn skip_space(bytes: &[u8], mut i: usize) -> usize {
    while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The decoded JSON string starting at the quote `start`, and the index after its closing quote.
fn string_at(doc: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = doc.as_bytes();
    let mut i = start + 1;
    let mut plain = true;
    loop {
        match *bytes.get(i)? {
            b'"' => break,
            b'\\' => {
                plain = false;
                i += 2;
            }
            _ => i += 1,
        }
    }
    let value = if plain {
        Cow::Borrowed(&doc[start + 1..i])
    } else {
        Cow::Owned(serde_json::from_str::<String>(&doc[start..=i]).ok()?)
    };
    Some((value, i + 1))
}

/// The strings among the top-level elements of the array opened just before `i`.
fn array_strings<'d>(doc: &'d str, mut i: usize, keys: &mut Vec<Cow<'d, str>>) {
    let bytes = doc.as_bytes();
    loop {
        i = skip_space(bytes, i);
        match bytes.get(i) {
            None | Some(b']') => return,
            Some(b',') => i += 1,
            Some(b'"') => match string_at(doc, i) {
                Some((value, next)) => {
                    keys.push(value);
                    i = next;
                }
                None => return,
            },
            Some(b'[' | b'{') => match skip_nested(bytes, i) {
                Some(next) => i = next,
                None => return,
            },
            Some(_) => {
                while !matches!(bytes.get(i), None | Some(b',' | b']')) {
                    i += 1; // a number, true, false or null
                }
            }
        }
    }
}

/// The index after the array or object opening at `i` (strings inside are stepped over whole).
fn skip_nested(bytes: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        match *bytes.get(i)? {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1;
                while *bytes.get(i)? != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The free-text entry of a row: its message, then its address keys (None when it has neither).
pub fn index_text(doc: &str, message: Option<&str>) -> Option<String> {
    let mut text = String::new();
    push_index_text(doc, message, &mut text).then_some(text)
}

/// Append a row's free-text entry to `out`; false when it has neither message nor address.
pub fn push_index_text(doc: &str, message: Option<&str>, out: &mut String) -> bool {
    let keys = address_keys(doc);
    if keys.is_empty() {
        out.push_str(message.unwrap_or(""));
        return message.is_some();
    }
    out.reserve(message.map_or(0, str::len) + keys.iter().map(|k| k.len() + 2).sum::<usize>());
    out.push_str(message.unwrap_or(""));
    for key in &keys {
        out.push_str(" #");
        out.push_str(key);
    }
    true
}

/// `fts_texts(rows)`: for each stored row `(id, @timestamp, dataset, document, message)`, the text the
/// SQLite store indexes, or None when the row has no message and no address.
#[pyfunction]
fn fts_texts<'py>(py: Python<'py>, rows: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for row in rows.try_iter()? {
        let row = row?;
        let row = row.downcast::<PyTuple>()?;
        let doc = row.get_item(3)?;
        let doc = doc.downcast::<PyString>()?.to_str()?;
        let message = row.get_item(4)?;
        let message = if message.is_none() { None } else { Some(message.downcast::<PyString>()?.to_str()?) };
        match index_text(doc, message) {
            Some(text) => out.append(PyString::new(py, &text))?,
            None => out.append(py.None())?,
        }
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fts_texts, m)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(doc: &str) -> Vec<String> {
        address_keys(doc).into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn members_and_top_level_array_strings_distinct_and_sorted() {
        let doc = r#"{"source":{"ip":"198.18.3.17","port":1},"destination":{"ip" : "10.0.0.1"},
            "related":{"ip":["10.0.0.1","fe80::1",5,["nested"],{"ip":"203.0.113.9"},"2001:db8::2"]}}"#;
        assert_eq!(keys(doc), ["10.0.0.1", "198.18.3.17", "2001:db8::2", "203.0.113.9", "fe80::1"]);
    }

    #[test]
    fn names_inside_strings_and_values_named_ip_are_not_members() {
        let doc = r#"{"event":{"original":"{\"ip\":\"1.2.3.4\"}"},"network":{"type":"ip"},"x\"ip":"5.6.7.8"}"#;
        assert!(keys(doc).is_empty());
    }

    #[test]
    fn escaped_values_are_decoded() {
        assert_eq!(keys(r#"{"ip":"a\u0062c"}"#), ["abc"]);
        assert_eq!(index_text(r#"{"ip":"b"}"#, None).as_deref(), Some(" #b"));
        assert_eq!(index_text(r#"{"x":1}"#, Some("m")).as_deref(), Some("m"));
    }
}
