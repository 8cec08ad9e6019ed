//! Password and client-secret hashing with Argon2id (the crate's defaults,
//! OWASP's recommended parameters), and a verification that costs the same
//! whether or not the account exists.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use crate::platform::error::Failure;

pub fn hash(secret: &str) -> Result<String, Failure> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Failure::internal(format!("cannot hash password: {e}")))
}

/// True when `secret` matches `stored` (a PHC string). With no stored hash
/// (unknown account) it still runs one full verification against a fixed
/// hash, so response time does not reveal which accounts exist.
pub fn verify(secret: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash("not a real password, only spends time").unwrap_or_default());
    let (candidate, real) = match stored {
        Some(stored) => (stored, true),
        None => (dummy.as_str(), false),
    };
    let matches = PasswordHash::new(candidate)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    matches && real
}
