//! Articles: rows, the request and response shapes, their kinds and statuses.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::articles;
use crate::platform::db::text_enum;

text_enum! {
    pub enum ArticleKind {
        /// The Department's open letter (thư ngỏ) calling on people to give.
        OpenLetter => "open_letter",
        News => "news",
        /// A story of a teacher, a school or a student.
        Story => "story",
    }
}

text_enum! {
    pub enum ArticleStatus {
        Draft => "draft",
        /// Waiting for a Department editor.
        Review => "review",
        /// On the public site and in the feed.
        Published => "published",
        /// Taken down; kept with its history.
        Archived => "archived",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles)]
pub struct ArticleRow {
    pub id: i64,
    pub kind: ArticleKind,
    pub title: String,
    pub slug: String,
    pub summary: String,
    pub body_markdown: String,
    pub campaign_id: Option<i64>,
    pub admin_unit_code: Option<String>,
    pub cover_image: Option<String>,
    pub status: ArticleStatus,
    pub published_at: Option<NaiveDateTime>,
    pub author: String,
    pub consent_recorded_by: Option<String>,
    pub consent_recorded_at: Option<NaiveDateTime>,
    pub consent_note: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ArticleRow {
    /// When the public saw it appear: its publication (a row never
    /// published falls back to its last change).
    pub fn published_or_updated(&self) -> DateTime<Utc> {
        crate::platform::db::to_utc(self.published_at.unwrap_or(self.updated_at))
    }
}

/// A new article, always a draft. District officers write stories of their
/// own area; the Department (admin) writes any kind.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "open_letter", "title": "Thư ngỏ: Sóng và máy tính cho em", "summary": "Sở Giáo dục và Đào tạo kêu gọi ủng hộ thiết bị học trực tuyến.", "body": "Kính gửi các cơ quan, doanh nghiệp và nhà hảo tâm,\n\n**Trường có thể đóng cửa, việc học không thể dừng lại.**", "campaign_id": 1}))]
pub struct CreateArticle {
    pub kind: ArticleKind,
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Lowercase letters, digits and hyphens; made from the title when absent.
    #[validate(length(min = 1, max = 100, message = "must be 1 to 100 characters"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(-[a-z0-9]+)*$",
        example = "thu-ngo-song-va-may-tinh-cho-em"
    )]
    pub slug: Option<String>,
    #[serde(default)]
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub summary: String,
    /// Markdown. Shown as HTML with scripts, frames, forms, styles and
    /// event handlers removed.
    #[validate(length(min = 1, max = 100000, message = "must be 1 to 100000 characters"))]
    #[schema(min_length = 1, max_length = 100000)]
    pub body: String,
    pub campaign_id: Option<i64>,
    /// The area the article is about (a district officer's stories: their own).
    pub admin_unit_code: Option<String>,
    /// A reference to the cover image (a URL or a path on the portal).
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub cover_image: Option<String>,
}

/// Changes to a draft or an article in review; send only what changes.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"summary": "Bản sửa sau khi duyệt."}))]
pub struct ArticlePatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[schema(max_length = 500)]
    pub summary: Option<String>,
    #[validate(length(min = 1, max = 100000, message = "must be 1 to 100000 characters"))]
    #[schema(min_length = 1, max_length = 100000)]
    pub body: Option<String>,
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub cover_image: Option<String>,
}

impl ArticlePatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.summary.is_none()
            && self.body.is_none()
            && self.cover_image.is_none()
    }
}

/// A move through `draft → review → published → archived` (and back from
/// review to draft for changes).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "published"}))]
pub struct ArticleTransition {
    pub to: ArticleStatus,
    #[validate(length(min = 1, max = 1000, message = "must be 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
}

/// The guardian's consent to name a child, as the person recording it
/// saw it (the signed form stays with the school).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"given": true, "note": "signed form kept at the school"}))]
pub struct GuardianConsent {
    /// `true` records the consent; `false` withdraws it.
    pub given: bool,
    #[validate(length(min = 1, max = 1000, message = "must be 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub note: Option<String>,
}

/// Who recorded a guardian's consent, and when.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentRecord {
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
    pub note: Option<String>,
}

/// An article as staff see it: the Markdown, the HTML the public sees, and
/// its workflow fields.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Article {
    pub id: i64,
    pub kind: ArticleKind,
    pub title: String,
    pub slug: String,
    pub summary: String,
    pub body: String,
    /// The body rendered and sanitised.
    pub body_html: String,
    pub campaign_id: Option<i64>,
    pub admin_unit_code: Option<String>,
    pub cover_image: Option<String>,
    pub status: ArticleStatus,
    pub published_at: Option<DateTime<Utc>>,
    /// The account that wrote it.
    pub author: String,
    pub guardian_consent: Option<ConsentRecord>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ArticleRow> for Article {
    fn from(row: ArticleRow) -> Self {
        let to_utc = crate::platform::db::to_utc;
        let guardian_consent = match (row.consent_recorded_by, row.consent_recorded_at) {
            (Some(recorded_by), Some(at)) => Some(ConsentRecord {
                recorded_by,
                recorded_at: to_utc(at),
                note: row.consent_note,
            }),
            _ => None,
        };
        Article {
            id: row.id,
            kind: row.kind,
            title: row.title,
            slug: row.slug,
            summary: row.summary,
            body_html: super::render::to_safe_html(&row.body_markdown),
            body: row.body_markdown,
            campaign_id: row.campaign_id,
            admin_unit_code: row.admin_unit_code,
            cover_image: row.cover_image,
            status: row.status,
            published_at: row.published_at.map(to_utc),
            author: row.author,
            guardian_consent,
            version: row.version,
            created_at: to_utc(row.created_at),
            updated_at: to_utc(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ArticlePage {
    pub items: Vec<Article>,
    pub next_cursor: Option<String>,
}

/// A published article as everyone sees it: no author account, no
/// workflow, no consent record.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicArticle {
    pub kind: ArticleKind,
    pub title: String,
    pub slug: String,
    pub summary: String,
    pub campaign_id: Option<i64>,
    pub admin_unit_code: Option<String>,
    pub cover_image: Option<String>,
    pub published_at: DateTime<Utc>,
    /// The body as sanitised HTML (only in the single-article answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_html: Option<String>,
}

impl PublicArticle {
    pub fn of(row: ArticleRow, with_body: bool) -> Self {
        PublicArticle {
            published_at: row.published_or_updated(),
            body_html: with_body.then(|| super::render::to_safe_html(&row.body_markdown)),
            kind: row.kind,
            title: row.title,
            slug: row.slug,
            summary: row.summary,
            campaign_id: row.campaign_id,
            admin_unit_code: row.admin_unit_code,
            cover_image: row.cover_image,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicArticlePage {
    pub items: Vec<PublicArticle>,
    pub next_cursor: Option<String>,
}

/// Filters of the staff's article list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleFilter {
    pub kind: Option<ArticleKind>,
    pub campaign: Option<i64>,
    /// Articles about this admin unit or any unit below it.
    pub admin_unit: Option<String>,
    /// Only articles in this status.
    pub status: Option<ArticleStatus>,
}

/// Filters of the public article list (published articles only).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicArticleFilter {
    pub kind: Option<ArticleKind>,
    pub campaign: Option<i64>,
    /// Articles about this admin unit or any unit below it.
    pub admin_unit: Option<String>,
}

impl From<PublicArticleFilter> for ArticleFilter {
    fn from(filter: PublicArticleFilter) -> Self {
        ArticleFilter {
            kind: filter.kind,
            campaign: filter.campaign,
            admin_unit: filter.admin_unit,
            status: Some(ArticleStatus::Published),
        }
    }
}
