//! A keyset page as storage sees it: how many rows, and the key of the row
//! to start after. `platform::http::pagination` reads it from `?limit=` and
//! `?cursor=`; queries take it and hand back the cursor of the next page,
//! which is the last key, encoded opaquely (base64 of JSON).

use base64::Engine;
use serde::Serialize;

/// A validated page request with the decoded key to start after.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: i64,
    pub after: Option<K>,
}

impl<K> PageRequest<K> {
    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row and makes the cursor for the next page.
    pub fn finish<T, C: Serialize>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> C,
    ) -> (Vec<T>, Option<String>) {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(self.limit as usize);
        let next = if more {
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        (rows, next)
    }
}

pub fn encode_cursor<C: Serialize>(key: &C) -> String {
    let json = serde_json::to_vec(key).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}
