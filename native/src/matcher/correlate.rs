//! Correlation windows natively: the immediate rules of `secops/detection/correlate_windows.py` and the
//! bounded window store of `state.py`, fed by the matcher in the same call.
//!
//! `Matcher.correlate_batch` hands each matched event's parsed JSON here; the group keys and counted
//! values are read from it, entries go into per-(correlation, group) windows, firings chain into the
//! correlations that consume them, and the alerts (single-event ones and firings, with their evidence
//! ids) are made here (`alert.rs`); Python gets them back with what it must still do, in stream order:
//! suppress them, forget expired suppression, fill the rare field left to it. Windows judged at their
//! close and absence stay in Python (`secops.detection.correlate_native` only builds this for rule sets
//! without them).
use std::borrow::Cow;
use std::collections::hash_map::Entry as Slot;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use foldhash::fast::RandomState;
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

use super::alert::Maker;
use super::json::Val;

/// Window maps hash with foldhash, randomly seeded per map: group keys and counted values come from the
/// events (an attacker chooses them), so a fixed hash would let chosen collisions slow every lookup, and
/// foldhash costs less than SipHash on these short keys.
type Map<K, V> = HashMap<K, V, RandomState>;
type Set<K> = HashSet<K, RandomState>;

/// A group-by or counted value, hashed and compared as Python compares the engine's frozen values
/// (`1 == 1.0 == True`; lists and objects frozen to tuples).
#[derive(Clone, Debug)]
pub enum Key {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Box<str>),
    Tuple(Box<[Key]>),
}

enum Number {
    Whole(i128),
    Real(f64),
}

impl Key {
    fn number(&self) -> Option<Number> {
        match self {
            Key::Bool(b) => Some(Number::Whole(*b as i128)),
            Key::Int(n) => Some(Number::Whole(*n as i128)),
            Key::UInt(n) => Some(Number::Whole(*n as i128)),
            Key::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 => Some(Number::Whole(*f as i128)),
            Key::Float(f) => Some(Number::Real(*f)),
            _ => None,
        }
    }

    /// `freeze(value)` of a JSON value; None for null (a missing field).
    fn of(value: &Val) -> Option<Key> {
        Some(match value {
            Val::Null => return None,
            _ => Key::frozen(value),
        })
    }

    fn frozen(value: &Val) -> Key {
        match value {
            Val::Null => Key::Null,
            Val::Bool(b) => Key::Bool(*b),
            Val::Int(n) => Key::Int(*n),
            Val::UInt(n) => Key::UInt(*n),
            Val::Float(f) => Key::Float(*f),
            Val::Str(s) => Key::Str((*s).into()),
            Val::Arr(items) => Key::Tuple(items.iter().map(Key::frozen).collect()),
            Val::Obj(members) => {
                let mut last: Vec<(&str, &Val)> = Vec::with_capacity(members.len());
                for (name, member) in members.iter() {
                    match last.iter_mut().find(|(k, _)| k == name) {
                        Some(slot) => slot.1 = member,
                        None => last.push((name, member)),
                    }
                }
                last.sort_by(|a, b| a.0.cmp(b.0));
                Key::Tuple(
                    last.into_iter()
                        .map(|(k, v)| Key::Tuple(Box::new([Key::Str(k.into()), Key::frozen(v)])))
                        .collect(),
                )
            }
        }
    }

    /// A snapshot's value back to its frozen form (lists to tuples), as `state.load_state` does.
    fn from_py(value: &Bound<'_, PyAny>) -> PyResult<Key> {
        if value.is_none() {
            return Ok(Key::Null);
        }
        if let Ok(b) = value.downcast::<PyBool>() {
            return Ok(Key::Bool(b.is_true()));
        }
        if value.is_instance_of::<PyInt>() {
            if let Ok(n) = value.extract::<i64>() {
                return Ok(Key::Int(n));
            }
            return Ok(Key::UInt(value.extract::<u64>()?));
        }
        if let Ok(f) = value.downcast::<PyFloat>() {
            return Ok(Key::Float(f.value()));
        }
        if let Ok(s) = value.downcast::<PyString>() {
            return Ok(Key::Str(s.to_str()?.into()));
        }
        let items: Vec<Bound<'_, PyAny>> = value.try_iter()?.collect::<PyResult<_>>()?;
        Ok(Key::Tuple(items.iter().map(Key::from_py).collect::<PyResult<_>>()?))
    }

    /// `_thaw(value)`: as JSON has it (tuples back to lists).
    pub fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self {
            Key::Null => py.None().into_bound(py),
            Key::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Key::Int(n) => n.into_pyobject(py)?.into_any(),
            Key::UInt(n) => n.into_pyobject(py)?.into_any(),
            Key::Float(f) => f.into_pyobject(py)?.into_any(),
            Key::Str(s) => PyString::new(py, s).into_any(),
            Key::Tuple(items) => {
                let list = PyList::empty(py);
                for item in items.iter() {
                    list.append(item.to_py(py)?)?;
                }
                list.into_any()
            }
        })
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Null, Key::Null) => true,
            (Key::Str(a), Key::Str(b)) => a == b,
            (Key::Tuple(a), Key::Tuple(b)) => a == b,
            _ => match (self.number(), other.number()) {
                (Some(Number::Whole(a)), Some(Number::Whole(b))) => a == b,
                (Some(Number::Real(a)), Some(Number::Real(b))) => a == b,
                _ => false,
            },
        }
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Key::Null => state.write_u8(0),
            Key::Str(s) => {
                state.write_u8(1);
                s.hash(state)
            }
            Key::Tuple(items) => {
                state.write_u8(2);
                items.hash(state)
            }
            _ => match self.number() {
                Some(Number::Whole(n)) => {
                    state.write_u8(3);
                    n.hash(state)
                }
                Some(Number::Real(f)) => {
                    state.write_u8(4);
                    f.to_bits().hash(state)
                }
                None => state.write_u8(5),
            },
        }
    }
}

type Group = Arc<[Key]>;
type Ids = Arc<[Arc<str>]>;

/// (event time, input index, counted value, ids of the contributing events), as `state.Entry`.
#[derive(Clone)]
struct Entry {
    t: f64,
    input: u32,
    value: Option<Key>,
    ids: Ids,
}

impl Entry {
    /// What a window counts of this entry (`entry[slot]`): its input (1) or its value (2).
    fn counted(&self, slot: u8) -> Counted<'_> {
        match slot {
            1 => Counted::Input(self.input),
            2 => self.value.as_ref().map_or(Counted::Nothing, Counted::Value),
            _ => Counted::Nothing,
        }
    }
}

enum Counted<'e> {
    Nothing,
    Input(u32),
    Value(&'e Key),
}

struct Window {
    entries: Vec<Entry>,
    lo: usize,
    counts: Option<Map<Key, u32>>,
    newest: f64,
    stamp: u64,
}

impl Window {
    fn new(stamp: u64) -> Window {
        Window { entries: Vec::new(), lo: 0, counts: None, newest: f64::NEG_INFINITY, stamp }
    }

    fn first_at(&self, t: f64) -> usize {
        self.entries.partition_point(|e| e.t < t)
    }

    fn after(&self, t: f64) -> usize {
        self.entries.partition_point(|e| e.t <= t)
    }
}

/// The key a counted value is kept under: the value, or for counted inputs the input's index.
fn counted_key(counted: Counted<'_>) -> Option<Cow<'_, Key>> {
    match counted {
        Counted::Nothing => None,
        Counted::Input(i) => Some(Cow::Owned(Key::Int(i as i64))),
        Counted::Value(key) => Some(Cow::Borrowed(key)),
    }
}

fn count(counts: &mut Map<Key, u32>, counted: Counted) {
    let Some(key) = counted_key(counted) else { return };
    match counts.get_mut(&*key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.into_owned(), 1);
        }
    }
}

fn uncount(counts: &mut Map<Key, u32>, counted: Counted) {
    let Some(key) = counted_key(counted) else { return };
    if let Some(n) = counts.get_mut(&*key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&*key);
        }
    }
}

#[derive(Clone, Copy)]
enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

/// One compiled correlation (the fields of `correlate.Correlation` the windows need).
struct Corr {
    kind: Kind,
    timespan: f64,
    op: Op,
    count: i64,
    truth: Option<Vec<bool>>, // the extended condition per set of inputs seen (bit i: input i)
    slot: u8,
    trigger: bool,
    inputs: usize,
    fields: Vec<Vec<Path>>, // per input: the event field behind each group-by name
    values: Vec<Option<Path>>,
    group_by: Vec<String>,
    silent: bool,
    doc: bool, // its suppression reads a field beyond its group: Python needs the event's fields
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    EventCount,
    ValueCount,
    Temporal,
    Ordered,
}

#[derive(Clone, PartialEq)]
struct Path {
    parts: Vec<String>,
    joined: String,
}

impl Path {
    fn new(name: &str) -> Path {
        Path { parts: name.split('.').map(str::to_string).collect(), joined: name.to_string() }
    }

    /// `engine._walk`: nested objects, else a literal dotted key at the top; None when missing.
    fn read<'v, 'a>(&self, doc: &'v Val<'a>) -> Option<&'v Val<'a>> {
        let mut node = doc;
        for part in &self.parts {
            if !matches!(node, Val::Obj(_)) {
                return None;
            }
            match node.get(part) {
                Some(next) => node = next,
                None if self.parts.len() > 1 => return doc.get(&self.joined),
                None => return None,
            }
        }
        Some(node)
    }
}

impl Corr {
    fn test(&self, n: usize) -> bool {
        let n = n as i64;
        match self.op {
            Op::Gt => n > self.count,
            Op::Gte => n >= self.count,
            Op::Lt => n < self.count,
            Op::Lte => n <= self.count,
            Op::Eq => n == self.count,
            Op::Neq => n != self.count,
        }
    }

    fn holds(&self, seen: usize) -> bool {
        match &self.truth {
            Some(truth) => truth[seen],
            None => self.test(seen.count_ones() as usize),
        }
    }

    /// `satisfied`: offset in `span` where the evidence starts if the condition holds over it.
    fn satisfied(&self, span: &[Entry]) -> Option<usize> {
        if span.is_empty() {
            return None;
        }
        match self.kind {
            Kind::EventCount => self.test(span.len()).then_some(0),
            Kind::ValueCount => {
                let distinct: Set<&Key> = span.iter().filter_map(|e| e.value.as_ref()).collect();
                self.test(distinct.len()).then_some(0)
            }
            Kind::Temporal => {
                let seen = span.iter().fold(0usize, |m, e| m | (1 << e.input));
                self.holds(seen).then_some(0)
            }
            Kind::Ordered => {
                let mut want = 0;
                let mut start: Option<usize> = None;
                let mut matched = 0usize;
                for (offset, entry) in span.iter().enumerate() {
                    if want < self.inputs && entry.input as usize == want {
                        start.get_or_insert(offset);
                        matched |= 1 << want;
                        want += 1;
                    }
                }
                self.holds(matched).then_some(start.unwrap_or(0))
            }
        }
    }

    /// `_could_fire`: a cheap necessary condition on the trailing span.
    fn could_fire(&self, n: usize, counts: Option<&Map<Key, u32>>) -> bool {
        if self.truth.is_none() {
            return self.test(n);
        }
        if let (Kind::Temporal, Some(counts)) = (self.kind, counts) {
            let seen = counts.keys().fold(0usize, |m, k| match k {
                Key::Int(i) => m | (1 << i),
                _ => m,
            });
            return self.holds(seen);
        }
        true
    }

    fn rebuild(&self, window: &mut Window) {
        window.lo = window.first_at(window.newest - self.timespan);
        if self.slot == 0 {
            window.counts = None;
            return;
        }
        let mut counts = Map::default();
        for entry in &window.entries[window.lo..] {
            count(&mut counts, entry.counted(self.slot));
        }
        window.counts = Some(counts);
    }

    fn fire_span(&self, window: &mut Window, lo: usize) -> Option<Vec<Entry>> {
        let offset = self.satisfied(&window.entries[lo..])?;
        let evidence = window.entries.split_off(lo + offset);
        self.rebuild(window);
        Some(evidence)
    }

    /// `add_immediate`: the evidence of the firing one entry causes, if any.
    fn add(&self, window: &mut Window, entry: Entry, lateness: f64) -> Option<Vec<Entry>> {
        let t = entry.t;
        if t < window.newest {
            return self.add_late(window, entry, lateness);
        }
        if window.entries.capacity() == 0 {
            window.entries.reserve_exact(1); // most windows keep one entry: not the default four
        }
        window.entries.push(entry);
        window.newest = t;
        let start = t - self.timespan;
        let mut lo = window.lo;
        let n = if self.slot != 0 {
            let counts = window.counts.get_or_insert_with(Map::default);
            while window.entries[lo].t < start {
                uncount(counts, window.entries[lo].counted(self.slot));
                lo += 1;
            }
            let last = window.entries.last().expect("just pushed");
            count(counts, last.counted(self.slot));
            counts.len()
        } else {
            while window.entries[lo].t < start {
                lo += 1;
            }
            window.entries.len() - lo
        };
        window.lo = lo;
        let could = if self.truth.is_none() { self.test(n) } else { self.could_fire(n, window.counts.as_ref()) };
        let fired = if could { self.fire_span(window, lo) } else { None };
        let cutoff = start - lateness;
        prune(window, cutoff);
        fired
    }

    fn add_late(&self, window: &mut Window, entry: Entry, lateness: f64) -> Option<Vec<Entry>> {
        let t = entry.t;
        let at = window.after(t);
        window.entries.insert(at, entry);
        let fired = if t >= window.newest - self.timespan {
            if let Some(counts) = window.counts.as_mut() {
                count(counts, window.entries[at].counted(self.slot));
            }
            let n = match &window.counts {
                Some(counts) => counts.len(),
                None => window.entries.len() - window.lo,
            };
            if self.could_fire(n, window.counts.as_ref()) {
                let lo = window.lo;
                self.fire_span(window, lo)
            } else {
                None
            }
        } else {
            window.lo += 1;
            self.late_span(window, t)
        };
        let cutoff = window.newest - self.timespan - lateness;
        prune(window, cutoff);
        fired
    }

    fn late_span(&self, window: &mut Window, t: f64) -> Option<Vec<Entry>> {
        let end = window.after(t + self.timespan) - 1;
        let last = window.entries[end].t;
        let begin = window.first_at(last - self.timespan);
        let offset = self.satisfied(&window.entries[begin..=end])?;
        let evidence: Vec<Entry> = window.entries.drain(begin + offset..=end).collect();
        self.rebuild(window);
        Some(evidence)
    }
}

fn prune(window: &mut Window, cutoff: f64) {
    if window.entries.first().is_some_and(|e| e.t < cutoff) {
        let k = window.first_at(cutoff);
        window.entries.drain(..k);
        window.lo = window.lo.saturating_sub(k);
    }
}

/// One correlation's windows: a map from group to slot, the windows in slots, and a queue of slots
/// giving the order `state.WindowStore` keeps (front: looked at longest ago). A queue item whose stamp
/// no longer matches its slot's window is stale (the window moved to the back, or went).
#[derive(Default)]
struct Table {
    index: Map<Group, u32>,
    slots: Vec<Option<(Group, Window)>>,
    free: Vec<u32>,
    queue: VecDeque<(u32, u64)>,
    created: usize,
}

impl Table {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn live(&self, (slot, stamp): (u32, u64)) -> bool {
        self.slots[slot as usize].as_ref().is_some_and(|(_, w)| w.stamp == stamp)
    }

    fn window(&mut self, slot: u32) -> &mut Window {
        &mut self.slots[slot as usize].as_mut().expect("a live slot").1
    }

    /// The slot of a group's window, and whether it was made now (at the back of the queue). One hash
    /// of the key either way: most lookups make a window.
    fn get_or_make(&mut self, key: &Group, stamp: u64) -> (u32, bool) {
        let vacant = match self.index.entry(key.clone()) {
            Slot::Occupied(found) => return (*found.get(), false),
            Slot::Vacant(vacant) => vacant,
        };
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                (self.slots.len() - 1) as u32
            }
        };
        vacant.insert(slot);
        self.slots[slot as usize] = Some((key.clone(), Window::new(stamp)));
        self.queue.push_back((slot, stamp));
        (slot, true)
    }

    /// The front window's slot, stale items dropped.
    fn pop_front(&mut self) -> Option<u32> {
        while let Some(item) = self.queue.pop_front() {
            if self.live(item) {
                return Some(item.0);
            }
        }
        None
    }

    fn to_back(&mut self, slot: u32, stamp: u64) {
        self.window(slot).stamp = stamp;
        self.queue.push_back((slot, stamp));
    }

    fn remove(&mut self, slot: u32) {
        if let Some((key, _)) = self.slots[slot as usize].take() {
            self.index.remove(&key);
            self.free.push(slot);
        }
    }

    fn compact(&mut self) {
        if self.queue.len() > 2 * self.len() + 1024 {
            let queue = std::mem::take(&mut self.queue);
            self.queue = queue.into_iter().filter(|item| self.live(*item)).collect();
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Counters {
    events: u64,
    matched: u64,
    late: u64,
    ungrouped: u64,
    correlation_alerts: u64,
    base_alerts: u64,
    evidence_truncated: u64,
    expired: u64,
    evicted_ttl: u64,
    evicted_cap: u64,
    restore_dropped: u64,
}

/// What a matched event or a firing leaves to hand out, in stream order (made into alerts by `emit`).
pub enum Out {
    Alert { position: usize, rule: u32, t: f64, entity: Option<Arc<[(usize, Key)]>>, doc: bool },
    Fired { index: usize, key: Group, first: f64, last: f64, ids: Vec<Arc<str>>, count: usize, doc: Option<usize> },
    Expire(f64),
}

impl Out {
    /// Whether Python reads the event's projected fields for this one.
    pub fn needs_doc(&self) -> bool {
        match self {
            Out::Alert { entity, doc, .. } => *doc || entity.is_none(),
            Out::Fired { doc, .. } => doc.is_some(),
            Out::Expire(_) => false,
        }
    }
}

#[pyclass(module = "egovops_native")]
pub struct Correlator {
    corrs: Vec<Corr>,
    feeds: Vec<Vec<(usize, usize)>>,   // per base rule: (correlation, input), readers grouped
    chains: Vec<Vec<(usize, usize)>>,  // per correlation: (outer correlation, input)
    silent_rules: Vec<bool>,
    rule_docs: Vec<bool>, // per base rule: its suppression reads a field beyond the entity
    entity: Vec<Path>, // the fields a single-event alert names its entity by
    tables: Vec<Table>,
    lateness: f64,
    ttl: f64,
    sweep_every: f64,
    max_groups: usize,
    max_evidence: usize,
    size: usize,
    stamp: u64,
    max_time: f64,
    watermark: f64,
    next_sweep: f64,
    counters: Counters,
    seconds: PyObject,
    alerts: Maker,
}

fn num(value: &Value, what: &str) -> PyResult<f64> {
    value.as_f64().ok_or_else(|| PyValueError::new_err(format!("correlation plan: {what} is not a number")))
}

fn parse_corr(spec: &Value) -> PyResult<Corr> {
    let bad = |what: &str| PyValueError::new_err(format!("correlation plan: bad {what}"));
    let kind = match spec["kind"].as_str() {
        Some("event_count") => Kind::EventCount,
        Some("value_count") => Kind::ValueCount,
        Some("temporal") => Kind::Temporal,
        Some("temporal_ordered") => Kind::Ordered,
        _ => return Err(bad("kind")),
    };
    let op = match spec["op"].as_str() {
        Some("gt") => Op::Gt,
        Some("gte") => Op::Gte,
        Some("lt") => Op::Lt,
        Some("lte") => Op::Lte,
        Some("eq") => Op::Eq,
        Some("neq") => Op::Neq,
        _ => return Err(bad("op")),
    };
    let strings = |value: &Value| -> Vec<String> {
        value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    let fields: Vec<Vec<Path>> = spec["fields"]
        .as_array()
        .ok_or_else(|| bad("fields"))?
        .iter()
        .map(|names| strings(names).iter().map(|n| Path::new(n)).collect())
        .collect();
    let values = spec["values"]
        .as_array()
        .ok_or_else(|| bad("values"))?
        .iter()
        .map(|v| v.as_str().map(Path::new))
        .collect();
    let truth = match &spec["truth"] {
        Value::Array(items) => Some(items.iter().map(|v| v.as_bool().unwrap_or(false)).collect()),
        _ => None,
    };
    Ok(Corr {
        kind,
        timespan: num(&spec["timespan"], "timespan")?,
        op,
        count: spec["count"].as_i64().ok_or_else(|| bad("count"))?,
        truth,
        slot: spec["slot"].as_u64().ok_or_else(|| bad("slot"))? as u8,
        trigger: spec["trigger"].as_bool().unwrap_or(false),
        inputs: fields.len(),
        fields,
        values,
        group_by: strings(&spec["group_by"]),
        silent: spec["silent"].as_bool().unwrap_or(false),
        doc: spec["doc"].as_bool().unwrap_or(true),
    })
}

fn pairs(value: &Value) -> Vec<(usize, usize)> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get(0)?.as_u64()? as usize, p.get(1)?.as_u64()? as usize)))
                .collect()
        })
        .unwrap_or_default()
}

#[pymethods]
impl Correlator {
    /// `plan`: the JSON plan of `secops.detection.correlate_native`; `seconds`: `engine.event_seconds`,
    /// called for a timestamp not in the canonical `...Z` form.
    #[new]
    fn new(plan: &str, seconds: PyObject, alerts: &Bound<'_, PyAny>) -> PyResult<Self> {
        let plan: Value =
            serde_json::from_str(plan).map_err(|e| PyValueError::new_err(format!("correlation plan: {e}")))?;
        let corrs: Vec<Corr> = plan["correlations"]
            .as_array()
            .ok_or_else(|| PyValueError::new_err("correlation plan: no correlations"))?
            .iter()
            .map(parse_corr)
            .collect::<PyResult<_>>()?;
        let feeds = plan["feeds"].as_array().map(|a| a.iter().map(pairs).collect()).unwrap_or_default();
        let chains = plan["chains"].as_array().map(|a| a.iter().map(pairs).collect()).unwrap_or_default();
        let silent_rules = plan["silent_rules"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_bool().unwrap_or(false)).collect())
            .unwrap_or_default();
        let tables = corrs.iter().map(|_| Table::default()).collect();
        let rule_docs = plan["rule_docs"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_bool().unwrap_or(true)).collect())
            .unwrap_or_default();
        let entity = plan["entity"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(Path::new)).collect())
            .unwrap_or_default();
        Ok(Correlator {
            corrs,
            feeds,
            chains,
            silent_rules,
            rule_docs,
            entity,
            tables,
            lateness: num(&plan["lateness"], "lateness")?,
            ttl: num(&plan["ttl"], "ttl")?,
            sweep_every: num(&plan["sweep_every"], "sweep_every")?,
            max_groups: plan["max_groups"].as_u64().unwrap_or(u64::MAX) as usize,
            max_evidence: plan["max_evidence"].as_u64().unwrap_or(u64::MAX) as usize,
            size: 0,
            stamp: 0,
            max_time: f64::NEG_INFINITY,
            watermark: f64::NEG_INFINITY,
            next_sweep: f64::NEG_INFINITY,
            counters: Counters::default(),
            seconds,
            alerts: Maker::from_py(alerts)?,
        })
    }

    /// Move the watermark on without an event (`Engine.advance`); the expiry it causes.
    fn advance<'py>(&mut self, py: Python<'py>, mark: f64) -> PyResult<Bound<'py, PyTuple>> {
        let mut out = Vec::new();
        if mark > self.watermark {
            self.watermark = mark;
            self.next_sweep = f64::NEG_INFINITY;
            self.tick(&mut out);
        }
        self.emit(py, &out, &[], None)
    }

    /// Counters, as `Engine.metrics` names them.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = self.counters;
        vec![
            ("events", c.events),
            ("matched", c.matched),
            ("late", c.late),
            ("ungrouped", c.ungrouped),
            ("correlation_alerts", c.correlation_alerts),
            ("base_alerts", c.base_alerts),
            ("evidence_truncated", c.evidence_truncated),
            ("expired", c.expired),
            ("evicted_ttl", c.evicted_ttl),
            ("evicted_cap", c.evicted_cap),
            ("restore_dropped", c.restore_dropped),
            ("groups", self.size as u64),
        ]
    }

    fn set_counter(&mut self, name: &str, value: u64) -> PyResult<()> {
        let c = &mut self.counters;
        let slot = match name {
            "events" => &mut c.events,
            "matched" => &mut c.matched,
            "late" => &mut c.late,
            "ungrouped" => &mut c.ungrouped,
            "correlation_alerts" => &mut c.correlation_alerts,
            "base_alerts" => &mut c.base_alerts,
            "evidence_truncated" => &mut c.evidence_truncated,
            "expired" => &mut c.expired,
            "evicted_ttl" => &mut c.evicted_ttl,
            "evicted_cap" => &mut c.evicted_cap,
            "restore_dropped" => &mut c.restore_dropped,
            _ => return Err(PyValueError::new_err(format!("no counter {name:?}"))),
        };
        *slot = value;
        Ok(())
    }

    /// (latest event time, watermark), -inf before any event.
    #[getter]
    fn clock(&self) -> (f64, f64) {
        (self.max_time, self.watermark)
    }

    #[setter]
    fn set_clock(&mut self, clock: (f64, f64)) {
        (self.max_time, self.watermark) = clock;
    }

    /// Every window as (correlation index, group values, newest, entries as (t, input, value, ids)),
    /// each table in its queue order (what `WindowStore.to_state` lists).
    fn windows<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for (index, table) in self.tables.iter_mut().enumerate() {
            table.compact();
            for &(slot, stamp) in &table.queue {
                let Some((group, window)) = table.slots[slot as usize].as_ref().filter(|(_, w)| w.stamp == stamp)
                else {
                    continue;
                };
                let key = PyList::empty(py);
                for value in group.iter() {
                    key.append(value.to_py(py)?)?;
                }
                let entries = PyList::empty(py);
                for e in &window.entries {
                    let value = match &e.value {
                        Some(v) => v.to_py(py)?,
                        None => py.None().into_bound(py),
                    };
                    let ids = PyList::new(py, e.ids.iter().map(|i| i.as_ref()))?;
                    entries.append((e.t, e.input, value, ids))?;
                }
                out.append((index, key, window.newest, entries))?;
            }
        }
        Ok(out)
    }

    /// Add a window from a snapshot (`windows` output); its trailing span is recomputed.
    fn load_window(
        &mut self,
        index: usize,
        key: &Bound<'_, PyAny>,
        newest: f64,
        entries: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if index >= self.corrs.len() {
            return Err(PyValueError::new_err(format!("no correlation {index}")));
        }
        let group: Group = key.try_iter()?.map(|v| Key::from_py(&v?)).collect::<PyResult<Vec<_>>>()?.into();
        let mut window = Window::new(0);
        for item in entries.try_iter()? {
            let item = item?;
            let t: f64 = item.get_item(0)?.extract()?;
            let input: u32 = item.get_item(1)?.extract()?;
            let value = item.get_item(2)?;
            let ids: Vec<String> = item.get_item(3)?.extract()?;
            let value = if value.is_none() { None } else { Some(Key::from_py(&value)?) };
            let ids: Ids = ids.into_iter().map(|i| Arc::from(i.as_str())).collect();
            window.entries.push(Entry { t, input, value, ids });
        }
        window.newest = newest;
        self.corrs[index].rebuild(&mut window);
        self.stamp += 1;
        window.stamp = self.stamp;
        let (slot, made) = self.tables[index].get_or_make(&group, self.stamp);
        *self.tables[index].window(slot) = window;
        if made {
            self.size += 1;
        }
        Ok(())
    }
}

impl Correlator {
    pub fn seconds_of(&self, py: Python<'_>, stamp: &Bound<'_, PyAny>) -> PyResult<f64> {
        self.seconds.call1(py, (stamp,))?.extract(py)
    }

    pub fn start_batch(&mut self, events: usize) {
        self.counters.events += events as u64;
    }

    /// Event time moves on to `t`: the watermark follows, a sweep runs when due.
    pub fn clock_to(&mut self, t: f64, out: &mut Vec<Out>) {
        if t <= self.max_time {
            return;
        }
        self.max_time = t;
        let mark = t - self.lateness;
        if mark > self.watermark {
            self.watermark = mark;
            if mark >= self.next_sweep {
                self.tick(out);
            }
        }
    }

    fn tick(&mut self, out: &mut Vec<Out>) {
        let mark = self.watermark;
        if mark >= self.next_sweep {
            self.sweep(mark);
            out.push(Out::Expire(mark));
            self.next_sweep = mark + self.sweep_every;
        }
    }

    fn sweep(&mut self, mark: f64) {
        for (index, table) in self.tables.iter_mut().enumerate() {
            let horizon = self.corrs[index].timespan;
            let budget = (2 * table.created + 64).min(table.len());
            table.created = 0;
            for _ in 0..budget {
                let Some(slot) = table.pop_front() else { break };
                let newest = table.window(slot).newest;
                if newest + self.ttl < mark {
                    self.counters.evicted_ttl += 1;
                } else if newest + horizon < mark {
                    self.counters.expired += 1;
                } else {
                    self.stamp += 1;
                    table.to_back(slot, self.stamp);
                    continue;
                }
                table.remove(slot);
                self.size -= 1;
            }
            table.compact();
        }
    }

    /// `WindowStore._evict`: the front hundredth of the largest table.
    fn evict(&mut self) {
        let mut largest = 0;
        for (index, table) in self.tables.iter().enumerate() {
            if table.len() > self.tables[largest].len() {
                largest = index;
            }
        }
        let table = &mut self.tables[largest];
        let batch = (table.len().saturating_sub(1)).min((self.max_groups / 100).max(1));
        for _ in 0..batch {
            if let Some(slot) = table.pop_front() {
                table.remove(slot);
            }
        }
        self.size -= batch;
        self.counters.evicted_cap += batch as u64;
    }

    /// One matched event: its rules' single-event alerts and correlation inputs (`Engine._matched`).
    pub fn matched(&mut self, doc: &Val, rules: &[u32], position: usize, t: f64, id: &str, out: &mut Vec<Out>) {
        self.counters.matched += rules.len() as u64;
        let late = t < self.watermark;
        let mut ids: Option<Ids> = None;
        let mut entity: Option<Option<Arc<[(usize, Key)]>>> = None;
        for &rule in rules {
            let rule_index = rule as usize;
            if !self.silent_rules.get(rule_index).copied().unwrap_or(false) {
                let entity = entity.get_or_insert_with(|| self.entity_of(doc)).clone();
                let doc = self.rule_docs.get(rule_index).copied().unwrap_or(true);
                self.counters.base_alerts += 1;
                out.push(Out::Alert { position, rule, t, entity, doc });
            }
            let Some(feeds) = self.feeds.get(rule_index).filter(|f| !f.is_empty()) else { continue };
            if late {
                self.counters.late += 1;
                continue;
            }
            let ids = ids.get_or_insert_with(|| Arc::from(vec![Arc::from(id)])).clone();
            let feeds = feeds.len();
            // inputs grouped alike are next to each other (sorted in Python): one read serves them all
            let mut cached: Option<((usize, usize), Option<Group>)> = None;
            for feed in 0..feeds {
                let (index, input) = self.feeds[rule_index][feed];
                let same = cached.as_ref().is_some_and(|((i, n), _)| {
                    self.corrs[*i].fields[*n] == self.corrs[index].fields[input]
                });
                let key = match (&cached, same) {
                    (Some((_, key)), true) => key.clone(),
                    _ => {
                        let key: Option<Group> = self.corrs[index].fields[input]
                            .iter()
                            .map(|p| p.read(doc).and_then(Key::of))
                            .collect::<Option<Vec<_>>>()
                            .map(Arc::from);
                        cached = Some(((index, input), key.clone()));
                        key
                    }
                };
                let Some(key) = key else {
                    self.counters.ungrouped += 1;
                    continue;
                };
                let corr = &self.corrs[index];
                let value = corr.values[input].as_ref().and_then(|p| p.read(doc)).and_then(Key::of);
                let entry = Entry { t, input: input as u32, value, ids: ids.clone() };
                self.add(index, key, entry, Some(position), out);
            }
        }
    }

    /// The entity of a single-event alert (`Engine._base_alert`), when every value is a scalar (else
    /// Python reads it from the projected document).
    fn entity_of(&self, doc: &Val) -> Option<Arc<[(usize, Key)]>> {
        let mut found = Vec::with_capacity(self.entity.len());
        for (n, path) in self.entity.iter().enumerate() {
            match path.read(doc) {
                None => {}
                Some(Val::Arr(_) | Val::Obj(_)) => return None,
                Some(value) => found.push((n, Key::frozen(value))),
            }
        }
        Some(Arc::from(found))
    }

    fn add(&mut self, index: usize, key: Group, entry: Entry, doc: Option<usize>, out: &mut Vec<Out>) {
        if self.corrs[index].trigger {
            self.fire(index, key, vec![entry], doc, out);
            return;
        }
        let fired = {
            let (slot, created) = self.tables[index].get_or_make(&key, self.stamp + 1);
            if created {
                self.stamp += 1;
                self.tables[index].created += 1;
                self.size += 1;
                if self.size > self.max_groups {
                    self.evict();
                }
            }
            let window = self.tables[index].window(slot);
            self.corrs[index].add(window, entry, self.lateness)
        };
        if let Some(evidence) = fired {
            self.fire(index, key, evidence, doc, out);
        }
    }

    fn fire(&mut self, index: usize, key: Group, evidence: Vec<Entry>, doc: Option<usize>, out: &mut Vec<Out>) {
        self.counters.correlation_alerts += 1;
        let mut ids: Vec<Arc<str>> = if evidence.len() == 1 {
            evidence[0].ids.to_vec()
        } else {
            let mut seen: Set<Arc<str>> = Set::default();
            let mut ids = Vec::new();
            for entry in &evidence {
                for id in entry.ids.iter() {
                    if seen.insert(id.clone()) {
                        ids.push(id.clone());
                    }
                }
            }
            ids
        };
        let count = ids.len();
        if count > self.max_evidence {
            self.counters.evidence_truncated += (count - self.max_evidence) as u64;
            ids.truncate(self.max_evidence);
        }
        let first = evidence[0].t;
        let last = evidence[evidence.len() - 1].t;
        let chained: Ids = Arc::from(ids.as_slice());
        if !self.corrs[index].silent {
            let doc = doc.filter(|_| self.corrs[index].doc);
            out.push(Out::Fired { index, key: key.clone(), first, last, ids, count, doc });
        }
        let chains = self.chains.get(index).map_or(0, Vec::len);
        for chain in 0..chains {
            let (outer, input) = self.chains[index][chain];
            self.feed_result(index, &key, outer, input, last, chained.clone(), doc, out);
        }
    }

    /// An inner correlation's firing into an outer one: values read from the inner group.
    #[allow(clippy::too_many_arguments)]
    fn feed_result(
        &mut self,
        inner: usize,
        key: &Group,
        outer: usize,
        input: usize,
        t: f64,
        ids: Ids,
        doc: Option<usize>,
        out: &mut Vec<Out>,
    ) {
        let names = &self.corrs[inner].group_by;
        let lookup = |name: &str| -> Option<Key> {
            names.iter().rposition(|n| n == name).map(|i| key[i].clone()).filter(|v| !matches!(v, Key::Null))
        };
        let corr = &self.corrs[outer];
        let mut values = Vec::with_capacity(corr.fields[input].len());
        for path in &corr.fields[input] {
            match lookup(&path.joined) {
                Some(value) => values.push(value),
                None => {
                    self.counters.ungrouped += 1;
                    return;
                }
            }
        }
        let value = corr.values[input].as_ref().and_then(|p| lookup(&p.joined));
        let entry = Entry { t, input: input as u32, value, ids };
        self.add(outer, Arc::from(values), entry, doc, out);
    }

    /// The end of a batch: `(alerts, fixes)` (see `secops.detection.correlate_native`). `events`: the
    /// batch's events and their stamps (the id and time of a single-event alert).
    pub fn emit<'py>(
        &self,
        py: Python<'py>,
        out: &[Out],
        docs: &[(usize, Bound<'py, PyAny>)],
        events: Option<(&Bound<'py, PyAny>, &Bound<'py, PyList>)>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let alerts = PyList::empty(py);
        let fixes = PyList::empty(py);
        let none = py.None().into_bound(py);
        let doc_of = |position: usize| -> Bound<'py, PyAny> {
            docs.binary_search_by_key(&position, |(p, _)| *p)
                .map(|i| docs[i].1.clone())
                .unwrap_or_else(|_| none.clone())
        };
        for item in out {
            match item {
                Out::Alert { position, rule, t, entity, .. } => {
                    let (events, stamps) =
                        events.ok_or_else(|| PyValueError::new_err("a single-event alert without its batch"))?;
                    let found = match entity {
                        Some(values) => {
                            let dict = PyDict::new(py);
                            for (n, value) in values.iter() {
                                dict.set_item(&self.entity[*n].joined, value.to_py(py)?)?;
                            }
                            dict.into_any()
                        }
                        None => none.clone(),
                    };
                    let id = events.get_item(*position)?.getattr(intern!(py, "id"))?;
                    let stamp = stamps.get_item(*position)?;
                    let rule = *rule as usize;
                    let alert = self.alerts.base(py, rule, id.downcast::<PyString>()?, &stamp, found)?;
                    if entity.is_none() || self.alerts.rules[rule].suppressed {
                        fixes.append((alerts.len(), 0, rule, doc_of(*position), *t))?;
                    }
                    alerts.append(alert)?;
                }
                Out::Fired { index, key, first, last, ids, count, doc } => {
                    let ids = PyList::new(py, ids.iter().map(|i| i.as_ref()))?.into_any();
                    let group_by = &self.corrs[*index].group_by;
                    let alert = self.alerts.fired(py, *index, group_by, key, *first, *last, ids, *count)?;
                    let fill = alert.getattr(intern!(py, "id"))?.is_none();
                    if fill || self.alerts.corrs[*index].suppressed {
                        let doc = doc.map_or_else(|| none.clone(), doc_of);
                        fixes.append((alerts.len(), 1, *index, doc, *last, *first))?;
                    }
                    alerts.append(alert)?;
                }
                Out::Expire(mark) => fixes.append((alerts.len(), 2, 0, none.clone(), *mark))?,
            }
        }
        PyTuple::new(py, [alerts.into_any(), fixes.into_any()])
    }
}
