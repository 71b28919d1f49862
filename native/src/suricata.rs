//! Suricata EVE JSON, natively: `SuricataParser` turns blocks of EVE lines into stamped, encoded ECS
//! documents (the work of `SuricataEve.parse` plus the pipeline's `Stamper`), and `suricata_normalise`
//! gives the unstamped documents of one line. The Python source `secops.sources.suricata` is the
//! reference: same documents, same dead-letter reasons.
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Component, Path};
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

mod clock;
mod doc;
mod email;
mod escape;
mod eve;
mod inet;
mod isotime;
mod json;
mod printable;
mod pyrepr;
mod text;
mod zone;

use clock::Clock;
use doc::{Doc, Stamp};
use zone::Zone;

use crate::store::{RowBuf, Rows};

const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<SuricataParser>()?;
    m.add_function(wrap_pyfunction!(suricata_normalise, m)?)?;
    Ok(())
}

// --- time zones ---------------------------------------------------------------------------------------

/// Zones loaded so far, by key: a zone file is read once per process.
fn zones() -> &'static Mutex<HashMap<String, Arc<Zone>>> {
    static ZONES: OnceLock<Mutex<HashMap<String, Arc<Zone>>>> = OnceLock::new();
    ZONES.get_or_init(Default::default)
}

/// The TZif data `zoneinfo.ZoneInfo(key)` would load: the first file on `zoneinfo.TZPATH`, else the
/// `tzdata` package. The key is first given to `ZoneInfo` itself, so a bad one fails as it would there.
fn zone_data(py: Python<'_>, key: &str) -> PyResult<Vec<u8>> {
    let zoneinfo = py.import("zoneinfo")?;
    zoneinfo.getattr("ZoneInfo")?.call1((key,))?;
    let relative = Path::new(key);
    if relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        let search: Vec<String> = zoneinfo.getattr("TZPATH")?.extract()?;
        for folder in search {
            let path = Path::new(&folder).join(relative);
            if path.is_file() {
                return std::fs::read(&path).map_err(|e| {
                    PyValueError::new_err(format!(
                        "cannot read time zone file {}: {e}",
                        path.display()
                    ))
                });
            }
        }
    }
    let (package, name) = match key.rsplit_once('/') {
        Some((folder, name)) => (
            format!("tzdata.zoneinfo.{}", folder.replace('/', ".")),
            name,
        ),
        None => ("tzdata.zoneinfo".to_string(), key),
    };
    let resource = py
        .import("importlib.resources")?
        .call_method1("files", (package,))?;
    resource
        .call_method1("joinpath", (name,))?
        .call_method0("read_bytes")?
        .extract()
}

fn load_zone(py: Python<'_>, key: &str) -> PyResult<Arc<Zone>> {
    if let Some(zone) = zones()
        .lock()
        .map_err(|_| PyValueError::new_err("zone cache poisoned"))?
        .get(key)
    {
        return Ok(zone.clone());
    }
    let data = zone_data(py, key)?;
    let zone = Arc::new(
        Zone::from_tzif(&data)
            .map_err(|e| PyValueError::new_err(format!("time zone {key:?}: {e}")))?,
    );
    zones()
        .lock()
        .map_err(|_| PyValueError::new_err("zone cache poisoned"))?
        .insert(key.to_string(), zone.clone());
    Ok(zone)
}

// --- one record -----------------------------------------------------------------------------------------

/// The ECS document of one line, or why not; a panic (a bug) becomes a reason too, never a crash.
fn with_document<T>(
    clock: &mut Clock,
    raw: &[u8],
    then: impl FnOnce(Doc<'_>) -> T,
) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut storage = String::new();
        let record = eve::load(raw, &mut storage)?;
        eve::normalise(clock, record).map(then)
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!("parser error: native panic: {message}"))
    })
}

fn unstamped(clock: &mut Clock, raw: &[u8]) -> PyResult<Vec<String>> {
    with_document(clock, raw, |doc| {
        let mut out = String::with_capacity(raw.len() * 2);
        doc.write(&mut out, None);
        vec![out]
    })
    .map_err(PyValueError::new_err)
}

/// `normalise(raw)`: the unstamped document of one EVE line as JSON, ValueError(reason) when rejected.
#[pyfunction]
#[pyo3(signature = (raw, *, timezone = DEFAULT_TIMEZONE))]
fn suricata_normalise(py: Python<'_>, raw: &[u8], timezone: &str) -> PyResult<Vec<String>> {
    static CLOCKS: OnceLock<Mutex<HashMap<String, Clock>>> = OnceLock::new();
    let zone = load_zone(py, timezone)?;
    let mut clocks = CLOCKS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| PyValueError::new_err("clock poisoned"))?;
    let clock = clocks
        .entry(timezone.to_string())
        .or_insert_with(|| Clock::new(zone));
    unstamped(clock, raw)
}

// --- the parser -----------------------------------------------------------------------------------------

/// What the pipeline's `Stamper` adds to every document.
struct Stamping {
    id_prefix: String,
    label: String,
    observer: String,
    keep_original: bool,
    dataset: String,
}

/// Buffers reused from one record to the next.
#[derive(Default)]
struct Scratch {
    id: String,
}

impl Stamping {
    /// Add the pipeline's fields (as `Stamper.event` does), encode the document and append the event
    /// `(id, timestamp, dataset, document, message)` to `rows`.
    fn event(&self, doc: Doc<'_>, position: u64, raw: &[u8], scratch: &mut Scratch, rows: &mut RowBuf) {
        scratch.id.clear();
        scratch.id.push_str(&self.id_prefix);
        push_hex(&mut scratch.id, position, 12);
        push_hex(&mut scratch.id, 0, 4);
        let original = self.keep_original.then(|| text::decode(raw));
        let stamp = Stamp {
            id: &scratch.id,
            dataset: &self.dataset,
            original: original.as_deref(),
            label: &self.label,
            offset: position,
            observer: &self.observer,
        };
        let dataset = doc.event.dataset.unwrap_or(&self.dataset);
        rows.push(&scratch.id, &doc.timestamp, dataset, |out| doc.write(out, Some(&stamp)), &doc.message);
    }
}

/// `format!("{value:0width$x}")` without the formatting machinery (it cost a tenth of a record).
fn push_hex(out: &mut String, value: u64, width: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - value.leading_zeros() as usize / 4).max(width);
    for shift in (0..digits).rev() {
        out.push(HEX[(value >> (shift * 4) & 0xF) as usize] as char);
    }
}

#[pyclass(module = "egovops_native")]
pub struct SuricataParser {
    stamping: Stamping,
    clock: Clock,
    scratch: Scratch,
}

impl SuricataParser {
    /// The events of a block's lines, and the dead letters `(offset, reason, raw)` of the rejected ones.
    fn read<'py>(&mut self, py: Python<'py>, offset: u64, data: &[u8]) -> PyResult<(RowBuf, Bound<'py, PyList>)> {
        let Self {
            stamping,
            clock,
            scratch,
        } = self;
        let mut rows = RowBuf::for_block(data.len() * 4); // an ECS document is about three times its line
        let mut letters = Vec::new();
        let mut start = 0usize;
        for end in memchr::memchr_iter(b'\n', data) {
            let position = offset + start as u64;
            let mut line = &data[start..end];
            start = end + 1;
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if line
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C))
            {
                continue;
            }
            let made = with_document(clock, line, |doc| stamping.event(doc, position, line, scratch, &mut rows));
            if let Err(reason) = made {
                letters.push(PyTuple::new(
                    py,
                    [
                        position.into_pyobject(py)?.into_any(),
                        PyString::new(py, &reason).into_any(),
                        PyBytes::new(py, line).into_any(),
                    ],
                )?);
            }
        }
        Ok((rows, PyList::new(py, letters)?))
    }
}

#[pymethods]
impl SuricataParser {
    #[new]
    #[pyo3(signature = (*, id_prefix, label, observer, keep_original, dataset, timezone = DEFAULT_TIMEZONE))]
    fn new(
        py: Python<'_>,
        id_prefix: String,
        label: String,
        observer: String,
        keep_original: bool,
        dataset: String,
        timezone: &str,
    ) -> PyResult<Self> {
        let clock = Clock::new(load_zone(py, timezone)?);
        let stamping = Stamping {
            id_prefix,
            label,
            observer,
            keep_original,
            dataset,
        };
        Ok(SuricataParser {
            stamping,
            clock,
            scratch: Scratch::default(),
        })
    }

    /// Events and dead letters of a block of whole lines starting at byte `offset` of the input.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        data: &[u8],
    ) -> PyResult<(Bound<'py, PyList>, Bound<'py, PyList>)> {
        let (rows, letters) = self.read(py, offset, data)?;
        Ok((rows.tuples(py)?, letters))
    }

    /// `feed`, with the events kept in Rust for `SQLiteWriter.write`.
    fn feed_rows<'py>(
        &mut self,
        py: Python<'py>,
        offset: u64,
        data: &[u8],
    ) -> PyResult<(Rows, Bound<'py, PyList>)> {
        let (rows, letters) = self.read(py, offset, data)?;
        Ok((Rows::new(rows), letters))
    }

    /// End of input: EVE records are single lines, nothing is ever open.
    fn finish<'py>(&mut self, py: Python<'py>) -> (Bound<'py, PyList>, Bound<'py, PyList>) {
        (PyList::empty(py), PyList::empty(py))
    }

    fn pending_offset(&self) -> Option<u64> {
        None
    }

    /// The unstamped document of one line (this parser's clock and zone).
    fn normalise(&mut self, raw: &[u8]) -> PyResult<Vec<String>> {
        unstamped(&mut self.clock, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::push_hex;

    #[test]
    fn hex_is_zero_padded_to_its_width() {
        for (value, width, want) in [
            (0, 4, "0000"),
            (0x2a, 12, "00000000002a"),
            (u64::MAX, 12, "ffffffffffffffff"),
        ] {
            let mut out = String::from("p");
            push_hex(&mut out, value, width);
            assert_eq!(out, format!("p{want}"));
        }
    }
}
