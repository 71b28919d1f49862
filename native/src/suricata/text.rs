//! The log text decoder shared by the parsers (`crate::text`), with Suricata-side tests of it.
pub use crate::text::decode;

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
