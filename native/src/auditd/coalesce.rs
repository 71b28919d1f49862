//! The records of one audit event coalesced into one ECS document, the way Auditbeat does (the port of
//! `secops/sources/auditd/coalesce.py`: aucoalesce's actor / action / object / how, Auditbeat's layout).
use std::borrow::Cow;

use super::doc::{string, write_obj, write_str, Obj, Text, Val};
use super::pytext;
use crate::civil::civil_from_days;
use super::record::{how_default, Fields, Record};
use super::tables::{tables, Attr, Norm};

const ENTITIES: [&str; 5] = [
    "user",
    "user.effective",
    "user.target",
    "user.changes",
    "group",
];
const INCOMING: [&str; 4] = ["recvfrom", "recvmsg", "accept", "accept4"];
const OUTGOING: [&str; 3] = ["connect", "sendto", "sendmsg"];
/// `stat.S_IS*` in the order the reference tests them, by `S_IFMT` value.
const FILE_TYPES: [(u32, &str); 7] = [
    (0o100000, "file"),
    (0o040000, "directory"),
    (0o020000, "character-device"),
    (0o060000, "block-device"),
    (0o010000, "named-pipe"),
    (0o120000, "symlink"),
    (0o140000, "socket"),
];

/// Where a user or group id of the main record goes under `user` (`_ID_FIELDS`; others `user.<key>.id`).
fn id_place(key: &str) -> &'static [&'static str] {
    match key {
        "uid" => &["id"],
        "gid" => &["group", "id"],
        "euid" => &["effective", "id"],
        "egid" => &["effective", "group", "id"],
        "suid" => &["saved", "id"],
        "sgid" => &["saved", "group", "id"],
        "fsuid" => &["filesystem", "id"],
        "fsgid" => &["filesystem", "group", "id"],
        "auid" => &["audit", "id"],
        _ => &[],
    }
}

/// The event being coalesced: the summary parts and the fields sorted by where they end up.
struct Event<'r, 'a> {
    main: &'r Record<'a>,
    data: Fields<'a>,
    result: Text<'a>,
    session: Option<Text<'a>>,
    actor_primary: Text<'a>,
    actor_secondary: Text<'a>,
    action: Option<&'static str>,
    object_type: Option<&'static str>,
    object_primary: Text<'a>,
    object_secondary: Text<'a>,
    how: Text<'a>,
    ids: Fields<'a>,
    names: &'r Fields<'a>,
    selinux: Fields<'a>,
    paths: Vec<&'r Record<'a>>,
    args: Vec<Text<'a>>,
    file: Option<Obj<'a>>,
    source: Option<Obj<'a>>,
    destination: Option<Obj<'a>>,
    direction: Option<&'static str>,
    kind: Option<&'static str>,
    /// The normalisation applied, and the syscall's own when it differs (its categories follow).
    norms: [Option<&'static Norm>; 2],
    entities: Vec<(&'static str, Text<'a>)>,
}

/// The event from its main record and the fields of its SYSCALL record (or of the main record).
fn new_event<'r, 'a>(
    main: &'r Record<'a>,
    source: &'r Record<'a>,
    fields: Fields<'a>,
) -> Event<'r, 'a> {
    let mut data = Fields::with_capacity(fields.0.len() + 8);
    let mut ids = Fields::with_capacity(10);
    let mut selinux = Fields::default();
    let result = fields
        .get("result")
        .cloned()
        .unwrap_or(Cow::Borrowed("unknown"));
    let session = fields.get("ses").cloned();
    let actor_primary = fields.get("auid").cloned().unwrap_or_default();
    let actor_secondary = fields.get("uid").cloned().unwrap_or_default();
    for (key, value) in fields.0 {
        if key.ends_with("uid") || key.ends_with("gid") {
            ids.push_new(key, value);
        } else if let Some(part) = key.strip_prefix("subj_") {
            let part = match &key {
                Cow::Borrowed(k) => Cow::Borrowed(&k[5..]),
                Cow::Owned(_) => Cow::Owned(part.to_owned()),
            };
            selinux.push_new(part, value);
        } else if key != "result" && key != "ses" {
            data.push_new(key, value);
        }
    }
    Event {
        main,
        data,
        result,
        session,
        actor_primary,
        actor_secondary,
        action: None,
        object_type: None,
        object_primary: Cow::Borrowed(""),
        object_secondary: Cow::Borrowed(""),
        how: Cow::Borrowed(""),
        ids,
        names: &source.names,
        selinux,
        paths: Vec::new(),
        args: Vec::new(),
        file: None,
        source: None,
        destination: None,
        direction: None,
        kind: None,
        norms: [None, None],
        entities: Vec::new(),
    }
}

fn address<'a>(record: &Record<'a>) -> Option<Obj<'a>> {
    let mut out = Obj::new();
    for (key, target) in [("addr", "ip"), ("port", "port"), ("path", "path")] {
        if let Some(value) = record.data.get(key).filter(|v| !v.is_empty()) {
            out.set(target, string(value.clone()));
        }
    }
    (!out.is_empty()).then_some(out)
}

fn add_sockaddr<'a>(record: &Record<'a>, event: &mut Event<'_, 'a>) {
    let Some(syscall) = event.data.get("syscall").cloned() else {
        return;
    };
    for (key, value) in &record.data.0 {
        event.data.set(format!("socket_{key}"), value.clone());
    }
    if INCOMING.contains(&syscall.as_ref()) {
        event.source = address(record);
        event.direction = Some("ingress");
    } else if OUTGOING.contains(&syscall.as_ref()) {
        event.destination = address(record);
        event.direction = Some("egress");
    }
}

fn add_execve<'a>(record: &Record<'a>, event: &mut Event<'_, 'a>) -> Result<(), String> {
    let Some(argc) = record.data.get("argc") else {
        return Ok(());
    };
    event.data.set("argc", argc.clone());
    let mut args = Vec::new();
    if pytext::is_digit(argc) {
        let count = pytext::int_of_digits(argc)?;
        let count = if count.len() > 18 {
            u64::MAX
        } else {
            pytext::saturating_value(&count)
        };
        for index in 0..count {
            match record.data.get(&format!("a{index}")) {
                Some(arg) => args.push(arg.clone()),
                None => break,
            }
        }
    }
    event.args = args;
    Ok(())
}

fn compound<'r, 'a>(
    records: &'r [Record<'a>],
    fields: Fields<'a>,
) -> Result<Event<'r, 'a>, String> {
    let syscall = records.iter().find(|r| r.typ == "SYSCALL");
    let main = &records[0];
    let mut event = new_event(main, syscall.unwrap_or(main), fields);
    for record in records {
        let is_syscall = syscall.is_some_and(|s| std::ptr::eq(s, record));
        if is_syscall {
            event.data.remove("items");
        } else if record.typ == "PATH" {
            event.paths.push(record);
        } else if record.typ == "SOCKADDR" {
            add_sockaddr(record, &mut event);
        } else if record.typ == "EXECVE" {
            add_execve(record, &mut event)?;
        } else if syscall.is_some() || !std::ptr::eq(record, main) {
            for (key, value) in &record.data.0 {
                if !event.data.contains(key) {
                    event.data.push_new(key.clone(), value.clone());
                }
            }
        }
    }
    Ok(event)
}

fn set_file_object<'a>(event: &mut Event<'_, 'a>, path_index: usize) -> Result<(), String> {
    if event.paths.is_empty() {
        return Ok(());
    }
    let index = if event.paths.len() > path_index {
        path_index
    } else {
        0
    };
    let chosen = event.paths[index..]
        .iter()
        .copied()
        .find(|p| {
            !matches!(
                p.data.get("nametype").map(|v| v.as_ref()),
                Some("PARENT" | "UNKNOWN")
            )
        })
        .unwrap_or(event.paths[index]);
    let path = &chosen.data;
    let mut file = Obj::new();
    if let Some(name) = path.get("name") {
        event.object_primary = name.clone();
        file.set("path", string(name.clone()));
    }
    for (key, target) in [
        ("inode", "inode"),
        ("rdev", "device"),
        ("ouid", "uid"),
        ("ogid", "gid"),
    ] {
        if let Some(value) = path.get(key) {
            file.set(target, string(value.clone()));
        }
    }
    if let Some(bits) = path
        .get("mode")
        .and_then(|mode| pytext::int_base(mode, 8))
        .filter(|&bits| bits >= 0)
    {
        if bits >= 1 << 64 {
            return Err(
                "parser error: OverflowError: Python int too large to convert to C unsigned long"
                    .to_owned(),
            );
        }
        if bits >= 1 << 32 {
            return Err("parser error: OverflowError: mode out of range".to_owned());
        }
        let bits = bits as u32;
        file.set("mode", string(format!("{:04o}", bits & 0o7777)));
        if let Some(&(_, object_type)) = FILE_TYPES
            .iter()
            .find(|&&(kind, _)| bits & 0o170000 == kind)
        {
            event.object_type = Some(object_type);
        }
    }
    let selinux: Vec<_> = path
        .0
        .iter()
        .filter(|(k, _)| k.starts_with("obj_"))
        .collect();
    if !selinux.is_empty() {
        let mut obj = Obj::new();
        for (key, value) in selinux {
            obj.set(Cow::Owned(key[4..].to_owned()), string(value.clone()));
        }
        file.set("selinux", Val::Obj(obj));
    }
    for (key, target) in [("OUID", "owner"), ("OGID", "group")] {
        if let Some(value) = chosen.names.get(key) {
            file.set(target, string(value.clone()));
        }
    }
    event.file = Some(file);
    Ok(())
}

fn set_socket_object(event: &mut Event<'_, '_>) {
    let data = &event.data;
    let primary = data
        .get("socket_addr")
        .filter(|v| !v.is_empty())
        .or_else(|| data.get("socket_path"));
    if let Some(primary) = primary.filter(|v| !v.is_empty()) {
        event.object_primary = primary.clone();
    }
    if let Some(port) = event.data.get("socket_port").filter(|v| !v.is_empty()) {
        event.object_secondary = port.clone();
    }
}

/// Apply the matching normalisation: action, object, actor, how and ECS categorisation.
fn normalize(event: &mut Event<'_, '_>) -> Result<(), String> {
    let t = tables();
    if let Some(how) = how_default(&event.data) {
        event.how = how.clone();
    }
    let syscall_norm = event
        .data
        .get("syscall")
        .and_then(|s| {
            t.by_syscall
                .get(s.as_ref())
                .or_else(|| t.by_syscall.get("*"))
        })
        .copied();
    let norm_index = if event.main.typ == "SYSCALL" {
        syscall_norm
    } else {
        let candidates = t
            .by_record_type
            .get(event.main.typ)
            .map_or(&[][..], Vec::as_slice);
        candidates
            .iter()
            .copied()
            .rfind(|&i| t.norms[i].has_fields.iter().all(|f| event.data.contains(f)))
    };
    let Some(norm_index) = norm_index else {
        return Ok(());
    };
    let norm: &'static Norm = &t.norms[norm_index];
    event.kind = norm.kind.as_deref();
    event.norms = [
        Some(norm),
        syscall_norm
            .filter(|&i| i != norm_index)
            .map(|i| &t.norms[i]),
    ];
    event.action = norm.action.as_deref();
    event.object_type = norm.object_type.as_deref();
    match norm.object_type.as_deref() {
        Some("file" | "filesystem") => set_file_object(event, norm.path_index)?,
        Some("socket") => set_socket_object(event),
        _ => {}
    }
    for (attr, keys) in &norm.summary_fields {
        let found = keys
            .iter()
            .find_map(|key| event.data.get(key).or_else(|| event.ids.get(key)))
            .cloned();
        if let Some(found) = found {
            *match attr {
                Attr::ActorPrimary => &mut event.actor_primary,
                Attr::ActorSecondary => &mut event.actor_secondary,
                Attr::ObjectPrimary => &mut event.object_primary,
                Attr::ObjectSecondary => &mut event.object_secondary,
                Attr::How => &mut event.how,
            } = found;
        }
    }
    if event.source.is_none() {
        for key in &norm.source_ip {
            if let Some(ip) = event.data.remove(key) {
                let mut source = Obj::new();
                source.set("ip", string(ip));
                event.source = Some(source);
                event.direction = Some("ingress");
                break;
            }
        }
    }
    for (entity, source) in &norm.mappings {
        let value = match source.strip_prefix("uid.") {
            Some(id) => event.ids.get(id).cloned().unwrap_or_default(),
            None => match source.as_str() {
                "actor.primary" => event.actor_primary.clone(),
                "actor.secondary" => event.actor_secondary.clone(),
                "object.primary" => event.object_primary.clone(),
                "object.secondary" => event.object_secondary.clone(),
                _ => Cow::Borrowed(""),
            },
        };
        match event.entities.iter_mut().find(|(e, _)| e == entity) {
            Some(slot) => slot.1 = value,
            None => event.entities.push((entity.as_str(), value)),
        }
    }
    Ok(())
}

/// What the pipeline stamps on a document (`Stamper.event`), written with it.
pub struct Stamp<'s> {
    pub id: &'s str,
    pub dataset: &'s str,
    pub original: Option<&'s str>,
    pub label: &'s str,
    pub offset: u64,
    pub observer: &'s str,
}

/// What `coalesce` wrote: where the `@timestamp` text is (from the document's start), and the message.
pub struct Written {
    pub timestamp: std::ops::Range<usize>,
    pub message: String,
}

/// Write one ECS document (JSON) for the records of one event (same serial) to `out`, stamped when
/// `stamp` is given; `records` are those other than EOE (at least one). Nothing is written when it fails.
pub fn coalesce(
    records: &mut [Record<'_>],
    stamp: Option<&Stamp<'_>>,
    out: &mut String,
) -> Result<Written, String> {
    // The event starts from the fields of its SYSCALL record (else its first): taken rather than copied
    // where nothing reads that record's fields again.
    let source = if records.len() > 1 {
        records.iter().position(|r| r.typ == "SYSCALL").unwrap_or(0)
    } else {
        0
    };
    let fields = if matches!(records[source].typ, "PATH" | "SOCKADDR" | "EXECVE") {
        records[source].data.clone()
    } else {
        std::mem::take(&mut records[source].data)
    };
    let records = &*records;
    let mut event = if records.len() > 1 {
        compound(records, fields)?
    } else {
        new_event(&records[0], &records[0], fields)
    };
    normalize(&mut event)?;
    document(event, records, stamp, out)
}

/// `@timestamp` text (`2023-11-14T22:13:20.005000Z`).
struct Timestamp([u8; 27]);

impl Timestamp {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

/// `@timestamp` of a record, or the OverflowError Python's datetime raises for it.
fn timestamp(seconds: Option<u64>, millis: u32) -> Result<Timestamp, String> {
    const MAX: u64 = 253_402_300_799; // 9999-12-31T23:59:59
    let error = |message: String| Err(format!("parser error: OverflowError: {message}"));
    let seconds = match seconds {
        Some(s) if s <= MAX => s,
        Some(s) if s < 1_000_000_000 * 86_400 => {
            return error("date value out of range".to_owned())
        }
        Some(s) if s < 2_147_483_648 * 86_400 => {
            return error(format!(
                "days={}; must have magnitude <= 999999999",
                s / 86_400
            ))
        }
        _ => return error("Python int too large to convert to C int".to_owned()),
    };
    let days = (seconds / 86_400) as i64;
    let rem = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    for (value, end) in [
        (year as u64, 4),
        (month as u64, 7),
        (day as u64, 10),
        (rem / 3600, 13),
        (rem / 60 % 60, 16),
        (rem % 60, 19),
        (u64::from(millis), 23),
    ] {
        let mut rest = value;
        for at in (0..end).rev() {
            if !out[at].is_ascii_digit() {
                break;
            }
            out[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
    }
    Ok(Timestamp(out))
}

/// JSON written in order, objects opened and closed by hand (no tree to build and drop).
struct Json<'o> {
    out: &'o mut String,
    comma: bool,
}

impl Json<'_> {
    /// A key: field names are `[a-z0-9_-]` words or this module's own, so they need no escaping.
    fn key(&mut self, key: &str) {
        debug_assert!(!key.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
        self.out.push_str(if self.comma { ",\"" } else { "\"" });
        self.out.push_str(key);
        self.out.push_str("\":");
        self.comma = true;
    }

    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    /// `value.lower()` as a string field.
    fn str_lower(&mut self, key: &str, value: &str) {
        self.key(key);
        let mut buffer = [0u8; 64];
        if value.len() <= buffer.len() && value.is_ascii() {
            let lowered = &mut buffer[..value.len()];
            lowered.copy_from_slice(value.as_bytes());
            lowered.make_ascii_lowercase();
            write_str(self.out, std::str::from_utf8(lowered).expect("ASCII"));
        } else {
            write_str(self.out, &pytext::lower(value));
        }
    }

    fn raw(&mut self, key: &str, raw: &str) {
        self.key(key);
        self.out.push_str(raw);
    }

    fn open(&mut self, key: &str) {
        self.key(key);
        self.out.push('{');
        self.comma = false;
    }

    fn close(&mut self) {
        self.out.push('}');
        self.comma = true;
    }

    fn list<'x>(&mut self, key: &str, items: impl IntoIterator<Item = &'x str>) {
        self.key(key);
        self.out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(self.out, item);
        }
        self.out.push(']');
    }

    fn obj(&mut self, key: &str, obj: &Obj<'_>) {
        self.key(key);
        write_obj(obj, self.out);
    }

    fn fields(&mut self, key: &str, fields: &Fields<'_>) {
        self.open(key);
        for (k, v) in &fields.0 {
            self.str(k, v);
        }
        self.close();
    }
}

/// `str(n)` appended.
fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[at..]).expect("digits"));
}

/// The process fields the event's data gives (popped from it, as `_process` does).
struct Process<'a> {
    /// `pid` and `ppid` as the log wrote them (their digits pass `int`).
    pid: Option<Text<'a>>,
    ppid: Option<Text<'a>>,
    named: [Option<Text<'a>>; 4],
}

const PROCESS_FIELDS: [(&str, &str); 4] = [
    ("proctitle", "title"),
    ("comm", "name"),
    ("exe", "executable"),
    ("cwd", "working_directory"),
];

fn process<'a>(data: &mut Fields<'a>) -> Result<Process<'a>, String> {
    let mut number = |key: &str| -> Result<Option<Text<'a>>, String> {
        match data.remove(key).filter(|v| pytext::is_digit(v)) {
            Some(value) => {
                pytext::int_of_digits(&value)?;
                Ok(Some(value))
            }
            None => Ok(None),
        }
    };
    let pid = number("pid")?;
    let ppid = number("ppid")?;
    let named = PROCESS_FIELDS.map(|(key, _)| data.remove(key).filter(|v| !v.is_empty()));
    Ok(Process { pid, ppid, named })
}

fn document(
    mut event: Event<'_, '_>,
    records: &[Record<'_>],
    stamp: Option<&Stamp<'_>>,
    out: &mut String,
) -> Result<Written, String> {
    let t = tables();
    let main = event.main;
    // What can fail, in the order the reference meets it.
    let timestamp = timestamp(main.seconds, main.millis)?;
    let category = t.category(main.typ)?;
    let process = process(&mut event.data)?;
    let socket_data = if event.data.0.iter().any(|(k, _)| k.contains("socket_")) {
        Some(data_object(&event.data)?)
    } else {
        None
    };

    let start = out.len();
    let mut json = Json { out, comma: false };
    json.out.push('{');
    json.key("@timestamp");
    let at = json.out.len() + 1 - start;
    write_str(json.out, timestamp.as_str());
    let timestamp_range = at..json.out.len() - 1 - start;

    json.open("event");
    json.str("kind", event.kind.unwrap_or("event"));
    let outcome = match event.result.as_ref() {
        "success" => "success",
        "fail" => "failure",
        _ => "unknown",
    };
    json.str("outcome", outcome);
    let applied = || event.norms.iter().flatten();
    if applied().any(|norm| !norm.category.is_empty()) {
        json.list(
            "category",
            applied().flat_map(|norm| norm.category.iter().map(String::as_str)),
        );
        json.list(
            "type",
            applied().flat_map(|norm| norm.types.iter().map(String::as_str)),
        );
    }
    if let Some(action) = event.action.filter(|a| !a.is_empty()) {
        json.str("action", action);
    }
    if let Some(stamp) = stamp {
        json.str("id", stamp.id);
        json.str("dataset", stamp.dataset);
        if let Some(original) = stamp.original {
            json.str("original", original);
        }
    }
    json.close();

    json.open("auditd");
    json.str_lower("message_type", main.typ);
    json.raw("sequence", &main.sequence);
    json.str("result", &event.result);
    json.str("category", category);
    if let Some(session) = event.session.as_ref().filter(|s| *s != "unset") {
        json.str("session", session);
    }
    json.open("summary");
    if !event.actor_primary.is_empty() || !event.actor_secondary.is_empty() {
        json.open("actor");
        if !event.actor_primary.is_empty() {
            json.str("primary", &event.actor_primary);
        }
        if !event.actor_secondary.is_empty() {
            json.str("secondary", &event.actor_secondary);
        }
        json.close();
    }
    let object_type = event.object_type.filter(|o| !o.is_empty());
    if object_type.is_some()
        || !event.object_primary.is_empty()
        || !event.object_secondary.is_empty()
    {
        json.open("object");
        if let Some(object_type) = object_type {
            json.str("type", object_type);
        }
        if !event.object_primary.is_empty() {
            json.str("primary", &event.object_primary);
        }
        if !event.object_secondary.is_empty() {
            json.str("secondary", &event.object_secondary);
        }
        json.close();
    }
    if !event.how.is_empty() {
        json.str("how", &event.how);
    }
    json.close();
    match &socket_data {
        Some(data) if !data.is_empty() => json.obj("data", data),
        None if !event.data.is_empty() => json.fields("data", &event.data),
        _ => {}
    }
    if !event.paths.is_empty() {
        json.key("paths");
        json.out.push('[');
        for (i, path) in event.paths.iter().enumerate() {
            if i > 0 {
                json.out.push(',');
            }
            json.comma = false;
            json.out.push('{');
            for (k, v) in &path.data.0 {
                json.str(k, v);
            }
            json.out.push('}');
        }
        json.out.push(']');
        json.comma = true;
    }
    json.close();

    if event.entities.is_empty() && event.names.is_empty() {
        plain_users(&mut json, &event);
    } else {
        let mut accounts = Obj::new();
        users(&mut accounts, &event);
        for (key, value) in &accounts.0 {
            if let Val::Obj(obj) = value {
                json.obj(key, obj);
            }
        }
    }
    let has_process = process.pid.is_some()
        || process.ppid.is_some()
        || process.named.iter().any(Option::is_some)
        || !event.args.is_empty();
    if has_process {
        json.open("process");
        if let Some(pid) = &process.pid {
            json.raw("pid", &pytext::decimal_text(pid));
        }
        if let Some(ppid) = &process.ppid {
            let ppid = pytext::decimal_text(ppid);
            json.raw("ppid", &ppid);
            json.open("parent");
            json.raw("pid", &ppid);
            json.close();
        }
        for ((_, target), value) in PROCESS_FIELDS.iter().zip(&process.named) {
            if let Some(value) = value {
                json.str(target, value);
            }
        }
        if !event.args.is_empty() {
            json.list("args", event.args.iter().map(|a| a.as_ref()));
        }
        json.close();
    }
    for (key, value) in [
        ("file", &event.file),
        ("source", &event.source),
        ("destination", &event.destination),
    ] {
        if let Some(obj) = value {
            json.obj(key, obj);
        }
    }
    if let Some(direction) = event.direction {
        json.open("network");
        json.str("direction", direction);
        json.close();
    }
    let mut tags = &main.tags;
    let mut node = main.node;
    if records.len() > 1 {
        if tags.is_empty() {
            tags = records
                .iter()
                .map(|r| &r.tags)
                .find(|t| !t.is_empty())
                .unwrap_or(tags);
        }
        if node.is_none() {
            node = records.iter().find_map(|r| r.node);
        }
    }
    if !tags.is_empty() {
        json.list("tags", tags.iter().map(|t| t.as_ref()));
    }
    if let Some(node) = node.filter(|n| !n.is_empty()) {
        json.open("host");
        json.str("name", node);
        json.close();
    }
    let message = message(&event);
    json.str("message", &message);
    if let Some(stamp) = stamp {
        json.open("log");
        json.open("file");
        json.str("path", stamp.label);
        json.close();
        json.key("offset");
        push_decimal(json.out, stamp.offset);
        json.close();
        json.open("observer");
        json.str("hostname", stamp.observer);
        json.close();
    }
    json.out.push('}');
    Ok(Written {
        timestamp: timestamp_range,
        message,
    })
}

fn strings<'a>(fields: &Fields<'a>) -> Obj<'a> {
    Obj(fields
        .0
        .iter()
        .map(|(k, v)| (k.clone(), string(v.clone())))
        .collect())
}

/// `auditd.data` when it holds SOCKADDR fields (`socket_*`), nested under `socket` as the reference does.
fn data_object<'a>(data: &Fields<'a>) -> Result<Obj<'a>, String> {
    let mut out = Obj::new();
    for (key, value) in &data.0 {
        match key.strip_prefix("socket_") {
            Some(inner) => {
                if !out.contains("socket") {
                    out.set("socket", Val::Obj(Obj::new()));
                }
                match out.get_obj_mut("socket") {
                    Some(socket) => socket.set(Cow::Owned(inner.to_owned()), string(value.clone())),
                    None => return Err(
                        "parser error: TypeError: 'str' object does not support item assignment"
                            .to_owned(),
                    ),
                }
            }
            None => out.set(key.clone(), string(value.clone())),
        }
    }
    Ok(out)
}

/// `users` written straight out for the usual event, one without ECS entity mappings or enriched names:
/// each id at its place, `user.effective` dropped when it repeats `user.id`, `group.id`.
fn plain_users(json: &mut Json<'_>, event: &Event<'_, '_>) {
    let ids: Vec<(&str, &str, &'static [&'static str])> = event
        .ids
        .0
        .iter()
        .filter(|(_, value)| value != "unset")
        .map(|(key, value)| (key.as_ref(), value.as_ref(), id_place(key)))
        .collect();
    let value_of = |key: &str| ids.iter().find(|(k, _, _)| *k == key).map(|(_, v, _)| *v);
    let uid = value_of("uid");
    let drop_effective = value_of("euid").is_some_and(|euid| !euid.is_empty() && Some(euid) == uid);
    if !ids.is_empty() || !event.selinux.is_empty() {
        json.open("user");
        for (i, &(key, value, place)) in ids.iter().enumerate() {
            let top = place.first().copied().unwrap_or(key);
            if place.len() == 1 {
                json.str("id", value);
                continue;
            }
            // One object per first part, written where that part first appears.
            if ids[..i]
                .iter()
                .any(|(k, _, p)| p.first().copied().unwrap_or(k) == top && p.len() > 1)
                || (top == "effective" && drop_effective)
            {
                continue;
            }
            json.open(top);
            for &(_, inner_value, inner_place) in &ids[i..] {
                match inner_place {
                    [first, "id"] if *first == top => json.str("id", inner_value),
                    [first, "group", "id"] if *first == top => {
                        json.open("group");
                        json.str("id", inner_value);
                        json.close();
                    }
                    _ => {}
                }
            }
            if place.is_empty() {
                json.str("id", value);
            }
            json.close();
        }
        if !event.selinux.is_empty() {
            json.fields("selinux", &event.selinux);
        }
        json.close();
    }
    if let Some(gid) = value_of("gid") {
        json.open("group");
        json.str("id", gid);
        json.close();
    }
}

/// `user.*` and `group.*` as Auditbeat writes them, with the names the enriched log gives.
fn users<'a>(doc: &mut Obj<'a>, event: &Event<'_, 'a>) {
    let names = event.names;
    let named = !names.is_empty();
    let mut user = Obj::with_capacity(8);
    for (key, value) in &event.ids.0 {
        if value == "unset" {
            continue;
        }
        let known = id_place(key);
        let (mut path, len): ([Text<'a>; 3], usize) = match known.len() {
            0 => ([key.clone(), Cow::Borrowed("id"), Cow::Borrowed("")], 2),
            n => (
                [0, 1, 2].map(|i| Cow::Borrowed(*known.get(i).unwrap_or(&""))),
                n,
            ),
        };
        let parts = &path[..len];
        if parts.len() == 2 {
            let leaf = parts[1].clone();
            match user.get_obj_mut(&parts[0]) {
                Some(node) => node.set(leaf, string(value.clone())),
                None => {
                    let mut node = Obj::with_capacity(2);
                    node.set(leaf, string(value.clone()));
                    user.set(parts[0].clone(), Val::Obj(node));
                }
            }
        } else {
            user.put(parts, string(value.clone()));
        }
        if named {
            if let Some(name) = names
                .get(&key.to_ascii_uppercase())
                .filter(|n| !n.is_empty() && *n != "unset")
            {
                path[len - 1] = Cow::Borrowed("name");
                user.put(&path[..len], string(name.clone()));
            }
        }
    }
    if !event.selinux.is_empty() {
        user.set("selinux", Val::Obj(strings(&event.selinux)));
    }
    if !user.is_empty() {
        doc.set("user", Val::Obj(user));
    }
    if let Some(gid) = event.ids.get("gid").filter(|g| *g != "unset") {
        let mut group = Obj::new();
        group.set("id", string(gid.clone()));
        if let Some(name) = names.get("GID").filter(|n| named && !n.is_empty()) {
            group.set("name", string(name.clone()));
        }
        doc.set("group", Val::Obj(group));
    }
    if !event.entities.is_empty() {
        for entity in ENTITIES {
            if let Some((_, value)) = event.entities.iter().find(|(e, _)| *e == entity) {
                set_entity(doc, entity, value);
            }
        }
    }
    let Some(user) = doc.get_obj_mut("user") else {
        return;
    };
    let drop_effective = user.get_obj("effective").is_some_and(|effective| {
        let same = |key: &str| match (effective.get_str(key), user.get_str(key)) {
            (Some(mine), Some(theirs)) => !mine.is_empty() && mine == theirs,
            _ => false,
        };
        same("id") || same("name")
    });
    if drop_effective {
        user.remove("effective");
    }
}

/// An ECS entity from a summary value: a number is an id, anything else a name; unset clears it.
fn set_entity<'a>(doc: &mut Obj<'a>, entity: &'static str, value: &Text<'a>) {
    let (parent, leaf) = entity.rsplit_once('.').unwrap_or(("", entity));
    let holder = if parent.is_empty() {
        Some(&mut *doc)
    } else {
        doc.get_obj_mut(parent)
    };
    if let Some(holder) = holder {
        if let Some(existing) = holder.get_obj_mut(leaf) {
            existing.remove("id");
            existing.remove("name");
            if existing.is_empty() {
                holder.remove(leaf);
            }
        }
    }
    if matches!(value.as_ref(), "" | "unset" | "4294967295" | "-1") {
        return;
    }
    let mut parts: Vec<&str> = entity.split('.').collect();
    parts.push(if pytext::is_digit(value) {
        "id"
    } else {
        "name"
    });
    doc.put(&parts, string(value.clone()));
}

/// A one-line human summary: who did what to which object, and how.
fn message(event: &Event<'_, '_>) -> String {
    let actor = if matches!(event.actor_primary.as_ref(), "" | "unset") {
        &event.actor_secondary
    } else {
        &event.actor_primary
    };
    let mut out = String::with_capacity(96);
    out.push_str(if actor.is_empty() { "?" } else { actor });
    out.push(' ');
    match event.action.filter(|a| !a.is_empty()) {
        Some(action) => out.push_str(action),
        None if event.main.typ.is_ascii() => {
            out.extend(event.main.typ.chars().map(|c| c.to_ascii_lowercase()))
        }
        None => out.push_str(&pytext::lower(event.main.typ)),
    }
    let target: &str = if event.object_primary.is_empty() {
        event.object_type.unwrap_or("")
    } else {
        &event.object_primary
    };
    if !target.is_empty() {
        out.push(' ');
        out.push_str(target);
    }
    if !event.how.is_empty() && event.how != target {
        out.push_str(" via ");
        out.push_str(&event.how);
    }
    if event.result != "unknown" {
        out.push_str(" (");
        out.push_str(&event.result);
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_their_limits() {
        let text = |seconds, millis| {
            timestamp(Some(seconds), millis)
                .unwrap()
                .as_str()
                .to_owned()
        };
        assert_eq!(text(1_700_000_000, 5), "2023-11-14T22:13:20.005000Z");
        assert_eq!(text(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(text(253_402_300_799, 999), "9999-12-31T23:59:59.999000Z");
        assert!(timestamp(Some(253_402_300_800), 0)
            .err()
            .unwrap()
            .ends_with("date value out of range"));
        assert!(timestamp(None, 0).err().unwrap().ends_with("to C int"));
    }
}
