//! The parameter bag of an RPC-style request: the URL query and an
//! `application/x-www-form-urlencoded` body, decoded once.
//!
//! Decoding follows the rules every signature depends on (signatures.md §0): split on `&`,
//! split each item on its first `=`, percent-decode with `+` read as a space, and **keep blank
//! values** (the old Alibaba SDK signs `SignatureType=`). Re-encoding for a canonical string
//! uses [`pct_encode`] (RFC 3986 unreserved characters kept, everything else `%XX`), never the
//! raw bytes of the wire: SDKs send a space as `+` or as `%20`.

use std::fmt::Write as _;

use crate::error::ApiError;

/// At most this many parameters in one request (query and body together): the seven actions
/// take fewer than 40, and a bound keeps a hostile request from making thousands of strings.
pub const MAX_PARAMS: usize = 256;

/// Where a parameter came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Query,
    Body,
}

/// Decoded parameters in arrival order (query first, then body). A name occurs at most once:
/// these APIs never repeat one, and a repeat would make "which value counts" ambiguous between
/// the signature and the handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    items: Vec<(String, String, Origin)>,
}

impl Params {
    /// Decodes a raw query string (without the `?`).
    pub fn from_query(raw: &str) -> Result<Params, ApiError> {
        let mut params = Params::default();
        params.extend(raw, Origin::Query)?;
        Ok(params)
    }

    /// Adds the parameters of a form-encoded body.
    pub fn extend_form(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::MalformedRequest("the form body is not UTF-8".into()))?;
        self.extend(text, Origin::Body)
    }

    /// The value of `name`, if present (blank values are present).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _, _)| k == name)
            .map(|(_, v, _)| v.as_str())
    }

    /// All parameters, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v, _)| (k.as_str(), v.as_str()))
    }

    /// The parameters that came from `origin`.
    pub fn from_origin(&self, origin: Origin) -> impl Iterator<Item = (&str, &str)> {
        self.items
            .iter()
            .filter(move |(_, _, o)| *o == origin)
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn extend(&mut self, raw: &str, origin: Origin) -> Result<(), ApiError> {
        for item in raw.split('&').filter(|item| !item.is_empty()) {
            let (name, value) = item.split_once('=').unwrap_or((item, ""));
            let name = decode_component(name)
                .map_err(|e| ApiError::MalformedRequest(format!("parameter name: {e}")))?;
            let value = decode_component(value)
                .map_err(|e| ApiError::MalformedRequest(format!("parameter {name}: {e}")))?;
            if self.get(&name).is_some() {
                return Err(ApiError::DuplicateParameter(name));
            }
            if self.items.len() == MAX_PARAMS {
                return Err(ApiError::MalformedRequest(format!(
                    "more than {MAX_PARAMS} parameters"
                )));
            }
            self.items.push((name, value, origin));
        }
        Ok(())
    }
}

/// Percent-decodes one query component, reading `+` as a space. The result must be UTF-8.
pub fn decode_component(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err("a '%' is not followed by two hex digits"),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "the decoded value is not UTF-8")
}

/// RFC 3986 encoding of the UTF-8 bytes of `s`, appended to `out`: `A-Z a-z 0-9 - _ . ~` stay,
/// every other byte becomes `%XX` with upper-case hex (so a space is `%20`, `*` is `%2A`).
pub fn pct_encode(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// [`pct_encode`] into a new string.
pub fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    pct_encode(s, &mut out);
    out
}

/// `k=v&k=v…` with names and values [`pct`]-encoded, sorted by name byte-wise (then by value,
/// so the order is total even if a caller passes repeated names).
pub fn canonical_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        pct_encode(k, &mut out);
        out.push('=');
        pct_encode(v, &mut out);
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_plus_percent_and_keeps_blank_values() {
        let p = Params::from_query("a=x+y&b=%E6%B5%8B%2A~&SignatureType=&flag").unwrap();
        assert_eq!(p.get("a"), Some("x y"));
        assert_eq!(p.get("b"), Some("测*~"));
        assert_eq!(p.get("SignatureType"), Some(""));
        assert_eq!(p.get("flag"), Some(""));
        assert_eq!(p.get("missing"), None);
        assert_eq!(p.len(), 4);
    }

    #[test]
    fn value_may_contain_equals_signs() {
        let p = Params::from_query("Signature=abc%3D&x=a=b").unwrap();
        assert_eq!(p.get("Signature"), Some("abc="));
        assert_eq!(p.get("x"), Some("a=b"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for raw in ["a=%", "a=%4", "a=%zz", "a=%FF", "%C3=1", "a=%E6%B5"] {
            assert!(Params::from_query(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn duplicate_names_are_refused_across_query_and_body() {
        assert!(matches!(
            Params::from_query("a=1&a=1"),
            Err(ApiError::DuplicateParameter(n)) if n == "a"
        ));
        let mut p = Params::from_query("a=1").unwrap();
        assert!(p.extend_form(b"b=2&a=3").is_err());
        let mut p = Params::from_query("a=1").unwrap();
        p.extend_form(b"b=2").unwrap();
        assert_eq!(
            p.from_origin(Origin::Body).collect::<Vec<_>>(),
            [("b", "2")]
        );
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let raw: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert!(Params::from_query(&raw.join("&")).is_err());
        assert!(Params::from_query(&raw[..MAX_PARAMS].join("&")).is_ok());
    }

    #[test]
    fn pct_matches_rfc3986() {
        assert_eq!(pct("a b*~/-_.测"), "a%20b%2A~%2F-_.%E6%B5%8B");
        assert_eq!(pct(""), "");
    }

    #[test]
    fn canonical_query_sorts_by_name() {
        let q = canonical_query([("b", "2 3"), ("A", "x"), ("a", "")].into_iter());
        assert_eq!(q, "A=x&a=&b=2%203");
    }

    proptest! {
        #[test]
        fn pct_then_decode_round_trips(s in any::<String>()) {
            prop_assert_eq!(decode_component(&pct(&s)).unwrap(), s);
        }

        #[test]
        fn arbitrary_query_never_panics(raw in "[a-zA-Z0-9%+=&~*.\\-_]{0,64}") {
            let _ = Params::from_query(&raw);
        }
    }
}
