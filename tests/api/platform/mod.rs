//! The ground floor (`src/platform/`): tokens, audit, errors, hardening,
//! health and webhooks.

mod audit;
mod auth;
mod errors;
mod hardening;
mod health;
mod webhooks;
