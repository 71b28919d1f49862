//! A small ordered JSON object that borrows its text from the record it was read from, with Python's
//! dict semantics where the reference relies on them (assigning an existing key keeps its place).
use std::borrow::Cow;
pub use crate::jsonw::write_str;

pub type Text<'a> = Cow<'a, str>;

#[derive(Debug, Clone)]
pub enum Val<'a> {
    Str(Text<'a>),
    Obj(Obj<'a>),
}

#[derive(Debug, Clone, Default)]
pub struct Obj<'a>(pub Vec<(Text<'a>, Val<'a>)>);

impl<'a> Obj<'a> {
    pub fn new() -> Self {
        Obj(Vec::new())
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Obj(Vec::with_capacity(capacity))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k == key)
    }

    pub fn get(&self, key: &str) -> Option<&Val<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Val<'a>> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// `obj[key] = value`.
    pub fn set(&mut self, key: impl Into<Text<'a>>, value: Val<'a>) {
        let key = key.into();
        match self.position(&key) {
            Some(i) => self.0[i].1 = value,
            None => self.0.push((key, value)),
        }
    }

    /// `obj.pop(key, None)`.
    pub fn remove(&mut self, key: &str) -> Option<Val<'a>> {
        self.position(key).map(|i| self.0.remove(i).1)
    }

    /// `obj[key]` as a nested object, replaced by `{}` when it is anything else (`put_parts`).
    pub fn child(&mut self, key: impl Into<Text<'a>> + AsRef<str>) -> &mut Obj<'a> {
        let i = match self.position(key.as_ref()) {
            Some(i) => {
                if !matches!(self.0[i].1, Val::Obj(_)) {
                    self.0[i].1 = Val::Obj(Obj::new());
                }
                i
            }
            None => {
                self.0.push((key.into(), Val::Obj(Obj::new())));
                self.0.len() - 1
            }
        };
        match &mut self.0[i].1 {
            Val::Obj(obj) => obj,
            _ => unreachable!("just made an object"),
        }
    }

    /// `secops.events.put_parts`: set a nested field, creating (or replacing non-object) parents.
    pub fn put<K: Into<Text<'a>> + AsRef<str> + Clone>(&mut self, parts: &[K], value: Val<'a>) {
        let (leaf, parents) = parts.split_last().expect("a field path");
        let mut node = self;
        for part in parents {
            node = node.child(part.clone());
        }
        node.set(leaf.clone(), value);
    }

    /// `obj.get(key)` when it is a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Val::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn get_obj(&self, key: &str) -> Option<&Obj<'a>> {
        match self.get(key) {
            Some(Val::Obj(o)) => Some(o),
            _ => None,
        }
    }

    pub fn get_obj_mut(&mut self, key: &str) -> Option<&mut Obj<'a>> {
        match self.get_mut(key) {
            Some(Val::Obj(o)) => Some(o),
            _ => None,
        }
    }
}

pub fn string<'a>(value: impl Into<Text<'a>>) -> Val<'a> {
    Val::Str(value.into())
}

pub fn write_obj(obj: &Obj<'_>, out: &mut String) {
    out.push('{');
    for (i, (key, value)) in obj.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push(':');
        write_val(value, out);
    }
    out.push('}');
}

fn write_val(value: &Val<'_>, out: &mut String) {
    match value {
        Val::Str(s) => write_str(out, s),
        Val::Obj(o) => write_obj(o, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_replaces_non_objects_and_keeps_places() {
        let mut doc = Obj::new();
        doc.set("a", string("x"));
        doc.set("b", string("y"));
        doc.put(&["a", "c"], string("z"));
        doc.set("b", string("w"));
        let mut out = String::new();
        write_obj(&doc, &mut out);
        assert_eq!(out, r#"{"a":{"c":"z"},"b":"w"}"#);
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        write_str(&mut out, "a\"\\\u{1}\n中");
        assert_eq!(out, "\"a\\\"\\\\\\u0001\\n中\"");
        out.clear();
        write_str(&mut out, "中文中文中文中文 plain");
        assert_eq!(out, "\"中文中文中文中文 plain\"");
        out.clear();
        write_str(&mut out, "0123456789\"abcdefghijkl\\");
        assert_eq!(out, "\"0123456789\\\"abcdefghijkl\\\\\"");
    }
}
