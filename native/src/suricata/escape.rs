//! A JSON string writer for text dense in characters to escape: `event.original` holds the raw EVE line,
//! itself JSON, with a quote every six bytes or so. `jsonw::write_str` copies the plain runs between
//! escapes as slices, which pays a call per escape; here eight bytes are stored at once, the first
//! character to escape among them found by bit arithmetic and written over the rest, all into space
//! reserved once. Same bytes as `write_str`.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that is zero (exact up to the first one).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bits of the bytes of `word` to escape: `"`, `\\` or a control character (exact up to the
/// first one, which is all that is used).
#[inline]
fn to_escape(word: u64) -> u64 {
    zero_bytes(word ^ (ONES * b'"' as u64))
        | zero_bytes(word ^ (ONES * b'\\' as u64))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS)
}

/// Per byte: 0 to copy it, the second byte of its two-byte escape (`"` → `\"`), or `u` for `\u00XX`.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `text` as a JSON string (quotes included).
pub fn write_dense(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // SAFETY: `as_mut_vec`: only whole characters of `text` and ASCII escapes end up in the string, so it
    // stays UTF-8 (an eight-byte store may cut a character, but the bytes past the escape it stops at
    // are written again before `set_len`). The writes: the output is at most six bytes per input byte
    // plus two quotes, and an eight-byte store at input position i (i + 8 <= n) ends by 6i + 9 <= 6n + 2;
    // that much is reserved first, and `set_len` covers only bytes written.
    unsafe {
        let vec = out.as_mut_vec();
        vec.reserve(n * 6 + 2);
        let base = vec.as_mut_ptr();
        let mut at = vec.len();
        *base.add(at) = b'"';
        at += 1;
        let mut i = 0;
        while i + 8 <= n {
            let word = std::ptr::read_unaligned(bytes.as_ptr().add(i) as *const u64);
            std::ptr::write_unaligned(base.add(at) as *mut u64, word);
            let found = to_escape(u64::from_le(word));
            if found == 0 {
                i += 8;
                at += 8;
                continue;
            }
            let plain = (found.trailing_zeros() / 8) as usize;
            i += plain;
            at = escape(base, at + plain, bytes[i]);
            i += 1;
        }
        for &b in &bytes[i..] {
            at = escape(base, at, b);
        }
        *base.add(at) = b'"';
        vec.set_len(at + 1);
    }
}

/// Write byte `b` at `base + at`, escaped if it must be; the position after it.
///
/// # Safety
/// `base + at` must have room for six bytes.
#[inline]
unsafe fn escape(base: *mut u8, at: usize, b: u8) -> usize {
    match ESCAPES[b as usize] {
        0 => {
            *base.add(at) = b;
            at + 1
        }
        b'u' => {
            let escape = [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xF) as usize],
            ];
            std::ptr::copy_nonoverlapping(escape.as_ptr(), base.add(at), 6);
            at + 6
        }
        short => {
            *base.add(at) = b'\\';
            *base.add(at + 1) = short;
            at + 2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_dense;

    #[test]
    fn writes_what_serde_json_writes() {
        let mut samples: Vec<String> = (0..=0x7Fu8).map(|b| char::from(b).to_string()).collect();
        samples.extend(
            [
                "",
                r#"{"timestamp":"2024-03-05T10:20:31+0800","a\\b":"x\ty"}"#,
                "中文 \u{1} é \u{10ffff}\u{7f}\u{1f}\r\n",
            ]
            .map(String::from),
        );
        // Every character to escape at every position of strings around the eight-byte steps.
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}"] {
            for length in 0..24 {
                for at in 0..length {
                    let mut text: String = "aé中x".chars().cycle().take(length).collect();
                    let cut = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
                    text.insert_str(cut, special);
                    samples.push(text);
                }
            }
        }
        for text in samples {
            let mut out = String::from("k:");
            write_dense(&mut out, &text);
            assert_eq!(out[2..], serde_json::to_string(&text).unwrap(), "{text:?}");
        }
    }
}
