//! A certificate's subject or issuer as text (RFC 4514 style, `CN=…,O=…,C=…`), for status
//! and logs: an operator looking at a slow or refused push wants to see whom the server
//! claims to be and who vouched for it.
//!
//! The input is the DER `Name` (RFC 5280 §4.1.2.4) without its outer SEQUENCE header, as
//! `webpki::Cert::subject` gives it: a sequence of RDN SETs of (OID, string) pairs
//! (X.690 §8.1 TLV). It comes from the network, so the reader is bounded and total: anything
//! malformed ends the rendering with what was read, nothing panics. Attributes without a
//! short name here are left out (the list covers what public CAs put in names).

/// Longest rendering kept (bytes); longer ones end in `…`.
const MAX_LEN: usize = 256;

/// `name` as `CN=…,OU=…,O=…,L=…,ST=…,C=…`: RDNs in reverse order as RFC 4514 §2.1 writes
/// them, `,` `+` `"` `\` `<` `>` `;` escaped with `\` (§2.4), control characters shown as `?`.
pub fn render(name: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut rest = name;
    while let Some((0x31, set, after)) = tlv(rest) {
        rest = after;
        let mut attrs = set;
        while let Some((0x30, pair, after)) = tlv(attrs) {
            attrs = after;
            if let Some(text) = attribute(pair) {
                parts.push(text);
            }
        }
    }
    parts.reverse();
    let mut out = parts.join(",");
    if out.len() > MAX_LEN {
        let mut cut = MAX_LEN;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// One `AttributeTypeAndValue` as `SHORT=value`, if its type has a short name and its value
/// is a string.
fn attribute(pair: &[u8]) -> Option<String> {
    let (0x06, oid, rest) = tlv(pair)? else {
        return None;
    };
    let short = match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        _ => return None,
    };
    let (tag, value, _) = tlv(rest)?;
    let value: String = match tag {
        // UTF8String, PrintableString, TeletexString (read as Latin-1 would be wrong for
        // T.61, but public CAs use it only for ASCII), IA5String.
        0x0c | 0x13 | 0x14 | 0x16 => String::from_utf8_lossy(value).into_owned(),
        // BMPString: UTF-16BE.
        0x1e => {
            let units = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        _ => return None,
    };
    let mut text = format!("{short}=");
    for c in value.chars() {
        // RFC 4514 §2.4: these are escaped so `,` still separates attributes.
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
            text.push('\\');
        }
        text.push(if c.is_control() { '?' } else { c });
    }
    Some(text)
}

/// One DER TLV at the start of `b`: (tag, contents, what follows). Single-byte tags and
/// definite lengths of up to 3 length bytes (DER, X.690 §10.1); `None` for anything else or
/// a length past the end.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of one RDN SET holding `oid` = UTF8String `value`.
    fn rdn(oid: u8, tag: u8, value: &[u8]) -> Vec<u8> {
        let mut pair = vec![0x06, 0x03, 0x55, 0x04, oid, tag, value.len() as u8];
        pair.extend_from_slice(value);
        let mut seq = vec![0x30, pair.len() as u8];
        seq.extend(pair);
        let mut set = vec![0x31, seq.len() as u8];
        set.extend(seq);
        set
    }

    #[test]
    fn a_name_reads_in_rfc_4514_order_with_each_string_kind() {
        let mut name = rdn(0x06, 0x13, b"US");
        name.extend(rdn(0x0a, 0x0c, "Let’s Encrypt, Inc.".as_bytes()));
        name.extend(rdn(0x03, 0x1e, &[0, b'R', 0, b'3']));
        assert_eq!(render(&name), "CN=R3,O=Let’s Encrypt\\, Inc.,C=US");
    }

    #[test]
    fn unknown_attributes_are_left_out_and_control_characters_masked() {
        let mut name = rdn(0x2a, 0x0c, b"unknown type");
        name.extend(rdn(0x03, 0x0c, b"evil\x1b[31m"));
        assert_eq!(render(&name), "CN=evil?[31m");
    }

    #[test]
    fn any_bytes_render_without_panicking_and_stay_bounded() {
        assert_eq!(render(&[]), "");
        let mut name = rdn(0x03, 0x0c, b"ok");
        name.extend([0x31, 0x82, 0xff, 0xff, 0x30]);
        assert_eq!(render(&name), "CN=ok", "a truncated RDN ends the name");
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 0x30) as u8).collect();
            render(&bytes);
        }
        let long: Vec<u8> = (0..40).flat_map(|_| rdn(0x0b, 0x0c, &[b'x'; 20])).collect();
        let text = render(&long);
        assert!(
            text.len() <= MAX_LEN + '…'.len_utf8() && text.ends_with('…'),
            "{text}"
        );
    }

    proptest::proptest! {
        /// Network bytes: any input renders, bounded, without panicking.
        #[test]
        fn arbitrary_bytes_render_bounded(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let text = render(&bytes);
            proptest::prop_assert!(text.len() <= MAX_LEN + '…'.len_utf8());
        }
    }
}
