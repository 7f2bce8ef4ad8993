//! A task belongs to its region (issue 11 §5): Describe, Stop, Restart, Delete and Update sent
//! to another region do not find it; Update moves a task that has not started (seed 003: "The
//! Region can be updated only before the task's scheduled start time").

mod support;

use axum::http::StatusCode;
use baton_api::testing::new_task;
use baton_domain::{AccountId, SourceProtocol, SourceType, TaskId, TaskSpec, TaskStatus};
use serde_json::Value;
use support::{CAPTURE_TIME, Harness, Sig, borrow, create_params};

const HOUR: i64 = 3600;

async fn create(h: &Harness, start: i64) -> String {
    let p = create_params(start, CAPTURE_TIME + HOUR);
    let (status, body) = h.call(Sig::V3, "CreateLivePullToPush", &borrow(&p)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["TaskId"].as_str().unwrap().to_string()
}

async fn by_id(h: &Harness, action: &str, region: &str, id: &str) -> (StatusCode, Value) {
    h.call(Sig::Rpc, action, &[("Region", region), ("TaskId", id)])
        .await
}

fn not_found(answer: (StatusCode, Value)) {
    assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{}", answer.1);
    assert_eq!(answer.1["Code"], "CodeTaskNotExist", "{}", answer.1);
}

#[tokio::test]
async fn another_regions_request_does_not_find_the_task() {
    let h = Harness::new();
    let id = create(&h, CAPTURE_TIME - 60).await; // running, in cn-shanghai
    for action in [
        "DescribeLivePullToPush",
        "StopLivePullToPush",
        "RestartLivePullToPush",
        "DeleteLivePullToPush",
    ] {
        not_found(by_id(&h, action, "cn-beijing", &id).await);
    }
    // Update of a started task from another region: not found there (not TaskHasStarted,
    // which would tell that region's caller the task exists), and nothing changes.
    not_found(
        h.call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-beijing"),
                ("TaskId", &id),
                ("RepeatNumber", "2"),
            ],
        )
        .await,
    );
    let task = h.service.task(&TaskId(id.clone())).unwrap();
    assert_eq!(task.runtime.status, TaskStatus::Running);
    assert_eq!(task.spec.region, "cn-shanghai");
    assert_eq!(task.spec.repeat_number, 0);

    // Its own region finds it.
    let (status, body) = by_id(&h, "DescribeLivePullToPush", "cn-shanghai", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = by_id(&h, "StopLivePullToPush", "cn-shanghai", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A stopped task is not in another region either (seed 003: "all parameters except
    // for Region").
    not_found(
        h.call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[("Region", "cn-beijing"), ("TaskId", &id)],
        )
        .await,
    );
    let (status, body) = by_id(&h, "RestartLivePullToPush", "cn-shanghai", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = by_id(&h, "DeleteLivePullToPush", "cn-shanghai", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(h.service.task(&TaskId(id)).is_none());
}

#[tokio::test]
async fn update_moves_a_task_that_has_not_started() {
    let h = Harness::new();
    let id = create(&h, CAPTURE_TIME + 600).await;
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[("Region", "cn-beijing"), ("TaskId", &id)],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.service.task(&TaskId(id.clone())).unwrap().spec.region,
        "cn-beijing"
    );
    not_found(by_id(&h, "DescribeLivePullToPush", "cn-shanghai", &id).await);
    let (status, body) = by_id(&h, "DescribeLivePullToPush", "cn-beijing", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = |region: &'static str| {
        let h = &h;
        async move {
            let (_, body) = h
                .call(
                    Sig::Rpc,
                    "DescribeLivePullToPushList",
                    &[("Region", region)],
                )
                .await;
            body["Total"].as_u64().unwrap()
        }
    };
    assert_eq!(
        (list("cn-shanghai").await, list("cn-beijing").await),
        (0, 1)
    );
}

#[tokio::test]
async fn a_task_without_a_region_is_in_every_region() {
    let h = Harness::new();
    let spec = TaskSpec {
        name: "volc".into(),
        group: "default".into(),
        region: String::new(),
        source_type: SourceType::Live,
        source_protocol: Some(SourceProtocol::Rtmp),
        source_urls: vec!["rtmp://s.example.com/live/a".into()],
        dst_url: "rtmp://d.example.com/live/b".into(),
        extra_dst_urls: Vec::new(),
        failover: Default::default(),
        slate: Default::default(),
        start_time: CAPTURE_TIME - 60,
        end_time: CAPTURE_TIME + HOUR,
        callback_url: None,
        repeat_number: 0,
        retry_count: 3,
        retry_interval: 60,
        file_index: 0,
        offset: 0,
        auth_key: None,
        req_auth: None,
        notify_item_switch: None,
    };
    let id = "regionless-1";
    h.service.insert(new_task(
        TaskId(id.into()),
        AccountId("acct-a".into()),
        spec,
        CAPTURE_TIME - 60,
    ));
    for region in ["cn-shanghai", "cn-beijing"] {
        let (status, body) = by_id(&h, "DescribeLivePullToPush", region, id).await;
        assert_eq!(status, StatusCode::OK, "{region}: {body}");
    }
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-beijing"),
                ("TaskId", id),
                ("RepeatNumber", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let task = h.service.task(&TaskId(id.into())).unwrap();
    assert_eq!(
        (task.spec.region.as_str(), task.spec.repeat_number),
        ("", 1)
    );
}
