//! The seven actions through the router, signed both ways: response shapes (exact JSON, as
//! the SDK models read them), state errors mapped to the documented codes, account isolation,
//! form bodies.

mod support;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use baton_api::common::time::format_utc;
use baton_api::testing::MemoryTaskService;
use baton_api::{ServiceError, TaskService};
use baton_domain::{
    AccountId, ExitReason, InvalidReason, ListFilter, Page, Task, TaskId, TaskPatch, TaskSpec,
    TaskStatus,
};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use support::{AK_B, CAPTURE_TIME, Harness, SECRET_B, Sig, borrow, create_params};

const HOUR: i64 = 3600;

async fn create(h: &Harness, sig: Sig, params: &[(String, String)]) -> String {
    let req = h
        .build(sig, Method::POST, "CreateLivePullToPush", &borrow(params))
        .finish(support::AK, support::SECRET);
    let (status, body) = h.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["TaskId"].as_str().unwrap().to_string()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn create_describe_list_update_stop_restart_delete() {
    for sig in [Sig::Rpc, Sig::V3] {
        let h = Harness::new();
        let now = CAPTURE_TIME;
        let req = h
            .build(
                sig,
                Method::POST,
                "CreateLivePullToPush",
                &borrow(&create_params(now - 60, now + HOUR)),
            )
            .finish(support::AK, support::SECRET);
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            keys(&body),
            ["Description", "RequestId", "RetCode", "TaskId"]
        );
        assert_eq!(body["RetCode"], 0);
        assert_eq!(body["Description"], "OK");
        let id = body["TaskId"].as_str().unwrap().to_string();
        let rid = body["RequestId"].as_str().unwrap();
        assert_eq!(rid, rid.to_ascii_uppercase());

        let (status, body) = h
            .call(
                sig,
                "DescribeLivePullToPush",
                &[("Region", "cn-shanghai"), ("TaskId", &id)],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let expected_info = json!({
            "TaskId": id,
            "TaskName": "relay 测试",
            "SourceType": "live",
            "SourceProtocol": "rtmp",
            "SourceUrls": ["rtmp://source.example.com/live/src"],
            "DstUrl": "rtmp://push.example.com/live/dst",
            "StartTime": format_utc(now - 60),
            "EndTime": format_utc(now + HOUR),
            "CallbackURL": "http://callback.example.com/cb",
            "RetryCount": 3,
            "RetryInterval": 60,
            "RepeatNumber": 0,
            "FileIndex": 0,
            "Offset": 0,
        });
        assert_eq!(
            body,
            json!({
                "RequestId": body["RequestId"],
                "RetCode": 0,
                "Description": "OK",
                "TaskId": id,
                "TaskStatus": 1,
                "CurrentFileIndex": 0,
                "CurrentOffset": 0,
                "TaskInfo": expected_info,
            })
        );

        let (status, body) = h
            .call(
                sig,
                "DescribeLivePullToPushList",
                &[("Region", "cn-shanghai"), ("TaskName", "测试")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({
                "RequestId": body["RequestId"],
                "PageNumber": 1,
                "PageSize": 10,
                "Total": 1,
                "TaskList": [{
                    "TaskId": id,
                    "TaskStatus": 1,
                    "CurrentFileIndex": 0,
                    "CurrentOffset": 0,
                    "TaskInfo": expected_info,
                }],
            })
        );

        // While running, CallbackUrl and RepeatNumber may change (seed 003).
        let (status, body) = h
            .call(
                sig,
                "UpdateLivePullToPush",
                &[
                    ("Region", "cn-shanghai"),
                    ("TaskId", &id),
                    ("CallbackUrl", "https://cb.example.com/v2?a=1&b=2"),
                    ("RepeatNumber", "-1"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(keys(&body), ["Description", "RequestId", "RetCode"]);
        let task = h.service.task(&TaskId(id.clone())).unwrap();
        assert_eq!(
            task.spec.callback_url.as_deref(),
            Some("https://cb.example.com/v2?a=1&b=2")
        );
        assert_eq!(task.spec.repeat_number, -1);

        let by_id = [("Region", "cn-shanghai"), ("TaskId", id.as_str())];
        let (status, body) = h.call(sig, "StopLivePullToPush", &by_id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(keys(&body), ["RequestId", "TaskId"]);
        assert_eq!(body["TaskId"], id.as_str());
        let (status, body) = h.call(sig, "StopLivePullToPush", &by_id).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("CodeTaskHasStopped"))
        );
        assert_eq!(body["Message"], "The task has been stopped.");

        let (status, body) = h.call(sig, "RestartLivePullToPush", &by_id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(keys(&body), ["RequestId", "TaskId"]);
        assert_eq!(
            h.service.task(&TaskId(id.clone())).unwrap().runtime.status,
            TaskStatus::Running
        );

        let (status, body) = h.call(sig, "DeleteLivePullToPush", &by_id).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(keys(&body), ["Description", "RequestId", "RetCode"]);
        for action in [
            "DescribeLivePullToPush",
            "StopLivePullToPush",
            "DeleteLivePullToPush",
        ] {
            let (status, body) = h.call(sig, action, &by_id).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{action}");
            assert_eq!(body["Code"], "CodeTaskNotExist", "{action}");
            assert_eq!(body["Message"], "Task does not exist.");
        }
    }
}

#[tokio::test]
async fn state_dependent_fields_of_describe() {
    let h = Harness::new();
    let id = create(
        &h,
        Sig::V3,
        &create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR),
    )
    .await;
    let tid = TaskId(id.clone());
    let by_id = [("Region", "cn-shanghai"), ("TaskId", id.as_str())];
    let describe = || h.call(Sig::V3, "DescribeLivePullToPush", &by_id);

    // Running: no reasons, no exit fields.
    let (_, body) = describe().await;
    for k in ["TaskInvalidReason", "TaskExitReason", "TaskExitTime"] {
        assert!(body.get(k).is_none(), "{k}");
    }
    // Abnormal: the reason.
    h.service.set_runtime(&tid, |r| {
        r.status = TaskStatus::Abnormal;
        r.invalid_reason = Some(InvalidReason::PullStreamFailed);
    });
    let (_, body) = describe().await;
    assert_eq!(body["TaskStatus"], 2);
    assert_eq!(body["TaskInvalidReason"], "PullStreamFailed");
    assert!(body.get("TaskExitTime").is_none());
    // Stopped after retries: the reason stays.
    h.service.set_runtime(&tid, |r| {
        r.status = TaskStatus::Stopped;
        r.invalid_reason = Some(InvalidReason::PushStreamFailed);
    });
    let (_, body) = describe().await;
    assert_eq!(
        (
            body["TaskStatus"].as_i64(),
            body["TaskInvalidReason"].as_str()
        ),
        (Some(3), Some("PushStreamFailed"))
    );
    // Exited: exit reason and Unix-seconds time, no invalid reason.
    h.service.set_runtime(&tid, |r| {
        r.status = TaskStatus::Exited;
        r.exit_reason = Some(ExitReason::OverEndTime);
        r.exit_time = Some(CAPTURE_TIME + HOUR);
    });
    let (_, body) = describe().await;
    assert_eq!(body["TaskStatus"], -1);
    assert_eq!(body["TaskExitReason"], "OverEndTime");
    assert_eq!(body["TaskExitTime"], CAPTURE_TIME + HOUR);
    assert!(body.get("TaskInvalidReason").is_none());
    // An exited task cannot be stopped or restarted.
    for action in ["StopLivePullToPush", "RestartLivePullToPush"] {
        let (status, body) = h
            .call(
                Sig::V3,
                action,
                &[("Region", "cn-shanghai"), ("TaskId", &id)],
            )
            .await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("CodeTaskHasStopped")),
            "{action}"
        );
    }
}

#[tokio::test]
async fn update_rules_map_to_documented_codes() {
    let h = Harness::new();
    let running = create(
        &h,
        Sig::Rpc,
        &create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR),
    )
    .await;
    let later = create(
        &h,
        Sig::Rpc,
        &create_params(CAPTURE_TIME + HOUR, CAPTURE_TIME + 2 * HOUR),
    )
    .await;
    let update = |id: &str, extra: &[(&str, &str)]| {
        let mut p = vec![("TaskId", id)];
        if !extra.iter().any(|(k, _)| *k == "Region") {
            p.push(("Region", "cn-shanghai"));
        }
        p.extend_from_slice(extra);
        let req = h
            .build(Sig::Rpc, Method::GET, "UpdateLivePullToPush", &p)
            .finish(support::AK, support::SECRET);
        h.send(req)
    };
    // Running: StartTime cannot change.
    let (status, body) = update(&running, &[("StartTime", "2026-11-22T19:30:00Z")]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("CodeTaskHasStarted"))
    );
    // Running: Region cannot change either; a started task is simply not in another region
    // (aliyun_regions.rs).
    let (_, body) = update(&running, &[("Region", "cn-beijing")]).await;
    assert_eq!(body["Code"], "CodeTaskNotExist");
    // Sending the same Region is not a change.
    let (status, _) = update(&running, &[]).await;
    assert_eq!(status, StatusCode::OK);
    // Before the start, Region may change.
    let (status, body) = update(&later, &[("Region", "cn-beijing")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.service.task(&TaskId(later.clone())).unwrap().spec.region,
        "cn-beijing"
    );
    // EndTime before StartTime.
    let (status, body) = update(&later, &[("EndTime", "2026-11-22T19:10:00Z")]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("InvalidParam.CodeIllegalDuration")
        )
    );
    let (_, body) = update(
        &later,
        &[
            ("StartTime", "2026-11-22T23:00:00Z"),
            ("EndTime", "2026-11-22T22:00:00Z"),
        ],
    )
    .await;
    assert_eq!(body["Code"], "InvalidParam.CodeIllegalDuration");
    // Source URLs are checked against the stored type and protocol.
    let (_, body) = update(&later, &[("SourceUrls", r#"["http://h/a.flv"]"#)]).await;
    assert_eq!(body["Code"], "InvalidParameter");
    let (status, _) = update(&later, &[("SourceUrls", "[\"rtmp://h/a/b\"]")]).await;
    assert_eq!(status, StatusCode::OK);
    // Backup sources are the native API's: this dialect's live task keeps exactly one URL,
    // refused with its own error (the domain would take up to four).
    let (status, body) = update(
        &later,
        &[("SourceUrls", r#"["rtmp://h/a/b","rtmp://h/a/c"]"#)],
    )
    .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );
    assert!(
        body["Message"].as_str().unwrap().contains("SourceUrls"),
        "{body}"
    );
    assert_eq!(
        h.service
            .task(&TaskId(later.clone()))
            .unwrap()
            .spec
            .source_urls,
        ["rtmp://h/a/b"]
    );
    // A blank CallbackUrl clears it.
    let (status, _) = update(&later, &[("CallbackUrl", "")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        h.service
            .task(&TaskId(later.clone()))
            .unwrap()
            .spec
            .callback_url,
        None
    );
    // Restart before the start time.
    let (status, body) = h
        .call(
            Sig::Rpc,
            "RestartLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", &later)],
        )
        .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("InvalidParam.CodeIllegalDuration")
        )
    );
}

#[tokio::test]
async fn list_pages_and_filters() {
    let h = Harness::new();
    let mut ids = Vec::new();
    for (i, name) in ["alpha one", "alpha two", "beta"].into_iter().enumerate() {
        let mut p = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
        p[1].1 = name.to_string();
        p[5].1 = format!("rtmp://push.example.com/live/dst{i}");
        ids.push(create(&h, Sig::V3, &p).await);
    }
    let list = |extra: &[(&str, &str)]| {
        let mut p = vec![("Region", "cn-shanghai")];
        p.extend_from_slice(extra);
        let req = h
            .build(Sig::V3, Method::GET, "DescribeLivePullToPushList", &p)
            .finish(support::AK, support::SECRET);
        h.send(req)
    };
    let ids_of = |body: &Value| -> Vec<String> {
        body["TaskList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["TaskId"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, body) = list(&[]).await;
    assert_eq!(
        (body["Total"].as_u64(), body["PageSize"].as_u64()),
        (Some(3), Some(10))
    );
    assert_eq!(ids_of(&body), ids);
    let (_, body) = list(&[("PageSize", "2"), ("PageNumber", "2")]).await;
    assert_eq!(
        (body["Total"].as_u64(), body["PageNumber"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(ids_of(&body), &ids[2..]);
    let (_, body) = list(&[("PageSize", "2"), ("PageNumber", "3")]).await;
    assert_eq!(body["TaskList"], json!([]));
    assert_eq!(body["Total"], 3);
    let (_, body) = list(&[("TaskName", "alpha")]).await;
    assert_eq!(ids_of(&body), &ids[..2]);
    let (_, body) = list(&[("DstUrl", "dst2")]).await;
    assert_eq!(ids_of(&body), &ids[2..]);
    let (_, body) = list(&[("TaskId", &ids[1][4..20])]).await;
    assert_eq!(ids_of(&body), &ids[1..2]);
    // Tasks of another live center are not listed.
    let (_, body) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPushList",
            &[("Region", "cn-beijing")],
        )
        .await;
    assert_eq!(body["Total"], 0);
}

#[tokio::test]
async fn accounts_do_not_see_each_others_tasks() {
    let h = Harness::new();
    let id = create(
        &h,
        Sig::Rpc,
        &create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR),
    )
    .await;
    for action in [
        "DescribeLivePullToPush",
        "UpdateLivePullToPush",
        "StopLivePullToPush",
        "RestartLivePullToPush",
        "DeleteLivePullToPush",
    ] {
        let req = h
            .build(
                Sig::Rpc,
                Method::GET,
                action,
                &[("Region", "cn-shanghai"), ("TaskId", &id)],
            )
            .finish(AK_B, SECRET_B);
        let (status, body) = h.send(req).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("CodeTaskNotExist")),
            "{action}"
        );
    }
    let req = h
        .build(
            Sig::Rpc,
            Method::GET,
            "DescribeLivePullToPushList",
            &[("Region", "cn-shanghai")],
        )
        .finish(AK_B, SECRET_B);
    let (_, body) = h.send(req).await;
    assert_eq!(body["Total"], 0);
    assert!(h.service.task(&TaskId(id)).is_some(), "untouched");
}

#[tokio::test]
async fn unsupported_sources_are_refused_naming_the_value() {
    let h = Harness::new();
    // (SRT is built; what of an srt:// URL the engine refuses is the engine's tests' and the
    // SDK interop tests' to show.)
    let cases: [(&[(&str, &str)], &str); 1] = [(
        &[
            ("SourceProtocol", "rtsp"),
            ("SourceUrls", r#"["rtsps://h/cam"]"#),
        ],
        "\"rtsps\"",
    )];
    for (changes, named) in cases {
        let mut p = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
        for (k, v) in changes {
            p.iter_mut().find(|(n, _)| n == k).unwrap().1 = v.to_string();
        }
        let req = h
            .build(Sig::V3, Method::POST, "CreateLivePullToPush", &borrow(&p))
            .finish(support::AK, support::SECRET);
        let (status, body) = h.send(req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["Code"], "InvalidParameter");
        assert!(body["Message"].as_str().unwrap().contains(named), "{body}");
    }
    // SourceProtocol is case-insensitive and echoed as stored (lower case); HLS and SRT live
    // sources are built: accepted and stored.
    for (protocol, url, stored) in [
        ("HTTP-FLV", "http://h/live/a.flv", "http-flv"),
        ("HLS", "http://h/live/a.m3u8", "hls"),
        ("SRT", "srt://h:9000?streamid=live/a&latency=200", "srt"),
        ("RTSP", "rtsp://admin:pw@cam.example/Streaming/101", "rtsp"),
    ] {
        let mut p = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
        p[3].1 = protocol.into();
        p[4].1 = format!("[\"{url}\"]");
        let id = create(&h, Sig::V3, &p).await;
        let (_, body) = h
            .call(
                Sig::V3,
                "DescribeLivePullToPush",
                &[("Region", "cn-shanghai"), ("TaskId", &id)],
            )
            .await;
        assert_eq!(body["TaskInfo"]["SourceProtocol"], stored, "{protocol}");
    }
}

#[tokio::test]
async fn parameters_in_a_form_body_count_and_are_signed() {
    for sig in [Sig::Rpc, Sig::V3] {
        let h = Harness::new();
        let params = create_params(CAPTURE_TIME - 60, CAPTURE_TIME + HOUR);
        let mut req = h.build(sig, Method::POST, "CreateLivePullToPush", &[]);
        req.form = params.clone();
        let (status, body) = h.send(req.finish(support::AK, support::SECRET)).await;
        assert_eq!(status, StatusCode::OK, "{sig:?}: {body}");
        let id = TaskId(body["TaskId"].as_str().unwrap().into());
        assert_eq!(h.service.task(&id).unwrap().spec.name, "relay 测试");
        // Half in the query, half in the body.
        let mut req = h.build(
            sig,
            Method::POST,
            "CreateLivePullToPush",
            &borrow(&params[..4]),
        );
        req.form = params[4..].to_vec();
        let (status, body) = h.send(req.finish(support::AK, support::SECRET)).await;
        assert_eq!(status, StatusCode::OK, "{sig:?}: {body}");
        // A name in both places is ambiguous.
        let mut req = h.build(sig, Method::POST, "CreateLivePullToPush", &borrow(&params));
        req.form = params[..1].to_vec();
        let (status, body) = h.send(req.finish(support::AK, support::SECRET)).await;
        assert_eq!(
            (status, body["Code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("InvalidParameter")),
            "{sig:?}"
        );
    }
}

/// A service whose storage is broken.
struct Broken;

impl TaskService for Broken {
    fn create(&self, _: &AccountId, _: TaskSpec) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn get(&self, _: &AccountId, _: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn list(
        &self,
        _: &AccountId,
        _: ListFilter,
        _: Page,
    ) -> BoxFuture<'_, Result<(Vec<Task>, u64), ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn update(
        &self,
        _: &AccountId,
        _: &TaskId,
        _: TaskPatch,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn stop(&self, _: &AccountId, _: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn restart(&self, _: &AccountId, _: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn disable(&self, _: &AccountId, _: &TaskId) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn enable(
        &self,
        _: &AccountId,
        _: &TaskId,
        _: bool,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn delete(&self, _: &AccountId, _: &TaskId) -> BoxFuture<'_, Result<(), ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn create_with_id(
        &self,
        _: &AccountId,
        _: TaskId,
        _: TaskSpec,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn apply(
        &self,
        _: &AccountId,
        _: &TaskId,
        _: baton_domain::Command,
        _: Option<u64>,
    ) -> BoxFuture<'_, Result<Task, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn list_after(
        &self,
        _: &AccountId,
        _: ListFilter,
        _: Option<(i64, TaskId)>,
        _: u32,
    ) -> BoxFuture<'_, Result<Vec<Task>, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn events(
        &self,
        _: &AccountId,
        _: &TaskId,
        _: Option<u64>,
        _: u32,
    ) -> BoxFuture<'_, Result<Vec<baton_domain::EventRecord>, ServiceError>> {
        Box::pin(async { Err(ServiceError::Internal("disk /var/lib/baton full".into())) })
    }
    fn relay(&self, _: &TaskId) -> Option<baton_api::RelayView> {
        None
    }
}

#[tokio::test]
async fn internal_failures_are_500_without_details() {
    let clock = Arc::new(baton_api::ManualClock::new(CAPTURE_TIME));
    let service = Arc::new(MemoryTaskService::new(clock.clone()));
    let h = Harness::with_service(service, clock, Arc::new(Broken), |_| {});
    let (status, body) = h
        .call(
            Sig::V3,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", "abc")],
        )
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["Code"], "InternalError");
    assert!(!body.to_string().contains("/var/lib"), "{body}");
}
