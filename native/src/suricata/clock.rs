//! The Python reference's `_Clock`: ISO 8601 → ECS UTC timestamps, remembering the UTC minute of each
//! (minute, offset) seen so that most events cost a lookup. The caches are kept exactly as the reference
//! keeps them (same keys, same limit, same clearing), because for exotic offsets with seconds the
//! remembered minute decides the answer and the port must give the same one.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::isotime::{
    format_offset, format_utc, fromisoformat, DateTime, Overflow, MICROS_PER_SECOND,
};
use super::zone::Zone;

const CACHE_LIMIT: usize = 8192;

/// FNV-1a: the cache keys are short and not chosen by an adversary who gains from collisions.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

type Cache<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;

/// `a + b + c` in one allocation.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Which zone a time without an offset is read in.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Naive {
    /// The configured zone (`SourceOptions.timezone`).
    Configured,
    /// UTC (certificate validity dates).
    Utc,
}

/// Why a time could not be read: Python's `ValueError` (message) or `OverflowError`.
#[derive(Debug, PartialEq)]
pub enum ClockError {
    Value(String),
    Overflow,
}

impl From<Overflow> for ClockError {
    fn from(_: Overflow) -> Self {
        ClockError::Overflow
    }
}

/// A point in time as the reference's aware `datetime`, for durations.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    local: i64,
    offset: i64,
    /// Read in the configured zone: two such datetimes share their tzinfo, so Python subtracts their
    /// wall-clock times.
    zoned: bool,
}

impl Moment {
    /// `later - earlier` in microseconds, as Python's datetime subtraction computes it.
    pub fn micros_since(&self, earlier: &Moment) -> i64 {
        if self.zoned && earlier.zoned {
            self.local - earlier.local
        } else {
            (self.local - self.offset) - (earlier.local - earlier.offset)
        }
    }
}

/// A read time: `@timestamp`-style UTC text, `event.timezone`, and the moment.
pub struct Reading {
    pub utc: String,
    pub zone: Option<String>,
    pub moment: Moment,
}

/// Python string indexing (by code point) over a `str`, without copying ASCII text.
struct PyText<'t> {
    text: &'t str,
    /// Byte offset of each character and of the end, for non-ASCII text.
    offsets: Option<Vec<usize>>,
}

impl<'t> PyText<'t> {
    fn new(text: &'t str) -> Self {
        let offsets = (!text.is_ascii()).then(|| {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        });
        PyText { text, offsets }
    }

    fn len(&self) -> usize {
        self.offsets
            .as_ref()
            .map_or(self.text.len(), |o| o.len() - 1)
    }

    fn byte(&self, index: usize) -> usize {
        let index = index.min(self.len());
        self.offsets.as_ref().map_or(index, |o| o[index])
    }

    /// `text[start:end]`.
    fn slice(&self, start: usize, end: usize) -> &'t str {
        let (start, end) = (self.byte(start), self.byte(end));
        if start >= end {
            ""
        } else {
            &self.text[start..end]
        }
    }

    fn from(&self, start: usize) -> &'t str {
        self.slice(start, self.len())
    }

    fn at(&self, index: usize) -> Option<char> {
        self.slice(index, index + 1).chars().next()
    }
}

struct Minute {
    offset_text: String,
    utc_minute: String,
    zone: Option<String>,
}

pub struct Clock {
    zone: Arc<Zone>,
    /// `YYYY-MM-DDTHH:MM` → (offset `+hhmm`, UTC minute, `event.timezone`) of times with an offset.
    minutes: Cache<Minute>,
    /// Per naive zone: `YYYY-MM-DDTHH:MM` → (UTC minute, `event.timezone`).
    naive_minutes: [Option<Cache<(String, String)>>; 2],
}

fn utc_text(time: &DateTime, offset: i64) -> Result<String, Overflow> {
    format_utc(time.local_micros() - offset)
}

fn first_16(text: &str) -> &str {
    PyText::new(text).slice(0, 16)
}

impl Clock {
    pub fn new(zone: Arc<Zone>) -> Self {
        Clock {
            zone,
            minutes: Cache::default(),
            naive_minutes: [None, None],
        }
    }

    /// `_Clock.read`: `(@timestamp, event.timezone, moment)` of an ISO 8601 time.
    pub fn read(&mut self, text: &str, naive: Naive) -> Result<Reading, ClockError> {
        let time = fromisoformat(text).map_err(ClockError::Value)?;
        let py = PyText::new(text);
        if let Some(known) = self.minutes.get(py.slice(0, 16)) {
            if py.from(26) == known.offset_text && py.at(19) == Some('.') {
                return Ok(Reading {
                    utc: concat(&[&known.utc_minute, py.slice(16, 26), "Z"]),
                    zone: known.zone.clone(),
                    moment: aware(&time),
                });
            }
        }
        self.convert(&py, &time, naive)
    }

    /// `_Clock._convert`: a minute not seen yet, a time without a zone, or another layout.
    fn convert(
        &mut self,
        py: &PyText<'_>,
        time: &DateTime,
        naive: Naive,
    ) -> Result<Reading, ClockError> {
        let size = py.len();
        if size == 31
            && py.at(19) == Some('.')
            && matches!(py.at(26), Some('+' | '-'))
            && py.at(16) == Some(':')
        {
            if self.minutes.len() >= CACHE_LIMIT {
                self.minutes.clear();
            }
            let offset = time.offset.unwrap_or(0);
            let minute = Minute {
                offset_text: py.from(26).to_string(),
                utc_minute: first_16(&utc_text(time, offset)?).to_string(),
                zone: time.offset.map(format_offset),
            };
            let reading = Reading {
                utc: concat(&[&minute.utc_minute, py.slice(16, 26), "Z"]),
                zone: minute.zone.clone(),
                moment: aware(time),
            };
            self.minutes.insert(py.slice(0, 16).to_string(), minute);
            return Ok(reading);
        }
        if let Some(offset) = time.offset {
            return Ok(Reading {
                utc: utc_text(time, offset)?,
                zone: Some(format_offset(offset)),
                moment: aware(time),
            });
        }
        let offset = match naive {
            Naive::Configured => self.zone.utcoffset(time) * MICROS_PER_SECOND,
            Naive::Utc => 0,
        };
        let moment = Moment {
            local: time.local_micros(),
            offset,
            zoned: naive == Naive::Configured,
        };
        if py.slice(16, 17) != ":" || !(size == 19 || (size == 26 && py.at(19) == Some('.'))) {
            return Ok(Reading {
                utc: utc_text(time, offset)?,
                zone: Some(format_offset(offset)),
                moment,
            });
        }
        let slot = &mut self.naive_minutes[naive as usize];
        if slot.as_ref().is_none_or(|cache| cache.len() >= CACHE_LIMIT) {
            *slot = Some(Cache::default());
        }
        let cache = slot.get_or_insert_with(Cache::default);
        let key = py.slice(0, 16);
        if !cache.contains_key(key) {
            let minute = (
                first_16(&utc_text(time, offset)?).to_string(),
                format_offset(offset),
            );
            cache.insert(key.to_string(), minute);
        }
        let (utc_minute, zone) = &cache[key];
        let seconds = py.from(16);
        let fraction = if size == 26 { "" } else { ".000000" };
        Ok(Reading {
            utc: concat(&[utc_minute, seconds, fraction, "Z"]),
            zone: Some(zone.clone()),
            moment,
        })
    }
}

fn aware(time: &DateTime) -> Moment {
    Moment {
        local: time.local_micros(),
        offset: time.offset.unwrap_or(0),
        zoned: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TZif v1 file for UTC, so tests run without the system zone files.
    fn utc_tzif() -> Vec<u8> {
        let mut data = b"TZif".to_vec();
        data.extend([0u8; 16]);
        for count in [0u32, 0, 0, 0, 1, 4] {
            data.extend(count.to_be_bytes());
        }
        data.extend([0u8; 6]);
        data.extend(b"UTC\0");
        data
    }

    fn clock() -> Clock {
        let data =
            std::fs::read("/usr/share/zoneinfo/Asia/Shanghai").unwrap_or_else(|_| utc_tzif());
        Clock::new(Arc::new(Zone::from_tzif(&data).unwrap()))
    }

    #[test]
    fn reads_and_remembers_minutes() {
        let mut clock = clock();
        for _ in 0..2 {
            let reading = clock
                .read("2024-03-05T10:23:01.000100+0800", Naive::Configured)
                .unwrap();
            assert_eq!(reading.utc, "2024-03-05T02:23:01.000100Z");
            assert_eq!(reading.zone.as_deref(), Some("+08:00"));
        }
        let other = clock
            .read("2024-03-05T10:23:30.500000-0530", Naive::Configured)
            .unwrap();
        assert_eq!(other.utc, "2024-03-05T15:53:30.500000Z");
        assert!(matches!(
            clock.read("2024-03-05T10:23:60.000000+0800", Naive::Configured),
            Err(ClockError::Value(_))
        ));
        let cert = clock.read("2024-01-01T00:00:00", Naive::Utc).unwrap();
        assert_eq!(
            (cert.utc.as_str(), cert.zone.as_deref()),
            ("2024-01-01T00:00:00.000000Z", Some("+00:00"))
        );
        assert_eq!(
            clock.read("0001-01-01T00:00:00+01:00", Naive::Utc).err(),
            Some(ClockError::Overflow)
        );
    }
}
