//! Volcengine HMAC-SHA256 (the `volcengine` SDK's `SignerV4`), signatures.md §3: AWS SigV4 in
//! shape, without the `AWS4` key prefix, scope ending in `request`.
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "HMAC-SHA256" \n X-Date \n yyyymmdd/region/service/request \n hex(sha256(CanonicalRequest))
//! kSigning         = HMAC(HMAC(HMAC(HMAC(secret, yyyymmdd), region), service), "request")
//! Signature        = hex(HMAC(kSigning, StringToSign))
//! ```
//! The query is sorted by key only, stably (repeated keys keep their order); header values are
//! trimmed; `host` is signed as sent. The body hash covers the exact bytes received.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{AuthorizationElements, hex, sha256_hex, unhex};
use crate::common::params::pct_encode;
use crate::error::ApiError;

/// The algorithm name in the `Authorization` header and the string to sign.
pub const ALGORITHM: &str = "HMAC-SHA256";

/// Headers every request must sign (`content-type` too when present, and every `x-*` header
/// sent, as the SDK does).
pub const REQUIRED_SIGNED_HEADERS: [&str; 3] = ["host", "x-date", "x-content-sha256"];

type HmacSha256 = Hmac<Sha256>;

/// The parsed `Authorization` header: `HMAC-SHA256 Credential=<AK>/<yyyymmdd>/<region>/
/// <service>/request, SignedHeaders=<h1;h2>, Signature=<hex>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// `yyyymmdd`.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order the client listed them.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses the header value; anything missing, repeated or malformed is
    /// [`ApiError::IncompleteSignature`].
    pub fn parse(value: &str) -> Result<Authorization, ApiError> {
        let e = AuthorizationElements::parse(value, ALGORITHM)?;
        let malformed = || {
            ApiError::IncompleteSignature(
                "Credential must be AccessKeyId/yyyymmdd/region/service/request".into(),
            )
        };
        let parts: Vec<&str> = e.credential.split('/').collect();
        let [access_key_id, date, region, service, "request"] = parts[..] else {
            return Err(malformed());
        };
        if [access_key_id, region, service]
            .iter()
            .any(|p| p.is_empty())
            || date.len() != 8
            || !date.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(malformed());
        }
        Ok(Authorization {
            access_key_id: access_key_id.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            signed_headers: e.signed_headers,
            signature: e.signature.to_string(),
        })
    }

    /// `yyyymmdd/region/service/request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/request", self.date, self.region, self.service)
    }
}

/// Checks that the request signs [`REQUIRED_SIGNED_HEADERS`], `content-type` when present,
/// every `x-*` header it sends, and only headers it sends.
pub fn check_signed_headers(headers: &HeaderMap, signed: &[String]) -> Result<(), ApiError> {
    super::check_signed_headers(headers, signed, &REQUIRED_SIGNED_HEADERS, |name| {
        name == "content-type" || name.starts_with("x-")
    })
}

/// The query as signed: percent-encoded (RFC 3986 unreserved kept) `k=v` pairs sorted by key,
/// stably, joined with `&`.
pub fn canonical_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
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

/// The canonical request of decoded `query` pairs, the signed headers and the body's hash.
pub fn canonical_request<'a>(
    method: &str,
    query: impl Iterator<Item = (&'a str, &'a str)>,
    headers: &HeaderMap,
    signed_headers: &[String],
    body_sha256: &str,
) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(&method.to_ascii_uppercase());
    out.push_str("\n/\n");
    out.push_str(&canonical_query(query));
    out.push('\n');
    for name in signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(body_sha256);
    out
}

/// `HMAC-SHA256\n<X-Date>\n<scope>\n<hex(sha256(canonical request))>`.
pub fn string_to_sign(x_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{x_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key of `secret` for `date` (yyyymmdd), `region` and `service`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(secret.as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"request")
}

/// The hex signature of `string_to_sign` under `key` ([`signing_key`]).
pub fn sign(key: &[u8], string_to_sign: &str) -> String {
    hex(&hmac(key, string_to_sign.as_bytes()))
}

/// Whether `provided` (hex) is the signature of `string_to_sign` under `key`. Constant-time in
/// the signature bytes.
pub fn verify(key: &[u8], string_to_sign: &str, provided: &str) -> bool {
    let Some(bytes) = unhex(provided) else {
        return false;
    };
    let mut mac =
        HmacSha256::new_from_slice(key).expect("invariant: HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac =
        HmacSha256::new_from_slice(key).expect("invariant: HMAC accepts keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::params::Params;

    const SECRET: &str = "TestSecretAccessKey0123456789==";
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn signing_key_chain_matches_vector_volc_1() {
        let k_date = hmac(SECRET.as_bytes(), b"20261122");
        assert_eq!(
            hex(&k_date),
            "d3a4fa9eac8e8ae5fc4befbccd641363061647375008f8e998b10f2ee7fe4c3e"
        );
        assert_eq!(
            hex(&signing_key(SECRET, "20261122", "cn-north-1", "live")),
            "fe1022c0641d6a7ce2ab8c5ea867d6fc3f0d97c7c0addd104e504c0dba967187"
        );
    }

    #[test]
    fn vector_volc_1_get_list() {
        let auth = Authorization::parse(
            "HMAC-SHA256 Credential=AKLTTestAccessKeyId/20261122/cn-north-1/live/request, SignedHeaders=host;x-content-sha256;x-date, Signature=4a2169737d5604511174ea4d873fbc890642a49e73f1bee794a25b430fbd4626",
        )
        .unwrap();
        assert_eq!(auth.access_key_id, "AKLTTestAccessKeyId");
        assert_eq!(auth.scope(), "20261122/cn-north-1/live/request");
        let q = Params::from_query(
            "Action=ListPullToPushTask&Version=2023-01-01&Page=1&Size=20&Title=relay+%E6%B5%8B%E8%AF%95%2A~",
        )
        .unwrap();
        let h = headers(&[
            ("user-agent", "volc-sdk-python/v1.0.229"),
            ("accept", "application/json"),
            ("host", "127.0.0.1:18041"),
            ("x-date", "20261122T190758Z"),
            ("x-content-sha256", EMPTY),
        ]);
        check_signed_headers(&h, &auth.signed_headers).unwrap();
        let canonical = canonical_request("GET", q.iter(), &h, &auth.signed_headers, EMPTY);
        assert_eq!(
            canonical,
            "GET\n/\nAction=ListPullToPushTask&Page=1&Size=20&Title=relay%20%E6%B5%8B%E8%AF%95%2A~&Version=2023-01-01\nhost:127.0.0.1:18041\nx-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-date:20261122T190758Z\n\nhost;x-content-sha256;x-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign("20261122T190758Z", &auth.scope(), &canonical);
        assert!(sts.ends_with("8b3dd540ae3f0005147f431e749d32e29733140f6b8268a965f46552df194a98"));
        let key = signing_key(SECRET, &auth.date, &auth.region, &auth.service);
        assert_eq!(sign(&key, &sts), auth.signature);
        assert!(verify(&key, &sts, &auth.signature));
        assert!(!verify(&key, &sts, &auth.signature.replace('4', "5")));
        let wrong = signing_key("another secret", &auth.date, &auth.region, &auth.service);
        assert!(!verify(&wrong, &sts, &auth.signature));
    }

    #[test]
    fn vector_volc_2_post_create_with_a_json_body() {
        let body = r#"{"Title": "relay vod", "StartTime": 1795374478, "EndTime": 1795378078, "CallbackURL": "http://callback.example.com/cb?src=relay", "Type": 1, "CycleMode": -1, "SrcAddrS": ["https://vod.example.com/video/a b.mp4", "https://vod.example.com/video/b.mp4?x=1&y=2"], "OffsetS": [0, 1.5], "DstAddr": "rtmp://push.example.com/live/relay01", "GroupName": "default"}"#;
        assert_eq!(body.len(), 355);
        let body_hash = sha256_hex(body.as_bytes());
        assert_eq!(
            body_hash,
            "d58db65d2ebde52ea46ab7457b694fea0879d7be5aa9f938923d636e3629b39b"
        );
        let auth = Authorization::parse(
            "HMAC-SHA256 Credential=AKLTTestAccessKeyId/20261122/cn-north-1/live/request, SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=39f04d0ec5ce8495a63b3b80a5957d497651419c0850fe8a5dbb81d1b7babe4e",
        )
        .unwrap();
        let q = Params::from_query("Action=CreatePullToPushTask&Version=2023-01-01").unwrap();
        let h = headers(&[
            ("host", "127.0.0.1:18041"),
            ("content-type", "application/json"),
            ("x-date", "20261122T190758Z"),
            ("x-content-sha256", &body_hash),
        ]);
        check_signed_headers(&h, &auth.signed_headers).unwrap();
        let canonical = canonical_request("POST", q.iter(), &h, &auth.signed_headers, &body_hash);
        let sts = string_to_sign("20261122T190758Z", &auth.scope(), &canonical);
        assert!(sts.ends_with("314547eb43a0bfad3017d77e421b030a5aa642d591a4afaade5ed0c484ea32f8"));
        let key = signing_key(SECRET, &auth.date, &auth.region, &auth.service);
        assert!(verify(&key, &sts, &auth.signature));
    }

    #[test]
    fn unsigned_x_headers_and_missing_required_ones_are_refused() {
        let signed: Vec<String> = ["host", "x-content-sha256", "x-date"]
            .map(String::from)
            .to_vec();
        let mut h = headers(&[("host", "h"), ("x-date", "d"), ("x-content-sha256", "c")]);
        assert!(check_signed_headers(&h, &signed).is_ok());
        h.insert("x-security-token", "t".parse().unwrap());
        assert!(check_signed_headers(&h, &signed).is_err());
        let h = headers(&[("host", "h"), ("x-date", "d")]);
        assert!(check_signed_headers(&h, &signed).is_err());
    }

    #[test]
    fn malformed_authorizations_are_incomplete() {
        for bad in [
            "",
            "HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=a/20261122/r/s/aws4_request, SignedHeaders=host, Signature=00",
            "HMAC-SHA256 Credential=a/20261122/r/s/request, SignedHeaders=host",
            "HMAC-SHA256 Credential=a/2026112/r/s/request, SignedHeaders=host, Signature=00",
            "HMAC-SHA256 Credential=a/20261122/r/s, SignedHeaders=host, Signature=00",
            "HMAC-SHA256 Credential=/20261122/r/s/request, SignedHeaders=host, Signature=00",
            "HMAC-SHA256 Credential=a/20261122/r/s/request, SignedHeaders=Host, Signature=00",
            "HMAC-SHA256 Credential=a/20261122/r/s/request, SignedHeaders=host;host, Signature=00",
            "HMAC-SHA256 Credential=a/20261122/r/s/request, Signature=00, Signature=01",
        ] {
            assert!(
                matches!(
                    Authorization::parse(bad),
                    Err(ApiError::IncompleteSignature(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn repeated_keys_keep_their_order() {
        let pairs = [("b", "2"), ("a", "z"), ("b", "1")];
        assert_eq!(canonical_query(pairs.into_iter()), "a=z&b=2&b=1");
    }
}
