//! A short memory of the accounts behind verified tokens. Re-reading the
//! account on every request (is it still active, same role, same scope,
//! same token version?) was one of a read's two database round trips; for
//! a couple of seconds the answer is remembered instead, per token's
//! claims. A change made through this instance (`PATCH /users/{id}`,
//! `PATCH /clients/{id}`) forgets everything at once, so on the instance
//! that made it a disabled account or a changed role is refused on the
//! next request; other instances see it within the remembered seconds
//! (`SONGMAY_ACCOUNT_CACHE_SECONDS`, at most 5, 0 to re-read every time).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::jwt::Claims;
use super::principal::Principal;

/// Entries kept at most; past it, the expired ones are dropped (and, if
/// none expired, everything: a re-read costs one query).
const MOST: usize = 50_000;

pub struct RememberedAccounts {
    ttl: Duration,
    /// Bumped by every account change made here: an answer read before
    /// the change names an older generation and is never served.
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (Instant, u64, Principal)>>,
}

/// The claims an account check depends on, as one key.
fn key(claims: &Claims) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}",
        claims.sub,
        claims.ver,
        claims.role,
        claims.scope.as_deref().unwrap_or("")
    )
}

impl RememberedAccounts {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u64, Principal)>> {
        // A poisoned lock only means a request panicked; the map is whole.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The generation to pass to [`Self::remember`] for a read starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The remembered account check for these claims, while fresh.
    pub fn recall(&self, claims: &Claims) -> Option<Principal> {
        if self.ttl.is_zero() {
            return None;
        }
        let current = self.generation();
        let entries = self.entries();
        match entries.get(&key(claims)) {
            Some((at, generation, principal))
                if *generation == current && at.elapsed() < self.ttl =>
            {
                Some(principal.clone())
            }
            _ => None,
        }
    }

    /// Remembers a check read from the database; `generation` is the one
    /// taken before the read began.
    pub fn remember(&self, claims: &Claims, generation: u64, principal: &Principal) {
        if self.ttl.is_zero() || generation != self.generation() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= MOST {
            let ttl = self.ttl;
            entries.retain(|_, (at, _, _)| at.elapsed() < ttl);
            if entries.len() >= MOST {
                entries.clear();
            }
        }
        entries.insert(key(claims), (Instant::now(), generation, principal.clone()));
    }

    /// An account changed here: nothing remembered is served again.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::auth::{Account, Role, Scope};

    fn claims(ver: i64) -> Claims {
        Claims {
            sub: "user:7".into(),
            role: Role::Admin,
            scope: None,
            iat: 0,
            exp: 0,
            iss: "songmay".into(),
            aud: "songmay".into(),
            ver,
        }
    }

    fn principal() -> Principal {
        Principal {
            account: Account::User {
                id: 7,
                username: "admin".into(),
            },
            role: Role::Admin,
            extra_roles: Vec::new(),
            scope: Scope::Everywhere,
            token_version: 1,
        }
    }

    #[test]
    fn a_check_is_remembered_briefly_and_forgotten_on_any_account_change() {
        let memory = RememberedAccounts::new(Duration::from_secs(60));
        let before = memory.generation();
        memory.remember(&claims(1), before, &principal());
        assert!(memory.recall(&claims(1)).is_some());
        assert!(memory.recall(&claims(2)).is_none(), "another token version");
        memory.forget_all();
        assert!(memory.recall(&claims(1)).is_none());
        // A read that began before a change is not remembered after it.
        memory.remember(&claims(1), before, &principal());
        assert!(memory.recall(&claims(1)).is_none());

        let expired = RememberedAccounts::new(Duration::from_millis(10));
        expired.remember(&claims(1), expired.generation(), &principal());
        std::thread::sleep(Duration::from_millis(20));
        assert!(expired.recall(&claims(1)).is_none());
        let off = RememberedAccounts::new(Duration::ZERO);
        off.remember(&claims(1), off.generation(), &principal());
        assert!(off.recall(&claims(1)).is_none());
    }
}
