//! Every setting of the service, read from the environment in this one place.
//! README.md lists them; secrets are wrapped so they never print.

use std::path::PathBuf;
use std::time::Duration;

use crate::platform::db::DatabaseLocation;

/// A value that must never reach a log line or a debug print.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A metrics token shorter than this is a typo or a guessable word.
const MIN_METRICS_TOKEN_BYTES: usize = 16;

/// Shortest JWT signing secret accepted (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `SONGMAY_WEBHOOK_ALLOW_PRIVATE`: allow targets on loopback, private
    /// or link-local addresses (off: a subscription could reach inside the
    /// provincial network — server-side request forgery).
    pub allow_private: bool,
    /// `SONGMAY_WEBHOOK_POLL_MS`: how often each replica looks for work.
    pub poll: Duration,
    /// `SONGMAY_WEBHOOK_TIMEOUT_SECONDS`: a receiver that answers slower is cut off (and retried).
    pub timeout: Duration,
    /// `SONGMAY_WEBHOOK_RETRY_MS`: the first retry's delay; each next one doubles (at most an hour).
    pub first_retry: Duration,
    /// `SONGMAY_WEBHOOK_GIVE_UP_SECONDS`: a delivery still failing this long after its event is given up.
    pub give_up_after: Duration,
    /// `SONGMAY_WEBHOOK_DISABLE_AFTER`: deliveries given up in a row that disable a subscription.
    pub disable_after: i32,
}

/// Who signs the thank-you letters (`SONGMAY_LETTER_*`): names and titles
/// of people and offices, never an account id.
#[derive(Debug, Clone)]
pub struct LetterSettings {
    /// `SONGMAY_LETTER_ISSUER`: the office at the top of the letter.
    pub issuer: String,
    /// `SONGMAY_LETTER_PLACE`: the place before the date ("Hòa Bình, ngày …").
    pub place: String,
    /// `SONGMAY_LETTER_SIGNER_TITLE`: the signer's title.
    pub signer_title: String,
    /// `SONGMAY_LETTER_SIGNER_NAME`: the signer's name (absent: the title alone).
    pub signer_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`: a SQLite path (`songmay.db`, `sqlite://…`) or `postgres://…`.
    pub database: DatabaseLocation,
    /// `SONGMAY_READ_DATABASE_URL`: a PostgreSQL streaming replica of
    /// `DATABASE_URL` for statistics, public pages and lists (absent: the
    /// primary serves every read).
    pub read_database: Option<DatabaseLocation>,
    /// `SONGMAY_BIND`: address and port to listen on.
    pub bind: String,
    /// `SONGMAY_JWT_SECRET`: HS256 key; generated and kept beside a SQLite file when unset.
    pub jwt_secret: Option<Secret>,
    /// `SONGMAY_ADMIN_PASSWORD`: password of the bootstrap `admin` user (first start only).
    pub admin_password: Option<Secret>,
    /// `SONGMAY_DB_POOL_SIZE`: connections per process.
    pub pool_size: u32,
    /// `SONGMAY_TOKEN_TTL_SECONDS`: lifetime of an access token.
    pub token_lifetime: Duration,
    /// `SONGMAY_CORS_ORIGINS`: comma-separated origins allowed by CORS (none by default).
    pub cors_origins: Vec<String>,
    /// `SONGMAY_TOKEN_RATE_PER_MINUTE`: token requests per account name and minute, sustained.
    pub token_rate_per_minute: u32,
    /// `SONGMAY_TOKEN_RATE_BURST`: token requests for one account name at once.
    pub token_rate_burst: u32,
    /// `SONGMAY_TOKEN_IP_RATE_PER_MINUTE`: token requests per client address and minute.
    pub token_ip_rate_per_minute: u32,
    /// `SONGMAY_TOKEN_IP_RATE_BURST`: token requests a client address may make at once.
    pub token_ip_rate_burst: u32,
    /// `SONGMAY_TOKEN_GLOBAL_RATE_PER_MINUTE`: token requests per minute for the whole process.
    pub token_global_rate_per_minute: u32,
    /// `SONGMAY_TOKEN_GLOBAL_RATE_BURST`: token requests the whole process takes at once.
    pub token_global_rate_burst: u32,
    /// `SONGMAY_PUBLIC_RATE_PER_MINUTE`: public-page requests per client IP and minute.
    pub public_rate_per_minute: u32,
    /// `SONGMAY_PUBLIC_RATE_BURST`: public-page requests a client IP may make at once.
    pub public_rate_burst: u32,
    /// `SONGMAY_PUBLIC_CACHE_SECONDS`: how long the service reuses a computed public page (0: never).
    pub public_cache_ttl: Duration,
    /// `SONGMAY_ACCOUNT_CACHE_SECONDS` (default 2, at most 5, 0: off): how
    /// long an instance remembers that the account behind a token is still
    /// active, so another instance's change reaches it within that time.
    pub account_cache_ttl: Duration,
    /// `SONGMAY_LIST_CACHE_MS` (default 1000, at most 5000, 0: off): how
    /// long an instance serves a caller's page of students or needs again
    /// to the same caller (`platform::http::recent_pages`).
    pub list_cache_ttl: Duration,
    /// `SONGMAY_TRUST_PROXY`: take the client IP from `X-Forwarded-For`/`Forwarded`
    /// (only behind a reverse proxy that sets them).
    pub trust_proxy: bool,
    /// `SONGMAY_COUNT_FOLD_MS` (default 1000; 0: never, for tests that fold
    /// by hand): how often each replica folds the coverage deltas noted by
    /// writes into the count rows (PostgreSQL).
    pub count_fold: Option<Duration>,
    /// `SONGMAY_MAX_JSON_BYTES`: largest JSON body accepted.
    pub max_json_bytes: usize,
    /// `SONGMAY_MAX_UPLOAD_BYTES`: largest CSV upload accepted.
    pub max_upload_bytes: usize,
    /// `SONGMAY_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Webhook delivery (`SONGMAY_WEBHOOK_*`).
    pub webhooks: WebhookSettings,
    /// The thank-you letter's letterhead and signer (`SONGMAY_LETTER_*`).
    pub letter: LetterSettings,
    /// `SONGMAY_METRICS_TOKEN`: the bearer token of `GET /metrics` (unset: the endpoint is off).
    pub metrics_token: Option<Secret>,
    /// How long personal data is kept (`SONGMAY_RETAIN_*_DAYS`).
    pub retention: RetentionPolicy,
    /// `SONGMAY_FOUR_EYES_VND`: a purchase or reversal above this many đồng
    /// waits for a second finance officer's approval.
    pub four_eyes: FourEyes,
}

/// The amount above which a purchase or a reversal needs a second finance
/// officer (README, "Four eyes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FourEyes {
    pub above_vnd: i64,
}

/// How long personal data is kept, in days (README, "Retention"). Each
/// period has a floor below which the service refuses to start: a typo
/// must not erase a school year of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// `SONGMAY_RETAIN_STUDENT_DAYS`: a student who left (inactive or deleted).
    pub student_days: u32,
    /// `SONGMAY_RETAIN_DONOR_CONTACT_DAYS`: a donor's phone, email and address after their last gift.
    pub donor_contact_days: u32,
    /// `SONGMAY_RETAIN_RECEIVER_NAME_DAYS`: the name of whoever received a handover.
    pub receiver_name_days: u32,
}

impl RetentionPolicy {
    /// The longest period, configured or asked for: a hundred years. Dates
    /// further back than the calendar the service counts in would make
    /// no sense, and a typo in days must not be a crash.
    pub const MAX_DAYS: u32 = 36_500;

    /// (setting, default, floor) per period.
    pub const SETTINGS: [(&'static str, u32, u32); 3] = [
        ("SONGMAY_RETAIN_STUDENT_DAYS", 730, 365),
        ("SONGMAY_RETAIN_DONOR_CONTACT_DAYS", 365, 90),
        ("SONGMAY_RETAIN_RECEIVER_NAME_DAYS", 730, 365),
    ];
}

#[derive(Debug, thiserror::Error)]
#[error("setting {name} is invalid: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests can supply their own.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let whole_number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text.parse::<u64>().map_err(|_| ConfigError {
                    name,
                    reason: format!("expected a whole number, got `{text}`"),
                }),
            }
        };
        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match whole_number(name, default)? {
                0 => Err(ConfigError {
                    name,
                    reason: "expected a positive whole number, got `0`".into(),
                }),
                n => Ok(n),
            }
        };
        let jwt_secret = get("SONGMAY_JWT_SECRET").map(Secret::new);
        if let Some(secret) = &jwt_secret {
            if secret.expose().len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError {
                    name: "SONGMAY_JWT_SECRET",
                    reason: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
                });
            }
        }
        let account_cache_seconds = whole_number("SONGMAY_ACCOUNT_CACHE_SECONDS", 2)?;
        if account_cache_seconds > 5 {
            return Err(ConfigError {
                name: "SONGMAY_ACCOUNT_CACHE_SECONDS",
                reason: "at most 5: a disabled account must be refused everywhere within seconds"
                    .into(),
            });
        }
        let list_cache_ms = whole_number("SONGMAY_LIST_CACHE_MS", 1000)?;
        if list_cache_ms > 5000 {
            return Err(ConfigError {
                name: "SONGMAY_LIST_CACHE_MS",
                reason: "at most 5000: another instance's write must show within seconds".into(),
            });
        }
        let metrics_token = get("SONGMAY_METRICS_TOKEN").map(Secret::new);
        if metrics_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < MIN_METRICS_TOKEN_BYTES)
        {
            return Err(ConfigError {
                name: "SONGMAY_METRICS_TOKEN",
                reason: format!("must be at least {MIN_METRICS_TOKEN_BYTES} characters long"),
            });
        }
        let mut retention = [0u32; 3];
        for (slot, (name, default, floor)) in retention.iter_mut().zip(RetentionPolicy::SETTINGS) {
            let days = number(name, default.into())?;
            if days < floor.into() {
                return Err(ConfigError {
                    name,
                    reason: format!("must be at least {floor} days"),
                });
            }
            *slot = u32::try_from(days)
                .ok()
                .filter(|days| *days <= RetentionPolicy::MAX_DAYS)
                .ok_or_else(|| ConfigError {
                    name,
                    reason: format!("must be at most {} days", RetentionPolicy::MAX_DAYS),
                })?;
        }
        let retention = RetentionPolicy {
            student_days: retention[0],
            donor_contact_days: retention[1],
            receiver_name_days: retention[2],
        };
        let flag = |name: &'static str| match get(name).as_deref() {
            None | Some("0") | Some("false") | Some("no") => Ok(false),
            Some("1") | Some("true") | Some("yes") => Ok(true),
            Some(other) => Err(ConfigError {
                name,
                reason: format!("expected true or false, got `{other}`"),
            }),
        };
        let trust_proxy = flag("SONGMAY_TRUST_PROXY")?;
        let webhooks = WebhookSettings {
            allow_private: flag("SONGMAY_WEBHOOK_ALLOW_PRIVATE")?,
            poll: Duration::from_millis(number("SONGMAY_WEBHOOK_POLL_MS", 1000)?),
            timeout: Duration::from_secs(number("SONGMAY_WEBHOOK_TIMEOUT_SECONDS", 10)?),
            first_retry: Duration::from_millis(number("SONGMAY_WEBHOOK_RETRY_MS", 30_000)?),
            give_up_after: Duration::from_secs(number("SONGMAY_WEBHOOK_GIVE_UP_SECONDS", 86_400)?),
            disable_after: number("SONGMAY_WEBHOOK_DISABLE_AFTER", 5)? as i32,
        };
        let database =
            DatabaseLocation::parse(&get("DATABASE_URL").unwrap_or_else(|| "songmay.db".into()));
        let read_database = match get("SONGMAY_READ_DATABASE_URL").filter(|u| !u.trim().is_empty())
        {
            None => None,
            Some(url) => {
                let replica = DatabaseLocation::parse(&url);
                if !(replica.is_postgres() && database.is_postgres()) {
                    return Err(ConfigError {
                        name: "SONGMAY_READ_DATABASE_URL",
                        reason: "a read replica is a PostgreSQL server, and needs DATABASE_URL on PostgreSQL".into(),
                    });
                }
                Some(replica)
            }
        };
        Ok(Self {
            database,
            read_database,
            bind: get("SONGMAY_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            jwt_secret,
            admin_password: get("SONGMAY_ADMIN_PASSWORD").map(Secret::new),
            pool_size: number("SONGMAY_DB_POOL_SIZE", 10)? as u32,
            token_lifetime: Duration::from_secs(number("SONGMAY_TOKEN_TTL_SECONDS", 3600)?),
            cors_origins: get("SONGMAY_CORS_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            token_rate_per_minute: number("SONGMAY_TOKEN_RATE_PER_MINUTE", 10)? as u32,
            token_rate_burst: number("SONGMAY_TOKEN_RATE_BURST", 5)? as u32,
            token_ip_rate_per_minute: number("SONGMAY_TOKEN_IP_RATE_PER_MINUTE", 60)? as u32,
            token_ip_rate_burst: number("SONGMAY_TOKEN_IP_RATE_BURST", 30)? as u32,
            token_global_rate_per_minute: number("SONGMAY_TOKEN_GLOBAL_RATE_PER_MINUTE", 1200)?
                as u32,
            token_global_rate_burst: number("SONGMAY_TOKEN_GLOBAL_RATE_BURST", 200)? as u32,
            public_rate_per_minute: number("SONGMAY_PUBLIC_RATE_PER_MINUTE", 600)? as u32,
            public_rate_burst: number("SONGMAY_PUBLIC_RATE_BURST", 100)? as u32,
            account_cache_ttl: Duration::from_secs(account_cache_seconds),
            list_cache_ttl: Duration::from_millis(list_cache_ms),
            public_cache_ttl: Duration::from_secs(whole_number(
                "SONGMAY_PUBLIC_CACHE_SECONDS",
                60,
            )?),
            trust_proxy,
            count_fold: match whole_number("SONGMAY_COUNT_FOLD_MS", 1000)? {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            max_json_bytes: number("SONGMAY_MAX_JSON_BYTES", 1024 * 1024)? as usize,
            max_upload_bytes: number("SONGMAY_MAX_UPLOAD_BYTES", 16 * 1024 * 1024)? as usize,
            webhooks,
            letter: LetterSettings {
                issuer: get("SONGMAY_LETTER_ISSUER")
                    .unwrap_or_else(|| "Sở Giáo dục và Đào tạo tỉnh Hòa Bình".into()),
                place: get("SONGMAY_LETTER_PLACE").unwrap_or_else(|| "Hòa Bình".into()),
                signer_title: get("SONGMAY_LETTER_SIGNER_TITLE")
                    .unwrap_or_else(|| "Trưởng Ban chỉ đạo chương trình".into()),
                signer_name: get("SONGMAY_LETTER_SIGNER_NAME").filter(|n| !n.trim().is_empty()),
            },
            metrics_token,
            retention,
            four_eyes: FourEyes {
                above_vnd: number("SONGMAY_FOUR_EYES_VND", 100_000_000)? as i64,
            },
            workers: get("SONGMAY_WORKERS")
                .map(|_| number("SONGMAY_WORKERS", 1).map(|n| n as usize))
                .transpose()?,
        })
    }

    /// The JWT key: the configured one, or for a SQLite file one generated on
    /// first start and kept in `<database>.jwt-secret` (mode 0600) so tokens
    /// survive restarts. PostgreSQL deployments run several replicas that must
    /// share the key, so there it must be configured.
    pub fn resolve_jwt_secret(&self) -> Result<Secret, ConfigError> {
        if let Some(secret) = &self.jwt_secret {
            return Ok(secret.clone());
        }
        let missing = |reason: &str| ConfigError {
            name: "SONGMAY_JWT_SECRET",
            reason: reason.to_owned(),
        };
        match &self.database {
            DatabaseLocation::Postgres(_) => Err(missing(
                "required with PostgreSQL (every replica must share it); set at least 32 random bytes",
            )),
            DatabaseLocation::SqliteMemory => Ok(Secret::new(crate::platform::random::random_token(32))),
            DatabaseLocation::SqliteFile(path) => {
                let file = secret_file_beside(path);
                read_or_create_secret(&file).map_err(|e| ConfigError {
                    name: "SONGMAY_JWT_SECRET",
                    reason: format!("not set, and {} could not be used: {e}", file.display()),
                })
            }
        }
    }
}

fn secret_file_beside(database: &std::path::Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".jwt-secret");
    PathBuf::from(name)
}

fn read_or_create_secret(file: &std::path::Path) -> std::io::Result<Secret> {
    match std::fs::read_to_string(file) {
        Ok(text) if text.trim().len() >= MIN_JWT_SECRET_BYTES => Ok(Secret::new(text.trim())),
        Ok(_) => Err(std::io::Error::other(
            "the file holds a key shorter than 32 bytes",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let secret = crate::platform::random::random_token(48);
            write_private(file, &secret)?;
            log::info!("generated a JWT signing key in {}", file.display());
            Ok(Secret::new(secret))
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn write_private(file: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(file: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(file, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_cache_is_at_most_five_seconds() {
        let with = |value: &'static str| {
            Config::from_lookup(|name| {
                (name == "SONGMAY_ACCOUNT_CACHE_SECONDS").then(|| value.to_owned())
            })
        };
        assert_eq!(
            Config::from_lookup(|_| None).unwrap().account_cache_ttl,
            Duration::from_secs(2)
        );
        assert_eq!(with("5").unwrap().account_cache_ttl, Duration::from_secs(5));
        assert_eq!(with("0").unwrap().account_cache_ttl, Duration::ZERO);
        assert_eq!(with("6").unwrap_err().name, "SONGMAY_ACCOUNT_CACHE_SECONDS");
    }

    #[test]
    fn the_list_cache_is_at_most_five_seconds() {
        let with = |value: &'static str| {
            Config::from_lookup(|name| (name == "SONGMAY_LIST_CACHE_MS").then(|| value.to_owned()))
        };
        assert_eq!(
            Config::from_lookup(|_| None).unwrap().list_cache_ttl,
            Duration::from_secs(1)
        );
        assert_eq!(with("5000").unwrap().list_cache_ttl, Duration::from_secs(5));
        assert_eq!(with("0").unwrap().list_cache_ttl, Duration::ZERO);
        assert_eq!(with("5001").unwrap_err().name, "SONGMAY_LIST_CACHE_MS");
    }

    #[test]
    fn a_short_metrics_token_is_refused_and_none_turns_metrics_off() {
        let with = |token: &'static str| {
            Config::from_lookup(move |name| {
                (name == "SONGMAY_METRICS_TOKEN").then(|| token.to_owned())
            })
        };
        let refused = with("short").unwrap_err();
        assert_eq!(refused.name, "SONGMAY_METRICS_TOKEN");
        assert!(with("").unwrap().metrics_token.is_none());
        assert_eq!(
            with("a-long-enough-metrics-token")
                .unwrap()
                .metrics_token
                .map(|t| t.expose().len()),
            Some(27)
        );
    }

    #[test]
    fn retention_periods_default_to_the_policy_and_a_period_below_its_floor_refuses_to_start() {
        let defaults = Config::from_lookup(|_| None).unwrap().retention;
        assert_eq!(
            (
                defaults.student_days,
                defaults.donor_contact_days,
                defaults.receiver_name_days
            ),
            (730, 365, 730)
        );
        let refused = Config::from_lookup(|name| {
            (name == "SONGMAY_RETAIN_STUDENT_DAYS").then(|| "30".to_owned())
        })
        .unwrap_err();
        assert_eq!(refused.name, "SONGMAY_RETAIN_STUDENT_DAYS");
        let refused = Config::from_lookup(|name| {
            (name == "SONGMAY_RETAIN_RECEIVER_NAME_DAYS").then(|| "36501".to_owned())
        })
        .unwrap_err();
        assert_eq!(refused.name, "SONGMAY_RETAIN_RECEIVER_NAME_DAYS");
    }
}
