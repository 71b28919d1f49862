//! `secops.events.decode`: UTF-8, then GBK (logs from Chinese systems), then UTF-8 with U+FFFD.
//!
//! GBK means Python's `gbk` codec, which is stricter than WHATWG's GBK decoder in encoding_rs: it has no
//! 0x80 (euro) byte, no four-byte GB18030 sequences, no user-defined (private use) area and a hundred
//! or so other two-byte codes; those make Python fall through to the replacement decoding.
use std::borrow::Cow;

use encoding_rs::GBK;

/// Two-byte codes WHATWG's GBK decodes to something other than private use and Python's `gbk` refuses.
const NOT_PYTHON_GBK: [u16; 101] = [
    0xA2E3, 0xA3A0, 0xA6D9, 0xA6DA, 0xA6DB, 0xA6DC, 0xA6DD, 0xA6DE, 0xA6DF, 0xA6EC, 0xA6ED, 0xA6F3,
    0xA8BC, 0xA8BF, 0xA989, 0xA98A, 0xA98B, 0xA98C, 0xA98D, 0xA98E, 0xA98F, 0xA990, 0xA991, 0xA992,
    0xA993, 0xA994, 0xA995, 0xFE50, 0xFE54, 0xFE55, 0xFE56, 0xFE57, 0xFE58, 0xFE59, 0xFE5A, 0xFE5B,
    0xFE5C, 0xFE5D, 0xFE5E, 0xFE5F, 0xFE60, 0xFE61, 0xFE62, 0xFE63, 0xFE64, 0xFE65, 0xFE66, 0xFE67,
    0xFE68, 0xFE69, 0xFE6A, 0xFE6B, 0xFE6D, 0xFE6E, 0xFE6F, 0xFE70, 0xFE71, 0xFE72, 0xFE73, 0xFE74,
    0xFE75, 0xFE77, 0xFE78, 0xFE79, 0xFE7A, 0xFE7B, 0xFE7C, 0xFE7D, 0xFE7E, 0xFE80, 0xFE81, 0xFE82,
    0xFE83, 0xFE84, 0xFE85, 0xFE86, 0xFE87, 0xFE88, 0xFE89, 0xFE8A, 0xFE8B, 0xFE8C, 0xFE8D, 0xFE8E,
    0xFE8F, 0xFE90, 0xFE92, 0xFE93, 0xFE94, 0xFE95, 0xFE96, 0xFE97, 0xFE98, 0xFE99, 0xFE9A, 0xFE9B,
    0xFE9C, 0xFE9D, 0xFE9E, 0xFE9F, 0xFEA0,
];

/// Decode log bytes as the Python reference does; never fails.
pub fn decode(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(raw) {
        return Cow::Borrowed(text);
    }
    match python_gbk(raw) {
        Some(text) => Cow::Owned(text),
        None => String::from_utf8_lossy(raw),
    }
}

/// `raw.decode("gbk")`, None where Python's codec raises.
fn python_gbk(raw: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < raw.len() {
        let lead = raw[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        if lead == 0x80 || lead == 0xFF {
            return None;
        }
        let trail = *raw.get(i + 1)?;
        if NOT_PYTHON_GBK
            .binary_search(&((lead as u16) << 8 | trail as u16))
            .is_ok()
        {
            return None;
        }
        let (unit, had_errors) = GBK.decode_without_bom_handling(&raw[i..i + 2]);
        let private_use = unit.chars().any(|c| ('\u{E000}'..='\u{F8FF}').contains(&c));
        if had_errors || private_use || unit.chars().count() != 1 {
            return None;
        }
        i += 2;
    }
    GBK.decode_without_bom_handling_and_without_replacement(raw)
        .map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_like_python() {
        assert_eq!(decode("政务".as_bytes()), "政务");
        assert_eq!(decode(b"\xd5\xfe\xce\xf1"), "政务");
        assert_eq!(decode(b"a\x80b"), "a\u{fffd}b"); // no euro byte in Python's gbk
        assert_eq!(decode(b"\x81\x30\x81\x30"), "\u{fffd}0\u{fffd}0"); // no four-byte GB18030
        assert_eq!(decode(b"\xff"), "\u{fffd}");
    }
}
