//! The 2025 reform as data: the two-level tree beside the old one, the
//! mapping between them, and schools in split communes.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

const UNITS_2025: &str = include_str!("../../../data/admin_units_vn_2025.csv");
pub(crate) const MAPPING: &str = include_str!("../../../data/admin_units_2025_mapping.csv");

pub(crate) async fn upload(app: &TestApp, token: &str, path: &str, csv: &str) -> Reply {
    app.request(
        Method::POST,
        path,
        Some(token),
        Some("text/csv; charset=utf-8"),
        csv.as_bytes().to_vec(),
    )
    .await
}

pub(crate) async fn load_2025(app: &TestApp, admin: &str) {
    let report = upload(
        app,
        admin,
        "/api/v1/admin-units/import?scheme=vn2025",
        UNITS_2025,
    )
    .await
    .ok(200);
    assert_eq!(report["inserted"], 3355, "{report}");
}

#[actix_rt::test]
async fn the_2025_tree_loads_beside_the_old_one_and_a_code_names_one_place() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    upload(
        &app,
        &admin,
        "/api/v1/admin-units/import?scheme=vn2031",
        "code,parent_code,level,name\n",
    )
    .await
    .problem(400);
    load_2025(&app, &admin).await;
    let again = upload(
        &app,
        &admin,
        "/api/v1/admin-units/import?scheme=vn2025",
        UNITS_2025,
    )
    .await
    .ok(200);
    assert_eq!(
        (again["inserted"].clone(), again["unchanged"].clone()),
        (json!(0), json!(3355))
    );

    // The same GSO code, two places: each tree keeps its own.
    let old = app.get("/api/v1/admin-units/04792", &admin).await.ok(200);
    assert_eq!(
        (old["scheme"].clone(), old["parent_code"].clone()),
        (json!("vn2008"), json!("148"))
    );
    let new = app
        .get("/api/v1/admin-units/vn2025:04792", &admin)
        .await
        .ok(200);
    assert_eq!(
        (new["scheme"].clone(), new["parent_code"].clone()),
        (json!("vn2025"), json!("vn2025:25"))
    );
    assert_eq!(
        new["parents"][0]["name"], "Tỉnh Phú Thọ",
        "two levels: the commune sits under its province"
    );
    // Each tree lists on its own: 34 provinces now, Hòa Bình's one before.
    let provinces = app
        .get(
            "/api/v1/admin-units?scheme=vn2025&level=province&limit=100",
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(provinces["items"].as_array().unwrap().len(), 34);
    let before = app
        .get("/api/v1/admin-units?scheme=vn2008&level=province", &admin)
        .await
        .ok(200);
    assert_eq!(crate::helpers::column(&before, "code"), ["17"]);
    let phu_tho = app
        .get("/api/v1/admin-units/vn2025:25", &admin)
        .await
        .ok(200);
    assert!(
        phu_tho["children_count"].as_i64().unwrap() > 100,
        "{phu_tho}"
    );
}

#[actix_rt::test]
async fn the_mapping_loads_after_the_2025_units_and_links_both_ways() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Before the 2025 units exist, every new code is unknown: named by line.
    let refused = upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .problem(422);
    assert_eq!(refused["errors"][0]["field"], "new_code");
    assert_eq!(refused["errors"][0]["code"], "unknown");
    assert_eq!(refused["errors"][0]["line"], 2);
    assert_eq!(app.row_counts()["admin_unit_successors"], 0);
    load_2025(&app, &admin).await;
    // A row to a code no 2025 unit has: the line is named, nothing written.
    let bad = "old_code,new_code,is_default\n04891,04891,true\n04891,99999,false\n";
    let refused = upload(&app, &admin, "/api/v1/admin-units/mappings/import", bad)
        .await
        .problem(422);
    assert_eq!(
        (
            refused["errors"][0]["line"].clone(),
            refused["errors"][0]["field"].clone()
        ),
        (json!(3), json!("new_code"))
    );
    assert_eq!(app.row_counts()["admin_unit_successors"], 0);

    let report = upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .ok(200);
    // Hòa Bình's 151 communes (the service holds the old tree of Hòa Bình
    // only): 154 rows, three communes split; the other provinces' rows are
    // counted and left out.
    assert_eq!(
        report,
        json!({"total": 10597, "applied": 154, "old_units": 151, "split": 3, "skipped_unknown_old": 10443})
    );
    let again = upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .ok(200);
    assert_eq!(again, report, "a re-import changes nothing");
    assert_eq!(app.row_counts()["admin_unit_successors"], 154);

    let successors = app
        .get("/api/v1/admin-units/04891/successors", &admin)
        .await
        .ok(200);
    let pairs: Vec<(Value, Value)> = successors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["code"].clone(), u["is_default"].clone()))
        .collect();
    assert_eq!(
        pairs,
        [
            (json!("vn2025:04828"), json!(false)),
            (json!("vn2025:04891"), json!(true))
        ]
    );
    let predecessors = app
        .get("/api/v1/admin-units/vn2025:04891/predecessors", &admin)
        .await
        .ok(200);
    assert_eq!(
        crate::helpers::column(&predecessors, "code"),
        ["04888", "04891"]
    );
    app.get("/api/v1/admin-units/99999/successors", &admin)
        .await
        .problem(404);
}

#[actix_rt::test]
async fn schools_in_split_communes_are_listed_and_land_where_an_officer_decides() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    load_2025(&app, &admin).await;
    upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .ok(200);
    let batch = json!([
        {"moet_code": "TH-VAYNUA", "name": "Trường TH Vầy Nưa", "admin_unit_code": "04891", "level": "primary"},
        {"moet_code": "TH-TANHOA", "name": "Trường TH Tân Hòa", "admin_unit_code": "04792", "level": "primary"}
    ]);
    app.post("/api/v1/sync/schools", Some(&admin), &batch)
        .await
        .ok(200);
    let split = app
        .get("/api/v1/admin-units/split-schools", &admin)
        .await
        .ok(200);
    let items = split["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        1,
        "only the school in a split commune: {split}"
    );
    assert_eq!(items[0]["moet_code"], "TH-VAYNUA");
    assert_eq!(
        items[0]["lands_in"], "vn2025:04891",
        "the default, until decided"
    );
    assert_eq!(items[0]["decided"], Value::Null);
    let school = items[0]["school_id"].as_i64().unwrap();

    // Đà Bắc's officer (04891 lies in Đà Bắc, 150) decides; the city's cannot.
    let officer = app
        .user_token(
            "officer.db",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    let city = app
        .user_token(
            "officer.tp",
            "district_officer",
            json!({"admin_unit_code": "148"}),
        )
        .await;
    let path = format!("/api/v1/schools/{school}/successor-unit");
    let put = |token: String, code: &'static str| {
        let (app, path) = (&app, path.clone());
        async move {
            app.request(
                Method::PUT,
                &path,
                Some(&token),
                Some("application/json"),
                json!({"new_code": code}).to_string().into_bytes(),
            )
            .await
        }
    };
    put(city.clone(), "vn2025:04828").await.problem(404);
    assert!(app
        .get("/api/v1/admin-units/split-schools", &city)
        .await
        .ok(200)["items"]
        .as_array()
        .unwrap()
        .is_empty());
    put(officer.clone(), "vn2025:04792")
        .await
        .problem_naming(422, "new_code", "not_a_successor");
    let decided = put(officer.clone(), "vn2025:04828").await.ok(200);
    assert_eq!(decided["lands_in"], "vn2025:04828");
    assert_eq!(decided["decided"]["decided_by"], "user:officer.db");
    let split = app
        .get("/api/v1/admin-units/split-schools", &officer)
        .await
        .ok(200);
    assert_eq!(split["items"][0]["lands_in"], "vn2025:04828");
    let audit = app
        .get(
            "/api/v1/audit-log?entity=school&action=choose_successor",
            &admin,
        )
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}

/// Hòa Bình is re-homed into Phú Thọ with one dry run and one commit: open
/// records move, history stays, what needs a person is listed, and the
/// province's totals read the same in the old tree before and in the new
/// tree after. A second run moves nothing.
#[actix_rt::test]
async fn hoa_binh_is_rehomed_into_phu_tho_with_one_dry_run_and_one_commit() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    load_2025(&app, &admin).await;
    upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .ok(200);
    let schools = app.seed_schools(&admin).await;
    let vay_nua = json!([{"moet_code": "TH-VAYNUA", "name": "Trường TH Vầy Nưa", "admin_unit_code": "04891", "level": "primary"}]);
    app.post("/api/v1/sync/schools", Some(&admin), &vay_nua)
        .await
        .ok(200);
    let vay_nua = app
        .get("/api/v1/schools/by-code/TH-VAYNUA", &admin)
        .await
        .ok(200)["id"]
        .as_i64()
        .unwrap();
    // Students and their open needs at three schools; one need closed.
    let roster: Vec<Value> = (0..6)
        .map(|i| {
            crate::helpers::student(
                &format!("RH{i}"),
                ["TH-DABAC", "TH-THAIBINH", "TH-VAYNUA"][i % 3],
                2,
            )
        })
        .collect();
    app.sync_students(&admin, "", &roster).await.ok(200);
    app.generate_needs(&admin).await;
    let open: Vec<i64> = app.get("/api/v1/needs?limit=500", &admin).await.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    assert!(open.len() >= 6, "{open:?}");
    app.post(
        &format!("/api/v1/needs/{}/transitions", open[0]),
        Some(&admin),
        &json!({"to": "cancelled", "reason": "the family bought one"}),
    )
    .await
    .ok(200);
    // A warehouse in a commune and one on a district; a flag; officers.
    for (name, unit) in [("Kho Mường Chiềng", "04831"), ("Kho Đà Bắc", "150")] {
        app.post(
            "/api/v1/warehouses",
            Some(&admin),
            &json!({"name": name, "admin_unit_code": unit}),
        )
        .await
        .ok(201);
    }
    app.request(
        Method::PUT,
        "/api/v1/admin-units/04831/flags",
        Some(&admin),
        Some("application/json"),
        json!({"lockdown": true, "lockdown_from": "2021-09-01", "lockdown_until": "2021-10-01"})
            .to_string()
            .into_bytes(),
    )
    .await
    .ok(200);
    let province_officer = app
        .post("/api/v1/users", Some(&admin), &json!({"username": "so.gd", "password": "a password long enough", "role": "district_officer", "admin_unit_code": "17"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    let district_officer = app
        .post("/api/v1/users", Some(&admin), &json!({"username": "phong.db", "password": "a password long enough", "role": "district_officer", "admin_unit_code": "150"}))
        .await
        .ok(201)["id"]
        .as_i64()
        .unwrap();
    // An officer chose where the school in the split commune goes.
    app.request(
        Method::PUT,
        &format!("/api/v1/schools/{vay_nua}/successor-unit"),
        Some(&admin),
        Some("application/json"),
        json!({"new_code": "vn2025:04828"}).to_string().into_bytes(),
    )
    .await
    .ok(200);
    let reader = app.client_token("stats_reader").await;
    let old_total = app
        .get("/api/v1/stats/coverage?admin_unit=17", &reader)
        .await
        .ok(200)["total"]
        .clone();
    assert_eq!(old_total["students"], 6);

    // The dry run reports and writes nothing.
    let before = app.row_counts();
    let plan = app
        .post(
            "/api/v1/admin-units/rehome",
            Some(&admin),
            &json!({"province": "17"}),
        )
        .await
        .ok(200);
    app.assert_nothing_written(&before, "a dry run");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["new_province"], "vn2025:25");
    // TH-DABAC, TH-THAIBINH (communes) and TH-VAYNUA (decided) move; THCS-DABAC
    // and THPT-TP sit on districts, which the new tree does not have.
    assert_eq!(
        plan["moved"],
        json!({"schools": 3, "open_needs": open.len() - 1, "warehouses": 1, "coverage_gaps": 0, "flags": 1, "officers": 1})
    );
    assert_eq!(plan["kept"]["closed_needs"], 1);
    let listed: Vec<(String, String, String)> = plan["ambiguities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().into(),
                a["entity"].as_str().unwrap().into(),
                a["id"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        (
            "abolished_district",
            "school",
            schools["THCS-DABAC"].to_string(),
        ),
        (
            "abolished_district",
            "school",
            schools["THPT-TP"].to_string(),
        ),
        ("abolished_district", "user", district_officer.to_string()),
    ] {
        let expected = (expected.0.to_owned(), expected.1.to_owned(), expected.2);
        assert!(listed.contains(&expected), "{expected:?} in {listed:?}");
    }
    assert!(listed
        .iter()
        .any(|a| a.0 == "abolished_district" && a.1 == "warehouse"));

    // The commit does what the plan said.
    let done = app
        .post(
            "/api/v1/admin-units/rehome",
            Some(&admin),
            &json!({"province": "17", "dry_run": false}),
        )
        .await
        .ok(200);
    assert_eq!(
        (done["moved"].clone(), done["ambiguities"].clone()),
        (plan["moved"].clone(), plan["ambiguities"].clone())
    );
    let unit_of = |moet: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            app.get(&format!("/api/v1/schools/by-code/{moet}"), &admin)
                .await
                .ok(200)["admin_unit_code"]
                .clone()
        }
    };
    assert_eq!(unit_of("TH-DABAC").await, "vn2025:04831");
    assert_eq!(unit_of("TH-THAIBINH").await, "vn2025:04828");
    assert_eq!(
        unit_of("TH-VAYNUA").await,
        "vn2025:04828",
        "the officer's choice, not the default"
    );
    assert_eq!(
        unit_of("THCS-DABAC").await,
        "150",
        "left for a person to decide"
    );
    let officer = app
        .get(&format!("/api/v1/users/{province_officer}"), &admin)
        .await
        .ok(200);
    assert_eq!(officer["admin_unit_code"], "vn2025:25");
    let officer = app
        .get(&format!("/api/v1/users/{district_officer}"), &admin)
        .await
        .ok(200);
    assert_eq!(
        officer["admin_unit_code"], "150",
        "never widened to the province"
    );
    // Open needs follow their school; the closed one keeps its old unit.
    let closed = app
        .get(&format!("/api/v1/needs/{}", open[0]), &admin)
        .await
        .ok(200);
    assert!(
        !closed["admin_unit_code"]
            .as_str()
            .unwrap()
            .starts_with("vn2025:"),
        "{closed}"
    );
    app.get("/api/v1/admin-units/vn2025:04831/flags", &admin)
        .await
        .ok(200);

    // The province's totals: the old tree before, the new tree after.
    let new_total = app
        .get("/api/v1/stats/coverage?admin_unit=vn2025:25", &reader)
        .await
        .ok(200)["total"]
        .clone();
    for field in [
        "students",
        "with_device",
        "with_connectivity",
        "ready",
        "open_device_needs",
    ] {
        assert_eq!(new_total[field], old_total[field], "{field}");
    }
    // Every moved record is an event.
    let audit = app
        .get("/api/v1/audit-log?action=rehome&entity=school", &admin)
        .await
        .ok(200);
    assert_eq!(audit["items"].as_array().unwrap().len(), 3);

    // The education data system still sends old codes: read through the
    // mapping (the officer's choice, else the default), never moved back;
    // new codes are taken as they are.
    let resync = json!([
        {"moet_code": "TH-DABAC", "name": "Trường TH-DABAC", "admin_unit_code": "04831", "level": "primary"},
        {"moet_code": "TH-VAYNUA", "name": "Trường TH Vầy Nưa", "admin_unit_code": "04891", "level": "primary"},
        {"moet_code": "TH-THAIBINH", "name": "Trường TH-THAIBINH", "admin_unit_code": "vn2025:04828", "level": "primary"}
    ]);
    let report = app
        .post("/api/v1/sync/schools", Some(&admin), &resync)
        .await
        .ok(200);
    assert_eq!(
        report["translated"],
        json!([
            {"key": "TH-DABAC", "from": "04831", "to": "vn2025:04831"},
            {"key": "TH-VAYNUA", "from": "04891", "to": "vn2025:04828"}
        ])
    );
    assert_eq!(report["unchanged"], 3, "{report}");
    assert_eq!(unit_of("TH-DABAC").await, "vn2025:04831");
    assert_eq!(unit_of("TH-VAYNUA").await, "vn2025:04828");

    // A second run moves nothing more.
    let again = app
        .post(
            "/api/v1/admin-units/rehome",
            Some(&admin),
            &json!({"province": "17", "dry_run": false}),
        )
        .await
        .ok(200);
    assert_eq!(
        again["moved"],
        json!({"schools": 0, "open_needs": 0, "warehouses": 0, "coverage_gaps": 0, "flags": 0, "officers": 0})
    );
    // Not an old province: refused, naming the field.
    app.post(
        "/api/v1/admin-units/rehome",
        Some(&admin),
        &json!({"province": "vn2025:25"}),
    )
    .await
    .problem_naming(422, "province", "unknown");
}

#[actix_rt::test]
async fn a_roster_sync_during_a_re_homing_loses_nothing_and_lands_in_the_new_tree() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    load_2025(&app, &admin).await;
    upload(&app, &admin, "/api/v1/admin-units/mappings/import", MAPPING)
        .await
        .ok(200);
    app.seed_schools(&admin).await;
    let first: Vec<Value> = (0..40)
        .map(|i| crate::helpers::student(&format!("A{i:03}"), "TH-DABAC", 1 + i % 5))
        .collect();
    app.sync_students(&admin, "", &first).await.ok(200);
    let reader = app.client_token("stats_reader").await;
    // While the province moves, the education data system sends more
    // students and a school update with the old commune code.
    let second: Vec<Value> = (0..40)
        .map(|i| crate::helpers::student(&format!("B{i:03}"), "TH-THAIBINH", 1 + i % 5))
        .collect();
    let school = json!([{"moet_code": "TH-DABAC", "name": "Trường TH Mường Chiềng", "admin_unit_code": "04831", "level": "primary"}]);
    let rehome = json!({"province": "17", "dry_run": false});
    let ((moved, synced), schools) = futures_util::future::join(
        futures_util::future::join(
            app.post("/api/v1/admin-units/rehome", Some(&admin), &rehome),
            app.sync_students(&admin, "", &second),
        ),
        app.post("/api/v1/sync/schools", Some(&admin), &school),
    )
    .await;
    // Each either happened whole or was refused whole with a retryable 503.
    let mut retried = Vec::new();
    for (what, reply) in [
        ("rehome", &moved),
        ("students", &synced),
        ("schools", &schools),
    ] {
        match reply.status.as_u16() {
            200 => {}
            503 => retried.push(what),
            other => panic!("{what}: {other} {}", reply.json()),
        }
    }
    for what in retried {
        match what {
            "rehome" => app
                .post("/api/v1/admin-units/rehome", Some(&admin), &rehome)
                .await
                .ok(200),
            "students" => app.sync_students(&admin, "", &second).await.ok(200),
            _ => app
                .post("/api/v1/sync/schools", Some(&admin), &school)
                .await
                .ok(200),
        };
    }
    // A second re-homing moves nothing more: the school update did not
    // put TH-DABAC back on the old tree.
    let again = app
        .post("/api/v1/admin-units/rehome", Some(&admin), &rehome)
        .await
        .ok(200);
    assert_eq!(again["moved"]["schools"], 0, "{again}");
    for moet in ["TH-DABAC", "TH-THAIBINH"] {
        let found = app
            .get(&format!("/api/v1/schools/by-code/{moet}"), &admin)
            .await
            .ok(200);
        assert!(
            found["admin_unit_code"]
                .as_str()
                .unwrap()
                .starts_with("vn2025:"),
            "{found}"
        );
    }
    let updated = app
        .get("/api/v1/schools/by-code/TH-DABAC", &admin)
        .await
        .ok(200);
    assert_eq!(
        updated["name"], "Trường TH Mường Chiềng",
        "the school update was applied"
    );
    let total = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2008&admin_unit=17",
            &reader,
        )
        .await
        .ok(200)["total"]["students"]
        .clone();
    assert_eq!(total, 80, "every student of both batches, counted once");
    let new_total = app
        .get(
            "/api/v1/stats/coverage?scheme=vn2025&admin_unit=vn2025:25",
            &reader,
        )
        .await
        .ok(200)["total"]["students"]
        .clone();
    assert_eq!(new_total, 80);
    crate::needs::coverage_counts::assert_counts_match_rows(&app, &admin, "after the race").await;
}
