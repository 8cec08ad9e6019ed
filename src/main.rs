//! The `songmay` command: `serve` (default), `migrate`, `openapi`,
//! `import-admin-units [--scheme vn2025] FILE`, `import-admin-mapping FILE`,
//! `healthcheck`, `create-user USERNAME ROLE [SCOPE]`,
//! `purge [--commit]`, `normalise-identifiers [--dry-run]`.

use std::process::ExitCode;

use songmay::app::{prepare_database, Application};
use songmay::platform::config::Config;
use songmay::platform::db::Db;

const USAGE: &str = "usage: songmay [serve | migrate | openapi | import-admin-units [--scheme vn2008|vn2025] FILE | import-admin-mapping FILE | healthcheck | create-user USERNAME ROLE [ADMIN_UNIT_CODE|SCHOOL_ID|OPERATOR_ID] | purge [--commit] | normalise-identifiers [--dry-run]]
settings come from the environment; see README.md";

fn main() -> ExitCode {
    songmay::platform::logging::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(),
        ["migrate"] => migrate(),
        ["healthcheck"] => healthcheck(),
        ["openapi"] => print_openapi(),
        ["import-admin-units", file] => import_admin_units(file, "vn2008"),
        ["import-admin-units", "--scheme", scheme, file] => import_admin_units(file, scheme),
        ["import-admin-mapping", file] => import_admin_mapping(file),
        ["create-user", username, role, scope @ ..] if scope.len() <= 1 => {
            create_user(username, role, scope.first().copied())
        }
        ["purge"] => purge(false),
        ["purge", "--commit"] => purge(true),
        ["normalise-identifiers"] => normalise_identifiers(false),
        ["normalise-identifiers", "--dry-run"] => normalise_identifiers(true),
        ["help" | "--help" | "-h"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("songmay: {message}");
            ExitCode::FAILURE
        }
    }
}

fn config() -> Result<Config, String> {
    Config::from_env().map_err(|e| e.to_string())
}

fn open_prepared_db(config: &Config) -> Result<Db, String> {
    let db = Db::connect(&config.database, 2).map_err(|e| e.to_string())?;
    prepare_database(&db, config).map_err(|e| e.to_string())?;
    Ok(db)
}

fn serve() -> Result<(), String> {
    let config = config()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config).map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn migrate() -> Result<(), String> {
    let config = config()?;
    let db = Db::connect(&config.database, 1).map_err(|e| e.to_string())?;
    let applied = db.migrate().map_err(|e| e.to_string())?;
    println!(
        "{} migration(s) applied on {}",
        applied.len(),
        config.database.describe()
    );
    Ok(())
}

/// Anonymises personal data past the configured retention periods (a dry
/// run unless `--commit`) and prints the counts (README, "Retention").
fn purge(commit: bool) -> Result<(), String> {
    let config = config()?;
    let db = open_prepared_db(&config)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let periods = songmay::retention::periods(&config.retention, &Default::default())
        .map_err(|e| e.to_string())?;
    let report = songmay::retention::purge(
        &mut conn,
        "cli:purge",
        &periods,
        !commit,
        songmay::platform::db::now(),
    )
    .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// Brings stored names and identifiers to the forms new input has, and
/// prints what changed (or would) and which pairs of rows need a person.
fn normalise_identifiers(dry_run: bool) -> Result<(), String> {
    let config = config()?;
    let db = open_prepared_db(&config)?;
    let mut conn = db.get().map_err(|e| e.to_string())?;
    let report = songmay::maintenance::normalise_identifiers(&mut conn, dry_run)
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// Asks the service on this machine (`SONGMAY_BIND`'s port) whether it is
/// ready: exit 0 when `/ready` answers 2xx within 3 s. The container's
/// `HEALTHCHECK` runs it, so the image needs no curl.
fn healthcheck() -> Result<(), String> {
    let bind = std::env::var("SONGMAY_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let port = bind
        .rsplit(':')
        .next()
        .and_then(|port| port.parse::<u16>().ok())
        .ok_or_else(|| format!("SONGMAY_BIND {bind} names no port"))?;
    let url = format!("http://127.0.0.1:{port}/ready");
    actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(3))
            .finish();
        match client.get(&url).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("{url} answered {}", response.status())),
            Err(error) => Err(format!("{url}: {error}")),
        }
    })
}

fn print_openapi() -> Result<(), String> {
    let json = serde_json::to_string_pretty(&songmay::app::openapi()).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// Loads the 2025 reform's mapping (after the 2025 units).
fn import_admin_mapping(file: &str) -> Result<(), String> {
    let config = config()?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let lines = songmay::registry::admin_units::mapping::parse(&bytes).map_err(describe_failure)?;
    let db = open_prepared_db(&config)?;
    let mut conn = db.get().map_err(describe_failure)?;
    let report = songmay::registry::admin_units::mapping::import(&mut conn, "cli", lines)
        .map_err(describe_failure)?;
    println!(
        "{file}: {} rows, {} stored for {} old communes ({} split), {} of communes not held here left out",
        report.total, report.applied, report.old_units, report.split, report.skipped_unknown_old
    );
    Ok(())
}

fn import_admin_units(file: &str, scheme: &str) -> Result<(), String> {
    let scheme: songmay::registry::admin_units::Scheme = scheme.parse()?;
    let config = config()?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let lines = songmay::registry::admin_units::import::parse_in(&bytes, scheme)
        .map_err(describe_failure)?;
    let db = open_prepared_db(&config)?;
    let mut conn = db.get().map_err(describe_failure)?;
    let report = songmay::registry::admin_units::queries::import(&mut conn, "cli", lines)
        .map_err(describe_failure)?;
    println!(
        "{file}: {} rows, {} inserted, {} updated, {} unchanged",
        report.total, report.inserted, report.updated, report.unchanged
    );
    Ok(())
}

fn create_user(username: &str, role: &str, scope: Option<&str>) -> Result<(), String> {
    use songmay::platform::auth::Role;
    use songmay::registry::accounts::model::CreateUser;
    let config = config()?;
    let role: Role = role.parse()?;
    let number = |text: &str| {
        text.parse::<i64>()
            .map_err(|_| format!("{text} is not a number"))
    };
    let (admin_unit_code, school_id, operator_id) = match (role, scope) {
        (Role::DistrictOfficer, Some(code)) => (Some(code.to_owned()), None, None),
        (Role::SchoolStaff, Some(id)) => (None, Some(number(id)?), None),
        (Role::Telecom, Some(id)) => (None, None, Some(number(id)?)),
        (_, Some(_)) => return Err(format!("the role {role} takes no scope")),
        (_, None) => (None, None, None),
    };
    // The password comes from the environment so it stays out of shell history.
    let (password, generated) = match std::env::var("SONGMAY_NEW_USER_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (songmay::platform::random::random_token(18), true),
    };
    let input = CreateUser {
        username: username.to_owned(),
        password: password.clone(),
        role,
        admin_unit_code,
        school_id,
        operator_id,
        extra_roles: Vec::new(),
    };
    validator::Validate::validate(&input).map_err(|e| describe_failure(e.into()))?;
    let db = open_prepared_db(&config)?;
    let mut conn = db.get().map_err(describe_failure)?;
    let row = songmay::registry::accounts::queries::create_user(&mut conn, "cli", input)
        .map_err(describe_failure)?;
    println!(
        "created user {} (id {}, role {})",
        row.username, row.id, row.role
    );
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// A failure told as the API would tell it (detail, then each field).
fn describe_failure(failure: songmay::platform::error::Failure) -> String {
    let problem = songmay::platform::http::ApiError::from(failure).problem();
    let mut text = problem.detail;
    for e in problem.errors {
        match e.line {
            Some(line) => text.push_str(&format!("\n  line {line}: {}: {}", e.field, e.message)),
            None => text.push_str(&format!("\n  {}: {}", e.field, e.message)),
        }
    }
    text
}
