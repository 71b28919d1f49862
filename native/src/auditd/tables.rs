//! The audit numbering and the normalisations, read from the Python source's own data files
//! (`secops/sources/auditd/tables.json` and `normalizations.yaml`, compiled in) so there is one copy.
use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use super::pytext;

const TABLES_JSON: &str = include_str!("../../../secops/sources/auditd/tables.json");
const NORMALIZATIONS_YAML: &str =
    include_str!("../../../secops/sources/auditd/normalizations.yaml");

/// A summary attribute a normalisation can name fields for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Attr {
    ActorPrimary,
    ActorSecondary,
    ObjectPrimary,
    ObjectSecondary,
    How,
}

/// One entry of `normalizations.yaml` (see `coalesce.Normalization`).
#[derive(Debug, Default)]
pub struct Norm {
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub path_index: usize,
    pub source_ip: Vec<String>,
    pub has_fields: Vec<String>,
    pub kind: Option<String>,
    pub category: Vec<String>,
    pub types: Vec<String>,
    pub mappings: Vec<(String, String)>,
    pub summary_fields: Vec<(Attr, Vec<String>)>,
}

pub struct Tables {
    pub arches: HashMap<i128, String>,
    pub syscalls: HashMap<String, HashMap<String, String>>,
    pub errno: HashMap<u64, String>,
    /// `-13` → `EACCES`: `exit` as the kernel writes it.
    pub exit_names: HashMap<String, String>,
    pub record_types: HashMap<String, u64>,
    pub eoe: u64,
    pub proctitle: u64,
    pub first_user_msg: u64,
    pub first_event: u64,
    pub first_user_msg2: u64,
    pub norms: Vec<Norm>,
    pub by_syscall: HashMap<String, usize>,
    pub by_record_type: HashMap<String, Vec<usize>>,
    pub categories: Vec<(String, u64, u64)>,
}

pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(load)
}

fn strings(value: Option<&Yaml>) -> Vec<String> {
    value
        .and_then(Yaml::as_sequence)
        .map(|items| {
            items
                .iter()
                .map(|item| scalar(item).expect("normalizations.yaml: a list of names"))
                .collect()
        })
        .unwrap_or_default()
}

fn scalar(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// `entry.get(key) or {}`.
fn section<'v>(entry: &'v Yaml, key: &str) -> Option<&'v Yaml> {
    entry
        .get(key)
        .filter(|value| value.as_mapping().is_some_and(|map| !map.is_empty()))
}

fn norm(entry: &Yaml) -> Norm {
    let actor = section(entry, "actor");
    let object = section(entry, "object");
    let ecs = section(entry, "ecs");
    let field = |holder: Option<&Yaml>, key: &str| strings(holder.and_then(|h| h.get(key)));
    let summary_fields = [
        (Attr::ActorPrimary, field(actor, "primary")),
        (Attr::ActorSecondary, field(actor, "secondary")),
        (Attr::ObjectPrimary, field(object, "primary")),
        (Attr::ObjectSecondary, field(object, "secondary")),
        (Attr::How, strings(entry.get("how"))),
    ]
    .into_iter()
    .filter(|(_, keys)| !keys.is_empty())
    .collect();
    let mappings = ecs
        .and_then(|e| e.get("map"))
        .and_then(Yaml::as_mapping)
        .map(|map| {
            map.iter()
                .map(|(k, v)| (scalar(k).expect("map key"), scalar(v).expect("map value")))
                .collect()
        })
        .unwrap_or_default();
    let path_index = object
        .and_then(|o| o.get("path_index"))
        .map_or(0, |v| v.as_u64().expect("path_index is a number") as usize);
    Norm {
        action: entry.get("action").and_then(scalar),
        object_type: object.and_then(|o| o.get("type")).and_then(scalar),
        path_index,
        source_ip: strings(entry.get("source_ip")),
        has_fields: strings(entry.get("has_fields")),
        kind: ecs.and_then(|e| e.get("kind")).and_then(scalar),
        category: field(ecs, "category"),
        types: field(ecs, "type"),
        mappings,
        summary_fields,
    }
}

fn load() -> Tables {
    let data: Json = serde_json::from_str(TABLES_JSON).expect("tables.json is JSON");
    let object = |key: &str| {
        data[key]
            .as_object()
            .unwrap_or_else(|| panic!("tables.json: no {key}"))
    };
    let text = |value: &Json| value.as_str().expect("tables.json: a name").to_owned();
    let number = |value: &Json| value.as_u64().expect("tables.json: a number");
    let arches = object("arches")
        .iter()
        .map(|(k, v)| (pytext::int_base(k, 16).expect("arch in hex"), text(v)))
        .collect();
    let syscalls = object("syscalls")
        .iter()
        .map(|(arch, table)| {
            let names = table
                .as_object()
                .expect("syscall table")
                .iter()
                .map(|(n, v)| (n.clone(), text(v)));
            (arch.clone(), names.collect())
        })
        .collect();
    let errno: HashMap<u64, String> = object("errno")
        .iter()
        .map(|(k, v)| (k.parse().expect("errno number"), text(v)))
        .collect();
    let exit_names = errno
        .iter()
        .map(|(n, name)| (format!("-{n}"), name.clone()))
        .collect();
    let record_types: HashMap<String, u64> = object("record_types")
        .iter()
        .map(|(k, v)| (k.clone(), number(v)))
        .collect();
    let mut constants: HashMap<String, u64> = object("constants")
        .iter()
        .map(|(k, v)| (k.clone(), number(v)))
        .collect();
    constants.extend(record_types.iter().map(|(k, v)| (k.clone(), *v)));
    let constant = |name: &str| {
        *constants
            .get(name)
            .unwrap_or_else(|| panic!("no audit constant {name}"))
    };

    let mut document: Yaml =
        serde_yaml::from_str(NORMALIZATIONS_YAML).expect("normalizations.yaml is YAML");
    document
        .apply_merge()
        .expect("normalizations.yaml merge keys");
    let mut norms = Vec::new();
    let mut by_syscall = HashMap::new();
    let mut by_record_type: HashMap<String, Vec<usize>> = HashMap::new();
    for entry in document["entries"]
        .as_sequence()
        .expect("normalizations.yaml: entries")
    {
        let index = norms.len();
        norms.push(norm(entry));
        for name in strings(entry.get("syscalls")) {
            assert!(
                by_syscall.insert(name.clone(), index).is_none(),
                "syscall {name} is mapped twice"
            );
        }
        for name in strings(entry.get("record_types")) {
            by_record_type.entry(name).or_default().push(index);
        }
    }
    let mut categories = Vec::new();
    for (category, ranges) in document["categories"]
        .as_mapping()
        .expect("normalizations.yaml: categories")
    {
        for range in ranges.as_sequence().expect("category ranges") {
            let pair = strings(Some(range));
            categories.push((
                scalar(category).expect("category name"),
                constant(&pair[0]),
                constant(&pair[1]),
            ));
        }
    }
    Tables {
        arches,
        syscalls,
        errno,
        exit_names,
        eoe: constant("EOE"),
        proctitle: constant("PROCTITLE"),
        first_user_msg: constant("FIRST_USER_MSG"),
        first_event: constant("FIRST_EVENT"),
        first_user_msg2: constant("FIRST_USER_MSG2"),
        record_types,
        norms,
        by_syscall,
        by_record_type,
        categories,
    }
}

/// Python's `signal.Signals(n).name` on Linux.
pub fn signal_name(number: u64) -> Option<&'static str> {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match number {
        1..=31 => Some(NAMES[number as usize - 1]),
        34 => Some("SIGRTMIN"),
        64 => Some("SIGRTMAX"),
        _ => None,
    }
}

impl Tables {
    /// `record_type_number` for names as the framer reads them (ASCII bytes; others are unknown).
    pub fn number_of_ascii(&self, name: &[u8]) -> Option<u64> {
        let name = std::str::from_utf8(name).ok().filter(|n| n.is_ascii())?;
        if let Some(&n) = self.record_types.get(name) {
            return Some(n);
        }
        let digits = match name
            .strip_prefix("UNKNOWN[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            Some(inner) if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) => inner,
            _ if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => return None,
        };
        Some(pytext::saturating_value(digits))
    }

    /// `record_type_number` for a parsed record's type (any text; `int` may raise on odd digits).
    pub fn number_of(&self, name: &str) -> Result<Option<u64>, String> {
        if let Some(&n) = self.record_types.get(name) {
            return Ok(Some(n));
        }
        let digits = match name
            .strip_prefix("UNKNOWN[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            Some(inner) if pytext::is_digit(inner) => inner,
            _ if pytext::is_digit(name) => name,
            _ => return Ok(None),
        };
        Ok(Some(pytext::saturating_value(&pytext::int_of_digits(
            digits,
        )?)))
    }

    /// Auditbeat's coarse class of an event by record type (`Normalizations.category`).
    pub fn category(&self, record_type: &str) -> Result<&str, String> {
        if let Some(number) = self.number_of(record_type)? {
            for (category, first, last) in &self.categories {
                if *first <= number && number <= *last {
                    return Ok(category);
                }
            }
        }
        Ok("unknown")
    }
}
