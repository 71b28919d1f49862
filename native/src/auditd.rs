//! Linux audit logs to stamped ECS documents: the native twin of `secops.sources.auditd` (its
//! `AuditFramer` and `AuditdLog.parse`) plus the pipeline's `Stamper`, which stays the reference.
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

mod coalesce;
mod doc;
mod framer;
mod pytext;
mod record;
mod tables;

use coalesce::{Stamp, Written};
use framer::{Frame, Framer};

/// `AuditFramer()`'s defaults: events open at once, and seconds behind the newest record before closing.
const WINDOW: usize = 64;
const MAX_AGE: u128 = 2;

type Letter = (u64, String, Vec<u8>);

/// Parse one framed event (its lines joined with `\n`, decoded) and write its document to `out`, stamped
/// when `stamp` is given; Err(reason) for a rejected event, with the reason text the Python source gives
/// (then nothing is written).
fn render(text: &str, stamp: Option<&Stamp<'_>>, out: &mut String) -> Result<Written, String> {
    let start = out.len();
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        // `coalesce` drops the EOE records; they are parsed all the same (they may be rejected).
        let mut records = Vec::with_capacity(4);
        let mut end_of_event = false;
        for line in text.split('\n') {
            if !pytext::is_blank(line) {
                let record = record::parse_record(line)?;
                if record.typ == "EOE" {
                    end_of_event = true;
                } else {
                    records.push(record);
                }
            }
        }
        match (records.is_empty(), end_of_event) {
            (true, false) => Err("empty audit event".to_owned()),
            (true, true) => Err("audit event has only an EOE record".to_owned()),
            _ => coalesce::coalesce(&mut records, stamp, out),
        }
    }));
    let result = parsed.unwrap_or_else(|panic| {
        let detail = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned());
        Err(format!(
            "parser error: native auditd parser failed: {}",
            detail.unwrap_or_default()
        ))
    });
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// What the pipeline stamps on every document of one input (`secops.sources.base.Stamp`).
struct Stamper {
    id_prefix: String,
    label: String,
    observer: String,
    keep_original: bool,
    dataset: String,
}

/// Where one stamped event's parts are in its batch's text.
struct Placed {
    id: Range<usize>,
    doc: Range<usize>,
    timestamp: Range<usize>,
    message: Range<usize>,
}

/// The events of one `feed` written into one text (one allocation for all), and the dead letters.
#[derive(Default)]
struct Batch {
    text: String,
    events: Vec<Placed>,
    letters: Vec<Letter>,
    /// The id of the event being written (reused).
    id: String,
}

impl Stamper {
    /// Stamp and write the event of one frame into the batch, or dead-letter it.
    fn event(&self, raw: &[u8], offset: u64, batch: &mut Batch) {
        let text = pytext::decode(raw);
        // `{id_prefix}{offset:012x}{index:04x}`; an audit event is one document, index 0.
        batch.id.clear();
        batch.id.push_str(&self.id_prefix);
        if offset >> 48 == 0 {
            batch.id.extend((0..12).rev().map(|shift| {
                char::from(b"0123456789abcdef"[(offset >> (shift * 4) & 0xf) as usize])
            }));
        } else {
            batch.id.push_str(&format!("{offset:012x}"));
        }
        batch.id.push_str("0000");
        let id_start = batch.text.len();
        batch.text.push_str(&batch.id);
        let id = id_start..batch.text.len();
        let stamp = Stamp {
            id: &batch.id,
            dataset: &self.dataset,
            original: self.keep_original.then_some(&*text),
            label: &self.label,
            offset,
            observer: &self.observer,
        };
        let doc_start = batch.text.len();
        match render(&text, Some(&stamp), &mut batch.text) {
            Ok(written) => {
                let doc = doc_start..batch.text.len();
                let timestamp =
                    doc_start + written.timestamp.start..doc_start + written.timestamp.end;
                let message_start = batch.text.len();
                batch.text.push_str(&written.message);
                batch.events.push(Placed {
                    id,
                    doc,
                    timestamp,
                    message: message_start..batch.text.len(),
                });
            }
            Err(reason) => {
                batch.text.truncate(id_start);
                batch.letters.push((offset, reason, raw.to_vec()));
            }
        }
    }
}

/// The auditd parser of the native ingest core (see native.md for the interface).
#[pyclass(module = "egovops_native")]
pub struct AuditdParser {
    core: Core,
    dataset: Py<PyString>,
}

/// The parser without Python: frames, parses and stamps.
struct Core {
    framer: Framer,
    stamper: Stamper,
}

impl Core {
    fn emit(&self, frames: Vec<Frame<'_>>, batch: &mut Batch) {
        for frame in frames {
            self.stamper.event(&frame.raw, frame.offset, batch);
        }
    }

    fn feed_block(&mut self, mut offset: u64, data: &[u8]) -> Batch {
        let mut batch = Batch {
            text: String::with_capacity(data.len() * 4 + 4096),
            ..Batch::default()
        };
        let mut frames = Vec::new();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            let line = &data[start..end];
            self.framer.take(offset, line, &mut frames);
            offset += line.len() as u64 + 1;
            start = end + 1;
            if frames.len() >= 64 {
                self.emit(std::mem::take(&mut frames), &mut batch);
            }
        }
        self.emit(frames, &mut batch);
        batch
    }

    fn finish(&mut self) -> Batch {
        let mut batch = Batch::default();
        let frames = self.framer.finish();
        self.emit(frames, &mut batch);
        batch
    }
}

/// `(events, dead letters)` as `NativeBatch` describes them.
fn to_python<'py>(
    py: Python<'py>,
    dataset: &Bound<'py, PyString>,
    batch: Batch,
) -> PyResult<Bound<'py, PyTuple>> {
    let text = &batch.text;
    let events = batch.events.iter().map(|placed| {
        let message = if placed.message.is_empty() {
            py.None().into_bound(py)
        } else {
            PyString::new(py, &text[placed.message.clone()]).into_any()
        };
        PyTuple::new(
            py,
            [
                PyString::new(py, &text[placed.id.clone()]).into_any(),
                PyString::new(py, &text[placed.timestamp.clone()]).into_any(),
                dataset.clone().into_any(),
                PyString::new(py, &text[placed.doc.clone()]).into_any(),
                message,
            ],
        )
    });
    let events = PyList::new(py, events.collect::<PyResult<Vec<_>>>()?)?;
    let letters = batch
        .letters
        .into_iter()
        .map(|(offset, reason, raw)| (offset, reason, PyBytes::new(py, &raw)));
    let letters = PyList::new(
        py,
        letters
            .map(|letter| letter.into_pyobject(py))
            .collect::<PyResult<Vec<_>>>()?,
    )?;
    PyTuple::new(py, [events.into_any(), letters.into_any()])
}

#[pymethods]
impl AuditdParser {
    #[new]
    #[pyo3(signature = (*, id_prefix, label, observer, keep_original, dataset, timezone = "Asia/Shanghai"))]
    fn new(
        py: Python<'_>,
        id_prefix: String,
        label: String,
        observer: String,
        keep_original: bool,
        dataset: String,
        timezone: &str,
    ) -> Self {
        let _ = timezone; // audit times are epoch seconds: no zone to apply
        tables::tables(); // read the compiled-in tables now rather than in the first feed
        AuditdParser {
            dataset: PyString::new(py, &dataset).unbind(),
            core: Core {
                framer: Framer::new(WINDOW, MAX_AGE),
                stamper: Stamper {
                    id_prefix,
                    label,
                    observer,
                    keep_original,
                    dataset,
                },
            },
        }
    }

    /// The events and dead letters completed by a block of whole lines starting at byte `offset`.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyTuple>> {
        let out = py.allow_threads(|| self.core.feed_block(offset, data));
        to_python(py, self.dataset.bind(py), out)
    }

    /// End of input: the events still open, oldest first.
    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let out = py.allow_threads(|| self.core.finish());
        to_python(py, self.dataset.bind(py), out)
    }

    /// Offset of the oldest open event's first line, None when none is open.
    fn pending_offset(&self) -> Option<u64> {
        self.core.framer.pending_offset()
    }
}

/// The unstamped document of one framed audit event (its lines joined with `\n`), as JSON text;
/// ValueError(reason) for a rejected event.
#[pyfunction]
fn auditd_normalise(raw: &[u8]) -> PyResult<Vec<String>> {
    let mut json = String::with_capacity(raw.len() * 3 + 512);
    render(&pytext::decode(raw), None, &mut json)
        .map(|_| vec![json])
        .map_err(PyValueError::new_err)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<AuditdParser>()?;
    m.add_function(wrap_pyfunction!(auditd_normalise, m)?)?;
    Ok(())
}

#[cfg(test)]
mod bench {
    /// `AUDITD_BENCH_LOG=path cargo test --release ... -- --ignored time_feed`: feed cost without Python.
    #[test]
    #[ignore]
    fn time_feed() {
        let path = std::env::var("AUDITD_BENCH_LOG").expect("AUDITD_BENCH_LOG names a log");
        let data = std::fs::read(path).expect("the log");
        let records = data.iter().filter(|&&b| b == b'\n').count();
        let stamper = super::Stamper {
            id_prefix: "0123456789abcdef".into(),
            label: "a".into(),
            observer: "o".into(),
            keep_original: true,
            dataset: "auditd.log".into(),
        };
        let mut parser = super::Core {
            framer: super::Framer::new(super::WINDOW, super::MAX_AGE),
            stamper,
        };
        let blocks: Vec<Vec<u8>> = data
            .split_inclusive(|&b| b == b'\n')
            .collect::<Vec<_>>()
            .chunks(8192)
            .map(<[_]>::concat)
            .collect();
        let t = std::time::Instant::now();
        let (mut events, mut offset) = (0, 0);
        for block in &blocks {
            events += parser.feed_block(offset, block).events.len();
            offset += block.len() as u64;
        }
        events += parser.finish().events.len();
        println!(
            "feed_block: {:?}/record, {records} records, {events} events",
            t.elapsed() / records as u32
        );
    }
}
