//! Signature verification against the worked vectors (testdata/signature_vectors.json, from
//! shared/reference/signatures.md) and every Alibaba request captured from the official SDKs
//! (testdata/sdk_wire.jsonl): each verifies, and each tampered copy fails.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use baton_api::aliyun::auth::{Authenticator, Caller, Style};
use baton_api::common::params::{Origin, Params};
use baton_api::common::replay::{Check, SpentCache, nonce_entry};
use baton_api::common::signature::{acs3, rpc, sha256_hex};
use baton_api::{ApiError, StaticKeyStore};
use baton_domain::AccountId;
use serde_json::Value;

const AK: &str = "LTAI5tTestAccessKeyId";
const SECRET: &str = "TestAccessKeySecret0123456789ab";
/// 2026-11-22T19:07:58Z: the captures were taken within a second of it.
const NOW: i64 = 1_795_374_478;

fn vectors() -> Vec<Value> {
    serde_json::from_str(include_str!("../testdata/signature_vectors.json")).unwrap()
}

/// The Alibaba requests of the capture file.
fn captures() -> Vec<Value> {
    include_str!("../testdata/sdk_wire.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["dialect"].as_str().unwrap().starts_with("alibaba"))
        .collect()
}

fn headers_of(pairs: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for pair in pairs.as_array().unwrap() {
        let name = HeaderName::from_bytes(pair[0].as_str().unwrap().as_bytes()).unwrap();
        let value = HeaderValue::from_str(pair[1].as_str().unwrap()).unwrap();
        map.append(name, value);
    }
    map
}

fn keys() -> StaticKeyStore {
    let mut keys = StaticKeyStore::new();
    keys.insert(AK, AccountId("acct".into()), SECRET);
    keys
}

/// One request as the server sees it.
struct Wire {
    method: Method,
    raw_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Wire {
    fn of(http: &Value) -> Wire {
        Wire {
            method: http["method"].as_str().unwrap().parse().unwrap(),
            raw_query: http["raw_query"].as_str().unwrap().to_string(),
            headers: headers_of(&http["headers"]),
            body: http["body"].as_str().unwrap_or("").as_bytes().to_vec(),
        }
    }

    async fn verify(&self, keys: &StaticKeyStore) -> Result<Caller, ApiError> {
        let mut params = Params::from_query(&self.raw_query)?;
        if !self.body.is_empty() {
            params.extend_form(&self.body)?;
        }
        let style = Style::detect(&self.headers, &params);
        let auth = Authenticator {
            keys,
            window: 900,
            now: NOW,
        };
        let caller = auth
            .authenticate(style, &self.method, &self.headers, &params, &self.body)
            .await?;
        assert_eq!(caller.credential.account, AccountId("acct".into()));
        Ok(caller)
    }
}

#[test]
fn worked_vectors_reproduce_every_intermediate() {
    let mut checked = 0;
    for v in vectors() {
        let name = v["name"].as_str().unwrap();
        let secret = v["access_key_secret"].as_str().unwrap();
        let wire = Wire::of(&v["http"]);
        let params = Params::from_query(&wire.raw_query).unwrap();
        // The decoded query, in wire order, matches the vector's.
        let decoded: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let expected: Vec<(String, String)> =
            serde_json::from_value(v["decoded_query"].clone()).unwrap();
        assert_eq!(decoded, expected, "{name}: decoded query");
        match v["algorithm"].as_str().unwrap() {
            "alibaba-rpc-v1" => {
                let sts = rpc::string_to_sign(wire.method.as_str(), &params);
                assert_eq!(sts, v["string_to_sign"].as_str().unwrap(), "{name}");
                assert!(
                    sts.ends_with(&baton_api::common::params::pct(
                        v["canonical"].as_str().unwrap()
                    )),
                    "{name}: canonical"
                );
                assert_eq!(
                    rpc::sign(secret, &sts),
                    v["signature"].as_str().unwrap(),
                    "{name}"
                );
            }
            "alibaba-acs3-hmac-sha256" => {
                let auth = acs3::Authorization::parse(
                    wire.headers.get("authorization").unwrap().to_str().unwrap(),
                )
                .unwrap();
                let hashed = sha256_hex(&wire.body);
                assert_eq!(hashed, v["hashed_payload"].as_str().unwrap(), "{name}");
                let canonical = acs3::canonical_request(
                    wire.method.as_str(),
                    params.from_origin(Origin::Query),
                    &wire.headers,
                    &auth.signed_headers,
                    &hashed,
                );
                assert_eq!(canonical, v["canonical"].as_str().unwrap(), "{name}");
                assert_eq!(
                    sha256_hex(canonical.as_bytes()),
                    v["hashed_canonical_request"].as_str().unwrap()
                );
                let sts = acs3::string_to_sign(&canonical);
                assert_eq!(sts, v["string_to_sign"].as_str().unwrap(), "{name}");
                assert_eq!(
                    acs3::sign(secret, &sts),
                    v["signature"].as_str().unwrap(),
                    "{name}"
                );
            }
            // Volcengine vectors are another dialect's.
            _ => continue,
        }
        checked += 1;
    }
    assert_eq!(checked, 5, "two RPC-1/RPC-2 + new-rpc-v1 + two V3 vectors");
}

#[tokio::test]
async fn every_captured_alibaba_request_verifies() {
    let captures = captures();
    assert_eq!(captures.len(), 30);
    let keys = keys();
    // Authentication spends nothing: each caller carries its nonce and signed time, which the
    // pipeline spends later. Each capture's is its own; the same bytes give the same entry.
    let spent = SpentCache::new(1000);
    for c in &captures {
        let wire = Wire::of(c);
        let label = c["label"].as_str().unwrap();
        let caller = wire
            .verify(&keys)
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert!((caller.signed_at - NOW).abs() <= 1, "{label}");
        let entry = nonce_entry(&caller.access_key_id, &caller.nonce, caller.signed_at, 900);
        assert_eq!(spent.check_and_insert(entry, NOW), Check::Fresh, "{label}");
    }
    assert_eq!(spent.len(), 30);
    for c in &captures {
        let caller = Wire::of(c).verify(&keys).await.unwrap();
        let entry = nonce_entry(&caller.access_key_id, &caller.nonce, caller.signed_at, 900);
        assert_eq!(
            spent.check_and_insert(entry, NOW),
            Check::Replayed,
            "{}",
            c["label"]
        );
    }
}

#[tokio::test]
async fn tampered_captures_fail() {
    let keys = keys();
    for c in &captures() {
        let label = c["label"].as_str().unwrap();

        // A query value changed (Region is in every request).
        let mut w = Wire::of(c);
        assert!(w.raw_query.contains("cn-shanghai") || w.raw_query.contains("push.example.com"));
        w.raw_query = w
            .raw_query
            .replacen("cn-shanghai", "cn-beijing", 1)
            .replacen("push.example.com", "push.example.org", 1);
        assert!(
            matches!(
                w.verify(&keys).await,
                Err(ApiError::SignatureMismatch { .. })
            ),
            "{label}: query"
        );

        // A parameter added in a form body.
        let mut w = Wire::of(c);
        w.body = b"Extra=1".to_vec();
        w.headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let err = w.verify(&keys).await.unwrap_err();
        assert!(
            matches!(
                err,
                ApiError::SignatureMismatch { .. }
                    | ApiError::ContentHashMismatch
                    | ApiError::IncompleteSignature(_)
            ),
            "{label}: body: {err:?}"
        );

        // The wrong secret.
        let mut wrong = StaticKeyStore::new();
        wrong.insert(AK, AccountId("acct".into()), "NotTheSecret0123456789");
        assert!(
            matches!(
                Wire::of(c).verify(&wrong).await,
                Err(ApiError::SignatureMismatch { .. })
            ),
            "{label}: secret"
        );

        // An unknown key.
        assert_eq!(
            Wire::of(c)
                .verify(&StaticKeyStore::new())
                .await
                .unwrap_err(),
            ApiError::UnknownAccessKey,
            "{label}"
        );

        // The Host header, for V3 (RPC v1 does not sign headers).
        if c["dialect"] == "alibaba-v3" {
            let mut w = Wire::of(c);
            w.headers
                .insert("host", HeaderValue::from_static("127.0.0.1:18042"));
            assert!(
                matches!(
                    w.verify(&keys).await,
                    Err(ApiError::SignatureMismatch { .. })
                ),
                "{label}: host"
            );
            // The body changed under an unchanged content hash header.
            let mut w = Wire::of(c);
            w.body = b"x".to_vec();
            assert_eq!(
                w.verify(&keys).await.unwrap_err(),
                ApiError::ContentHashMismatch,
                "{label}"
            );
        }
    }
}

#[tokio::test]
async fn captured_requests_outside_the_window_are_refused() {
    let keys = keys();
    for c in &captures() {
        let wire = Wire::of(c);
        let mut params = Params::from_query(&wire.raw_query).unwrap();
        params.extend_form(&wire.body).unwrap();
        let style = Style::detect(&wire.headers, &params);
        for now in [NOW + 901 + 1, NOW - 901 - 1] {
            let auth = Authenticator {
                keys: &keys,
                window: 900,
                now,
            };
            let err = auth
                .authenticate(style, &wire.method, &wire.headers, &params, &wire.body)
                .await
                .unwrap_err();
            assert_eq!(err, ApiError::TimestampExpired, "{}", c["label"]);
        }
    }
}

/// Every request the `volcengine` SDK sent (secret `TestSecretAccessKey0123456789==`, as in
/// signatures.md §3) verifies with the Volcengine algorithm, and a tampered body does not.
#[test]
fn volcengine_captures_verify() {
    use baton_api::common::signature::volc;
    const VOLC_SECRET: &str = "TestSecretAccessKey0123456789==";
    let captures: Vec<Value> = include_str!("../testdata/sdk_wire.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|c| c["dialect"] == "volcengine")
        .collect();
    assert!(
        captures.len() >= 8,
        "{} volcengine captures",
        captures.len()
    );
    for c in &captures {
        let label = c["label"].as_str().unwrap();
        let wire = Wire::of(c);
        let auth = volc::Authorization::parse(wire.headers["authorization"].to_str().unwrap())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        volc::check_signed_headers(&wire.headers, &auth.signed_headers)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let params = Params::from_query(&wire.raw_query).unwrap();
        let x_date = wire.headers["x-date"].to_str().unwrap();
        assert!(x_date.starts_with(&auth.date), "{label}");
        let key = volc::signing_key(VOLC_SECRET, &auth.date, &auth.region, &auth.service);
        let signed = |body: &[u8]| {
            let hash = sha256_hex(body);
            let canonical = volc::canonical_request(
                wire.method.as_str(),
                params.iter(),
                &wire.headers,
                &auth.signed_headers,
                &hash,
            );
            volc::verify(
                &key,
                &volc::string_to_sign(x_date, &auth.scope(), &canonical),
                &auth.signature,
            )
        };
        assert!(signed(&wire.body), "{label}: signature");
        let declared = wire.headers["x-content-sha256"].to_str().unwrap();
        assert_eq!(declared, sha256_hex(&wire.body), "{label}: body hash");
        let mut tampered = wire.body.clone();
        tampered.push(b' ');
        assert!(!signed(&tampered), "{label}: tampered body");
    }
}
