//! The native serial format (sections A..Z): `modsecurity.parse_serial` and its helpers.
use std::borrow::Cow;

use memchr::memmem;

use super::model::{parse_log_time, parse_message, Headers, Transaction};
use super::pystr::{self, Defer, Parsed};

/// `(boundary, letter)` of a line that is a section boundary (`--<boundary>-<A-Z>--`, then spaces,
/// tabs or CRs only: `_SECTION`).
fn boundary(line: &str) -> Option<(&str, u8)> {
    let rest = line.strip_prefix("--")?;
    let bytes = rest.as_bytes();
    let length = bytes.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    let after = bytes.get(length..length + 4)?;
    let fits = length > 0
        && after[0] == b'-'
        && after[1].is_ascii_uppercase()
        && &after[2..] == b"--"
        && bytes[length + 4..].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'));
    fits.then(|| (&rest[..length], after[1]))
}

/// `headers_from_lines` into the headers `to_doc` reads: the first of each name counts.
fn headers<'a>(lines: impl Iterator<Item = &'a str>, into: &mut Headers<'a>) {
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            into.offer(pystr::strip(name), Cow::Borrowed(pystr::strip(value)), false);
        }
    }
}

/// `section[1:].rstrip("\n").split("\n")`: the lines of a section's text.
fn section_lines(section: &str) -> impl Iterator<Item = &str> {
    pystr::lines(section[1..].trim_end_matches('\n'))
}

/// `parse_serial`: one transaction (its decoded text) → Transaction; Defer when the reference rejects it
/// or reads it in a way only it can.
pub fn parse_serial(text: &str) -> Parsed<Transaction<'_>> {
    // Each boundary line, and where its section's text (from the end of that line) starts.
    let mut marks: Vec<(&str, u8, usize, usize)> = Vec::with_capacity(12);
    let starts = text
        .starts_with("--")
        .then_some(0)
        .into_iter()
        .chain(memmem::find_iter(text.as_bytes(), b"\n--").map(|i| i + 1));
    for start in starts {
        let end = memchr::memchr(b'\n', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
        if let Some((name, letter)) = boundary(&text[start..end]) {
            marks.push((name, letter, start, end));
        }
    }
    match marks.first() {
        Some(&(_, b'A', 0, _)) => {}
        _ => return Err(Defer),
    }
    let name = marks[0].0;
    if marks.iter().any(|m| m.0 != name) || marks.last().map(|m| m.1) != Some(b'Z') {
        return Err(Defer);
    }
    let mut sections: [Option<&str>; 26] = [None; 26];
    for (i, &(_, letter, _, end)) in marks.iter().enumerate() {
        let stop = marks.get(i + 1).map_or(text.len(), |next| next.2 - 1);
        let slot = &mut sections[usize::from(letter - b'A')];
        if slot.is_none() {
            *slot = Some(&text[end..stop]);
        }
    }
    let section = |letter: u8| sections[usize::from(letter - b'A')];
    let mut tx = section_a(pystr::strip(section(b'A').unwrap_or_default()))?;
    if let Some(request) = section(b'B').filter(|s| !s.is_empty()) {
        let mut lines = section_lines(request);
        tx.apply_request_line(lines.next().unwrap_or_default().trim_end_matches('\r'));
        headers(lines, &mut tx.request);
    }
    let body = match section(b'C') {
        Some(c) if !c.is_empty() => Some(c),
        _ => section(b'I'),
    };
    if let Some(body) = body {
        let body = body.get(1..).unwrap_or_default().trim_end_matches('\n');
        tx.request_body_bytes = Some(body.len() as i64);
    }
    tx.apply_content_length()?;
    if let Some(response) = section(b'F').filter(|s| !s.is_empty()) {
        let mut lines = section_lines(response);
        if let Some(code) = lines.next().unwrap_or_default().splitn(3, ' ').nth(1) {
            if pystr::is_digits(code)? {
                tx.status = Some(pystr::digits_value(code)?);
            }
        }
        headers(lines, &mut tx.response);
    }
    if let Some(trailer) = section(b'H').filter(|s| !s.is_empty()) {
        section_h(&mut tx, trailer)?;
    }
    Ok(tx)
}

/// `_section_a`: `[22/Nov/2026:03:01:57.780932 +0000] <unique id> <client ip> <port> <server ip> <port>`.
fn section_a(line: &str) -> Parsed<Transaction<'_>> {
    let close = line.find(']').ok_or(Defer)?;
    if !line.starts_with('[') {
        return Err(Defer);
    }
    let mut fields = pystr::split(&line[close + 1..]);
    let unique_id = fields.next().ok_or(Defer)?;
    let mut tx = Transaction::new(parse_log_time(&line[1..close])?, Cow::Borrowed(unique_id));
    let rest = [(); 4].map(|()| fields.next());
    if let [Some(client), Some(client_port), Some(server), Some(server_port)] = rest {
        tx.client_ip = Some(Cow::Borrowed(client));
        tx.client_port = pystr::port_of_str(client_port)?;
        tx.server_ip = Some(Cow::Borrowed(server));
        tx.server_port = pystr::port_of_str(server_port)?;
    }
    Ok(tx)
}

/// `_section_h`: every `Message:` line, the last `Engine-Mode:` and `Producer:`, `Action: Intercepted`.
///
/// The reference finds them by string search (`split("\nMessage: ")`, `rfind`); as every pattern
/// starts with the newline, each is the start of a line, so one pass over the lines finds them all.
fn section_h<'a>(tx: &mut Transaction<'a>, trailer: &'a str) -> Parsed<()> {
    for line in pystr::lines(&trailer[1..]) {
        if let Some(message) = line.strip_prefix("Message: ") {
            tx.rules.push(parse_message(message)?);
        } else if let Some(mode) = line.strip_prefix("Engine-Mode: ") {
            tx.engine_mode = Some(Cow::Borrowed(pystr::strip(mode).trim_matches('"')));
        } else if let Some(producer) = line.strip_prefix("Producer: ") {
            tx.producer = Some(Cow::Borrowed(pystr::strip(producer)));
        } else if line.starts_with("Action: Intercepted") {
            tx.intercepted = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_whole_lines() {
        assert_eq!(boundary("--ab12-A--"), Some(("ab12", b'A')));
        assert_eq!(boundary("--ab12-Z-- \t\r"), Some(("ab12", b'Z')));
        assert_eq!(boundary("--ab12-a--"), None);
        assert_eq!(boundary("--ab12-A--x"), None);
        assert_eq!(boundary("---A--"), None);
    }

    #[test]
    fn a_transaction_reads_whole() {
        let text = "--x-A--\n[22/Nov/2026:03:06:33.889980 +0000] uid 10.0.0.1 5 10.0.0.2 80\n\
                    --x-B--\nPOST /a?b HTTP/1.1\nHost: h:80\nContent-Length: 7\n\n--x-C--\nabc\n\
                    --x-F--\nHTTP/1.1 403 Forbidden\n--x-H--\nMessage: w [file \"f\"] [id \"1\"]\n\
                    Action: Intercepted\n--x-Z--";
        let tx = parse_serial(text).unwrap();
        assert_eq!(tx.method.as_deref(), Some("POST"));
        assert_eq!(tx.request_body_bytes, Some(7));
        assert_eq!(tx.status, Some(403));
        assert!(tx.intercepted);
        assert_eq!(tx.rules[0].id.as_deref(), Some("1"));
        assert!(parse_serial("--x-A--\n[22/Nov/2026:03:06:33 +0000] u\n--x-B--").is_err());
    }
}
