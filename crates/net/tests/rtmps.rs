//! RTMPS: Baton's RTMP client over TLS against Baton's own ingest behind a loopback TLS
//! terminator, with a test CA and leaf certificates made by rcgen at test time. Publish and
//! play work end to end; every kind of bad certificate is a named, non-retryable refusal; a
//! stalled TLS handshake is a timeout; a plain-RTMP port is a handshake failure.

#[path = "support/pki.rs"]
mod pki;
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use baton_net::client::{ClientError, ClientOptions, PlayEvent, RtmpConnection};
use baton_net::hub::{HubConfig, StreamHub};
use baton_net::ingest::rtmps::ServerCertificates;
use baton_net::ingest::{AllowAll, Ingest, IngestConfig, IngestServer};
use baton_net::tls::{TlsClient, TlsError, parse_pem_certificates};
use baton_net::{MediaKind, RtmpUrl};
use baton_rtmp::session::ClientMode;
use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use pki::{Ca, acceptor, ca, leaf};

/// Baton's ingest on loopback, with a TLS terminator in front of it.
struct Server {
    tls: SocketAddr,
    plain: SocketAddr,
    cancel: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Server {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(IngestConfig::default(), hub, Arc::new(AllowAll));
    let cancel = CancellationToken::new();
    let plain = IngestServer::bind("127.0.0.1:0".parse().unwrap(), Arc::clone(&ingest))
        .await
        .unwrap();
    let plain_addr = plain.local_addr().unwrap();
    tokio::spawn(plain.run(cancel.clone()));

    let acceptor = acceptor(chain, key);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = listener.local_addr().unwrap();
    let token = cancel.clone();
    tokio::spawn(async move {
        loop {
            let (socket, peer) = tokio::select! {
                _ = token.cancelled() => return,
                accepted = listener.accept() => accepted.unwrap(),
            };
            let (acceptor, ingest, token) = (acceptor.clone(), Arc::clone(&ingest), token.clone());
            tokio::spawn(async move {
                // A rejected certificate ends the handshake here with the client's alert.
                if let Ok(stream) = acceptor.accept(socket).await {
                    let (r, w) = tokio::io::split(stream);
                    let _ = ingest.serve_connection(r, w, peer, token).await;
                }
            });
        }
    });
    Server {
        tls,
        plain: plain_addr,
        cancel,
    }
}

fn trusting(ca: &Ca) -> ClientOptions {
    let roots = parse_pem_certificates(ca.pem.as_bytes()).unwrap();
    ClientOptions {
        tls: TlsClient::new(&roots).unwrap(),
        ..ClientOptions::default()
    }
}

async fn connect(
    url: &str,
    mode: ClientMode,
    options: &ClientOptions,
) -> Result<RtmpConnection, ClientError> {
    RtmpConnection::connect(&RtmpUrl::parse(url).unwrap(), mode, options).await
}

/// The certificate verdict of a failed connect, or a panic naming what came instead.
fn certificate_reason(result: Result<RtmpConnection, ClientError>) -> String {
    match result {
        Err(e @ ClientError::Tls(TlsError::Certificate { .. })) => {
            assert!(e.is_refusal(), "a certificate failure is a refusal");
            e.to_string()
        }
        other => panic!("expected a certificate failure, got {other:?}"),
    }
}

#[tokio::test]
async fn publish_and_play_over_rtmps_deliver_every_message() {
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["127.0.0.1", "localhost"], false);
    let s = server(chain, key).await;
    let options = trusting(&ca);
    let url = format!("rtmps://127.0.0.1:{}/live/s", s.tls.port());
    let mut player = connect(&url, ClientMode::Play, &options).await.unwrap();
    let mut publisher = connect(&url, ClientMode::Publish, &options).await.unwrap();
    let tls = publisher.tls().expect("TLS details").clone();
    assert_eq!(tls.version, "TLSv1.3");
    assert!(tls.cipher.starts_with("TLS13_"), "{}", tls.cipher);
    assert_eq!(tls.peer_names, "localhost");
    // rcgen's default subject, and the CA's name.
    assert_eq!(tls.subject, "CN=rcgen self signed cert");
    assert!(
        tls.issuer.starts_with("CN=Baton test CA "),
        "{}",
        tls.issuer
    );
    assert!(player.tls().is_some());

    let mut sent = vec![
        (
            MediaKind::Video,
            0,
            vec![0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f],
        ),
        (MediaKind::Audio, 0, vec![0xaf, 0, 0x12, 0x10]),
    ];
    for i in 0..60u32 {
        let mut payload = vec![if i % 30 == 0 { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        payload.extend((0..5000u32).map(|b| (b ^ i) as u8));
        sent.push((MediaKind::Video, i * 33, payload));
        sent.push((MediaKind::Audio, i * 33 + 5, vec![0xaf, 1, i as u8]));
    }
    support::relay_through(&mut publisher, &mut player, &sent).await;
    support::close_and_see_end(publisher, &mut player).await;
}

#[tokio::test]
async fn an_unknown_ca_or_a_self_signed_certificate_is_refused_by_name() {
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["127.0.0.1"], false);
    let s = server(chain, key).await;
    let url = format!("rtmps://127.0.0.1:{}/live/s", s.tls.port());
    // The web PKI roots alone do not know the test CA.
    let reason =
        certificate_reason(connect(&url, ClientMode::Publish, &ClientOptions::default()).await);
    assert!(
        reason.contains("TLS certificate of 127.0.0.1 rejected"),
        "{reason}"
    );
    assert!(reason.contains("unknown issuer"), "{reason}");
    assert!(reason.contains("[tls] ca_file"), "{reason}");

    let (chain, key) = leaf(None, &["127.0.0.1"], false);
    let self_signed = server(chain, key).await;
    let url = format!("rtmps://127.0.0.1:{}/live/s", self_signed.tls.port());
    let reason = certificate_reason(connect(&url, ClientMode::Play, &trusting(&ca)).await);
    assert!(reason.contains("unknown issuer"), "{reason}");

    // The same ingest over plain RTMP is unaffected.
    let plain = format!("rtmp://{}/live/s", s.plain);
    assert!(
        connect(&plain, ClientMode::Publish, &ClientOptions::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused_by_name() {
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["live.example.com"], false);
    let s = server(chain, key).await;
    let url = format!("rtmps://127.0.0.1:{}/live/s", s.tls.port());
    let reason = certificate_reason(connect(&url, ClientMode::Publish, &trusting(&ca)).await);
    assert!(reason.contains("not valid for this host name"), "{reason}");
    // `localhost` resolves to the same server: the name checked is the URL's.
    let url = format!("rtmps://localhost:{}/live/s", s.tls.port());
    let reason = certificate_reason(connect(&url, ClientMode::Publish, &trusting(&ca)).await);
    assert!(reason.contains("TLS certificate of localhost"), "{reason}");
    assert!(reason.contains("live.example.com"), "{reason}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_by_name() {
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["127.0.0.1"], true);
    let s = server(chain, key).await;
    let url = format!("rtmps://127.0.0.1:{}/live/s", s.tls.port());
    let reason = certificate_reason(connect(&url, ClientMode::Publish, &trusting(&ca)).await);
    assert!(reason.contains("expired"), "{reason}");
}

#[tokio::test]
async fn a_stalled_tls_handshake_times_out_and_plain_rtmp_is_not_tls() {
    // Accepts TCP, then says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let options = ClientOptions {
        connect_timeout: Duration::from_millis(300),
        ..ClientOptions::default()
    };
    let started = std::time::Instant::now();
    let url = format!("rtmps://127.0.0.1:{port}/live/s");
    match connect(&url, ClientMode::Publish, &options).await {
        Err(e @ ClientError::TlsTimeout { .. }) => {
            assert!(!e.is_refusal());
            assert!(e.to_string().contains("TLS handshake"), "{e}");
        }
        other => panic!("expected a TLS timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    hold.abort();

    // An rtmps:// URL pointed at a plain RTMP port: the answer is not TLS.
    let ca = ca();
    let (chain, key) = leaf(Some(&ca), &["127.0.0.1"], false);
    let s = server(chain, key).await;
    let url = format!("rtmps://127.0.0.1:{}/live/s", s.plain.port());
    match connect(&url, ClientMode::Publish, &options).await {
        Err(ClientError::Tls(TlsError::Handshake { .. }) | ClientError::TlsTimeout { .. }) => {}
        other => panic!("expected a TLS handshake failure, got {other:?}"),
    }
}

/// (certificate PEM, key PEM) of a leaf for 127.0.0.1 signed by `ca`.
fn leaf_pem(ca: &Ca) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Baton's RTMPS listener on loopback.
async fn rtmps_listener(
    certificates: &Arc<ServerCertificates>,
    config: IngestConfig,
) -> (SocketAddr, CancellationToken) {
    let hub = StreamHub::new(HubConfig::default());
    let ingest = Ingest::new(config, hub, Arc::new(AllowAll));
    let server = IngestServer::bind_tls("127.0.0.1:0".parse().unwrap(), ingest, certificates)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let cancel = CancellationToken::new();
    tokio::spawn(server.run(cancel.clone()));
    (addr, cancel)
}

#[tokio::test]
async fn the_rtmps_listener_serves_publishers_and_players_and_swaps_its_certificate() {
    let (first_ca, second_ca) = (ca(), ca());
    let (cert, key) = leaf_pem(&first_ca);
    let certificates = ServerCertificates::new(cert.as_bytes(), key.as_bytes()).unwrap();
    let (addr, _cancel) = rtmps_listener(&certificates, IngestConfig::default()).await;
    let url = format!("rtmps://{addr}/live/s");
    let mut player = connect(&url, ClientMode::Play, &trusting(&first_ca))
        .await
        .unwrap();
    let mut publisher = connect(&url, ClientMode::Publish, &trusting(&first_ca))
        .await
        .unwrap();
    publisher
        .send_media(MediaKind::Video, 0, &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f])
        .unwrap();
    publisher.flush().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), player.next_media()).await;
    assert!(
        matches!(first, Ok(Ok(PlayEvent::Media { .. }))),
        "{first:?}"
    );

    // A renewed certificate (of another CA here) is presented from the next handshake on;
    // open connections keep theirs.
    let (cert, key) = leaf_pem(&second_ca);
    certificates
        .replace(cert.as_bytes(), key.as_bytes())
        .unwrap();
    let reason = certificate_reason(connect(&url, ClientMode::Play, &trusting(&first_ca)).await);
    assert!(reason.contains("unknown issuer"), "{reason}");
    let mut late = connect(&url, ClientMode::Play, &trusting(&second_ca))
        .await
        .unwrap();
    publisher
        .send_media(MediaKind::Video, 33, &[0x17, 1, 0, 0, 0, 9])
        .unwrap();
    publisher.flush().await.unwrap();
    for p in [&mut player, &mut late] {
        let got = tokio::time::timeout(Duration::from_secs(5), p.next_media()).await;
        assert!(matches!(got, Ok(Ok(PlayEvent::Media { .. }))), "{got:?}");
    }

    // A pair that does not load is refused; the current one stays.
    let (other_cert, _) = leaf_pem(&first_ca);
    let (_, other_key) = leaf_pem(&first_ca);
    assert!(
        certificates
            .replace(other_cert.as_bytes(), other_key.as_bytes())
            .is_err(),
        "a key that does not match its certificate"
    );
    assert!(certificates.replace(b"", key.as_bytes()).is_err());
    assert!(
        connect(&url, ClientMode::Play, &trusting(&second_ca))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_rtmps_listener_closes_a_stalled_or_plain_handshake() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = ca();
    let (cert, key) = leaf_pem(&ca);
    let certificates = ServerCertificates::new(cert.as_bytes(), key.as_bytes()).unwrap();
    let config = IngestConfig {
        handshake_timeout: Duration::from_millis(300),
        ..IngestConfig::default()
    };
    let (addr, _cancel) = rtmps_listener(&certificates, config).await;
    // Plain RTMP's first handshake byte, then nothing; and nothing at all.
    for first in [&[3u8][..], &[][..]] {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket.write_all(first).await.unwrap();
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(
            closed.is_ok(),
            "the listener closes a handshake that stalls"
        );
    }
    // And still serves.
    let url = format!("rtmps://{addr}/live/s");
    assert!(
        connect(&url, ClientMode::Publish, &trusting(&ca))
            .await
            .is_ok()
    );
}
