//! `POST /api/v1/auth/token` (credentials for an access token) and
//! `GET /api/v1/me` (who the token stands for).

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::accounts::{self, Credentials};
use super::principal::{Account, Principal, Scope};
use super::rate_limit;
use super::role::Role;
use crate::platform::error::FieldError;
use crate::platform::http::json::Json;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Either a user's credentials or a machine client's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "admin", "password": "correct horse battery staple"}))]
pub struct TokenRequest {
    pub username: Option<String>,
    pub password: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl TokenRequest {
    fn credentials(self) -> Result<Credentials, ApiError> {
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        match self {
            TokenRequest {
                username: Some(username),
                password: Some(password),
                client_id: None,
                client_secret: None,
            } if !username.is_empty() && !password.is_empty() => {
                Ok(Credentials::User { username, password })
            }
            TokenRequest {
                username: None,
                password: None,
                client_id: Some(client_id),
                client_secret: Some(client_secret),
            } if !client_id.is_empty() && !client_secret.is_empty() => Ok(Credentials::Client {
                client_id,
                client_secret,
            }),
            other => {
                let mut errors = Vec::new();
                let user_side = other.username.is_some() || other.password.is_some();
                let client_side = other.client_id.is_some() || other.client_secret.is_some();
                if user_side && client_side {
                    errors.push(FieldError::new(
                        "body",
                        "exclusive",
                        "send either username and password, or client_id and client_secret, not both",
                    ));
                } else if client_side {
                    for (field, value) in [
                        ("client_id", &other.client_id),
                        ("client_secret", &other.client_secret),
                    ] {
                        if !present(value) {
                            errors.push(FieldError::new(
                                field,
                                "required",
                                "must be present and not empty",
                            ));
                        }
                    }
                } else {
                    for (field, value) in
                        [("username", &other.username), ("password", &other.password)]
                    {
                        if !present(value) {
                            errors.push(FieldError::new(
                                field,
                                "required",
                                "must be present and not empty",
                            ));
                        }
                    }
                }
                Err(ApiError::validation(errors))
            }
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// A signed JWT; send it as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// Exchange credentials for an access token.
///
/// Users send `username` and `password`; machine clients send `client_id`
/// and `client_secret`. Wrong credentials, unknown and disabled accounts all
/// get the same 401 after the same amount of work. Rate-limited per account
/// name, per client address (a higher limit, for offices behind one address)
/// and overall.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "A new access token", body = TokenResponse),
        (status = 401, description = "Wrong credentials", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    body: Json<TokenRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let credentials = body.into_inner().credentials()?;
    state.token_limits.attempt(match &credentials {
        Credentials::User { username, .. } => username,
        Credentials::Client { client_id, .. } => client_id,
    })?;
    let principal = state
        .db
        .run(move |conn| accounts::authenticate(conn, &credentials))
        .await?
        .ok_or_else(|| ApiError::unauthorized("the credentials are not valid"))?;
    let token = state.tokens.issue(
        principal.account.subject(),
        principal.role,
        principal.scope.claim(),
        principal.token_version,
    )?;
    Ok(web::Json(TokenResponse {
        access_token: token,
        token_type: "Bearer".to_owned(),
        expires_in: state.tokens.lifetime().as_secs(),
    }))
}

/// The caller, as the service sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `user` or `client`.
    #[schema(example = "user")]
    pub account_type: String,
    pub id: i64,
    /// Username, or the client id of a machine client.
    #[schema(example = "admin")]
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

/// Who am I?
///
/// The account, role and scope behind the token: what a front-end shows and
/// uses to decide which screens to offer.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me))
)]
#[get("/me")]
pub async fn me(principal: Principal) -> Result<HttpResponse, ApiError> {
    let (account_type, id, name) = match &principal.account {
        Account::User { id, username } => ("user", *id, username.clone()),
        Account::Client { id, client_id } => ("client", *id, client_id.clone()),
    };
    Ok(HttpResponse::Ok().json(Me {
        account_type: account_type.to_owned(),
        id,
        name,
        role: principal.role,
        scope: principal.scope,
    }))
}

/// Routes under `/api/v1`; the token route is rate-limited per client IP.
pub fn configure(rate_limit: rate_limit::TokenRateLimit) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(
            utoipa_actix_web::scope("/auth")
                .wrap(actix_governor::Governor::new(&rate_limit))
                .wrap(actix_web::middleware::from_fn(rate_limit::announce))
                .service(issue_token),
        )
        .service(me);
    }
}
