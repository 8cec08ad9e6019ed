//! The caller of a protected handler: the bearer token read, verified,
//! and the account behind it read again or remembered for a couple of
//! seconds (so a disable or a role change ends a token at once on this
//! instance and within `SONGMAY_ACCOUNT_CACHE_SECONDS` on every other).

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::principal::{Account, Principal};
use crate::platform::http::access::CallerKind;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let claims = state.tokens.verify(&token?)?;
            // The account is read again (or remembered for a couple of
            // seconds, see `remembered`), so disabling it or changing its
            // role ends its tokens at once here and within seconds on every
            // other instance.
            let principal = match state.accounts.recall(&claims) {
                Some(principal) => principal,
                None => {
                    let generation = state.accounts.generation();
                    let checked = claims.clone();
                    let principal = state
                        .db
                        .run(move |conn| super::accounts::principal_for_claims(conn, &checked))
                        .await
                        .map_err(ApiError::from)?;
                    state.accounts.remember(&claims, generation, &principal);
                    principal
                }
            };
            // For the access log and metrics: what kind, never who.
            req.extensions_mut()
                .insert(CallerKind(match principal.account {
                    Account::User { .. } => "user",
                    Account::Client { .. } => "client",
                }));
            Ok(principal)
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let header = req.headers().get(AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("send an access token: Authorization: Bearer <token>")
    })?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(ApiError::unauthorized(
            "the Authorization header must be `Bearer <token>`",
        )),
    }
}
