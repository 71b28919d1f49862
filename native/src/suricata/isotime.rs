//! `datetime.fromisoformat` as CPython 3.11's C implementation reads it (every layout it accepts, the
//! same `ValueError` texts), and the UTC / zone formatting of `secops.events.format_ts` /
//! `format_offset`. Times are microsecond counts so that arithmetic is exact.
use super::pyrepr::str_repr;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Ordinal of 1970-01-01 (0001-01-01 is 1).
pub const EPOCH_ORDINAL: i64 = 719_163;
/// Ordinal of 9999-12-31, the last day a datetime can hold.
const MAX_ORDINAL: i64 = 3_652_059;

/// A parsed time: wall-clock fields and, when the text had one, its UTC offset in microseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DateTime {
    pub year: i32,
    pub month: i32,
    pub day: i32,
    pub hour: i32,
    pub minute: i32,
    pub second: i32,
    pub micro: i32,
    pub offset: Option<i64>,
}

impl DateTime {
    /// Microseconds since 0001-01-01T00:00 of the wall-clock time (offset ignored).
    pub fn local_micros(&self) -> i64 {
        let days = ymd_to_ord(self.year, self.month, self.day) as i64 - 1;
        days * MICROS_PER_DAY
            + (self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64)
                * MICROS_PER_SECOND
            + self.micro as i64
    }

    /// zoneinfo's "local timestamp": wall-clock seconds since 1970-01-01, microseconds dropped.
    pub fn local_timestamp(&self) -> i64 {
        (ymd_to_ord(self.year, self.month, self.day) as i64 - EPOCH_ORDINAL) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }
}

// --- calendar (C integer semantics, as _datetimemodule.c computes) --------------------------------------

const DAYS_IN_MONTH: [i32; 13] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAYS_BEFORE_MONTH: [i32; 13] = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

pub fn is_leap(year: i32) -> bool {
    let y = year as u32;
    y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400))
}

pub fn days_in_month(year: i32, month: i32) -> i32 {
    if month == 2 && is_leap(year) {
        29
    } else {
        DAYS_IN_MONTH[month as usize]
    }
}

fn days_before_month(year: i32, month: i32) -> i32 {
    DAYS_BEFORE_MONTH[month as usize] + i32::from(month > 2 && is_leap(year))
}

fn days_before_year(year: i32) -> i32 {
    let y = year - 1;
    y * 365 + y / 4 - y / 100 + y / 400
}

pub fn ymd_to_ord(year: i32, month: i32, day: i32) -> i32 {
    days_before_year(year) + days_before_month(year, month) + day
}

/// Ordinal (0001-01-01 is 1) to (year, month, day).
pub fn ord_to_ymd(ordinal: i32) -> (i32, i32, i32) {
    let ordinal = ordinal - 1;
    let n400 = ordinal / 146_097;
    let mut n = ordinal % 146_097;
    let mut year = n400 * 400 + 1;
    let n100 = n / 36_524;
    n %= 36_524;
    let n4 = n / 1461;
    n %= 1461;
    let n1 = n / 365;
    n %= 365;
    year += n100 * 100 + n4 * 4 + n1;
    if n1 == 4 || n100 == 4 {
        return (year - 1, 12, 31);
    }
    let leap = n1 == 3 && (n4 != 24 || n100 == 3);
    let mut month = (n + 50) >> 5;
    if !(1..=12).contains(&month) {
        // Only ordinals before 0001-01-01 (week dates of year 0) get here; C reads outside its tables
        // and what comes out is a month datetime refuses, whatever the day.
        return (year, month, 0);
    }
    let mut preceding = DAYS_BEFORE_MONTH[month as usize] + i32::from(month > 2 && leap);
    if preceding > n {
        month -= 1;
        preceding -= days_in_month(year, month);
    }
    (year, month, n - preceding + 1)
}

fn weekday(year: i32, month: i32, day: i32) -> i32 {
    (ymd_to_ord(year, month, day) + 6) % 7
}

fn iso_week1_monday(year: i32) -> i32 {
    let first_day = ymd_to_ord(year, 1, 1);
    let first_weekday = (first_day + 6) % 7;
    let monday = first_day - first_weekday;
    if first_weekday > 3 {
        monday + 7
    } else {
        monday
    }
}

fn iso_to_ymd(iso_year: i32, iso_week: i32, iso_day: i32) -> Result<(i32, i32, i32), i32> {
    if iso_week <= 0 || iso_week >= 53 {
        let mut out_of_range = true;
        if iso_week == 53 {
            let first_weekday = weekday(iso_year, 1, 1);
            if first_weekday == 3 || (first_weekday == 2 && is_leap(iso_year)) {
                out_of_range = false;
            }
        }
        if out_of_range {
            return Err(-2);
        }
    }
    if iso_day <= 0 || iso_day >= 8 {
        return Err(-3);
    }
    let day_1 = iso_week1_monday(iso_year);
    Ok(ord_to_ymd(day_1 + (iso_week - 1) * 7 + iso_day - 1))
}

// --- fromisoformat ------------------------------------------------------------------------------------

/// The NUL-terminated byte view the C parser walks: 0 past the end.
struct Text<'a>(&'a [u8]);

impl Text<'_> {
    fn at(&self, i: usize) -> u8 {
        self.0.get(i).copied().unwrap_or(0)
    }

    /// `n` digits at `p` into `value`; the position after them, None at a non-digit.
    fn digits(&self, mut p: usize, value: &mut i32, n: usize) -> Option<usize> {
        for _ in 0..n {
            let digit = self.at(p).wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            *value = *value * 10 + digit as i32;
            p += 1;
        }
        Some(p)
    }
}

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

fn find_separator(t: &Text<'_>, len: usize) -> isize {
    if len == 7 {
        return 7;
    }
    if t.at(4) == b'-' {
        if t.at(5) == b'W' {
            if len < 8 {
                return -1;
            }
            if len > 8 && t.at(8) == b'-' {
                if len == 9 {
                    return -1;
                }
                if len > 10 && is_digit(t.at(10)) {
                    return 8;
                }
                return 10;
            }
            return 8;
        }
        return 10;
    }
    if t.at(4) == b'W' {
        let mut idx = 7;
        while idx < len && is_digit(t.at(idx)) {
            idx += 1;
        }
        if idx < 9 {
            return idx as isize;
        }
        return if idx % 2 == 0 { 7 } else { 8 };
    }
    8
}

fn parse_date(t: &Text<'_>, len: usize) -> Result<(i32, i32, i32), i32> {
    let (mut year, mut month, mut day) = (0, 0, 0);
    let mut p = t.digits(0, &mut year, 4).ok_or(-1)?;
    let separated = t.at(p) == b'-';
    if separated {
        p += 1;
    }
    if t.at(p) == b'W' {
        p += 1;
        let (mut week, mut weekday) = (0, 0);
        p = t.digits(p, &mut week, 2).ok_or(-3)?;
        if p < len {
            if separated {
                let c = t.at(p);
                p += 1;
                if c != b'-' {
                    return Err(-2);
                }
            }
            t.digits(p, &mut weekday, 1).ok_or(-4)?;
        } else {
            weekday = 1;
        }
        return iso_to_ymd(year, week, weekday).map_err(|rv| -3 + rv);
    }
    p = t.digits(p, &mut month, 2).ok_or(-1)?;
    if separated {
        let c = t.at(p);
        p += 1;
        if c != b'-' {
            return Err(-2);
        }
    }
    t.digits(p, &mut day, 2).ok_or(-1)?;
    Ok((year, month, day))
}

/// `HH[:?MM[:?SS[{.,}ffffff]]]` between `start` and `end`: 0 at the end of the text, 1 when more follows.
fn parse_hms(t: &Text<'_>, start: usize, end: usize) -> Result<(i32, [i32; 4]), i32> {
    let mut values = [0i32; 4];
    let mut p = start;
    let mut separated = true;
    for i in 0..3 {
        p = t.digits(p, &mut values[i], 2).ok_or(-3)?;
        let c = t.at(p);
        p += 1;
        if i == 0 {
            separated = c == b':';
        }
        if p >= end {
            return Ok((i32::from(c != 0), values));
        } else if separated && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !separated {
            p -= 1;
        } else {
            return Err(-4);
        }
    }
    let remains = end.saturating_sub(p);
    let count = remains.min(6);
    p = t.digits(p, &mut values[3], count).ok_or(-3)?;
    const CORRECTION: [i32; 5] = [100_000, 10_000, 1000, 100, 10];
    if (1..6).contains(&count) {
        values[3] *= CORRECTION[count - 1];
    }
    while is_digit(t.at(p)) {
        p += 1;
    }
    Ok((i32::from(t.at(p) != 0), values))
}

/// The time part from `start` (`len` bytes): its fields and the offset (seconds, microseconds).
#[allow(clippy::type_complexity)]
fn parse_time(
    t: &Text<'_>,
    start: usize,
    len: usize,
) -> Result<([i32; 4], Option<(i64, i64)>), i32> {
    let end = start + len;
    let mut tz = start;
    loop {
        if matches!(t.at(tz), b'Z' | b'+' | b'-') {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let (rv, fields) = parse_hms(t, start, tz)?;
    if tz == end {
        return if rv == 1 { Err(-5) } else { Ok((fields, None)) };
    }
    if t.at(tz) == b'Z' {
        return if t.at(tz + 1) != 0 {
            Err(-5)
        } else {
            Ok((fields, Some((0, 0))))
        };
    }
    let sign: i64 = if t.at(tz) == b'-' { -1 } else { 1 };
    let (rv, zone) = match parse_hms(t, tz + 1, end) {
        Ok(parsed) => parsed,
        Err(_) => return Err(-5),
    };
    if rv != 0 {
        return Err(-5);
    }
    let seconds = sign * (zone[0] as i64 * 3600 + zone[1] as i64 * 60 + zone[2] as i64);
    Ok((fields, Some((seconds, sign * zone[3] as i64))))
}

/// `repr(timedelta)` of a microsecond count, as the offset error quotes it.
fn timedelta_repr(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rest = micros.rem_euclid(MICROS_PER_DAY);
    let (seconds, micro) = (rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND);
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if seconds != 0 {
        parts.push(format!("seconds={seconds}"));
    }
    if micro != 0 {
        parts.push(format!("microseconds={micro}"));
    }
    if parts.is_empty() {
        parts.push("0".into());
    }
    format!("datetime.timedelta({})", parts.join(", "))
}

/// `datetime.fromisoformat(text)`; the `ValueError` message on failure.
pub fn fromisoformat(text: &str) -> Result<DateTime, String> {
    let invalid = || format!("Invalid isoformat string: {}", str_repr(text));
    if text.chars().count() < 7 {
        return Err(invalid());
    }
    let t = Text(text.as_bytes());
    let len = text.len();
    let separator = find_separator(&t, len);
    // A separator of -1 (an impossible week date) makes the C code see a huge date length.
    let date_len = if separator < 0 {
        usize::MAX
    } else {
        separator as usize
    };
    let (year, month, day) = parse_date(&t, date_len).map_err(|_| invalid())?;
    let mut fields = [0; 4];
    let mut zone = None;
    if separator >= 0 && len > separator as usize {
        let mut p = separator as usize;
        let lead = t.at(p);
        p += if lead & 0x80 == 0 {
            1
        } else {
            match lead & 0xF0 {
                0xE0 => 3,
                0xF0 => 4,
                _ => 2,
            }
        };
        (fields, zone) = parse_time(&t, p, len.saturating_sub(p)).map_err(|_| invalid())?;
    }
    let offset = match zone {
        None => None,
        Some((0, _)) => Some(0),
        Some((seconds, micros)) => {
            let offset = seconds * MICROS_PER_SECOND + micros;
            if offset <= -MICROS_PER_DAY || offset >= MICROS_PER_DAY {
                return Err(format!(
                    "offset must be a timedelta strictly between -timedelta(hours=24) and \
                     timedelta(hours=24), not {}.",
                    timedelta_repr(offset)
                ));
            }
            Some(offset)
        }
    };
    let [hour, minute, second, micro] = fields;
    if !(1..=9999).contains(&year) {
        return Err(format!("year {year} is out of range"));
    }
    if !(1..=12).contains(&month) {
        return Err("month must be in 1..12".into());
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day is out of range for month".into());
    }
    if !(0..=23).contains(&hour) {
        return Err("hour must be in 0..23".into());
    }
    if !(0..=59).contains(&minute) {
        return Err("minute must be in 0..59".into());
    }
    if !(0..=59).contains(&second) {
        return Err("second must be in 0..59".into());
    }
    if !(0..=999_999).contains(&micro) {
        return Err("microsecond must be in 0..999999".into());
    }
    Ok(DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
        micro,
        offset,
    })
}

// --- formatting ---------------------------------------------------------------------------------------

/// `datetime + timedelta` left the range of datetime (Python's `OverflowError`).
#[derive(Debug, PartialEq)]
pub struct Overflow;

/// `format_ts`: the UTC time `utc` (microseconds since 0001-01-01) as
/// `strftime("%Y-%m-%dT%H:%M:%S.%fZ")` writes it (glibc does not pad years before 1000).
pub fn format_utc(utc: i64) -> Result<String, Overflow> {
    let days = utc.div_euclid(MICROS_PER_DAY);
    if !(0..MAX_ORDINAL).contains(&days) {
        return Err(Overflow);
    }
    let (year, month, day) = ord_to_ymd(days as i32 + 1);
    let rest = utc.rem_euclid(MICROS_PER_DAY);
    let seconds = rest / MICROS_PER_SECOND;
    Ok(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        rest % MICROS_PER_SECOND
    ))
}

/// `format_offset`: a UTC offset (microseconds) as `+hh:mm`, whole minutes rounded down.
pub fn format_offset(offset: i64) -> String {
    let minutes = offset.div_euclid(60 * MICROS_PER_SECOND);
    let sign = if minutes >= 0 { '+' } else { '-' };
    let minutes = minutes.abs();
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        let t = fromisoformat(text).unwrap();
        format_utc(t.local_micros() - t.offset.unwrap_or(0)).unwrap()
    }

    #[test]
    fn reads_the_layouts_python_reads() {
        assert_eq!(
            utc("2024-03-05T10:15:42.123456+0800"),
            "2024-03-05T02:15:42.123456Z"
        );
        assert_eq!(
            utc("2024-03-05 10:15:42,5-05:30"),
            "2024-03-05T15:45:42.500000Z"
        );
        assert_eq!(utc("20240305T101542Z"), "2024-03-05T10:15:42.000000Z");
        assert_eq!(utc("2024-W10-2T10:15"), "2024-03-05T10:15:00.000000Z");
        assert_eq!(utc("0001-01-01T00:00:00"), "1-01-01T00:00:00.000000Z");
        assert_eq!(
            fromisoformat("2024-02-30T10:15:42+0800"),
            Err("day is out of range for month".into())
        );
        assert_eq!(
            fromisoformat("yesterday"),
            Err("Invalid isoformat string: 'yesterday'".into())
        );
        assert_eq!(fromisoformat("2024-01-01T00:00:00-25:00").unwrap_err(),
            "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), \
             not datetime.timedelta(days=-2, seconds=82800).");
    }

    #[test]
    fn formats_offsets_and_overflow() {
        assert_eq!(format_offset(8 * 3600 * MICROS_PER_SECOND), "+08:00");
        assert_eq!(format_offset(-1050 * MICROS_PER_SECOND), "-00:18");
        assert_eq!(format_utc(-1), Err(Overflow));
    }
}
