//! HTTPS sources trust what `rtmps://` trusts: the web PKI roots plus the operator's CA file
//! ([`Egress::with_tls`]), through the unrestricted client and the pinned (policy-checked)
//! one alike; a rejected certificate is a named [`HttpError::Certificate`], never a
//! retryable connect failure.

#[path = "support/pki.rs"]
mod pki;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use baton_net::egress::http::{HttpError, send};
use baton_net::egress::{Egress, EgressPolicy, EgressRules, parse_net};
use baton_net::tls::{TlsClient, TlsError, parse_pem_certificates};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use pki::{Ca, acceptor, ca, leaf};

/// An HTTPS server on loopback answering every request with `200 ok` (one request per
/// connection), stopped when the test's runtime ends.
async fn https_server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> u16 {
    let acceptor = acceptor(chain, key);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                let mut request = vec![0; 4096];
                let mut read = 0;
                while !request[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut request[read..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => read += n,
                    }
                }
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    port
}

fn trusting(ca: &Ca) -> TlsClient {
    TlsClient::new(&parse_pem_certificates(ca.pem.as_bytes()).unwrap()).unwrap()
}

/// An account whose egress is checked (loopback allowed), so requests take the pinned
/// client path.
fn restricted() -> Egress {
    let rules = EgressRules {
        allow: vec![parse_net("127.0.0.0/8").unwrap()],
        ..Default::default()
    };
    Egress::new(
        Arc::new(EgressPolicy::new(Some("root"), rules, HashMap::new())),
        "acme",
    )
}

async fn get(egress: &Egress, url: &str) -> Result<String, HttpError> {
    let response = send(egress, url, 0, |c, u| c.get(u)).await?;
    assert_eq!(response.status(), 200);
    Ok(response.text().await?)
}

fn rejected(result: Result<String, HttpError>) -> String {
    match result {
        Err(HttpError::Certificate(TlsError::Certificate { host, reason })) => {
            assert_eq!(host, "localhost");
            reason
        }
        other => panic!("expected a rejected certificate, got {other:?}"),
    }
}

#[tokio::test]
async fn a_private_ca_in_the_tls_config_is_trusted_by_https_requests() {
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["localhost"], false);
    let port = https_server(chain, key).await;
    let url = format!("https://localhost:{port}/live.flv");

    for egress in [Egress::unrestricted(), restricted()] {
        let reason = rejected(get(&egress, &url).await);
        assert!(reason.contains("unknown issuer"), "{reason}");
        assert!(reason.contains("[tls] ca_file"), "{reason}");
        let trusted = egress.clone().with_tls(trusting(&ca));
        assert_eq!(get(&trusted, &url).await.unwrap(), "ok");
        // Clones share the client built for the CA.
        assert_eq!(get(&trusted.clone(), &url).await.unwrap(), "ok");
    }
}

#[tokio::test]
async fn expired_and_wrong_host_certificates_are_named_even_with_the_ca() {
    let ca = ca();
    for (names, expired, why) in [
        (&["localhost"][..], true, "expired"),
        (
            &["live.example.com"][..],
            false,
            "not valid for this host name",
        ),
    ] {
        let (chain, key) = leaf(Some(&ca), names, expired);
        let port = https_server(chain, key).await;
        let url = format!("https://localhost:{port}/index.m3u8");
        let egress = restricted().with_tls(trusting(&ca));
        let reason = rejected(get(&egress, &url).await);
        assert!(reason.contains(why), "{reason}");
    }
    // A plain server's refusal is still a transport error (retryable), not a certificate.
    let closed: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let e = get(&Egress::unrestricted(), &format!("https://{closed}/"))
        .await
        .unwrap_err();
    assert!(matches!(e, HttpError::Http(_)), "{e:?}");
}
