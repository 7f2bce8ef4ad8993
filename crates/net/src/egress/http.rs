//! HTTP(S) requests through an account's [`Egress`]: every hop's address checked, the
//! connection pinned to the checked addresses, redirects followed here (bounded), proxies
//! never used (the policy must see the address actually connected).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode, Url};

use super::{Egress, EgressError, EgressRefusal};
use crate::tls::{TlsError, certificate_error};

/// Redirects a source request follows at most (browsers allow 20; media origins and CDNs
/// need one or two).
pub const MAX_REDIRECTS: usize = 5;

/// Why a request through the egress policy failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Egress(#[from] EgressRefusal),
    /// The host name did not resolve.
    #[error("{0}")]
    Lookup(String),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The HTTPS server's certificate was rejected ([`TlsError::Certificate`]): not
    /// retryable, the same server presents the same certificate.
    #[error(transparent)]
    Certificate(TlsError),
    /// A URL (given, or a redirect's target) that cannot be requested.
    #[error("{0}")]
    Url(String),
    /// More redirects than allowed, or a redirect to something that is not http(s).
    #[error("{0}")]
    Redirect(String),
}

impl From<EgressError> for HttpError {
    fn from(e: EgressError) -> Self {
        match e {
            EgressError::Refused(r) => HttpError::Egress(r),
            EgressError::Lookup { .. } => HttpError::Lookup(e.to_string()),
        }
    }
}

/// Sends the request `build` makes for `url` (called again for each redirect's target),
/// following at most `max_redirects` redirects (301, 302, 303, 307, 308); with 0, a redirect
/// is returned as the response. Every hop goes only where `egress` allows.
pub async fn send(
    egress: &Egress,
    url: &str,
    max_redirects: usize,
    build: impl Fn(&Client, Url) -> RequestBuilder,
) -> Result<Response, HttpError> {
    let mut url = Url::parse(url).map_err(|e| HttpError::Url(format!("{url}: {e}")))?;
    let mut hops = 0;
    loop {
        let client = match client_for(egress, &url).await {
            Err(HttpError::Egress(mut refusal)) => {
                refusal.redirected = hops > 0;
                return Err(HttpError::Egress(refusal));
            }
            other => other?,
        };
        let response = build(&client, url.clone())
            .send()
            .await
            .map_err(|e| from_reqwest(e, &url))?;
        let Some(next) = redirect_target(&response, &url) else {
            return Ok(response);
        };
        if max_redirects == 0 {
            return Ok(response);
        }
        if hops == max_redirects {
            return Err(HttpError::Redirect(format!(
                "more than {max_redirects} redirects"
            )));
        }
        if !matches!(next.scheme(), "http" | "https") {
            return Err(HttpError::Redirect(format!(
                "redirect to a {}: URL",
                next.scheme()
            )));
        }
        hops += 1;
        url = next;
    }
}

/// A failed request's error: a rejected certificate named as such (reqwest reports it as
/// a connect error, which would be retried), anything else as reqwest said it.
pub fn from_reqwest(e: reqwest::Error, url: &Url) -> HttpError {
    match certificate_error(url.host_str().unwrap_or_default(), &e) {
        Some(tls) => HttpError::Certificate(tls),
        None => HttpError::Http(e),
    }
}

/// The target of a redirect response (its `Location` against the request's URL).
fn redirect_target(response: &Response, url: &Url) -> Option<Url> {
    if !matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = response.headers().get(reqwest::header::LOCATION)?;
    url.join(location.to_str().ok()?).ok()
}

/// How long a client pinned to a name's checked addresses is reused before the name is
/// resolved and checked again (a DNS TTL's order of magnitude).
pub const PINNED_TTL: Duration = Duration::from_secs(30);

/// Pinned clients an [`Egress`] keeps, at most (a task talks to one or two hosts).
const MAX_PINNED: usize = 8;

/// The clients an [`Egress`] (and its clones) pinned, by host and port: an HLS relay's
/// playlist reloads and segment requests reuse one keep-alive connection (and one TLS
/// session) instead of building a client and connecting for each request.
#[derive(Debug, Default)]
pub struct PinnedClients {
    entries: Mutex<Vec<Pinned>>,
    /// The one client of an unrestricted egress that trusts an operator's CA.
    unrestricted: OnceLock<Client>,
}

#[derive(Debug)]
struct Pinned {
    host: String,
    port: u16,
    addrs: Vec<SocketAddr>,
    client: Client,
    until: tokio::time::Instant,
}

impl PinnedClients {
    /// A fresh client for `host:port` whose addresses `egress` still allows.
    fn get(&self, egress: &Egress, host: &str, port: u16) -> Option<Client> {
        let now = tokio::time::Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|p| p.until > now);
        let pinned = entries.iter().find(|p| p.host == host && p.port == port)?;
        // The policy is checked again on every reuse (cheap): a client never outlives the
        // rules that allowed its addresses.
        pinned
            .addrs
            .iter()
            .all(|&a| egress.check(a).is_ok())
            .then(|| pinned.client.clone())
    }

    fn put(&self, host: &str, port: u16, addrs: Vec<SocketAddr>, client: Client) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|p| !(p.host == host && p.port == port));
        if entries.len() >= MAX_PINNED {
            entries.remove(0);
        }
        entries.push(Pinned {
            host: host.to_string(),
            port,
            addrs,
            client,
            until: tokio::time::Instant::now() + PINNED_TTL,
        });
    }
}

/// A client that connects to `url`'s host only at addresses `egress` allows, and follows no
/// redirect. The name is resolved and checked at most every [`PINNED_TTL`]; in between, the
/// same client (and its pooled connections) is reused. [`send`] asks for one per hop.
pub async fn client_for(egress: &Egress, url: &Url) -> Result<Client, HttpError> {
    if !egress.is_restricted() {
        return unrestricted_client(egress);
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| HttpError::Url(format!("{url}: no port")))?;
    let (host, literal) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
        Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
        Some(url::Host::Domain(name)) => (name.to_string(), None),
        None => return Err(HttpError::Url(format!("{url}: no host"))),
    };
    if let Some(ip) = literal {
        egress.check(SocketAddr::new(ip, port))?;
    }
    if let Some(client) = egress.pinned.get(egress, &host, port) {
        return Ok(client);
    }
    let mut builder = trusting(
        Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(NoLookups)),
        egress,
    )?;
    let addrs = match literal {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => {
            let addrs = egress.resolve(&host, port).await?;
            builder = builder.resolve_to_addrs(&host, &addrs);
            addrs
        }
    };
    let client = builder.build()?;
    egress.pinned.put(&host, port, addrs, client.clone());
    Ok(client)
}

/// The client of unrestricted egress: shared (pooled connections), redirects left to
/// [`send`]. With the web PKI roots alone it is one client per process; an egress that
/// trusts an operator's CA keeps its own (in [`PinnedClients`], shared by its clones).
fn unrestricted_client(egress: &Egress) -> Result<Client, HttpError> {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    let shared = egress.tls().extra_roots() == 0;
    let cached = if shared {
        CLIENT.get().cloned()
    } else {
        egress.pinned.unrestricted.get().cloned()
    };
    if let Some(client) = cached {
        return Ok(client);
    }
    let client = trusting(
        Client::builder().redirect(reqwest::redirect::Policy::none()),
        egress,
    )?
    .build()?;
    let cell = if shared {
        &CLIENT
    } else {
        &egress.pinned.unrestricted
    };
    Ok(cell.get_or_init(|| client).clone())
}

/// `builder` trusting the operator's CA certificates besides the web PKI roots reqwest
/// bundles (the same `webpki-roots` set [`crate::tls`] trusts), so `https://` and `rtmps://`
/// sources agree on whom they trust.
fn trusting(
    mut builder: reqwest::ClientBuilder,
    egress: &Egress,
) -> Result<reqwest::ClientBuilder, HttpError> {
    for der in egress.tls().extra_root_certificates() {
        builder = builder.add_root_certificate(reqwest::Certificate::from_der(der)?);
    }
    Ok(builder)
}

/// The resolver of pinned clients: every name they may reach was resolved and checked
/// before the client was built (`resolve_to_addrs`), so any other lookup is refused.
#[derive(Debug)]
struct NoLookups;

impl reqwest::dns::Resolve for NoLookups {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let message = format!(
            "{} was not resolved through the egress policy",
            name.as_str()
        );
        Box::pin(async move { Err(message.into()) })
    }
}
