//! Native hot paths of egovops ingest. Each submodule turns one log format into encoded ECS documents;
//! the Python side (`secops.sources`) owns detection, files, storage and everything else.
use pyo3::prelude::*;

/// mimalloc: the per-record allocations of the parsers, the FTS text and the detection windows cost
/// 3-4 % less CPU than with glibc malloc (measured on `bench_ingest.py`, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "auditd")]
mod auditd;
mod civil;
#[cfg(feature = "matcher")]
mod matcher;
#[cfg(feature = "modsecurity")]
mod modsecurity;
#[cfg(feature = "suricata")]
mod suricata;
mod jsonw;
mod keys;
mod store;
mod text;

#[pymodule]
fn egovops_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    keys::register(m)?;
    store::register(m)?;
    #[cfg(feature = "suricata")]
    suricata::register(m)?;
    #[cfg(feature = "auditd")]
    auditd::register(m)?;
    #[cfg(feature = "matcher")]
    matcher::register(m)?;
    #[cfg(feature = "modsecurity")]
    modsecurity::register(m)?;
    Ok(())
}
