//! A signing test client for the router, with in-memory services and a manual clock.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::common::params::{canonical_query, pct};
use baton_api::common::signature::{acs3, rpc, sha256_hex};
use baton_api::common::time::format_utc;
use baton_api::testing::{
    MemoryGroupService, MemoryReplayStore, MemoryStreamService, MemoryTaskService, replay,
};
use baton_api::{
    ApiConfig, ApiMetrics, Credential, ManualClock, MetricsExport, Policy, Services,
    StaticKeyStore, StreamService, TaskService, router_with_metrics,
};
use baton_domain::AccountId;
use serde_json::Value;
use tower::ServiceExt;

pub const AK: &str = "LTAI5tTestAccessKeyId";
pub const SECRET: &str = "TestAccessKeySecret0123456789ab";
/// A key of another account.
pub const AK_B: &str = "LTAIOtherAccountKey01";
pub const SECRET_B: &str = "OtherAccountSecret0123456789xy";
/// A key of account A allowed only to describe.
pub const AK_RO: &str = "LTAIReadOnlyKey000001";
pub const SECRET_RO: &str = "ReadOnlySecret0123456789abcdef";

/// A key of account A that may act only on the domain `live.example.com` (any action).
pub const AK_LIVE: &str = "LTAIOneDomainKey00001";
pub const SECRET_LIVE: &str = "OneDomainSecret0123456789abcdef";
/// A key of account A allowed `live:*` on the domains `*.example.com` of any account.
pub const AK_WILD: &str = "LTAIWildcardKey000001";
pub const SECRET_WILD: &str = "WildcardSecret0123456789abcdefg";

/// The key the Volcengine captures were signed with (account A).
pub const AK_VOLC: &str = "AKLTTestAccessKeyId";
pub const SECRET_VOLC: &str = "TestSecretAccessKey0123456789==";

/// Native-API tokens of accounts A and B.
pub const TOKEN: &str = "btn_TestTokenOfAccountA000000000000000000";
pub const TOKEN_B: &str = "btn_TestTokenOfAccountB000000000000000000";
/// A native token of the root account (the one that may read `/metrics`).
pub const TOKEN_ROOT: &str = "btn_TestTokenOfTheRootAccount00000000000";

/// Ingest domains of account A.
pub const DOMAIN: &str = "live.example.com";
pub const DOMAIN_2: &str = "push.example.com";
pub const DOMAIN_NET: &str = "other.example.net";
/// The ingest domain of account B.
pub const DOMAIN_B: &str = "b.example.com";

/// 2026-11-22T19:07:58Z, the time of the captured requests.
pub const CAPTURE_TIME: i64 = 1_795_374_478;

/// How a request is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sig {
    Rpc,
    V3,
}

pub struct Harness {
    pub router: Router,
    pub service: Arc<MemoryTaskService>,
    pub streams: Arc<MemoryStreamService>,
    pub clock: Arc<ManualClock>,
    /// Where replay protection keeps spent requests (survives [`Harness::restart`]).
    pub replay_store: MemoryReplayStore,
    backend: Arc<dyn TaskService>,
    stream_backend: Arc<dyn StreamService>,
    keys: Arc<StaticKeyStore>,
    config: ApiConfig,
    nonce: AtomicU64,
    /// The API's request metrics (every harness router counts into them, `/metrics` serves
    /// them).
    pub metrics: MetricsExport,
}

/// The ingest control of the harness: the domains above, with a quota of `max_blocks`.
pub fn memory_streams(clock: Arc<ManualClock>, max_blocks: u64) -> MemoryStreamService {
    let a = || AccountId("acct-a".into());
    MemoryStreamService::new(
        clock,
        [
            (DOMAIN, a()),
            (DOMAIN_2, a()),
            (DOMAIN_NET, a()),
            (DOMAIN_B, AccountId("acct-b".into())),
        ],
    )
    .with_max_blocks(max_blocks)
}

/// No practical throttling (tests send bursts); throttling tests leave the limits alone.
pub fn unthrottled(c: &mut ApiConfig) {
    c.actions_per_second = 100_000;
    c.action_limits.clear();
}

impl Harness {
    /// A harness without practical throttling (tests send bursts); throttling tests use
    /// [`Harness::with_config`] and set the limits themselves.
    pub fn new() -> Harness {
        Harness::with_config(unthrottled)
    }

    pub fn with_config(tweak: impl FnOnce(&mut ApiConfig)) -> Harness {
        let clock = Arc::new(ManualClock::new(CAPTURE_TIME));
        let service = Arc::new(MemoryTaskService::new(clock.clone()));
        Harness::with_service(service.clone(), clock, service, tweak)
    }

    /// A harness whose router calls `backend` (e.g. a failing stub) while `service` is
    /// still available for fixtures.
    pub fn with_service(
        service: Arc<MemoryTaskService>,
        clock: Arc<ManualClock>,
        backend: Arc<dyn TaskService>,
        tweak: impl FnOnce(&mut ApiConfig),
    ) -> Harness {
        let streams = Arc::new(memory_streams(clock.clone(), 10_000));
        Harness::assemble(service, backend, streams.clone(), streams, clock, tweak)
    }

    /// An unthrottled harness whose ingest control allows `max_blocks` blocks per account
    /// and calls `backend` when given (e.g. a failing stub).
    pub fn with_streams(max_blocks: u64, backend: Option<Arc<dyn StreamService>>) -> Harness {
        let clock = Arc::new(ManualClock::new(CAPTURE_TIME));
        let service = Arc::new(MemoryTaskService::new(clock.clone()));
        let streams = Arc::new(memory_streams(clock.clone(), max_blocks));
        let stream_backend = backend.unwrap_or_else(|| streams.clone());
        Harness::assemble(
            service.clone(),
            service,
            streams,
            stream_backend,
            clock,
            unthrottled,
        )
    }

    fn assemble(
        service: Arc<MemoryTaskService>,
        backend: Arc<dyn TaskService>,
        streams: Arc<MemoryStreamService>,
        stream_backend: Arc<dyn StreamService>,
        clock: Arc<ManualClock>,
        tweak: impl FnOnce(&mut ApiConfig),
    ) -> Harness {
        let mut keys = StaticKeyStore::new();
        keys.insert(AK, AccountId("acct-a".into()), SECRET);
        keys.insert(AK_VOLC, AccountId("acct-a".into()), SECRET_VOLC);
        keys.insert_token(TOKEN, AccountId("acct-a".into()), "test");
        keys.insert_token(TOKEN_B, AccountId("acct-b".into()), "test-b");
        keys.insert_token(TOKEN_ROOT, AccountId("root".into()), "test-root");
        keys.insert(AK_B, AccountId("acct-b".into()), SECRET_B);
        keys.insert_with_policy(
            AK_RO,
            AccountId("acct-a".into()),
            SECRET_RO,
            Policy::Allow(vec!["live:Describe*".into()]),
        );
        keys.insert_credential(
            AK_LIVE,
            Credential::new(AccountId("acct-a".into()), SECRET_LIVE, Policy::AllowAll)
                .with_resources(vec![format!("acs:cdn:*:acct-a:domain/{DOMAIN}")]),
        );
        keys.insert_credential(
            AK_WILD,
            Credential::new(
                AccountId("acct-a".into()),
                SECRET_WILD,
                Policy::Allow(vec!["live:*".into()]),
            )
            .with_resources(vec!["acs:cdn:*:*:domain/*.example.com".into()]),
        );
        let mut config = ApiConfig {
            clock: clock.clone(),
            host_id: Some("live.test".into()),
            ..ApiConfig::default()
        };
        tweak(&mut config);
        let replay_store = MemoryReplayStore::new();
        let keys = Arc::new(keys);
        let api = ApiMetrics::default();
        let mut registry = prometheus_client::registry::Registry::default();
        api.register(&mut registry);
        let metrics = MetricsExport {
            api,
            registry: Arc::new(registry),
        };
        Harness {
            router: build_router(
                &service,
                &backend,
                &stream_backend,
                &keys,
                &replay_store,
                &config,
                &metrics,
            ),
            metrics,
            service,
            streams,
            clock,
            replay_store,
            backend,
            stream_backend,
            keys,
            config,
            nonce: AtomicU64::new(1),
        }
    }

    /// The server restarted: a new router (its replay protection loaded from the same store)
    /// over the same services, keys, clock and configuration.
    pub fn restart(&mut self) {
        self.router = build_router(
            &self.service,
            &self.backend,
            &self.stream_backend,
            &self.keys,
            &self.replay_store,
            &self.config,
            &self.metrics,
        );
    }

    pub fn next_nonce(&self) -> String {
        format!("{:032x}", self.nonce.fetch_add(1, Ordering::Relaxed))
    }

    /// Sends a request; returns status and JSON body.
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    /// Sends a request; returns status, headers and JSON body.
    pub async fn router_response(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, body)
    }

    /// Signs and sends `action` with `params` as account A.
    pub async fn call(
        &self,
        sig: Sig,
        action: &str,
        params: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let req = self
            .build(sig, Method::GET, action, params)
            .finish(AK, SECRET);
        self.send(req).await
    }

    /// A request builder with the harness's time and a fresh nonce.
    pub fn build(&self, sig: Sig, method: Method, action: &str, params: &[(&str, &str)]) -> Req {
        Req {
            sig,
            method,
            action: action.to_string(),
            version: "2016-11-01".to_string(),
            query: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            form: Vec::new(),
            time: format_utc(self.clock_now()),
            nonce: self.next_nonce(),
            host: "127.0.0.1:18041".to_string(),
        }
    }

    /// A Volcengine request of `action` signed with `ak`/`secret` at the harness's time:
    /// `query` after Action and Version, `body` as JSON (POST) or none (GET).
    pub fn volc_request(
        &self,
        ak: &str,
        secret: &str,
        method: Method,
        action: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Request<Body> {
        use baton_api::common::signature::volc;
        let mut pairs = vec![
            ("Action".to_string(), action.to_string()),
            ("Version".to_string(), "2023-01-01".to_string()),
        ];
        pairs.extend(query.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let hash = sha256_hex(body.as_bytes());
        let t = format_utc(self.clock_now());
        let x_date: String = t.chars().filter(|c| *c != '-' && *c != ':').collect();
        let date = &x_date[..8];
        let mut headers = vec![
            ("host".to_string(), "127.0.0.1:18041".to_string()),
            ("x-content-sha256".to_string(), hash.clone()),
            ("x-date".to_string(), x_date.clone()),
        ];
        if !body.is_empty() {
            headers.insert(
                0,
                ("content-type".to_string(), "application/json".to_string()),
            );
        }
        let mut map = axum::http::HeaderMap::new();
        for (k, v) in &headers {
            map.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        let canonical = volc::canonical_request(
            method.as_str(),
            pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &map,
            &signed,
            &hash,
        );
        let scope = format!("{date}/cn-north-1/live/request");
        let sts = volc::string_to_sign(&x_date, &scope, &canonical);
        let key = volc::signing_key(secret, date, "cn-north-1", "live");
        let authorization = format!(
            "HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={}, Signature={}",
            signed.join(";"),
            volc::sign(&key, &sts)
        );
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/?{}", encode(&pairs)))
            .header("authorization", authorization);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder.body(Body::from(body)).unwrap()
    }

    /// Signs and sends a Volcengine `action` as account A: POST with `body` as JSON.
    pub async fn volc(&self, action: &str, body: Value) -> (StatusCode, Value) {
        let req = self.volc_request(AK_VOLC, SECRET_VOLC, Method::POST, action, &[], Some(&body));
        self.send(req).await
    }

    /// A native-API request as account A (`token` None: unauthenticated).
    pub async fn native(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                builder = builder.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let response = self
            .router
            .clone()
            .oneshot(builder.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub fn clock_now(&self) -> i64 {
        use baton_api::WallClock;
        self.clock.now()
    }
}

fn build_router(
    service: &Arc<MemoryTaskService>,
    backend: &Arc<dyn TaskService>,
    stream_backend: &Arc<dyn StreamService>,
    keys: &Arc<StaticKeyStore>,
    replay_store: &MemoryReplayStore,
    config: &ApiConfig,
    metrics: &MetricsExport,
) -> Router {
    router_with_metrics(
        Services {
            tasks: backend.clone(),
            streams: stream_backend.clone(),
            groups: Arc::new(MemoryGroupService::new(
                config.clock.clone(),
                Some(service.clone()),
            )),
            nodes: Arc::new(FixedNodes),
            replay: replay(replay_store, config),
        },
        keys.clone(),
        config.clone(),
        Some(metrics.clone()),
    )
}

/// Two nodes, one of them dead: what `/v1/nodes` shows of a cluster.
pub struct FixedNodes;

impl baton_api::NodeService for FixedNodes {
    fn nodes(
        &self,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<Vec<baton_domain::NodeStatus>, baton_api::ServiceError>,
    > {
        use baton_domain::{NodeId, NodeStatus, TaskId};
        let node = |id: &str, age: u64, tasks: &[&str]| NodeStatus {
            id: NodeId::parse(id).unwrap(),
            name: format!("{id}.example:8080"),
            started_at: 1_700_000_000,
            heartbeat_age: std::time::Duration::from_millis(age),
            alive: age <= 10_000,
            capacity: 50,
            tasks: tasks.len() as u64,
            task_ids: tasks.iter().map(|t| TaskId((*t).into())).collect(),
        };
        Box::pin(std::future::ready(Ok(vec![
            node("n1", 1_250, &["t-1", "t-2"]),
            node("n2", 42_000, &[]),
        ])))
    }

    fn unowned_tasks(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<u64, baton_api::ServiceError>> {
        // n2's tasks, not yet taken over.
        Box::pin(std::future::ready(Ok(3)))
    }
}

/// A request to be signed.
#[derive(Clone, Debug)]
pub struct Req {
    pub sig: Sig,
    pub method: Method,
    pub action: String,
    pub version: String,
    pub query: Vec<(String, String)>,
    /// Parameters sent as an `application/x-www-form-urlencoded` body.
    pub form: Vec<(String, String)>,
    pub time: String,
    pub nonce: String,
    pub host: String,
}

impl Req {
    pub fn finish(self, ak: &str, secret: &str) -> Request<Body> {
        match self.sig {
            Sig::Rpc => self.rpc(ak, secret),
            Sig::V3 => self.v3(ak, secret),
        }
    }

    fn rpc(mut self, ak: &str, secret: &str) -> Request<Body> {
        let common = [
            ("Action", self.action.clone()),
            ("Version", self.version.clone()),
            ("Format", "JSON".to_string()),
            ("Timestamp", self.time.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureVersion", "1.0".to_string()),
            ("SignatureNonce", self.nonce.clone()),
            ("AccessKeyId", ak.to_string()),
        ];
        for (k, v) in common {
            self.query.push((k.to_string(), v));
        }
        let body = encode(&self.form);
        // By hand rather than through `Params`, so tests can sign requests the server must
        // refuse (a name repeated between query and body).
        let canonical = canonical_query(
            self.query
                .iter()
                .chain(&self.form)
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
        let sts = format!("{}&%2F&{}", self.method, pct(&canonical));
        self.query
            .push(("Signature".into(), rpc::sign(secret, &sts)));
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(format!("/?{}", encode(&self.query)))
            .header("host", &self.host);
        if !body.is_empty() {
            builder = builder.header("content-type", "application/x-www-form-urlencoded");
        }
        builder.body(Body::from(body)).unwrap()
    }

    fn v3(self, ak: &str, secret: &str) -> Request<Body> {
        let body = encode(&self.form);
        let hash = sha256_hex(body.as_bytes());
        let mut headers = vec![
            ("host", self.host.clone()),
            ("x-acs-action", self.action.clone()),
            ("x-acs-version", self.version.clone()),
            ("x-acs-date", self.time.clone()),
            ("x-acs-signature-nonce", self.nonce.clone()),
            ("x-acs-content-sha256", hash.clone()),
        ];
        if !body.is_empty() {
            headers.push(("content-type", "application/x-www-form-urlencoded".into()));
        }
        headers.sort();
        let mut map = axum::http::HeaderMap::new();
        for (k, v) in &headers {
            map.insert(*k, v.parse().unwrap());
        }
        let signed: Vec<String> = headers.iter().map(|(k, _)| k.to_string()).collect();
        let canonical = acs3::canonical_request(
            self.method.as_str(),
            self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &map,
            &signed,
            &hash,
        );
        let signature = acs3::sign(secret, &acs3::string_to_sign(&canonical));
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(format!("/?{}", encode(&self.query)));
        for (k, v) in &headers {
            builder = builder.header(*k, v);
        }
        builder
            .header(
                "authorization",
                format!(
                    "ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={},Signature={signature}",
                    signed.join(";")
                ),
            )
            .body(Body::from(body))
            .unwrap()
    }
}

/// `k=v&…` with RFC 3986 encoding.
pub fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The parameters of a valid live Create, as (name, value) pairs.
pub fn create_params(start: i64, end: i64) -> Vec<(String, String)> {
    vec![
        ("Region".into(), "cn-shanghai".into()),
        ("TaskName".into(), "relay 测试".into()),
        ("SourceType".into(), "live".into()),
        ("SourceProtocol".into(), "rtmp".into()),
        (
            "SourceUrls".into(),
            r#"["rtmp://source.example.com/live/src"]"#.into(),
        ),
        ("DstUrl".into(), "rtmp://push.example.com/live/dst".into()),
        ("StartTime".into(), format_utc(start)),
        ("EndTime".into(), format_utc(end)),
        (
            "CallbackUrl".into(),
            "http://callback.example.com/cb".into(),
        ),
    ]
}

/// Borrowed view of owned pairs.
pub fn borrow(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A live stream's video as the hub describes an ffmpeg 720p H.264 High publish.
pub fn h264_720p_high() -> baton_api::VideoView {
    baton_api::VideoView {
        codec: "h264",
        width: Some(1280),
        height: Some(720),
        profile: Some("High".into()),
        level: Some("3.1".into()),
        declared_fps: None,
    }
}

/// A live stream's audio: AAC LC, 44.1 kHz stereo.
pub fn aac_lc_stereo() -> baton_api::AudioView {
    baton_api::AudioView {
        codec: "aac",
        sample_rate: Some(44100),
        channels: Some(2),
        profile: Some("LC".into()),
    }
}
