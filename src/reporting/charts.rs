//! Charts as SVG images, drawn on the server by plotters (no browser, no
//! script): readiness by unit, gifts received against handed over, and a
//! count over time. Every chart carries a title and the date of its data,
//! uses the Okabe–Ito palette (told apart with any colour vision) and
//! writes its labels as SVG text, so Vietnamese diacritics read as the
//! viewer's own font draws them. The numbers come from the callers, which
//! take them from the same code as the JSON they sit beside.

use std::sync::Once;

use chrono::NaiveDate;
use plotters::prelude::*;
use plotters::style::text_anchor;
use plotters::style::{register_font, FontStyle};

use crate::platform::error::Failure;
pub use crate::platform::money::group_thousands;

/// Okabe & Ito (2008): blue, orange, bluish green, reddish purple.
const PALETTE: [RGBColor; 4] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
];
const INK: RGBColor = RGBColor(0x22, 0x22, 0x22);
const WIDTH: u32 = 760;
/// The family the SVG names: the viewer draws the labels in its own
/// sans-serif. Widths are measured with DejaVu (shipped in data/fonts),
/// close enough to any sans-serif to keep labels inside the picture.
const FAMILY: &str = "sans-serif";

fn fonts() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        static DEJAVU: &[u8] = include_bytes!("../../data/fonts/DejaVuSerif.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if register_font(FAMILY, style, DEJAVU).is_err() {
                log::error!("the chart font could not be read; charts will fail");
            }
        }
    });
}

fn failed<E: std::fmt::Debug>(e: E) -> Failure {
    Failure::internal(format!("chart: {e:?}"))
}

/// What every chart says about itself.
pub struct Heading<'a> {
    pub title: &'a str,
    /// "Số liệu đến 03/12/2026" or "Data as of 2026-12-03".
    pub data_date: &'a str,
}

/// One bar: a label and a share in percent; `shown` is what is written
/// beside the bar ("63,5 %", or "<5" where a count is protected and the
/// bar is drawn empty).
pub struct Bar {
    pub label: String,
    pub percent: Option<f64>,
    pub shown: String,
}

/// The height in pixels of [`percent_bars`] with `rows` bars (pages give
/// it to the `<img>`, so nothing moves while the picture loads).
pub fn percent_bars_height(rows: usize) -> u32 {
    90 + 28 * rows.max(1) as u32
}

/// Horizontal bars from 0 to 100 %: readiness of a unit's parts.
pub fn percent_bars(heading: &Heading, bars: &[Bar]) -> Result<String, Failure> {
    fonts();
    let rows = bars.len().max(1);
    let height = percent_bars_height(rows);
    let mut svg = String::new();
    {
        // Labels beside the bars are placed in the whole picture's pixels.
        let whole = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        whole.fill(&WHITE).map_err(failed)?;
        let root = titled(&whole, heading)?;
        let mut chart = ChartBuilder::on(&root)
            .margin_right(70)
            .x_label_area_size(28)
            .y_label_area_size(220)
            .build_cartesian_2d(0f64..100f64, 0f64..rows as f64)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(6)
            .x_label_formatter(&|v| format!("{v:.0} %"))
            .x_label_style((FAMILY, 13).into_font().color(&INK))
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        let top = |i: usize| (rows - i) as f64 - 0.15;
        let bottom = |i: usize| (rows - i - 1) as f64 + 0.15;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, bar)| {
                let value = bar.percent.unwrap_or(0.0).clamp(0.0, 100.0);
                Rectangle::new([(0.0, top(i)), (value, bottom(i))], PALETTE[0].filled())
            }))
            .map_err(failed)?;
        let label_style = (FAMILY, 14).into_font().color(&INK);
        let (area_x, _) = chart.plotting_area().get_base_pixel();
        for (i, bar) in bars.iter().enumerate() {
            let (_, y) = chart.backend_coord(&(0.0, (top(i) + bottom(i)) / 2.0));
            let (end_x, _) =
                chart.backend_coord(&(bar.percent.unwrap_or(0.0).clamp(0.0, 100.0), 0.0));
            whole
                .draw_text(
                    &short(&bar.label, 30),
                    &label_style.pos(text_anchor::Pos::new(
                        text_anchor::HPos::Right,
                        text_anchor::VPos::Center,
                    )),
                    (area_x - 8, y),
                )
                .map_err(failed)?;
            whole
                .draw_text(
                    &bar.shown,
                    &label_style.pos(text_anchor::Pos::new(
                        text_anchor::HPos::Left,
                        text_anchor::VPos::Center,
                    )),
                    (end_x + 6, y),
                )
                .map_err(failed)?;
        }
        whole.present().map_err(failed)?;
    }
    Ok(svg)
}

/// A group of bars per category, one bar per series (received, handed
/// over), each with its number written above it.
pub fn grouped_bars(
    heading: &Heading,
    categories: &[String],
    series: &[(&str, Vec<i64>)],
) -> Result<String, Failure> {
    fonts();
    let top_value = series
        .iter()
        .flat_map(|(_, values)| values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.15;
    let groups = categories.len().max(1);
    let mut svg = String::new();
    {
        // Values above the bars are placed in the whole picture's pixels.
        let whole = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        whole.fill(&WHITE).map_err(failed)?;
        let root = titled(&whole, heading)?;
        let root = legend(&root, series.iter().map(|(name, _)| *name))?;
        let mut chart = ChartBuilder::on(&root)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..groups as f64, 0f64..top_value)
            .map_err(failed)?;
        let names = categories.to_vec();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(groups * 2 + 1)
            .x_label_formatter(&|v| {
                let i = v.floor() as usize;
                if (v - i as f64 - 0.5).abs() < 0.01 {
                    names.get(i).map(|n| short(n, 16)).unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| group_thousands(*v as i64))
            .label_style((FAMILY, 13).into_font().color(&INK))
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        let width = 0.8 / series.len().max(1) as f64;
        for (s, (_, values)) in series.iter().enumerate() {
            let colour = PALETTE[s % PALETTE.len()];
            chart
                .draw_series(values.iter().enumerate().map(|(i, value)| {
                    let left = i as f64 + 0.1 + width * s as f64;
                    Rectangle::new(
                        [(left, 0.0), (left + width, *value as f64)],
                        colour.filled(),
                    )
                }))
                .map_err(failed)?;
            let style = (FAMILY, 12)
                .into_font()
                .color(&INK)
                .pos(text_anchor::Pos::new(
                    text_anchor::HPos::Center,
                    text_anchor::VPos::Bottom,
                ));
            for (i, value) in values.iter().enumerate() {
                let centre = i as f64 + 0.1 + width * (s as f64 + 0.5);
                let (x, y) = chart.backend_coord(&(centre, *value as f64));
                whole
                    .draw_text(&group_thousands(*value), &style, (x, y - 3))
                    .map_err(failed)?;
            }
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// Lines over time (one point per week or month), each series with its
/// own colour and a legend.
pub fn lines_over_time(
    heading: &Heading,
    series: &[(&str, Vec<(NaiveDate, i64)>)],
) -> Result<String, Failure> {
    fonts();
    let dates: Vec<NaiveDate> = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(d, _)| *d))
        .collect();
    let (first, last) = match (dates.iter().min(), dates.iter().max()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => {
            let today = chrono::Utc::now().date_naive();
            (today, today)
        }
    };
    // A lone point sits in the middle of a month rather than on an edge.
    let (first, last) = if last == first {
        (first - chrono::Days::new(15), last + chrono::Days::new(15))
    } else {
        (first, last)
    };
    let top_value = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, v)| *v))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(failed)?;
        let root = titled(&root, heading)?;
        let root = legend(&root, series.iter().map(|(name, _)| *name))?;
        let span = (last - first).num_days().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin_right(30)
            .x_label_area_size(32)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..span, 0f64..top_value)
            .map_err(failed)?;
        chart
            .configure_mesh()
            .x_labels(6)
            .x_label_formatter(&|v| {
                let date = first + chrono::Days::new(v.max(0.0) as u64);
                // Weeks over a short span need the day; months do not.
                if span <= 93.0 {
                    date.format("%d/%m/%Y").to_string()
                } else {
                    date.format("%m/%Y").to_string()
                }
            })
            .y_label_formatter(&|v| group_thousands(*v as i64))
            .label_style((FAMILY, 13).into_font().color(&INK))
            .light_line_style(WHITE)
            .draw()
            .map_err(failed)?;
        for (s, (_, points)) in series.iter().enumerate() {
            let colour = PALETTE[s % PALETTE.len()];
            let at = |d: &NaiveDate| (*d - first).num_days() as f64;
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(d, v)| (at(d), *v as f64)),
                    colour.stroke_width(3),
                ))
                .map_err(failed)?;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|(d, v)| Circle::new((at(d), *v as f64), 3, colour.filled())),
                )
                .map_err(failed)?;
        }
        root.present().map_err(failed)?;
    }
    Ok(svg)
}

/// The title and the data date across the top; the rest of the area.
fn titled<'a>(
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    heading: &Heading,
) -> Result<DrawingArea<SVGBackend<'a>, plotters::coord::Shift>, Failure> {
    let left = text_anchor::Pos::new(text_anchor::HPos::Left, text_anchor::VPos::Top);
    root.draw_text(
        heading.title,
        &(FAMILY, 19, FontStyle::Bold)
            .into_font()
            .color(&INK)
            .pos(left),
        (12, 10),
    )
    .map_err(failed)?;
    root.draw_text(
        heading.data_date,
        &(FAMILY, 13).into_font().color(&INK).pos(left),
        (12, 36),
    )
    .map_err(failed)?;
    let (_, lower) = root.split_vertically(58);
    Ok(lower)
}

/// A row of colour keys with their names; the rest of the area.
fn legend<'a, 'n>(
    root: &DrawingArea<SVGBackend<'a>, plotters::coord::Shift>,
    names: impl Iterator<Item = &'n str>,
) -> Result<DrawingArea<SVGBackend<'a>, plotters::coord::Shift>, Failure> {
    let style = (FAMILY, 13)
        .into_font()
        .color(&INK)
        .pos(text_anchor::Pos::new(
            text_anchor::HPos::Left,
            text_anchor::VPos::Center,
        ));
    let mut x = 80;
    for (s, name) in names.enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        root.draw(&Rectangle::new([(x, 4), (x + 16, 18)], colour.filled()))
            .map_err(failed)?;
        root.draw_text(name, &style, (x + 22, 11)).map_err(failed)?;
        x += 40 + 8 * name.chars().count() as i32;
    }
    let (_, lower) = root.split_vertically(26);
    Ok(lower)
}

/// A label cut to `max` letters (with "…"), so a long unit name keeps to
/// its column.
fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut cut: String = label.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading() -> Heading<'static> {
        Heading {
            title: "Tỷ lệ học sinh sẵn sàng học trực tuyến",
            data_date: "Số liệu đến 03/12/2026",
        }
    }

    #[test]
    fn bars_keep_vietnamese_labels_and_escape_markup() {
        let svg = percent_bars(
            &heading(),
            &[
                Bar {
                    label: "Huyện Đà Bắc".into(),
                    percent: Some(63.5),
                    shown: "63,5 %".into(),
                },
                Bar {
                    label: "<script>&".into(),
                    percent: None,
                    shown: "<5".into(),
                },
            ],
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in [
            "Tỷ lệ học sinh sẵn sàng học trực tuyến",
            "Số liệu đến 03/12/2026",
            "Huyện Đà Bắc",
            "63,5 %",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        assert!(
            !svg.contains("<script>"),
            "a label is markup in the picture"
        );
        assert!(svg.contains("&lt;5"));
        // Okabe–Ito blue fills the bars.
        assert!(svg.to_ascii_uppercase().contains("#0072B2"));
    }

    #[test]
    fn grouped_bars_and_lines_write_every_value() {
        let svg = grouped_bars(
            &heading(),
            &["Tiền (triệu đồng)".into(), "Máy tính bảng".into()],
            &[("Đã nhận", vec![120, 40]), ("Đã trao", vec![0, 35])],
        )
        .unwrap();
        for text in ["Đã nhận", "Đã trao", "120", "35", "Máy tính bảng"] {
            assert!(svg.contains(text), "{text} missing");
        }
        let day = |m| NaiveDate::from_ymd_opt(2021, m, 1).unwrap();
        let svg = lines_over_time(
            &heading(),
            &[("Bàn giao (cộng dồn)", vec![(day(9), 10), (day(10), 1_250)])],
        )
        .unwrap();
        assert!(svg.contains("Bàn giao (cộng dồn)"));
        // The axis reaches past 1,250 and is grouped the Vietnamese way.
        assert!(svg.contains("1.200"), "{svg}");
        assert!(!svg.contains("1,200"));
        // An empty series still draws a chart with its title.
        let empty = lines_over_time(&heading(), &[("Bàn giao", vec![])]).unwrap();
        assert!(empty.contains("Số liệu đến"));
    }
}
