//! What every handler receives: the database, the token keys and the
//! token limits. Domain caches are registered beside it by the app (each
//! as its own `web::Data`), so the ground floor names no domain.

use crate::platform::auth::jwt::TokenKeys;
use crate::platform::db::Db;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    /// Where statistics, public pages, reports and lists read: a replica
    /// when one is configured and current, else `db`.
    pub reads: crate::platform::db::replica::Reads,
    pub tokens: TokenKeys,
    /// Token requests per account name and overall (per address: middleware).
    pub token_limits: crate::platform::auth::rate_limit::TokenLimits,
    /// The accounts behind verified tokens, remembered a few seconds.
    pub accounts: crate::platform::auth::remembered::RememberedAccounts,
    /// Pages of the busiest lists, served again to the same caller for a
    /// moment and forgotten at every write answered here.
    pub recent_pages: crate::platform::http::recent_pages::RecentPages,
}
