//! The few entry points of the system's SQLite library that the writer calls.
//!
//! Linked by its soname, `libsqlite3.so.0`, the very file Python's `_sqlite3` module is linked to: the
//! dynamic loader maps one copy for both, so both connections share SQLite's per-process table of open
//! files and their POSIX locks. Two copies of SQLite in one process would each believe they own the
//! locks, and closing a file in one would silently drop the other's locks (SQLite's "multiple copies"
//! corruption hazard). `SQLiteWriter.library()` lets the tests check which file is mapped.
use std::ffi::{c_char, c_int, c_void};

pub const SQLITE_OK: c_int = 0;
pub const SQLITE_ROW: c_int = 100;
pub const SQLITE_DONE: c_int = 101;
pub const SQLITE_OPEN_READWRITE: c_int = 0x0000_0002;
pub const SQLITE_OPEN_NOMUTEX: c_int = 0x0000_8000;

#[repr(C)]
pub struct Sqlite3 {
    _private: [u8; 0],
}

#[repr(C)]
pub struct Stmt {
    _private: [u8; 0],
}

/// SQLite reads a bound text in place until the statement is reset (the `SQLITE_STATIC` destructor).
pub const STATIC: Option<unsafe extern "C" fn(*mut c_void)> = None;

#[link(name = "libsqlite3.so.0", kind = "dylib", modifiers = "+verbatim")]
extern "C" {
    pub fn sqlite3_libversion() -> *const c_char;
    pub fn sqlite3_open_v2(
        name: *const c_char,
        db: *mut *mut Sqlite3,
        flags: c_int,
        vfs: *const c_char,
    ) -> c_int;
    pub fn sqlite3_close_v2(db: *mut Sqlite3) -> c_int;
    pub fn sqlite3_busy_timeout(db: *mut Sqlite3, ms: c_int) -> c_int;
    pub fn sqlite3_errmsg(db: *mut Sqlite3) -> *const c_char;
    pub fn sqlite3_exec(
        db: *mut Sqlite3,
        sql: *const c_char,
        callback: *const c_void,
        arg: *mut c_void,
        errmsg: *mut *mut c_char,
    ) -> c_int;
    pub fn sqlite3_prepare_v2(
        db: *mut Sqlite3,
        sql: *const c_char,
        bytes: c_int,
        stmt: *mut *mut Stmt,
        tail: *mut *const c_char,
    ) -> c_int;
    pub fn sqlite3_bind_text(
        stmt: *mut Stmt,
        index: c_int,
        text: *const c_char,
        bytes: c_int,
        destructor: Option<unsafe extern "C" fn(*mut c_void)>,
    ) -> c_int;
    pub fn sqlite3_bind_int64(stmt: *mut Stmt, index: c_int, value: i64) -> c_int;
    pub fn sqlite3_step(stmt: *mut Stmt) -> c_int;
    pub fn sqlite3_reset(stmt: *mut Stmt) -> c_int;
    pub fn sqlite3_finalize(stmt: *mut Stmt) -> c_int;
    pub fn sqlite3_changes(db: *mut Sqlite3) -> c_int;
    pub fn sqlite3_last_insert_rowid(db: *mut Sqlite3) -> i64;
}
