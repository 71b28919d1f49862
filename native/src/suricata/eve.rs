//! `SuricataEve.parse` / `normalise` of `secops/sources/suricata.py`, mapper for mapper: one EVE line to
//! one ECS document laid out like Filebeat's Suricata module, with `suricata.eve` holding what ECS has
//! no name for. Every type test, fallback and summary follows the Python reference, which stays the
//! specification; the comments there say why each rule is what it is.
use std::borrow::Cow;

use super::clock::{Clock, ClockError, Naive};
use super::doc::{Answer, Dns, Doc, Email, Endpoint, Event, File, Http, Rule, Text, Tls, Url};
use super::email::addresses;
use super::inet::canonical_ip;
use super::json::{parse, write_int, Object, Value};
use super::pyrepr::{show, str_of};
use super::text::decode;

/// The reason Python's pipeline gives when `datetime` arithmetic overflows inside the parser.
const OVERFLOW: &str = "parser error: OverflowError: date value out of range";

/// Why a record was rejected: the dead-letter reason, as the Python reference words it.
pub type Reason = String;

fn clock_failure(error: ClockError) -> Reason {
    match error {
        ClockError::Value(message) => message,
        ClockError::Overflow => OVERFLOW.into(),
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `_load` + the object check of `parse`: the record of one line. A line that is not UTF-8 (or starts
/// with a BOM) is decoded into `storage` first, as the reference retries after decoding.
pub fn load<'a>(raw: &'a [u8], storage: &'a mut String) -> Result<Object<'a>, Reason> {
    let text: &'a str = match std::str::from_utf8(raw) {
        Ok(text) if !raw.starts_with(BOM) => text,
        _ => {
            *storage = decode(raw.strip_prefix(BOM).unwrap_or(raw)).into_owned();
            let storage: &'a String = storage;
            storage.as_str()
        }
    };
    match parse(text) {
        Ok(Value::Object(record)) => Ok(record),
        Ok(other) => Err(format!(
            "EVE record must be a JSON object, got {}",
            other.type_name()
        )),
        Err(error) => Err(format!("malformed JSON: {}", error.describe(text))),
    }
}

// --- event kinds --------------------------------------------------------------------------------------

/// `event.category`, `event.type` and the mapped objects to look for (None: any) of an event type.
type Kind = (
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static [&'static str]>,
);

const APP_LAYER: [&str; 24] = [
    "http",
    "dns",
    "tls",
    "ssh",
    "smtp",
    "ftp",
    "dhcp",
    "smb",
    "rdp",
    "tftp",
    "krb5",
    "nfs",
    "snmp",
    "sip",
    "mqtt",
    "http2",
    "quic",
    "dnp3",
    "modbus",
    "ike",
    "rfb",
    "pgsql",
    "ldap",
    "bittorrent-dht",
];
const NOT_PROTOCOLS: [&str; 4] = ["failed", "template", "template-rust", "unknown"];

/// `_MAPPERS` order.
const MAPPED: [&str; 14] = [
    "alert", "flow", "netflow", "http", "dns", "tls", "fileinfo", "email", "smtp", "ftp",
    "ftp_data", "dhcp", "ssh", "anomaly",
];

fn plan(event_type: &str) -> Option<&'static [&'static str]> {
    Some(match event_type {
        "flow" => &["flow"],
        "netflow" => &["netflow"],
        "http" => &["http"],
        "dns" => &["dns"],
        "tls" => &["tls"],
        "smtp" => &["email", "smtp"],
        "ftp" => &["ftp"],
        "ftp_data" => &["ftp_data"],
        "dhcp" => &["dhcp"],
        "ssh" => &["ssh"],
        _ => return None,
    })
}

/// `_kind`: what any event type is.
fn kind(event_type: &str) -> Kind {
    let (categories, types): (&'static [&'static str], &'static [&'static str]) = match event_type {
        "alert" => (&["network", "intrusion_detection"], &["info"]),
        "flow" | "netflow" => (&["network"], &["connection"]),
        "http" => (&["network", "web"], &["access", "protocol"]),
        "fileinfo" => (&["network", "file"], &["info"]),
        "anomaly" => (&["network"], &["info"]),
        "drop" => (&["network"], &["denied"]),
        _ if APP_LAYER.contains(&event_type) || event_type == "ftp_data" => {
            (&["network"], &["protocol"])
        }
        _ => (&["network"], &["info"]),
    };
    (categories, types, plan(event_type))
}

/// `_KINDS`: the event types worked out in advance (others are lower-cased first).
fn known(event_type: &str) -> bool {
    matches!(
        event_type,
        "alert" | "flow" | "netflow" | "http" | "fileinfo" | "anomaly" | "drop" | "ftp_data"
    ) || APP_LAYER.contains(&event_type)
}

// --- the record ---------------------------------------------------------------------------------------

/// `SuricataEve.normalise`: the ECS document of one EVE record.
pub fn normalise<'a>(clock: &mut Clock, mut eve: Object<'a>) -> Result<Doc<'a>, Reason> {
    let stamp = match eve.remove("timestamp") {
        Some(Value::Str(stamp)) => stamp,
        None | Some(Value::Null) => return Err("EVE record has no timestamp".into()),
        Some(other) => return Err(format!("EVE timestamp is not a string: {}", show(&other))),
    };
    let reading = clock
        .read(&stamp, Naive::Configured)
        .map_err(|error| match error {
            ClockError::Value(message) => format!(
                "invalid EVE timestamp {}: {}",
                show(&Value::Str(stamp)),
                message
            ),
            ClockError::Overflow => OVERFLOW.into(),
        })?;
    let mut event_type: Cow<'a, str> = match eve.get("event_type") {
        Some(Value::Str(name)) => name.clone(),
        other => {
            let got = show(other.unwrap_or(&Value::Null));
            return Err(format!("EVE record has no event_type (got {got})"));
        }
    };
    if !known(&event_type) {
        if event_type.is_empty() {
            return Err("EVE record has no event_type (got '')".into());
        }
        let lower = event_type.to_lowercase();
        if lower != *event_type {
            eve.insert("event_type", Value::str(lower.clone()));
            event_type = Cow::Owned(lower);
        }
        if event_type == "stats" {
            return Ok(stats(reading.utc, reading.zone, eve));
        }
    }
    let (categories, types, plan) = kind(&event_type);
    let mut doc = Doc {
        timestamp: reading.utc,
        event: Event {
            kind: "event",
            timezone: reading.zone,
            category: Some(categories),
            types,
            ..Event::default()
        },
        ..Doc::default()
    };
    endpoints(&mut doc, &mut eve, &event_type);
    let carried: Vec<&'static str>;
    let keys = match plan {
        Some(keys) => keys,
        None => {
            carried = MAPPED
                .iter()
                .copied()
                .filter(|key| eve.contains(key))
                .collect();
            &carried
        }
    };
    let mut message = None;
    for &key in keys {
        let Some(Value::Object(part)) = eve.get_mut(key) else {
            continue;
        };
        let summary = map(key, &mut doc, part, clock)?;
        let emptied = part.is_empty();
        if key == event_type {
            message = summary;
        }
        if emptied {
            eve.remove(key);
        }
    }
    doc.message = match message {
        Some(message) if !message.is_empty() => message,
        _ => connection(&doc, &event_type),
    };
    doc.eve = eve;
    Ok(doc)
}

fn map<'a>(
    key: &str,
    doc: &mut Doc<'a>,
    part: &mut Object<'a>,
    clock: &mut Clock,
) -> Result<Option<String>, Reason> {
    Ok(match key {
        "alert" => alert(doc, part),
        "flow" => flow(doc, part, clock)?,
        "netflow" => netflow(doc, part, clock)?,
        "http" => http(doc, part),
        "dns" => dns(doc, part),
        "tls" => tls(doc, part, clock)?,
        "fileinfo" => fileinfo(doc, part),
        "email" => email(doc, part),
        "smtp" => smtp(part),
        "ftp" => ftp(doc, part),
        "ftp_data" => ftp_data(doc, part),
        "dhcp" => dhcp(doc, part),
        "ssh" => ssh(part),
        _ => anomaly(doc, part),
    })
}

/// `_stats`: a metric kept apart from security events, under its own dataset.
fn stats<'a>(utc: String, zone: Option<String>, eve: Object<'a>) -> Doc<'a> {
    let uptime = match eve.get("stats") {
        Some(Value::Object(stats)) => stats.int("uptime"),
        _ => None,
    };
    Doc {
        timestamp: utc,
        event: Event {
            kind: "metric",
            timezone: zone,
            dataset: Some("suricata.stats"),
            types: &["info"],
            ..Event::default()
        },
        message: match uptime {
            Some(uptime) => format!("Suricata stats, uptime {uptime} s"),
            None => "Suricata stats".into(),
        },
        eve,
        ..Doc::default()
    }
}

/// A canonical address moved out of `eve[key]`, when it holds one.
fn take_ip<'a>(eve: &mut Object<'a>, key: &str) -> Option<Text<'a>> {
    let canonical = match canonical_ip(eve.str(key)?)? {
        Cow::Borrowed(_) => None,
        Cow::Owned(address) => Some(address),
    };
    let original = eve.take_str(key)?;
    Some(canonical.map_or(original, Cow::Owned))
}

fn take_port(eve: &mut Object<'_>, key: &str) -> Option<i128> {
    match eve.int(key) {
        Some(port) if (0..=65535).contains(&port) => eve.take_int(key),
        _ => None,
    }
}

/// `_endpoints`: the 5-tuple, transport, application protocol, community id and `related.ip`.
fn endpoints<'a>(doc: &mut Doc<'a>, eve: &mut Object<'a>, event_type: &str) {
    let src_ip = take_ip(eve, "src_ip");
    doc.source.ip = src_ip.clone();
    doc.source.port = take_port(eve, "src_port");
    let dst_ip = take_ip(eve, "dest_ip");
    doc.destination.ip = dst_ip.clone();
    doc.destination.port = take_port(eve, "dest_port");
    doc.related_ip = match (src_ip, dst_ip) {
        (Some(src), Some(dst)) if src != dst => vec![src, dst],
        (Some(src), _) => vec![src],
        (None, Some(dst)) => vec![dst],
        (None, None) => Vec::new(),
    };
    let network = &mut doc.network;
    network.transport = eve.take_str("proto").map(lower);
    let app = eve.str("app_proto").map(|app| lower(app.clone()));
    network.protocol = match app {
        Some(app) if !NOT_PROTOCOLS.contains(&&*app) => {
            eve.remove("app_proto");
            Some(if app == "ftp-data" {
                Cow::Borrowed("ftp")
            } else {
                app
            })
        }
        _ => match APP_LAYER.iter().find(|&&name| name == event_type) {
            Some(&name) => Some(Cow::Borrowed(name)),
            None if event_type == "ftp_data" => Some(Cow::Borrowed("ftp")),
            None => None,
        },
    };
    network.community_id = eve.take_str("community_id");
}

/// `str.lower()`, borrowing text that is lower case already.
fn lower(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        let lowered = text.to_lowercase();
        if lowered != *text {
            return Cow::Owned(lowered);
        }
    }
    text
}

fn hostport(out: &mut String, endpoint: &Endpoint<'_>) {
    match (&endpoint.ip, endpoint.port) {
        (None, _) => out.push('?'),
        (Some(ip), None) => out.push_str(ip),
        (Some(ip), Some(port)) => {
            let bracket = ip.contains(':');
            if bracket {
                out.push('[');
            }
            out.push_str(ip);
            out.push_str(if bracket { "]:" } else { ":" });
            write_int(out, port);
        }
    }
}

/// `_connection`: a flow summary, `flow tcp 10.0.0.1:5000 -> 10.0.0.2:80`.
fn connection(doc: &Doc<'_>, kind: &str) -> String {
    let mut out = String::with_capacity(64);
    out.push_str(kind);
    out.push(' ');
    if let Some(transport) = &doc.network.transport {
        out.push_str(transport);
        out.push(' ');
    }
    hostport(&mut out, &doc.source);
    out.push_str(" -> ");
    hostport(&mut out, &doc.destination);
    out
}

// --- per-object mappers -------------------------------------------------------------------------------

fn alert<'a>(doc: &mut Doc<'a>, alert: &mut Object<'a>) -> Option<String> {
    doc.event.kind = "alert";
    let mut rule = Rule::default();
    let sid = alert.int("signature_id");
    rule.id = sid.map(|sid| sid.to_string());
    let name = alert.str("signature").cloned();
    rule.name = name.clone();
    rule.category = alert.str("category").filter(|c| !c.is_empty()).cloned();
    if let Some(severity) = alert.take_int("severity") {
        doc.event.severity = Some(severity);
    }
    if let Some(action) = alert.str("action") {
        let denied = matches!(&**action, "blocked" | "drop" | "rejected");
        doc.event.types = if denied { &["denied"] } else { &["allowed"] };
    }
    if rule.id.is_some() || rule.name.is_some() || rule.category.is_some() {
        doc.rule = Some(rule);
    }
    Some(match (name, sid) {
        (Some(name), _) => name.into_owned(),
        (None, Some(sid)) => format!("Suricata alert {sid}"),
        (None, None) => "Suricata alert".into(),
    })
}

/// `_traffic`: bytes and packets per direction and the flow's start, end and duration.
fn traffic<'a>(
    doc: &mut Doc<'a>,
    counts: &mut Object<'a>,
    clock: &mut Clock,
    two_way: bool,
) -> Result<(), Reason> {
    let (src_bytes, src_packets, dst_bytes, dst_packets) = if two_way {
        (
            counts.take_int("bytes_toserver"),
            counts.take_int("pkts_toserver"),
            counts.take_int("bytes_toclient"),
            counts.take_int("pkts_toclient"),
        )
    } else {
        (
            counts.take_int("bytes"),
            counts.take_int("pkts"),
            None,
            None,
        )
    };
    for (side, bytes, packets) in [
        (&mut doc.source, src_bytes, src_packets),
        (&mut doc.destination, dst_bytes, dst_packets),
    ] {
        if bytes.is_some() {
            side.bytes = bytes;
        }
        if packets.is_some() {
            side.packets = packets;
        }
    }
    let total_bytes = src_bytes.unwrap_or(0) + dst_bytes.unwrap_or(0);
    let total_packets = src_packets.unwrap_or(0) + dst_packets.unwrap_or(0);
    if total_bytes != 0 {
        doc.network.bytes = Some(total_bytes);
    }
    if total_packets != 0 {
        doc.network.packets = Some(total_packets);
    }
    let mut moments = [None, None];
    for (slot, key) in moments.iter_mut().zip(["start", "end"]) {
        let reading = match counts.get(key) {
            Some(Value::Str(text)) => clock.read(text, Naive::Configured),
            _ => continue,
        };
        match reading {
            Ok(reading) => {
                let field = if key == "start" {
                    &mut doc.event.start
                } else {
                    &mut doc.event.end
                };
                *field = Some(reading.utc);
                *slot = Some(reading.moment);
                counts.remove(key);
            }
            Err(ClockError::Value(_)) => {} // unreadable: stays under suricata.eve
            Err(error) => return Err(clock_failure(error)),
        }
    }
    if let [Some(began), Some(ended)] = moments {
        let elapsed = ended.micros_since(&began);
        if elapsed >= 0 {
            doc.event.duration = Some(elapsed as i128 * 1000);
        }
    }
    Ok(())
}

fn flow<'a>(
    doc: &mut Doc<'a>,
    flow: &mut Object<'a>,
    clock: &mut Clock,
) -> Result<Option<String>, Reason> {
    traffic(doc, flow, clock, true)?;
    let state = flow.str("state").cloned();
    // A flow record; an alert's flow object is a snapshot of an open flow.
    if doc.event.types.first() == Some(&"connection") {
        match state.as_deref() {
            Some("new") => doc.event.types = &["connection", "start"],
            Some("closed") => doc.event.types = &["connection", "end"],
            _ => {}
        }
    }
    let mut summary = connection(doc, "flow");
    if let Some(state) = state {
        summary.push(' ');
        summary.push_str(&state);
    }
    if let Some(reason) = flow.str("reason") {
        summary.push_str(" (");
        summary.push_str(reason);
        summary.push(')');
    }
    Ok(Some(summary))
}

fn netflow<'a>(
    doc: &mut Doc<'a>,
    netflow: &mut Object<'a>,
    clock: &mut Clock,
) -> Result<Option<String>, Reason> {
    traffic(doc, netflow, clock, false)?;
    Ok(Some(connection(doc, "netflow")))
}

fn http<'a>(doc: &mut Doc<'a>, http: &mut Object<'a>) -> Option<String> {
    let mut ecs = Http {
        method: http.take_str("http_method"),
        referrer: http.take_str("http_refer"),
        ..Http::default()
    };
    let method = ecs.method.clone();
    let status = http.take_int("status");
    ecs.status_code = status;
    ecs.body_bytes = http.take_int("length");
    if let Some(status) = status {
        if doc.event.category.is_some_and(|c| c.contains(&"web")) {
            // An HTTP record; an alert's outcome is not the response's.
            doc.event.outcome = Some(if status < 400 { "success" } else { "failure" });
        }
    }
    if let Some(Value::Str(protocol)) = http.get("protocol") {
        if let Some(version) = protocol.strip_prefix("HTTP/") {
            ecs.version = Some(sub(protocol, version));
        }
    }
    if !ecs.is_empty() {
        doc.http = Some(ecs);
    }
    let mut url = Url::default();
    let host = http.take_str("hostname");
    if let Some(host) = &host {
        url.domain = Some(host.clone());
        doc.destination.domain = Some(host.clone());
    }
    url.port = http.take_int("http_port");
    let original = http.take_str("url");
    if let Some(original) = &original {
        url.original = Some(original.clone());
        let (path, fragment) = original.split_once('#').unwrap_or((original, ""));
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        url.path = Some(sub(original, path));
        url.query = query.map(|query| sub(original, query));
        if !fragment.is_empty() {
            url.fragment = Some(sub(original, fragment));
        }
    }
    if !url.is_empty() {
        doc.url = Some(url);
    }
    if let Some(agent) = http.take_str("http_user_agent") {
        doc.user_agent = Some(agent);
    }
    let mut summary = String::with_capacity(96);
    summary.push_str(method.as_deref().filter(|m| !m.is_empty()).unwrap_or("-"));
    summary.push(' ');
    summary.push_str(host.as_deref().unwrap_or(""));
    summary.push_str(original.as_deref().unwrap_or(""));
    if let Some(status) = status {
        summary.push(' ');
        write_int(&mut summary, status);
    }
    Some(summary)
}

/// A part of `whole` as text borrowing what `whole` borrows.
fn sub<'a>(whole: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    match whole {
        Cow::Borrowed(text) => {
            let start = part.as_ptr() as usize - text.as_ptr() as usize;
            Cow::Borrowed(&text[start..start + part.len()])
        }
        Cow::Owned(_) => Cow::Owned(part.to_string()),
    }
}

/// `_dns_answer`: an EVE answer in ECS `dns.answers` form.
fn dns_answer<'a>(record: &Object<'a>) -> Answer<'a> {
    Answer {
        name: record.str("rrname").cloned(),
        kind: record.str("rrtype").cloned(),
        data: record.str("rdata").cloned(),
        ttl: record.int("ttl"),
    }
}

fn answer_is_empty(answer: &Answer<'_>) -> bool {
    answer.name.is_none() && answer.kind.is_none() && answer.data.is_none() && answer.ttl.is_none()
}

/// `_listed_question`: the queried name and type of v3 records and alerts.
fn listed_question<'a>(dns: &Object<'a>) -> (Option<Text<'a>>, Option<Text<'a>>) {
    for key in ["queries", "query"] {
        if let Some(Value::Array(listed)) = dns.get(key) {
            if let Some(Value::Object(first)) = listed.first() {
                return (first.str("rrname").cloned(), first.str("rrtype").cloned());
            }
        }
    }
    (None, None)
}

fn strings_of<'v, 'a>(value: Option<&'v Value<'a>>) -> Vec<&'v Cow<'a, str>> {
    match value {
        Some(Value::Str(s)) => vec![s],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| match item {
                Value::Str(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `_dns_answers`: answers of a response (v2/v3 list, a v1 answer record, or v2 `grouped` alone).
fn dns_answers<'a>(dns: &mut Object<'a>) -> Vec<Answer<'a>> {
    if let Some(Value::Array(_)) = dns.get("answers") {
        let Some(Value::Array(listed)) = dns.remove("answers") else {
            unreachable!()
        };
        return listed
            .iter()
            .filter_map(|item| match item {
                Value::Object(record) => Some(dns_answer(record)).filter(|a| !answer_is_empty(a)),
                _ => None,
            })
            .collect();
    }
    if !dns.contains("version") {
        let single = dns_answer(dns);
        return if single.data.is_some() {
            vec![single]
        } else {
            Vec::new()
        };
    }
    let mut answers = Vec::new();
    if let Some(Value::Object(grouped)) = dns.get("grouped") {
        for (kind, rdata) in grouped.entries() {
            for data in strings_of(Some(rdata)) {
                answers.push(Answer {
                    kind: Some(kind.clone()),
                    data: Some(data.clone()),
                    ..Answer::default()
                });
            }
        }
    }
    answers
}

fn dns<'a>(doc: &mut Doc<'a>, dns: &mut Object<'a>) -> Option<String> {
    let mut ecs = Dns::default();
    let kind = dns.str("type").and_then(|t| match &**t {
        "query" | "request" => Some("query"),
        "answer" | "response" => Some("answer"),
        _ => None,
    });
    ecs.kind = kind;
    ecs.id = dns.int("id").map(|id| id.to_string());
    let rcode = dns.get("rcode").cloned();
    if let Some(Value::Str(rcode)) = &rcode {
        ecs.response_code = Some(rcode.clone());
    }
    let (mut name, mut qtype) = (None, None);
    if kind == Some("query") || dns.contains("version") {
        if let Some(rrname) = dns.str("rrname") {
            name = Some(rrname.clone());
            qtype = dns.str("rrtype").cloned();
        }
    }
    if name.is_none() {
        (name, qtype) = listed_question(dns);
    }
    ecs.question = (name.clone(), qtype.clone());
    let mut data: Vec<String> = Vec::new();
    let mut name_text = name;
    if kind == Some("answer") {
        let answers = dns_answers(dns);
        if !answers.is_empty() {
            let resolved: Vec<Text<'a>> = answers
                .iter()
                .filter(|a| matches!(a.kind.as_deref(), Some("A" | "AAAA")))
                .filter_map(|a| a.data.clone())
                .collect();
            for ip in &resolved {
                if !doc.related_ip.contains(ip) {
                    doc.related_ip.push(ip.clone());
                }
            }
            if name_text.is_none() {
                name_text = answers[0].name.clone();
            }
            data = answers
                .iter()
                .take(3)
                .filter_map(|a| a.data.as_ref().map(|d| d.to_string()))
                .collect();
            ecs.resolved_ip = resolved;
            ecs.answers = answers;
        }
    }
    ecs.header_flags = [
        ("aa", "AA"),
        ("tc", "TC"),
        ("rd", "RD"),
        ("ra", "RA"),
        ("ad", "AD"),
        ("cd", "CD"),
    ]
    .iter()
    .filter(|(key, _)| dns.get(key) == Some(&Value::Bool(true)))
    .map(|(_, flag)| *flag)
    .collect();
    if !ecs.is_empty() {
        doc.dns = Some(ecs);
    }
    let mut summary = String::with_capacity(96);
    summary.push_str("DNS ");
    summary.push_str(kind.unwrap_or("record"));
    summary.push(' ');
    summary.push_str(
        name_text
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("?"),
    );
    if let Some(qtype) = &qtype {
        summary.push(' ');
        summary.push_str(qtype);
    }
    if kind == Some("answer") {
        if let Some(rcode) = rcode.as_ref().filter(|r| **r != Value::Null) {
            summary.push(' ');
            summary.push_str(&str_of(rcode));
        }
    }
    if !data.is_empty() {
        summary.push(' ');
        summary.push_str(&data.join(", "));
    }
    Some(summary)
}

fn tls<'a>(
    doc: &mut Doc<'a>,
    tls: &mut Object<'a>,
    clock: &mut Clock,
) -> Result<Option<String>, Reason> {
    let mut ecs = Tls::default();
    let version = tls.str("version").cloned();
    if let Some(version) = &version {
        match version.split_once(' ') {
            Some((protocol, number)) if !number.is_empty() => {
                ecs.version_protocol = Some(lower(sub(version, protocol)));
                ecs.version = Some(sub(version, number));
            }
            _ => {
                let number = match &**version {
                    "SSLv2" => Some("2.0"),
                    "SSLv3" => Some("3.0"),
                    _ => None,
                };
                if let Some(number) = number {
                    ecs.version_protocol = Some(Cow::Borrowed("ssl"));
                    ecs.version = Some(Cow::Borrowed(number));
                }
            }
        }
    }
    let mut sni = tls.str("sni").filter(|s| !s.is_empty()).cloned();
    if let Some(name) = &mut sni {
        if let Some(stripped) = name.strip_suffix('.') {
            let stripped = sub(name, stripped);
            tls.insert("sni", Value::Str(stripped.clone()));
            *name = stripped;
        }
        ecs.server_name = Some(name.clone());
        doc.destination.domain = Some(name.clone());
    }
    let hash = |key: &str| match tls.get(key) {
        Some(Value::Object(fingerprint)) => fingerprint.str("hash").cloned(),
        _ => None,
    };
    ecs.ja3 = hash("ja3");
    ecs.ja3s = hash("ja3s");
    ecs.subject = tls.str("subject").cloned();
    ecs.issuer = tls.str("issuerdn").cloned();
    ecs.sha1 = tls
        .str("fingerprint")
        .filter(|f| !f.is_empty())
        .map(|f| f.replace(':', "").to_uppercase());
    ecs.serial_number = tls
        .str("serial")
        .filter(|s| !s.is_empty())
        .map(|s| s.replace(':', ""));
    // Suricata writes certificate validity in UTC without a zone.
    for key in ["notbefore", "notafter"] {
        let Some(text) = tls.str(key) else { continue };
        match clock.read(text, Naive::Utc) {
            Ok(reading) => {
                let field = if key == "notbefore" {
                    &mut ecs.not_before
                } else {
                    &mut ecs.not_after
                };
                *field = Some(reading.utc);
            }
            Err(ClockError::Value(_)) => {}
            Err(error) => return Err(clock_failure(error)),
        }
    }
    if let Some(Value::Bool(resumed)) = tls.get("session_resumed") {
        ecs.resumed = Some(*resumed);
    }
    if !ecs.is_empty() {
        doc.tls = Some(ecs);
    }
    let head = match &version {
        Some(version) if version.starts_with("TLS") || version.starts_with("SSL") => &**version,
        _ => "TLS",
    };
    Ok(Some(match sni.filter(|s| !s.is_empty()) {
        Some(sni) => format!("{head} {sni}"),
        None => head.to_string(),
    }))
}

/// The last path segment (`str.rsplit("/", 1)[-1]`).
fn basename<'a>(path: &Cow<'a, str>) -> Cow<'a, str> {
    sub(path, path.rsplit('/').next().unwrap_or(path))
}

fn fileinfo<'a>(doc: &mut Doc<'a>, info: &mut Object<'a>) -> Option<String> {
    let path = info.take_str("filename");
    let size = info.take_int("size");
    let file = File {
        name: path.as_ref().map(basename),
        path: path.clone(),
        size,
        md5: info.take_str("md5"),
        sha1: info.take_str("sha1"),
        sha256: info.take_str("sha256"),
    };
    if !file.is_empty() {
        doc.file = Some(file);
    }
    let summary = format!(
        "file {}",
        path.as_deref().filter(|p| !p.is_empty()).unwrap_or("?")
    );
    Some(match size {
        Some(size) => format!("{summary} ({size} bytes)"),
        None => summary,
    })
}

/// `_addresses`: bare addresses from `"Name" <a@b>` / `<a@b>` strings.
fn address_list(value: Option<&Value<'_>>) -> Vec<String> {
    let values = strings_of(value);
    let values: Vec<&str> = values.iter().map(|s| &***s).collect();
    addresses(&values)
}

fn email<'a>(doc: &mut Doc<'a>, email: &mut Object<'a>) -> Option<String> {
    let ecs = Email {
        from: address_list(email.get("from")),
        to: address_list(email.get("to")),
        cc: address_list(email.get("cc")),
        subject: email.str("subject").cloned(),
        attachments: strings_of(email.get("attachment"))
            .into_iter()
            .cloned()
            .collect(),
    };
    if !ecs.is_empty() {
        doc.email = Some(ecs);
    }
    None
}

fn joined_or_unknown(found: Vec<String>) -> String {
    let joined = found.join(", ");
    if joined.is_empty() {
        "?".into()
    } else {
        joined
    }
}

fn smtp(smtp: &Object<'_>) -> Option<String> {
    let sender = joined_or_unknown(address_list(smtp.get("mail_from")));
    let recipients = joined_or_unknown(address_list(smtp.get("rcpt_to")));
    Some(format!("SMTP mail from {sender} to {recipients}"))
}

fn non_empty<'v, 'a>(text: Option<&'v Cow<'a, str>>) -> Option<&'v Cow<'a, str>> {
    text.filter(|t| !t.is_empty())
}

fn ftp<'a>(doc: &mut Doc<'a>, ftp: &Object<'a>) -> Option<String> {
    let command = non_empty(ftp.str("command"));
    if let Some(command) = command {
        doc.event.action = Some(lower(command.clone()));
    }
    let mut parts = vec!["FTP", command.map_or("?", |c| &**c)];
    if let Some(data) = ftp.str("command_data") {
        parts.push(data);
    }
    let codes = strings_of(ftp.get("completion_code"));
    if let Some(code) = codes.last() {
        parts.push(code);
    }
    Some(parts.join(" "))
}

fn ftp_data<'a>(doc: &mut Doc<'a>, data: &Object<'a>) -> Option<String> {
    let name = data.str("filename");
    if let Some(name) = name {
        doc.file = Some(File {
            name: Some(basename(name)),
            path: Some(name.clone()),
            ..File::default()
        });
    }
    Some(format!(
        "FTP data {} {}",
        non_empty(data.str("command")).map_or("?", |c| &**c),
        name.map(|n| &**n).filter(|n| !n.is_empty()).unwrap_or("?")
    ))
}

fn dhcp<'a>(doc: &mut Doc<'a>, dhcp: &Object<'a>) -> Option<String> {
    let kind = non_empty(dhcp.str("dhcp_type"));
    if let Some(kind) = kind {
        doc.event.action = Some(kind.clone());
    }
    let mut parts = vec!["DHCP".to_string()];
    parts.push(
        kind.or_else(|| non_empty(dhcp.str("type")))
            .map_or("?", |k| &**k)
            .to_string(),
    );
    if let Some(assigned) = non_empty(dhcp.str("assigned_ip")).filter(|a| **a != "0.0.0.0") {
        parts.push(assigned.to_string());
    }
    if let Some(mac) = dhcp.str("client_mac") {
        parts.push(format!("for {mac}"));
    }
    Some(parts.join(" "))
}

fn ssh(ssh: &Object<'_>) -> Option<String> {
    let software = |key: &str| match ssh.get(key) {
        Some(Value::Object(side)) => non_empty(side.str("software_version"))
            .map_or("?", |s| &**s)
            .to_string(),
        _ => "?".to_string(),
    };
    Some(format!(
        "SSH {} -> {}",
        software("client"),
        software("server")
    ))
}

fn anomaly<'a>(doc: &mut Doc<'a>, anomaly: &Object<'a>) -> Option<String> {
    let name = non_empty(anomaly.str("event"));
    if let Some(name) = name {
        doc.event.action = Some(name.clone());
    }
    Some(format!(
        "anomaly {} {}",
        non_empty(anomaly.str("type")).map_or("?", |t| &**t),
        name.map_or("?", |n| &**n)
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::suricata::zone::Zone;

    fn document(line: &str) -> Result<String, Reason> {
        let data = std::fs::read("/usr/share/zoneinfo/Asia/Shanghai").unwrap_or_default();
        let Ok(zone) = Zone::from_tzif(&data) else {
            return Ok(String::new());
        };
        let mut clock = Clock::new(Arc::new(zone));
        let mut storage = String::new();
        let doc = normalise(&mut clock, load(line.as_bytes(), &mut storage)?)?;
        let mut out = String::new();
        doc.write(&mut out, None);
        Ok(out)
    }

    #[test]
    fn maps_a_flow_record() {
        let out = document(
            r#"{"timestamp":"2024-03-05T10:20:31.500000+0800","event_type":"flow","src_ip":"10.0.0.1","src_port":5000,"dest_ip":"2001:0db8::0001","dest_port":443,"proto":"TCP","app_proto":"tls","flow":{"bytes_toserver":10,"bytes_toclient":20,"start":"2024-03-05T10:18:01.250000+0800","end":"2024-03-05T10:18:04.750500+0800","state":"closed","reason":"timeout"},"tcp":{"syn":true}}"#,
        )
        .unwrap();
        for part in [
            r#""@timestamp":"2024-03-05T02:20:31.500000Z""#,
            r#""type":["connection","end"]"#,
            r#""duration":3500500000"#,
            r#""destination":{"ip":"2001:db8::1","port":443,"bytes":20}"#,
            r#""network":{"transport":"tcp","protocol":"tls","bytes":30}"#,
            r#""message":"flow tcp 10.0.0.1:5000 -> [2001:db8::1]:443 closed (timeout)""#,
            r#""suricata":{"eve":{"event_type":"flow","flow":{"state":"closed","reason":"timeout"},"tcp":{"syn":true}}}"#,
        ] {
            assert!(out.is_empty() || out.contains(part), "{part} not in {out}");
        }
    }

    #[test]
    fn rejects_with_the_reference_reasons() {
        assert_eq!(
            document(r#"{"event_type":"dns"}"#).unwrap_err(),
            "EVE record has no timestamp"
        );
        assert_eq!(
            document(r#"[1]"#).unwrap_err(),
            "EVE record must be a JSON object, got list"
        );
        assert_eq!(
            document(r#"{"timestamp":"2024-03-05T10:15:42+0800","event_type":7}"#).unwrap_err(),
            "EVE record has no event_type (got 7)"
        );
        assert!(document("{")
            .unwrap_err()
            .starts_with("malformed JSON: unexpected end of data"));
    }
}
