//! Egress: where a tenant's task may make Baton connect — its live source (RTMP, HTTP-FLV),
//! its playlist items, its callbacks.
//!
//! [`EgressPolicy`] decides, purely, whether an account may reach an `ip:port` (the rules are
//! listed in [`policy`]). [`Egress`] is one account's view of it, and the only way those
//! connections are made:
//!
//! * **Checked on the address connected.** A host name is resolved once, each address is
//!   checked, and the connection is made only to the addresses that passed — never by a
//!   second lookup — so DNS rebinding (a name that answers a public address to a check and a
//!   private one to the connect) cannot slip past. IP literals are checked as they are, in
//!   whatever form the URL wrote them (`2130706433`, `0x7f.1` and `::ffff:127.0.0.1` are
//!   127.0.0.1 by then: the URL parser or the system resolver normalised them).
//! * **RTMP** ([`EgressDialer`]): wraps the [`Dialer`](crate::transport::Dialer); it dials IP
//!   literals only.
//! * **HTTP** ([`http`]): one reqwest client per host, pinned to the checked addresses
//!   (`resolve_to_addrs`, and a resolver that refuses any other lookup) and reused by the
//!   `Egress` and its clones for [`http::PINNED_TTL`] (the addresses re-checked on each
//!   reuse; then the name is resolved and checked again), without proxies and
//!   without reqwest's own redirect handling: redirects are followed here, a bounded number,
//!   each target checked like the first URL. Callbacks follow none. (A filtering reqwest
//!   resolver alone would not do: it sees the host name but not the port, and Baton's API
//!   listener is a port.)
//!
//! A refusal is an [`EgressRefusal`]: nothing was sent to the target, and its message names
//! the rule and the setting that changes it, never anything a server answered.

pub mod http;
pub mod policy;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use policy::{AddressClass, EgressPolicy, EgressRefusal, EgressRules, Rule, parse_net};

use crate::tls::TlsClient;
use crate::transport::{BoxReader, BoxWriter, DialFuture, Dialer};

/// One account's egress: the policy and whose connections these are. Cheap to clone; clones
/// share the HTTP clients already pinned to checked addresses ([`http::client_for`]), so one
/// task's requests to one host reuse a connection.
#[derive(Clone, Debug)]
pub struct Egress {
    policy: Arc<EgressPolicy>,
    account: Arc<str>,
    pinned: Arc<http::PinnedClients>,
    /// Whom HTTPS connections trust: the web PKI roots plus the operator's CA file, the same
    /// trust as `rtmps://` ([`Egress::with_tls`]).
    tls: TlsClient,
}

/// Why a host could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error(transparent)]
    Refused(#[from] EgressRefusal),
    /// The name did not resolve (or to nothing).
    #[error("cannot resolve {host}: {reason}")]
    Lookup { host: String, reason: String },
}

impl Egress {
    pub fn new(policy: Arc<EgressPolicy>, account: &str) -> Egress {
        Egress {
            policy,
            account: account.into(),
            pinned: Arc::default(),
            tls: TlsClient::default(),
        }
    }

    /// The same egress, its HTTPS requests trusting `tls`'s roots (the web PKI roots and the
    /// operator's `[tls] ca_file`) instead of the web PKI roots alone.
    pub fn with_tls(mut self, tls: TlsClient) -> Egress {
        self.tls = tls;
        self.pinned = Arc::default();
        self
    }

    /// The same policy and trust for another account (its own pinned clients).
    pub fn for_account(&self, account: &str) -> Egress {
        Egress::new(Arc::clone(&self.policy), account).with_tls(self.tls.clone())
    }

    /// Whom this egress's HTTPS requests trust.
    pub fn tls(&self) -> &TlsClient {
        &self.tls
    }

    /// No checks at all (the operator's own `baton relay`, tests).
    pub fn unrestricted() -> Egress {
        Egress::new(Arc::new(EgressPolicy::unrestricted()), "")
    }

    pub fn is_restricted(&self) -> bool {
        self.policy.is_restricted()
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Whether this account may make Baton listen on a port of its host (see
    /// [`EgressPolicy::may_listen`]).
    pub fn may_listen(&self) -> Result<(), String> {
        self.policy.may_listen(&self.account)
    }

    /// Whether this account may connect to `addr`.
    pub fn check(&self, addr: SocketAddr) -> Result<(), EgressRefusal> {
        self.policy.allow(&self.account, addr)
    }

    /// The addresses of `host:port` this account may connect to: an IP literal checked as it
    /// is, a name resolved once and its addresses filtered (the first refusal is the error
    /// when none passes). Connect only to what this returns.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        if let Some(ip) = ip_literal(host) {
            let addr = SocketAddr::new(ip, port);
            self.check(addr)?;
            return Ok(vec![addr]);
        }
        let lookup_error = |reason: String| EgressError::Lookup {
            host: host.to_string(),
            reason,
        };
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| lookup_error(e.to_string()))?
            .collect();
        let mut refusal = None;
        let mut allowed = Vec::with_capacity(resolved.len());
        for addr in resolved {
            match self.check(addr) {
                Ok(()) => allowed.push(addr),
                Err(e) => {
                    tracing::info!(account = %self.account, host, %addr, rule = ?e.rule, "egress refused a resolved address");
                    refusal.get_or_insert(e);
                }
            }
        }
        match (allowed.is_empty(), refusal) {
            (false, _) => Ok(allowed),
            (true, Some(mut refusal)) => {
                refusal.host = Some(host.to_string());
                Err(refusal.into())
            }
            (true, None) => Err(lookup_error("no addresses".into())),
        }
    }
}

/// The IP of a host that is an IP literal (an IPv6 one with or without brackets); `None`
/// for a name.
pub fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The egress refusal that caused an I/O error, if one did (see [`EgressDialer`]).
pub fn refusal_of(e: &io::Error) -> Option<&EgressRefusal> {
    e.get_ref()?.downcast_ref::<EgressRefusal>()
}

/// A [`Dialer`] that connects only where an account may: resolves the host once, checks
/// every address, and dials the inner dialer with the checked IP literals, in order, until
/// one connects. A refusal is an `io::Error` of kind `PermissionDenied` carrying the
/// [`EgressRefusal`] ([`refusal_of`]).
#[derive(Debug)]
pub struct EgressDialer {
    inner: Arc<dyn Dialer>,
    egress: Egress,
}

impl EgressDialer {
    pub fn new(inner: Arc<dyn Dialer>, egress: Egress) -> EgressDialer {
        EgressDialer { inner, egress }
    }
}

impl Dialer for EgressDialer {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        if !self.egress.is_restricted() {
            return self.inner.dial(host, port);
        }
        let (inner, egress, host) = (
            Arc::clone(&self.inner),
            self.egress.clone(),
            host.to_string(),
        );
        Box::pin(async move {
            let addrs = egress.resolve(&host, port).await.map_err(|e| match e {
                EgressError::Refused(r) => io::Error::new(io::ErrorKind::PermissionDenied, r),
                EgressError::Lookup { .. } => io::Error::other(e.to_string()),
            })?;
            let mut last = None;
            for addr in addrs {
                match inner.dial(&addr.ip().to_string(), addr.port()).await {
                    Ok(conn) => return Ok::<(BoxReader, BoxWriter), io::Error>(conn),
                    Err(e) => last = Some(e),
                }
            }
            Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
        })
    }
}
