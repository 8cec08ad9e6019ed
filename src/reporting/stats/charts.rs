//! `?format=svg` of the statistics: the same figures as the JSON, drawn
//! by [`crate::reporting::charts`]. Words are Vietnamese unless `lang=en`.

use crate::platform::error::Failure;
use crate::platform::http::tabular::Lang;
use crate::reporting::charts::{grouped_bars, lines_over_time, percent_bars, Bar, Heading};
use crate::reporting::report::tables::kind_name;
use crate::reporting::site::Language;

use super::coverage::Coverage;
use super::donations::DonationStats;
use super::{Metric, Timeseries};

fn language(lang: Option<Lang>) -> Language {
    match lang {
        Some(Lang::En) => Language::En,
        _ => Language::Vi,
    }
}

fn dated(language: Language) -> String {
    let words = language.words();
    format!(
        "{} {}",
        words["data_date"],
        crate::reporting::site::data_date(language, chrono::Utc::now())
    )
}

/// Readiness of each part of the subtree.
pub fn coverage(result: &Coverage, lang: Option<Lang>) -> Result<String, Failure> {
    let language = language(lang);
    let title = match language {
        Language::Vi => format!("Học sinh sẵn sàng học trực tuyến — {}", result.total.name),
        Language::En => format!("Students ready for online learning — {}", result.total.name),
    };
    let bars: Vec<Bar> = result
        .rows
        .iter()
        .map(|row| Bar {
            label: row.name.clone(),
            percent: (row.students > 0).then_some(row.percent_ready),
            shown: format!(
                "{} ({}/{})",
                language.percent(row.percent_ready),
                language.number(row.ready),
                language.number(row.students)
            ),
        })
        .collect();
    percent_bars(
        &Heading {
            title: &title,
            data_date: &dated(language),
        },
        &bars,
    )
}

/// Goods received (given or bought) against handed over, by kind; the
/// money in the subtitle (its scale is not a count's).
pub fn donations(stats: &DonationStats, lang: Option<Lang>) -> Result<String, Failure> {
    let language = language(lang);
    let goods: Vec<_> = stats.lines.iter().filter(|l| l.kind != "money").collect();
    let categories: Vec<String> = goods
        .iter()
        .map(|l| match language {
            Language::Vi => kind_name(&l.kind),
            Language::En => l.kind.clone(),
        })
        .collect();
    let received: Vec<i64> = goods
        .iter()
        .map(|l| l.received_as_gifts + l.bought)
        .collect();
    let handed: Vec<i64> = goods.iter().map(|l| l.handed_over).collect();
    let (title, received_name, handed_name) = match language {
        Language::Vi => ("Quà đã nhận và đã trao", "Đã nhận", "Đang ở với học sinh"),
        Language::En => (
            "Gifts received and handed over",
            "Received",
            "With students",
        ),
    };
    let money = match language {
        Language::Vi => format!(
            "{} · Tiền đã nhận: {} đồng",
            dated(language),
            language.number(stats.money_received_vnd)
        ),
        Language::En => format!(
            "{} · Money received: {} đồng",
            dated(language),
            language.number(stats.money_received_vnd)
        ),
    };
    grouped_bars(
        &Heading {
            title,
            data_date: &money,
        },
        &categories,
        &[(received_name, received), (handed_name, handed)],
    )
}

/// The metric per period and its running total.
pub fn timeseries(series: &Timeseries, lang: Option<Lang>) -> Result<String, Failure> {
    let language = language(lang);
    let title = match (language, series.metric) {
        (Language::Vi, Metric::Handovers) => "Bàn giao thiết bị và gói cước",
        (Language::Vi, Metric::NeedsFulfilled) => "Nhu cầu được đáp ứng",
        (Language::Vi, Metric::NeedsReported) => "Nhu cầu được báo cáo",
        (Language::En, Metric::Handovers) => "Devices and packages handed over",
        (Language::En, Metric::NeedsFulfilled) => "Needs fulfilled",
        (Language::En, Metric::NeedsReported) => "Needs reported",
    };
    let (each, total) = match language {
        Language::Vi => ("Trong kỳ", "Cộng dồn"),
        Language::En => ("In the period", "Cumulative"),
    };
    lines_over_time(
        &Heading {
            title,
            data_date: &dated(language),
        },
        &[
            (
                each,
                series.points.iter().map(|p| (p.period, p.count)).collect(),
            ),
            (
                total,
                series
                    .points
                    .iter()
                    .map(|p| (p.period, p.cumulative))
                    .collect(),
            ),
        ],
    )
}
