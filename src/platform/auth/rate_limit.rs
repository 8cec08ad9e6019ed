//! Rate limiting with governor (through actix-governor).
//!
//! Token requests meet three limits: per account name (password guessing
//! against one account, from however many addresses), per client address
//! (set higher, so that a school or an office behind one NAT address is not
//! locked out by one colleague's typos), and a global ceiling (guessing
//! spread over many names and addresses). Public pages are limited per
//! address.
//!
//! The counters live in each process: with N replicas a client gets at most
//! N times the quota. That still stops guessing; a shared limit needs the
//! load balancer or a shared store (README, "Scaling").

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::StateInformationMiddleware;
use actix_governor::governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter,
};
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use crate::platform::config::Config;
use crate::platform::http::ApiError;

/// Keys requests by the client IP: the TCP peer, or with `SONGMAY_TRUST_PROXY`
/// the address the reverse proxy reports.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp {
    trust_proxy: bool,
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        let forwarded = self
            .trust_proxy
            .then(|| {
                req.connection_info()
                    .realip_remote_addr()
                    .and_then(parse_ip)
            })
            .flatten();
        forwarded
            .or_else(|| req.peer_addr().map(|a| a.ip()))
            .ok_or_else(|| SimpleKeyExtractionError::new("cannot tell the client address"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _response: HttpResponseBuilder,
    ) -> HttpResponse {
        let wait = negative.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(wait.as_secs().max(1)).error_response()
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
}

pub type TokenRateLimit = GovernorConfig<ClientIp, StateInformationMiddleware>;

/// The per-address quota for `POST /api/v1/auth/token`, shared by all
/// workers of a process.
pub fn token_rate_limit(config: &Config) -> TokenRateLimit {
    per_client_ip(
        config,
        config.token_ip_rate_per_minute,
        config.token_ip_rate_burst,
    )
}

/// A quota of `per_minute` sustained and `burst` at once.
fn quota(per_minute: u32, burst: u32) -> Quota {
    let per_minute = per_minute.clamp(1, 60_000) as u64;
    Quota::with_period(Duration::from_millis(60_000 / per_minute))
        .expect("a period of at least one millisecond")
        .allow_burst(NonZeroU32::new(burst.max(1)).expect("at least 1"))
}

/// The per-account and global limits of token requests (the per-address
/// one is the middleware above).
pub struct TokenLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    global: DefaultDirectRateLimiter,
}

impl TokenLimits {
    pub fn new(config: &Config) -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(
                config.token_rate_per_minute,
                config.token_rate_burst,
            )),
            global: RateLimiter::direct(quota(
                config.token_global_rate_per_minute,
                config.token_global_rate_burst,
            )),
        }
    }

    /// One attempt for the account `name`: 429 (with `Retry-After`) when the
    /// account's quota or the global ceiling is spent.
    pub fn attempt(&self, name: &str) -> Result<(), ApiError> {
        let clock = DefaultClock::default();
        let wait = |not_until: NotUntil<QuantaInstant>| {
            ApiError::too_many_requests(not_until.wait_time_from(clock.now()).as_secs().max(1))
        };
        self.global.check().map_err(wait)?;
        // Keyed by the name as written, lowercased (usernames are stored
        // lowercased), and bounded so a long name cannot grow the map much.
        let key: String = name.to_lowercase().chars().take(64).collect();
        self.per_account.check_key(&key).map_err(wait)?;
        // Forget accounts whose quota is full again, now and then.
        if self.per_account.len() > 10_000 {
            self.per_account.retain_recent();
        }
        Ok(())
    }
}

/// The quota for the public pages (no token).
pub fn public_rate_limit(config: &Config) -> TokenRateLimit {
    per_client_ip(
        config,
        config.public_rate_per_minute,
        config.public_rate_burst,
    )
}

fn per_client_ip(config: &Config, per_minute: u32, burst: u32) -> TokenRateLimit {
    let per_minute = per_minute.clamp(1, 60_000) as u64;
    GovernorConfigBuilder::default()
        .period(Duration::from_millis(60_000 / per_minute))
        .burst_size(burst.max(1))
        .key_extractor(ClientIp {
            trust_proxy: config.trust_proxy,
        })
        // Governor's own `x-ratelimit-*` headers, which [`announce`]
        // rewrites as the IETF fields.
        .use_headers()
        .finish()
        .expect("period and burst are at least 1")
}

/// A per-address quota as the IETF RateLimit fields describe it
/// (draft-ietf-httpapi-ratelimit-headers): `quota` requests per `window`
/// seconds, one coming back every `window / quota` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub name: &'static str,
    pub quota: u32,
    /// Milliseconds until one request of the quota comes back.
    pub refill_ms: u64,
}

impl Policy {
    fn new(name: &'static str, per_minute: u32, burst: u32) -> Self {
        Self {
            name,
            quota: burst.max(1),
            refill_ms: 60_000 / per_minute.clamp(1, 60_000) as u64,
        }
    }

    /// The window the whole quota comes back in, in whole seconds.
    fn window(&self) -> u64 {
        (self.quota as u64 * self.refill_ms).div_ceil(1000).max(1)
    }

    /// `RateLimit-Policy`: `"<name>";q=<quota>;w=<window>`.
    pub fn policy_field(&self) -> String {
        format!("\"{}\";q={};w={}", self.name, self.quota, self.window())
    }

    /// `RateLimit`: `"<name>";r=<remaining>;t=<seconds until all is back>`.
    pub fn state_field(&self, remaining: u32) -> String {
        let used = self.quota.saturating_sub(remaining) as u64;
        let reset = (used * self.refill_ms).div_ceil(1000);
        format!("\"{}\";r={remaining};t={reset}", self.name)
    }
}

/// The policies of the rate-limited routes (app data).
#[derive(Debug, Clone, Copy)]
pub struct Policies {
    pub token: Policy,
    pub public: Policy,
}

impl Policies {
    pub fn new(config: &Config) -> Self {
        Self {
            token: Policy::new(
                "per-address",
                config.token_ip_rate_per_minute,
                config.token_ip_rate_burst,
            ),
            public: Policy::new(
                "public",
                config.public_rate_per_minute,
                config.public_rate_burst,
            ),
        }
    }
}

/// On a rate-limited route: `RateLimit-Policy` and `RateLimit` (what is
/// left, and when all of it is back) on every answer, read from governor's
/// count for this address; on a 429, `r=0` and the wait of `Retry-After`.
pub async fn announce(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderName, HeaderValue, RETRY_AFTER};
    let policies = req
        .app_data::<actix_web::web::Data<Policies>>()
        .map(|p| *p.get_ref());
    let public = req.path().starts_with("/api/v1/public/");
    let mut response = next.call(req).await?.map_into_boxed_body();
    let Some(policies) = policies else {
        return Ok(response);
    };
    let policy = if public {
        policies.public
    } else {
        policies.token
    };
    let headers = response.headers_mut();
    let remaining = headers
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    let wait = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-after",
        "x-ratelimit-whitelisted",
    ] {
        headers.remove(name);
    }
    let state = match (remaining, wait) {
        (Some(remaining), _) => policy.state_field(remaining),
        (None, Some(wait)) => format!("\"{}\";r=0;t={wait}", policy.name),
        (None, None) => return Ok(response),
    };
    for (name, value) in [
        ("ratelimit-policy", policy.policy_field()),
        ("ratelimit", state),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_describe_the_quota() {
        // 600 a minute, 100 at once: one back every 0.1 s, all in 10 s.
        let public = Policy::new("public", 600, 100);
        assert_eq!(public.policy_field(), "\"public\";q=100;w=10");
        assert_eq!(public.state_field(100), "\"public\";r=100;t=0");
        assert_eq!(public.state_field(90), "\"public\";r=90;t=1");
        assert_eq!(public.state_field(0), "\"public\";r=0;t=10");
        // 60 a minute, 30 at once: one a second.
        let token = Policy::new("per-address", 60, 30);
        assert_eq!(token.policy_field(), "\"per-address\";q=30;w=30");
        assert_eq!(token.state_field(27), "\"per-address\";r=27;t=3");
    }
}
