//! `[egress]`: where tasks' sources, playlist items, destinations and callbacks may make Baton connect.
//!
//! ```toml
//! [egress]
//! allow = ["203.0.113.0/24"]    # every account, besides public addresses
//! deny = ["198.51.100.7"]       # no account, whatever else allows it
//! [egress.accounts.acme]
//! allow = ["127.0.0.0/8"]       # acme relays from this host's loopback origins
//! ```
//!
//! The rules themselves are `baton_net::egress::policy`'s; this is their configuration.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use baton_net::egress::{EgressPolicy, EgressRules, parse_net};
use serde::Deserialize;

use crate::credentials::ROOT_ACCOUNT;

/// `[egress]` keys. Out of the box: the root account may reach public addresses, loopback
/// and private networks; every other account public addresses only; no account link-local
/// addresses, cloud metadata services or Baton's own API listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressSection {
    /// Networks (CIDR, or one address) every account may reach besides public addresses.
    /// Link-local and metadata addresses open only to an entry inside their range
    /// (`169.254.169.254/32`), never to a wider one (`0.0.0.0/0`). Default: none.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Networks no account may reach, whatever else allows them. Default: none.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Every account may reach loopback and private networks (RFC 1918, 100.64.0.0/10,
    /// fc00::/7). Default: only the root account.
    pub local_networks: Option<bool>,
    /// Every account may reach Baton's own API listener. Default false.
    pub allow_api_listener: Option<bool>,
    /// One account's rules (`[egress.accounts.ID]`): its `allow` and `deny` add to the ones
    /// above, its `local_networks` and `allow_api_listener` override them.
    #[serde(default)]
    pub accounts: BTreeMap<String, EgressAccountSection>,
}

/// `[egress.accounts.ID]` keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressAccountSection {
    /// Networks this account may reach besides public addresses and `egress.allow`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Networks this account may not reach, besides `egress.deny`.
    #[serde(default)]
    pub deny: Vec<String>,
    /// This account may reach loopback and private networks. Default: `egress.local_networks`,
    /// else on for root only.
    pub local_networks: Option<bool>,
    /// This account may reach Baton's own API listener. Default: `egress.allow_api_listener`.
    pub allow_api_listener: Option<bool>,
}

impl EgressSection {
    /// The policy these keys describe (Baton's API listener is added once it is bound).
    pub fn policy(&self) -> anyhow::Result<EgressPolicy> {
        let global = rules("egress", &self.allow, &self.deny)?;
        let global = EgressRules {
            local_networks: self.local_networks,
            allow_api_listener: self.allow_api_listener,
            ..global
        };
        let mut accounts = HashMap::new();
        for (id, a) in &self.accounts {
            let scope = format!("egress.accounts.{id}");
            let own = EgressRules {
                local_networks: a.local_networks,
                allow_api_listener: a.allow_api_listener,
                ..rules(&scope, &a.allow, &a.deny)?
            };
            accounts.insert(id.clone(), own);
        }
        Ok(EgressPolicy::new(Some(ROOT_ACCOUNT), global, accounts))
    }
}

fn rules(scope: &str, allow: &[String], deny: &[String]) -> anyhow::Result<EgressRules> {
    let parse = |key: &str, list: &[String]| {
        list.iter()
            .map(|s| parse_net(s).map_err(|e| anyhow::anyhow!("{scope}.{key}: {e}")))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    Ok(EgressRules {
        allow: parse("allow", allow)?,
        deny: parse("deny", deny)?,
        ..EgressRules::default()
    })
}

/// `policy` with Baton's API listener at `api` (as bound): when that is an unspecified
/// address, this host's addresses are listed now (addresses added later are not: they are
/// refused to tenants anyway unless public and allowed).
pub fn with_api_listener(policy: EgressPolicy, api: SocketAddr) -> anyhow::Result<EgressPolicy> {
    let local: Vec<IpAddr> = if api.ip().is_unspecified() {
        if_addrs::get_if_addrs()
            .context("listing this host's addresses (the API listens on all of them)")?
            .iter()
            .map(|i| i.ip())
            .collect()
    } else {
        Vec::new()
    };
    Ok(policy.with_api_listener(api, &local))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> EgressSection {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_keep_the_operators_set_ups_working() {
        let p = EgressSection::default().policy().unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(p.allow("root", addr("127.0.0.1:1935")).is_ok());
        assert!(p.allow("acme", addr("127.0.0.1:1935")).is_err());
        assert!(p.allow("root", addr("169.254.169.254:80")).is_err());
        let p = with_api_listener(p, addr("127.0.0.1:8080")).unwrap();
        assert!(p.allow("root", addr("127.0.0.1:8080")).is_err());
    }

    #[test]
    fn global_and_per_account_rules() {
        let s = section(
            r#"
            allow = ["203.0.113.0/24"]
            deny = ["8.8.8.8"]
            [accounts.acme]
            allow = ["127.0.0.0/8"]
            [accounts.root]
            local_networks = false
            allow_api_listener = true
            "#,
        );
        let p = s.policy().unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(p.allow("acme", addr("127.0.0.1:1935")).is_ok());
        assert!(p.allow("acme", addr("203.0.113.9:80")).is_ok());
        assert!(p.allow("other", addr("203.0.113.9:80")).is_ok());
        assert!(p.allow("other", addr("127.0.0.1:80")).is_err());
        assert!(p.allow("acme", addr("8.8.8.8:80")).is_err());
        assert!(p.allow("root", addr("10.0.0.1:80")).is_err());
        let p = with_api_listener(p, addr("127.0.0.1:8080")).unwrap();
        assert!(p.allow("acme", addr("127.0.0.1:8080")).is_err());
    }

    #[test]
    fn bad_networks_and_unknown_keys_are_errors() {
        let e = section("[accounts.acme]\nallow = [\"127.0.0.0/40\"]\n")
            .policy()
            .unwrap_err();
        assert!(
            e.to_string().starts_with("egress.accounts.acme.allow: "),
            "{e}"
        );
        assert!(section("deny = [\"nope\"]").policy().is_err());
        assert!(toml::from_str::<EgressSection>("alow = []").is_err());
        assert!(toml::from_str::<EgressSection>("[accounts.acme]\nlocal = true").is_err());
    }

    #[test]
    fn an_api_listening_everywhere_is_every_local_address_at_its_port() {
        let p = EgressSection::default().policy().unwrap();
        let p = with_api_listener(p, "0.0.0.0:8080".parse().unwrap()).unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(p.allow("root", addr("127.0.0.1:8080")).is_err());
        for i in if_addrs::get_if_addrs().unwrap() {
            let at = SocketAddr::new(i.ip(), 8080);
            let e = p.allow("root", at).unwrap_err();
            assert_eq!(e.rule, baton_net::egress::Rule::ApiListener, "{at}");
        }
    }
}
