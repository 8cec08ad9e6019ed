//! Signatures in the Standard Webhooks style: every delivery carries
//! `webhook-id`, `webhook-timestamp` (Unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<id>.<timestamp>.<body>`, keyed with the subscription's secret
//! (`whsec_` + base64 key). A receiver recomputes it, compares in constant
//! time and refuses stale timestamps (README has a verification snippet).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// A new secret: 24 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
    format!("{PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` value for this message.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.trim_start_matches(PREFIX))
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any size");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(new_secret().starts_with(PREFIX));
        assert_ne!(new_secret(), new_secret());
    }
}
