//! Sigma matching on events' JSON text: the compiled rule set of `secops.detection` evaluated natively.
//!
//! `secops/detection/native.py` serialises what the Python compiler builds from the rule IR
//! (`secops/detection/ir.py`): per dataset the dispatch tree of `compile.py` (key lookups that jump to
//! the rules that can still match) and each rule's condition. `Matcher.match_batch` reads each event's
//! JSON text (keeping only the fields its dataset's rules use), walks the tree and returns the
//! (event, rules) of the events that matched something, so Python decodes and correlates only those.
//! Substrings are Aho-Corasick automata, patterns the `regex` crate; a leaf the port cannot evaluate
//! identically (a Python regular expression with no equal here, a time part) calls the Python predicate
//! the plan hands over for it, on the decoded document.
use std::collections::HashMap;

use bumpalo::collections::Vec as ArenaVec;
use bumpalo::Bump;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString, PyTuple};

mod alert;
mod correlate;
mod json;
mod plan;
mod value;

use crate::civil::days_from_civil;
use correlate::{Correlator, Out};

use json::{Filter, Val};
use plan::{Index, Leaf, Node, Op, Tree};
use value::Raw;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Matcher>()?;
    m.add_class::<Correlator>()?;
    Ok(())
}

/// One dataset's dispatch tree, the fields its rules (and the projection) read, and where each field's
/// per-event values are kept (`local[slot]`).
struct Dataset {
    tree: Tree,
    filter: Filter,
    local: Vec<u32>,
    fields: usize,
}

const UNUSED: u32 = u32::MAX;

#[pyclass(module = "egovops_native", frozen)]
pub struct Matcher {
    datasets: HashMap<String, Dataset>,
    paths: Vec<Vec<String>>,
    project: Filter,
    fallbacks: Vec<PyObject>,
    decode: PyObject,
    fallback_leaves: usize,
}

#[pymethods]
impl Matcher {
    /// `plan`: the JSON plan of `secops.detection.native`; `fallbacks`: the Python predicate (over the
    /// decoded document) of each leaf the plan marks `py`, or may need to; `decode`: JSON text to dict;
    /// `project`: the fields handed back (as a partial document) for each matched event.
    #[new]
    fn new(plan: &str, fallbacks: Vec<PyObject>, decode: PyObject, project: Vec<String>) -> PyResult<Self> {
        let built = plan::build(plan, fallbacks.len()).map_err(PyValueError::new_err)?;
        let mut projection = Filter::default();
        for path in &project {
            projection.add(path);
            if path.contains('.') {
                projection.add_literal(path);
            }
        }
        projection.seal();
        let mut datasets = HashMap::new();
        for (name, tree) in built.trees {
            let mut filter = Filter::default();
            let mut local = vec![UNUSED; built.paths.len()];
            let mut fields = 0;
            tree.fields(&mut |slot| {
                filter.add(&built.paths[slot]);
                if local[slot] == UNUSED {
                    local[slot] = fields;
                    fields += 1;
                }
            });
            for path in &project {
                filter.add(path);
                if path.contains('.') {
                    filter.add_literal(path);
                }
            }
            filter.seal();
            datasets.insert(name, Dataset { tree, filter, local, fields: fields as usize });
        }
        Ok(Matcher {
            datasets,
            paths: built
                .paths
                .iter()
                .map(|p| p.split('.').map(str::to_string).collect())
                .collect(),
            project: projection,
            fallbacks,
            decode,
            fallback_leaves: built.fallback_leaves,
        })
    }

    /// Leaves evaluated by their Python predicate (regular expressions with no identical port, time parts).
    #[getter]
    fn fallback_leaves(&self) -> usize {
        self.fallback_leaves
    }

    /// The datasets the rules read.
    #[getter]
    fn datasets(&self) -> Vec<String> {
        let mut names: Vec<String> = self.datasets.keys().cloned().collect();
        names.sort();
        names
    }

    /// Match a batch: `datasets[i]` picks the rules for `texts[i]` (the event's JSON document),
    /// `stamps[i]` is its `@timestamp`. Returns `(hits, tail)`: for each event that matched a rule,
    /// `(position, rule indexes (sorted), projected document, its time, latest time before it)`, and
    /// the latest time of the events after the last hit. Times are epoch seconds as
    /// `engine.event_seconds` computes them; "latest before" covers the unmatched events since the
    /// previous hit (-inf if none); NaN where a timestamp is not in the canonical `...Z` form (the
    /// caller computes those).
    fn match_batch<'py>(
        &self,
        py: Python<'py>,
        datasets: &Bound<'py, PyList>,
        texts: &Bound<'py, PyList>,
        stamps: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let out = PyList::empty(py);
        let mut found: Vec<u32> = Vec::new();
        let mut latest = f64::NEG_INFINITY;
        let mut batch = Batch::new(self, datasets, texts, stamps)?;
        let mut arena = Bump::new();
        for position in 0..texts.len() {
            let rules = batch.rules(position)?;
            let (seconds, _) = batch.seconds(position)?;
            found.clear();
            let projected = match rules {
                Some(rules) => {
                    let item = texts.get_item(position)?;
                    let text = item.downcast::<PyString>()?.to_str()?;
                    self.run(py, rules, text, &mut arena, &mut found)
                        .map_err(|e| with_position(py, e, position))?
                }
                None => None,
            };
            match projected {
                Some(doc) => {
                    let indexes = PyList::new(py, found.iter())?;
                    out.append((position, indexes, doc, seconds, latest))?;
                    latest = f64::NEG_INFINITY;
                }
                None => latest = later(latest, seconds),
            }
        }
        PyTuple::new(py, [out.into_any(), latest.into_pyobject(py)?.into_any()])
    }

    /// `match_batch` feeding `correlator` (its windows kept natively) in the same pass; `events` are the
    /// batch's events (their `id` is read for the matched ones). Returns `(alerts, fixes)`: the alerts
    /// in stream order, made natively (single-event alerts of rules no `generate: false` silences,
    /// firings of correlations that alert), and what Python still does to them, in stream order:
    /// `(alert position, 0, rule index, projected document or None, time)` read the entity and/or
    /// suppress, `(alert position, 1, correlation index, projected document or None, last, first)` fill
    /// the id and times and/or suppress, `(alerts so far, 2, 0, None, watermark)` a suppression expiry.
    fn correlate_batch<'py>(
        &self,
        py: Python<'py>,
        correlator: &Bound<'py, Correlator>,
        datasets: &Bound<'py, PyList>,
        texts: &Bound<'py, PyList>,
        stamps: &Bound<'py, PyList>,
        events: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let mut batch = Batch::new(self, datasets, texts, stamps)?;
        let mut state = correlator.borrow_mut();
        state.start_batch(texts.len());
        let mut out: Vec<Out> = Vec::new();
        let mut docs: Vec<(usize, Bound<'py, PyAny>)> = Vec::new();
        let mut found: Vec<u32> = Vec::new();
        let mut latest = f64::NEG_INFINITY;
        let mut arena = Bump::new();
        for position in 0..texts.len() {
            let rules = batch.rules(position)?;
            let (mut seconds, stamp) = batch.seconds(position)?;
            if seconds.is_nan() {
                seconds = state.seconds_of(py, &stamp)?;
            }
            found.clear();
            let Some(rules) = rules else {
                latest = latest.max(seconds);
                continue;
            };
            let item = texts.get_item(position)?;
            let text = item.downcast::<PyString>()?.to_str()?;
            let hit = self
                .scan(py, rules, text, &mut arena, &mut found, |val, found| {
                    state.clock_to(latest, &mut out);
                    state.clock_to(seconds, &mut out);
                    let id = events.get_item(position)?.getattr("id")?;
                    let from = out.len();
                    state.matched(val, found, position, seconds, id.downcast::<PyString>()?.to_str()?, &mut out);
                    if out[from..].iter().any(Out::needs_doc) {
                        docs.push((position, to_py(py, val, Some(&self.project))?));
                    }
                    Ok(())
                })
                .map_err(|e| with_position(py, e, position))?;
            if hit.is_some() {
                latest = f64::NEG_INFINITY;
            } else {
                latest = latest.max(seconds);
            }
        }
        state.clock_to(latest, &mut out);
        state.emit(py, &out, &docs, Some((events, stamps)))
    }
}

/// A batch's per-event inputs as both batch calls read them: the rules of the event's dataset (looked
/// up once per run of the same name) and its time.
struct Batch<'m, 'py> {
    matcher: &'m Matcher,
    datasets: &'m Bound<'py, PyList>,
    stamps: &'m Bound<'py, PyList>,
    last_name: Option<Bound<'py, PyAny>>,
    last_rules: Option<&'m Dataset>,
}

impl<'m, 'py> Batch<'m, 'py> {
    fn new(
        matcher: &'m Matcher,
        datasets: &'m Bound<'py, PyList>,
        texts: &Bound<'py, PyList>,
        stamps: &'m Bound<'py, PyList>,
    ) -> PyResult<Self> {
        if datasets.len() != texts.len() || stamps.len() != texts.len() {
            return Err(PyValueError::new_err("datasets, texts and stamps differ in length"));
        }
        Ok(Batch { matcher, datasets, stamps, last_name: None, last_rules: None })
    }

    fn rules(&mut self, position: usize) -> PyResult<Option<&'m Dataset>> {
        let name = self.datasets.get_item(position)?;
        if let Some(previous) = &self.last_name {
            if previous.is(&name) {
                return Ok(self.last_rules);
            }
        }
        let rules = match name.downcast::<PyString>() {
            Ok(text) => self.matcher.datasets.get(text.to_str()?),
            Err(_) => None, // no dataset, no rules (as `RuleSet.match_event`)
        };
        self.last_name = Some(name);
        self.last_rules = rules;
        Ok(rules)
    }

    /// The event's time (NaN where its `@timestamp` is not in the canonical form) and the stamp itself.
    fn seconds(&self, position: usize) -> PyResult<(f64, Bound<'py, PyAny>)> {
        let stamp = self.stamps.get_item(position)?;
        let seconds = match stamp.downcast::<PyString>() {
            Ok(text) => event_seconds(text.to_str()?),
            Err(_) => f64::NAN,
        };
        Ok((seconds, stamp))
    }
}

/// The later of two times, NaN (unknown) winning.
fn later(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// `engine.event_seconds` for the canonical `YYYY-MM-DDTHH:MM:SS.ffffffZ`: the minute's epoch seconds
/// plus `float("SS.ffffff")`, the same two float operations; NaN for any other form.
fn event_seconds(stamp: &str) -> f64 {
    let b = stamp.as_bytes();
    if b.len() != 27 || b[26] != b'Z' || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':'
        || b[16] != b':' || b[19] != b'.'
    {
        return f64::NAN;
    }
    let digits = |from: usize, to: usize| -> Option<i64> {
        b[from..to]
            .iter()
            .try_fold(0i64, |n, &c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as i64))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute)) =
        (digits(0, 4), digits(5, 7), digits(8, 10), digits(11, 13), digits(14, 16))
    else {
        return f64::NAN;
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 {
        return f64::NAN;
    }
    if digits(17, 19).is_none() || digits(20, 26).is_none() {
        return f64::NAN;
    }
    let Ok(seconds) = stamp[17..26].parse::<f64>() else {
        return f64::NAN;
    };
    let base = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60;
    base as f64 + seconds
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn with_position(py: Python<'_>, error: PyErr, position: usize) -> PyErr {
    let message = format!("event {position} of the batch: {}", error.value(py));
    let wrapped = PyValueError::new_err(message);
    wrapped.set_cause(py, Some(error));
    wrapped
}

/// A kept value as Python has it after `orjson.loads`, limited to what `filter` names.
fn to_py<'py>(py: Python<'py>, value: &Val, filter: Option<&Filter>) -> PyResult<Bound<'py, PyAny>> {
    let filter = filter.filter(|f| !f.whole);
    Ok(match value {
        Val::Null => py.None().into_bound(py),
        Val::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Val::Int(n) => n.into_pyobject(py)?.into_any(),
        Val::UInt(n) => n.into_pyobject(py)?.into_any(),
        Val::Float(f) => f.into_pyobject(py)?.into_any(),
        Val::Str(s) => PyString::new(py, s).into_any(),
        Val::Arr(items) => {
            let list = PyList::empty(py);
            for item in items.iter() {
                list.append(to_py(py, item, filter)?)?;
            }
            list.into_any()
        }
        Val::Obj(members) => {
            let dict = PyDict::new(py);
            for (key, member) in members.iter() {
                match filter {
                    None => dict.set_item(*key, to_py(py, member, None)?)?,
                    Some(f) => {
                        if let Some(child) = f.child(key) {
                            dict.set_item(*key, to_py(py, member, Some(child))?)?;
                        }
                    }
                }
            }
            dict.into_any()
        }
    })
}

/// The per-event state: the document and the values read from it so far.
struct Event<'v, 'a, 'm, 'py> {
    py: Python<'py>,
    matcher: &'m Matcher,
    rules: &'m Dataset,
    text: &'a str,
    doc: &'v Val<'a>,
    arena: &'a Bump,
    raws: ArenaVec<'a, Option<Raw<'v, 'a>>>,
    lowered: ArenaVec<'a, Option<&'a [&'a str]>>,
    decoded: Option<PyObject>,
    error: Option<PyErr>,
}

impl Matcher {
    /// Match one event; its projected document if it matched a rule.
    fn run<'py>(
        &self,
        py: Python<'py>,
        rules: &Dataset,
        text: &str,
        arena: &mut Bump,
        found: &mut Vec<u32>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.scan(py, rules, text, arena, found, |doc, _| to_py(py, doc, Some(&self.project)))
    }

    /// Match one event; if it matched a rule, `then` gets its parsed JSON and the rules it matched.
    /// `arena` (emptied here) holds the parsed JSON's containers.
    fn scan<'py, R>(
        &self,
        py: Python<'py>,
        rules: &Dataset,
        text: &str,
        arena: &mut Bump,
        found: &mut Vec<u32>,
        then: impl FnOnce(&Val, &[u32]) -> PyResult<R>,
    ) -> PyResult<Option<R>> {
        arena.reset();
        let arena = &*arena;
        let doc = json::parse(text, &rules.filter, arena).map_err(|e| PyValueError::new_err(format!("bad JSON: {e}")))?;
        let mut event = Event {
            py,
            matcher: self,
            rules,
            text,
            doc: &doc,
            arena,
            raws: ArenaVec::from_iter_in((0..rules.fields).map(|_| None), arena),
            lowered: ArenaVec::from_iter_in((0..rules.fields).map(|_| None), arena),
            decoded: None,
            error: None,
        };
        event.tree(&rules.tree, found);
        if let Some(error) = event.error {
            return Err(error);
        }
        if found.is_empty() {
            return Ok(None);
        }
        found.sort_unstable();
        found.dedup();
        then(&doc, found).map(Some)
    }
}

impl<'v, 'a, 'm, 'py> Event<'v, 'a, 'm, 'py> {
    fn raw(&mut self, slot: usize) -> &Raw<'v, 'a> {
        let at = self.rules.local[slot] as usize;
        if self.raws[at].is_none() {
            self.raws[at] = Some(self.resolve(slot));
        }
        self.raws[at].as_ref().expect("resolved above")
    }

    /// `lowered` texts of a field, read once per event.
    fn lowered(&mut self, slot: usize) -> &'a [&'a str] {
        let at = self.rules.local[slot] as usize;
        match self.lowered[at] {
            Some(texts) => texts,
            None => {
                let arena = self.arena;
                let texts = self.raw(slot).texts(true, arena);
                self.lowered[at] = Some(texts);
                texts
            }
        }
    }

    fn texts(&mut self, slot: usize, lower: bool) -> &'a [&'a str] {
        if lower {
            self.lowered(slot)
        } else {
            let arena = self.arena;
            self.raw(slot).texts(false, arena)
        }
    }

    fn resolve(&self, slot: usize) -> Raw<'v, 'a> {
        let parts = &self.matcher.paths[slot];
        if parts.len() > 1 {
            let last = parts[parts.len() - 1].as_str();
            if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
                let parent = value::resolve(self.doc, &parts[..parts.len() - 1]);
                return match last.parse::<usize>() {
                    Ok(position) => value::element(&parent, position),
                    Err(_) => Raw::Missing,
                };
            }
        }
        value::resolve(self.doc, parts)
    }

    fn tree(&mut self, tree: &Tree, found: &mut Vec<u32>) {
        for index in &tree.indexes {
            match index {
                Index::Present { slot, child } => {
                    if !self.raw(*slot).is_missing() {
                        self.tree(child, found);
                    }
                }
                Index::Eq { slot, children } => {
                    let texts = self.lowered(*slot);
                    if texts.len() <= 1 {
                        // one value (the common case): one lookup, nothing to deduplicate
                        if let Some(child) = texts.first().and_then(|text| children.get(*text)) {
                            self.tree(child, found);
                        }
                        continue;
                    }
                    // each child once, in the order of first reaching it (values are few: no set)
                    for (n, text) in texts.iter().enumerate() {
                        let Some(child) = children.get(*text) else { continue };
                        let seen = texts[..n].iter().any(|t| children.get(*t).is_some_and(|c| std::ptr::eq(c, child)));
                        if !seen {
                            self.tree(child, found);
                        }
                    }
                }
            }
        }
        for (rule, node) in &tree.rules {
            if self.node(node) {
                found.push(*rule);
            }
        }
    }

    fn node(&mut self, node: &Node) -> bool {
        match node {
            Node::And(args) => args.iter().all(|arg| self.node(arg)),
            Node::Or(args) => args.iter().any(|arg| self.node(arg)),
            Node::Not(arg) => !self.node(arg),
            Node::Const(value) => *value,
            Node::Leaf(leaf) => self.leaf(leaf),
        }
    }

    fn leaf(&mut self, leaf: &Leaf) -> bool {
        let lower = !leaf.cased;
        let slot = leaf.slot;
        match &leaf.op {
            Op::Eq(values) => self.texts(slot, lower).iter().any(|t| values.contains(*t)),
            Op::Prefix(values) => {
                let texts = self.texts(slot, lower);
                texts.iter().any(|t| values.iter().any(|v| t.starts_with(v.as_str())))
            }
            Op::Suffix(values) => {
                let texts = self.texts(slot, lower);
                texts.iter().any(|t| values.iter().any(|v| t.ends_with(v.as_str())))
            }
            Op::Contains(automaton) => leaf.fields.iter().any(|field| {
                let texts = self.texts(*field, lower);
                texts.iter().any(|t| automaton.is_match(*t))
            }),
            Op::Pattern { regex, required } => {
                let texts = self.texts(slot, lower);
                texts.iter().any(|t| t.contains(required.as_str()) && regex.is_match(t))
            }
            Op::Exists(wanted) => self.raw(slot).is_missing() != *wanted,
            Op::Null => self.raw(slot).is_missing(),
            Op::Num { number, text } => self
                .raw(slot)
                .items()
                .iter()
                .any(|v| value::number_equals(v, *number, text)),
            Op::Cmp { test, number } => value::numbers(self.raw(slot))
                .into_iter()
                .any(|v| test(value::num_cmp(v, *number))),
            Op::Bool(wanted) => value::boolean(self.raw(slot), *wanted),
            Op::Cidr { v6, network, mask } => self.raw(slot).items().iter().any(|item| match item {
                Val::Str(s) => value::ip_address(s)
                    .is_some_and(|(is_v6, address)| is_v6 == *v6 && address & mask == *network),
                _ => false,
            }),
            Op::FieldRef(mode) => {
                let left = self.lowered(leaf.slot);
                let right = self.lowered(leaf.fields[1]);
                left.iter().any(|a| right.iter().any(|b| mode.holds(a, b)))
            }
            Op::Py(index) => self.fallback(*index),
        }
    }

    /// A leaf only Python evaluates: its predicate on the decoded document (decoded once per event).
    fn fallback(&mut self, index: usize) -> bool {
        if self.error.is_some() {
            return false;
        }
        let py = self.py;
        let result = (|| -> PyResult<bool> {
            if self.decoded.is_none() {
                self.decoded = Some(self.matcher.decode.call1(py, (self.text,))?);
            }
            let doc = self.decoded.as_ref().expect("decoded above");
            self.matcher.fallbacks[index].call1(py, (doc,))?.is_truthy(py)
        })();
        result.unwrap_or_else(|error| {
            self.error = Some(error);
            false
        })
    }
}
