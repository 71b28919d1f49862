//! IANA time zones as Python's `zoneinfo` answers `utcoffset` for a wall-clock time with fold=0: the
//! same TZif files (found on `zoneinfo.TZPATH`, else in the `tzdata` package), the same transition
//! lists and the same POSIX TZ rule past the last transition, so naive EVE times convert as they do in
//! the Python reference.
use super::isotime::{is_leap, ymd_to_ord, DateTime, EPOCH_ORDINAL};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Day {
    /// `Jn` (1-365, February 29 never counted) or `n` (0-365).
    Julian { day: i64, skip_leap: bool },
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Calendar { month: i32, week: i64, weekday: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Transition {
    day: Day,
    /// Seconds after midnight local time (may be negative or past 24h).
    time: i64,
}

/// Python's `_post_epoch_days_before_year`.
fn days_before_year(year: i32) -> i64 {
    let y = year as i64 - 1;
    y * 365 + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) - EPOCH_ORDINAL
}

impl Transition {
    /// `year_to_epoch`: the transition's local time in `year`, in seconds since 1970.
    fn local_epoch(&self, year: i32) -> i64 {
        let days = match self.day {
            Day::Julian { day, skip_leap } => {
                let day = if skip_leap && day >= 59 && is_leap(year) {
                    day + 1
                } else {
                    day
                };
                days_before_year(year) + day
            }
            Day::Calendar {
                month,
                week,
                weekday,
            } => {
                // calendar.monthrange: weekday of the 1st (Monday = 0) and the month's length.
                let first = (ymd_to_ord(year, month, 1) as i64 + 6) % 7;
                let length = super::isotime::days_in_month(year, month) as i64;
                let mut day = (weekday - (first + 1)).rem_euclid(7) + 1 + (week - 1) * 7;
                if day > length {
                    day -= 7;
                }
                let before_month =
                    ymd_to_ord(year, month, 1) as i64 - ymd_to_ord(year, 1, 1) as i64;
                days_before_year(year) + before_month + day
            }
        };
        days * 86_400 + self.time
    }
}

#[derive(Clone, Debug, PartialEq)]
enum After {
    Fixed(i64),
    Rule {
        std: i64,
        dst: i64,
        start: Transition,
        end: Transition,
    },
}

/// A loaded zone: UTC offsets in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Transition times in local wall-clock seconds for fold=0 (the later of the two readings).
    local_transitions: Vec<i64>,
    /// The offset in force from each transition on.
    offsets: Vec<i64>,
    before: i64,
    after: After,
}

struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| "truncated TZif data".to_string())?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
}

struct Header {
    version: u8,
    counts: [usize; 6], // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
}

fn header(bytes: &mut Bytes<'_>) -> Result<Header, String> {
    let head = bytes.take(20)?;
    if &head[..4] != b"TZif" {
        return Err("not a TZif file".into());
    }
    let version = match head[4] {
        0 => 1,
        b'2'..=b'9' => head[4] - b'0',
        other => other,
    };
    let mut counts = [0usize; 6];
    for count in counts.iter_mut() {
        *count = bytes.u32()? as usize;
    }
    Ok(Header { version, counts })
}

impl Zone {
    /// Load a TZif file (`_common.load_data` and `ZoneInfo._load_file`).
    pub fn from_tzif(data: &[u8]) -> Result<Zone, String> {
        let mut bytes = Bytes { data, pos: 0 };
        let mut head = header(&mut bytes)?;
        let mut time_size = 4;
        if head.version >= 2 {
            let [isut, isstd, leap, time, types, chars] = head.counts;
            bytes.take(time * 5 + types * 6 + chars + leap * 8 + isstd + isut)?;
            head = header(&mut bytes)?;
            time_size = 8;
        }
        let [isut, isstd, leap, timecnt, typecnt, charcnt] = head.counts;
        let mut transitions = Vec::with_capacity(timecnt);
        for _ in 0..timecnt {
            let raw = bytes.take(time_size)?;
            transitions.push(if time_size == 8 {
                i64::from_be_bytes(raw.try_into().unwrap_or_default())
            } else {
                i32::from_be_bytes(raw.try_into().unwrap_or_default()) as i64
            });
        }
        let indices: Vec<usize> = bytes.take(timecnt)?.iter().map(|&i| i as usize).collect();
        let mut utcoff = Vec::with_capacity(typecnt);
        let mut isdst = Vec::with_capacity(typecnt);
        for _ in 0..typecnt {
            let record = bytes.take(6)?;
            utcoff.push(i32::from_be_bytes([record[0], record[1], record[2], record[3]]) as i64);
            isdst.push(record[4] != 0);
        }
        if indices.iter().any(|&i| i >= typecnt) {
            return Err("TZif transition names an unknown type".into());
        }
        bytes.take(charcnt)?;
        let mut footer = String::new();
        if head.version >= 2 {
            bytes.take(isut + isstd + leap * 12)?;
            if bytes.take(1)? != b"\n" {
                return Err("TZif footer missing".into());
            }
            let rest = &data[bytes.pos..];
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or("TZif footer unterminated")?;
            footer = String::from_utf8_lossy(&rest[..end]).into_owned();
        }

        // _ts_to_local, fold=0 list: each transition at the larger of the offsets around it.
        let mut local_transitions = transitions.clone();
        if let Some(first) = local_transitions.first_mut() {
            let around = if utcoff.len() > 1 {
                utcoff[0].max(utcoff[indices[0]])
            } else {
                utcoff[0]
            };
            *first += around;
        }
        for i in 1..local_transitions.len() {
            local_transitions[i] += utcoff[indices[i - 1]].max(utcoff[indices[i]]);
        }
        let offsets: Vec<i64> = indices.iter().map(|&i| utcoff[i]).collect();
        let before = match isdst.iter().position(|dst| !dst) {
            Some(i) => utcoff[i],
            None => offsets.first().copied().unwrap_or(0),
        };
        let after = if !footer.is_empty() {
            parse_tz_string(&footer)?
        } else if let Some(&last) = offsets.last() {
            After::Fixed(last)
        } else if let Some(&last) = utcoff.last() {
            After::Fixed(last)
        } else {
            return Err("No time zone information found.".into());
        };
        Ok(Zone {
            local_transitions,
            offsets,
            before,
            after,
        })
    }

    /// `ZoneInfo.utcoffset(dt)` in seconds for a wall-clock time with fold=0.
    pub fn utcoffset(&self, time: &DateTime) -> i64 {
        let ts = time.local_timestamp();
        let list = &self.local_transitions;
        match (list.first(), list.last()) {
            (Some(&first), _) if ts < first => self.before,
            (Some(_), Some(&last)) if ts <= last => {
                let idx = list.partition_point(|&t| t <= ts) - 1;
                self.offsets[idx]
            }
            _ => match &self.after {
                After::Fixed(offset) => *offset,
                After::Rule {
                    std,
                    dst,
                    start,
                    end,
                } => {
                    let diff = dst - std;
                    let (mut start, mut end) =
                        (start.local_epoch(time.year), end.local_epoch(time.year));
                    // fold=0: `fold == (dst_diff >= 0)` holds when DST is negative.
                    if diff < 0 {
                        end -= diff;
                    } else {
                        start += diff;
                    }
                    let in_dst = if start < end {
                        start <= ts && ts < end
                    } else {
                        !(end <= ts && ts < start)
                    };
                    if in_dst {
                        *dst
                    } else {
                        *std
                    }
                }
            },
        }
    }
}

/// `[+-]hh[:mm[:ss]]` at the start of `text`: POSIX seconds west negated (+5 is UTC-5), and its length.
fn tz_delta(text: &str) -> Option<(i64, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let number = |i: &mut usize, max: usize| -> Option<i64> {
        let start = *i;
        while *i < bytes.len() && *i - start < max && bytes[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start {
            return None;
        }
        text[start..*i].parse().ok()
    };
    let hours = number(&mut i, 2)?;
    let (mut minutes, mut seconds) = (0, 0);
    if bytes.get(i) == Some(&b':')
        && bytes
            .get(i + 1..i + 3)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    {
        i += 1;
        minutes = number(&mut i, 2)?;
        if bytes.get(i) == Some(&b':')
            && bytes
                .get(i + 1..i + 3)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        {
            i += 1;
            seconds = number(&mut i, 2)?;
        }
    }
    let total = hours * 3600 + minutes * 60 + seconds;
    Some((if negative { total } else { -total }, i))
}

/// A zone abbreviation: `<...>` or a run of characters other than digits, `:`, `.`, `+`, `-`.
fn abbreviation(text: &str, allow_angle: bool) -> Option<usize> {
    if let Some(rest) = text.strip_prefix('<') {
        let close = rest.find('>')?;
        let inner = &rest[..close];
        let valid = !inner.is_empty()
            && inner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-');
        return valid.then_some(close + 2);
    }
    let end = text
        .find(|c: char| c.is_ascii_digit() || ":.+-".contains(c) || (!allow_angle && c == '<'))
        .unwrap_or(text.len());
    (end > 0).then_some(end)
}

fn transition(text: &str) -> Result<Transition, String> {
    let (date, time) = match text.split_once('/') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let bad = || format!("Invalid dst start/end date: {text}");
    let day = if let Some(rule) = date.strip_prefix('M') {
        let parts: Vec<&str> = rule.splitn(3, '.').collect();
        let [month, week, weekday] = parts[..] else {
            return Err(bad());
        };
        Day::Calendar {
            month: month.parse().map_err(|_| bad())?,
            week: week.parse().map_err(|_| bad())?,
            weekday: weekday.parse().map_err(|_| bad())?,
        }
    } else if let Some(day) = date.strip_prefix('J') {
        Day::Julian {
            day: day.parse().map_err(|_| bad())?,
            skip_leap: true,
        }
    } else {
        Day::Julian {
            day: date.parse().map_err(|_| bad())?,
            skip_leap: false,
        }
    };
    let mut parts = [2i64, 0, 0];
    if let Some(time) = time {
        parts = [0, 0, 0];
        for (slot, piece) in parts.iter_mut().zip(time.split(':')) {
            *slot = piece.parse().map_err(|_| bad())?;
        }
    }
    Ok(Transition {
        day,
        time: parts[0] * 3600 + parts[1] * 60 + parts[2],
    })
}

/// `_parse_tz_str`: `std offset [dst [offset] ,start[/time],end[/time]]`.
fn parse_tz_string(text: &str) -> Result<After, String> {
    let invalid = || format!("{text} is not a valid TZ string");
    let (head, rules) = match text.split_once(',') {
        Some((head, rules)) => (head, Some(rules)),
        None => (text, None),
    };
    let std_len = abbreviation(head, false).ok_or_else(invalid)?;
    let mut rest = &head[std_len..];
    let mut std = 0;
    let mut dst = None;
    if !rest.is_empty() {
        let (offset, used) = tz_delta(rest).ok_or_else(invalid)?;
        std = offset;
        rest = &rest[used..];
        if !rest.is_empty() {
            let dst_len = abbreviation(rest, true).ok_or_else(invalid)?;
            rest = &rest[dst_len..];
            let mut dst_offset = std + 3600;
            if !rest.is_empty() {
                let (offset, used) = tz_delta(rest).ok_or_else(invalid)?;
                dst_offset = offset;
                rest = &rest[used..];
            }
            if !rest.is_empty() {
                return Err(invalid());
            }
            dst = Some(dst_offset);
        }
    }
    match (dst, rules) {
        (None, None) => Ok(After::Fixed(std)),
        (None, Some(_)) => Err(format!("Transition rule present without DST: {text}")),
        (Some(_), None) => Err(format!("Missing transition rules: {text}")),
        (Some(dst), Some(rules)) => {
            let (start, end) = rules
                .split_once(',')
                .ok_or_else(|| format!("Invalid TZ string: {text}"))?;
            Ok(After::Rule {
                std,
                dst,
                start: transition(start)?,
                end: transition(end)?,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suricata::isotime::fromisoformat;

    fn offset(zone: &Zone, text: &str) -> i64 {
        zone.utcoffset(&fromisoformat(text).unwrap())
    }

    #[test]
    fn new_york_follows_its_rules_past_the_table() {
        let Ok(data) = std::fs::read("/usr/share/zoneinfo/America/New_York") else {
            return;
        };
        let zone = Zone::from_tzif(&data).unwrap();
        assert_eq!(offset(&zone, "2024-01-15T12:00:00"), -5 * 3600);
        assert_eq!(offset(&zone, "2024-07-15T12:00:00"), -4 * 3600);
        assert_eq!(offset(&zone, "2090-07-15T12:00:00"), -4 * 3600);
        assert_eq!(offset(&zone, "2024-03-10T02:30:00"), -5 * 3600); // in the gap: the offset before
        assert_eq!(offset(&zone, "2024-11-03T01:30:00"), -4 * 3600); // in the fold: the first reading
    }

    #[test]
    fn tz_strings() {
        assert_eq!(parse_tz_string("CST-8"), Ok(After::Fixed(8 * 3600)));
        assert_eq!(
            parse_tz_string("<+0530>-5:30"),
            Ok(After::Fixed(5 * 3600 + 1800))
        );
        let After::Rule {
            std, dst, start, ..
        } = parse_tz_string("EST5EDT,M3.2.0,M11.1.0").unwrap()
        else {
            panic!("rule")
        };
        assert_eq!((std, dst, start.time), (-5 * 3600, -4 * 3600, 7200));
    }
}
