//! Replay protection through the real handlers: what spends a nonce (only a request that
//! passed authentication, its key's policy and the throttle), per-key shares, durability
//! (spent before executing, loaded after a restart), and Volcengine's at-most-once
//! state-changing requests (an identical re-send gets the first answer and changes nothing).

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::common::replay::{PURGE_INTERVAL, signature_entry};
use baton_api::testing::MemoryReplayStore;
use baton_domain::ReplayStore;
use serde_json::{Value, json};
use support::{AK, AK_B, AK_RO, AK_VOLC, CAPTURE_TIME, Harness, SECRET, SECRET_B, SECRET_RO};
use support::{SECRET_VOLC, Sig};

mod conformance {
    use baton_api::testing::MemoryReplayStore;

    async fn pair() -> (MemoryReplayStore, MemoryReplayStore) {
        let a = MemoryReplayStore::new();
        (a.clone(), a)
    }

    baton_store_conformance::replay_conformance_tests!(pair);
}

const DESCRIBE: [(&str, &str); 2] = [("Region", "cn-shanghai"), ("TaskId", "abc")];

fn describe(h: &Harness, sig: Sig) -> support::Req {
    h.build(sig, Method::GET, "DescribeLivePullToPush", &DESCRIBE)
}

async fn code(h: &Harness, request: Request<Body>) -> (StatusCode, String) {
    let (status, body) = h.send(request).await;
    (status, body["Code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn a_request_refused_by_its_keys_policy_spends_no_nonce() {
    let h = Harness::new();
    // A read-only key asks for a Create: refused, and again with the same bytes — refused by
    // the policy again, not as a replay: nothing was spent.
    let req = h.build(Sig::Rpc, Method::GET, "StopLivePullToPush", &DESCRIBE);
    for _ in 0..3 {
        let (status, code) = code(&h, req.clone().finish(AK_RO, SECRET_RO)).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::FORBIDDEN, "Forbidden.RAM")
        );
    }
    assert!(h.replay_store.is_empty());
    // What it may do spends its nonce once.
    let req = describe(&h, Sig::V3);
    let (_, first) = code(&h, req.clone().finish(AK_RO, SECRET_RO)).await;
    assert_eq!(first, "CodeTaskNotExist");
    let (_, again) = code(&h, req.finish(AK_RO, SECRET_RO)).await;
    assert_eq!(again, "SignatureNonceUsed");
    assert_eq!(h.replay_store.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_request_spends_no_nonce() {
    // The provider's rate: 10 Describes per second per account.
    let h = Harness::with_config(|_| {});
    for _ in 0..10 {
        let (_, c) = code(&h, describe(&h, Sig::Rpc).finish(AK, SECRET)).await;
        assert_eq!(c, "CodeTaskNotExist");
    }
    let throttled = describe(&h, Sig::Rpc);
    let (_, c) = code(&h, throttled.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "Throttling.User");
    // A moment later the very same bytes are accepted: the throttled attempt spent nothing.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, c) = code(&h, throttled.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "CodeTaskNotExist");
    let (_, c) = code(&h, throttled.finish(AK, SECRET)).await;
    assert_eq!(c, "SignatureNonceUsed");
    assert_eq!(h.replay_store.len(), 11);
}

#[tokio::test]
async fn a_flooding_key_is_refused_alone_at_its_share() {
    let h = Harness::with_config(|c| {
        support::unthrottled(c);
        c.replay_share_per_key = 50;
    });
    let mut first_over = None;
    for i in 0..200 {
        // Key A floods (Timestamps 14 minutes ahead: the longest-lived entries there are)...
        let mut req = describe(&h, if i % 2 == 0 { Sig::Rpc } else { Sig::V3 });
        req.time = baton_api::common::time::format_utc(CAPTURE_TIME + 14 * 60);
        let response = h.router_response(req.finish(AK, SECRET)).await;
        let (status, body) = (response.0, &response.2);
        if i < 50 {
            assert_eq!(body["Code"], "CodeTaskNotExist", "{i}");
        } else {
            assert_eq!(
                (status, body["Code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("Throttling.User"))
            );
            // When its oldest entries expire: ~29 minutes.
            let ms: u64 = response.1["x-acs-retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            first_over.get_or_insert(ms);
            assert!((28 * 60_000..=30 * 60_000).contains(&ms), "{ms}");
        }
        // ...while key B (another account) gets exactly its own answers (within its own share).
        if i % 5 != 0 {
            continue;
        }
        let req = describe(&h, Sig::Rpc);
        let (_, c) = code(&h, req.clone().finish(AK_B, SECRET_B)).await;
        assert_eq!(c, "CodeTaskNotExist", "{i}");
        let (_, c) = code(&h, req.finish(AK_B, SECRET_B)).await;
        assert_eq!(c, "SignatureNonceUsed", "{i}");
    }
    assert!(first_over.is_some());
    assert_eq!(h.replay_store.len(), 50 + 40, "A's share and B's 40");
}

#[tokio::test]
async fn a_nonce_is_on_disk_before_its_request_executes() {
    let h = Harness::new();
    h.replay_store.fail_writes(true);
    let params = support::create_params(CAPTURE_TIME + 60, CAPTURE_TIME + 3600);
    let create = h.build(
        Sig::Rpc,
        Method::POST,
        "CreateLivePullToPush",
        &support::borrow(&params),
    );
    let (status, c) = code(&h, create.clone().finish(AK, SECRET)).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
    );
    // The disk is back: nothing was created, and the same request (its nonce was not spent)
    // is accepted once.
    h.replay_store.fail_writes(false);
    let (_, list) = h
        .call(
            Sig::Rpc,
            "DescribeLivePullToPushList",
            &[("Region", "cn-shanghai")],
        )
        .await;
    assert_eq!(list["Total"], 0, "refused, so not executed: {list}");
    let (status, body) = h.send(create.clone().finish(AK, SECRET)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, c) = code(&h, create.finish(AK, SECRET)).await;
    assert_eq!(c, "SignatureNonceUsed");
}

#[tokio::test]
async fn a_captured_request_is_refused_after_a_restart() {
    let mut h = Harness::new();
    let rpc = describe(&h, Sig::Rpc);
    let v3 = describe(&h, Sig::V3);
    for req in [&rpc, &v3] {
        let (_, c) = code(&h, req.clone().finish(AK, SECRET)).await;
        assert_eq!(c, "CodeTaskNotExist");
    }
    // Acknowledged means stored.
    assert_eq!(h.replay_store.len(), 2);
    h.restart();
    for req in [&rpc, &v3] {
        let (_, c) = code(&h, req.clone().finish(AK, SECRET)).await;
        assert_eq!(c, "SignatureNonceUsed");
    }
    // Fresh nonces still work.
    let (_, c) = code(&h, describe(&h, Sig::Rpc).finish(AK, SECRET)).await;
    assert_eq!(c, "CodeTaskNotExist");
}

#[tokio::test(start_paused = true)]
async fn entries_expire_on_the_servers_clock_and_are_purged() {
    let mut h = Harness::new();
    let req = describe(&h, Sig::Rpc);
    let (_, c) = code(&h, req.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "CodeTaskNotExist");
    // 15 minutes later (server clock) the request is still within its window: refused.
    h.clock.advance(15 * 60);
    let (_, c) = code(&h, req.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "SignatureNonceUsed");
    tokio::time::sleep(PURGE_INTERVAL + std::time::Duration::from_millis(1)).await;
    assert_eq!(h.replay_store.len(), 1, "still live");
    // A second after: the time check refuses it, and the entry is purged.
    h.clock.advance(1);
    let (_, c) = code(&h, req.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "InvalidTimeStamp.Expired");
    tokio::time::sleep(PURGE_INTERVAL + std::time::Duration::from_millis(1)).await;
    assert!(h.replay_store.is_empty());
    // A restart loads nothing expired.
    h.restart();
    assert!(h.replay_store.is_empty());
}

// --- Volcengine ------------------------------------------------------------------------------

/// Creates a task starting in 10 minutes; its id.
async fn volc_task(h: &Harness) -> String {
    let now = h.clock_now();
    let (status, body) = h
        .volc(
            "CreatePullToPushTask",
            json!({"StartTime": now + 600, "EndTime": now + 3600, "Type": 0,
                   "SrcAddr": "rtmp://s.example.com/live/a", "DstAddr": "rtmp://d.example.com/live/b"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["Result"]["TaskId"].as_str().unwrap().to_string()
}

fn volc_post(h: &Harness, action: &str, body: &Value) -> Request<Body> {
    h.volc_request(AK_VOLC, SECRET_VOLC, Method::POST, action, &[], Some(body))
}

async fn volc_status(h: &Harness) -> String {
    let req = h.volc_request(
        AK_VOLC,
        SECRET_VOLC,
        Method::GET,
        "ListPullToPushTask",
        &[],
        None,
    );
    let (_, body) = h.send(req).await;
    body["Result"]["List"][0]["Status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_replayed_stop_after_continue_gets_the_first_answer_and_changes_nothing() {
    let mut h = Harness::new();
    let id = volc_task(&h).await;
    h.clock.advance(1);
    let stop = json!({"TaskId": id});
    // Two copies of the same bytes (one signed request), as a captor would keep it.
    let (first, captured) = (
        volc_post(&h, "StopPullToPushTask", &stop),
        volc_post(&h, "StopPullToPushTask", &stop),
    );
    let (status, answer) = h.send(first).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(volc_status(&h).await, "停用");
    h.clock.advance(1);
    let (status, _) = h.send(volc_post(&h, "ContinuePullToPushTask", &stop)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(volc_status(&h).await, "未开始");
    // The captured Stop again: the first answer (same RequestId), and the task is not stopped.
    let (status, again) = h.send(captured).await;
    assert_eq!((status, &again), (StatusCode::OK, &answer));
    assert_eq!(volc_status(&h).await, "未开始");
    // Also after a restart (answers are durable).
    h.restart();
    let (status, again) = h
        .send(volc_post_at(&h, "StopPullToPushTask", &stop, -1))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &answer));
    assert_eq!(volc_status(&h).await, "未开始");
}

/// `volc_post` signed `offset` seconds from the harness's now.
fn volc_post_at(h: &Harness, action: &str, body: &Value, offset: i64) -> Request<Body> {
    h.clock.advance(offset);
    let req = volc_post(h, action, body);
    h.clock.advance(-offset);
    req
}

#[tokio::test]
async fn identical_concurrent_sends_run_once_and_share_the_answer() {
    let h = Harness::new();
    let id = volc_task(&h).await;
    h.clock.advance(1);
    let stop = json!({"TaskId": id});
    let (a, b) = (
        volc_post(&h, "StopPullToPushTask", &stop),
        volc_post(&h, "StopPullToPushTask", &stop),
    );
    let ((sa, ba), (sb, bb)) = tokio::join!(h.send(a), h.send(b));
    // Run twice, the second would be the wrong-state error.
    assert_eq!((sa, sb), (StatusCode::OK, StatusCode::OK), "{ba} {bb}");
    assert_eq!(ba, bb);
    // A refused first answer is the answer too.
    let (status, refused) = h
        .send(volc_post(
            &h,
            "DeletePullToPushTask",
            &json!({"TaskId": "nope"}),
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, again) = h
        .send(volc_post(
            &h,
            "DeletePullToPushTask",
            &json!({"TaskId": "nope"}),
        ))
        .await;
    assert_eq!((status, again), (StatusCode::NOT_FOUND, refused));
}

#[tokio::test]
async fn a_request_whose_answer_was_lost_in_a_crash_is_not_run_again() {
    let mut h = Harness::new();
    let id = volc_task(&h).await;
    h.clock.advance(1);
    let stop = json!({"TaskId": id});
    let captured = volc_post(&h, "StopPullToPushTask", &stop);
    // The server spent it and died before it answered: the entry is on disk, no answer.
    let authorization = captured.headers()["authorization"].to_str().unwrap();
    let signature = authorization.rsplit("Signature=").next().unwrap();
    let entry = signature_entry(AK_VOLC, signature, h.clock_now(), 15 * 60);
    assert_eq!(h.replay_store.record(&[entry], &[]).await.unwrap(), [true]);
    h.restart();
    let (status, body) = h.send(captured).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["ResponseMetadata"]["Error"]["Code"],
        "InvalidTimestamp"
    );
    assert_eq!(volc_status(&h).await, "未开始", "not run");
}

#[tokio::test]
async fn lists_run_every_time_and_spend_nothing() {
    let h = Harness::new();
    volc_task(&h).await;
    let stored = h.replay_store.len();
    for _ in 0..3 {
        assert_eq!(volc_status(&h).await, "未开始");
    }
    assert_eq!(h.replay_store.len(), stored);
}

#[tokio::test]
async fn a_volcengine_key_over_its_share_is_refused_alone() {
    let h = Harness::with_config(|c| {
        support::unthrottled(c);
        c.replay_share_per_key = 3;
    });
    for i in 0..5 {
        let (status, body) = h
            .send(volc_post(
                &h,
                "DeletePullToPushTask",
                &json!({"TaskId": format!("t{i}")}),
            ))
            .await;
        let code = body["ResponseMetadata"]["Error"]["Code"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let expected = if i < 3 {
            (StatusCode::NOT_FOUND, "ResourceNotFound")
        } else {
            (StatusCode::TOO_MANY_REQUESTS, "FlowLimitExceeded")
        };
        assert_eq!((status, code.as_str()), expected, "{i}");
    }
    // Another key, the same account: its own share.
    let (_, c) = code(&h, describe(&h, Sig::Rpc).finish(AK, SECRET)).await;
    assert_eq!(c, "CodeTaskNotExist");
}

/// A store shared by two servers (two nodes): a nonce spent on one is refused on the other.
#[tokio::test]
async fn a_nonce_spent_on_another_node_is_refused() {
    let store = MemoryReplayStore::new();
    let mut a = Harness::new();
    a.replay_store = store.clone();
    a.restart();
    let mut b = Harness::new();
    b.replay_store = store;
    b.restart();
    let req = describe(&a, Sig::V3);
    let (_, c) = code(&a, req.clone().finish(AK, SECRET)).await;
    assert_eq!(c, "CodeTaskNotExist");
    let (_, c) = code(&b, req.finish(AK, SECRET)).await;
    assert_eq!(c, "SignatureNonceUsed");
}

/// At start the first page of live entries is loaded before the API answers, the rest while
/// it answers; all of them end up in memory, expired ones not at all.
#[tokio::test]
async fn a_restart_loads_every_live_entry_page_by_page() {
    use baton_domain::ReplayEntry;
    let store = MemoryReplayStore::new();
    let now = CAPTURE_TIME;
    let live: Vec<ReplayEntry> = (0..120_001u64)
        .map(|i| ReplayEntry {
            expires_at: now + (i % 900) as i64,
            key: i % 7,
            digest: i,
        })
        .collect();
    let expired = ReplayEntry {
        expires_at: now - 1,
        key: 1,
        digest: u64::MAX,
    };
    store.record(&live, &[]).await.unwrap();
    store.record(&[expired], &[]).await.unwrap();
    let config = baton_api::ApiConfig {
        clock: std::sync::Arc::new(baton_api::ManualClock::new(now)),
        ..baton_api::ApiConfig::default()
    };
    let replay = baton_api::testing::replay(&store, &config);
    assert_eq!(replay.len(), 50_000, "the first page before answering");
    for _ in 0..100 {
        if replay.len() == live.len() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(replay.len(), live.len());
}
