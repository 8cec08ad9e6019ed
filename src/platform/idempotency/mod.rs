//! `Idempotency-Key` for writes that clients retry (sync batches, imports):
//! the first answer is stored in the same transaction as the write and
//! replayed for the same key, so a retried batch is never applied twice.
//! Keys are per caller and kept for 24 hours.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::platform::db::schema::idempotency_keys;
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;
use crate::platform::http::ApiError;

pub const HEADER: &str = "Idempotency-Key";
const KEEP_HOURS: i64 = 24;

/// A key sent with a request, with a fingerprint of that request.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: String,
}

impl IdempotencyKey {
    /// For a JSON body already parsed: the fingerprint covers the value.
    pub fn for_json(
        req: &HttpRequest,
        body: &impl serde::Serialize,
    ) -> Result<Option<Self>, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(e.to_string()))?;
        Self::from_request(req, &bytes)
    }

    /// Reads the header; `None` when absent. The fingerprint covers method,
    /// path, query and body, so reusing a key for another request is caught.
    pub fn from_request(req: &HttpRequest, body: &[u8]) -> Result<Option<Self>, ApiError> {
        let Some(value) = req.headers().get(HEADER) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| {
                (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
            })
            .ok_or_else(|| {
                ApiError::bad_request("Idempotency-Key must be 1 to 255 visible ASCII characters")
            })?;
        // SHA-256, not std's DefaultHasher: stored fingerprints must match
        // after the service is rebuilt with another Rust release.
        let mut hasher = Sha256::new();
        for part in [req.method().as_str(), req.path(), req.query_string()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.update(body);
        Ok(Some(Self {
            key: key.to_owned(),
            fingerprint: format!("{:x}", hasher.finalize()),
        }))
    }
}

/// A stored answer.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

impl StoredResponse {
    pub fn into_response(self, replayed: bool) -> HttpResponse {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        response.content_type("application/json");
        if replayed {
            response.insert_header(("Idempotent-Replayed", "true"));
        }
        response.body(self.body)
    }
}

/// Inside the write's transaction: `Ok(Some(answer))` when this key was
/// already answered (replay it), `Ok(None)` when the caller should do the
/// work and then [`store`] its answer. On PostgreSQL a concurrent request
/// with the same key waits on the key's row until the first one commits.
pub fn claim(
    conn: &mut DbConn,
    actor: &str,
    key: &IdempotencyKey,
) -> Result<Option<StoredResponse>, Failure> {
    let now = crate::platform::db::now();
    let expired = now - chrono::TimeDelta::hours(KEEP_HOURS);
    with_conn!(conn, |c| diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(expired))
    )
    .execute(c))?;
    let inserted = with_conn!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::actor.eq(actor),
            idempotency_keys::idem_key.eq(&key.key),
            idempotency_keys::request_hash.eq(&key.fingerprint),
            idempotency_keys::status.eq(0),
            idempotency_keys::response.eq(""),
            idempotency_keys::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(None);
    }
    let (fingerprint, status, body): (String, i32, String) =
        with_conn!(conn, |c| idempotency_keys::table
            .find((actor, &key.key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::status,
                idempotency_keys::response
            ))
            .first(c))?;
    if fingerprint != key.fingerprint {
        return Err(Failure::invalid_field(
            "Idempotency-Key",
            "reused",
            "this key was used for a different request; use a new key for new data",
        ));
    }
    if status == 0 {
        return Err(Failure::conflict(
            "a request with this Idempotency-Key is still being processed",
        ));
    }
    Ok(Some(StoredResponse {
        status: status as u16,
        body,
    }))
}

/// Stores the answer to replay for this key (same transaction as the work).
pub fn store(
    conn: &mut DbConn,
    actor: &str,
    key: &IdempotencyKey,
    answer: &StoredResponse,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::update(
        idempotency_keys::table.find((actor, &key.key))
    )
    .set((
        idempotency_keys::status.eq(answer.status as i32),
        idempotency_keys::response.eq(&answer.body),
    ))
    .execute(c))?;
    Ok(())
}

/// Runs `work` in one transaction with the key's claim and store: a
/// repeated key returns the stored answer (and `true`) without running it.
pub fn run_once(
    conn: &mut DbConn,
    actor: &str,
    key: Option<&IdempotencyKey>,
    work: impl FnOnce(&mut DbConn) -> Result<StoredResponse, Failure>,
) -> Result<(StoredResponse, bool), Failure> {
    conn.transaction(|conn| {
        if let Some(key) = key {
            if let Some(stored) = claim(conn, actor, key)? {
                return Ok((stored, true));
            }
        }
        let answer = work(conn)?;
        if let Some(key) = key {
            store(conn, actor, key, &answer)?;
        }
        Ok((answer, false))
    })
}

/// A 200 answer with a JSON body, ready to store.
pub fn json_answer(value: &impl serde::Serialize) -> Result<StoredResponse, Failure> {
    json_answer_with(200, value)
}

/// An answer with this status and a JSON body, ready to store.
pub fn json_answer_with(
    status: u16,
    value: &impl serde::Serialize,
) -> Result<StoredResponse, Failure> {
    let body = serde_json::to_string(value).map_err(|e| Failure::internal(e.to_string()))?;
    Ok(StoredResponse { status, body })
}
