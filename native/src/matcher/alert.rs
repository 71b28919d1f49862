//! `secops.detection.alerts.Alert` objects made natively, so Python touches an alert only to suppress it.
//!
//! The bytes behind each field are those of the Python engine: the id is BLAKE2b-128 (hex) of
//! `rule\x1fevent id` for a single-event alert and of `rule\x1f<group as orjson with sorted keys>\x1f
//! <first time>` for a correlation's; times are `alerts.iso` text. Where those bytes are not certain
//! here (a float in the group: orjson's float text; a time outside years 1000-9999) the id and times are
//! left `None` and Python fills them (`Engine._apply`).
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use super::correlate::Key;
use crate::civil::civil_from_days;

/// What every alert of one rule or correlation shares.
pub struct Spec {
    id: Py<PyString>,
    id_bytes: Box<[u8]>,
    name: PyObject,
    title: PyObject,
    level: PyObject,
    tags: Py<PyTuple>,
    title_zh: PyObject,
    kind: PyObject,
    /// Its suppression folds repeats: Python admits each alert (`Suppressor.admit`).
    pub suppressed: bool,
}

impl Spec {
    /// `(id, name, title, level, tags, title_zh, rule_type, suppressed)` as `correlate_native` builds it.
    fn from_py(item: &Bound<'_, PyAny>) -> PyResult<Spec> {
        let (id, name, title, level, tags, title_zh, kind, suppressed): (
            Bound<'_, PyString>,
            PyObject,
            PyObject,
            PyObject,
            Bound<'_, PyTuple>,
            PyObject,
            PyObject,
            bool,
        ) = item.extract()?;
        let id_bytes = id.to_str()?.as_bytes().into();
        Ok(Spec { id: id.unbind(), id_bytes, name, title, level, tags: tags.unbind(), title_zh, kind, suppressed })
    }
}

/// The alert class and the specs of the base rules and the correlations, by index.
pub struct Maker {
    cls: PyObject,
    new: PyObject,
    pub rules: Vec<Spec>,
    pub corrs: Vec<Spec>,
}

impl Maker {
    /// `alerts`: `(Alert, rule specs, correlation specs)`.
    pub fn from_py(alerts: &Bound<'_, PyAny>) -> PyResult<Maker> {
        let (cls, rules, corrs): (Bound<'_, PyAny>, Bound<'_, PyList>, Bound<'_, PyList>) = alerts.extract()?;
        let py = alerts.py();
        let new = py.import("builtins")?.getattr("object")?.getattr("__new__")?.unbind();
        let specs = |list: &Bound<'_, PyList>| list.iter().map(|item| Spec::from_py(&item)).collect::<PyResult<Vec<_>>>();
        Ok(Maker { cls: cls.unbind(), new, rules: specs(&rules)?, corrs: specs(&corrs)? })
    }

    fn spec(specs: &[Spec], index: usize) -> PyResult<&Spec> {
        specs.get(index).ok_or_else(|| PyValueError::new_err(format!("no alert spec for rule {index}")))
    }

    /// `Engine._base_alert` before suppression (`entity` None: Python reads it from the document).
    pub fn base<'py>(
        &self,
        py: Python<'py>,
        rule: usize,
        event_id: &Bound<'py, PyString>,
        stamp: &Bound<'py, PyAny>,
        entity: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = Maker::spec(&self.rules, rule)?;
        let mut text = Vec::with_capacity(spec.id_bytes.len() + 48);
        text.extend_from_slice(&spec.id_bytes);
        text.push(0x1f);
        text.extend_from_slice(event_id.to_str()?.as_bytes());
        let id = PyString::new(py, &blake2b_128_hex(&text)).into_any();
        let ids = PyList::new(py, [event_id])?.into_any();
        self.make(py, spec, id, entity, ids, (stamp.clone(), stamp.clone()), 1)
    }

    /// `Engine._corr_alert` before suppression.
    #[allow(clippy::too_many_arguments)]
    pub fn fired<'py>(
        &self,
        py: Python<'py>,
        index: usize,
        group_by: &[String],
        key: &[Key],
        first: f64,
        last: f64,
        ids: Bound<'py, PyAny>,
        count: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let spec = Maker::spec(&self.corrs, index)?;
        let entity = PyDict::new(py);
        for (name, value) in group_by.iter().zip(key.iter()) {
            entity.set_item(name, value.to_py(py)?)?;
        }
        let none = py.None().into_bound(py);
        let (id, times) = match (iso(first), iso(last)) {
            (Some(start), Some(end)) => {
                let mut text = Vec::with_capacity(spec.id_bytes.len() + 64);
                text.extend_from_slice(&spec.id_bytes);
                text.push(0x1f);
                let id = group_json(group_by, key, &mut text).then(|| {
                    text.push(0x1f);
                    text.extend_from_slice(start.as_bytes());
                    PyString::new(py, &blake2b_128_hex(&text)).into_any()
                });
                let first_seen = PyString::new(py, &start).into_any();
                let last_seen = if last == first { first_seen.clone() } else { PyString::new(py, &end).into_any() };
                match id {
                    Some(id) => (id, (first_seen, last_seen)),
                    None => (none.clone(), (none.clone(), none)),
                }
            }
            _ => (none.clone(), (none.clone(), none)),
        };
        self.make(py, spec, id, entity.into_any(), ids, times, count)
    }

    /// An `Alert` without running its `__init__` (every field set here, in declaration order).
    #[allow(clippy::too_many_arguments)]
    fn make<'py>(
        &self,
        py: Python<'py>,
        spec: &Spec,
        id: Bound<'py, PyAny>,
        entity: Bound<'py, PyAny>,
        ids: Bound<'py, PyAny>,
        (first_seen, last_seen): (Bound<'py, PyAny>, Bound<'py, PyAny>),
        count: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let alert = self.new.bind(py).call1((self.cls.bind(py),))?;
        alert.setattr(intern!(py, "id"), id)?;
        alert.setattr(intern!(py, "rule_id"), spec.id.bind(py))?;
        alert.setattr(intern!(py, "title"), spec.title.bind(py))?;
        alert.setattr(intern!(py, "severity"), spec.level.bind(py))?;
        alert.setattr(intern!(py, "entity"), entity)?;
        alert.setattr(intern!(py, "event_ids"), ids)?;
        alert.setattr(intern!(py, "tags"), spec.tags.bind(py).to_list())?;
        alert.setattr(intern!(py, "first_seen"), first_seen)?;
        alert.setattr(intern!(py, "last_seen"), last_seen)?;
        alert.setattr(intern!(py, "count"), count)?;
        alert.setattr(intern!(py, "rule_type"), spec.kind.bind(py))?;
        alert.setattr(intern!(py, "suppressed"), 0)?;
        alert.setattr(intern!(py, "rule_name"), spec.name.bind(py))?;
        alert.setattr(intern!(py, "title_zh"), spec.title_zh.bind(py))?;
        Ok(alert)
    }
}

/// `alerts.iso`: event-time seconds as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds rounded half to
/// even, as Python's `round`); None outside years 1000-9999.
pub fn iso(seconds: f64) -> Option<String> {
    let micros = (seconds * 1_000_000.0).round_ties_even();
    if !micros.is_finite() || micros.abs() > 4e17 {
        return None;
    }
    let micros = micros as i64;
    let (secs, fraction) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (days, of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    if !(1000..=9999).contains(&year) {
        return None;
    }
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (at, width, value) in [
        (0, 4, year),
        (5, 2, month),
        (8, 2, day),
        (11, 2, of_day / 3600),
        (14, 2, of_day % 3600 / 60),
        (17, 2, of_day % 60),
        (20, 6, fraction),
    ] {
        let mut rest = value;
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    Some(text.iter().map(|&b| b as char).collect())
}

/// `orjson.dumps(dict(zip(names, key)), option=OPT_SORT_KEYS)` appended to `out`; false (and `out`
/// unusable) when a value is a float, whose orjson text is not reproduced here.
fn group_json(names: &[String], key: &[Key], out: &mut Vec<u8>) -> bool {
    let mut members: Vec<(&str, &Key)> = Vec::with_capacity(names.len());
    for (name, value) in names.iter().zip(key.iter()) {
        match members.iter_mut().find(|(n, _)| *n == name.as_str()) {
            Some(member) => member.1 = value, // a dict keeps the last value under the first place
            None => members.push((name.as_str(), value)),
        }
    }
    members.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (n, (name, value)) in members.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        json_string(name, out);
        out.push(b':');
        if !json_value(value, out) {
            return false;
        }
    }
    out.push(b'}');
    true
}

fn json_value(value: &Key, out: &mut Vec<u8>) -> bool {
    match value {
        Key::Null => out.extend_from_slice(b"null"),
        Key::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Key::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Key::UInt(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Key::Float(_) => return false,
        Key::Str(s) => json_string(s, out),
        Key::Tuple(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                if !json_value(item, out) {
                    return false;
                }
            }
            out.push(b']');
        }
    }
    true
}

/// A JSON string as orjson writes it: only `"`, `\` and control characters escaped.
fn json_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in text.as_bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

const IV: [u64; 8] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
    0x510e_527f_ade6_82d1,
    0x9b05_688c_2b3e_6c1f,
    0x1f83_d9ab_fb41_bd6b,
    0x5be0_cd19_137e_2179,
];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/// `hashlib.blake2b(data, digest_size=16).hexdigest()` (RFC 7693, unkeyed).
pub fn blake2b_128_hex(data: &[u8]) -> String {
    let mut h = IV;
    h[0] ^= 0x0101_0000 ^ 16;
    let blocks = data.len().div_ceil(128).max(1);
    for n in 0..blocks {
        let chunk = &data[n * 128..data.len().min(n * 128 + 128)];
        let mut block = [0u8; 128];
        block[..chunk.len()].copy_from_slice(chunk);
        compress(&mut h, &block, (n * 128 + chunk.len()) as u128, n + 1 == blocks);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(32);
    for byte in h[..2].iter().flat_map(|word| word.to_le_bytes()) {
        text.push(HEX[(byte >> 4) as usize] as char);
        text.push(HEX[(byte & 15) as usize] as char);
    }
    text
}

fn compress(h: &mut [u64; 8], block: &[u8; 128], counter: u128, last: bool) {
    let mut m = [0u64; 16];
    for (word, bytes) in m.iter_mut().zip(block.chunks_exact(8)) {
        *word = u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    }
    let mut v = [0u64; 16];
    v[..8].copy_from_slice(h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= counter as u64;
    v[13] ^= (counter >> 64) as u64;
    if last {
        v[14] = !v[14];
    }
    for round in 0..12 {
        let s = &SIGMA[round % 10];
        mix(&mut v, [0, 4, 8, 12], m[s[0]], m[s[1]]);
        mix(&mut v, [1, 5, 9, 13], m[s[2]], m[s[3]]);
        mix(&mut v, [2, 6, 10, 14], m[s[4]], m[s[5]]);
        mix(&mut v, [3, 7, 11, 15], m[s[6]], m[s[7]]);
        mix(&mut v, [0, 5, 10, 15], m[s[8]], m[s[9]]);
        mix(&mut v, [1, 6, 11, 12], m[s[10]], m[s[11]]);
        mix(&mut v, [2, 7, 8, 13], m[s[12]], m[s[13]]);
        mix(&mut v, [3, 4, 9, 14], m[s[14]], m[s[15]]);
    }
    for i in 0..8 {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

fn mix(v: &mut [u64; 16], [a, b, c, d]: [usize; 4], x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blake2b_matches_hashlib() {
        // hashlib.blake2b(data, digest_size=16).hexdigest()
        assert_eq!(blake2b_128_hex(b""), "cae66941d9efbd404e4d88758ea67670");
        assert_eq!(blake2b_128_hex(b"abc"), "cf4ab791c62b8d2b2109c90275287816");
        assert_eq!(blake2b_128_hex(&[b'x'; 127]), "faeac286ccce46d5273182d599dd943b");
        assert_eq!(blake2b_128_hex(&[b'x'; 128]), "874acca82a22239ec64a3e70c3ae494e");
        assert_eq!(blake2b_128_hex(&[b'x'; 129]), "b9ee96f69e8210c624fee55d71d5a54f");
        assert_eq!(blake2b_128_hex(&[b'y'; 1000]), "32c9d1110d574fd44a49ea642f753122");
    }

    #[test]
    fn iso_rounds_half_to_even_and_stays_in_range() {
        assert_eq!(iso(1_795_000_000.25).as_deref(), Some("2026-11-18T11:06:40.250000Z"));
        assert_eq!(iso(0.0000005).as_deref(), Some("1970-01-01T00:00:00.000000Z"));
        assert_eq!(iso(-1.5).as_deref(), Some("1969-12-31T23:59:58.500000Z"));
        assert_eq!(iso(f64::NAN), None);
        assert_eq!(iso(-1e12), None);
    }

    #[test]
    fn group_json_is_orjsons() {
        let mut out = Vec::new();
        let names = ["b".to_string(), "a".to_string(), "b".to_string()];
        let key = [Key::Str("\u{0}\"\\\n\u{1f}é".into()), Key::Tuple(Box::new([Key::Int(-1), Key::Bool(true), Key::Null])), Key::UInt(7)];
        assert!(group_json(&names, &key, &mut out));
        assert_eq!(out, b"{\"a\":[-1,true,null],\"b\":7}");
        let mut out = Vec::new();
        assert!(group_json(&names[..1], &key[..1], &mut out));
        assert_eq!(String::from_utf8(out).unwrap(), "{\"b\":\"\\u0000\\\"\\\\\\n\\u001f\u{e9}\"}");
        assert!(!group_json(&names[..1], &[Key::Float(1.5)], &mut Vec::new()));
    }
}
