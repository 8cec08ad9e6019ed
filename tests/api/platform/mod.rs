//! The ground floor (`src/platform/`): tokens, audit, errors, hardening,
//! health, kept list pages and webhooks.

mod audit;
mod auth;
mod errors;
mod hardening;
mod health;
mod recent_pages;
mod webhooks;
