//! Platform offers and adoptions: rows, the request and response shapes,
//! their kinds, terms and statuses.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::platform::db::schema::{platform_adoptions, platform_offer_events, platform_offers};
use crate::platform::db::text_enum;
use crate::registry::schools::SchoolLevel;

text_enum! {
    /// What a platform does for teaching.
    pub enum PlatformKind {
        /// Live classes by video.
        VideoClasses => "video_classes",
        /// A learning management system: courses, assignments, marks.
        Lms => "lms",
        /// Lessons, exercises, digital textbooks.
        Content => "content",
        /// Other tools (whiteboards, quizzes, communication).
        Tools => "tools",
    }
}

text_enum! {
    /// What schools pay.
    pub enum Pricing {
        Free => "free",
        /// A percentage off the list price (`discount_percent`).
        Discount => "discount",
        /// A price per student (`price_per_student_vnd`).
        PerStudent => "per_student",
    }
}

text_enum! {
    /// Where an offer stands in the Department's review.
    pub enum OfferStatus {
        /// Submitted by the partner; may still be edited.
        Proposed => "proposed",
        /// The Department is reviewing it.
        UnderReview => "under_review",
        /// Recommended to schools: on the public list; schools may record using it.
        Recommended => "recommended",
        /// Not recommended, with the reason; the partner may revise and resubmit.
        NotRecommended => "not_recommended",
        /// Taken back by the partner or the Department.
        Withdrawn => "withdrawn",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_offers)]
pub struct OfferRow {
    pub id: i64,
    pub submitted_by: i64,
    pub provider: String,
    pub product: String,
    pub kind: PlatformKind,
    pub description: String,
    pub website: Option<String>,
    pub pricing: Pricing,
    pub discount_percent: Option<i32>,
    pub price_per_student_vnd: Option<i64>,
    pub available_from: NaiveDate,
    pub available_until: Option<NaiveDate>,
    pub conditions: Option<String>,
    /// School levels, comma-separated words of [`SchoolLevel`].
    pub levels: String,
    pub grade_from: i32,
    pub grade_to: i32,
    pub data_residency: Option<String>,
    pub child_safety: Option<String>,
    pub status: OfferStatus,
    pub status_reason: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl OfferRow {
    /// The school levels the offer suits (words the row was written with).
    pub fn levels(&self) -> Vec<SchoolLevel> {
        self.levels
            .split(',')
            .filter_map(|word| word.parse().ok())
            .collect()
    }

    /// Its terms as a client reads them.
    pub fn terms(&self) -> Terms {
        Terms {
            pricing: self.pricing,
            discount_percent: self.discount_percent,
            price_per_student_vnd: self
                .price_per_student_vnd
                .and_then(crate::platform::money::Vnd::new),
            available_from: self.available_from,
            available_until: self.available_until,
            conditions: self.conditions.clone(),
        }
    }
}

/// The school levels as stored: known words, in declaration order, once each.
pub fn levels_text(levels: &[SchoolLevel]) -> String {
    SchoolLevel::ALL
        .iter()
        .filter(|level| levels.contains(level))
        .map(|level| level.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// What schools pay and when: free, a discount or a price per student,
/// for a period, under conditions.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub pricing: Pricing,
    /// With `discount`: the percentage off (1–99).
    #[validate(range(min = 1, max = 99, message = "must be 1 to 99"))]
    #[schema(minimum = 1, maximum = 99)]
    pub discount_percent: Option<i32>,
    /// With `per_student`: the price per student for the period, in đồng.
    pub price_per_student_vnd: Option<crate::platform::money::Vnd>,
    pub available_from: NaiveDate,
    /// Open-ended when absent.
    pub available_until: Option<NaiveDate>,
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub conditions: Option<String>,
}

/// Which pupils an offer suits: school levels and a grade range.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suits {
    #[validate(length(min = 1, max = 4, message = "name 1 to 4 school levels"))]
    #[schema(min_items = 1, max_items = 4)]
    pub levels: Vec<SchoolLevel>,
    #[validate(range(min = 1, max = 12, message = "must be 1 to 12"))]
    #[schema(minimum = 1, maximum = 12)]
    pub grade_from: i32,
    #[validate(range(min = 1, max = 12, message = "must be 1 to 12"))]
    #[schema(minimum = 1, maximum = 12)]
    pub grade_to: i32,
}

/// A platform a technology partner offers (tech partners; admin on a
/// partner's behalf is not possible: the offer is the partner's own).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "provider": "Công ty Cổ phần Công nghệ Giáo dục Sao Mai",
    "product": "Lớp học Sao Mai",
    "kind": "video_classes",
    "description": "Lớp học trực tuyến qua video, điểm danh và giao bài, chạy được trên điện thoại 3G.",
    "website": "https://saomai.example.vn",
    "terms": {"pricing": "free", "available_from": "2021-09-01", "available_until": "2022-06-30", "conditions": "Miễn phí cho trường công lập trong năm học 2021–2022."},
    "suits": {"levels": ["primary", "lower_secondary"], "grade_from": 1, "grade_to": 9},
    "data_residency": "Dữ liệu lưu tại Việt Nam (Hà Nội).",
    "child_safety": "Không quảng cáo; phụ huynh xem được lịch sử lớp học."
}))]
pub struct CreateOffer {
    /// The firm.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub provider: String,
    /// The product's name.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub product: String,
    pub kind: PlatformKind,
    #[validate(length(min = 1, max = 4000, message = "must be 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub description: String,
    /// The product's page: an `http(s)://` URL.
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub website: Option<String>,
    #[validate(nested)]
    pub terms: Terms,
    #[validate(nested)]
    pub suits: Suits,
    /// Where pupils' data is stored.
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub data_residency: Option<String>,
    /// Child-safety notes: advertising, contact with strangers, parents' view.
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub child_safety: Option<String>,
}

/// Changes to a proposed (or not recommended) offer; send only what
/// changes. `terms` and `suits` are replaced whole.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"description": "Thêm lớp học tiếng Anh cho khối 3–5."}))]
pub struct OfferPatch {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200)]
    pub product: Option<String>,
    pub kind: Option<PlatformKind>,
    #[validate(length(min = 1, max = 4000, message = "must be 1 to 4000 characters"))]
    #[schema(min_length = 1, max_length = 4000)]
    pub description: Option<String>,
    /// The product's page: an `http(s)://` URL.
    #[validate(length(min = 1, max = 500, message = "must be 1 to 500 characters"))]
    #[schema(min_length = 1, max_length = 500)]
    pub website: Option<String>,
    #[validate(nested)]
    pub terms: Option<Terms>,
    #[validate(nested)]
    pub suits: Option<Suits>,
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub data_residency: Option<String>,
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(min_length = 1, max_length = 2000)]
    pub child_safety: Option<String>,
}

impl OfferPatch {
    pub fn is_empty(&self) -> bool {
        self.product.is_none()
            && self.kind.is_none()
            && self.description.is_none()
            && self.website.is_none()
            && self.terms.is_none()
            && self.suits.is_none()
            && self.data_residency.is_none()
            && self.child_safety.is_none()
    }
}

/// A move in the review: `proposed → under_review → recommended |
/// not_recommended`, `not_recommended → proposed` (resubmitted), and
/// `withdrawn`. A reason is required for `not_recommended` and `withdrawn`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "under_review"}))]
pub struct OfferTransition {
    pub to: OfferStatus,
    #[validate(length(min = 1, max = 1000, message = "must be 1 to 1000 characters"))]
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_offer_events)]
pub struct OfferEventRow {
    pub id: i64,
    pub offer_id: i64,
    pub from_status: Option<OfferStatus>,
    pub to_status: OfferStatus,
    pub actor: String,
    pub reason: Option<String>,
    pub at: NaiveDateTime,
}

/// One move of an offer, with who made it and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfferEvent {
    /// Absent for the submission.
    pub from: Option<OfferStatus>,
    pub to: OfferStatus,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<OfferEventRow> for OfferEvent {
    fn from(row: OfferEventRow) -> Self {
        OfferEvent {
            from: row.from_status,
            to: row.to_status,
            actor: row.actor,
            reason: row.reason,
            at: crate::platform::db::to_utc(row.at),
        }
    }
}

/// An offer as its partner and the Department see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Offer {
    pub id: i64,
    pub provider: String,
    pub product: String,
    pub kind: PlatformKind,
    pub description: String,
    pub website: Option<String>,
    pub terms: Terms,
    pub suits: Suits,
    pub data_residency: Option<String>,
    pub child_safety: Option<String>,
    pub status: OfferStatus,
    /// Why it was last not recommended or withdrawn.
    pub status_reason: Option<String>,
    /// Its moves, oldest first (in the single-offer answer only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<OfferEvent>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Offer {
    pub fn of(row: OfferRow, history: Option<Vec<OfferEventRow>>) -> Self {
        let to_utc = crate::platform::db::to_utc;
        Offer {
            terms: row.terms(),
            suits: Suits {
                levels: row.levels(),
                grade_from: row.grade_from,
                grade_to: row.grade_to,
            },
            id: row.id,
            provider: row.provider,
            product: row.product,
            kind: row.kind,
            description: row.description,
            website: row.website,
            data_residency: row.data_residency,
            child_safety: row.child_safety,
            status: row.status,
            status_reason: row.status_reason,
            history: history.map(|events| events.into_iter().map(OfferEvent::from).collect()),
            version: row.version,
            created_at: to_utc(row.created_at),
            updated_at: to_utc(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfferPage {
    pub items: Vec<Offer>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferFilter {
    pub status: Option<OfferStatus>,
    pub kind: Option<PlatformKind>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = platform_adoptions)]
pub struct AdoptionRow {
    pub school_id: i64,
    pub offer_id: i64,
    pub student_count: i32,
    pub started_on: NaiveDate,
    pub recorded_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A school's use of a recommended platform: how many of its students use
/// it, since when.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"student_count": 320, "started_on": "2021-10-04"}))]
pub struct RecordAdoption {
    #[validate(range(min = 1, max = 100000, message = "must be 1 to 100000"))]
    #[schema(minimum = 1, maximum = 100000)]
    pub student_count: i32,
    pub started_on: NaiveDate,
}

/// A platform a school uses.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Adoption {
    pub school_id: i64,
    pub offer_id: i64,
    pub product: String,
    pub provider: String,
    /// The offer's status now (a platform withdrawn after the school chose
    /// it stays listed, marked).
    pub offer_status: OfferStatus,
    pub student_count: i32,
    pub started_on: NaiveDate,
    pub recorded_by: String,
    pub updated_at: DateTime<Utc>,
}

impl Adoption {
    pub fn of(row: AdoptionRow, offer: &OfferRow) -> Self {
        Adoption {
            school_id: row.school_id,
            offer_id: row.offer_id,
            product: offer.product.clone(),
            provider: offer.provider.clone(),
            offer_status: offer.status,
            student_count: row.student_count,
            started_on: row.started_on,
            recorded_by: row.recorded_by,
            updated_at: crate::platform::db::to_utc(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdoptionList {
    pub items: Vec<Adoption>,
}

/// How widely a platform is used: schools that record it and their students.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Uptake {
    pub schools: i64,
    pub students: i64,
}

/// A recommended platform as everyone sees it, with its uptake.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicPlatform {
    pub id: i64,
    pub provider: String,
    pub product: String,
    pub kind: PlatformKind,
    pub description: String,
    pub website: Option<String>,
    pub terms: Terms,
    pub suits: Suits,
    pub data_residency: Option<String>,
    pub child_safety: Option<String>,
    pub uptake: Uptake,
}

impl PublicPlatform {
    pub fn of(row: OfferRow, uptake: Uptake) -> Self {
        let offer = Offer::of(row, None);
        PublicPlatform {
            id: offer.id,
            provider: offer.provider,
            product: offer.product,
            kind: offer.kind,
            description: offer.description,
            website: offer.website,
            terms: offer.terms,
            suits: offer.suits,
            data_residency: offer.data_residency,
            child_safety: offer.child_safety,
            uptake,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicPlatformList {
    pub items: Vec<PublicPlatform>,
}
