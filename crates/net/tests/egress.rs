//! The egress policy where connections are made, against real local servers: HTTP requests
//! (first URL, redirects, names), HTTP-FLV sources and RTMP dials are refused before anything
//! reaches a refused address, and the servers see nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing;
use baton_net::egress::http::{self, HttpError, MAX_REDIRECTS};
use baton_net::egress::{
    AddressClass, Egress, EgressDialer, EgressPolicy, EgressRules, Rule, parse_net, refusal_of,
};
use baton_net::http_flv::{FlvSource, FlvSourceError};
use baton_net::transport::{Dialer, TcpDialer};

/// An HTTP server on 127.0.0.1 that counts requests and redirects as told.
struct Origin {
    addr: SocketAddr,
    hits: Arc<AtomicU64>,
}

async fn origin(redirects: &[(&'static str, String)]) -> Origin {
    let hits = Arc::new(AtomicU64::new(0));
    let mut app = Router::new().route(
        "/ok",
        routing::any(|State(h): State<Arc<AtomicU64>>| async move {
            h.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, "ok")
        }),
    );
    for (path, location) in redirects {
        let location = location.clone();
        app = app.route(
            path,
            routing::any(move |State(h): State<Arc<AtomicU64>>| async move {
                h.fetch_add(1, Ordering::SeqCst);
                (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
            }),
        );
    }
    let app = app.with_state(Arc::clone(&hits));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Origin { addr, hits }
}

fn policy(accounts: &[(&str, &[&str])]) -> EgressPolicy {
    let accounts: HashMap<String, EgressRules> = accounts
        .iter()
        .map(|(account, allow)| {
            let rules = EgressRules {
                allow: allow.iter().map(|n| parse_net(n).unwrap()).collect(),
                ..EgressRules::default()
            };
            (account.to_string(), rules)
        })
        .collect();
    EgressPolicy::new(Some("root"), EgressRules::default(), accounts)
}

fn egress(policy: &EgressPolicy, account: &str) -> Egress {
    Egress::new(Arc::new(policy.clone()), account)
}

async fn get(egress: &Egress, url: &str) -> Result<reqwest::Response, HttpError> {
    http::send(egress, url, MAX_REDIRECTS, |c, u| c.get(u)).await
}

fn refusal(result: Result<reqwest::Response, HttpError>) -> baton_net::egress::EgressRefusal {
    match result {
        Err(HttpError::Egress(r)) => r,
        other => panic!("expected an egress refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_tenant_is_refused_at_loopback_before_anything_is_sent() {
    let o = origin(&[]).await;
    let p = policy(&[]);
    let url = format!("http://{}/ok", o.addr);
    let r = refusal(get(&egress(&p, "acme"), &url).await);
    assert_eq!(r.rule, Rule::NotAllowed(AddressClass::Loopback));
    assert!(!r.redirected);
    let e = FlvSource::connect(&egress(&p, "acme"), &url)
        .await
        .unwrap_err();
    assert!(matches!(e, FlvSourceError::Egress(_)), "{e}");
    assert_eq!(o.hits.load(Ordering::SeqCst), 0, "the origin saw a request");
    // The root account reaches its loopback origin with no configuration.
    let response = get(&egress(&p, "root"), &url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(o.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_spelling_of_an_address_is_that_address() {
    let o = origin(&[]).await;
    let p = policy(&[]);
    let port = o.addr.port();
    // The URL parser normalises decimal, hex, octal and short IPv4 forms; mapped IPv6 is
    // taken as the IPv4 address it maps.
    for host in [
        "2130706433",
        "0x7f.1",
        "0177.0.0.1",
        "017700000001",
        "127.1",
        "[::ffff:7f00:1]",
        "[::ffff:127.0.0.1]",
    ] {
        let r = refusal(get(&egress(&p, "acme"), &format!("http://{host}:{port}/ok")).await);
        assert_eq!(r.addr, o.addr, "{host}");
    }
    let r = refusal(get(&egress(&p, "root"), "http://[::ffff:a9fe:a9fe]/latest").await);
    assert!(matches!(r.rule, Rule::Sensitive { .. }), "{r}");
    let r = refusal(get(&egress(&p, "root"), "http://0.0.0.0:1/").await);
    assert_eq!(r.rule, Rule::Never(AddressClass::Unspecified));
    assert_eq!(o.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn redirects_are_checked_like_the_first_url() {
    let api = origin(&[]).await;
    let o = origin(&[
        (
            "/to-metadata",
            "http://169.254.169.254/latest/meta-data/".into(),
        ),
        (
            "/to-api",
            format!("http://127.0.0.1:{}/ok", api.addr.port()),
        ),
        ("/to-ok", "/ok".into()),
        ("/loop", "/loop".into()),
    ])
    .await;
    let other_loopback = origin(&[]).await;
    let bounce = origin(&[(
        "/to-other",
        format!("http://127.0.0.2:{}/ok", other_loopback.addr.port()),
    )])
    .await;
    // acme may reach the two origins, nothing else on loopback.
    let origin_net = format!("{}/32", o.addr.ip());
    let p = policy(&[("acme", &[origin_net.as_str()])]).with_api_listener(api.addr, &[]);
    let acme = egress(&p, "acme");
    let base = format!("http://{}", o.addr);

    let r = refusal(get(&acme, &format!("{base}/to-metadata")).await);
    assert!(r.redirected);
    assert!(matches!(r.rule, Rule::Sensitive { .. }));
    let text = r.to_string();
    assert!(
        text.starts_with("egress refused (after a redirect): 169.254.169.254:80"),
        "{text}"
    );
    assert!(!text.contains("302"), "{text}");

    // Baton's API listener: refused even to root, whose loopback it is.
    for account in ["acme", "root"] {
        let r = refusal(get(&egress(&p, account), &format!("{base}/to-api")).await);
        assert_eq!(r.rule, Rule::ApiListener, "{account}");
    }
    assert_eq!(
        api.hits.load(Ordering::SeqCst),
        0,
        "the API listener saw a request"
    );

    let bounce_url = format!("http://{}/to-other", bounce.addr);
    let r = refusal(
        get(
            &egress(&policy(&[("acme", &["127.0.0.1/32"])]), "acme"),
            &bounce_url,
        )
        .await,
    );
    assert_eq!(r.rule, Rule::NotAllowed(AddressClass::Loopback));
    assert_eq!(other_loopback.hits.load(Ordering::SeqCst), 0);

    // Allowed redirects are followed, a bounded number of times.
    let response = get(&acme, &format!("{base}/to-ok")).await.unwrap();
    assert_eq!(response.status(), 200);
    let e = get(&acme, &format!("{base}/loop")).await.unwrap_err();
    assert!(matches!(e, HttpError::Redirect(_)), "{e}");
    assert_eq!(
        e.to_string(),
        format!("more than {MAX_REDIRECTS} redirects")
    );
}

#[tokio::test]
async fn without_redirects_a_redirect_is_the_answer() {
    // Callbacks: a 302 is a failed delivery, never a second request elsewhere.
    let o = origin(&[("/to-ok", "/ok".into())]).await;
    let url = format!("http://{}/to-ok", o.addr);
    for egress in [Egress::unrestricted(), egress(&policy(&[]), "root")] {
        let response = http::send(&egress, &url, 0, |c, u| c.post(u).body("{}"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
    }
    assert_eq!(
        o.hits.load(Ordering::SeqCst),
        2,
        "only the two POSTs, no GET /ok"
    );
}

#[tokio::test]
async fn a_name_is_checked_on_what_it_resolves_to() {
    let o = origin(&[]).await;
    let p = policy(&[]);
    let url = format!("http://localhost:{}/ok", o.addr.port());
    let r = refusal(get(&egress(&p, "acme"), &url).await);
    assert_eq!(r.host.as_deref(), Some("localhost"));
    assert_eq!(r.rule, Rule::NotAllowed(AddressClass::Loopback));
    let text = r.to_string();
    assert!(text.contains("localhost:"), "{text}");
    assert!(
        !text.contains("127.0.0.1"),
        "the message tells what the name resolves to: {text}"
    );
    // The API listener behind a name: its address is never dialled, even where the name has
    // other (allowed) addresses.
    let p = policy(&[]).with_api_listener(o.addr, &[]);
    let e = get(&egress(&p, "root"), &url).await.unwrap_err();
    assert!(
        matches!(&e, HttpError::Egress(r) if r.rule == Rule::ApiListener)
            || matches!(e, HttpError::Http(_)),
        "{e}"
    );
    assert_eq!(o.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn rtmp_dials_are_checked_before_connecting() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicU64::new(0));
    {
        let accepted = Arc::clone(&accepted);
        tokio::spawn(async move {
            while listener.accept().await.is_ok() {
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let p = policy(&[]);
    let acme = EgressDialer::new(Arc::new(TcpDialer), egress(&p, "acme"));
    for host in ["127.0.0.1", "localhost", "2130706433", "::ffff:127.0.0.1"] {
        let Err(e) = acme.dial(host, port).await else {
            panic!("{host}: dialled");
        };
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{host}");
        let r = refusal_of(&e).expect("an egress refusal");
        assert_eq!(r.rule, Rule::NotAllowed(AddressClass::Loopback), "{host}");
    }
    let e = acme
        .dial("169.254.169.254", 1935)
        .await
        .err()
        .expect("refused");
    assert!(matches!(
        refusal_of(&e).unwrap().rule,
        Rule::Sensitive { .. }
    ));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "a refused dial connected"
    );
    let root = EgressDialer::new(Arc::new(TcpDialer), egress(&p, "root"));
    assert!(root.dial("localhost", port).await.is_ok());
    assert!(root.dial("127.0.0.1", port).await.is_ok());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

/// A server on 127.0.0.1 that counts accepted TCP connections and answers every request.
async fn counting_origin() -> (SocketAddr, Arc<AtomicU64>) {
    let connections = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/ok", routing::get(|| async { "ok" }));
    let counted = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(sock), service)
                .await;
            });
        }
    });
    (addr, connections)
}

#[tokio::test]
async fn one_task_reuses_its_pinned_connection_and_resolves_again_after_the_ttl() {
    let (addr, connections) = counting_origin().await;
    let p = policy(&[]);
    let root = egress(&p, "root");
    let by_name = format!("http://localhost:{}/ok", addr.port());
    for _ in 0..5 {
        let response = get(&root, &by_name).await.unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    // Its clones share the client too (a relay's reconnects).
    let clone = root.clone();
    assert_eq!(get(&clone, &by_name).await.unwrap().status(), 200);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "one keep-alive connection"
    );
    // Another task (another Egress) has its own.
    assert_eq!(
        get(&egress(&p, "root"), &by_name).await.unwrap().status(),
        200
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    // A tenant's refusal is not bypassed by anyone's pinned client.
    let r = refusal(get(&egress(&p, "acme"), &by_name).await);
    assert_eq!(r.rule, Rule::NotAllowed(AddressClass::Loopback));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_pinned_client_expires_after_its_ttl() {
    let (addr, connections) = counting_origin().await;
    let p = policy(&[]);
    let root = egress(&p, "root");
    let by_ip = format!("http://{addr}/ok");
    assert_eq!(get(&root, &by_ip).await.unwrap().status(), 200);
    assert_eq!(get(&root, &by_ip).await.unwrap().status(), 200);
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    tokio::time::advance(http::PINNED_TTL + Duration::from_secs(1)).await;
    assert_eq!(get(&root, &by_ip).await.unwrap().status(), 200);
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "a new client after the TTL"
    );
}
