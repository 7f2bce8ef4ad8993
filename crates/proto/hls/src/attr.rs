//! Attribute lists and attribute values (RFC 8216 §4.2).
//!
//! `NAME=VALUE` pairs separated by commas; a value is a quoted-string (which may hold commas),
//! or an unquoted token (decimal-integer, hexadecimal-sequence, decimal-floating-point,
//! decimal-resolution, enumerated-string). Whitespace around names and unquoted values is
//! tolerated: some producers write `, ` between attributes.

use std::time::Duration;

/// One attribute's value, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// A quoted-string, without its quotes.
    Quoted(&'a str),
    /// Anything else, trimmed.
    Token(&'a str),
}

/// A parsed attribute list: names in order of appearance, each at most once.
#[derive(Debug, Default)]
pub(crate) struct AttributeList<'a> {
    pairs: Vec<(&'a str, Value<'a>)>,
}

impl<'a> AttributeList<'a> {
    /// Parses `text` (what follows `#EXT-X-…:`). The error is a reason for a
    /// [`crate::ParseError::BadValue`].
    pub(crate) fn parse(text: &'a str) -> Result<Self, String> {
        let mut pairs: Vec<(&'a str, Value<'a>)> = Vec::new();
        let mut rest = text;
        loop {
            let trimmed = rest.trim_start();
            if trimmed.is_empty() {
                break;
            }
            let eq = trimmed
                .find('=')
                .ok_or_else(|| format!("attribute without '=': {:?}", clip(trimmed)))?;
            let name = trimmed[..eq].trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(format!("bad attribute name {:?}", clip(name)));
            }
            let after = trimmed[eq + 1..].trim_start();
            let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted
                    .find('"')
                    .ok_or_else(|| format!("unterminated quoted string in {name}"))?;
                let tail = quoted[end + 1..].trim_start();
                (Value::Quoted(&quoted[..end]), tail)
            } else {
                let end = after.find(',').unwrap_or(after.len());
                let token = after[..end].trim();
                if token.is_empty() {
                    return Err(format!("empty value for {name}"));
                }
                (Value::Token(token), &after[end..])
            };
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("attribute {name} appears twice"));
            }
            pairs.push((name, value));
            rest = match tail.strip_prefix(',') {
                Some(next) => next,
                None if tail.is_empty() => "",
                None => return Err(format!("expected ',' after {name}, found {:?}", clip(tail))),
            };
        }
        Ok(Self { pairs })
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<Value<'a>> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    /// A quoted-string attribute. An unquoted value where a quoted-string is due is an error.
    pub(crate) fn quoted(&self, name: &str) -> Result<Option<&'a str>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Quoted(s)) => Ok(Some(s)),
            Some(Value::Token(_)) => Err(format!("{name} must be a quoted string")),
        }
    }

    /// An unquoted attribute (enumerated-string, number). A quoted value is accepted too:
    /// producers that quote everything exist, and the meaning is unambiguous.
    pub(crate) fn token(&self, name: &str) -> Option<&'a str> {
        match self.get(name)? {
            Value::Quoted(s) | Value::Token(s) => Some(s),
        }
    }
}

/// A decimal-integer (§4.2): 1 to 20 digits, within u64.
pub(crate) fn decimal_integer(s: &str) -> Result<u64, String> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{:?} is not a decimal integer", clip(s)));
    }
    s.parse::<u64>()
        .map_err(|_| format!("{:?} does not fit 64 bits", clip(s)))
}

/// A non-negative decimal-floating-point number of seconds as an exact [`Duration`] (no
/// binary rounding: `4.004` is 4.004 s), at most `max_secs`. Digits past nanoseconds are
/// dropped.
pub(crate) fn seconds(s: &str, max_secs: u64) -> Result<Duration, String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return Err(format!("{:?} is not a number of seconds", clip(s)));
    }
    let int = int.trim_start_matches('0');
    let whole = if int.is_empty() {
        0
    } else {
        decimal_integer(int)?
    };
    if whole > max_secs {
        return Err(format!("{whole} s exceeds {max_secs} s"));
    }
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Ok(Duration::new(whole, nanos))
}

/// A decimal-resolution `WIDTHxHEIGHT` (§4.2).
pub(crate) fn resolution(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{:?} is not WIDTHxHEIGHT", clip(s)))?;
    let dim = |v: &str| {
        decimal_integer(v).and_then(|n| {
            u32::try_from(n).map_err(|_| format!("{n} is not a plausible picture dimension"))
        })
    };
    Ok((dim(w)?, dim(h)?))
}

/// A 128-bit hexadecimal-sequence (`0x` followed by up to 32 hex digits, §4.2 and the IV of
/// §4.3.2.4), right-aligned.
pub(crate) fn hex128(s: &str) -> Result<[u8; 16], String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .ok_or_else(|| format!("{:?} does not start with 0x", clip(s)))?;
    if digits.is_empty() || digits.len() > 32 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{:?} is not a 128-bit hexadecimal value", clip(s)));
    }
    let value = u128::from_str_radix(digits, 16)
        .map_err(|_| format!("{:?} is not a 128-bit hexadecimal value", clip(s)))?;
    Ok(value.to_be_bytes())
}

/// At most 40 characters of `s`, for error messages about hostile input.
pub(crate) fn clip(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_quotes_do_not_split() {
        let list = AttributeList::parse(
            r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=640x360"#,
        )
        .unwrap();
        assert_eq!(list.token("BANDWIDTH"), Some("1280000"));
        assert_eq!(
            list.quoted("CODECS").unwrap(),
            Some("avc1.4d401f,mp4a.40.2")
        );
        assert_eq!(list.token("RESOLUTION"), Some("640x360"));
        assert_eq!(list.get("AUDIO"), None);
    }

    #[test]
    fn spaces_between_attributes_are_tolerated() {
        let list = AttributeList::parse(r#"METHOD=AES-128, URI="k.bin" , IV=0x1"#).unwrap();
        assert_eq!(list.token("METHOD"), Some("AES-128"));
        assert_eq!(list.quoted("URI").unwrap(), Some("k.bin"));
        assert_eq!(list.token("IV"), Some("0x1"));
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in [
            "BANDWIDTH",
            "bandwidth=1",
            "A=\"open",
            "A=1,A=2",
            "A=",
            "A=\"x\"y",
            "=1",
        ] {
            assert!(AttributeList::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(AttributeList::parse("").unwrap().pairs.is_empty());
        assert!(
            AttributeList::parse("A=1,").is_ok(),
            "a trailing comma is harmless"
        );
    }

    #[test]
    fn quoted_where_required() {
        let list = AttributeList::parse("URI=k.bin").unwrap();
        assert!(list.quoted("URI").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(decimal_integer("18446744073709551615"), Ok(u64::MAX));
        assert!(decimal_integer("18446744073709551616").is_err());
        assert!(decimal_integer("-1").is_err());
        assert!(decimal_integer("1e3").is_err());
        assert!(decimal_integer("").is_err());
        assert_eq!(seconds("4.004", 100), Ok(Duration::from_millis(4004)));
        assert_eq!(seconds("10", 100), Ok(Duration::from_secs(10)));
        assert_eq!(seconds(".5", 100), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("2.", 100), Ok(Duration::from_secs(2)));
        assert_eq!(
            seconds("1.1234567891234", 100),
            Ok(Duration::new(1, 123_456_789))
        );
        assert_eq!(
            seconds("000000000000000000000000007", 100),
            Ok(Duration::from_secs(7))
        );
        for bad in [
            "",
            ".",
            "-1",
            "1.2.3",
            "1e3",
            "abc",
            "101",
            "99999999999999999999999",
        ] {
            assert!(seconds(bad, 100).is_err(), "{bad:?} accepted");
        }
        assert_eq!(resolution("1920x1080"), Ok((1920, 1080)));
        assert!(resolution("1920*1080").is_err());
        assert!(resolution("99999999999x1").is_err());
        let mut iv = [0u8; 16];
        iv[15] = 1;
        assert_eq!(hex128("0x1"), Ok(iv));
        assert_eq!(hex128("0X00000000000000000000000000000001"), Ok(iv));
        assert!(hex128("1").is_err());
        assert!(hex128("0x").is_err());
        assert!(hex128("0xg").is_err());
        assert!(hex128("0x000000000000000000000000000000001").is_err());
    }
}
