//! Random secrets and identifiers: JWT secrets generated for a first
//! start, the first admin's password, request ids, machine client ids.

use base64::Engine;
use rand::RngCore;

/// A random URL-safe string of `bytes` random bytes (secrets, client ids).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
