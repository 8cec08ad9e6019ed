//! Articles: writing them, moving them through review to the public, the
//! guardian's consent, and the published list and feed.

use std::collections::HashSet;

use diesel::prelude::*;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use super::model::*;
use super::render::{is_slug, slug_of};
use super::workflow::{self, Editor};
use crate::platform::auth::Reach;
use crate::platform::db::page::PageRequest;
use crate::platform::db::schema::{article_events, articles};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::{Failure, OrUnknown};
use crate::platform::outbox::{Event, EventType};
use crate::platform::text::capitalised;

pub fn find(conn: &mut DbConn, id: i64) -> Result<ArticleRow, Failure> {
    let row: Option<ArticleRow> = with_conn!(conn, |c| articles::table
        .find(id)
        .select(ArticleRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no article has this id"))
}

/// An article the caller may work on: admins any, a district officer those
/// about their area; others are "not found", like a missing one.
pub fn find_visible(conn: &mut DbConn, reach: &Reach, id: i64) -> Result<ArticleRow, Failure> {
    let row = find(conn, id)?;
    let visible = match (reach, &row.admin_unit_code) {
        (Reach::Everywhere, _) => true,
        (reach, Some(unit)) => reach.allows_unit(unit),
        (_, None) => false,
    };
    if visible {
        Ok(row)
    } else {
        Err(Failure::not_found("no article has this id"))
    }
}

/// Writes a new draft.
pub fn create(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    input: CreateArticle,
) -> Result<ArticleRow, Failure> {
    let slug = match &input.slug {
        Some(slug) if !is_slug(slug) => {
            return Err(Failure::invalid_field(
                "slug",
                "pattern",
                "lowercase letters, digits and single hyphens",
            ))
        }
        Some(slug) => slug.clone(),
        None => slug_of(&input.title),
    };
    if slug.is_empty() {
        return Err(Failure::invalid_field(
            "title",
            "no_slug",
            "the title has no letter or digit to make a slug of; send a slug",
        ));
    }
    if !reach.is_everywhere() {
        // District officers write stories of their own area.
        if input.kind != ArticleKind::Story {
            return Err(Failure::invalid_field(
                "kind",
                "not_allowed",
                "district officers write stories; the open letter and news are the Department's",
            ));
        }
        match &input.admin_unit_code {
            None => {
                return Err(Failure::invalid_field(
                    "admin_unit_code",
                    "required",
                    "name the area of your story",
                ))
            }
            Some(unit) if !reach.allows_unit(unit) => {
                return Err(Failure::unknown_reference("admin_unit_code"))
            }
            Some(_) => {}
        }
    }
    conn.transaction(|conn| {
        if let Some(code) = &input.admin_unit_code {
            if crate::registry::admin_units::queries::find(conn, code)?.is_none() {
                return Err(Failure::unknown_reference("admin_unit_code"));
            }
        }
        if let Some(campaign) = input.campaign_id {
            crate::donations::campaigns::queries::find(conn, campaign).or_unknown("campaign_id")?;
        }
        let taken: i64 = with_conn!(conn, |c| articles::table
            .filter(articles::slug.eq(&slug))
            .count()
            .get_result(c))?;
        if taken > 0 {
            return Err(Failure::conflict(format!(
                "another article already has the slug {slug}; send another slug"
            )));
        }
        let now = crate::platform::db::now();
        let row: ArticleRow = with_conn!(conn, |c| diesel::insert_into(articles::table)
            .values((
                articles::kind.eq(input.kind),
                articles::title.eq(&input.title),
                articles::slug.eq(&slug),
                articles::summary.eq(&input.summary),
                articles::body_markdown.eq(&input.body),
                articles::campaign_id.eq(input.campaign_id),
                articles::admin_unit_code.eq(&input.admin_unit_code),
                articles::cover_image.eq(&input.cover_image),
                articles::status.eq(ArticleStatus::Draft),
                articles::author.eq(actor),
                articles::created_at.eq(now),
                articles::updated_at.eq(now),
            ))
            .returning(ArticleRow::as_returning())
            .get_result(c))?;
        record_event(conn, row.id, None, ArticleStatus::Draft, actor, None)?;
        crate::platform::audit::record(
            conn,
            actor,
            "create",
            "article",
            &row.id.to_string(),
            json!({"kind": row.kind, "slug": row.slug, "admin_unit_code": row.admin_unit_code, "campaign_id": row.campaign_id}),
        )?;
        Ok(row)
    })
}

/// Changes a draft or an article in review when its version is still
/// `if_match`. A published article is archived, not rewritten.
pub fn update(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    id: i64,
    patch: ArticlePatch,
    if_match: Option<i64>,
) -> Result<ArticleRow, Failure> {
    if patch.is_empty() {
        return Err(Failure::invalid_field(
            "body",
            "empty",
            "send at least one field to change",
        ));
    }
    conn.transaction(|conn| {
        let current = find_visible(conn, reach, id)?;
        crate::platform::db::ensure_current(if_match, current.version)?;
        if !matches!(current.status, ArticleStatus::Draft | ArticleStatus::Review) {
            return Err(Failure::conflict(format!(
                "a {} article is not edited; archive it and write a new one",
                current.status
            )));
        }
        let row: ArticleRow = with_conn!(conn, |c| diesel::update(articles::table.find(id))
            .set((
                articles::title.eq(patch.title.as_ref().unwrap_or(&current.title)),
                articles::summary.eq(patch.summary.as_ref().unwrap_or(&current.summary)),
                articles::body_markdown.eq(patch.body.as_ref().unwrap_or(&current.body_markdown)),
                articles::cover_image
                    .eq(patch.cover_image.as_ref().or(current.cover_image.as_ref())),
                articles::version.eq(articles::version + 1),
                articles::updated_at.eq(crate::platform::db::now()),
            ))
            .returning(ArticleRow::as_returning())
            .get_result(c))?;
        let sent = crate::platform::audit::sent_fields(&[
            ("title", patch.title.is_some()),
            ("summary", patch.summary.is_some()),
            ("body", patch.body.is_some()),
            ("cover_image", patch.cover_image.is_some()),
        ]);
        crate::platform::audit::record(
            conn,
            actor,
            "update",
            "article",
            &id.to_string(),
            json!({"fields": sent}),
        )?;
        Ok(row)
    })
}

/// Moves an article to `to`, if the workflow allows it and the caller may
/// make that move. Publishing checks that the article names no child on
/// the roster, unless the guardian's consent is on record.
pub fn transition(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    id: i64,
    request: ArticleTransition,
) -> Result<ArticleRow, Failure> {
    conn.transaction(|conn| {
        let current = find_visible(conn, reach, id)?;
        let editor = if reach.is_everywhere() { Editor::Department } else { Editor::Writer };
        workflow::check(current.status, request.to, editor)?;
        if request.to == ArticleStatus::Published
            && current.consent_recorded_at.is_none()
            && names_a_student(conn, &current)?
        {
            return Err(Failure::invalid_field(
                "body",
                "names_a_child",
                "the article names a student on the roster: record the guardian's consent (POST …/consent) or take the name out",
            ));
        }
        let now = crate::platform::db::now();
        let published_at = match request.to {
            ArticleStatus::Published => Some(now),
            _ => current.published_at,
        };
        let row: Option<ArticleRow> = with_conn!(conn, |c| diesel::update(
            articles::table
                .filter(articles::id.eq(id))
                .filter(articles::status.eq(current.status))
        )
        .set((
            articles::status.eq(request.to),
            articles::published_at.eq(published_at),
            articles::version.eq(articles::version + 1),
            articles::updated_at.eq(now),
        ))
        .returning(ArticleRow::as_returning())
        .get_result(c)
        .optional())?;
        let row = row.ok_or_else(|| Failure::conflict("the article changed meanwhile; read it again"))?;
        record_event(conn, id, Some(current.status), request.to, actor, request.reason.as_deref())?;
        crate::platform::audit::record(
            conn,
            actor,
            "transition",
            "article",
            &id.to_string(),
            json!({"from": current.status, "to": request.to}),
        )?;
        if request.to == ArticleStatus::Published {
            crate::platform::outbox::emit(
                conn,
                Event {
                    event_type: EventType::ArticlePublished,
                    entity: "article",
                    entity_id: id,
                    admin_unit_code: row.admin_unit_code.clone(),
                    data: json!({"slug": row.slug, "kind": row.kind, "campaign_id": row.campaign_id}),
                },
            )?;
        }
        Ok(row)
    })
}

/// Records (or withdraws) the guardian's consent to name a child: who and
/// when, audited.
pub fn record_consent(
    conn: &mut DbConn,
    actor: &str,
    reach: &Reach,
    id: i64,
    consent: GuardianConsent,
) -> Result<ArticleRow, Failure> {
    conn.transaction(|conn| {
        let current = find_visible(conn, reach, id)?;
        if current.status == ArticleStatus::Published && !consent.given {
            return Err(Failure::conflict(
                "the article is published with this consent: archive it before withdrawing the consent",
            ));
        }
        let now = crate::platform::db::now();
        let (by, at, note) = if consent.given {
            (Some(actor), Some(now), consent.note.as_deref())
        } else {
            (None, None, None)
        };
        let row: ArticleRow = with_conn!(conn, |c| diesel::update(articles::table.find(id))
            .set((
                articles::consent_recorded_by.eq(by),
                articles::consent_recorded_at.eq(at),
                articles::consent_note.eq(note),
                articles::version.eq(articles::version + 1),
                articles::updated_at.eq(now),
            ))
            .returning(ArticleRow::as_returning())
            .get_result(c))?;
        crate::platform::audit::record(
            conn,
            actor,
            if consent.given { "record_consent" } else { "withdraw_consent" },
            "article",
            &id.to_string(),
            json!({"given": consent.given}),
        )?;
        Ok(row)
    })
}

fn record_event(
    conn: &mut DbConn,
    article_id: i64,
    from: Option<ArticleStatus>,
    to: ArticleStatus,
    actor: &str,
    reason: Option<&str>,
) -> Result<(), Failure> {
    with_conn!(conn, |c| diesel::insert_into(article_events::table)
        .values((
            article_events::article_id.eq(article_id),
            article_events::from_status.eq(from),
            article_events::to_status.eq(to),
            article_events::actor.eq(actor),
            article_events::reason.eq(reason),
            article_events::at.eq(crate::platform::db::now()),
        ))
        .execute(c))?;
    Ok(())
}

/// Whether the article's title, summary or body contains the full name of
/// a student on the roster. Every run of two to five words is looked up in
/// the roster's name index (as written and with each word capitalised, the
/// way names are written), so the check costs lookups, not a scan.
fn names_a_student(conn: &mut DbConn, article: &ArticleRow) -> Result<bool, Failure> {
    let text = format!(
        "{}\n{}\n{}",
        article.title, article.summary, article.body_markdown
    );
    let candidates: Vec<String> = name_candidates(&text).into_iter().collect();
    crate::registry::students::queries::any_full_name_in(conn, &candidates)
}

/// The runs of 2 to 5 consecutive words of `text` (NFC, as on the roster),
/// each as written and with every word capitalised.
pub fn name_candidates(text: &str) -> HashSet<String> {
    let text: String = text.nfc().collect();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = HashSet::new();
    for start in 0..words.len() {
        for len in 2..=5 {
            let Some(run) = words.get(start..start + len) else {
                break;
            };
            out.insert(run.join(" "));
            out.insert(
                run.iter()
                    .map(|w| capitalised(w))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
    out
}

/// A page of the articles a caller may work on, newest first.
pub fn page(
    conn: &mut DbConn,
    reach: &Reach,
    filter: &ArticleFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<ArticlePage, Failure> {
    let own_units: Option<Vec<String>> = match reach {
        Reach::Everywhere => None,
        Reach::Units(units) => Some(units.iter().cloned().collect()),
        _ => Some(Vec::new()),
    };
    let rows = load_page(
        conn,
        filter,
        filter.status,
        units,
        own_units.as_deref(),
        page,
    )?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(ArticlePage {
        items: rows.into_iter().map(Article::from).collect(),
        next_cursor,
    })
}

/// A page of published articles, newest first.
pub fn public_page(
    conn: &mut DbConn,
    filter: &ArticleFilter,
    units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<PublicArticlePage, Failure> {
    let rows = load_page(
        conn,
        filter,
        Some(ArticleStatus::Published),
        units,
        None,
        page,
    )?;
    let (rows, next_cursor) = page.finish(rows, |row| row.id);
    Ok(PublicArticlePage {
        items: rows
            .into_iter()
            .map(|row| PublicArticle::of(row, false))
            .collect(),
        next_cursor,
    })
}

/// Rows of a list, newest (highest id) first; the cursor is the last id
/// given, and the next page starts below it.
fn load_page(
    conn: &mut DbConn,
    filter: &ArticleFilter,
    status: Option<ArticleStatus>,
    units: Option<&[String]>,
    own_units: Option<&[String]>,
    page: &PageRequest<i64>,
) -> Result<Vec<ArticleRow>, Failure> {
    let rows = with_conn!(conn, |c| {
        let mut query = articles::table
            .select(ArticleRow::as_select())
            .order(articles::id.desc())
            .limit(page.fetch())
            .into_boxed();
        if let Some(before) = page.after {
            query = query.filter(articles::id.lt(before));
        }
        if let Some(status) = status {
            query = query.filter(articles::status.eq(status));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(articles::kind.eq(kind));
        }
        if let Some(campaign) = filter.campaign {
            query = query.filter(articles::campaign_id.eq(campaign));
        }
        if let Some(units) = units {
            query = query.filter(articles::admin_unit_code.eq_any(units));
        }
        if let Some(own) = own_units {
            query = query.filter(articles::admin_unit_code.eq_any(own));
        }
        query.load(c)
    })?;
    Ok(rows)
}

/// The published article with this slug.
pub fn published_by_slug(conn: &mut DbConn, slug: &str) -> Result<ArticleRow, Failure> {
    let row: Option<ArticleRow> = with_conn!(conn, |c| articles::table
        .filter(articles::slug.eq(slug))
        .filter(articles::status.eq(ArticleStatus::Published))
        .select(ArticleRow::as_select())
        .first(c)
        .optional())?;
    row.ok_or_else(|| Failure::not_found("no published article has this slug"))
}

/// The latest published articles, for the feed.
pub fn latest_published(conn: &mut DbConn, count: i64) -> Result<Vec<ArticleRow>, Failure> {
    let rows = with_conn!(conn, |c| articles::table
        .filter(articles::status.eq(ArticleStatus::Published))
        .order((articles::published_at.desc(), articles::id.desc()))
        .limit(count)
        .select(ArticleRow::as_select())
        .load(c))?;
    Ok(rows)
}

/// The newest published article of a kind (the open letter the site shows).
pub fn latest_published_of_kind(
    conn: &mut DbConn,
    kind: ArticleKind,
) -> Result<Option<ArticleRow>, Failure> {
    let row = with_conn!(conn, |c| articles::table
        .filter(articles::status.eq(ArticleStatus::Published))
        .filter(articles::kind.eq(kind))
        .order((articles::published_at.desc(), articles::id.desc()))
        .select(ArticleRow::as_select())
        .first(c)
        .optional())?;
    Ok(row)
}
