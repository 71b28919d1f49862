//! Python's `repr` and `str` of JSON values: dead-letter reasons quote bad values the way the Python
//! reference does (`'yesterday'`, `1709604942`, `[1, True]`), and a few summaries format raw values.
use std::fmt::Write;

use super::json::Value;
use super::printable::is_printable;

/// Longest quoted value in a reason (`_REASON_VALUE`).
const REASON_VALUE: usize = 60;

/// `_show`: a short repr of a bad value for a dead-letter reason.
pub fn show(value: &Value<'_>) -> String {
    let text = repr(value);
    if text.chars().count() <= REASON_VALUE {
        return text;
    }
    let mut short: String = text.chars().take(REASON_VALUE - 3).collect();
    short.push_str("...");
    short
}

/// Python's `str(value)`: strings as they are, anything else as its repr.
pub fn str_of(value: &Value<'_>) -> String {
    match value {
        Value::Str(s) => s.to_string(),
        _ => repr(value),
    }
}

pub fn repr(value: &Value<'_>) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

fn write_repr(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Null | Value::Gone => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&float_repr(*f)),
        Value::Str(s) => out.push_str(&str_repr(s)),
        Value::Array(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            for (n, (key, item)) in object.entries().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(key));
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

/// `repr(str)`: single quotes unless the text has one and no double quote; escapes as CPython writes them.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            ' '..='\u{7e}' => out.push(c),
            _ if is_printable(c) => out.push(c),
            _ if (c as u32) <= 0xFF => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            _ if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            _ => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push(quote);
    out
}

/// `repr(float)`: the shortest digits that read back, fixed notation for exponents -4 to 15.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // The shortest digits that read back; of two equally short, equally close candidates Python
    // (David Gay's dtoa) takes the even one, so the count comes from the shortest form and the digits
    // from correct rounding at that count, when that reads back too.
    let shortest = format!("{:e}", f.abs());
    let count = shortest
        .split_once('e')
        .map_or(1, |(m, _)| m.chars().filter(char::is_ascii_digit).count());
    let rounded = format!("{:.*e}", count - 1, f.abs());
    let sci = if rounded.parse::<f64>() == Ok(f.abs()) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let point = exponent + 1; // digits before the decimal point
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else if point as usize >= digits.len() {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suricata::json::parse;

    #[test]
    fn reprs_like_python() {
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1e15), "1000000000000000.0");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(0.00001), "1e-05");
        assert_eq!(float_repr(-1.5e300), "-1.5e+300");
        assert_eq!(float_repr(1709604942.5), "1709604942.5");
        assert_eq!(float_repr(665810865822195.2), "665810865822195.2"); // a tie: the even digit
        assert_eq!(str_repr("it's"), "\"it's\"");
        assert_eq!(
            str_repr("a'\"\u{7f}\u{a0}中\u{200b}"),
            "'a\\'\"\\x7f\\xa0中\\u200b'"
        );
        let value = parse(r#"{"a":[1,true,null,"x"],"b":{}}"#).unwrap();
        assert_eq!(repr(&value), "{'a': [1, True, None, 'x'], 'b': {}}");
        assert_eq!(
            show(&Value::str("x".repeat(70))),
            format!("'{}...", "x".repeat(56))
        );
    }
}
