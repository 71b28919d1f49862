//! ModSecurity audit logs, natively: `ModSecurityParser` frames serial transactions (A..Z) and JSON
//! records (ModSecurity 2.9 and libmodsecurity 3) and turns them into stamped ECS documents — the work
//! of `secops.sources.modsecurity` (`AuditFramer`, `ModSecurityAudit.parse`) plus the pipeline's
//! `Stamper`. The Python source stays the reference, and also the reader of last resort: a frame the
//! native code does not read (a Concurrent index line, a rejected or unusual record) is handed to the
//! `reference` callable, whose documents are stamped here and whose exception text is the dead
//! letter's reason. So dead letters carry the reference's reasons by construction.
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

mod framer;
mod json;
mod model;
mod pystr;
mod serial;

use framer::{Frame, Framer};
use model::{Moment, Stamp, Written};
use pystr::{Defer, Parsed};

use crate::civil::days_from_civil;
use crate::text::decode;

const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";
/// Wall-clock seconds whose zone offset is kept (cleared when full).
const MAX_OFFSETS: usize = 4096;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ModSecurityParser>()
}

/// The configured zone (a `zoneinfo.ZoneInfo`), asked once per wall-clock second.
struct Zone {
    zone: Py<PyAny>,
    datetime: Py<PyAny>,
    offsets: HashMap<i64, i64>,
}

/// The zone with the GIL, as the JSON reader needs it.
struct ZoneNow<'z, 'py> {
    py: Python<'py>,
    zone: &'z mut Zone,
}

impl json::LocalZone for ZoneNow<'_, '_> {
    fn utcoffset(&mut self, t: &Moment) -> Parsed<i64> {
        let date = (i64::from(t.year), i64::from(t.month), i64::from(t.day));
        let key = days_from_civil(date.0, date.1, date.2) * 86_400
            + i64::from(t.hour * 3600 + t.minute * 60 + t.second);
        if let Some(&offset) = self.zone.offsets.get(&key) {
            return Ok(offset);
        }
        let offset = (|| -> PyResult<i64> {
            let moment = self.zone.datetime.bind(self.py).call1((
                t.year, t.month, t.day, t.hour, t.minute, t.second, 0, self.zone.zone.bind(self.py),
            ))?;
            let seconds: f64 = moment
                .call_method0("utcoffset")?
                .call_method0("total_seconds")?
                .extract()?;
            Ok(seconds.round() as i64)
        })()
        .map_err(|_| Defer)?;
        if self.zone.offsets.len() >= MAX_OFFSETS {
            self.zone.offsets.clear();
        }
        self.zone.offsets.insert(key, offset);
        Ok(offset)
    }
}

/// The document of one frame read natively (unstamped when `stamp` is None), written to `out`; Defer
/// (nothing written) when the reference must read it. A panic, a bug, defers too.
fn native_doc(
    raw: &[u8],
    text: &str,
    zone: &mut dyn json::LocalZone,
    stamp: Option<&Stamp<'_>>,
    out: &mut String,
) -> Parsed<Written> {
    let start = out.len();
    let written = catch_unwind(AssertUnwindSafe(|| {
        if raw.first() == Some(&b'{') {
            let record: Value = serde_json::from_slice(raw).map_err(|_| Defer)?;
            model::write_doc(&json::parse_json(&record, zone)?, stamp, out)
        } else if raw.starts_with(b"--") {
            model::write_doc(&serial::parse_serial(text)?, stamp, out)
        } else {
            Err(Defer) // a Concurrent index line, or no record at all: the reference decides
        }
    }))
    .unwrap_or(Err(Defer));
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// What the pipeline's `Stamper` adds to every document of one input.
struct Stamping {
    id_prefix: String,
    label: String,
    observer: String,
    keep_original: bool,
    dataset: String,
}

impl Stamping {
    /// `{id_prefix}{position:012x}{index:04x}`
    fn id(&self, position: u64, index: usize) -> String {
        let mut id = String::with_capacity(self.id_prefix.len() + 16);
        id.push_str(&self.id_prefix);
        model::push_digits::<16>(&mut id, position, 12);
        model::push_digits::<16>(&mut id, index as u64, 4);
        id
    }

    /// `Stamper.event` on a document the reference made.
    fn stamp_value(&self, doc: &mut Map<String, Value>, id: &str, position: u64, text: &str) -> Result<(String, String), String> {
        let meta = doc.entry("event").or_insert(Value::Null);
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        let Value::Object(meta) = meta else { unreachable!("made an object") };
        meta.insert("id".into(), Value::from(id));
        let dataset = meta
            .entry("dataset")
            .or_insert_with(|| Value::from(self.dataset.as_str()))
            .as_str()
            .unwrap_or(&self.dataset)
            .to_owned();
        if self.keep_original && !meta.contains_key("original") {
            meta.insert("original".into(), Value::from(text));
        }
        let file = Value::Object(Map::from_iter([("path".to_owned(), Value::from(self.label.as_str()))]));
        match doc.get_mut("log") {
            Some(Value::Object(log)) => {
                log.insert("file".into(), file);
                log.insert("offset".into(), Value::from(position));
            }
            _ => {
                let log = Map::from_iter([("file".to_owned(), file), ("offset".to_owned(), Value::from(position))]);
                doc.insert("log".into(), Value::Object(log));
            }
        }
        match doc.get_mut("observer") {
            Some(Value::Object(observer)) => {
                observer
                    .entry("hostname")
                    .or_insert_with(|| Value::from(self.observer.as_str()));
            }
            _ => {
                let observer = Map::from_iter([("hostname".to_owned(), Value::from(self.observer.as_str()))]);
                doc.insert("observer".into(), Value::Object(observer));
            }
        }
        match doc.get("@timestamp") {
            Some(Value::String(timestamp)) => Ok((timestamp.clone(), dataset)),
            _ => Err("parser produced no @timestamp".to_owned()),
        }
    }
}

/// An event as Python gets it: `(id, @timestamp, dataset, document, message)`.
type Event<'d> = (String, String, &'d str, &'d str, Option<String>);

fn event_tuple<'py>(py: Python<'py>, event: Event<'_>) -> PyResult<Bound<'py, PyTuple>> {
    let (id, timestamp, dataset, doc, message) = event;
    PyTuple::new(
        py,
        [
            PyString::new(py, &id).into_any(),
            PyString::new(py, &timestamp).into_any(),
            PyString::new(py, dataset).into_any(),
            PyString::new(py, doc).into_any(),
            message.map_or_else(|| py.None().into_bound(py), |m| PyString::new(py, &m).into_any()),
        ],
    )
}

/// The events and dead letters of one batch, as Python objects.
struct Batch<'py> {
    events: Vec<Bound<'py, PyTuple>>,
    letters: Vec<Bound<'py, PyTuple>>,
}

/// The ModSecurity parser of the native ingest core (see native.md for the interface).
#[pyclass(module = "egovops_native")]
pub struct ModSecurityParser {
    framer: Framer,
    stamping: Stamping,
    zone: Zone,
    reference: Option<Py<PyAny>>,
    doc: String,
}

impl ModSecurityParser {
    /// The reference's documents of one frame as JSON texts, or its reason for rejecting it.
    fn reference_docs(&self, py: Python<'_>, raw: &[u8]) -> Result<Vec<String>, String> {
        let Some(reference) = &self.reference else {
            return Err("parser error: the native ModSecurity parser leaves this record to the Python \
                        reference, which it was not given"
                .to_owned());
        };
        reference
            .bind(py)
            .call1((PyBytes::new(py, raw),))
            .and_then(|docs| docs.extract::<Vec<String>>())
            .map_err(|err| {
                let reason = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
                if reason.is_empty() { "rejected".to_owned() } else { reason }
            })
    }

    /// The stamped events of one frame, or its dead letter.
    fn frame<'py>(&mut self, py: Python<'py>, frame: Frame<'_>, batch: &mut Batch<'py>) -> PyResult<()> {
        let text = decode(&frame.raw);
        let id = self.stamping.id(frame.offset, 0);
        let stamp = Stamp {
            id: &id,
            dataset: &self.stamping.dataset,
            original: self.stamping.keep_original.then_some(&*text),
            label: &self.stamping.label,
            offset: frame.offset,
            observer: &self.stamping.observer,
        };
        self.doc.clear();
        let mut zone = ZoneNow { py, zone: &mut self.zone };
        if let Ok(written) = native_doc(&frame.raw, &text, &mut zone, Some(&stamp), &mut self.doc) {
            let event = (id, written.timestamp, &*self.stamping.dataset, &*self.doc, Some(written.message));
            batch.events.push(event_tuple(py, event)?);
            return Ok(());
        }
        let made = self.reference_docs(py, &frame.raw).and_then(|docs| {
            docs.iter()
                .enumerate()
                .map(|(index, doc)| self.stamp_reference(doc, frame.offset, index, &text))
                .collect::<Result<Vec<_>, String>>()
        });
        match made {
            Ok(made) => {
                for (id, timestamp, dataset, json, message) in made {
                    batch.events.push(event_tuple(py, (id, timestamp, &dataset, &json, message))?);
                }
            }
            Err(reason) => {
                let letter = (frame.offset, reason, PyBytes::new(py, &frame.raw));
                batch.letters.push(letter.into_pyobject(py)?);
            }
        }
        Ok(())
    }

    /// `Stamper.event` on one of the reference's documents: (id, @timestamp, dataset, JSON, message).
    #[allow(clippy::type_complexity)]
    fn stamp_reference(
        &self,
        doc: &str,
        position: u64,
        index: usize,
        text: &str,
    ) -> Result<(String, String, String, String, Option<String>), String> {
        let mut doc: Map<String, Value> =
            serde_json::from_str(doc).map_err(|e| format!("parser error: reference document: {e}"))?;
        let id = self.stamping.id(position, index);
        let (timestamp, dataset) = self.stamping.stamp_value(&mut doc, &id, position, text)?;
        let message = match doc.get("message") {
            Some(Value::String(m)) if !m.is_empty() => Some(m.clone()),
            _ => None,
        };
        let json = serde_json::to_string(&doc).map_err(|e| format!("parser error: {e}"))?;
        Ok((id, timestamp, dataset, json, message))
    }

    fn batch<'py>(
        &mut self,
        py: Python<'py>,
        frames: Vec<Frame<'_>>,
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let mut batch = Batch { events: Vec::with_capacity(frames.len()), letters: Vec::new() };
        for frame in frames {
            self.frame(py, frame, &mut batch)?;
        }
        Ok((PyList::new(py, batch.events)?, PyList::new(py, batch.letters)?))
    }
}

#[pymethods]
impl ModSecurityParser {
    /// `reference(raw) -> list[str]`: the Python source's documents of one frame as JSON, raising with
    /// the dead letter's reason; it reads what the native code leaves to it.
    #[new]
    #[pyo3(signature = (*, id_prefix, label, observer, keep_original, dataset, timezone = DEFAULT_TIMEZONE, reference = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        id_prefix: String,
        label: String,
        observer: String,
        keep_original: bool,
        dataset: String,
        timezone: &str,
        reference: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let zone = py.import("zoneinfo")?.getattr("ZoneInfo")?.call1((timezone,))?;
        let datetime = py.import("datetime")?.getattr("datetime")?;
        Ok(ModSecurityParser {
            framer: Framer::default(),
            stamping: Stamping { id_prefix, label, observer, keep_original, dataset },
            zone: Zone { zone: zone.unbind(), datetime: datetime.unbind(), offsets: HashMap::new() },
            reference,
            doc: String::new(),
        })
    }

    /// Events and dead letters completed by a block of whole lines starting at byte `offset`.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        data: &[u8],
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let mut frames = Vec::new();
        self.framer.feed(offset, data, &mut frames);
        self.batch(py, frames)
    }

    /// End of input: the transaction still open, cut short.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let frames = self.framer.finish().into_iter().collect();
        self.batch(py, frames)
    }

    /// Offset of the open transaction's A line, None when none is open.
    fn pending_offset(&self) -> Option<u64> {
        self.framer.pending_offset()
    }

    /// The unstamped documents of one frame as JSON; ValueError(reason) when it is rejected.
    fn normalise(&mut self, py: Python<'_>, raw: &[u8]) -> PyResult<Vec<String>> {
        let text = decode(raw);
        let mut out = String::new();
        let mut zone = ZoneNow { py, zone: &mut self.zone };
        match native_doc(raw, &text, &mut zone, None, &mut out) {
            Ok(_) => Ok(vec![out]),
            Err(Defer) => self.reference_docs(py, raw).map_err(PyValueError::new_err),
        }
    }

    /// Whether the native code reads this frame itself (else the reference does): for tests.
    fn reads_natively(&mut self, py: Python<'_>, raw: &[u8]) -> bool {
        let text = decode(raw);
        let mut zone = ZoneNow { py, zone: &mut self.zone };
        native_doc(raw, &text, &mut zone, None, &mut String::new()).is_ok()
    }
}

#[cfg(test)]
mod bench {
    use super::*;

    /// CPU time of this thread (the machine is shared: wall time would measure the others too).
    fn cpu() -> std::time::Duration {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
        let nanos = stat.split(' ').next().and_then(|n| n.parse().ok()).expect("run time");
        std::time::Duration::from_nanos(nanos)
    }

    struct Utc;
    impl json::LocalZone for Utc {
        fn utcoffset(&mut self, _: &Moment) -> Parsed<i64> {
            Ok(0)
        }
    }

    /// `MODSEC_BENCH_LOG=path cargo test --release --no-default-features --features modsecurity --
    /// --ignored --nocapture time_frame_and_parse`: CPU per transaction of each step, without Python.
    #[test]
    #[ignore]
    fn time_frame_and_parse() {
        let path = std::env::var("MODSEC_BENCH_LOG").expect("MODSEC_BENCH_LOG names a log");
        let data = std::fs::read(path).expect("the log");
        let started = cpu();
        let mut framer = Framer::default();
        let mut frames = Vec::new();
        framer.feed(0, &data, &mut frames);
        frames.extend(framer.finish());
        let n = frames.len() as u32;
        let step = |name: &str, keep: Option<bool>| {
            let (mut out, mut read, started) = (String::new(), 0, cpu());
            for frame in &frames {
                out.clear();
                let text = decode(&frame.raw);
                let Some(keep) = keep else { continue };
                let stamp = Stamp {
                    id: "0123456789abcdef0000000000000000",
                    dataset: "modsecurity.audit",
                    original: keep.then_some(&*text),
                    label: "a",
                    offset: frame.offset,
                    observer: "o",
                };
                read += usize::from(native_doc(&frame.raw, &text, &mut Utc, Some(&stamp), &mut out).is_ok());
            }
            println!("{name}: {:?}/tx ({read} of {n} read)", (cpu() - started) / n);
        };
        println!("frame: {:?}/tx", (cpu() - started) / n);
        step("decode", None);
        step("decode+parse+write", Some(false));
        step("decode+parse+write with event.original", Some(true));
    }
}
