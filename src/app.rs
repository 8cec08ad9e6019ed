//! Putting the service together: prepare the database, build the actix app
//! from the resource rooms, and serve. Tests use [`Application`] exactly as
//! `main` does, on port 0.

use std::net::TcpListener;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::openapi::ApiDoc;
use crate::platform::auth::jwt::TokenKeys;
use crate::platform::auth::rate_limit::{public_rate_limit, token_rate_limit, TokenRateLimit};
use crate::platform::config::{Config, ConfigError};
use crate::platform::db::{Db, DbSetupError};
use crate::platform::error::Failure;
use crate::platform::http::fallback::{exact_methods, problem_fallback, unmatched, KnownRoutes};
use crate::platform::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error("preparing the database failed: {0}")]
    Prepare(#[from] Failure),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// Every documented route. The router and the OpenAPI document are both
/// built from this one function.
fn routes(
    rate_limit: TokenRateLimit,
    public_limit: TokenRateLimit,
) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.configure(crate::platform::health::configure)
            .configure(crate::reporting::site::configure(public_limit.clone()))
            .service(
                utoipa_actix_web::scope("/api/v1")
                    .configure(crate::platform::auth::configure(rate_limit))
                    .configure(crate::registry::accounts::configure)
                    // Before admin_units: "/admin-units/rehome" is no unit code.
                    .configure(crate::reform::configure)
                    .configure(crate::registry::admin_units::configure)
                    .configure(crate::platform::audit::configure)
                    .configure(crate::platform::webhooks::configure)
                    .configure(crate::registry::schools::configure)
                    .configure(crate::registry::students::configure)
                    .configure(crate::registry::sync::configure)
                    .configure(crate::needs::configure)
                    .configure(crate::needs::coverage::configure)
                    .configure(crate::donations::donors::configure)
                    .configure(crate::donations::campaigns::configure)
                    .configure(crate::donations::drives::configure)
                    .configure(crate::donations::pledges::configure)
                    .configure(crate::donations::receipts::configure)
                    .configure(crate::donations::funds::configure)
                    .configure(crate::donations::approvals::configure)
                    .configure(crate::distribution::warehouses::configure)
                    .configure(crate::distribution::inventory::configure)
                    .configure(crate::distribution::profiles::configure)
                    .configure(crate::distribution::allocations::configure)
                    .configure(crate::distribution::handovers::configure)
                    .configure(crate::reporting::stats::configure)
                    .configure(crate::reporting::report::configure)
                    .configure(crate::outreach::articles::configure)
                    .configure(crate::teaching::platforms::configure)
                    .configure(crate::retention::configure)
                    .configure(crate::reporting::public::configure(
                        public_limit,
                        public_routes_of_other_domains,
                    )),
            );
    }
}

/// The public routes other domains serve, mounted in the one `/public`
/// scope (with its rate limit) beside reporting's own.
fn public_routes_of_other_domains(cfg: &mut ServiceConfig) {
    crate::outreach::articles::configure_public(cfg);
    crate::teaching::platforms::configure_public(cfg);
    crate::reporting::site::configure_public(cfg);
}

/// The OpenAPI document of this build (what `songmay openapi` prints and
/// `/api-docs/openapi.json` serves).
pub fn openapi() -> serde_json::Value {
    let defaults = Config::from_lookup(|_| None).expect("the defaults are valid");
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes(
            token_rate_limit(&defaults),
            public_rate_limit(&defaults),
        ))
        .split_for_parts();
    crate::openapi::finish(api)
}

/// Migrates, seeds the admin units on first start and makes sure an admin
/// exists. Safe to run on every start, and by several instances starting at
/// once on one database: they take turns ([`Db::exclusively`]).
pub fn prepare_database(db: &Db, config: &Config) -> Result<(), StartupError> {
    db.exclusively(&config.database, || prepare_alone(db, config))
}

fn prepare_alone(db: &Db, config: &Config) -> Result<(), StartupError> {
    let applied = db.migrate()?;
    if !applied.is_empty() {
        log::info!("applied migrations: {}", applied.join(", "));
    }
    let mut conn = db.get()?;
    if let Some(report) = crate::registry::admin_units::queries::seed_if_empty(&mut conn)? {
        log::info!(
            "seeded {} administrative units of Hòa Bình",
            report.inserted
        );
    }
    if let Some(report) = crate::maintenance::run_once_at_start(&mut conn)? {
        // Counts and row ids only: never the values themselves.
        log::info!(
            "normalised stored names and identifiers: {}",
            serde_json::to_string(&report).unwrap_or_default()
        );
        if !report.collisions.is_empty() {
            log::warn!(
                "{} pair(s) of rows would share one key once normalised and were left as they are; see `songmay normalise-identifiers --dry-run`",
                report.collisions.len()
            );
        }
    }
    let configured = config.admin_password.as_ref().map(|s| s.expose());
    if let Some(generated) =
        crate::registry::accounts::queries::ensure_bootstrap_admin(&mut conn, configured)?
    {
        // Shown once: the only copy is this log line and the hash in the database.
        log::warn!("created the bootstrap user `admin` with the generated password: {generated}");
        log::warn!("sign in and change it (PATCH /api/v1/users/{{id}}), or set SONGMAY_ADMIN_PASSWORD before the first start");
    }
    Ok(())
}

fn cors(origins: &[String]) -> Cors {
    // Requests from other origins are still served (same-origin tools such
    // as /docs send an Origin header too); browsers simply get no CORS
    // headers for origins not listed, so they keep the response from scripts.
    origins
        .iter()
        .fold(
            Cors::default().block_on_origin_mismatch(false),
            |cors, origin| cors.allowed_origin(origin),
        )
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        // Exactly the request headers the API reads, and the response
        // headers a browser application needs to see.
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::LOCATION,
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_DISPOSITION,
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("ratelimit"),
            header::HeaderName::from_static("ratelimit-policy"),
        ])
        .max_age(3600)
}

/// A configured, listening server.
pub struct Application {
    port: u16,
    server: Server,
    /// The webhook worker's database and settings (it starts with the server).
    webhooks: (Db, crate::platform::config::WebhookSettings),
    /// The coverage count folder's database and period (PostgreSQL only).
    count_folder: Option<(Db, std::time::Duration)>,
}

impl Application {
    pub fn build(config: Config) -> Result<Self, StartupError> {
        // The key first: a PostgreSQL deployment without one must not touch the database.
        let secret = config.resolve_jwt_secret()?;
        let db = Db::connect(&config.database, config.pool_size)?;
        prepare_database(&db, &config)?;
        let webhooks = (db.clone(), config.webhooks.clone());
        let count_folder = config
            .count_fold
            .filter(|_| config.database.is_postgres())
            .map(|every| (db.clone(), every));
        let webhook_settings = web::Data::new(config.webhooks.clone());
        let letter_settings = web::Data::new(config.letter.clone());
        let retention = web::Data::new(config.retention.clone());
        let four_eyes = web::Data::new(config.four_eyes);
        let metrics_access = web::Data::new(crate::platform::health::MetricsAccess::new(
            config.metrics_token.clone(),
        ));
        let rate_policies =
            web::Data::new(crate::platform::auth::rate_limit::Policies::new(&config));
        let replica = config
            .read_database
            .as_ref()
            .map(|location| Db::connect_replica(location, config.pool_size))
            .transpose()?;
        if let Some(location) = &config.read_database {
            log::info!("reads may use the replica: {}", location.describe());
        }
        let state = web::Data::new(AppState {
            reads: crate::platform::db::replica::Reads::new(db.clone(), replica),
            db,
            tokens: TokenKeys::new(&secret, config.token_lifetime),
            token_limits: crate::platform::auth::rate_limit::TokenLimits::new(&config),
            accounts: crate::platform::auth::remembered::RememberedAccounts::new(
                config.account_cache_ttl,
            ),
            recent_pages: crate::platform::http::recent_pages::RecentPages::new(
                config.list_cache_ttl,
            ),
        });
        let public_figures: web::Data<crate::reporting::public::PublicFiguresCache> =
            web::Data::new(crate::reporting::public::PublicFiguresCache::new(
                config.public_cache_ttl,
            ));
        // One for all workers, so that the same question asked on two
        // workers at once is still computed once.
        let coverage_reads =
            web::Data::new(crate::reporting::stats::coverage::CoverageReads::new());
        let api = openapi();
        let known_routes = web::Data::new(KnownRoutes::from_openapi(&api));
        let rate_limit = token_rate_limit(&config);
        let public_limit = public_rate_limit(&config);

        let listener = TcpListener::bind(&config.bind)?;
        let address = listener.local_addr()?;
        let settings = config.clone();
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .configure(routes(rate_limit.clone(), public_limit.clone()))
                .split_for_parts();
            app.app_data(state.clone())
                .app_data(public_figures.clone())
                .app_data(coverage_reads.clone())
                .app_data(known_routes.clone())
                .app_data(webhook_settings.clone())
                .app_data(letter_settings.clone())
                .app_data(metrics_access.clone())
                .app_data(retention.clone())
                .app_data(four_eyes.clone())
                .app_data(rate_policies.clone())
                .app_data(crate::platform::http::json::JsonLimit(
                    settings.max_json_bytes,
                ))
                .app_data(crate::platform::http::payload_config(
                    settings.max_upload_bytes,
                ))
                .app_data(crate::platform::http::query_config())
                .app_data(crate::platform::http::path_config())
                .service(
                    SwaggerUi::new("/docs/{_:.*}")
                        .external_url_unchecked("/api-docs/openapi.json", api.clone()),
                )
                .service(web::redirect("/docs", "/docs/"))
                .default_service(web::to(unmatched))
                .wrap(from_fn(exact_methods))
                .wrap(from_fn(crate::platform::http::conventions::entity_tag))
                .wrap(from_fn(crate::platform::http::target::clean_target))
                .wrap(cors(&settings.cors_origins))
                .wrap(from_fn(problem_fallback))
                .wrap(from_fn(
                    crate::platform::http::conventions::created_location,
                ))
                .wrap(from_fn(crate::platform::http::security::security_headers))
                .wrap(from_fn(crate::platform::http::conventions::request_id))
                .wrap(from_fn(crate::platform::http::conventions::note_writes))
                // Method, route template, status, duration, request id and
                // caller kind, to the log and the metrics: no tokens, no
                // bodies, no query strings, no personal data.
                .wrap(from_fn(crate::platform::http::access::access_log))
        })
        .shutdown_timeout(30)
        .listen(listener)?;
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        log::info!(
            "songmay listening on http://{address} ({})",
            config.database.describe()
        );
        Ok(Self {
            port: address.port(),
            server: server.run(),
            webhooks,
            count_folder,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests
    /// (at most 30 s) before returning.
    /// The webhook worker and the coverage count folder run beside the
    /// server and stop with it.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (db, settings) = self.webhooks;
        let worker = crate::platform::webhooks::worker::run(db, settings);
        let count_folder = self.count_folder;
        let folder = async move {
            match count_folder {
                Some((db, every)) => {
                    crate::reporting::stats::coverage::fold_noted_counts_forever(db, every).await
                }
                None => std::future::pending().await,
            }
        };
        let background = Box::pin(futures_util::future::join(worker, folder));
        match futures_util::future::select(Box::pin(self.server), background).await {
            futures_util::future::Either::Left((served, _)) => served,
            futures_util::future::Either::Right((_, server)) => server.await,
        }
    }
}
