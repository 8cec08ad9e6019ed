//! Accounts that can get tokens: users (people, with a password) and API
//! clients (machines, with a secret). Managed by admins only.

pub mod model;
pub mod queries;

use actix_web::{get, patch, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use model::*;

use crate::platform::auth::Principal;
use crate::platform::http::json::Json;
use crate::platform::http::pagination::PageQuery;
use crate::platform::http::ApiError;
use crate::platform::state::AppState;

/// Create a user (admin).
///
/// The username is stored in lowercase and must be unique (409 otherwise). The
/// role decides the scope field: `district_officer` needs `admin_unit_code`,
/// `school_staff` needs `school_id`, `telecom` needs `operator_id`; every other
/// role takes none (422 names the field). Machine roles (`sync_client`) are
/// created as clients, not users.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    request_body = CreateUser,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 409, description = "The username is taken", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateUser>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let actor = principal.actor();
    let row = state
        .db
        .run(move |conn| queries::create_user(conn, &actor, input))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/users/{}", row.id)))
        .json(User::from(row)))
}

/// List users (admin), ordered by id.
///
/// Filter by `role` and `disabled`; page with `limit` and `cursor`. Password
/// hashes are never returned.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(UserFilter, PageQuery),
    responses((status = 200, description = "A page of users", body = UserPage))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    principal: Principal,
    filter: web::Query<UserFilter>,
    page: web::Query<PageQuery>,
) -> Result<web::Json<UserPage>, ApiError> {
    principal.require_admin()?;
    let page = page.parse::<i64>()?;
    let filter = filter.into_inner();
    Ok(web::Json(
        state
            .db
            .run(move |conn| queries::list_users(conn, &filter, &page))
            .await?,
    ))
}

/// One user (admin).
///
/// 404 when no user has this id.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/users/{id}")]
pub async fn get_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> Result<web::Json<User>, ApiError> {
    principal.require_admin()?;
    let id = id.into_inner();
    let row = state
        .db
        .run(move |conn| queries::find_user(conn, id))
        .await?;
    Ok(web::Json(row.into()))
}

/// Disable or re-enable a user, or set a new password (admin).
///
/// Send only what changes. Disabling takes effect at once: the user's unexpired tokens are refused
/// from the next request on. The last active admin cannot be disabled (409).
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUser,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 404, description = "No such user", body = crate::platform::http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would disable the last active admin", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<UpdateUser>,
) -> Result<web::Json<User>, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let (actor, id) = (principal.actor(), id.into_inner());
    let row = state
        .db
        .run(move |conn| queries::update_user(conn, &actor, id, input))
        .await?;
    // After the commit: no check read before it is served again.
    state.accounts.forget_all();
    Ok(web::Json(row.into()))
}

/// Create a machine client (admin).
///
/// The answer holds `client_secret` once: store it, it cannot be read again.
/// The client exchanges `client_id` and `client_secret` for a token at
/// `POST /api/v1/auth/token`.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    request_body = CreateClient,
    responses((status = 201, description = "The client and its secret (shown only now)", body = CreatedClient))
)]
#[post("/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateClient>,
) -> Result<HttpResponse, ApiError> {
    principal.require_admin()?;
    let input = body.into_inner();
    input.validate()?;
    let actor = principal.actor();
    let created = state
        .db
        .run(move |conn| queries::create_client(conn, &actor, input))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// List machine clients (admin), ordered by id.
///
/// Secrets are never shown; page with `limit` and `cursor`.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "A page of clients", body = ClientPage))
)]
#[get("/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ClientPage>, ApiError> {
    principal.require_admin()?;
    let page = page.parse::<i64>()?;
    Ok(web::Json(
        state
            .db
            .run(move |conn| queries::list_clients(conn, &page))
            .await?,
    ))
}

/// Disable or re-enable a machine client (admin).
///
/// Takes effect at once: the client's tokens are refused from the next request on.
#[utoipa::path(
    tag = "accounts",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Client id (the number, not client_id)")),
    request_body = UpdateClient,
    responses(
        (status = 200, description = "The updated client", body = ApiClient),
        (status = 404, description = "No such client", body = crate::platform::http::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/clients/{id}")]
pub async fn update_client(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
    body: Json<UpdateClient>,
) -> Result<web::Json<ApiClient>, ApiError> {
    principal.require_admin()?;
    let (actor, id, input) = (principal.actor(), id.into_inner(), body.into_inner());
    let row = state
        .db
        .run(move |conn| queries::update_client(conn, &actor, id, input))
        .await?;
    // After the commit: no check read before it is served again.
    state.accounts.forget_all();
    Ok(web::Json(row.into()))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(create_user)
        .service(list_users)
        .service(get_user)
        .service(update_user)
        .service(create_client)
        .service(list_clients)
        .service(update_client);
}
