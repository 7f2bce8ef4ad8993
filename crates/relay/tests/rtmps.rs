//! Relays over RTMPS, in memory with paused time: Baton's ingest behind a TLS terminator
//! (test CA and leaves made by rcgen at test time). A relay pulls `rtmps://` and pushes
//! `rtmps://` with every frame arriving; a destination whose certificate has expired fails its
//! relay at once, not retried, with the reason — while a plain RTMP relay beside it goes on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use baton_media::TagType;
use baton_net::client::ClientOptions;
use baton_net::hub::{StreamEvent, StreamHub, StreamKey, Subscription};
use baton_net::ingest::{AllowAll, Ingest};
use baton_net::testing::{MemoryNetwork, publish_test_stream};
use baton_net::tls::{TlsClient, parse_pem_certificates};
use baton_net::transport::{BoxReader, BoxWriter, DialFuture, Dialer};
use baton_relay::{ErrorKind, Relay, RelayConfig, RelayState, Side};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::time::{Instant, sleep};
use tokio_util::sync::CancellationToken;

/// Dials the ingest through a TLS terminator holding `acceptor`'s certificate.
struct TlsFront {
    ingest: Arc<Ingest>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for TlsFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsFront")
    }
}

impl Dialer for TlsFront {
    fn dial(&self, _host: &str, _port: u16) -> DialFuture {
        let (ingest, acceptor) = (Arc::clone(&self.ingest), self.acceptor.clone());
        Box::pin(async move {
            let (client, server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                // A rejected certificate ends here with the client's alert.
                if let Ok(stream) = acceptor.accept(server).await {
                    let (r, w) = tokio::io::split(stream);
                    let peer = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40000);
                    let _ = ingest
                        .serve_connection(r, w, peer, CancellationToken::new())
                        .await;
                }
            });
            let (r, w) = tokio::io::split(client);
            Ok((Box::new(r) as BoxReader, Box::new(w) as BoxWriter))
        })
    }
}

struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn pki() -> Pki {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Pki {
        ca_pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A terminator in front of `ingest` with a certificate for `host` signed by the test CA.
fn front(pki: &Pki, ingest: &Arc<Ingest>, host: &str, expired: bool) -> Arc<TlsFront> {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &pki.issuer).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    Arc::new(TlsFront {
        ingest: Arc::clone(ingest),
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    })
}

fn relay_config(src: &str, dst: &str, dialer: Arc<dyn Dialer>, pki: &Pki) -> RelayConfig {
    let roots = parse_pem_certificates(pki.ca_pem.as_bytes()).unwrap();
    let mut config = RelayConfig::new(src, dst);
    config.client = ClientOptions {
        dialer,
        tls: TlsClient::new(&roots).unwrap(),
        ..ClientOptions::default()
    };
    config.jitter_seed = Some(5);
    config
}

fn key(stream: &str) -> StreamKey {
    StreamKey::new("mem", "live", stream)
}

async fn video_frames(sub: &Subscription, deadline: Instant) -> Vec<i64> {
    let mut dts = Vec::new();
    while let Ok(event) = tokio::time::timeout_at(deadline, sub.recv()).await {
        if let StreamEvent::Frame(f) = event
            && f.kind == TagType::Video
            && !f.config
        {
            dts.push(f.dts);
        }
    }
    dts
}

fn world() -> (Arc<MemoryNetwork>, Arc<StreamHub>) {
    MemoryNetwork::with_default_ingest(Arc::new(AllowAll))
}

#[tokio::test(start_paused = true)]
async fn a_relay_pulls_and_pushes_over_rtmps_with_every_frame() {
    let (net, hub) = world();
    let pki = pki();
    let tls = front(&pki, net.ingest(), "mem", false);
    let observer = hub.subscribe(key("dst"));
    let relay = Relay::spawn(relay_config(
        "rtmps://mem/live/src",
        "rtmps://mem:443/live/dst",
        tls,
        &pki,
    ))
    .unwrap();
    let sent = publish_test_stream(&net, "rtmp://mem/live/src", 4, 0)
        .await
        .unwrap();
    sleep(Duration::from_millis(500)).await;
    let status = relay.status();
    relay.stop();
    relay.wait().await.expect("stopped cleanly");
    let dts = video_frames(&observer, Instant::now() + Duration::from_secs(1)).await;
    assert_eq!(
        dts.len(),
        sent,
        "every video frame arrived over TLS both ways"
    );
    assert!(dts.windows(2).all(|w| w[0] < w[1]), "monotonic DTS");
    assert_eq!(status.destination_sessions, 1);
    for side in [&status.source_transport, &status.destination_transport] {
        let side = side.as_ref().expect("a transport once connected");
        assert_eq!(side.protocol, "rtmps");
        let tls = side.tls.as_ref().expect("TLS details");
        assert_eq!(
            (tls.version.as_str(), tls.peer_names.as_str()),
            ("TLSv1.3", "mem")
        );
        assert!(
            side.to_string().starts_with("rtmps (TLSv1.3 TLS13_"),
            "{side}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn an_expired_destination_certificate_fails_only_its_relay_at_once() {
    let (net, hub) = world();
    let pki = pki();
    let expired = front(&pki, net.ingest(), "mem", true);
    let wrong_host = front(&pki, net.ingest(), "elsewhere.example", false);
    let plain_observer = hub.subscribe(key("plain"));
    let plain = Relay::spawn(relay_config(
        "rtmp://mem/live/src",
        "rtmp://mem/live/plain",
        Arc::new(Arc::clone(&net)),
        &pki,
    ))
    .unwrap();
    let bad = Relay::spawn(relay_config(
        "rtmp://mem/live/src",
        "rtmps://mem/live/dst",
        Arc::new(Split {
            plain: Arc::clone(&net),
            tls: expired,
        }),
        &pki,
    ))
    .unwrap();
    // A source over TLS with a certificate for another host: the source side is named.
    let bad_source = Relay::spawn(relay_config(
        "rtmps://mem/live/src",
        "rtmp://mem/live/other",
        Arc::new(Split {
            plain: Arc::clone(&net),
            tls: wrong_host,
        }),
        &pki,
    ))
    .unwrap();
    let publisher = {
        let net = Arc::clone(&net);
        tokio::spawn(async move { publish_test_stream(&net, "rtmp://mem/live/src", 4, 0).await })
    };
    let started = Instant::now();
    let err = bad
        .wait()
        .await
        .expect_err("an expired certificate fails the relay");
    assert_eq!(
        (err.side, err.kind),
        (Side::Destination, ErrorKind::Certificate)
    );
    assert!(!err.retryable);
    assert!(err.message.contains("expired"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "not retried");
    let err = bad_source.wait().await.expect_err("wrong host");
    assert_eq!((err.side, err.kind), (Side::Source, ErrorKind::Certificate));
    assert!(
        err.message.contains("not valid for this host name"),
        "{err}"
    );
    assert!(!err.retryable);

    let sent = publisher.await.unwrap().unwrap();
    sleep(Duration::from_millis(500)).await;
    let status = plain.status();
    assert_eq!(status.state, RelayState::SourceReconnecting);
    let destination = status.destination_transport.expect("connected");
    assert_eq!((destination.protocol, destination.tls), ("rtmp", None));
    plain.stop();
    plain
        .wait()
        .await
        .expect("the plain relay was not disturbed");
    let dts = video_frames(&plain_observer, Instant::now() + Duration::from_secs(1)).await;
    assert_eq!(dts.len(), sent);
}

/// Plain RTMP for the source, TLS for `rtmps://` destinations — as a real network would be.
#[derive(Debug)]
struct Split {
    plain: Arc<MemoryNetwork>,
    tls: Arc<TlsFront>,
}

impl Dialer for Split {
    fn dial(&self, host: &str, port: u16) -> DialFuture {
        // The URL decides TLS, not the dialer: rtmps:// defaults to port 443.
        if port == 443 {
            self.tls.dial(host, port)
        } else {
            self.plain.dial(host, port)
        }
    }
}
