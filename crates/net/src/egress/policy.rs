//! The egress policy itself: which addresses an account's sources, playlist items and
//! callbacks may connect to. Pure: addresses in, a decision out (no DNS, no sockets).
//!
//! The decision for `(account, ip:port)`, in this order (the first that applies wins):
//!
//! 1. The address is taken in its canonical form: an IPv4-mapped IPv6 address
//!    (`::ffff:127.0.0.1`) is the IPv4 address it maps, everywhere below.
//! 2. Never reachable, whatever the configuration: unspecified (`0.0.0.0/8`, `::` — on Linux
//!    a connect to them reaches this host), multicast, broadcast.
//! 3. `deny` entries (global, then the account's) refuse what they cover.
//! 4. Baton's own API listener (ip:port; every local address at that port when it listens
//!    on `0.0.0.0` / `::`) is refused unless `allow_api_listener` is set.
//! 5. Sensitive ranges — link-local (`169.254.0.0/16`, which holds the cloud metadata
//!    service 169.254.169.254, and `fe80::/10`) and the metadata services outside it
//!    (Alibaba Cloud's `100.100.100.200`, AWS's `fd00:ec2::254`) — are reachable only through
//!    an `allow` entry that lies inside that range: `0.0.0.0/0` does not open them.
//! 6. Public unicast addresses are reachable.
//! 7. Loopback and private networks (RFC 1918, CGNAT `100.64.0.0/10`, IPv6 ULA and
//!    site-local) are reachable when the account's `local_networks` is on — by default only
//!    for the root account, so that its relays from Baton's own ingest and loopback origins
//!    need no configuration — or through an `allow` entry; other special-purpose addresses
//!    (documentation, benchmarking, 6to4, Teredo, `240.0.0.0/4`, …) only through `allow`.
//!
//! Every refusal is an [`EgressRefusal`] that names the rule and the setting that changes it.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;

/// The configuration path of the rules, as the operator writes them (`[egress]`).
pub const SECTION: &str = "egress";

/// Rules of one scope: every account (`[egress]`) or one account (`[egress.accounts.ID]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressRules {
    /// Networks reachable besides public addresses.
    pub allow: Vec<IpNet>,
    /// Networks never reachable (wins over every allow and default).
    pub deny: Vec<IpNet>,
    /// Loopback and private networks reachable. `None`: the wider scope decides (in the end,
    /// on for the root account only).
    pub local_networks: Option<bool>,
    /// Baton's own API listener reachable. `None`: the wider scope decides (in the end, off).
    pub allow_api_listener: Option<bool>,
}

/// Which addresses each account may reach. See the module documentation for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressPolicy {
    /// `false`: everything is reachable (the operator's own `baton relay`, tests).
    restricted: bool,
    /// The account whose `local_networks` is on by default.
    root: Option<String>,
    global: EgressRules,
    accounts: HashMap<String, EgressRules>,
    /// Baton's own API listener(s).
    api_listeners: Vec<SocketAddr>,
    /// This host's own addresses, for API listeners bound to an unspecified address.
    local_ips: Vec<IpAddr>,
}

impl Default for EgressPolicy {
    /// No restriction (see [`EgressPolicy::unrestricted`]): the default of the libraries, whose
    /// tests dial in-memory networks; `baton serve` always builds a restricted one.
    fn default() -> Self {
        EgressPolicy::unrestricted()
    }
}

/// What kind of address an IP is, as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918, CGNAT (100.64.0.0/10), IPv6 unique-local (fc00::/7) and site-local (fec0::/10).
    Private,
    /// 169.254.0.0/16, fe80::/10, and the cloud metadata services outside them.
    Sensitive,
    /// Other special-purpose space: documentation, benchmarking, IETF assignments, 6to4,
    /// Teredo, IPv4-compatible IPv6, 240.0.0.0/4, non-global IPv6.
    Reserved,
    /// 0.0.0.0/8 and `::`.
    Unspecified,
    Multicast,
    Broadcast,
}

impl AddressClass {
    fn describe(self) -> &'static str {
        match self {
            AddressClass::Public => "a public address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::Sensitive => "a link-local or cloud metadata address",
            AddressClass::Reserved => "a special-purpose (reserved) address",
            AddressClass::Unspecified => {
                "the unspecified address (a connect to it reaches this host)"
            }
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
        }
    }
}

/// Which rule refused an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Unspecified, multicast, broadcast: no setting allows them.
    Never(AddressClass),
    /// A `deny` entry; `account`: from the account's own list (else the global one).
    Denied { net: IpNet, account: bool },
    /// Baton's own API listener.
    ApiListener,
    /// Link-local / metadata, without an allow entry inside `range`.
    Sensitive { range: IpNet },
    /// Loopback / private / reserved, not allowed for this account.
    NotAllowed(AddressClass),
}

/// An address an account may not reach, with the rule and the setting that would allow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressRefusal {
    /// The account whose policy refused.
    pub account: String,
    /// The address refused (canonical: IPv4-mapped IPv6 shown as IPv4).
    pub addr: SocketAddr,
    /// The host name the address was resolved from; the address itself is then left out of
    /// the message, so that a refusal does not reveal what a name resolves to.
    pub host: Option<String>,
    /// The refusal came from a redirect's target, not the URL as given.
    pub redirected: bool,
    pub rule: Rule,
}

impl std::error::Error for EgressRefusal {}

impl fmt::Display for EgressRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("egress refused")?;
        if self.redirected {
            f.write_str(" (after a redirect)")?;
        }
        let what = match &self.host {
            Some(host) => format!("{}:{} resolves to", bracket(host), self.addr.port()),
            None => format!("{} is", self.addr),
        };
        let account = format!("{SECTION}.accounts.{}", self.account);
        match &self.rule {
            Rule::Never(class) => write!(
                f,
                ": {what} {}, which no setting makes reachable",
                class.describe()
            ),
            Rule::Denied { net, account: own } => {
                let list = if *own {
                    format!("{account}.deny")
                } else {
                    format!("{SECTION}.deny")
                };
                write!(f, ": {what} in {net}, denied by {list}")
            }
            Rule::ApiListener => write!(
                f,
                ": {what} Baton's own API listener; set {account}.allow_api_listener = true \
                 (or {SECTION}.allow_api_listener) to allow it"
            ),
            Rule::Sensitive { range } => write!(
                f,
                ": {what} {}; only an entry inside {range} in {account}.allow (or \
                 {SECTION}.allow) makes it reachable",
                AddressClass::Sensitive.describe()
            ),
            Rule::NotAllowed(class @ (AddressClass::Loopback | AddressClass::Private)) => write!(
                f,
                ": {what} {}, which account {} may not reach; set {account}.local_networks = \
                 true or add its network to {account}.allow",
                class.describe(),
                self.account
            ),
            Rule::NotAllowed(class) => write!(
                f,
                ": {what} {}, which account {} may not reach; add its network to {account}.allow",
                class.describe(),
                self.account
            ),
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

impl EgressPolicy {
    /// Everything reachable, nothing checked (and names are not resolved ahead of the
    /// connection): for the operator's own `baton relay` and for tests.
    pub fn unrestricted() -> EgressPolicy {
        EgressPolicy {
            restricted: false,
            root: None,
            global: EgressRules::default(),
            accounts: HashMap::new(),
            api_listeners: Vec::new(),
            local_ips: Vec::new(),
        }
    }

    /// The rules of `baton serve`: `global` for every account, `accounts` per account, and
    /// `root` the account whose `local_networks` is on unless configured otherwise.
    pub fn new(
        root: Option<&str>,
        global: EgressRules,
        accounts: HashMap<String, EgressRules>,
    ) -> EgressPolicy {
        EgressPolicy {
            restricted: true,
            root: root.map(str::to_string),
            global,
            accounts,
            api_listeners: Vec::new(),
            local_ips: Vec::new(),
        }
    }

    /// Adds Baton's own API listener. When it is bound to `0.0.0.0` / `::`, every local
    /// address at its port is the listener: loopback, and `local_ips` (this host's addresses).
    pub fn with_api_listener(mut self, addr: SocketAddr, local_ips: &[IpAddr]) -> EgressPolicy {
        self.api_listeners.push(addr);
        self.local_ips
            .extend(local_ips.iter().map(|ip| canonical(*ip)));
        self
    }

    /// Whether anything is checked at all.
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// Whether `account` may make Baton bind a port of this host and wait for a peer there
    /// (an SRT source in listener mode): unrestricted (the operator's own `baton relay`) or
    /// the root account only. A tenant may not: a bound port is taken from every other
    /// service of the host and receives from anyone who can reach it. The message of a
    /// refusal names the rule.
    pub fn may_listen(&self, account: &str) -> Result<(), String> {
        if !self.restricted || self.root.as_deref() == Some(account) {
            return Ok(());
        }
        Err(format!(
            "account {account:?} may not make Baton listen on a port of its host (SRT mode=listener): only the root account ({}) may; use caller mode (Baton dials the peer)",
            self.root.as_deref().unwrap_or("none configured")
        ))
    }

    /// Whether `account` may connect to `addr`.
    pub fn allow(&self, account: &str, addr: SocketAddr) -> Result<(), EgressRefusal> {
        if !self.restricted {
            return Ok(());
        }
        let ip = canonical(addr.ip());
        let addr = SocketAddr::new(ip, addr.port());
        let refuse = |rule| {
            Err(EgressRefusal {
                account: account.to_string(),
                addr,
                host: None,
                redirected: false,
                rule,
            })
        };
        let class = classify(ip);
        if matches!(
            class,
            AddressClass::Unspecified | AddressClass::Multicast | AddressClass::Broadcast
        ) {
            return refuse(Rule::Never(class));
        }
        let own = self.accounts.get(account);
        let scopes = || {
            [(&self.global, false)]
                .into_iter()
                .chain(own.map(|r| (r, true)))
        };
        for (rules, account) in scopes() {
            if let Some(net) = rules.deny.iter().find(|n| n.contains(&ip)) {
                return refuse(Rule::Denied { net: *net, account });
            }
        }
        let setting =
            |pick: fn(&EgressRules) -> Option<bool>| own.and_then(pick).or(pick(&self.global));
        if self.is_api_listener(ip, addr.port()) && setting(|r| r.allow_api_listener) != Some(true)
        {
            return refuse(Rule::ApiListener);
        }
        let mut allow = scopes().flat_map(|(rules, _)| rules.allow.iter());
        match class {
            AddressClass::Public => Ok(()),
            AddressClass::Sensitive => match sensitive_range(ip) {
                Some(range) if allow.any(|n| range.contains(n) && n.contains(&ip)) => Ok(()),
                Some(range) => refuse(Rule::Sensitive { range }),
                // NAT64 of a link-local address: no gateway may translate it (RFC 6052 3.1).
                None => refuse(Rule::Never(class)),
            },
            AddressClass::Loopback | AddressClass::Private
                if setting(|r| r.local_networks)
                    .unwrap_or(self.root.as_deref() == Some(account)) =>
            {
                Ok(())
            }
            _ if allow.any(|n| n.contains(&ip)) => Ok(()),
            _ => refuse(Rule::NotAllowed(class)),
        }
    }

    fn is_api_listener(&self, ip: IpAddr, port: u16) -> bool {
        self.api_listeners.iter().any(|listener| {
            listener.port() == port
                && if listener.ip().is_unspecified() {
                    // `::` listens on IPv4 too (dual stack), `0.0.0.0` on every IPv4 address.
                    ip.is_loopback() || self.local_ips.contains(&ip)
                } else {
                    canonical(listener.ip()) == ip
                }
        })
    }
}

/// The IPv4 address of an IPv4-mapped IPv6 address; other addresses as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// A network as configured, with IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`) as the
/// IPv4 networks they are, and host bits cleared. A bare address is a single host.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    let net = match s.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => return Err(format!("{s:?} is not an IP network (CIDR) or address")),
        },
    };
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.network().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        let v4 =
            IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).map_err(|e| format!("{s:?}: {e}"))?;
        return Ok(v4.trunc());
    }
    Ok(net.trunc())
}

/// The class of `ip` (canonical form expected; see [`canonical`]).
pub fn classify(ip: IpAddr) -> AddressClass {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        _ if ip.is_broadcast() => AddressClass::Broadcast,
        (0, _, _) => AddressClass::Unspecified,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::Sensitive,
        _ if ip == ALIBABA_METADATA => AddressClass::Sensitive,
        (10, _, _) | (192, 168, _) => AddressClass::Private,
        (172, 16..=31, _) | (100, 64..=127, _) => AddressClass::Private,
        (224..=239, _, _) => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        // IETF protocol assignments, TEST-NET-1/2/3, benchmarking, the 6to4 relay anycast.
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) | (192, 88, 99) => {
            AddressClass::Reserved
        }
        (198, 18..=19, _) => AddressClass::Reserved,
        _ => AddressClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if ip == AWS_METADATA_V6 || s[0] & 0xffc0 == 0xfe80 {
        return AddressClass::Sensitive;
    }
    if s[0] & 0xff00 == 0xff00 {
        return AddressClass::Multicast;
    }
    if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        return AddressClass::Private;
    }
    // NAT64 (RFC 6052 well-known prefix 64:ff9b::/96): the IPv4 address it translates to.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [_, _, _, _, _, _, hi, lo] = s;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return classify_v4(v4);
    }
    let global_unicast = s[0] & 0xe000 == 0x2000;
    let special = s[0] == 0x2002 // 6to4
        || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments (Teredo, ...)
        || (s[0] == 0x2001 && s[1] == 0x0db8); // documentation
    if global_unicast && !special {
        AddressClass::Public
    } else {
        // IPv4-compatible (::a.b.c.d), discard-only (100::/64), local NAT64 (64:ff9b:1::/48),
        // unassigned space.
        AddressClass::Reserved
    }
}

/// Alibaba Cloud's metadata service (ECS), outside link-local.
const ALIBABA_METADATA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);
/// AWS's instance metadata service over IPv6 (Nitro), inside fc00::/7.
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// The sensitive range `ip` lies in, if any: only allow entries inside it open it.
fn sensitive_range(ip: IpAddr) -> Option<IpNet> {
    let range = |s: &str| s.parse::<IpNet>().expect("literal network");
    match ip {
        IpAddr::V4(v4) if v4.octets()[..2] == [169, 254] => Some(range("169.254.0.0/16")),
        IpAddr::V4(v4) if v4 == ALIBABA_METADATA => Some(range("100.100.100.200/32")),
        IpAddr::V6(v6) if v6 == AWS_METADATA_V6 => Some(range("fd00:ec2::254/128")),
        IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(range("fe80::/10")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> IpNet {
        parse_net(s).unwrap()
    }

    fn policy(global: EgressRules, accounts: &[(&str, EgressRules)]) -> EgressPolicy {
        let accounts = accounts
            .iter()
            .map(|(a, r)| (a.to_string(), r.clone()))
            .collect();
        EgressPolicy::new(Some("root"), global, accounts)
    }

    fn defaults() -> EgressPolicy {
        policy(EgressRules::default(), &[])
    }

    fn rule(p: &EgressPolicy, account: &str, addr: &str) -> Option<Rule> {
        p.allow(account, sa(addr)).err().map(|e| e.rule)
    }

    #[test]
    fn every_address_class() {
        use AddressClass::*;
        let table: &[(&str, AddressClass)] = &[
            ("8.8.8.8", Public),
            ("172.32.0.1", Public),
            ("100.128.0.1", Public),
            ("2606:4700::1111", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("::1", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("fd12::1", Private),
            ("fec0::1", Private),
            ("169.254.169.254", Sensitive),
            ("169.254.0.1", Sensitive),
            ("fe80::1", Sensitive),
            ("febf::1", Sensitive),
            ("100.100.100.200", Sensitive),
            ("fd00:ec2::254", Sensitive),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("::", Unspecified),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("ff02::1", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("192.0.0.8", Reserved),
            ("192.0.2.1", Reserved),
            ("198.51.100.1", Reserved),
            ("203.0.113.1", Reserved),
            ("198.18.0.1", Reserved),
            ("2001:db8::1", Reserved),
            ("2002:7f00:1::1", Reserved),
            ("2001::1", Reserved),
            ("::7f00:1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            // IPv4-mapped IPv6: the IPv4 address it maps, whatever its class.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Sensitive),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:8.8.8.8", Public),
            // NAT64's well-known prefix: the IPv4 address it translates to.
            ("64:ff9b::a9fe:a9fe", Sensitive),
            ("64:ff9b::7f00:1", Loopback),
            ("64:ff9b::808:808", Public),
        ];
        for (ip, class) in table {
            assert_eq!(classify(ip.parse().unwrap()), *class, "{ip}");
        }
    }

    #[test]
    fn root_reaches_loopback_and_private_networks_others_public_addresses_only() {
        let p = defaults();
        for addr in [
            "127.0.0.1:1935",
            "[::1]:8081",
            "10.0.0.5:80",
            "192.168.1.1:443",
        ] {
            assert_eq!(p.allow("root", sa(addr)), Ok(()), "{addr}");
        }
        for addr in ["8.8.8.8:1935", "[2606:4700::1111]:443"] {
            assert_eq!(p.allow("root", sa(addr)), Ok(()), "{addr}");
            assert_eq!(p.allow("acme", sa(addr)), Ok(()), "{addr}");
        }
        use AddressClass::*;
        let table = [
            ("127.0.0.1:1935", Rule::NotAllowed(Loopback)),
            ("[::ffff:127.0.0.1]:1935", Rule::NotAllowed(Loopback)),
            ("[::1]:80", Rule::NotAllowed(Loopback)),
            ("10.0.0.5:80", Rule::NotAllowed(Private)),
            ("[fd12::1]:80", Rule::NotAllowed(Private)),
            ("192.0.2.1:80", Rule::NotAllowed(Reserved)),
        ];
        for (addr, expected) in table {
            assert_eq!(rule(&p, "acme", addr), Some(expected), "{addr}");
        }
        // Reserved space is not a "private network": root needs an allow entry too.
        assert_eq!(
            rule(&p, "root", "198.18.0.1:80"),
            Some(Rule::NotAllowed(Reserved))
        );
    }

    #[test]
    fn metadata_link_local_unspecified_multicast_are_refused_to_every_account() {
        let p = defaults();
        let link_local = Rule::Sensitive {
            range: net("169.254.0.0/16"),
        };
        for account in ["root", "acme"] {
            for (addr, expected) in [
                ("169.254.169.254:80", link_local.clone()),
                ("[::ffff:169.254.169.254]:80", link_local.clone()),
                ("[::ffff:a9fe:a9fe]:80", link_local.clone()),
                (
                    "[fe80::1]:80",
                    Rule::Sensitive {
                        range: net("fe80::/10"),
                    },
                ),
                (
                    "100.100.100.200:80",
                    Rule::Sensitive {
                        range: net("100.100.100.200/32"),
                    },
                ),
                (
                    "[fd00:ec2::254]:80",
                    Rule::Sensitive {
                        range: net("fd00:ec2::254/128"),
                    },
                ),
                (
                    "[64:ff9b::a9fe:a9fe]:80",
                    Rule::Never(AddressClass::Sensitive),
                ),
                ("0.0.0.0:8080", Rule::Never(AddressClass::Unspecified)),
                ("[::]:8080", Rule::Never(AddressClass::Unspecified)),
                (
                    "[::ffff:0.0.0.0]:8080",
                    Rule::Never(AddressClass::Unspecified),
                ),
                ("224.0.0.1:80", Rule::Never(AddressClass::Multicast)),
                ("255.255.255.255:80", Rule::Never(AddressClass::Broadcast)),
            ] {
                assert_eq!(rule(&p, account, addr), Some(expected), "{account} {addr}");
            }
        }
    }

    #[test]
    fn only_an_allow_entry_inside_a_sensitive_range_opens_it() {
        let wide = EgressRules {
            allow: vec![net("0.0.0.0/0"), net("::/0")],
            ..EgressRules::default()
        };
        let p = policy(EgressRules::default(), &[("acme", wide)]);
        assert_eq!(p.allow("acme", sa("10.0.0.1:80")), Ok(()));
        assert!(p.allow("acme", sa("169.254.169.254:80")).is_err());
        assert!(p.allow("acme", sa("[fe80::1]:80")).is_err());
        assert!(p.allow("acme", sa("0.0.0.0:80")).is_err());
        let exact = EgressRules {
            allow: vec![net("169.254.169.254"), net("fe80::/10")],
            ..EgressRules::default()
        };
        let p = policy(exact, &[]);
        assert_eq!(p.allow("acme", sa("169.254.169.254:80")), Ok(()));
        assert_eq!(p.allow("acme", sa("[fe80::1]:80")), Ok(()));
        assert!(p.allow("acme", sa("169.254.169.253:80")).is_err());
    }

    #[test]
    fn allow_and_deny_lists_and_per_account_overrides() {
        let global = EgressRules {
            deny: vec![net("10.9.0.0/16")],
            ..EgressRules::default()
        };
        let acme = EgressRules {
            allow: vec![net("127.0.0.0/8"), net("8.8.8.0/24")],
            deny: vec![net("8.8.8.8/32")],
            ..EgressRules::default()
        };
        let off = EgressRules {
            local_networks: Some(false),
            ..EgressRules::default()
        };
        let p = policy(global, &[("acme", acme), ("root", off)]);
        assert_eq!(p.allow("acme", sa("127.0.0.1:1935")), Ok(()));
        assert_eq!(p.allow("acme", sa("[::ffff:127.0.0.2]:1935")), Ok(()));
        assert_eq!(
            rule(&p, "acme", "10.0.0.1:80"),
            Some(Rule::NotAllowed(AddressClass::Private))
        );
        // Deny wins over allow, and over public.
        assert_eq!(
            rule(&p, "acme", "8.8.8.8:80"),
            Some(Rule::Denied {
                net: net("8.8.8.8/32"),
                account: true
            })
        );
        assert_eq!(p.allow("acme", sa("8.8.8.9:80")), Ok(()));
        assert_eq!(p.allow("other", sa("8.8.8.8:80")), Ok(()));
        assert_eq!(
            rule(&p, "other", "10.9.1.1:80"),
            Some(Rule::Denied {
                net: net("10.9.0.0/16"),
                account: false
            })
        );
        // Root without its default.
        assert_eq!(
            rule(&p, "root", "127.0.0.1:1935"),
            Some(Rule::NotAllowed(AddressClass::Loopback))
        );
        // A global default, and an account's own word over it.
        let everyone = EgressRules {
            local_networks: Some(true),
            ..EgressRules::default()
        };
        let p = policy(everyone, &[("acme", off_rules())]);
        assert_eq!(p.allow("other", sa("10.0.0.1:80")), Ok(()));
        assert!(p.allow("acme", sa("10.0.0.1:80")).is_err());
    }

    fn off_rules() -> EgressRules {
        EgressRules {
            local_networks: Some(false),
            ..EgressRules::default()
        }
    }

    #[test]
    fn the_api_listener_is_refused_even_where_its_address_is_allowed() {
        let p = defaults().with_api_listener(sa("127.0.0.1:8080"), &[]);
        assert_eq!(rule(&p, "root", "127.0.0.1:8080"), Some(Rule::ApiListener));
        assert_eq!(
            rule(&p, "root", "[::ffff:127.0.0.1]:8080"),
            Some(Rule::ApiListener)
        );
        assert_eq!(p.allow("root", sa("127.0.0.1:8081")), Ok(()));
        assert_eq!(p.allow("root", sa("127.0.0.2:8080")), Ok(()));

        // Bound to every address: every local address at that port.
        let local = [
            "192.168.1.5".parse().unwrap(),
            "93.184.216.34".parse().unwrap(),
        ];
        for any in ["0.0.0.0:8080", "[::]:8080"] {
            let p = defaults().with_api_listener(sa(any), &local);
            for addr in [
                "127.0.0.5:8080",
                "[::1]:8080",
                "192.168.1.5:8080",
                "[::ffff:192.168.1.5]:8080",
                "93.184.216.34:8080",
            ] {
                assert_eq!(rule(&p, "root", addr), Some(Rule::ApiListener), "{addr}");
            }
            assert_eq!(
                rule(&p, "acme", "93.184.216.34:8080"),
                Some(Rule::ApiListener)
            );
            assert_eq!(p.allow("root", sa("192.168.1.6:8080")), Ok(()));
            assert_eq!(p.allow("acme", sa("93.184.216.34:8081")), Ok(()));
        }

        let allowed = EgressRules {
            allow_api_listener: Some(true),
            ..EgressRules::default()
        };
        let p = policy(EgressRules::default(), &[("root", allowed)])
            .with_api_listener(sa("127.0.0.1:8080"), &[]);
        assert_eq!(p.allow("root", sa("127.0.0.1:8080")), Ok(()));
    }

    #[test]
    fn unrestricted_allows_everything() {
        let p = EgressPolicy::unrestricted();
        for addr in ["169.254.169.254:80", "127.0.0.1:8080", "0.0.0.0:1"] {
            assert_eq!(p.allow("acme", sa(addr)), Ok(()));
        }
    }

    #[test]
    fn networks_are_parsed_canonically() {
        assert_eq!(net("10.0.0.1/8").to_string(), "10.0.0.0/8");
        assert_eq!(net(" 127.0.0.1 ").to_string(), "127.0.0.1/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert_eq!(net("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        assert_eq!(
            net("::ffff:169.254.169.254").to_string(),
            "169.254.169.254/32"
        );
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("localhost").is_err());
        assert!(parse_net("").is_err());
    }

    #[test]
    fn refusals_name_the_rule_and_the_setting() {
        let p = defaults().with_api_listener(sa("127.0.0.1:8080"), &[]);
        let message =
            |account: &str, addr: &str| p.allow(account, sa(addr)).unwrap_err().to_string();
        assert_eq!(
            message("acme", "127.0.0.1:1935"),
            "egress refused: 127.0.0.1:1935 is a loopback address, which account acme may not \
             reach; set egress.accounts.acme.local_networks = true or add its network to \
             egress.accounts.acme.allow"
        );
        assert_eq!(
            message("root", "127.0.0.1:8080"),
            "egress refused: 127.0.0.1:8080 is Baton's own API listener; set \
             egress.accounts.root.allow_api_listener = true (or egress.allow_api_listener) to \
             allow it"
        );
        assert_eq!(
            message("root", "169.254.169.254:80"),
            "egress refused: 169.254.169.254:80 is a link-local or cloud metadata address; only \
             an entry inside 169.254.0.0/16 in egress.accounts.root.allow (or egress.allow) \
             makes it reachable"
        );
        assert!(message("root", "0.0.0.0:80").contains("no setting"));
        // Resolved from a name: the name, not what it resolved to.
        let mut refusal = p.allow("acme", sa("10.1.2.3:80")).unwrap_err();
        refusal.host = Some("internal.example".into());
        refusal.redirected = true;
        let text = refusal.to_string();
        assert!(
            text.starts_with(
                "egress refused (after a redirect): internal.example:80 resolves to a \
                 private-network address"
            ),
            "{text}"
        );
        assert!(!text.contains("10.1.2.3"), "{text}");
    }
}
