//! Which ingest domain (vhost) a request belongs to.

/// The domain of a request that names none (no tcUrl, no `vhost`), as nginx-rtmp and SRS call it.
pub const DEFAULT_DOMAIN: &str = "__defaultVhost__";

/// Splits `name?query` into the name and the query (without `?`).
pub fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((name, query)) => (name, Some(query)),
        None => (s, None),
    }
}

/// The domain of a publish or play: the `vhost` query parameter (of the stream name, else of the
/// app, else of the tcUrl) when given, otherwise the host of the tcUrl, lower-cased.
pub fn resolve_domain(tc_url: Option<&str>, app: &str, stream_query: Option<&str>) -> String {
    let tc_query = tc_url.and_then(|u| split_query(u).1);
    let from_query = [stream_query, split_query(app).1, tc_query]
        .into_iter()
        .flatten()
        .find_map(|q| query_param(q, "vhost"))
        .filter(|v| !v.is_empty());
    if let Some(vhost) = from_query {
        return vhost.to_ascii_lowercase();
    }
    tc_url
        .and_then(url_host)
        .filter(|h| !h.is_empty())
        .map(|h| h.to_ascii_lowercase())
        .unwrap_or_else(|| DEFAULT_DOMAIN.to_string())
}

/// The value of `name` in an `a=b&c=d` query (first occurrence; no percent-decoding, as stream
/// queries are passed through verbatim by encoders).
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if pair == name => Some(""),
            _ => None,
        })
}

/// The host part of `scheme://host[:port]/...`, without brackets for IPv6 literals.
fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h);
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_from_tcurl_host() {
        assert_eq!(
            resolve_domain(Some("rtmp://127.0.0.1:1935/live"), "live", None),
            "127.0.0.1"
        );
        assert_eq!(
            resolve_domain(Some("rtmp://Push.Example.COM/live"), "live", None),
            "push.example.com"
        );
        assert_eq!(
            resolve_domain(Some("rtmp://[::1]:1935/live"), "live", None),
            "::1"
        );
    }

    #[test]
    fn vhost_query_wins_wherever_it_is() {
        let tc = Some("rtmp://127.0.0.1/live");
        assert_eq!(resolve_domain(tc, "live", Some("vhost=a.com&x=1")), "a.com");
        assert_eq!(resolve_domain(tc, "live?vhost=b.com", None), "b.com");
        assert_eq!(
            resolve_domain(Some("rtmp://127.0.0.1/live?vhost=c.com"), "live", None),
            "c.com"
        );
        assert_eq!(resolve_domain(tc, "live", Some("vhost=")), "127.0.0.1");
    }

    #[test]
    fn default_domain_without_tcurl() {
        assert_eq!(resolve_domain(None, "live", None), DEFAULT_DOMAIN);
        assert_eq!(
            resolve_domain(Some("garbage"), "live", None),
            DEFAULT_DOMAIN
        );
    }

    #[test]
    fn split_and_params() {
        assert_eq!(split_query("s?a=1"), ("s", Some("a=1")));
        assert_eq!(split_query("s"), ("s", None));
        assert_eq!(query_param("a=1&b=2", "b"), Some("2"));
        assert_eq!(query_param("a=1&flag", "flag"), Some(""));
        assert_eq!(query_param("a=1", "c"), None);
    }
}
