//! `_canonical_ip`: glibc's `inet_pton` / `inet_ntop` (what Python's socket module calls on Linux), so an
//! address is accepted and written exactly as the reference accepts and writes it.
use std::borrow::Cow;
use std::fmt::Write;

/// `text` as a canonical IP address, None when it is none. IPv4 is only checked: it has one form.
pub fn canonical_ip(text: &str) -> Option<Cow<'_, str>> {
    if text.contains('\0') {
        return None; // Python refuses embedded NULs before calling inet_pton
    }
    if text.contains(':') {
        pton6(text.as_bytes())
            .map(|address| ntop6(&address))
            .map(|canonical| {
                if canonical == text {
                    Cow::Borrowed(text)
                } else {
                    Cow::Owned(canonical)
                }
            })
    } else {
        pton4(text.as_bytes()).map(|_| Cow::Borrowed(text))
    }
}

fn pton4(src: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut octets = 0;
    let mut index = 0;
    let mut saw_digit = false;
    for &ch in src {
        if ch.is_ascii_digit() {
            let value = out[index] as u32 * 10 + (ch - b'0') as u32;
            if saw_digit && out[index] == 0 {
                return None;
            }
            if value > 255 {
                return None;
            }
            out[index] = value as u8;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if ch == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            index += 1;
            saw_digit = false;
        } else {
            return None;
        }
    }
    (octets >= 4).then_some(out)
}

fn pton6(src: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    let mut tp = 0usize;
    let mut colon: Option<usize> = None;
    let mut pos = 0usize;
    if src.is_empty() {
        return None;
    }
    if src[0] == b':' {
        pos = 1;
        if src.get(1) != Some(&b':') {
            return None;
        }
    }
    let mut token = pos;
    let mut digits = 0;
    let mut value: u32 = 0;
    while pos < src.len() {
        let ch = src[pos];
        pos += 1;
        if let Some(digit) = (ch as char).to_digit(16) {
            if digits == 4 {
                return None;
            }
            value = (value << 4) | digit;
            if value > 0xFFFF {
                return None;
            }
            digits += 1;
            continue;
        }
        if ch == b':' {
            token = pos;
            if digits == 0 {
                if colon.is_some() {
                    return None;
                }
                colon = Some(tp);
                continue;
            } else if pos == src.len() {
                return None;
            }
            if tp + 2 > 16 {
                return None;
            }
            out[tp] = (value >> 8) as u8;
            out[tp + 1] = value as u8;
            tp += 2;
            digits = 0;
            value = 0;
            continue;
        }
        if ch == b'.' && tp + 4 <= 16 {
            if let Some(v4) = pton4(&src[token..]) {
                out[tp..tp + 4].copy_from_slice(&v4);
                tp += 4;
                digits = 0;
                break;
            }
        }
        return None;
    }
    if digits > 0 {
        if tp + 2 > 16 {
            return None;
        }
        out[tp] = (value >> 8) as u8;
        out[tp + 1] = value as u8;
        tp += 2;
    }
    if let Some(colon) = colon {
        if tp == 16 {
            return None;
        }
        let n = tp - colon;
        out.copy_within(colon..tp, 16 - n);
        out[colon..16 - n].fill(0);
        tp = 16;
    }
    (tp == 16).then_some(out)
}

/// A run of zero words: (first word, length).
type Run = (usize, usize);

fn ntop6(src: &[u8; 16]) -> String {
    let words: Vec<u32> = src
        .chunks(2)
        .map(|pair| (pair[0] as u32) << 8 | pair[1] as u32)
        .collect();
    // The longest run of zero words (the first of equal runs), if two or more long.
    let mut best: Option<Run> = None;
    let mut cur: Option<Run> = None;
    for (i, &word) in words.iter().enumerate() {
        if word == 0 {
            cur = Some(cur.map_or((i, 1), |(base, len)| (base, len + 1)));
        } else if let Some(run) = cur.take() {
            if best.is_none_or(|b| run.1 > b.1) {
                best = Some(run);
            }
        }
    }
    if let Some(run) = cur {
        if best.is_none_or(|b| run.1 > b.1) {
            best = Some(run);
        }
    }
    let best = best.filter(|b| b.1 >= 2);
    let mut out = String::with_capacity(40);
    let mut i = 0;
    while i < 8 {
        if let Some((base, len)) = best {
            if i >= base && i < base + len {
                if i == base {
                    out.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 {
            if let Some((0, len)) = best {
                if len == 6 || (len == 5 && words[5] == 0xFFFF) {
                    let _ = write!(out, "{}.{}.{}.{}", src[12], src[13], src[14], src[15]);
                    return out;
                }
            }
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    if let Some((base, len)) = best {
        if base + len == 8 {
            out.push(':');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::canonical_ip;

    #[test]
    fn canonical_forms() {
        assert_eq!(
            canonical_ip("2001:0db8:0000:0000:0000:0000:0000:0001").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            canonical_ip("::ffff:1.2.3.4").as_deref(),
            Some("::ffff:1.2.3.4")
        );
        assert_eq!(canonical_ip("::1.2.3.4").as_deref(), Some("::1.2.3.4"));
        assert_eq!(canonical_ip("::").as_deref(), Some("::"));
        assert_eq!(
            canonical_ip("1:0:0:2:0:0:0:3").as_deref(),
            Some("1:0:0:2::3")
        );
        assert_eq!(canonical_ip("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(canonical_ip("010.0.0.1"), None);
        assert_eq!(canonical_ip("1.2.3"), None);
        assert_eq!(canonical_ip("not-an-ip"), None);
        assert_eq!(canonical_ip("1:2:3:4:5:6:7:8:9"), None);
    }
}
