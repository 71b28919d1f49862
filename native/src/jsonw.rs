//! Writing JSON strings, shared by the parsers: `"`, `\\` and control characters escaped, the rest of
//! the text as UTF-8 (serde_json's and orjson's bytes). Bytes are classified sixteen at a time (SSE2 on
//! x86_64, exact SWAR elsewhere) and copied a chunk at a time, escapes written over the copy. Logs such
//! as ModSecurity's audit trail escape one byte in twenty (quotes, newlines), so the cost per escape
//! matters as much as the scan.

/// The second byte of the two-byte escape of a control character (`\n`), 0 when it is written `\u00XX`.
const SHORT: [u8; 32] = {
    let mut table = [0u8; 32];
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table
};
const HEX: &[u8; 16] = b"0123456789abcdef";

#[inline]
fn is_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Bit k set when byte k of the chunk is `"`, `\\` or a control character.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask(chunk: &[u8; 16]) -> u32 {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 processor has these instructions.
    unsafe { sse2_mask(chunk) }
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "sse2")]
fn sse2_mask(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x,
    };
    let [lo, hi] = [&chunk[..8], &chunk[8..]]
        .map(|half| i64::from_le_bytes(half.try_into().unwrap_or_default()));
    let v = _mm_set_epi64x(hi, lo);
    let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
    let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
    let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v); // v <= 0x1F, unsigned
    _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn special_mask(chunk: &[u8; 16]) -> u32 {
    swar_mask(chunk)
}

/// `special_mask` in plain integer arithmetic: per byte, the high bit of `(low 7 bits ^ c) + 0x7F` is
/// clear only when the byte's low bits equal `c`, and of `low 7 bits + 0x60` only below 0x20 — no sum
/// carries into the next byte, so every byte is classified exactly (not only the first special one).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn swar_mask(chunk: &[u8; 16]) -> u32 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let half = |bytes: &[u8]| {
        let word = u64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let low = word & LOW7;
        let quote = (low ^ (ONES * u64::from(b'"'))) + LOW7;
        let backslash = (low ^ (ONES * u64::from(b'\\'))) + LOW7;
        let printable = low + ONES * 0x60;
        let high_bits = !((quote & backslash & printable) | word) & HIGHS;
        // Gather the eight high bits into one byte.
        ((high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    };
    half(&chunk[..8]) | half(&chunk[8..]) << 8
}

/// The first index from `i` holding `"`, `\\` or a control character (or the length).
#[cfg(any(test, feature = "suricata"))]
#[inline]
pub fn special(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 16) {
        let mask = special_mask(chunk.try_into().unwrap_or(&[0; 16]));
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < bytes.len() && !is_special(bytes[i]) {
        i += 1;
    }
    i
}

/// The two lower-case hex digits of a byte.
fn hex(b: u8) -> [u8; 2] {
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]
}

/// The escape of a special byte (`\"`, `\n`, `\u001f`) and its length.
#[inline]
fn escaped(b: u8) -> ([u8; 6], usize) {
    let short = match b {
        b'"' | b'\\' => b,
        _ => SHORT[usize::from(b & 0x1F)],
    };
    if short != 0 {
        ([b'\\', short, 0, 0, 0, 0], 2)
    } else {
        let [high, low] = hex(b);
        ([b'\\', b'u', b'0', b'0', high, low], 6)
    }
}

/// `text` as a JSON string.
pub fn write_str(out: &mut String, text: &str) {
    // SAFETY: `write_body` appends the bytes of `text` with ASCII escapes in place of ASCII bytes, so
    // `out` is UTF-8 again when it returns (and nothing in between can panic).
    let out = unsafe { out.as_mut_vec() };
    out.reserve(text.len() + text.len() / 8 + 2);
    out.push(b'"');
    write_body(out, text.as_bytes());
    out.push(b'"');
}

/// `text` as a JSON string in ASCII: other characters as `\uXXXX` (UTF-16 units, as Python's
/// `json.dumps` writes them). For a short text with a non-ASCII symbol in an otherwise ASCII document:
/// the document stays ASCII, so Python keeps it one byte per character and SQLite takes its UTF-8 as is.
#[cfg(any(test, feature = "modsecurity"))]
pub fn write_ascii(out: &mut String, text: &str) {
    // SAFETY: as in `write_str`; the `\u` escapes are ASCII too.
    let out = unsafe { out.as_mut_vec() };
    out.push(b'"');
    let mut rest = text;
    while let Some(at) = rest.bytes().position(|b| !b.is_ascii()) {
        write_body(out, &rest.as_bytes()[..at]);
        let mut chars = rest[at..].chars();
        for unit in chars.next().unwrap_or_default().encode_utf16(&mut [0; 2]) {
            let [high, low] = unit.to_be_bytes();
            let ([a, b], [c, d]) = (hex(high), hex(low));
            out.extend_from_slice(&[b'\\', b'u', a, b, c, d]);
        }
        rest = chars.as_str();
    }
    write_body(out, rest.as_bytes());
    out.push(b'"');
}

/// The escaped text of a JSON string, without its quotes. Each chunk of sixteen bytes is copied whole
/// into the spare capacity of `out`; at its first special byte the escape is written over the copy and
/// the next chunk starts after that byte. So a run of plain bytes costs no call of its own (short runs
/// are the rule: a `memcpy` per run took twice the time). The last bytes short of a chunk go run by run.
fn write_body(out: &mut Vec<u8>, bytes: &[u8]) {
    if write_plain_short(out, bytes) {
        return;
    }
    let mut src = 0;
    while bytes.len() - src >= 16 {
        let rest = bytes.len() - src;
        out.reserve(rest + rest / 8 + 32);
        let spare = out.spare_capacity_mut();
        let limit = spare.len() - 32; // room for a chunk and the widest escape inside it
        let mut written = 0;
        while written <= limit {
            let Some(chunk) = bytes.get(src..src + 16) else {
                break;
            };
            let chunk: &[u8; 16] = chunk.try_into().unwrap_or(&[0; 16]);
            spare[written..written + 16].write_copy_of_slice(chunk);
            let mask = special_mask(chunk);
            if mask == 0 {
                src += 16;
                written += 16;
                continue;
            }
            let k = mask.trailing_zeros() as usize;
            let (escape, length) = escaped(chunk[k]);
            spare[written + k..written + k + 6].write_copy_of_slice(&escape);
            src += k + 1;
            written += k + length;
        }
        // SAFETY: the first `written` bytes of the spare capacity were written above (the copy beyond
        // them is left out).
        unsafe { out.set_len(out.len() + written) };
    }
    let mut run = src;
    for (i, &b) in bytes.iter().enumerate().skip(src) {
        if is_special(b) {
            let (escape, length) = escaped(b);
            out.extend_from_slice(&bytes[run..i]);
            out.extend_from_slice(&escape[..length]);
            run = i + 1;
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

/// A text of 8 to 15 bytes (names, ids, tags) with no special byte: checked and copied as two
/// overlapping words, without a call. False, and nothing written, when it has a special byte.
fn write_plain_short(out: &mut Vec<u8>, bytes: &[u8]) -> bool {
    let n = bytes.len();
    let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) else {
        return false;
    };
    let mut both = [0; 16];
    both[..8].copy_from_slice(head);
    both[8..].copy_from_slice(tail);
    if n >= 16 || special_mask(&both) != 0 {
        return false; // longer texts go by chunks
    }
    out.reserve(n);
    let spare = out.spare_capacity_mut();
    spare[..8].write_copy_of_slice(head);
    spare[n - 8..n].write_copy_of_slice(tail);
    // SAFETY: the words cover all `n` bytes of the text.
    unsafe { out.set_len(out.len() + n) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings of every special byte, UTF-8 and plain runs, at every alignment around a chunk.
    fn samples() -> Vec<String> {
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces = [
            "\"",
            "\\",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{1}",
            "\u{1f}",
            "\u{7f}",
            " ",
            "a",
            "中",
            "é",
            "\u{2192}",
            "xxxxxxxxxxxxxxx",
            "\u{10ffff}",
            "0",
        ];
        let mut out: Vec<String> = (0..=0x7Fu8).map(|b| char::from(b).to_string()).collect();
        // Long texts that escape every byte (six bytes each), or none, or every other one.
        out.extend(["\u{1}", "\"", "中", "a\n"].map(|piece| piece.repeat(1000)));
        for length in 0..200 {
            let mut text = String::new();
            while text.len() < length {
                text.push_str(pieces[next() as usize % pieces.len()]);
            }
            out.push(text);
        }
        out
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for text in samples() {
            let mut out = String::from("k:");
            write_str(&mut out, &text);
            assert_eq!(out[2..], serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn writes_ascii_that_reads_back_the_same() {
        for text in samples() {
            let mut out = String::new();
            write_ascii(&mut out, &text);
            assert!(out.is_ascii(), "{out}");
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text);
            if text.is_ascii() {
                assert_eq!(out, serde_json::to_string(&text).unwrap());
            }
        }
        let mut out = String::new();
        write_ascii(&mut out, "a → \u{1F600}\n");
        assert_eq!(out, r#""a \u2192 \ud83d\ude00\n""#);
    }

    #[test]
    fn special_finds_the_first_special_byte() {
        for text in samples() {
            let bytes = text.as_bytes();
            for start in 0..=bytes.len() {
                let want = (start..bytes.len())
                    .find(|&i| is_special(bytes[i]))
                    .unwrap_or(bytes.len());
                assert_eq!(special(bytes, start), want, "{text:?} from {start}");
            }
        }
    }

    #[test]
    fn swar_classifies_as_the_chunk_mask() {
        for text in samples() {
            for chunk in text.as_bytes().windows(16) {
                let chunk: &[u8; 16] = chunk.try_into().unwrap();
                let want = (0..16)
                    .filter(|&k| is_special(chunk[k]))
                    .fold(0u32, |m, k| m | 1 << k);
                assert_eq!(swar_mask(chunk), want, "{chunk:?}");
                assert_eq!(special_mask(chunk), want, "{chunk:?}");
            }
        }
        for b in 0..=255u8 {
            let chunk = [b; 16];
            assert_eq!(
                swar_mask(&chunk),
                if is_special(b) { 0xFFFF } else { 0 },
                "{b}"
            );
        }
        // Arbitrary bytes, not only UTF-8: every neighbour of every byte value.
        let mut state = 1u32;
        for _ in 0..20_000 {
            let chunk: [u8; 16] = std::array::from_fn(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            });
            let want = (0..16)
                .filter(|&k| is_special(chunk[k]))
                .fold(0u32, |m, k| m | 1 << k);
            assert_eq!(
                (swar_mask(&chunk), special_mask(&chunk)),
                (want, want),
                "{chunk:?}"
            );
        }
    }
}
