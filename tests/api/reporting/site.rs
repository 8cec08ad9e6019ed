//! The public site (`src/reporting/site/`), its charts and the periodic
//! report: every figure a page, a chart or the report shows equals the
//! API's own, values are escaped, unknown things are a friendly 404.

use std::io::Read;

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::helpers::{student, Reply, TestApp};
use crate::reporting::reconciliation::uncached_app;

/// Students in Đà Bắc and the city, a campaign, a money gift from a donor
/// whose name is markup, the open letter and a news item. Returns the admin
/// token and the gift's follow reference.
async fn world(app: &TestApp) -> (String, String) {
    let admin = app.admin_token().await;
    app.seed_schools(&admin).await;
    let schools = [("TH-DABAC", 2), ("THCS-DABAC", 7), ("THPT-TP", 11)];
    let mut batch = Vec::new();
    for i in 0..36 {
        let (school, grade) = schools[i % 3];
        let mut s = student(&format!("SITE-{i:03}"), school, grade);
        s["device_status"] = json!(if i % 3 == 0 { "none" } else { "adequate" });
        s["connectivity_status"] = json!(if i % 4 == 0 { "none" } else { "mobile_ok" });
        batch.push(s);
    }
    app.sync_students(&admin, "", &batch).await.ok(200);
    app.post(
        "/api/v1/needs/generate",
        Some(&admin),
        &json!({"admin_unit_code": "150"}),
    )
    .await
    .ok(200);
    let campaign = app
        .post("/api/v1/campaigns", Some(&admin), &json!({"name": "Thư ngỏ: Sóng và máy tính cho em", "starts_on": "2021-09-01", "targets": {"money_vnd": 5_000_000_000i64}}))
        .await
        .ok(201)["id"]
        .clone();
    app.post(
        &format!("/api/v1/campaigns/{campaign}/status"),
        Some(&admin),
        &json!({"status": "open"}),
    )
    .await
    .ok(200);
    let donor = app
        .post("/api/v1/donors", Some(&admin), &json!({"kind": "organisation", "name": "<script>alert(1)</script> & Co", "inside_province": true}))
        .await
        .ok(201)["id"]
        .clone();
    let gift = app
        .post("/api/v1/receipts", Some(&admin), &json!({"campaign_id": campaign, "donor_id": donor, "receipt_type": "donation", "kind": "money", "amount_vnd": 250_000_000, "bank_reference": "FT21275SITE", "received_on": "2021-10-02"}))
        .await
        .ok(201);
    for (kind, title) in [
        ("open_letter", "Thư ngỏ gửi nhà hảo tâm"),
        ("news", "Máy đã đến trường"),
    ] {
        let article = app
            .post("/api/v1/articles", Some(&admin), &json!({"kind": kind, "title": title, "summary": "Tóm tắt", "body": "**Việc học không thể dừng lại.**"}))
            .await
            .ok(201);
        for to in ["review", "published"] {
            app.post(
                &format!("/api/v1/articles/{}/transitions", article["id"]),
                Some(&admin),
                &json!({"to": to}),
            )
            .await
            .ok(200);
        }
    }
    (
        admin,
        gift["public_ref"]
            .as_str()
            .expect("a follow reference")
            .to_owned(),
    )
}

async fn page(app: &TestApp, path: &str, headers: &[(&str, String)]) -> Reply {
    app.send(Method::GET, path, headers, Vec::new()).await
}

fn html(reply: &Reply) -> String {
    assert_eq!(
        reply.header("content-type").as_deref(),
        Some("text/html; charset=utf-8"),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    String::from_utf8(reply.body.clone()).expect("UTF-8")
}

/// The API's value of a protected count as the page's `data-` attribute has it.
fn raw(count: &Value) -> String {
    match count {
        Value::String(s) => s.replace('<', "&lt;"),
        other => other.to_string(),
    }
}

#[actix_rt::test]
async fn the_home_page_shows_the_public_figures_in_both_languages_and_is_cacheable() {
    let app = uncached_app().await;
    world(&app).await;
    let reply = page(&app, "/", &[]).await;
    assert_eq!(reply.status.as_u16(), 200);
    let text = html(&reply);
    assert!(text.contains("<html lang=\"vi\">"), "Vietnamese first");
    assert!(text.contains("Tiến độ đến 100 %"));
    // Every district line of the API is a row with the API's numbers.
    let progress = app
        .request(Method::GET, "/api/v1/public/progress", None, None, vec![])
        .await
        .ok(200);
    let mut districts = 0;
    for line in progress["units"].as_array().unwrap() {
        if line["level"] == "district" {
            districts += 1;
            let row = format!(
                "data-unit=\"{}\" data-students=\"{}\" data-ready=\"{}\"",
                line["admin_unit"].as_str().unwrap(),
                raw(&line["students"]),
                raw(&line["ready"])
            );
            assert!(text.contains(&row), "missing {row}");
        } else {
            let percent = line["percent_ready"]
                .as_f64()
                .expect("the province is shown");
            let shown = format!("{percent:.1}").replace('.', ",");
            assert!(text.contains(&format!("{}: {shown} %", line["name"].as_str().unwrap())));
        }
    }
    assert_eq!(districts, 10, "Hòa Bình's ten districts");
    assert!(
        text.contains("data-unit=\"150\" data-students=\"24\""),
        "Đà Bắc's two schools"
    );
    let totals = &progress["totals"];
    assert_eq!(totals["money_received_vnd"], 250_000_000);
    assert!(text.contains("data-figure=\"money_received_vnd\">250.000.000 đồng"));
    assert!(text.contains("Máy đã đến trường"), "the news");
    assert!(
        !text.contains("Thư ngỏ gửi nhà hảo tâm"),
        "the open letter is on /donate"
    );

    // English by parameter or by the browser; an unknown language is Vietnamese.
    let english = html(&page(&app, "/?lang=en", &[]).await);
    assert!(english.contains("<html lang=\"en\">") && english.contains("250,000,000 đồng"));
    let browser = page(
        &app,
        "/",
        &[("Accept-Language", "en-GB,en;q=0.9,vi;q=0.5".into())],
    )
    .await;
    assert_eq!(browser.header("content-language").as_deref(), Some("en"));
    let unknown = page(&app, "/?lang=xx", &[("Accept-Language", "fr".into())]).await;
    assert_eq!(unknown.status.as_u16(), 200);
    assert!(html(&unknown).contains("<html lang=\"vi\">"));

    // A cache may keep it a minute and revalidate by its tag.
    assert_eq!(
        reply.header("cache-control").as_deref(),
        Some("public, max-age=60")
    );
    let tag = reply.header("etag").expect("an ETag");
    let again = page(&app, "/", &[("If-None-Match", tag.clone())]).await;
    assert_eq!(again.status.as_u16(), 304);
    assert!(again.body.is_empty());
    assert_eq!(
        page(&app, "/", &[("If-None-Match", "\"other\"".into())])
            .await
            .status
            .as_u16(),
        200
    );
}

#[actix_rt::test]
async fn a_district_page_and_its_chart_show_the_apis_figures_and_an_unknown_one_is_a_friendly_404()
{
    let app = uncached_app().await;
    world(&app).await;
    let text = html(&page(&app, "/districts/150", &[]).await);
    let progress = app
        .request(
            Method::GET,
            "/api/v1/public/progress?admin_unit=150",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    let units = progress["units"].as_array().unwrap();
    assert!(text.contains("<h1>Huyện Đà Bắc: "));
    for line in &units[1..] {
        let row = format!(
            "data-unit=\"{}\" data-students=\"{}\" data-ready=\"{}\"",
            line["admin_unit"].as_str().unwrap(),
            raw(&line["students"]),
            raw(&line["ready"])
        );
        assert!(text.contains(&row), "missing {row}");
    }
    // The open needs of the board, under the district.
    let board = app
        .request(
            Method::GET,
            "/api/v1/public/needs-board?admin_unit=150",
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    assert!(!board.as_array().unwrap().is_empty());
    for line in board.as_array().unwrap() {
        assert!(text.contains(line["commune_name"].as_str().unwrap()));
    }
    // The chart the page embeds: the same parts, titled and dated.
    // (minijinja writes "/" in attributes as "&#x2f;", which browsers read as "/")
    assert!(text
        .replace("&#x2f;", "/")
        .contains("<img src=\"/api/v1/public/progress/chart?admin_unit=150&amp;lang=vi\""));
    let chart = app
        .request(
            Method::GET,
            "/api/v1/public/progress/chart?admin_unit=150",
            None,
            None,
            vec![],
        )
        .await;
    assert_eq!(
        chart.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    let svg = String::from_utf8(chart.body.clone()).unwrap();
    assert!(svg.contains("Tỷ lệ sẵn sàng — Huyện Đà Bắc") && svg.contains("Số liệu đến"));
    for line in &units[1..] {
        if let Some(percent) = line["percent_ready"].as_f64() {
            assert!(svg.contains(&format!("{} %", format!("{percent:.1}").replace('.', ","))));
        }
    }

    // Unknown: a page for people, problem+json for programs.
    let missing = page(&app, "/districts/999", &[]).await;
    assert_eq!(missing.status.as_u16(), 404);
    assert!(html(&missing).contains("Không có đơn vị hành chính với mã này."));
    page(
        &app,
        "/districts/999",
        &[("Accept", "application/json".into())],
    )
    .await
    .problem(404);
    app.request(
        Method::GET,
        "/api/v1/public/progress/chart?admin_unit=999",
        None,
        None,
        vec![],
    )
    .await
    .problem(404);
}

#[actix_rt::test]
async fn a_gift_is_followed_by_its_reference_and_every_value_is_escaped() {
    let app = uncached_app().await;
    let (_, reference) = world(&app).await;
    let trace = app
        .request(
            Method::GET,
            &format!("/api/v1/public/donations/{reference}/trace"),
            None,
            None,
            vec![],
        )
        .await
        .ok(200);
    let text = html(&page(&app, &format!("/follow/{reference}"), &[]).await);
    assert!(text.contains("250.000.000 đồng"));
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; Co"),
        "the donor's name is text"
    );
    assert!(!text.contains("<script>alert"), "and never markup");
    assert!(text.contains(&format!(
        "data-figure=\"students_reached\">{}<",
        trace["students_reached"]
    )));
    assert!(text.contains(&format!(
        "data-figure=\"schools_reached\">{}<",
        trace["schools_reached"]
    )));

    // The form sends the reference to its page.
    let form = page(&app, &format!("/follow?ref={reference}&lang=en"), &[]).await;
    assert_eq!(form.status.as_u16(), 303);
    assert_eq!(
        form.header("location"),
        Some(format!("/follow/{reference}?lang=en"))
    );
    assert!(html(&page(&app, "/follow", &[]).await).contains("name=\"ref\""));
    let unknown = page(&app, "/follow/NO-SUCH-REF", &[]).await;
    assert_eq!(unknown.status.as_u16(), 404);
    assert!(html(&unknown).contains("Không có món quà nào với mã này."));
}

#[actix_rt::test]
async fn the_donate_page_shows_the_open_letter_the_open_campaigns_and_where_help_is_missing() {
    let app = uncached_app().await;
    world(&app).await;
    let text = html(&page(&app, "/donate", &[]).await);
    assert!(text.contains("Thư ngỏ: Thư ngỏ gửi nhà hảo tâm"));
    assert!(
        text.contains("<strong>Việc học không thể dừng lại.</strong>"),
        "the letter's Markdown, cleaned"
    );
    assert!(
        text.contains("Thư ngỏ: Sóng và máy tính cho em") && text.contains("5.000.000.000 đồng")
    );
    assert!(
        text.contains("<summary>Huyện Đà Bắc</summary>"),
        "the needs board by district"
    );
}

fn zip_entry(bytes: &[u8], name: &str) -> String {
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a workbook is a zip");
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} in the workbook"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[actix_rt::test]
async fn the_periodic_report_reconciles_with_the_api_as_json_workbook_and_pdf() {
    let app = uncached_app().await;
    let (admin, _) = world(&app).await;
    let reader = app.client_token("stats_reader").await;
    let report = app
        .get(
            "/api/v1/reports/progress?period=2021-10&admin_unit=17",
            &reader,
        )
        .await
        .ok(200);
    let coverage = app
        .get("/api/v1/stats/coverage?admin_unit=17", &reader)
        .await
        .ok(200);
    assert_eq!(report["total"], coverage["total"], "totals are the API's");
    assert_eq!(report["by_unit"], coverage["rows"]);
    let donations = app
        .get("/api/v1/stats/donations?admin_unit=17", &reader)
        .await
        .ok(200);
    assert_eq!(report["gifts"], donations["lines"]);
    let levels = report["levels"].as_array().unwrap();
    let students: i64 = levels.iter().map(|l| l["students"].as_i64().unwrap()).sum();
    assert_eq!(students, 36, "every student in one level");
    for level in levels {
        assert_eq!(
            level["with_device"].as_i64().unwrap() + level["without_device"].as_i64().unwrap(),
            level["students"].as_i64().unwrap()
        );
    }
    assert_eq!(report["period_start"], "2021-10-01");
    assert_eq!(report["period_end"], "2021-10-31");
    let narrative = report["narrative"].as_array().unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    let ready = coverage["total"]["ready"].as_i64().unwrap();
    assert!(
        narrative.contains("có 36 học sinh") && narrative.contains(&format!("{ready} em")),
        "{narrative}"
    );

    // The workbook: a sheet per table, the total row equal to the API's.
    let xlsx = app
        .get(
            "/api/v1/reports/progress?period=2021-10&admin_unit=17&format=xlsx",
            &reader,
        )
        .await;
    assert_eq!(xlsx.status.as_u16(), 200);
    assert!(xlsx
        .header("content-disposition")
        .unwrap()
        .contains("bao-cao-tien-do-17-2021-10.xlsx"));
    let book = zip_entry(&xlsx.body, "xl/workbook.xml");
    for sheet in [
        "Tổng hợp",
        "Cấp học",
        "Nhu cầu",
        "Quà tặng",
        "Bàn giao",
        "Lõm sóng",
        "Theo đơn vị",
    ] {
        assert!(book.contains(&format!("name=\"{sheet}\"")), "sheet {sheet}");
    }
    let levels_sheet = zip_entry(&xlsx.body, "xl/worksheets/sheet2.xml");
    assert!(levels_sheet.contains("<v>36</v>"), "the total of students");
    assert!(levels_sheet.contains(&format!("<v>{ready}</v>")));
    // The PDF reads as the report, with the same numbers.
    let pdf = app
        .get(
            "/api/v1/reports/progress?period=2021-10&admin_unit=17&format=pdf",
            &reader,
        )
        .await;
    assert_eq!(
        pdf.header("content-type").as_deref(),
        Some("application/pdf")
    );
    let text = pdf_extract::extract_text_from_mem(&pdf.body).expect("a readable PDF");
    for expected in [
        "BÁO CÁO TIẾN ĐỘ",
        "Kỳ báo cáo: 2021-10",
        "Biểu 1. Học sinh theo cấp học",
        "Tỉnh Hoà Bình",
    ] {
        assert!(text.contains(expected), "{expected} missing from the PDF");
    }
    let opening: String = narrative.chars().take(40).collect();
    assert!(text.contains(&opening), "the narrative is printed");

    // Who may read it, and a month that is not one.
    let donor = app.user_token("report.donor", "donor", json!({})).await;
    app.get("/api/v1/reports/progress?period=2021-10", &donor)
        .await
        .problem(403);
    let officer = app
        .user_token(
            "report.officer",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    app.get(
        "/api/v1/reports/progress?period=2021-10&admin_unit=148",
        &officer,
    )
    .await
    .problem(404);
    let own = app
        .get("/api/v1/reports/progress?period=2021-10", &officer)
        .await
        .ok(200);
    assert_eq!(own["admin_unit"], "150");
    let bad = app
        .get("/api/v1/reports/progress?period=2021-13", &admin)
        .await
        .problem(400);
    assert!(bad["detail"].as_str().unwrap().contains("period"));
    assert!(
        !bad["detail"].as_str().unwrap().contains("2021-13"),
        "the value is not echoed"
    );
}

#[actix_rt::test]
async fn statistics_draw_their_own_figures_as_svg_charts() {
    let app = uncached_app().await;
    world(&app).await;
    let reader = app.client_token("stats_reader").await;
    let coverage = app
        .get("/api/v1/stats/coverage?admin_unit=17", &reader)
        .await
        .ok(200);
    let chart = app
        .get("/api/v1/stats/coverage?admin_unit=17&format=svg", &reader)
        .await;
    assert_eq!(
        chart.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    let svg = String::from_utf8(chart.body.clone()).unwrap();
    assert!(svg.contains("Học sinh sẵn sàng học trực tuyến — Tỉnh Hoà Bình"));
    for row in coverage["rows"].as_array().unwrap() {
        let shown = format!(
            "{} % ({}/{})",
            format!("{:.1}", row["percent_ready"].as_f64().unwrap()).replace('.', ","),
            row["ready"],
            row["students"]
        );
        assert!(svg.contains(&shown), "{shown} missing");
    }
    let english = app
        .get(
            "/api/v1/stats/coverage?admin_unit=17&format=svg&lang=en",
            &reader,
        )
        .await;
    assert!(String::from_utf8_lossy(&english.body).contains("Students ready for online learning"));
    let donations = app.get("/api/v1/stats/donations?format=svg", &reader).await;
    let svg = String::from_utf8(donations.body.clone()).unwrap();
    assert!(
        svg.contains("Quà đã nhận và đã trao") && svg.contains("Tiền đã nhận: 250.000.000 đồng")
    );
    let series = app
        .get(
            "/api/v1/stats/timeseries?metric=needs_reported&interval=month",
            &reader,
        )
        .await
        .ok(200);
    let total = series["points"].as_array().unwrap().last().unwrap()["cumulative"].clone();
    let svg = app
        .get(
            "/api/v1/stats/timeseries?metric=needs_reported&interval=month&format=svg",
            &reader,
        )
        .await;
    let svg = String::from_utf8(svg.body.clone()).unwrap();
    assert!(svg.contains("Nhu cầu được báo cáo") && svg.contains("Cộng dồn"));
    assert!(total.as_i64().unwrap() > 0);
    // A chart is for the statistics roles like its table.
    let donor = app.user_token("chart.donor", "donor", json!({})).await;
    app.get("/api/v1/stats/coverage?format=svg", &donor)
        .await
        .problem(403);
}
