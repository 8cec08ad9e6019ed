//! Rate limiting of token requests per client IP, with actix-governor.
//!
//! The counters live in each process: with N replicas a client gets at most
//! N times the quota. That still stops password guessing from one address;
//! a shared limit needs the load balancer or a shared store.

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::NotUntil;
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use std::net::IpAddr;
use std::time::Duration;

use crate::config::Config;
use crate::error::ApiError;

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

pub type TokenRateLimit = GovernorConfig<ClientIp, NoOpMiddleware<QuantaInstant>>;

/// The quota for `POST /api/v1/auth/token`, shared by all workers of a process.
pub fn token_rate_limit(config: &Config) -> TokenRateLimit {
    per_client_ip(
        config,
        config.token_rate_per_minute,
        config.token_rate_burst,
    )
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
        .finish()
        .expect("period and burst are at least 1")
}
