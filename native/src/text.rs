//! `secops.events.decode` for both parsers: UTF-8, then GBK (logs from Chinese systems), then UTF-8 with
//! U+FFFD for the invalid bytes.
//!
//! GBK means Python's strict `gbk` codec: ASCII bytes and two-byte sequences only (lead 0x81-0xFE, trail
//! 0x40-0xFE but 0x7F). encoding_rs's GBK is the WHATWG decoder, which also takes GB18030's four-byte
//! sequences and a lone 0x80 and maps the user-defined areas Python rejects; those are refused here first.
use std::borrow::Cow;

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

/// The text, or None where Python's `bytes.decode("gbk")` raises.
pub fn python_gbk(raw: &[u8]) -> Option<String> {
    let mut i = 0;
    while i < raw.len() {
        let lead = raw[i];
        if lead < 0x80 {
            i += 1;
            continue;
        }
        let trail = *raw.get(i + 1)?;
        if !(0x81..=0xfe).contains(&lead) || !valid_pair(lead, trail) {
            return None;
        }
        i += 2;
    }
    let (text, malformed) = encoding_rs::GBK.decode_without_bom_handling(raw);
    (!malformed).then(|| text.into_owned())
}

/// Cells of GBK's symbol rows that Python's codec leaves unmapped (GB18030 later filled them, and
/// encoding_rs maps them): (lead, first trail, last trail).
const UNMAPPED: [(u8, u8, u8); 27] = [
    (0xa2, 0xab, 0xb0),
    (0xa2, 0xe3, 0xe4),
    (0xa2, 0xef, 0xf0),
    (0xa2, 0xfd, 0xfe),
    (0xa4, 0xf4, 0xfe),
    (0xa5, 0xf7, 0xfe),
    (0xa6, 0xb9, 0xc0),
    (0xa6, 0xd9, 0xdf),
    (0xa6, 0xec, 0xed),
    (0xa6, 0xf3, 0xf3),
    (0xa6, 0xf6, 0xfe),
    (0xa7, 0xc2, 0xd0),
    (0xa7, 0xf2, 0xfe),
    (0xa8, 0x96, 0xa0),
    (0xa8, 0xbc, 0xbc),
    (0xa8, 0xbf, 0xbf),
    (0xa8, 0xc1, 0xc4),
    (0xa8, 0xea, 0xfe),
    (0xa9, 0x58, 0x58),
    (0xa9, 0x5b, 0x5b),
    (0xa9, 0x5d, 0x5f),
    (0xa9, 0x89, 0x95),
    (0xa9, 0x97, 0xa3),
    (0xa9, 0xf0, 0xfe),
    (0xd7, 0xfa, 0xfe),
    (0xfe, 0x50, 0x7e),
    (0xfe, 0x80, 0xa0),
];

/// Whether Python's gbk codec maps the pair (it leaves the user-defined areas and some cells unmapped).
fn valid_pair(lead: u8, trail: u8) -> bool {
    if !(0x40..=0xfe).contains(&trail) || trail == 0x7f {
        return false;
    }
    let user_defined = matches!(lead, 0xaa..=0xaf | 0xf8..=0xfe) && trail >= 0xa1
        || matches!(lead, 0xa1..=0xa7) && trail < 0xa1;
    !user_defined
        && !UNMAPPED
            .iter()
            .any(|&(l, first, last)| l == lead && (first..=last).contains(&trail))
}
