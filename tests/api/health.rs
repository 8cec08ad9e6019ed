use crate::helpers::spawn_app;

#[actix_rt::test]
async fn health_answers_and_ready_names_the_migrated_backend() {
    let app = spawn_app().await;

    let health = app
        .request(actix_web::http::Method::GET, "/health", None, None, vec![])
        .await;
    assert_eq!(health.ok(200)["status"], "ok");

    let ready = app
        .request(actix_web::http::Method::GET, "/ready", None, None, vec![])
        .await;
    let ready = ready.ok(200);
    assert_eq!(ready["status"], "ready");
    let expected = if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(ready["database"], expected);
}

#[actix_rt::test]
async fn migrations_are_applied_and_seed_loaded_once_on_this_backend() {
    let app = spawn_app().await;
    let db = app.db.connect();
    let mut conn = db.get().unwrap();
    assert!(
        conn.migrations_current().unwrap(),
        "every migration applied"
    );
    // A second start over the same database applies nothing and seeds nothing.
    assert!(db.migrate().unwrap().is_empty());
    assert!(songmay::admin_units::queries::seed_if_empty(&mut conn)
        .unwrap()
        .is_none());
    assert_eq!(
        songmay::admin_units::queries::count(&mut conn).unwrap(),
        162
    );
}
