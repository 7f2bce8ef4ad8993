//! Task event callbacks on the wire: an HTTP POST of a JSON body, signed so the receiver can
//! check it came from Baton and was not replayed.
//!
//! Signature: `X-Baton-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with
//! `X-Baton-Timestamp: <unix seconds>` (the receiver rejects stale timestamps) and
//! `X-Baton-Event-Id` (the receiver deduplicates: delivery is at least once). The secret is
//! the account's callback secret — never an API credential: a receiver holds it.
//!
//! A task created with `ReqAuth=yes` and an `AuthKey` also gets the provider's callback
//! authentication (Alibaba's "Callback authentication" for its other callbacks, with
//! `NotifyReqAuth` / `NotifyAuthKey`): `ALI-LIVE-TIMESTAMP: <unix seconds>` (the same instant
//! as `X-Baton-Timestamp`) and `ALI-LIVE-SIGNATURE: <32 lower-case hex digits of
//! md5("<callback host>|<ALI-LIVE-TIMESTAMP>|<AuthKey>")>`, the callback host being the host
//! of the task's CallbackUrl as written there (no port; an IPv6 address in brackets).

use std::time::Duration;

use baton_domain::UnixTime;
use baton_net::egress::http::HttpError;
use baton_net::egress::{self, Egress, EgressRefusal};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Baton-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Baton-Timestamp";
pub const EVENT_ID_HEADER: &str = "X-Baton-Event-Id";
/// The provider's callback timestamp header (Unix seconds).
pub const ALI_TIMESTAMP_HEADER: &str = "ALI-LIVE-TIMESTAMP";
/// The provider's callback signature header.
pub const ALI_SIGNATURE_HEADER: &str = "ALI-LIVE-SIGNATURE";

/// Time allowed for one delivery attempt (the providers use 5 s).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// One event to deliver.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub url: &'a str,
    pub event_id: &'a str,
    pub body: &'a [u8],
    pub secret: &'a [u8],
    /// The task's `AuthKey` when it asked for the provider's signature (`ReqAuth=yes`).
    pub auth_key: Option<&'a str>,
}

/// Why an attempt failed (the event is retried later, except after an egress refusal:
/// see [`DeliveryError::is_retryable`]).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("callback request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("callback answered HTTP {0}")]
    Status(u16),
    /// The account may not reach the callback's address: nothing was sent.
    #[error(transparent)]
    Egress(EgressRefusal),
    /// The URL cannot be requested, or its host did not resolve.
    #[error("callback URL: {0}")]
    Url(String),
    /// The callback server's TLS certificate was rejected (the message says why).
    #[error("callback {0}")]
    Certificate(baton_net::tls::TlsError),
}

impl DeliveryError {
    /// Whether another attempt may succeed: not when the egress policy refused the address.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, DeliveryError::Egress(_))
    }
}

/// The longest delivery error kept with an event (bytes; longer ones are cut at a character
/// boundary and end in `…`).
pub const MAX_ERROR_LEN: usize = 200;

impl DeliveryError {
    /// A short account of the failure for the task's event log: the HTTP status, a connect
    /// error, a timeout, the egress refusal. Never the callback URL's query (where receivers
    /// put tokens) or user info, so never a secret; at most [`MAX_ERROR_LEN`] bytes.
    pub fn summary(&self) -> String {
        let text = match self {
            DeliveryError::Status(code) => format!("HTTP {code}"),
            DeliveryError::Http(e) if e.is_timeout() => {
                format!("timed out after {} s", ATTEMPT_TIMEOUT.as_secs())
            }
            DeliveryError::Http(e) if e.is_connect() => {
                format!("connect error: {}", root_cause(e))
            }
            DeliveryError::Http(e) => format!("request failed: {}", root_cause(e)),
            DeliveryError::Egress(r) => r.to_string(),
            DeliveryError::Url(m) => format!("callback URL: {m}"),
            DeliveryError::Certificate(e) => e.to_string(),
        };
        error_summary(&text)
    }
}

/// `text` without URLs' queries, fragments and user info, cut to [`MAX_ERROR_LEN`].
pub fn error_summary(text: &str) -> String {
    let clean: Vec<String> = text.split(' ').map(redact_url).collect();
    let clean = clean.join(" ");
    if clean.len() <= MAX_ERROR_LEN {
        return clean;
    }
    let mut end = MAX_ERROR_LEN - '…'.len_utf8();
    while !clean.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &clean[..end])
}

/// One word of an error text: a URL keeps its scheme, host and path only.
fn redact_url(word: &str) -> String {
    let Some(scheme_end) = word.find("://") else {
        return word.to_string();
    };
    let (head, rest) = word.split_at(scheme_end + 3);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // The query or fragment runs to the end of the word, but for closing punctuation.
    let tail = match tail.find(['?', '#']) {
        Some(q) => {
            let closing: String = tail[q..]
                .chars()
                .rev()
                .take_while(|c| matches!(c, ')' | ']' | ',' | ';' | '"' | '\''))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            format!("{}?…{closing}", &tail[..q])
        }
        None => tail.to_string(),
    };
    format!("{head}{host}{tail}")
}

/// The innermost cause of `e` (an OS error such as "Connection refused (os error 111)"), or
/// `e` itself without its URL.
fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if std::ptr::addr_eq(cause, e as &dyn std::error::Error) {
        return e.to_string();
    }
    cause.to_string()
}

impl From<HttpError> for DeliveryError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Egress(r) => DeliveryError::Egress(r),
            HttpError::Http(e) => DeliveryError::Http(e),
            HttpError::Certificate(e) => DeliveryError::Certificate(e),
            HttpError::Lookup(m) | HttpError::Url(m) | HttpError::Redirect(m) => {
                DeliveryError::Url(m)
            }
        }
    }
}

/// The client to deliver to `url` with: only where the account's `egress` allows (the host
/// resolved once and the connection pinned to the checked addresses), and never following a
/// redirect — a 3xx is a failed attempt, not a POST (or GET) somewhere else.
pub async fn client(egress: &Egress, url: &str) -> Result<reqwest::Client, DeliveryError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| DeliveryError::Url(format!("{url}: {e}")))?;
    Ok(egress::http::client_for(egress, &parsed).await?)
}

/// `v1=<hex>` for `body` sent at `timestamp`.
pub fn sign(secret: &[u8], timestamp: UnixTime, body: &[u8]) -> String {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 64);
    out.push_str("v1=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `ALI-LIVE-SIGNATURE` for a callback to `url` at `timestamp`: hex md5 of
/// `"<host>|<timestamp>|<auth_key>"` (Alibaba, "Callback authentication": "MD5Content =
/// callback domain|ALI-LIVE-TIMESTAMP|NotifyAuthKey"). `None` for a URL without a host.
pub fn ali_signature(url: &str, timestamp: UnixTime, auth_key: &str) -> Option<String> {
    use md5::{Digest, Md5};
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    let digest = Md5::digest(format!("{host}|{timestamp}|{auth_key}").as_bytes());
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Sends one attempt. 2xx is delivered; anything else is an error to retry.
pub async fn deliver(
    client: &reqwest::Client,
    delivery: &Delivery<'_>,
    now: UnixTime,
) -> Result<(), DeliveryError> {
    let mut request = client
        .post(delivery.url)
        .timeout(ATTEMPT_TIMEOUT)
        .header("Content-Type", "application/json")
        .header(TIMESTAMP_HEADER, now.to_string())
        .header(EVENT_ID_HEADER, delivery.event_id)
        .header(SIGNATURE_HEADER, sign(delivery.secret, now, delivery.body));
    if let Some(signature) = delivery
        .auth_key
        .and_then(|key| ali_signature(delivery.url, now, key))
    {
        request = request
            .header(ALI_TIMESTAMP_HEADER, now.to_string())
            .header(ALI_SIGNATURE_HEADER, signature);
    }
    let response = request
        .body(delivery.body.to_vec())
        .send()
        .await
        .map_err(|e| {
            let url = reqwest::Url::parse(delivery.url).ok();
            match url {
                Some(url) => egress::http::from_reqwest(e, &url).into(),
                None => DeliveryError::Http(e),
            }
        })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(status.as_u16()))
    }
}

/// The wait before attempt `attempt` (1-based retries): 1 s doubling to 10 minutes.
pub fn retry_delay(attempt: u32) -> Duration {
    Duration::from_secs((1u64 << attempt.min(10)).min(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_summaries_are_short_and_keep_no_query_or_user_info() {
        assert_eq!(DeliveryError::Status(503).summary(), "HTTP 503");
        assert_eq!(
            DeliveryError::Url(
                "http://u:pw@hooks.example/cb?token=abc#frag: relative URL without a base".into()
            )
            .summary(),
            "callback URL: http://hooks.example/cb?… relative URL without a base"
        );
        assert_eq!(
            error_summary("see (https://h.example:8443/a/b?k=v), then"),
            "see (https://h.example:8443/a/b?…), then"
        );
        assert_eq!(error_summary("no url here"), "no url here");
        let long = error_summary(&"é".repeat(300));
        assert!(long.len() <= MAX_ERROR_LEN && long.ends_with('…'), "{long}");
    }

    #[test]
    fn signature_matches_an_independent_hmac() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"k",b"1700000000.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"k", 1_700_000_000, b"{}"),
            "v1=c6ef4734033cee2367414a0939385eca0397754aa7a59716da7463a9298b5146"
        );
        assert_ne!(
            sign(b"k", 1_700_000_000, b"{}"),
            sign(b"k", 1_700_000_001, b"{}")
        );
        assert_ne!(
            sign(b"k", 1_700_000_000, b"{}"),
            sign(b"j", 1_700_000_000, b"{}")
        );
    }

    #[test]
    fn ali_signature_matches_the_providers_example_and_an_independent_md5() {
        // The provider's example: md5sum(learn.aliyundoc.com|1519375990|yourkey);
        // python3 -c 'import hashlib;print(hashlib.md5(b"learn.aliyundoc.com|1519375990|yourkey").hexdigest())'
        assert_eq!(
            ali_signature(
                "https://learn.aliyundoc.com/your/callback",
                1_519_375_990,
                "yourkey"
            )
            .as_deref(),
            Some("9e226fc2c250be266e3657e156f68c12")
        );
        // The host without port, user info, path or query.
        assert_eq!(
            ali_signature(
                "http://u:p@learn.aliyundoc.com:8080/cb?x=1",
                1_519_375_990,
                "yourkey"
            ),
            ali_signature("https://learn.aliyundoc.com/", 1_519_375_990, "yourkey"),
        );
        assert_eq!(ali_signature("not a url", 1, "k"), None);
    }

    #[test]
    fn retries_back_off_to_ten_minutes() {
        assert_eq!(retry_delay(0), Duration::from_secs(1));
        assert_eq!(retry_delay(3), Duration::from_secs(8));
        assert_eq!(retry_delay(30), Duration::from_secs(600));
    }
}
