//! The figures of the periodic report, each taken from the code that
//! serves it in the API (coverage from `GET /stats/coverage`, gifts from
//! `GET /stats/donations`), plus what happened in the month asked: needs
//! reported and fulfilled (from the need events, as `GET
//! /stats/timeseries`), handovers, and coverage gaps closed.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::needs::coverage::GapStatus;
use crate::platform::db::schema::{
    allocations, coverage_gaps, handovers, need_events, needs, operators,
};
use crate::platform::db::{with_conn, DbConn};
use crate::platform::error::Failure;
use crate::reporting::stats::coverage::{coverage, CoverageRow, GroupBy};
use crate::reporting::stats::donations::{donation_stats, DonationLine};

/// A month: `2021-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub first_day: NaiveDate,
}

impl Period {
    /// `YYYY-MM`, a month from 2000 to 2100.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let (year, month): (i32, u32) = (year.parse().ok()?, month.parse().ok()?);
        if !(2000..=2100).contains(&year) {
            return None;
        }
        NaiveDate::from_ymd_opt(year, month, 1).map(|first_day| Period { first_day })
    }

    pub fn last_day(self) -> NaiveDate {
        let next = if self.first_day.month() == 12 {
            NaiveDate::from_ymd_opt(self.first_day.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(self.first_day.year(), self.first_day.month() + 1, 1)
        };
        next.expect("a month after a valid one") - chrono::Days::new(1)
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.first_day.year(), self.first_day.month())
    }

    /// "tháng 10 năm 2021".
    pub fn in_vietnamese(self) -> String {
        format!(
            "tháng {} năm {}",
            self.first_day.month(),
            self.first_day.year()
        )
    }
}

/// Students of one school level on the data date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LevelLine {
    /// `primary` (grades 1–5), `lower_secondary` (6–9), `upper_secondary` (10–12).
    pub level: String,
    /// Tiểu học, Trung học cơ sở, Trung học phổ thông.
    pub name: String,
    pub students: i64,
    pub with_device: i64,
    pub without_device: i64,
    pub with_connectivity: i64,
    pub without_connectivity: i64,
    pub ready: i64,
}

/// Needs: where they stand on the data date, and what moved in the month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NeedsSummary {
    pub reported_in_period: i64,
    pub fulfilled_in_period: i64,
    /// Needs in each status on the data date (as `GET /stats/coverage`).
    pub reported: i64,
    pub verified: i64,
    pub approved: i64,
    pub allocated: i64,
    pub fulfilled: i64,
}

/// Handovers in the month by the kind of need they met.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HandoverLine {
    /// `device`, `connectivity`, `data_package` or `software`.
    pub kind: String,
    pub in_period: i64,
}

/// Coverage gaps (places without a usable signal) of one operator.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorLine {
    /// The operator's name, or "chưa giao" while no operator is assigned.
    pub operator: String,
    pub gaps: i64,
    /// Covered or confirmed on the data date.
    pub closed: i64,
    /// Covered in the month.
    pub closed_in_period: i64,
    /// Students in the closed gaps.
    pub students_in_closed: i64,
}

/// The report: every table, the period and the date of the data.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressReport {
    /// The unit reported on (absent: the whole country).
    pub admin_unit: Option<String>,
    pub unit_name: String,
    /// `YYYY-MM`.
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// When the figures were read.
    pub data_date: chrono::DateTime<chrono::Utc>,
    /// Equal to `total` of `GET /stats/coverage` for the same unit.
    pub total: CoverageRow,
    pub levels: Vec<LevelLine>,
    pub needs: NeedsSummary,
    /// Equal to `lines` of `GET /stats/donations` for the same unit
    /// (cumulative to the data date): with `admin_unit`, the gifts
    /// earmarked for it (`gifts_earmarked_only`); without, every gift.
    pub gifts: Vec<DonationLine>,
    pub gifts_earmarked_only: bool,
    pub handovers: Vec<HandoverLine>,
    pub gaps_by_operator: Vec<OperatorLine>,
    /// The unit's parts (its districts), as `GET /stats/coverage` rows.
    pub by_unit: Vec<CoverageRow>,
    /// The figures in sentences (Vietnamese), generated from the tables.
    pub narrative: Vec<String>,
}

const LEVELS: [(&str, &str, std::ops::RangeInclusive<u32>); 3] = [
    ("primary", "Tiểu học", 1..=5),
    ("lower_secondary", "Trung học cơ sở", 6..=9),
    ("upper_secondary", "Trung học phổ thông", 10..=12),
];

/// Reads the report for `root`'s subtree (`units` its codes; both `None`
/// for the whole country).
pub fn compute(
    conn: &mut DbConn,
    root: Option<&str>,
    units: Option<&[String]>,
    period: Period,
) -> Result<ProgressReport, Failure> {
    let by_unit = coverage(conn, root, None, GroupBy::AdminUnit, None)?;
    let by_grade = coverage(conn, root, None, GroupBy::Grade, None)?;
    let levels = LEVELS
        .iter()
        .map(|(level, name, grades)| {
            let mut line = LevelLine {
                level: (*level).into(),
                name: (*name).into(),
                students: 0,
                with_device: 0,
                without_device: 0,
                with_connectivity: 0,
                without_connectivity: 0,
                ready: 0,
            };
            for row in &by_grade.rows {
                if row.key.parse::<u32>().is_ok_and(|g| grades.contains(&g)) {
                    line.students += row.students;
                    line.with_device += row.with_device;
                    line.with_connectivity += row.with_connectivity;
                    line.ready += row.ready;
                }
            }
            line.without_device = line.students - line.with_device;
            line.without_connectivity = line.students - line.with_connectivity;
            line
        })
        .collect();
    let (start, end) = (period.first_day, period.last_day());
    let moved = |conn: &mut DbConn, to: &'static str| -> Result<i64, Failure> {
        let (from, until) = (start.and_hms_opt(0, 0, 0), end.and_hms_opt(23, 59, 59));
        let (Some(from), Some(until)) = (from, until) else {
            return Ok(0);
        };
        Ok(with_conn!(conn, |c| {
            let mut q = need_events::table
                .inner_join(needs::table)
                .filter(need_events::to_status.eq(to))
                .filter(need_events::at.between(from, until))
                .select(count_star())
                .into_boxed();
            if let Some(units) = units {
                q = q.filter(needs::admin_unit_code.eq_any(units));
            }
            q.first::<i64>(c)
        })?)
    };
    let total = by_unit.total.clone();
    let needs = NeedsSummary {
        reported_in_period: moved(conn, "reported")?,
        fulfilled_in_period: moved(conn, "fulfilled")?,
        reported: total.needs_reported,
        verified: total.needs_verified,
        approved: total.needs_approved,
        allocated: total.needs_allocated,
        fulfilled: total.needs_fulfilled,
    };
    let handed: Vec<(String, i64)> = with_conn!(conn, |c| {
        let mut q = handovers::table
            .inner_join(allocations::table.inner_join(needs::table))
            .filter(handovers::handed_on.between(start, end))
            .group_by(needs::kind)
            .select((needs::kind, count_star()))
            .into_boxed();
        if let Some(units) = units {
            q = q.filter(needs::admin_unit_code.eq_any(units));
        }
        q.load(c)
    })?;
    let handed: BTreeMap<String, i64> = handed.into_iter().collect();
    let handovers = ["device", "connectivity", "data_package", "software"]
        .into_iter()
        .map(|kind| HandoverLine {
            kind: kind.into(),
            in_period: handed.get(kind).copied().unwrap_or(0),
        })
        .collect();
    let gifts = donation_stats(conn, None, units)?.lines;
    // Gaps are places (a few thousand in a province), read one by one and
    // summed here; operators by id beside them.
    let gap_rows: Vec<(Option<i64>, GapStatus, Option<NaiveDate>, i32)> = with_conn!(conn, |c| {
        let mut q = coverage_gaps::table
            .select((
                coverage_gaps::operator_id,
                coverage_gaps::status,
                coverage_gaps::covered_on,
                coverage_gaps::students_affected,
            ))
            .into_boxed();
        if let Some(units) = units {
            q = q.filter(coverage_gaps::admin_unit_code.eq_any(units));
        }
        q.load(c)
    })?;
    let names: BTreeMap<i64, String> = with_conn!(conn, |c| operators::table
        .select((operators::id, operators::name))
        .load::<(i64, String)>(c))?
    .into_iter()
    .collect();
    let mut by_operator: BTreeMap<String, OperatorLine> = BTreeMap::new();
    for (operator, status, covered_on, students) in gap_rows {
        let name = operator
            .and_then(|id| names.get(&id).cloned())
            .unwrap_or_else(|| "Chưa giao nhà mạng".into());
        let line = by_operator
            .entry(name.clone())
            .or_insert_with(|| OperatorLine {
                operator: name,
                gaps: 0,
                closed: 0,
                closed_in_period: 0,
                students_in_closed: 0,
            });
        line.gaps += 1;
        if matches!(status, GapStatus::Covered | GapStatus::Confirmed) {
            line.closed += 1;
            line.students_in_closed += i64::from(students);
            if covered_on.is_some_and(|d| d >= start && d <= end) {
                line.closed_in_period += 1;
            }
        }
    }
    let mut report = ProgressReport {
        admin_unit: root.map(str::to_owned),
        unit_name: total.name.clone(),
        period: period.label(),
        period_start: start,
        period_end: end,
        data_date: chrono::Utc::now(),
        total,
        levels,
        needs,
        gifts,
        gifts_earmarked_only: units.is_some(),
        handovers,
        gaps_by_operator: by_operator.into_values().collect(),
        by_unit: by_unit.rows,
        narrative: Vec::new(),
    };
    report.narrative = narrative(&report, period);
    Ok(report)
}

/// The tables in sentences: only numbers from the tables, no judgement.
fn narrative(report: &ProgressReport, period: Period) -> Vec<String> {
    let n = crate::reporting::charts::group_thousands;
    let t = &report.total;
    let mut out = vec![format!(
        "Đến ngày lập báo cáo, {} có {} học sinh; {} em ({}) đã có thiết bị và kết nối để học trực tuyến, {} em có thiết bị, {} em có kết nối.",
        report.unit_name,
        n(t.students),
        n(t.ready),
        percent(t.percent_ready),
        n(t.with_device),
        n(t.with_connectivity),
    )];
    out.push(format!(
        "Trong {}, {} nhu cầu được báo cáo và {} nhu cầu được đáp ứng; hiện còn {} nhu cầu thiết bị, {} nhu cầu kết nối, {} nhu cầu gói cước và {} nhu cầu phần mềm chưa được đáp ứng.",
        period.in_vietnamese(),
        n(report.needs.reported_in_period),
        n(report.needs.fulfilled_in_period),
        n(t.open_device_needs),
        n(t.open_connectivity_needs),
        n(t.open_data_package_needs),
        n(t.open_software_needs),
    ));
    let handed: i64 = report.handovers.iter().map(|h| h.in_period).sum();
    out.push(format!(
        "Trong {}, {} lượt thiết bị, gói cước và bản quyền được bàn giao cho học sinh và nhà trường.",
        period.in_vietnamese(),
        n(handed),
    ));
    let money = report
        .gifts
        .iter()
        .find(|l| l.kind == "money")
        .map_or(0, |l| l.received_as_gifts);
    let devices: i64 = report
        .gifts
        .iter()
        .filter(|l| l.kind.starts_with("device:"))
        .map(|l| l.received_as_gifts + l.bought)
        .sum();
    let devices_with_students: i64 = report
        .gifts
        .iter()
        .filter(|l| l.kind.starts_with("device:"))
        .map(|l| l.handed_over)
        .sum();
    let whose = if report.gifts_earmarked_only {
        format!("chương trình đã nhận cho riêng {}", report.unit_name)
    } else {
        "chương trình đã nhận".to_owned()
    };
    out.push(format!(
        "Lũy kế đến ngày lập báo cáo, {whose} {} đồng tiền ủng hộ và {} thiết bị (được tặng hoặc mua); {} thiết bị trong số đó đang ở với học sinh.",
        n(money),
        n(devices),
        n(devices_with_students),
    ));
    let (gaps, closed, closed_now): (i64, i64, i64) = report
        .gaps_by_operator
        .iter()
        .fold((0, 0, 0), |(a, b, c), l| {
            (a + l.gaps, b + l.closed, c + l.closed_in_period)
        });
    out.push(format!(
        "Có {} điểm lõm sóng được ghi nhận, {} điểm đã được phủ sóng, trong đó {} điểm trong {}.",
        n(gaps),
        n(closed),
        n(closed_now),
        period.in_vietnamese(),
    ));
    out
}

/// 63.5 → "63,5 %".
pub fn percent(value: f64) -> String {
    format!("{} %", format!("{value:.2}").replace('.', ","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_one_calendar_month() {
        let october = Period::parse("2021-10").unwrap();
        assert_eq!(
            october.last_day(),
            NaiveDate::from_ymd_opt(2021, 10, 31).unwrap()
        );
        assert_eq!(
            Period::parse("2021-12").unwrap().last_day(),
            NaiveDate::from_ymd_opt(2021, 12, 31).unwrap()
        );
        assert_eq!(october.label(), "2021-10");
        assert_eq!(october.in_vietnamese(), "tháng 10 năm 2021");
        for bad in [
            "2021-13",
            "2021-1",
            "21-10",
            "2021/10",
            "",
            "1999-01",
            "2021-10-01",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }
}
