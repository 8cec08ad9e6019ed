use actix_web::http::Method;
use serde_json::json;

use crate::helpers::{column, spawn_app, TestApp};

/// In GSO code order (148, 150, 152 … 159).
const HOA_BINH_DISTRICTS: [&str; 10] = [
    "Thành phố Hòa Bình",
    "Huyện Đà Bắc",
    "Huyện Lương Sơn",
    "Huyện Kim Bôi",
    "Huyện Cao Phong",
    "Huyện Tân Lạc",
    "Huyện Mai Châu",
    "Huyện Lạc Sơn",
    "Huyện Yên Thủy",
    "Huyện Lạc Thủy",
];

async fn import(app: &TestApp, token: &str, csv: &str) -> crate::helpers::Reply {
    app.request(
        Method::POST,
        "/api/v1/admin-units/import",
        Some(token),
        Some("text/csv; charset=utf-8"),
        csv.as_bytes().to_vec(),
    )
    .await
}

async fn all_codes(app: &TestApp, token: &str) -> Vec<String> {
    let pages = app.all_pages("/api/v1/admin-units?limit=500", token).await;
    pages.iter().flat_map(|page| column(page, "code")).collect()
}

#[actix_rt::test]
async fn lists_the_ten_districts_of_hoa_binh() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let page = app
        .get("/api/v1/admin-units?parent_code=17", &token)
        .await
        .ok(200);
    let names = column(&page, "name");
    assert_eq!(names, HOA_BINH_DISTRICTS, "all ten, ordered by code");
    assert!(page["next_cursor"].is_null());
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["level"] == "district" && u["parent_code"] == "17"));

    let provinces = app
        .get("/api/v1/admin-units?level=province", &token)
        .await
        .ok(200);
    assert_eq!(
        provinces["items"],
        json!([{"code": "17", "scheme": "vn2008", "parent_code": null, "level": "province", "name": "Tỉnh Hoà Bình"}])
    );
}

#[actix_rt::test]
async fn pages_cover_every_unit_exactly_once() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let pages = app.all_pages("/api/v1/admin-units?limit=50", &token).await;
    assert_eq!(pages.len(), 4);
    let codes: Vec<String> = pages.iter().flat_map(|page| column(page, "code")).collect();
    assert_eq!(codes.len(), 162);
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, codes, "ordered by code, no repeats");
}

#[actix_rt::test]
async fn a_unit_comes_with_its_parent_chain() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let unit = app.get("/api/v1/admin-units/04831", &token).await.ok(200);
    assert_eq!(unit["name"], "Thị trấn Đà Bắc");
    assert_eq!(unit["level"], "commune");
    let parents: Vec<&str> = unit["parents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(parents, vec!["17", "150"]);
    assert_eq!(unit["children_count"], 0);

    let district = app.get("/api/v1/admin-units/150", &token).await.ok(200);
    assert_eq!(district["children_count"].as_i64().unwrap(), 17);
    app.get("/api/v1/admin-units/00000", &token)
        .await
        .problem(404);
}

#[actix_rt::test]
async fn importing_the_whole_country_is_idempotent() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let vn = std::fs::read_to_string("data/admin_units_vn.csv").unwrap();
    let rows = vn.lines().count() - 1;

    let first = import(&app, &token, &vn).await.ok(200);
    assert_eq!(first["total"], rows);
    assert_eq!(
        first["inserted"].as_u64().unwrap()
            + first["updated"].as_u64().unwrap()
            + first["unchanged"].as_u64().unwrap(),
        rows as u64
    );
    assert_eq!(
        first["inserted"].as_u64().unwrap(),
        rows as u64 - 162,
        "Hòa Bình was there already"
    );

    let again = import(&app, &token, &vn).await.ok(200);
    assert_eq!(
        again,
        json!({"total": rows, "inserted": 0, "updated": 0, "unchanged": rows})
    );
    assert_eq!(
        all_codes(&app, &token).await.len(),
        rows,
        "nothing duplicated"
    );

    let provinces = app
        .get("/api/v1/admin-units?level=province&limit=100", &token)
        .await
        .ok(200);
    assert_eq!(provinces["items"].as_array().unwrap().len(), 63);

    // A renamed commune is updated, and only it.
    let renamed = "code,parent_code,level,name\n04831,150,commune,Thị trấn Đà Bắc (mới)\n";
    assert_eq!(
        import(&app, &token, renamed).await.ok(200),
        json!({"total": 1, "inserted": 0, "updated": 1, "unchanged": 0})
    );
    assert_eq!(
        app.get("/api/v1/admin-units/04831", &token).await.ok(200)["name"],
        "Thị trấn Đà Bắc (mới)"
    );

    let audit = app
        .get("/api/v1/audit-log?entity=admin_units&action=import", &token)
        .await
        .ok(200);
    let actors = column(&audit, "actor");
    assert_eq!(
        actors,
        vec!["user:admin", "user:admin", "user:admin", "system"]
    );
}

#[actix_rt::test]
async fn a_bad_line_rejects_the_whole_file() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let before = all_codes(&app, &token).await;
    let csv = "code,parent_code,level,name\n\
               99,,province,Tỉnh Mới\n\
               99001,99,commune,Xã Một\n\
               99002,88,commune,Xã Hai\n\
               99003,99,village,Xóm Ba\n\
               04831,150,commune,Renamed\n";
    let problem = import(&app, &token, csv).await.problem(422);
    let lines: Vec<(u64, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        vec![(5, "unknown")],
        "the unparseable line is named first"
    );

    let csv = csv.replace("village", "commune");
    let problem = import(&app, &token, &csv).await.problem(422);
    assert_eq!(problem["errors"][0]["line"], 4);
    assert_eq!(problem["errors"][0]["code"], "unknown_parent");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("88"));

    assert_eq!(
        all_codes(&app, &token).await,
        before,
        "nothing of the file was written"
    );
    assert_eq!(
        app.get("/api/v1/admin-units/04831", &token).await.ok(200)["name"],
        "Thị trấn Đà Bắc"
    );
    app.get("/api/v1/admin-units/99", &token).await.problem(404);
}

#[actix_rt::test]
async fn a_two_level_tree_after_the_2025_reform_is_accepted() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let csv = "code,parent_code,level,name\n\
               98,,province,Tỉnh Thử Nghiệm\n\
               98001,98,commune,Phường Một\n\
               98002,98,commune,Xã Hai\n";
    assert_eq!(import(&app, &token, csv).await.ok(200)["inserted"], 3);
    let commune = app.get("/api/v1/admin-units/98002", &token).await.ok(200);
    assert_eq!(commune["parents"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/admin-units?parent_code=98", &token)
            .await
            .ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A district under a commune is not a tree we accept.
    let bad = "code,parent_code,level,name\n98900,98001,district,Huyện Sai\n";
    assert_eq!(
        import(&app, &token, bad).await.problem(422)["errors"][0]["code"],
        "parent_level"
    );
}

/// Each instance keeps a copy of the tree for scope checks, filters and
/// statistics (`platform::unit_tree`): units imported through another
/// instance are known to this one on its next request, and a refused
/// import changes nothing it sees.
#[actix_rt::test]
async fn units_imported_through_another_instance_are_known_at_once() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let other = app.start_replica(|_| {});
    // This instance reads (and keeps) the tree: 98 is not in it.
    app.get("/api/v1/needs?admin_unit=98", &token)
        .await
        .problem(404);
    app.get("/api/v1/stats/coverage?admin_unit=98", &token)
        .await
        .problem(404);

    let csv = "code,parent_code,level,name\n\
               98,,province,Tỉnh Thử Nghiệm\n\
               98001,98,commune,Phường Một\n";
    let imported = awc::Client::default()
        .post(format!("{other}/api/v1/admin-units/import"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "text/csv; charset=utf-8"))
        .send_body(csv)
        .await
        .expect("the import reaches the other instance")
        .status();
    assert_eq!(imported.as_u16(), 200);

    let page = app.get("/api/v1/needs?admin_unit=98", &token).await.ok(200);
    assert_eq!(page["items"], json!([]));
    let coverage = app
        .get("/api/v1/stats/coverage?admin_unit=98", &token)
        .await
        .ok(200);
    assert_eq!(coverage["total"]["name"], "Tỉnh Thử Nghiệm");

    // A refused import (a district under a commune) leaves the tree as it was.
    let bad = "code,parent_code,level,name\n98900,98001,district,Huyện Sai\n";
    import(&app, &token, bad).await.problem(422);
    app.get("/api/v1/needs?admin_unit=98900", &token)
        .await
        .problem(404);
    let coverage = app
        .get("/api/v1/stats/coverage?admin_unit=98", &token)
        .await
        .ok(200);
    assert_eq!(coverage["rows"], json!([]));
}
