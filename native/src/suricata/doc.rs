//! The ECS document of one EVE record as a fixed shape rather than a tree of maps: the fields the
//! reference can set, each an `Option` (or list) that is written only when set, so building a document
//! costs a handful of allocations instead of one per object. `suricata.eve` stays a generic `Object`.
//! Key order differs from the reference's dicts in places; documents are compared as dicts.
use std::borrow::Cow;

use super::escape::write_dense;
use super::json::{write_object, Object};
use crate::jsonw::{special, write_str};

pub type Text<'a> = Cow<'a, str>;

#[derive(Default)]
pub struct Event<'a> {
    pub kind: &'static str,
    pub timezone: Option<String>,
    /// None for metrics, which have no category.
    pub category: Option<&'static [&'static str]>,
    pub types: &'static [&'static str],
    pub severity: Option<i128>,
    pub outcome: Option<&'static str>,
    pub action: Option<Text<'a>>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub duration: Option<i128>,
    pub dataset: Option<&'static str>,
}

#[derive(Default)]
pub struct Endpoint<'a> {
    pub ip: Option<Text<'a>>,
    pub port: Option<i128>,
    pub bytes: Option<i128>,
    pub packets: Option<i128>,
    pub domain: Option<Text<'a>>,
}

#[derive(Default)]
pub struct Network<'a> {
    pub transport: Option<Text<'a>>,
    pub protocol: Option<Text<'a>>,
    pub community_id: Option<Text<'a>>,
    pub bytes: Option<i128>,
    pub packets: Option<i128>,
}

#[derive(Default)]
pub struct Rule<'a> {
    pub id: Option<String>,
    pub name: Option<Text<'a>>,
    pub category: Option<Text<'a>>,
}

#[derive(Default)]
pub struct Http<'a> {
    pub method: Option<Text<'a>>,
    pub referrer: Option<Text<'a>>,
    pub status_code: Option<i128>,
    pub body_bytes: Option<i128>,
    pub version: Option<Text<'a>>,
}

#[derive(Default)]
pub struct Url<'a> {
    pub domain: Option<Text<'a>>,
    pub port: Option<i128>,
    pub original: Option<Text<'a>>,
    pub path: Option<Text<'a>>,
    pub query: Option<Text<'a>>,
    pub fragment: Option<Text<'a>>,
}

#[derive(Default, Clone)]
pub struct Answer<'a> {
    pub name: Option<Text<'a>>,
    pub kind: Option<Text<'a>>,
    pub data: Option<Text<'a>>,
    pub ttl: Option<i128>,
}

#[derive(Default)]
pub struct Dns<'a> {
    pub kind: Option<&'static str>,
    pub id: Option<String>,
    pub response_code: Option<Text<'a>>,
    /// `dns.question`: (name, type), written when either is set.
    pub question: (Option<Text<'a>>, Option<Text<'a>>),
    pub answers: Vec<Answer<'a>>,
    pub resolved_ip: Vec<Text<'a>>,
    pub header_flags: Vec<&'static str>,
}

#[derive(Default)]
pub struct Tls<'a> {
    pub version_protocol: Option<Text<'a>>,
    pub version: Option<Text<'a>>,
    pub resumed: Option<bool>,
    pub server_name: Option<Text<'a>>,
    pub ja3: Option<Text<'a>>,
    pub ja3s: Option<Text<'a>>,
    pub subject: Option<Text<'a>>,
    pub issuer: Option<Text<'a>>,
    pub sha1: Option<String>,
    pub serial_number: Option<String>,
    pub not_before: Option<String>,
    pub not_after: Option<String>,
}

#[derive(Default)]
pub struct File<'a> {
    pub path: Option<Text<'a>>,
    pub name: Option<Text<'a>>,
    pub size: Option<i128>,
    pub md5: Option<Text<'a>>,
    pub sha1: Option<Text<'a>>,
    pub sha256: Option<Text<'a>>,
}

#[derive(Default)]
pub struct Email<'a> {
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<Text<'a>>,
    pub attachments: Vec<Text<'a>>,
}

/// One ECS document. Optional parts are present in the output when they hold something.
#[derive(Default)]
pub struct Doc<'a> {
    pub timestamp: String,
    pub event: Event<'a>,
    pub source: Endpoint<'a>,
    pub destination: Endpoint<'a>,
    pub related_ip: Vec<Text<'a>>,
    pub network: Network<'a>,
    pub rule: Option<Rule<'a>>,
    pub http: Option<Http<'a>>,
    pub url: Option<Url<'a>>,
    pub user_agent: Option<Text<'a>>,
    pub dns: Option<Dns<'a>>,
    pub tls: Option<Tls<'a>>,
    pub file: Option<File<'a>>,
    pub email: Option<Email<'a>>,
    pub message: String,
    pub eve: Object<'a>,
}

/// What the pipeline adds (`Stamper.event`): all JSON-ready except where noted.
pub struct Stamp<'s> {
    pub id: &'s str,
    pub dataset: &'s str,
    pub original: Option<&'s str>,
    pub label: &'s str,
    pub offset: u64,
    pub observer: &'s str,
}

// --- writing --------------------------------------------------------------------------------------------

/// A member's key as written after another member: `,"name":` (the comma is dropped for the first).
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// Writes one JSON object member by member.
struct Members<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut String) -> Self {
        out.push('{');
        Members { out, empty: true }
    }

    /// `key` as made by `key!`.
    fn key(&mut self, key: &str) {
        self.out.push_str(if self.empty { &key[1..] } else { key });
        self.empty = false;
    }

    fn text(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    /// Text that is JSON-ready when borrowed (see `Value::Str`).
    fn cow(&mut self, key: &str, value: &Text<'_>) {
        self.key(key);
        write_cow(self.out, value);
    }

    fn opt(&mut self, key: &str, value: &Option<Text<'_>>) {
        if let Some(value) = value {
            self.cow(key, value);
        }
    }

    fn opt_string(&mut self, key: &str, value: &Option<String>) {
        if let Some(value) = value {
            self.text(key, value);
        }
    }

    fn literal(&mut self, key: &str, value: &str) {
        self.key(key);
        self.out.push('"');
        self.out.push_str(value);
        self.out.push('"');
    }

    fn int(&mut self, key: &str, value: i128) {
        self.key(key);
        super::json::write_int(self.out, value);
    }

    fn opt_int(&mut self, key: &str, value: Option<i128>) {
        if let Some(value) = value {
            self.int(key, value);
        }
    }

    fn literals(&mut self, key: &str, values: &[&str]) {
        self.key(key);
        self.out.push('[');
        for (n, value) in values.iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            self.out.push('"');
            self.out.push_str(value);
            self.out.push('"');
        }
        self.out.push(']');
    }

    fn cows(&mut self, key: &str, values: &[Text<'_>]) {
        self.key(key);
        self.out.push('[');
        for (n, value) in values.iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            write_cow(self.out, value);
        }
        self.out.push(']');
    }

    fn strings(&mut self, key: &str, values: &[String]) {
        self.key(key);
        self.out.push('[');
        for (n, value) in values.iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            write_str(self.out, value);
        }
        self.out.push(']');
    }

    fn object(&mut self, key: &str) -> Members<'_> {
        self.key(key);
        Members::open(self.out)
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn write_cow(out: &mut String, value: &Text<'_>) {
    match value {
        Cow::Borrowed(text) => {
            debug_assert_eq!(
                special(text.as_bytes(), 0),
                text.len(),
                "borrowed text needs escaping"
            );
            out.push('"');
            out.push_str(text);
            out.push('"');
        }
        Cow::Owned(text) => write_str(out, text),
    }
}

impl Endpoint<'_> {
    fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.port.is_none()
            && self.bytes.is_none()
            && self.packets.is_none()
            && self.domain.is_none()
    }

    fn write(&self, m: &mut Members<'_>, key: &str) {
        if self.is_empty() {
            return;
        }
        let mut o = m.object(key);
        o.opt(key!("ip"), &self.ip);
        o.opt_int(key!("port"), self.port);
        o.opt_int(key!("bytes"), self.bytes);
        o.opt_int(key!("packets"), self.packets);
        o.opt(key!("domain"), &self.domain);
        o.close();
    }
}

impl Http<'_> {
    pub fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.referrer.is_none()
            && self.status_code.is_none()
            && self.body_bytes.is_none()
            && self.version.is_none()
    }
}

impl Url<'_> {
    pub fn is_empty(&self) -> bool {
        self.domain.is_none() && self.port.is_none() && self.original.is_none()
    }
}

impl Dns<'_> {
    pub fn is_empty(&self) -> bool {
        self.kind.is_none()
            && self.id.is_none()
            && self.response_code.is_none()
            && self.question.0.is_none()
            && self.question.1.is_none()
            && self.answers.is_empty()
            && self.header_flags.is_empty()
    }
}

impl Tls<'_> {
    fn has_client(&self) -> bool {
        self.server_name.is_some() || self.ja3.is_some()
    }

    fn has_server(&self) -> bool {
        self.ja3s.is_some()
            || self.subject.is_some()
            || self.issuer.is_some()
            || self.sha1.is_some()
            || self.serial_number.is_some()
            || self.not_before.is_some()
            || self.not_after.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.version.is_none() && self.resumed.is_none() && !self.has_client() && !self.has_server()
    }
}

impl File<'_> {
    pub fn is_empty(&self) -> bool {
        self.path.is_none()
            && self.size.is_none()
            && self.md5.is_none()
            && self.sha1.is_none()
            && self.sha256.is_none()
    }
}

impl Email<'_> {
    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
            && self.to.is_empty()
            && self.cc.is_empty()
            && self.subject.is_none()
            && self.attachments.is_empty()
    }
}

impl Doc<'_> {
    /// The document as JSON, with the pipeline's fields when `stamp` is given.
    pub fn write(&self, out: &mut String, stamp: Option<&Stamp<'_>>) {
        let mut m = Members::open(out);
        m.text(key!("@timestamp"), &self.timestamp);
        self.write_event(&mut m, stamp);
        self.source.write(&mut m, key!("source"));
        self.destination.write(&mut m, key!("destination"));
        if !self.related_ip.is_empty() {
            let mut o = m.object(key!("related"));
            o.cows(key!("ip"), &self.related_ip);
            o.close();
        }
        let network = &self.network;
        if network.transport.is_some()
            || network.protocol.is_some()
            || network.community_id.is_some()
            || network.bytes.is_some()
            || network.packets.is_some()
        {
            let mut o = m.object(key!("network"));
            o.opt(key!("transport"), &network.transport);
            o.opt(key!("protocol"), &network.protocol);
            o.opt(key!("community_id"), &network.community_id);
            o.opt_int(key!("bytes"), network.bytes);
            o.opt_int(key!("packets"), network.packets);
            o.close();
        }
        if let Some(rule) = &self.rule {
            let mut o = m.object(key!("rule"));
            o.opt_string(key!("id"), &rule.id);
            o.opt(key!("name"), &rule.name);
            o.opt(key!("category"), &rule.category);
            o.close();
        }
        if let Some(http) = &self.http {
            let mut o = m.object(key!("http"));
            if http.method.is_some() || http.referrer.is_some() {
                let mut request = o.object(key!("request"));
                request.opt(key!("method"), &http.method);
                request.opt(key!("referrer"), &http.referrer);
                request.close();
            }
            if http.status_code.is_some() || http.body_bytes.is_some() {
                let mut response = o.object(key!("response"));
                response.opt_int(key!("status_code"), http.status_code);
                if let Some(bytes) = http.body_bytes {
                    let mut body = response.object(key!("body"));
                    body.int(key!("bytes"), bytes);
                    body.close();
                }
                response.close();
            }
            o.opt(key!("version"), &http.version);
            o.close();
        }
        if let Some(url) = &self.url {
            let mut o = m.object(key!("url"));
            o.opt(key!("domain"), &url.domain);
            o.opt_int(key!("port"), url.port);
            o.opt(key!("original"), &url.original);
            o.opt(key!("path"), &url.path);
            o.opt(key!("query"), &url.query);
            o.opt(key!("fragment"), &url.fragment);
            o.close();
        }
        if let Some(agent) = &self.user_agent {
            let mut o = m.object(key!("user_agent"));
            o.cow(key!("original"), agent);
            o.close();
        }
        if let Some(dns) = &self.dns {
            write_dns(&mut m, dns);
        }
        if let Some(tls) = &self.tls {
            write_tls(&mut m, tls);
        }
        if let Some(file) = &self.file {
            let mut o = m.object(key!("file"));
            o.opt(key!("path"), &file.path);
            o.opt(key!("name"), &file.name);
            o.opt_int(key!("size"), file.size);
            if file.md5.is_some() || file.sha1.is_some() || file.sha256.is_some() {
                let mut hash = o.object(key!("hash"));
                hash.opt(key!("md5"), &file.md5);
                hash.opt(key!("sha1"), &file.sha1);
                hash.opt(key!("sha256"), &file.sha256);
                hash.close();
            }
            o.close();
        }
        if let Some(email) = &self.email {
            let mut o = m.object(key!("email"));
            for (key, addresses) in [
                (key!("from"), &email.from),
                (key!("to"), &email.to),
                (key!("cc"), &email.cc),
            ] {
                if !addresses.is_empty() {
                    let mut part = o.object(key);
                    part.strings(key!("address"), addresses);
                    part.close();
                }
            }
            o.opt(key!("subject"), &email.subject);
            if !email.attachments.is_empty() {
                o.key(key!("attachments"));
                o.out.push('[');
                for (n, name) in email.attachments.iter().enumerate() {
                    if n > 0 {
                        o.out.push(',');
                    }
                    o.out.push_str("{\"file\":{\"name\":");
                    write_cow(o.out, name);
                    o.out.push_str("}}");
                }
                o.out.push(']');
            }
            o.close();
        }
        m.text(key!("message"), &self.message);
        let mut suricata = m.object(key!("suricata"));
        suricata.key(key!("eve"));
        write_object(suricata.out, &self.eve);
        suricata.close();
        if let Some(stamp) = stamp {
            let mut log = m.object(key!("log"));
            let mut file = log.object(key!("file"));
            file.text(key!("path"), stamp.label);
            file.close();
            log.int(key!("offset"), stamp.offset as i128);
            log.close();
            let mut observer = m.object(key!("observer"));
            observer.text(key!("hostname"), stamp.observer);
            observer.close();
        }
        m.close();
    }

    fn write_event(&self, m: &mut Members<'_>, stamp: Option<&Stamp<'_>>) {
        let event = &self.event;
        let mut o = m.object(key!("event"));
        o.literal(key!("kind"), event.kind);
        o.opt_string(key!("timezone"), &event.timezone);
        if let Some(category) = event.category {
            o.literals(key!("category"), category);
        }
        o.literals(key!("type"), event.types);
        o.opt_int(key!("severity"), event.severity);
        if let Some(outcome) = event.outcome {
            o.literal(key!("outcome"), outcome);
        }
        o.opt(key!("action"), &event.action);
        o.opt_string(key!("start"), &event.start);
        o.opt_string(key!("end"), &event.end);
        o.opt_int(key!("duration"), event.duration);
        if let Some(dataset) = event.dataset {
            o.literal(key!("dataset"), dataset);
        }
        if let Some(stamp) = stamp {
            o.text(key!("id"), stamp.id);
            if event.dataset.is_none() {
                o.text(key!("dataset"), stamp.dataset);
            }
            if let Some(original) = stamp.original {
                o.key(key!("original"));
                write_dense(o.out, original);
            }
        }
        o.close();
    }
}

fn write_dns(m: &mut Members<'_>, dns: &Dns<'_>) {
    let mut o = m.object(key!("dns"));
    if let Some(kind) = dns.kind {
        o.literal(key!("type"), kind);
    }
    o.opt_string(key!("id"), &dns.id);
    o.opt(key!("response_code"), &dns.response_code);
    if dns.question.0.is_some() || dns.question.1.is_some() {
        let mut question = o.object(key!("question"));
        question.opt(key!("name"), &dns.question.0);
        question.opt(key!("type"), &dns.question.1);
        question.close();
    }
    if !dns.answers.is_empty() {
        o.key(key!("answers"));
        o.out.push('[');
        for (n, answer) in dns.answers.iter().enumerate() {
            if n > 0 {
                o.out.push(',');
            }
            let mut a = Members::open(o.out);
            a.opt(key!("name"), &answer.name);
            a.opt(key!("type"), &answer.kind);
            a.opt(key!("data"), &answer.data);
            a.opt_int(key!("ttl"), answer.ttl);
            a.close();
        }
        o.out.push(']');
    }
    if !dns.resolved_ip.is_empty() {
        o.cows(key!("resolved_ip"), &dns.resolved_ip);
    }
    if !dns.header_flags.is_empty() {
        o.literals(key!("header_flags"), &dns.header_flags);
    }
    o.close();
}

fn write_tls(m: &mut Members<'_>, tls: &Tls<'_>) {
    let mut o = m.object(key!("tls"));
    o.opt(key!("version_protocol"), &tls.version_protocol);
    o.opt(key!("version"), &tls.version);
    if let Some(resumed) = tls.resumed {
        o.key(key!("resumed"));
        o.out.push_str(if resumed { "true" } else { "false" });
    }
    if tls.has_client() {
        let mut client = o.object(key!("client"));
        client.opt(key!("server_name"), &tls.server_name);
        client.opt(key!("ja3"), &tls.ja3);
        client.close();
    }
    if tls.has_server() {
        let mut server = o.object(key!("server"));
        server.opt(key!("ja3s"), &tls.ja3s);
        server.opt(key!("subject"), &tls.subject);
        server.opt(key!("issuer"), &tls.issuer);
        if let Some(sha1) = &tls.sha1 {
            let mut hash = server.object(key!("hash"));
            hash.text(key!("sha1"), sha1);
            hash.close();
        }
        if let Some(serial) = &tls.serial_number {
            let mut x509 = server.object(key!("x509"));
            x509.text(key!("serial_number"), serial);
            x509.close();
        }
        server.opt_string(key!("not_before"), &tls.not_before);
        server.opt_string(key!("not_after"), &tls.not_after);
        server.close();
    }
    o.close();
}
