//! Records grouped into events by `msg=audit(time:serial)` and `node=` (the port of Python's
//! `AuditFramer`): user-space messages are events of one record, PROCTITLE and EOE end kernel events,
//! and events without an end close by age (`max_age` seconds behind the newest record) or when more than
//! `window` are open. The EOE after an event's PROCTITLE carries nothing and is dropped.
use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::tables::tables;

/// The lines of one event: where its first line starts, and the lines joined with `\n`.
pub struct Frame<'b> {
    pub offset: u64,
    pub raw: Cow<'b, [u8]>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Ordinary,
    Single,
    End,
    EndOfEvent,
}

/// FxHash: the keys are short and not chosen by an adversary who gains anything by colliding them.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
}

type FxBuild = BuildHasherDefault<Fx>;
type Key = Box<[u8]>;

struct Open {
    key: Key,
    offset: u64,
    seconds: u128,
    raw: Vec<u8>,
}

/// The open events in the order they opened (Python's insertion-ordered dict): removal anywhere, the
/// oldest first.
#[derive(Default)]
struct OpenEvents {
    slots: VecDeque<Option<Open>>,
    first_seq: u64,
    index: HashMap<Key, u64, FxBuild>,
}

impl OpenEvents {
    fn len(&self) -> usize {
        self.index.len()
    }

    fn first(&self) -> Option<&Open> {
        self.slots.front().and_then(Option::as_ref)
    }

    fn get_mut(&mut self, key: &[u8]) -> Option<&mut Open> {
        let seq = *self.index.get(key)?;
        self.slots[(seq - self.first_seq) as usize].as_mut()
    }

    fn insert(&mut self, open: Open) {
        let seq = self.first_seq + self.slots.len() as u64;
        self.index.insert(open.key.clone(), seq);
        self.slots.push_back(Some(open));
    }

    fn remove(&mut self, key: &[u8]) -> Option<Open> {
        let seq = self.index.remove(key)?;
        let open = self.slots[(seq - self.first_seq) as usize].take();
        self.tidy();
        open
    }

    fn pop_first(&mut self) -> Option<Open> {
        let open = self.slots.pop_front()??;
        self.first_seq += 1;
        self.index.remove(&open.key);
        self.tidy();
        Some(open)
    }

    /// Drop the closed slots at the front, and compact when most slots are closed ones.
    fn tidy(&mut self) {
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.first_seq += 1;
        }
        if self.slots.len() > 64 && self.slots.len() > 4 * self.len() {
            let live: Vec<Open> = self.slots.drain(..).flatten().collect();
            self.index.clear();
            for open in live {
                self.insert(open);
            }
        }
    }

    fn drain(&mut self) -> Vec<Open> {
        self.index.clear();
        self.slots.drain(..).flatten().collect()
    }
}

/// Recently ended events (to drop their trailing EOE), the oldest forgotten first.
#[derive(Default)]
struct Closed {
    keys: HashSet<Key, FxBuild>,
    order: VecDeque<Key>,
}

pub struct Framer {
    window: usize,
    max_age: u128,
    open: OpenEvents,
    closed: Closed,
    newest: u128,
    key: Vec<u8>,
}

struct Header<'l> {
    node: Option<&'l [u8]>,
    typ: &'l [u8],
    stamp: &'l [u8],
    seconds: &'l [u8],
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r')
}

/// `(?:node=(\S+) )?type=(\S+) msg=(audit\((\d+)\.\d+:\d+\))` (bytes, ASCII classes) at `at` of `s`.
fn header_at(s: &[u8], at: usize) -> Option<Header<'_>> {
    let token = |from: usize| {
        from + s[from..]
            .iter()
            .position(|&b| is_space(b))
            .unwrap_or(s.len() - from)
    };
    let mut at = at;
    let mut node = None;
    if s[at..].starts_with(b"node=") {
        let end = token(at + 5);
        if end == at + 5 || s.get(end) != Some(&b' ') {
            return None;
        }
        node = Some(&s[at + 5..end]);
        at = end + 1;
    }
    if !s[at..].starts_with(b"type=") {
        return None;
    }
    let type_end = token(at + 5);
    if type_end == at + 5 || !s[type_end..].starts_with(b" msg=audit(") {
        return None;
    }
    let stamp_start = type_end + " msg=".len();
    let mut k = stamp_start + "audit(".len();
    let mut spans = [(0, 0); 3];
    for (span, close) in spans.iter_mut().zip([b'.', b':', b')']) {
        let start = k;
        while k < s.len() && s[k].is_ascii_digit() {
            k += 1;
        }
        if k == start || s.get(k) != Some(&close) {
            return None;
        }
        *span = (start, k);
        k += 1;
    }
    let (seconds_start, seconds_end) = spans[0];
    Some(Header {
        node,
        typ: &s[at + 5..type_end],
        stamp: &s[stamp_start..k],
        seconds: &s[seconds_start..seconds_end],
    })
}

/// `_HEADER.match(line) or _HEADER.search(line, 0, 200)`.
fn find_header(line: &[u8]) -> Option<Header<'_>> {
    if let Some(found) = header_at(line, 0) {
        return Some(found);
    }
    let head = &line[..line.len().min(200)];
    memchr::memchr2_iter(b'n', b't', head)
        .skip_while(|&p| p == 0)
        .find_map(|p| header_at(head, p))
}

fn class_of(typ: &[u8]) -> Class {
    let t = tables();
    match t.number_of_ascii(typ) {
        None => Class::Ordinary,
        Some(n) if (t.first_user_msg..t.first_event).contains(&n) || n >= t.first_user_msg2 => {
            Class::Single
        }
        Some(n) if n == t.eoe => Class::EndOfEvent,
        Some(n) if n == t.proctitle => Class::End,
        Some(_) => Class::Ordinary,
    }
}

fn frame(open: Open) -> Frame<'static> {
    Frame {
        offset: open.offset,
        raw: Cow::Owned(open.raw),
    }
}

impl Framer {
    pub fn new(window: usize, max_age: u128) -> Self {
        Framer {
            window,
            max_age,
            open: OpenEvents::default(),
            closed: Closed::default(),
            newest: 0,
            key: Vec::new(),
        }
    }

    /// Push one line (without its newline) that starts at `offset`, appending the frames it completes.
    pub fn take<'b>(&mut self, offset: u64, line: &'b [u8], done: &mut Vec<Frame<'b>>) {
        let end = line.iter().rposition(|&b| b != b'\r').map_or(0, |p| p + 1);
        let line = &line[..end];
        if line.iter().all(|&b| is_space(b)) {
            return;
        }
        let Some(header) = find_header(line) else {
            done.push(Frame {
                offset,
                raw: Cow::Borrowed(line),
            });
            return;
        };
        let kind = class_of(header.typ);
        let seconds = header.seconds.iter().fold(0u128, |n, &b| {
            n.saturating_mul(10).saturating_add(u128::from(b - b'0'))
        });
        self.newest = self.newest.max(seconds);
        self.expire(done);
        self.key.clear();
        if let Some(node) = header.node {
            self.key.extend_from_slice(node);
            self.key.push(b' ');
        }
        self.key.extend_from_slice(header.stamp);
        match self.open.get_mut(&self.key) {
            Some(current) => {
                current.raw.push(b'\n');
                current.raw.extend_from_slice(line);
            }
            None => {
                if kind == Class::Single {
                    done.push(Frame {
                        offset,
                        raw: Cow::Borrowed(line),
                    });
                    return;
                }
                if kind == Class::EndOfEvent && self.closed.keys.contains(self.key.as_slice()) {
                    return;
                }
                let key: Key = self.key.as_slice().into();
                self.open.insert(Open {
                    key,
                    offset,
                    seconds,
                    raw: line.to_vec(),
                });
            }
        }
        if kind >= Class::End {
            let open = self.open.remove(&self.key).expect("the event just joined");
            let key = open.key.clone();
            done.push(frame(open));
            if self.closed.keys.insert(key.clone()) {
                self.closed.order.push_back(key);
                if self.closed.order.len() > 4 * self.window {
                    let oldest = self.closed.order.pop_front().expect("a closed key");
                    self.closed.keys.remove(&oldest);
                }
            }
        } else if self.open.len() > self.window {
            done.extend(self.open.pop_first().map(frame));
        }
    }

    /// Close the events the log has moved `max_age` seconds past.
    fn expire(&mut self, done: &mut Vec<Frame<'_>>) {
        while let Some(first) = self.open.first() {
            if first.seconds.saturating_add(self.max_age) >= self.newest {
                break;
            }
            done.extend(self.open.pop_first().map(frame));
        }
    }

    /// End of input: every open event, oldest first.
    pub fn finish(&mut self) -> Vec<Frame<'static>> {
        self.open.drain().into_iter().map(frame).collect()
    }

    pub fn pending_offset(&self) -> Option<u64> {
        self.open
            .slots
            .iter()
            .flatten()
            .map(|open| open.offset)
            .min()
    }
}
