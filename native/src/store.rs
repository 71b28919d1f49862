//! The SQLite store's write path for native parsers: a parser's events stay in Rust (`Rows`) and a
//! writer with its own connection to the store file inserts them and their free-text entries
//! (`SQLiteWriter`), so no row becomes five Python objects bound twice by `executemany`.
//!
//! Same statements, same results as `secops.store.sqlite.SQLiteStore.write_rows`: `INSERT OR IGNORE`
//! lets the unique index drop what is stored, a stored row's FTS entry is its message and address keys
//! (`keys::push_index_text`, the text the store's view rebuilds), all of it in one transaction.
mod ffi;

use std::collections::HashMap;
use std::ffi::{c_int, c_void, CStr, CString};
use std::ptr;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::keys::push_index_text;
use ffi::*;

/// Events as one text and the end of each field: no allocation per event.
#[derive(Default)]
pub struct RowBuf {
    text: String,
    /// Per event: where its id starts, then where its id, @timestamp, dataset, document and message end.
    bounds: Vec<[usize; 6]>,
}

/// One event of a `RowBuf`; `message` is None when empty, as the event tuple has it.
pub struct Row<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub dataset: &'a str,
    pub doc: &'a str,
    pub message: Option<&'a str>,
}

/// Buffers whose rows are stored, kept for the next blocks (up to `SPARE_BYTES`): a batch holds tens of
/// megabytes, which the allocator gave back to the system when it was freed and took again, a page fault
/// per 4 KiB, for the next batch (44,000 faults per 100,000 EVE events, about 2 µs an event).
static SPARE: Mutex<Vec<RowBuf>> = Mutex::new(Vec::new());
const SPARE_BYTES: usize = 64 << 20;

impl RowBuf {
    /// A buffer with room for `bytes` of text, a spare one when there is one.
    pub fn for_block(bytes: usize) -> Self {
        let mut buf = SPARE
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_default();
        buf.text.reserve(bytes);
        buf
    }

    /// Keep emptied buffers for `for_block`, as many as `SPARE_BYTES` allows.
    fn recycle(bufs: Vec<RowBuf>) {
        let Ok(mut spare) = SPARE.lock() else { return };
        let mut held: usize = spare.iter().map(|buf| buf.text.capacity()).sum();
        for mut buf in bufs {
            held += buf.text.capacity();
            if held > SPARE_BYTES {
                break;
            }
            buf.text.clear();
            buf.bounds.clear();
            spare.push(buf);
        }
    }

    /// Append an event whose document `write_doc` writes in place.
    pub fn push(
        &mut self,
        id: &str,
        timestamp: &str,
        dataset: &str,
        write_doc: impl FnOnce(&mut String),
        message: &str,
    ) {
        let start = self.text.len();
        self.text.push_str(id);
        let id_end = self.text.len();
        self.text.push_str(timestamp);
        let ts_end = self.text.len();
        self.text.push_str(dataset);
        let dataset_end = self.text.len();
        write_doc(&mut self.text);
        let doc_end = self.text.len();
        self.text.push_str(message);
        self.bounds
            .push([start, id_end, ts_end, dataset_end, doc_end, self.text.len()]);
    }

    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    pub fn get(&self, index: usize) -> Row<'_> {
        let [start, id, ts, dataset, doc, message] = self.bounds[index];
        // SAFETY: `push` recorded these bounds between whole strings it appended, so each is in the
        // text and on a character boundary (the checks cost a twentieth of a row's write).
        let field = |from: usize, to: usize| unsafe { self.text.get_unchecked(from..to) };
        Row {
            id: field(start, id),
            timestamp: field(id, ts),
            dataset: field(ts, dataset),
            doc: field(dataset, doc),
            message: (message > doc).then(|| field(doc, message)),
        }
    }

    /// The event tuples `(id, @timestamp, dataset, document, message)` the parsers' `feed` returns.
    pub fn tuples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let mut dataset: Option<Bound<'py, PyString>> = None; // one object while it repeats
        let mut events = Vec::with_capacity(self.len());
        for index in 0..self.len() {
            let row = self.get(index);
            let same = dataset
                .as_ref()
                .is_some_and(|d| d.to_str().is_ok_and(|s| s == row.dataset));
            if !same {
                dataset = Some(PyString::new(py, row.dataset));
            }
            let message = match row.message {
                Some(message) => PyString::new(py, message).into_any(),
                None => py.None().into_bound(py),
            };
            let fields = [
                PyString::new(py, row.id).into_any(),
                PyString::new(py, row.timestamp).into_any(),
                dataset.clone().expect("set above").into_any(),
                PyString::new(py, row.doc).into_any(),
                message,
            ];
            events.push(PyTuple::new(py, fields)?);
        }
        PyList::new(py, events)
    }
}

/// A native parser's events of one block, kept in Rust until `SQLiteWriter.write` stores them.
#[pyclass(module = "egovops_native")]
pub struct Rows {
    buf: RowBuf,
}

impl Rows {
    pub fn new(buf: RowBuf) -> Self {
        Rows { buf }
    }
}

#[pymethods]
impl Rows {
    fn __len__(&self) -> usize {
        self.buf.len()
    }

    /// Events per dataset.
    fn datasets(&self) -> HashMap<&str, usize> {
        let mut counts = HashMap::new();
        for index in 0..self.buf.len() {
            *counts.entry(self.buf.get(index).dataset).or_insert(0) += 1;
        }
        counts
    }

    /// The events as the tuples `feed` returns (for stores that take tuples, and for tests).
    fn tuples<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.buf.tuples(py)
    }
}

// --- the writer ------------------------------------------------------------------------------------------

const INSERT_EVENT: &CStr =
    c"INSERT OR IGNORE INTO events (id, ts, dataset, doc) VALUES (?, ?, ?, ?)";
const INSERT_ENTRY: &CStr = c"INSERT INTO events_fts (rowid, text) VALUES (?, ?)";

/// An open connection and its two prepared statements.
struct Connection {
    db: *mut Sqlite3,
    insert_event: *mut Stmt,
    insert_entry: *mut Stmt,
}

// SAFETY: the connection is only used under the writer's mutex, one thread at a time; SQLite allows a
// connection to move between threads.
unsafe impl Send for Connection {}

impl Connection {
    fn open(path: &str) -> Result<Self, String> {
        let name = CString::new(path).map_err(|_| format!("{path}: a path with a NUL byte"))?;
        let mut db = ptr::null_mut();
        // SAFETY: plain FFI calls on a handle this function owns; it is closed on every error.
        unsafe {
            let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX; // the Rust mutex serialises use
            let code = sqlite3_open_v2(name.as_ptr(), &mut db, flags, ptr::null());
            let mut conn = Connection {
                db,
                insert_event: ptr::null_mut(),
                insert_entry: ptr::null_mut(),
            };
            if code != SQLITE_OK {
                let error = conn.error("open");
                conn.close();
                return Err(error);
            }
            sqlite3_busy_timeout(db, 30_000);
            let prepared = conn
                .exec(c"PRAGMA synchronous=NORMAL")
                .and_then(|()| conn.prepare(INSERT_EVENT))
                .and_then(|event| {
                    conn.insert_event = event;
                    conn.prepare(INSERT_ENTRY)
                });
            match prepared {
                Ok(entry) => conn.insert_entry = entry,
                Err(error) => {
                    conn.close();
                    return Err(error);
                }
            }
            Ok(conn)
        }
    }

    fn error(&self, doing: &str) -> String {
        // SAFETY: errmsg returns a NUL-terminated string owned by the connection.
        let message = unsafe { CStr::from_ptr(sqlite3_errmsg(self.db)) };
        format!("{doing}: {}", message.to_string_lossy())
    }

    fn exec(&self, sql: &CStr) -> Result<(), String> {
        // SAFETY: a valid connection and a NUL-terminated statement.
        let code = unsafe {
            sqlite3_exec(
                self.db,
                sql.as_ptr(),
                ptr::null(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if code == SQLITE_OK {
            Ok(())
        } else {
            Err(self.error(&sql.to_string_lossy()))
        }
    }

    fn prepare(&self, sql: &CStr) -> Result<*mut Stmt, String> {
        let mut stmt = ptr::null_mut();
        // SAFETY: a valid connection and a NUL-terminated statement.
        let code =
            unsafe { sqlite3_prepare_v2(self.db, sql.as_ptr(), -1, &mut stmt, ptr::null_mut()) };
        if code == SQLITE_OK {
            Ok(stmt)
        } else {
            Err(self.error(&sql.to_string_lossy()))
        }
    }

    /// Run a prepared statement with its texts bound in place; Ok(rows it changed).
    fn run(&self, stmt: *mut Stmt, rowid: Option<i64>, texts: &[&str]) -> Result<c_int, String> {
        // SAFETY: the texts outlive the step: they are bound SQLITE_STATIC and the statement is reset
        // (which releases them) before this returns.
        unsafe {
            let first = match rowid {
                Some(rowid) => {
                    sqlite3_bind_int64(stmt, 1, rowid);
                    2
                }
                None => 1,
            };
            for (at, text) in texts.iter().enumerate() {
                let length =
                    c_int::try_from(text.len()).map_err(|_| "a text over 2 GB".to_string())?;
                sqlite3_bind_text(
                    stmt,
                    first + at as c_int,
                    text.as_ptr().cast(),
                    length,
                    STATIC,
                );
            }
            let code = sqlite3_step(stmt);
            sqlite3_reset(stmt);
            if code == SQLITE_DONE || code == SQLITE_ROW {
                Ok(sqlite3_changes(self.db))
            } else {
                Err(self.error("insert"))
            }
        }
    }

    /// Insert the events and the FTS entries of the stored ones in one transaction: (stored, duplicates).
    fn write(&self, batches: &[RowBuf], addresses: bool) -> Result<(usize, usize), String> {
        self.exec(c"BEGIN IMMEDIATE")?;
        match self.insert(batches, addresses) {
            Ok(stored) => {
                self.exec(c"COMMIT")?;
                let total: usize = batches.iter().map(RowBuf::len).sum();
                Ok((stored, total - stored))
            }
            Err(error) => {
                let _ = self.exec(c"ROLLBACK"); // the error that matters is the insert's
                Err(error)
            }
        }
    }

    fn insert(&self, batches: &[RowBuf], addresses: bool) -> Result<usize, String> {
        let mut stored = Vec::new(); // (rowid, event) of each row the unique index did not drop
        for (batch, buf) in batches.iter().enumerate() {
            for index in 0..buf.len() {
                let row = buf.get(index);
                if self.run(
                    self.insert_event,
                    None,
                    &[row.id, row.timestamp, row.dataset, row.doc],
                )? == 1
                {
                    // SAFETY: a valid connection.
                    stored.push((unsafe { sqlite3_last_insert_rowid(self.db) }, batch, index));
                }
            }
        }
        let mut text = String::new();
        for &(rowid, batch, index) in &stored {
            let row = batches[batch].get(index);
            text.clear();
            if addresses {
                push_index_text(row.doc, row.message, &mut text);
            } else if let Some(message) = row.message {
                text.push_str(message);
            }
            if !text.is_empty() {
                self.run(self.insert_entry, Some(rowid), &[&text])?;
            }
        }
        Ok(stored.len())
    }

    fn close(&mut self) {
        // SAFETY: finalize and close accept null; each handle is released once and then forgotten.
        unsafe {
            sqlite3_finalize(self.insert_event);
            sqlite3_finalize(self.insert_entry);
            sqlite3_close_v2(self.db);
        }
        self.db = ptr::null_mut();
        self.insert_event = ptr::null_mut();
        self.insert_entry = ptr::null_mut();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

fn sqlite_error(py: Python<'_>, message: String) -> PyErr {
    match py
        .import("sqlite3")
        .and_then(|m| m.getattr("OperationalError"))
    {
        Ok(class) => PyErr::from_type(class.downcast_into().expect("an exception class"), message),
        Err(err) => err,
    }
}

/// `SQLiteWriter(path)`: a second connection to an existing store file (made and tuned by the Python
/// store), for the rows of native parsers. Errors are `sqlite3.OperationalError`, as the Python path's.
#[pyclass(module = "egovops_native")]
pub struct SQLiteWriter {
    connection: Mutex<Option<Connection>>,
}

#[pymethods]
impl SQLiteWriter {
    #[new]
    fn new(py: Python<'_>, path: &str) -> PyResult<Self> {
        let connection = Connection::open(path).map_err(|e| sqlite_error(py, e))?;
        Ok(SQLiteWriter {
            connection: Mutex::new(Some(connection)),
        })
    }

    /// Store the events of `batches` (taking them: the objects are left empty) in one transaction;
    /// with `addresses` the FTS entries carry the address keys. Returns (stored, duplicates).
    fn write(
        &self,
        py: Python<'_>,
        batches: Vec<PyRefMut<'_, Rows>>,
        addresses: bool,
    ) -> PyResult<(usize, usize)> {
        let bufs: Vec<RowBuf> = batches
            .into_iter()
            .map(|mut rows| std::mem::take(&mut rows.buf))
            .collect();
        let written = py.allow_threads(|| {
            let guard = self
                .connection
                .lock()
                .map_err(|_| "writer poisoned".to_string())?;
            let written = match guard.as_ref() {
                Some(connection) => connection.write(&bufs, addresses),
                None => Err("the writer is closed".to_string()),
            };
            RowBuf::recycle(bufs);
            written
        });
        written.map_err(|e| sqlite_error(py, e))
    }

    /// Close the connection (idempotent).
    fn close(&self) -> PyResult<()> {
        let mut guard = self
            .connection
            .lock()
            .map_err(|_| PyValueError::new_err("writer poisoned"))?;
        guard.take();
        Ok(())
    }

    /// The SQLite version and the file of the library this module calls (the one `_sqlite3` uses).
    #[staticmethod]
    fn library() -> (String, String) {
        #[repr(C)]
        struct DlInfo {
            fname: *const std::ffi::c_char,
            fbase: *mut c_void,
            sname: *const std::ffi::c_char,
            saddr: *mut c_void,
        }
        extern "C" {
            fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int;
        }
        // SAFETY: libversion returns a static string; dladdr fills `info` for an address in a mapped file.
        unsafe {
            let version = CStr::from_ptr(sqlite3_libversion())
                .to_string_lossy()
                .into_owned();
            let mut info = DlInfo {
                fname: ptr::null(),
                fbase: ptr::null_mut(),
                sname: ptr::null(),
                saddr: ptr::null_mut(),
            };
            let found = dladdr(
                sqlite3_libversion as unsafe extern "C" fn() -> *const std::ffi::c_char
                    as *const c_void,
                &mut info,
            ) != 0
                && !info.fname.is_null();
            let file = if found {
                CStr::from_ptr(info.fname).to_string_lossy().into_owned()
            } else {
                String::new()
            };
            (version, file)
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Rows>()?;
    m.add_class::<SQLiteWriter>()
}

#[cfg(test)]
mod tests {
    use super::RowBuf;

    #[test]
    fn rows_read_back_as_pushed_and_an_empty_message_is_none() {
        let mut buf = RowBuf::for_block(64);
        buf.push(
            "id1",
            "2026-11-20T10:00:00Z",
            "suricata.eve",
            |out| out.push_str("{\"a\":\"é\"}"),
            "m",
        );
        buf.push("id2", "t", "suricata.stats", |out| out.push_str("{}"), "");
        let (first, second) = (buf.get(0), buf.get(1));
        assert_eq!(
            (first.id, first.timestamp, first.dataset),
            ("id1", "2026-11-20T10:00:00Z", "suricata.eve")
        );
        assert_eq!((first.doc, first.message), ("{\"a\":\"é\"}", Some("m")));
        assert_eq!((second.id, second.doc, second.message), ("id2", "{}", None));
        RowBuf::recycle(vec![buf]);
        assert_eq!(
            RowBuf::for_block(8).len(),
            0,
            "a spare buffer comes back empty"
        );
    }
}
