//! Articles from draft to the public site and the Atom feed; what their
//! HTML may contain; who may write, publish and name a child.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, student, TestApp};

async fn campaign(app: &TestApp, admin: &str) -> i64 {
    app.post(
        "/api/v1/campaigns",
        Some(admin),
        &json!({"name": "Sóng và máy tính cho em", "starts_on": "2021-09-01", "targets": {}}),
    )
    .await
    .ok(201)["id"]
        .as_i64()
        .unwrap()
}

async fn move_to(app: &TestApp, token: &str, id: i64, to: &str) -> crate::helpers::Reply {
    app.post(
        &format!("/api/v1/articles/{id}/transitions"),
        Some(token),
        &json!({"to": to}),
    )
    .await
}

fn count(app: &TestApp, table: &str) -> i64 {
    app.row_counts()[table]
}

#[actix_rt::test]
async fn the_open_letter_is_published_and_read_on_the_public_site_and_in_the_feed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let campaign = campaign(&app, &admin).await;
    let letter = app
        .post(
            "/api/v1/articles",
            Some(&admin),
            &json!({
                "kind": "open_letter",
                "title": "Thư ngỏ: Sóng và máy tính cho em",
                "summary": "Sở kêu gọi ủng hộ thiết bị học trực tuyến.",
                "body": "Kính gửi các cơ quan, doanh nghiệp và nhà hảo tâm,\n\n**Trường có thể đóng cửa, việc học không thể dừng lại.**",
                "campaign_id": campaign
            }),
        )
        .await
        .ok(201);
    let id = letter["id"].as_i64().unwrap();
    assert_eq!(letter["status"], "draft");
    assert_eq!(letter["slug"], "thu-ngo-song-va-may-tinh-cho-em");
    assert!(letter["body_html"]
        .as_str()
        .unwrap()
        .contains("<strong>Trường có thể đóng cửa"));
    // A draft is nobody's business but the Department's.
    let draft = app
        .post(
            "/api/v1/articles",
            Some(&admin),
            &json!({"kind": "news", "title": "Bản nháp", "body": "chưa xong"}),
        )
        .await
        .ok(201);
    let public = app.get("/api/v1/public/articles", "").await.ok(200);
    assert_eq!(public["items"], json!([]), "nothing is public yet");
    app.get(
        "/api/v1/public/articles/thu-ngo-song-va-may-tinh-cho-em",
        "",
    )
    .await
    .problem(404);

    move_to(&app, &admin, id, "review").await.ok(200);
    let published = move_to(&app, &admin, id, "published").await.ok(200);
    assert_eq!(published["status"], "published");
    assert!(published["published_at"].is_string());
    // Three moves recorded (created, reviewed, published), each audited.
    assert_eq!(count(&app, "article_events"), 4, "2 creations + 2 moves");
    let audit = app
        .get(
            &format!("/api/v1/audit-log?entity=article&entity_id={id}"),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3, "{audit}");

    let public = app
        .get(
            &format!("/api/v1/public/articles?kind=open_letter&campaign={campaign}"),
            "",
        )
        .await
        .ok(200);
    let items = public["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{public}");
    assert_eq!(items[0]["slug"], "thu-ngo-song-va-may-tinh-cho-em");
    assert!(items[0].get("author").is_none() && items[0].get("body_html").is_none());
    let none = app
        .get("/api/v1/public/articles?kind=story", "")
        .await
        .ok(200);
    assert_eq!(none["items"], json!([]));
    let one = app
        .get(
            "/api/v1/public/articles/thu-ngo-song-va-may-tinh-cho-em",
            "",
        )
        .await;
    assert_eq!(
        one.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    let one = one.ok(200);
    assert!(one["body_html"].as_str().unwrap().contains("<strong>"));
    app.get(
        &format!(
            "/api/v1/public/articles/{}",
            draft["slug"].as_str().unwrap()
        ),
        "",
    )
    .await
    .problem(404);

    // The feed parses as Atom and carries the letter, not the draft.
    let feed = app.get("/api/v1/public/articles.atom", "").await;
    assert_eq!(feed.status, 200);
    assert!(feed
        .header("content-type")
        .unwrap()
        .starts_with("application/atom+xml"));
    let text = String::from_utf8(feed.body.clone()).unwrap();
    let parsed: atom_syndication::Feed = text.parse().expect("a valid Atom feed");
    assert_eq!(parsed.entries().len(), 1, "{text}");
    let entry = &parsed.entries()[0];
    assert_eq!(entry.title().as_str(), "Thư ngỏ: Sóng và máy tính cho em");
    assert_eq!(
        entry.links()[0].href(),
        "/api/v1/public/articles/thu-ngo-song-va-may-tinh-cho-em"
    );
    assert!(entry.published().is_some());
    assert!(entry
        .content()
        .and_then(|c| c.value())
        .is_some_and(|html| html.contains("<strong>")));

    // Archived, it leaves the site and the feed.
    move_to(&app, &admin, id, "archived").await.ok(200);
    app.get(
        "/api/v1/public/articles/thu-ngo-song-va-may-tinh-cho-em",
        "",
    )
    .await
    .problem(404);
    let text = String::from_utf8(app.get("/api/v1/public/articles.atom", "").await.body).unwrap();
    let parsed: atom_syndication::Feed = text.parse().expect("a valid Atom feed");
    assert!(parsed.entries().is_empty());
    // No way back from the archive.
    move_to(&app, &admin, id, "published").await.problem(409);
}

#[actix_rt::test]
async fn markdown_with_scripts_frames_and_handlers_reaches_the_public_clean() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = "Tin vui\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n<iframe src=\"https://evil.example\"></iframe>\n\n[bấm](javascript:alert(1))\n\n<a href=\"https://hoabinh.edu.vn\" onclick=\"steal()\">cổng</a>\n\n<div style=\"background:url(javascript:alert(1))\">x</div>";
    let article = app
        .post(
            "/api/v1/articles",
            Some(&admin),
            &json!({"kind": "news", "title": "Tin vui", "body": body}),
        )
        .await
        .ok(201);
    let id = article["id"].as_i64().unwrap();
    // The Markdown is kept as written (staff edit it); only the HTML is cleaned.
    assert_eq!(article["body"], body);
    move_to(&app, &admin, id, "review").await.ok(200);
    move_to(&app, &admin, id, "published").await.ok(200);
    let public = app.get("/api/v1/public/articles/tin-vui", "").await.ok(200);
    let html = public["body_html"].as_str().unwrap().to_lowercase();
    for banned in [
        "<script",
        "onerror",
        "<iframe",
        "javascript:",
        "onclick",
        "style=",
    ] {
        assert!(!html.contains(banned), "{banned} survived: {html}");
    }
    assert!(html.contains("href=\"https://hoabinh.edu.vn\""), "{html}");
    assert!(html.contains("tin vui"));
}

#[actix_rt::test]
async fn a_childs_name_from_the_roster_is_published_only_with_the_guardians_consent() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let sync = app.client_token("sync_client").await;
    let mut mai = student("HS-MAI", "THCS-DABAC", 7);
    mai["full_name"] = json!("Lò Thị Mai");
    app.sync_students(&sync, "", &[mai]).await.ok(200);
    let officer = app
        .user_token(
            "writer.150",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let story = app
        .post(
            "/api/v1/articles",
            Some(&officer),
            &json!({
                "kind": "story",
                "title": "Chiếc máy tính bảng đầu tiên",
                "body": "Em Lò Thị Mai, lớp 7, nay học trực tuyến mỗi tối.",
                "admin_unit_code": "150"
            }),
        )
        .await
        .ok(201);
    let id = story["id"].as_i64().unwrap();
    move_to(&app, &officer, id, "review").await.ok(200);
    // Publishing is the Department's.
    move_to(&app, &officer, id, "published").await.problem(403);
    // The name is on the roster and no consent is recorded: refused, and
    // the refusal names the field, never the child.
    let refused =
        move_to(&app, &admin, id, "published")
            .await
            .problem_naming(422, "body", "names_a_child");
    assert!(!refused.to_string().contains("Mai"), "{refused}");
    let stored = app
        .get(&format!("/api/v1/articles/{id}"), &admin)
        .await
        .ok(200);
    assert_eq!(stored["status"], "review");
    assert_eq!(
        app.get("/api/v1/public/articles", "").await.ok(200)["items"],
        json!([])
    );
    // Written in lower case, the name is still found.
    let lower = app
        .post(
            "/api/v1/articles",
            Some(&admin),
            &json!({"kind": "story", "title": "Một buổi học", "body": "cô giáo khen lò thị mai.", "admin_unit_code": "150"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    move_to(&app, &admin, lower, "review").await.ok(200);
    move_to(&app, &admin, lower, "published")
        .await
        .problem_naming(422, "body", "names_a_child");

    // The officer records the guardian's consent: who and when, audited.
    let consented = app
        .post(
            &format!("/api/v1/articles/{id}/consent"),
            Some(&officer),
            &json!({"given": true, "note": "phiếu đồng ý lưu tại trường"}),
        )
        .await
        .ok(200);
    assert_eq!(
        consented["guardian_consent"]["recorded_by"],
        "user:writer.150"
    );
    assert!(consented["guardian_consent"]["recorded_at"].is_string());
    let audit = app
        .get(
            &format!("/api/v1/audit-log?entity=article&entity_id={id}&action=record_consent"),
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
    move_to(&app, &admin, id, "published").await.ok(200);
    let public = app.get("/api/v1/public/articles", "").await.ok(200);
    assert_eq!(public["items"].as_array().unwrap().len(), 1);
    // Once published, the consent stays until the article is archived.
    app.post(
        &format!("/api/v1/articles/{id}/consent"),
        Some(&admin),
        &json!({"given": false}),
    )
    .await
    .problem(409);

    // A story that names nobody on the roster needs no consent.
    let plain = app
        .post(
            "/api/v1/articles",
            Some(&officer),
            &json!({"kind": "story", "title": "Lớp học buổi tối", "body": "Cả lớp 7A đã có máy.", "admin_unit_code": "150"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    move_to(&app, &officer, plain, "review").await.ok(200);
    move_to(&app, &admin, plain, "published").await.ok(200);
}

#[actix_rt::test]
async fn district_officers_write_stories_of_their_own_area_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let officer = app
        .user_token(
            "writer.150b",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let school_staff = app.user_token("staff.x", "stats_reader", json!({})).await;
    let before = count(&app, "articles");
    app.post(
        "/api/v1/articles",
        Some(&officer),
        &json!({"kind": "news", "title": "Tin", "body": "x", "admin_unit_code": "150"}),
    )
    .await
    .problem_naming(422, "kind", "not_allowed");
    app.post(
        "/api/v1/articles",
        Some(&officer),
        &json!({"kind": "story", "title": "Chuyện", "body": "x", "admin_unit_code": "148"}),
    )
    .await
    .problem_naming(422, "admin_unit_code", "unknown");
    app.post(
        "/api/v1/articles",
        Some(&officer),
        &json!({"kind": "story", "title": "Chuyện", "body": "x"}),
    )
    .await
    .problem_naming(422, "admin_unit_code", "required");
    app.post(
        "/api/v1/articles",
        Some(&school_staff),
        &json!({"kind": "story", "title": "Chuyện", "body": "x"}),
    )
    .await
    .problem(403);
    app.post(
        "/api/v1/articles",
        Some(&admin),
        &json!({"kind": "news", "title": "Tin", "slug": "Not A Slug", "body": "x"}),
    )
    .await
    .problem_naming(422, "slug", "pattern");
    assert_eq!(
        count(&app, "articles"),
        before,
        "no refused article was written"
    );

    // The Department's article about another district is not the officer's.
    let elsewhere = app
        .post(
            "/api/v1/articles",
            Some(&admin),
            &json!({"kind": "news", "title": "Thành phố", "body": "x", "admin_unit_code": "148"}),
        )
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    app.get(&format!("/api/v1/articles/{elsewhere}"), &officer)
        .await
        .problem(404);
    // A slug is one article's.
    app.post(
        "/api/v1/articles",
        Some(&admin),
        &json!({"kind": "news", "title": "Thành phố", "body": "y"}),
    )
    .await
    .problem(409);

    // The officer edits their draft with the version they read.
    let own = app
        .post(
            "/api/v1/articles",
            Some(&officer),
            &json!({"kind": "story", "title": "Chuyện ở Đà Bắc", "body": "x", "admin_unit_code": "150"}),
        )
        .await
        .ok(201);
    let id = own["id"].as_i64().unwrap();
    let listed = app.get("/api/v1/articles", &officer).await.ok(200);
    let ids: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![id],
        "the officer lists only their area's articles"
    );
    app.patch_if_match(
        &format!("/api/v1/articles/{id}"),
        &officer,
        "\"9\"",
        &json!({"body": "stale"}),
    )
    .await
    .problem(412);
    let edited: Value = app
        .patch_if_match(
            &format!("/api/v1/articles/{id}"),
            &officer,
            &format!("\"{}\"", own["version"]),
            &json!({"body": "Cả bản Đà Bắc đã có sóng."}),
        )
        .await
        .ok(200);
    assert_eq!(edited["body"], "Cả bản Đà Bắc đã có sóng.");
    let stored = app
        .get(&format!("/api/v1/articles/{id}"), &admin)
        .await
        .ok(200);
    assert_eq!(stored["body"], "Cả bản Đà Bắc đã có sóng.");
    move_to(&app, &officer, id, "review").await.ok(200);
    move_to(&app, &admin, id, "published").await.ok(200);
    let version = app
        .get(&format!("/api/v1/articles/{id}"), &admin)
        .await
        .ok(200)["version"]
        .clone();
    app.patch_if_match(
        &format!("/api/v1/articles/{id}"),
        &admin,
        &format!("\"{version}\""),
        &json!({"body": "rewritten"}),
    )
    .await
    .problem(409);
    app.get("/api/v1/public/articles/no-such-article", "")
        .await
        .problem(404);
    app.get("/api/v1/public/articles?admin_unit=99999", "")
        .await
        .problem(404);
    let by_area = app
        .get("/api/v1/public/articles?admin_unit=150", "")
        .await
        .ok(200);
    assert_eq!(by_area["items"].as_array().unwrap().len(), 1, "{by_area}");
}
