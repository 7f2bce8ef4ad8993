//! Issue 11 §5, "accepted and ignored is worse than refused", through the router: the
//! Alibaba `RepeatTime` spelling means RepeatNumber, playlist items Baton cannot play and
//! task names with control or bidi characters are refused at Create by all three APIs, and
//! `ReqAuth` is `yes` / `no` with a key.

mod support;

use axum::http::{Method, StatusCode};
use baton_domain::TaskId;
use baton_domain::time::rfc3339;
use serde_json::{Value, json};
use support::{CAPTURE_TIME, Harness, Sig, TOKEN, borrow, create_params};

const HOUR: i64 = 3600;

fn params_with(changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut p = create_params(CAPTURE_TIME + 60, CAPTURE_TIME + HOUR);
    for (k, v) in changes {
        match p.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => p.push((k.to_string(), v.to_string())),
        }
    }
    p
}

async fn create(h: &Harness, changes: &[(&str, &str)]) -> (StatusCode, Value) {
    h.call(
        Sig::V3,
        "CreateLivePullToPush",
        &borrow(&params_with(changes)),
    )
    .await
}

fn playlist(urls: &[&str]) -> String {
    serde_json::to_string(urls).unwrap()
}

#[tokio::test]
async fn repeat_time_is_another_name_of_repeat_number() {
    let h = Harness::new();
    let files = playlist(&["http://h/a.mp4"]);
    let url_task = [("SourceType", "url"), ("SourceUrls", files.as_str())];
    let (status, body) = create(&h, &[url_task[0], url_task[1], ("RepeatTime", "3")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["TaskId"].as_str().unwrap().to_string();
    assert_eq!(
        h.service
            .task(&TaskId(id.clone()))
            .unwrap()
            .spec
            .repeat_number,
        3
    );

    // Equal values are one value; different ones are refused naming RepeatTime.
    let (status, body) = create(
        &h,
        &[
            url_task[0],
            url_task[1],
            ("RepeatTime", "-1"),
            ("RepeatNumber", "-1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = create(
        &h,
        &[
            url_task[0],
            url_task[1],
            ("RepeatTime", "2"),
            ("RepeatNumber", "1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["Code"], "InvalidParameter");
    assert!(
        body["Message"].as_str().unwrap().contains("RepeatTime"),
        "{body}"
    );
    let (status, body) = create(&h, &[url_task[0], url_task[1], ("RepeatTime", "-2")]).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );

    // Update: the reference's own spelling ("only the CallbackUrl and RepeatTime").
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-shanghai"),
                ("TaskId", &id),
                ("RepeatTime", "7"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.service
            .task(&TaskId(id.clone()))
            .unwrap()
            .spec
            .repeat_number,
        7
    );
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-shanghai"),
                ("TaskId", &id),
                ("RepeatTime", "1"),
                ("RepeatNumber", "2"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );
    assert_eq!(h.service.task(&TaskId(id)).unwrap().spec.repeat_number, 7);
}

#[tokio::test]
async fn task_names_with_control_or_bidi_characters_are_refused_by_every_api() {
    let h = Harness::new();
    for name in [
        "a\u{1b}[2Jb",
        "bell\u{7}",
        "nul\0",
        "two\nlines",
        "evil\u{202E}txt.exe",
        "\u{2066}x",
    ] {
        let (status, body) = create(&h, &[("TaskName", name)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert_eq!(body["Code"], "InvalidParameter");
        assert!(
            body["Message"].as_str().unwrap().contains("TaskName"),
            "{body}"
        );

        let (status, body) = h
            .volc(
                "CreatePullToPushTask",
                json!({"Title": name, "StartTime": CAPTURE_TIME, "EndTime": CAPTURE_TIME + HOUR,
                       "Type": 0, "SrcAddr": "rtmp://s/live/a", "DstAddr": "rtmp://d/live/s"}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert_eq!(
            body["ResponseMetadata"]["Error"]["Code"], "InvalidParam",
            "{body}"
        );
        assert!(body.to_string().contains("Title"), "{body}");

        let (status, _, body) = h
            .native(
                Method::POST,
                "/v1/tasks",
                Some(TOKEN),
                &[],
                Some(
                    json!({"name": name, "source": {"type": "live", "urls": ["rtmp://s/live/a"]},
                            "destination": "rtmp://dst.example.com/live/b",
                            "start_time": rfc3339(CAPTURE_TIME),
                            "end_time": rfc3339(CAPTURE_TIME + HOUR)}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {body}");
        assert_eq!(body["field"], "name", "{body}");
    }
    let (status, body) = create(&h, &[("TaskName", "relay 测试 🎥")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn req_auth_is_yes_or_no_and_yes_needs_an_auth_key() {
    let h = Harness::new();
    for (changes, culprit) in [
        (vec![("ReqAuth", "yes")], "AuthKey"),
        (vec![("ReqAuth", "on"), ("AuthKey", "k1")], "ReqAuth"),
    ] {
        let (status, body) = create(&h, &changes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{changes:?}: {body}");
        assert_eq!(body["Code"], "InvalidParameter");
        assert!(
            body["Message"].as_str().unwrap().contains(culprit),
            "{body}"
        );
    }
    let (status, body) = create(&h, &[("ReqAuth", "yes"), ("AuthKey", "k1")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["TaskId"].as_str().unwrap();
    let (_, body) = h
        .call(
            Sig::Rpc,
            "DescribeLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", id)],
        )
        .await;
    assert_eq!(body["TaskInfo"]["ReqAuth"], "yes", "{body}");
    assert_eq!(body["TaskInfo"]["AuthKey"], "k1", "{body}");
    // Clearing the key of a task that signs is refused; turning signing off first works.
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[("Region", "cn-shanghai"), ("TaskId", id), ("AuthKey", "")],
        )
        .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
    );
    let (status, body) = h
        .call(
            Sig::Rpc,
            "UpdateLivePullToPush",
            &[
                ("Region", "cn-shanghai"),
                ("TaskId", id),
                ("AuthKey", ""),
                ("ReqAuth", "no"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
