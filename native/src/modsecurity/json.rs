//! The JSON audit logs, ModSecurity 2.9 and libmodsecurity 3: `modsecurity_json.parse_json`. A value of
//! a type the reference would convert with `str()` (Python's repr of numbers, lists, booleans) where
//! the document shows it is left to the reference.
use std::borrow::Cow;

use serde_json::{Map, Value};

use super::model::{
    month_number, parse_log_time, parse_message, severity_name, valid_civil, Headers, Moment, Rule,
    Text, Transaction,
};
use super::pystr::{self, Defer, Parsed};

/// libmodsecurity 3 writes local time without an offset: the configured zone gives it.
pub trait LocalZone {
    /// Seconds east of UTC that the zone applies to this wall-clock time (fold 0, as `zoneinfo`).
    fn utcoffset(&mut self, local: &Moment) -> Parsed<i64>;
}

type Obj = Map<String, Value>;

/// `_obj`: an object, or None for a missing or null value; anything else is the reference's to reject.
fn obj(value: Option<&Value>) -> Parsed<Option<&Obj>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(Defer),
    }
}

fn get<'v>(map: Option<&'v Obj>, key: &str) -> Option<&'v Value> {
    map.and_then(|m| m.get(key))
}

/// `_str`.
fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

fn borrowed(value: Option<&Value>) -> Option<Text<'_>> {
    text(value).map(Cow::Borrowed)
}

/// `port`: `int(value)` in 0..=65535, else None.
fn port(value: Option<&Value>) -> Parsed<Option<u16>> {
    Ok(match value {
        Some(Value::Bool(b)) => Some(u16::from(*b)),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => u16::try_from(i).ok(),
            (None, Some(_)) => None,
            _ => return Err(Defer), // a float: Python truncates, or raises for infinity
        },
        Some(Value::String(s)) => pystr::port_of_str(s)?,
        _ => None,
    })
}

/// `isinstance(value, int)` (booleans are ints to Python, and print as True: left to it).
fn int(value: Option<&Value>) -> Parsed<Option<i64>> {
    match value {
        Some(Value::Bool(_)) => Err(Defer),
        Some(Value::Number(n)) if !n.is_f64() => n.as_i64().map(Some).ok_or(Defer),
        _ => Ok(None),
    }
}

/// `_headers`: lower-cased names, the last of a name counts.
fn headers<'v>(value: Option<&'v Value>, into: &mut Headers<'v>) -> Parsed<()> {
    for (name, value) in obj(value)?.into_iter().flatten() {
        match value {
            Value::String(s) => into.offer(name, Cow::Borrowed(s), true),
            _ if into.reads(name) => return Err(Defer),
            _ => {}
        }
    }
    Ok(())
}

/// `[str(x) for x in list]` for a list of strings.
fn strings(items: &[Value]) -> Parsed<Vec<&str>> {
    items.iter().map(|v| v.as_str().ok_or(Defer)).collect()
}

/// `parse_json`: one JSON audit record → Transaction.
pub fn parse_json<'v>(record: &'v Value, zone: &mut dyn LocalZone) -> Parsed<Transaction<'v>> {
    let Some(tx) = record.get("transaction").and_then(Value::as_object) else {
        return Err(Defer);
    };
    if tx.contains_key("transaction_id") || record.get("audit_data").is_some() {
        return v2(record, tx);
    }
    if tx.contains_key("unique_id") || tx.contains_key("messages") || tx.contains_key("time_stamp") {
        return v3(tx, zone);
    }
    Err(Defer)
}

fn v2<'v>(record: &'v Value, tx: &'v Obj) -> Parsed<Transaction<'v>> {
    let time = text(tx.get("time")).filter(|t| !t.is_empty()).ok_or(Defer)?;
    let unique_id = text(tx.get("transaction_id")).filter(|t| !t.is_empty()).ok_or(Defer)?;
    let mut out = Transaction::new(parse_log_time(time)?, Cow::Borrowed(unique_id));
    out.client_ip = borrowed(tx.get("remote_address"));
    out.client_port = port(tx.get("remote_port"))?;
    out.server_ip = borrowed(tx.get("local_address"));
    out.server_port = port(tx.get("local_port"))?;
    let request = obj(record.get("request"))?;
    if let Some(line) = text(get(request, "request_line")).filter(|l| !l.is_empty()) {
        out.apply_request_line(line);
    }
    headers(get(request, "headers"), &mut out.request)?;
    if let Some(Value::Array(body)) = get(request, "body") {
        if !body.is_empty() {
            out.request_body_bytes = Some(strings(body)?.iter().map(|s| s.len() as i64).sum());
        }
    }
    out.apply_content_length()?;
    let response = obj(record.get("response"))?;
    out.status = int(get(response, "status"))?;
    headers(get(response, "headers"), &mut out.response)?;
    let audit = obj(record.get("audit_data"))?;
    if let Some(Value::Array(messages)) = get(audit, "messages") {
        out.rules = strings(messages)?
            .into_iter()
            .map(parse_message)
            .collect::<Parsed<_>>()?;
    }
    let action = obj(get(audit, "action"))?;
    out.intercepted = matches!(get(action, "intercepted"), Some(Value::Bool(true)));
    out.engine_mode = borrowed(get(audit, "engine_mode"));
    if let Some(Value::Array(producer)) = get(audit, "producer") {
        out.producer = Some(Cow::Owned(strings(producer)?.join("; ")));
    }
    Ok(out)
}

/// `datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y")` for the form libmodsecurity writes
/// (`Sun Nov 22 11:06:35 2026`); other spellings strptime takes are the reference's.
fn ctime(stamp: &str) -> Parsed<Moment> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let b = stamp.as_bytes();
    let shaped = b.len() == 24
        && [3, 7, 10, 19].iter().all(|&i| b[i] == b' ')
        && b[13] == b':'
        && b[16] == b':'
        && [8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23]
            .iter()
            .all(|&i| b[i].is_ascii_digit());
    if !shaped || !DAYS.contains(&&stamp[..3]) {
        return Err(Defer);
    }
    let month = month_number(&stamp[4..7]).ok_or(Defer)?;
    let num = |range: std::ops::Range<usize>| stamp[range].parse::<i64>().map_err(|_| Defer);
    let (day, hour, minute, second, year) = (num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?, num(20..24)?);
    if !valid_civil(year, month, day, hour, minute, second) {
        return Err(Defer);
    }
    Ok(Moment {
        year: year as i32,
        month,
        day: day as u32,
        hour: hour as u32,
        minute: minute as u32,
        second: second as u32,
        micro: 0,
        offset: 0,
    })
}

/// `str(version)` of a number as Python prints it, where Rust prints it the same way.
fn number_text(n: &serde_json::Number) -> Parsed<String> {
    if let Some(i) = n.as_i64() {
        return Ok(i.to_string());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.to_string());
    }
    let f = n.as_f64().ok_or(Defer)?;
    let shown = format!("{f:?}");
    let digits = shown.bytes().filter(u8::is_ascii_digit).count();
    // Python's repr switches to exponents outside [1e-4, 1e16); beyond 15 digits serde_json may
    // have rounded the literal differently from orjson.
    if (f == 0.0 || (1e-4..1e16).contains(&f.abs())) && digits <= 15 {
        Ok(shown)
    } else {
        Err(Defer)
    }
}

fn v3<'v>(tx: &'v Obj, zone: &mut dyn LocalZone) -> Parsed<Transaction<'v>> {
    let stamp = text(tx.get("time_stamp")).filter(|t| !t.is_empty()).ok_or(Defer)?;
    let unique_id = text(tx.get("unique_id")).filter(|t| !t.is_empty()).ok_or(Defer)?;
    let mut moment = ctime(stamp)?;
    moment.offset = zone.utcoffset(&moment)?;
    let mut out = Transaction::new(moment, Cow::Borrowed(unique_id));
    out.client_ip = borrowed(tx.get("client_ip"));
    out.client_port = port(tx.get("client_port"))?;
    out.server_ip = borrowed(tx.get("host_ip"));
    out.server_port = port(tx.get("host_port"))?;
    let request = obj(tx.get("request"))?;
    out.method = borrowed(get(request, "method"));
    out.uri = borrowed(get(request, "uri"));
    out.http_version = match get(request, "http_version") {
        Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
        Some(Value::Number(n)) => Some(Cow::Owned(number_text(n)?)),
        _ => None,
    };
    headers(get(request, "headers"), &mut out.request)?;
    if let Some(body) = text(get(request, "body")).filter(|b| !b.is_empty()) {
        out.request_body_bytes = Some(body.len() as i64);
    }
    out.apply_content_length()?;
    let response = obj(tx.get("response"))?;
    out.status = int(get(response, "http_code"))?;
    headers(get(response, "headers"), &mut out.response)?;
    if let Some(Value::Array(messages)) = tx.get("messages") {
        for message in messages {
            if let Value::Object(message) = message {
                out.rules.push(v3_message(message)?);
            }
        }
    }
    let producer = obj(tx.get("producer"))?;
    let engine = text(get(producer, "secrules_engine"));
    out.engine_mode = engine.map(Cow::Borrowed);
    out.producer = borrowed(get(producer, "modsecurity"));
    out.intercepted =
        engine == Some("Enabled") && !out.rules.is_empty() && out.status.is_some_and(|s| s >= 400);
    Ok(out)
}

fn v3_message(message: &Obj) -> Parsed<Rule<'_>> {
    let details = obj(message.get("details"))?;
    let tags = match get(details, "tags") {
        Some(Value::Array(tags)) => strings(tags)?.into_iter().map(Cow::Borrowed).collect(),
        _ => Vec::new(),
    };
    let line = match get(details, "lineNumber") {
        Some(Value::String(s)) if pystr::is_digits(s)? => Some(pystr::digits_value(s)?),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) if i >= 0 => Some(i),
            (None, Some(_)) => return Err(Defer),
            _ => None,
        },
        _ => None,
    };
    let severity = match get(details, "severity") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => severity_name(s)?,
        Some(Value::Number(n)) if !n.is_f64() => severity_name(&number_text(n)?)?,
        Some(_) => return Err(Defer),
    };
    let non_empty = |key: &str| text(get(details, key)).filter(|s| !s.is_empty()).map(Cow::Borrowed);
    Ok(Rule {
        id: borrowed(get(details, "ruleId")),
        message: borrowed(message.get("message")),
        severity,
        data: non_empty("data"),
        tags,
        file: borrowed(get(details, "file")),
        line,
        version: non_empty("ver"),
    })
}
