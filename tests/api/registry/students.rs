use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{column, spawn_app, student, TestApp};

/// Two students in each of the four schools; returns the admin token.
async fn roster(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let batch = vec![
        student("DB-1", "TH-DABAC", 1),
        student("DB-2", "TH-DABAC", 5),
        student("DB-3", "THCS-DABAC", 6),
        student("DB-4", "THCS-DABAC", 9),
        student("TP-1", "TH-THAIBINH", 2),
        student("TP-2", "TH-THAIBINH", 3),
        student("TP-3", "THPT-TP", 10),
        student("TP-4", "THPT-TP", 12),
    ];
    app.sync_students(&admin, "", &batch).await.ok(200);
    admin
}

async fn id_of(app: &TestApp, admin: &str, external_id: &str) -> i64 {
    let all = app.get("/api/v1/students?limit=500", admin).await.ok(200);
    all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["external_id"] == external_id)
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[actix_rt::test]
async fn each_role_sees_only_its_scope() {
    let app = spawn_app().await;
    let admin = roster(&app).await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let city_school = app
        .get("/api/v1/schools/by-code/TH-THAIBINH", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let staff = app
        .user_token(
            "staff.tp",
            "school_staff",
            json!({"school_id": city_school}),
        )
        .await;

    let all = app.get("/api/v1/students", &admin).await.ok(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 8);
    let dabac = app.get("/api/v1/students", &officer).await.ok(200);
    assert_eq!(
        column(&dabac, "external_id"),
        vec!["DB-1", "DB-2", "DB-3", "DB-4"]
    );
    let school = app.get("/api/v1/students", &staff).await.ok(200);
    assert_eq!(column(&school, "external_id"), vec!["TP-1", "TP-2"]);

    // Filters narrow inside the scope, never widen it.
    let city_for_officer = app
        .get("/api/v1/students?admin_unit=148", &officer)
        .await
        .ok(200);
    assert_eq!(city_for_officer["items"], json!([]));
    let commune = app
        .get("/api/v1/students?admin_unit=04831", &officer)
        .await
        .ok(200);
    assert_eq!(column(&commune, "external_id"), vec!["DB-1", "DB-2"]);
    let grade = app.get("/api/v1/students?grade=9", &admin).await.ok(200);
    assert_eq!(column(&grade, "external_id"), vec!["DB-4"]);

    // Someone else's student is "not found", not "forbidden".
    let tp3 = id_of(&app, &admin, "TP-3").await;
    let db1 = id_of(&app, &admin, "DB-1").await;
    app.get(&format!("/api/v1/students/{tp3}"), &officer)
        .await
        .problem(404);
    app.get(&format!("/api/v1/students/{db1}"), &staff)
        .await
        .problem(404);
    app.get(&format!("/api/v1/students/{tp3}"), &staff)
        .await
        .problem(404);
    app.patch_if_match(
        &format!("/api/v1/students/{tp3}"),
        &staff,
        "\"1\"",
        &json!({"device_status": "adequate"}),
    )
    .await
    .problem(404);
    let own = id_of(&app, &admin, "TP-1").await;
    app.get(&format!("/api/v1/students/{own}"), &staff)
        .await
        .ok(200);

    for role in ["donor", "warehouse_officer", "stats_reader"] {
        let token = app.user_token(&format!("u.{role}"), role, json!({})).await;
        app.get("/api/v1/students", &token).await.problem(403);
        app.get(&format!("/api/v1/students/{own}"), &token)
            .await
            .problem(403);
    }
}

#[actix_rt::test]
async fn updates_need_the_current_version() {
    let app = spawn_app().await;
    let admin = roster(&app).await;
    let id = id_of(&app, &admin, "DB-2").await;
    let path = format!("/api/v1/students/{id}");

    let read = app.get(&path, &admin).await;
    assert_eq!(read.header("etag").as_deref(), Some("\"1\""));
    app.patch(&path, &admin, &json!({"device_status": "shared"}))
        .await
        .problem(428);
    let updated = app
        .patch_if_match(&path, &admin, "\"1\"", &json!({"device_status": "shared"}))
        .await;
    assert_eq!(updated.header("etag").as_deref(), Some("\"2\""));
    assert_eq!(updated.ok(200)["device_status"], "shared");
    let problem = app
        .patch_if_match(
            &path,
            &admin,
            "\"1\"",
            &json!({"device_status": "adequate"}),
        )
        .await
        .problem(412);
    assert!(problem["detail"].as_str().unwrap().contains('2'));
    app.patch_if_match(&path, &admin, "two", &json!({"device_status": "adequate"}))
        .await
        .problem(400);

    let level = app
        .patch_if_match(&path, &admin, "\"2\"", &json!({"grade": 9}))
        .await
        .problem(422);
    assert_eq!(level["errors"][0]["code"], "school_level");
    app.patch_if_match(&path, &admin, "\"2\"", &json!({"full_name": ""}))
        .await
        .problem(422);
    app.patch_if_match(&path, &admin, "\"2\"", &json!({"school_id": 3}))
        .await
        .problem(422);
    let same = app
        .patch_if_match(&path, &admin, "\"2\"", &json!({"device_status": "shared"}))
        .await
        .ok(200);
    assert_eq!(
        same["version"], 2,
        "an update that changes nothing keeps the version"
    );

    // The audit log names the changed fields, never personal values.
    app.patch_if_match(
        &path,
        &admin,
        "\"2\"",
        &json!({"full_name": "Lò Thị Mới", "household_status": "near_poor", "grade": 4}),
    )
    .await
    .ok(200);
    let audit = app
        .get(
            &format!("/api/v1/audit-log?entity=student&entity_id={id}"),
            &admin,
        )
        .await
        .ok(200);
    let text = audit.to_string();
    assert!(
        !text.contains("Lò Thị Mới") && !text.contains("near_poor"),
        "{text}"
    );
    assert_eq!(
        audit["items"][0]["changes"]["fields"],
        json!(["grade", "full_name", "household_status"])
    );
}

#[actix_rt::test]
async fn deleting_is_soft_and_keeps_history() {
    let app = spawn_app().await;
    let admin = roster(&app).await;
    let id = id_of(&app, &admin, "TP-4").await;
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/students/{id}"),
            Some(&officer),
            None,
            vec![],
        )
        .await;
    deleted.problem(404);

    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/students/{id}"),
            Some(&admin),
            None,
            vec![],
        )
        .await;
    assert_eq!(deleted.status.as_u16(), 204);
    assert_eq!(
        app.get("/api/v1/students", &admin).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        7
    );
    let gone = app
        .get("/api/v1/students?deleted=true", &admin)
        .await
        .ok(200);
    assert_eq!(column(&gone, "external_id"), vec!["TP-4"]);
    let kept = app
        .get(&format!("/api/v1/students/{id}"), &admin)
        .await
        .ok(200);
    assert_eq!(
        (kept["deleted"].as_bool(), kept["version"].as_i64()),
        (Some(true), Some(2))
    );
    let again = app
        .request(
            Method::DELETE,
            &format!("/api/v1/students/{id}"),
            Some(&admin),
            None,
            vec![],
        )
        .await;
    assert_eq!(again.status.as_u16(), 204);
    let city_school = app
        .get("/api/v1/schools/by-code/THPT-TP", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    let staff = app
        .user_token(
            "staff.tp",
            "school_staff",
            json!({"school_id": city_school}),
        )
        .await;
    app.request(
        Method::DELETE,
        &format!("/api/v1/students/{id}"),
        Some(&staff),
        None,
        vec![],
    )
    .await
    .problem(403);
}

const CSV_HEADER: &str = "external_id,school_code,grade,full_name,birth_date,gender,household_status,device_status,connectivity_status";

async fn import(app: &TestApp, token: &str, csv: &[u8]) -> crate::helpers::Reply {
    app.request(
        Method::POST,
        "/api/v1/students/import",
        Some(token),
        Some("text/csv"),
        csv.to_vec(),
    )
    .await
}

#[actix_rt::test]
async fn spreadsheets_import_and_export_round_trip() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let ids = app.seed_schools(&admin).await;
    let staff = app
        .user_token(
            "staff.db",
            "school_staff",
            json!({"school_id": ids["TH-DABAC"]}),
        )
        .await;
    let csv = format!(
        "{CSV_HEADER}\n\
         X1,TH-DABAC,1,Đinh Thị Hương,2019-05-01,female,poor,none,none\n\
         X2,TH-DABAC,2,\"Bùi Văn Dũng, Jr\",2018-01-20,male,near_poor,shared,mobile_weak\n\
         X3,TH-THAIBINH,2,Lê Văn Tám,2018-02-02,male,other,adequate,fixed\n\
         X4,TH-DABAC,2,Hà Thị Mai,02/03/2018,female,other,none,none\n\
         X5,TH-DABAC,3,Quách Văn Năm\n"
    );
    let report = import(&app, &staff, csv.as_bytes()).await.ok(200);
    assert_eq!(
        (report["inserted"].as_i64(), report["rejected"].as_i64()),
        (Some(2), Some(3))
    );
    let rejected: Vec<(u64, String)> = report["rejected_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["errors"][0]["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rejected,
        vec![
            (4, "school_code".into()),
            (5, "birth_date".into()),
            (6, "line".into())
        ]
    );

    let student = app.get("/api/v1/students?limit=1", &staff).await.ok(200);
    assert_eq!(
        student["items"][0]["full_name"], "Đinh Thị Hương",
        "diacritics kept"
    );

    let export = app
        .request(
            Method::GET,
            "/api/v1/students/export",
            Some(&staff),
            None,
            vec![],
        )
        .await;
    assert_eq!(export.status.as_u16(), 200);
    assert!(export
        .header("content-type")
        .unwrap()
        .starts_with("text/csv"));
    let text = String::from_utf8(export.body.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("\u{feff}{CSV_HEADER},active,version"),
        "a byte order mark, then the header"
    );
    assert_eq!(lines.len(), 3);
    assert!(lines[2].contains("\"Bùi Văn Dũng, Jr\""));

    // The export imports again as-is: nothing changes.
    let again = import(&app, &staff, &export.body).await.ok(200);
    assert_eq!(
        (again["unchanged"].as_i64(), again["rejected"].as_i64()),
        (Some(2), Some(0))
    );

    // The admin's export holds everyone; the staff member's only their school.
    app.sync_students(&admin, "", &[crate::helpers::student("Y1", "THPT-TP", 11)])
        .await
        .ok(200);
    let all = app
        .request(
            Method::GET,
            "/api/v1/students/export?admin_unit=17",
            Some(&admin),
            None,
            vec![],
        )
        .await;
    assert_eq!(String::from_utf8(all.body).unwrap().lines().count(), 4);
    crate::needs::coverage_counts::assert_counts_match_rows(&app, &admin, "spreadsheet imports")
        .await;
}

#[actix_rt::test]
async fn broken_spreadsheets_are_refused_clearly() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;

    let missing_column = "external_id,school_code,grade,full_name,birth_date,gender,household_status,device_status\nX1,TH-DABAC,1,A,2019-05-01,female,poor,none\n";
    let problem = import(&app, &admin, missing_column.as_bytes())
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["code"], "missing_columns");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("connectivity_status"));

    let mut bad_utf8 =
        format!("{CSV_HEADER}\nX1,TH-DABAC,1,Lò Văn A,2019-05-01,male,poor,none,none\n")
            .into_bytes();
    bad_utf8.extend_from_slice(b"X2,TH-DABAC,1,L\xff\xfe Van B,2019-05-01,male,poor,none,none\n");
    let report = import(&app, &admin, &bad_utf8).await.ok(200);
    assert_eq!(
        (report["inserted"].as_i64(), report["rejected"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(report["rejected_rows"][0]["line"], 3);
    assert!(report["rejected_rows"][0]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("UTF-8"));

    // Atomic: one bad line refuses the file, and the good line beside it is
    // not written either (fresh ids, so a stored row would show).
    let mut atomic_file =
        format!("{CSV_HEADER}\nX3,TH-DABAC,1,Lò Văn C,2019-05-01,male,poor,none,none\n")
            .into_bytes();
    atomic_file
        .extend_from_slice(b"X4,TH-DABAC,1,L\xff\xfe Van D,2019-05-01,male,poor,none,none\n");
    let before = app.row_counts();
    let atomic = app
        .request(
            Method::POST,
            "/api/v1/students/import?atomic=true",
            Some(&admin),
            Some("text/csv"),
            atomic_file.clone(),
        )
        .await;
    let problem = atomic.problem(422);
    assert!(problem.to_string().contains("UTF-8"), "{problem}");
    app.assert_nothing_written(&before, "an atomic import with a bad line");

    import(&app, &admin, CSV_HEADER.as_bytes())
        .await
        .problem_naming(422, "body", "empty");
    app.assert_nothing_written(&before, "a file with no lines");
    let json_body = app
        .request(
            Method::POST,
            "/api/v1/students/import",
            Some(&admin),
            Some("application/json"),
            b"[]".to_vec(),
        )
        .await;
    json_body.problem(415);
    let sync = app.client_token("sync_client").await;
    let before = app.row_counts();
    import(&app, &sync, bad_utf8.as_slice()).await.problem(403);
    app.assert_nothing_written(&before, "an import by a role that may not import");
}

/// Nothing personal reaches the audit log, the error bodies or the log of
/// a whole sync-and-edit session.
#[actix_rt::test]
async fn personal_data_stays_out_of_audit_and_errors() {
    let app = spawn_app().await;
    let admin = roster(&app).await;
    let mut bad = student("Z1", "TH-DABAC", 40);
    bad["full_name"] = json!("Vàng Thị Riêng Tư");
    let reply = app
        .sync_students(&admin, "?atomic=true", &[bad.clone()])
        .await;
    let problem = reply.problem_naming(422, "body", "rejected_rows");
    assert_eq!(
        problem["rows"][0]["errors"][0]["field"], "grade",
        "{problem}"
    );
    assert!(!String::from_utf8_lossy(&reply.body).contains("Riêng Tư"));
    let reply = app
        .request(
            Method::POST,
            "/api/v1/sync/students",
            Some(&admin),
            Some("application/json"),
            r#"[{"full_name": "Vàng Thị Riêng Tư", "grade": "Vàng""#
                .as_bytes()
                .to_vec(),
        )
        .await;
    reply.problem(400);
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("Vàng"),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let id = id_of(&app, &admin, "DB-1").await;
    let reply = app
        .patch_if_match(
            &format!("/api/v1/students/{id}"),
            &admin,
            "\"1\"",
            &json!({"grade": "Vàng Thị Riêng Tư"}),
        )
        .await;
    reply.problem_naming(422, "grade", "invalid");
    assert!(
        !String::from_utf8_lossy(&reply.body).contains("Riêng Tư"),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );

    let audit = app
        .get("/api/v1/audit-log?limit=500", &admin)
        .await
        .ok(200)
        .to_string();
    for private in ["Nguyễn Thị Học Sinh", "2015-03-14", "\"poor\"", "female"] {
        assert!(!audit.contains(private), "audit log holds {private}");
    }
    let _: Value = serde_json::from_str(&audit).unwrap();
}

/// Officers correcting one student at once, all from the same version:
/// one correction wins, the others are told (412) — none is silently lost,
/// also on PostgreSQL where every transaction reads the same version.
#[actix_rt::test]
async fn simultaneous_corrections_one_wins_the_others_get_412() {
    let app = crate::helpers::spawn_app_with(|env| {
        env.insert("SONGMAY_WORKERS", "4".into());
        env.insert("SONGMAY_DB_POOL_SIZE", "8".into());
    })
    .await;
    let admin = roster(&app).await;
    let id = id_of(&app, &admin, "DB-2").await;
    let path = format!("/api/v1/students/{id}");
    for round in 0..3 {
        let version = app.get(&path, &admin).await.ok(200)["version"]
            .as_i64()
            .unwrap();
        let if_match = format!("\"{version}\"");
        let bodies: Vec<Value> = (0..6)
            .map(|i| json!({"full_name": format!("Lò Văn Sửa {round}-{i}")}))
            .collect();
        let replies = futures_util::future::join_all(
            bodies
                .iter()
                .map(|body| app.patch_if_match(&path, &admin, &if_match, body)),
        )
        .await;
        let mut codes: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
        codes.sort();
        assert_eq!(codes, [200, 412, 412, 412, 412, 412], "round {round}");
        let winner = replies
            .iter()
            .find(|r| r.status.as_u16() == 200)
            .unwrap()
            .json();
        let now = app.get(&path, &admin).await.ok(200);
        assert_eq!(
            (now["version"].as_i64(), &now["full_name"]),
            (Some(version + 1), &winner["full_name"]),
            "round {round}: the stored student is the winner's"
        );
    }
}
