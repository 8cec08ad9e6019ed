use actix_web::http::Method;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, ADMIN_PASSWORD, JWT_SECRET};

fn sign(claims: &serde_json::Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(overrides: serde_json::Value) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": "user:1", "role": "admin", "iat": now, "exp": now + 600,
        "iss": "songmay", "aud": "songmay-api", "ver": 1
    });
    claims
        .as_object_mut()
        .unwrap()
        .extend(overrides.as_object().unwrap().clone());
    claims
}

#[actix_rt::test]
async fn admin_gets_a_token_and_sees_themself() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    let token = reply.ok(200);
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);

    let me = app
        .get("/api/v1/me", token["access_token"].as_str().unwrap())
        .await
        .ok(200);
    assert_eq!(me["account_type"], "user");
    assert_eq!(me["name"], "admin");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["scope"], json!({"kind": "everywhere"}));
}

#[actix_rt::test]
async fn wrong_password_and_unknown_user_are_the_same_401() {
    let app = spawn_app().await;
    let wrong = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "admin", "password": "not the password"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"username": "nobody", "password": "not the password"}),
        )
        .await;
    // Everything but the occurrence's own id is the same.
    let without_instance = |mut problem: serde_json::Value| {
        assert!(problem["instance"].is_string(), "{problem}");
        problem.as_object_mut().unwrap().remove("instance");
        problem
    };
    assert_eq!(
        without_instance(wrong.problem(401)),
        without_instance(unknown.problem(401)),
        "no user enumeration"
    );
}

#[actix_rt::test]
async fn token_request_shape_is_checked() {
    let app = spawn_app().await;
    for (body, field) in [
        (json!({"username": "admin"}), "password"),
        (json!({}), "username"),
        (json!({"client_id": "x"}), "client_secret"),
        (
            json!({"username": "admin", "password": "p", "client_id": "c", "client_secret": "s"}),
            "body",
        ),
    ] {
        let problem = app
            .post("/api/v1/auth/token", None, &body)
            .await
            .problem(422);
        assert_eq!(problem["errors"][0]["field"], field, "body {body}");
    }
}

#[actix_rt::test]
async fn bad_tokens_are_401() {
    let app = spawn_app().await;
    let now = chrono::Utc::now().timestamp();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let alg_none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(claims(json!({})))
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(json!({})),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let cases = [
        (
            "forged with another key",
            sign(
                &claims(json!({})),
                "another-secret-that-is-also-long-enough-000",
            ),
        ),
        ("alg none", alg_none),
        ("other algorithm", hs512),
        (
            "wrong audience",
            sign(&claims(json!({"aud": "someone-else"})), JWT_SECRET),
        ),
        (
            "wrong issuer",
            sign(&claims(json!({"iss": "evil"})), JWT_SECRET),
        ),
        (
            "expired",
            sign(
                &claims(json!({"iat": now - 7200, "exp": now - 3600})),
                JWT_SECRET,
            ),
        ),
        ("no expiry", without(&claims(json!({})), "exp")),
        ("no token version", without(&claims(json!({})), "ver")),
        ("no subject", without(&claims(json!({})), "sub")),
        ("no role", without(&claims(json!({})), "role")),
        ("no issued-at", without(&claims(json!({})), "iat")),
        ("no issuer", without(&claims(json!({})), "iss")),
        ("no audience", without(&claims(json!({})), "aud")),
        (
            "an old token version",
            sign(&claims(json!({"ver": 0})), JWT_SECRET),
        ),
        (
            "unknown account",
            sign(&claims(json!({"sub": "user:999"})), JWT_SECRET),
        ),
        (
            "role the account does not have",
            sign(
                &claims(json!({"sub": "user:1", "role": "donor"})),
                JWT_SECRET,
            ),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (case, token) in cases {
        let reply = app.get("/api/v1/me", &token).await;
        assert_eq!(reply.status.as_u16(), 401, "case `{case}`");
        reply.problem(401);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "case `{case}`"
        );
    }

    // A correctly signed, current token for the real admin passes, so the
    // cases above fail for the reason they name.
    let good = sign(&claims(json!({})), JWT_SECRET);
    app.get("/api/v1/me", &good).await.ok(200);

    for header in ["", "Bearer", "Basic YWRtaW46YWRtaW4=", "Token abc"] {
        let mut req = app
            .request(Method::GET, "/api/v1/me", None, None, vec![])
            .await;
        if !header.is_empty() {
            req = app.request_with_auth_header("/api/v1/me", header).await;
        }
        req.problem(401);
    }
}

#[actix_rt::test]
async fn machine_clients_get_tokens_and_lose_them_when_disabled() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (client_id, secret) = app.client_credentials("sync_client").await;

    let token = app
        .post(
            "/api/v1/auth/token",
            None,
            &json!({"client_id": client_id, "client_secret": secret}),
        )
        .await
        .ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app.get("/api/v1/me", &token).await.ok(200);
    assert_eq!(me["account_type"], "client");
    assert_eq!(me["name"], client_id);
    assert_eq!(me["role"], "sync_client");

    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"client_id": client_id, "client_secret": "wrong"}),
    )
    .await
    .problem(401);

    let listed = app.get("/api/v1/clients", &admin).await.ok(200);
    let id = listed["items"][0]["id"].as_i64().unwrap();
    assert!(
        listed.to_string().find(&secret).is_none(),
        "secrets are never listed"
    );
    app.patch(
        &format!("/api/v1/clients/{id}"),
        &admin,
        &json!({"disabled": true}),
    )
    .await
    .ok(200);

    app.get("/api/v1/me", &token).await.problem(401);
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"client_id": client_id, "client_secret": secret}),
    )
    .await
    .problem(401);
}

/// Another instance remembers a checked account for at most
/// `SONGMAY_ACCOUNT_CACHE_SECONDS`: a disable made elsewhere reaches it
/// within that time (the instance that made it refuses at once).
#[actix_rt::test]
async fn another_instance_refuses_a_disabled_account_within_the_remembered_seconds() {
    let app = spawn_app().await;
    let replica = app.start_replica(|env| {
        env.insert("SONGMAY_ACCOUNT_CACHE_SECONDS", "1".into());
    });
    let admin = app.admin_token().await;
    let token = app
        .user_token("reader.two", "stats_reader", json!({}))
        .await;
    let client = awc::Client::default();
    let me = |base: String| {
        let request = client
            .get(format!("{base}/api/v1/me"))
            .insert_header(("Authorization", format!("Bearer {token}")));
        async move { request.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(
        me(replica.clone()).await,
        200,
        "the replica checked and remembers it"
    );
    let id = app
        .get("/api/v1/users?role=stats_reader", &admin)
        .await
        .ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"disabled": true}),
    )
    .await
    .ok(200);
    app.get("/api/v1/me", &token).await.problem(401);
    let disabled = std::time::Instant::now();
    let mut refused_after = None;
    while disabled.elapsed() < std::time::Duration::from_secs(4) {
        if me(replica.clone()).await == 401 {
            refused_after = Some(disabled.elapsed());
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused_after = refused_after.expect("the replica refuses the disabled account");
    assert!(
        refused_after < std::time::Duration::from_millis(1_500),
        "refused after {refused_after:?}, more than the remembered second"
    );
}

#[actix_rt::test]
async fn disabling_a_user_ends_their_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let token = app
        .user_token("reader.one", "stats_reader", json!({}))
        .await;
    app.get("/api/v1/me", &token).await.ok(200);

    let users = app
        .get("/api/v1/users?role=stats_reader", &admin)
        .await
        .ok(200);
    let id = users["items"][0]["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"disabled": true}),
    )
    .await
    .ok(200);

    app.get("/api/v1/me", &token).await.problem(401);
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "reader.one", "password": "a password long enough"}),
    )
    .await
    .problem(401);

    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"disabled": false}),
    )
    .await
    .ok(200);
    // Re-enabling does not revive tokens issued before the disable.
    app.get("/api/v1/me", &token).await.problem(401);
    let fresh = app.token_for("reader.one", "a password long enough").await;
    app.get("/api/v1/me", &fresh).await.ok(200);
}

/// A password reset ends every token issued before it, at once (a stolen
/// token must not outlive the reset that answers the theft).
#[actix_rt::test]
async fn a_password_reset_ends_the_old_tokens_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let token = app
        .user_token(
            "officer.pw",
            "district_officer",
            json!({"admin_unit_code": "150"}),
        )
        .await;
    app.get("/api/v1/me", &token).await.ok(200);
    let id = app
        .get("/api/v1/users?role=district_officer", &admin)
        .await
        .ok(200)["items"][0]["id"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/v1/users/{id}"),
        &admin,
        &json!({"password": "a brand new passphrase"}),
    )
    .await
    .ok(200);
    let refused = app.get("/api/v1/me", &token).await.problem(401);
    assert!(refused["detail"].as_str().unwrap().contains("changed"));
    // The old password no longer works; the new one does.
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "officer.pw", "password": "a password long enough"}),
    )
    .await
    .problem(401);
    let fresh = app.token_for("officer.pw", "a brand new passphrase").await;
    app.get("/api/v1/me", &fresh).await.ok(200);
    // An admin resetting their own password ends their own old token too.
    let admin_id = app.get("/api/v1/me", &admin).await.ok(200)["id"]
        .as_i64()
        .unwrap();
    app.patch(
        &format!("/api/v1/users/{admin_id}"),
        &admin,
        &json!({"password": "the admin's new passphrase"}),
    )
    .await
    .ok(200);
    app.get("/api/v1/me", &admin).await.problem(401);
}

/// Guessing one account's password is limited per account name, however
/// many addresses it comes from; colleagues behind the same address are not
/// locked out by it; and an address, and the whole service, have ceilings.
#[actix_rt::test]
async fn token_attempts_are_limited_per_account_per_address_and_overall() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_TOKEN_RATE_BURST", "3".into());
        env.insert("SONGMAY_TOKEN_RATE_PER_MINUTE", "1".into());
        env.insert("SONGMAY_TOKEN_IP_RATE_BURST", "8".into());
        env.insert("SONGMAY_TOKEN_IP_RATE_PER_MINUTE", "1".into());
    })
    .await;
    let attempt = json!({"username": "admin", "password": "guess"});
    for _ in 0..3 {
        app.post("/api/v1/auth/token", None, &attempt)
            .await
            .problem(401);
    }
    let limited = app.post("/api/v1/auth/token", None, &attempt).await;
    let problem = limited.problem(429);
    assert_eq!(problem["type"], "urn:songmay:problem:rate-limited");
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // The right password does not get through either until the quota refills.
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await
    .problem(429);
    // A colleague at the same address still signs in (their own account).
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "colleague", "password": "whatever it is"}),
    )
    .await
    .problem(401);
    // But the address as a whole has its ceiling: 8 requests (6 so far).
    for name in ["a", "b"] {
        app.post(
            "/api/v1/auth/token",
            None,
            &json!({"username": name, "password": "x"}),
        )
        .await
        .problem(401);
    }
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "c", "password": "x"}),
    )
    .await
    .problem(429);
}

/// The global ceiling holds across account names.
#[actix_rt::test]
async fn token_attempts_have_a_global_ceiling() {
    let app = spawn_app_with(|env| {
        env.insert("SONGMAY_TOKEN_GLOBAL_RATE_BURST", "4".into());
        env.insert("SONGMAY_TOKEN_GLOBAL_RATE_PER_MINUTE", "1".into());
    })
    .await;
    for name in ["a", "b", "c", "d"] {
        app.post(
            "/api/v1/auth/token",
            None,
            &json!({"username": name, "password": "x"}),
        )
        .await
        .problem(401);
    }
    app.post(
        "/api/v1/auth/token",
        None,
        &json!({"username": "e", "password": "x"}),
    )
    .await
    .problem(429);
}

/// A signed token whose claims lack `claim` (README: every claim is required).
fn without(claims: &serde_json::Value, claim: &str) -> String {
    let mut claims = claims.clone();
    assert!(
        claims.as_object_mut().unwrap().remove(claim).is_some(),
        "the test token had {claim}"
    );
    sign(&claims, JWT_SECRET)
}
