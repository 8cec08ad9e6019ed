//! The report as the tables a Department sends upward, with Vietnamese
//! headings: the one layout both the workbook and the PDF print, so the
//! two cannot differ.

use super::figures::ProgressReport;

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(i64),
    Percent(f64),
}

pub struct Table {
    /// The sheet's name in the workbook (at most 31 characters).
    pub sheet: &'static str,
    pub title: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// "Tiền (đồng)", "Máy tính bảng", … for a donation line's kind.
pub fn kind_name(kind: &str) -> String {
    match kind {
        "money" => "Tiền (đồng)".into(),
        "device:laptop" => "Máy tính xách tay".into(),
        "device:tablet" => "Máy tính bảng".into(),
        "device:phone" => "Điện thoại thông minh".into(),
        "device:desktop" => "Máy tính để bàn".into(),
        "data_package" => "Gói cước dữ liệu".into(),
        "software" => "Bản quyền phần mềm".into(),
        "device" => "Thiết bị".into(),
        "connectivity" => "Kết nối".into(),
        other => other.into(),
    }
}

pub fn tables(report: &ProgressReport) -> Vec<Table> {
    let total = &report.total;
    let mut levels: Vec<Vec<Cell>> = report
        .levels
        .iter()
        .map(|l| {
            vec![
                text(&l.name),
                Cell::Number(l.students),
                Cell::Number(l.with_device),
                Cell::Number(l.without_device),
                Cell::Number(l.with_connectivity),
                Cell::Number(l.without_connectivity),
                Cell::Number(l.ready),
            ]
        })
        .collect();
    levels.push(vec![
        text("Tổng cộng"),
        Cell::Number(total.students),
        Cell::Number(total.with_device),
        Cell::Number(total.students - total.with_device),
        Cell::Number(total.with_connectivity),
        Cell::Number(total.students - total.with_connectivity),
        Cell::Number(total.ready),
    ]);
    let needs = &report.needs;
    let by_unit_row = |r: &crate::reporting::stats::coverage::CoverageRow| {
        vec![
            text(&r.key),
            text(&r.name),
            Cell::Number(r.students),
            Cell::Number(r.with_device),
            Cell::Number(r.with_connectivity),
            Cell::Number(r.ready),
            Cell::Percent(r.percent_ready),
            Cell::Number(
                r.open_device_needs
                    + r.open_connectivity_needs
                    + r.open_data_package_needs
                    + r.open_software_needs,
            ),
            Cell::Number(r.needs_fulfilled),
        ]
    };
    let mut by_unit: Vec<Vec<Cell>> = report.by_unit.iter().map(by_unit_row).collect();
    let mut total_row = by_unit_row(total);
    total_row[1] = text(format!("Tổng cộng ({})", total.name));
    by_unit.push(total_row);
    vec![
        Table {
            sheet: "Cấp học",
            title: "Biểu 1. Học sinh theo cấp học: thiết bị và kết nối".into(),
            columns: vec![
                "Cấp học",
                "Số học sinh",
                "Có thiết bị",
                "Chưa có thiết bị",
                "Có kết nối",
                "Chưa có kết nối",
                "Có cả thiết bị và kết nối",
            ],
            rows: levels,
        },
        Table {
            sheet: "Nhu cầu",
            title: "Biểu 2. Nhu cầu hỗ trợ".into(),
            columns: vec!["Chỉ tiêu", "Số nhu cầu"],
            rows: vec![
                vec![
                    text("Báo cáo trong kỳ"),
                    Cell::Number(needs.reported_in_period),
                ],
                vec![
                    text("Được đáp ứng trong kỳ"),
                    Cell::Number(needs.fulfilled_in_period),
                ],
                vec![text("Đang ở bước báo cáo"), Cell::Number(needs.reported)],
                vec![text("Đã xác minh"), Cell::Number(needs.verified)],
                vec![text("Đã duyệt"), Cell::Number(needs.approved)],
                vec![text("Đã phân bổ"), Cell::Number(needs.allocated)],
                vec![text("Đã đáp ứng (lũy kế)"), Cell::Number(needs.fulfilled)],
            ],
        },
        Table {
            sheet: "Quà tặng",
            title: if report.gifts_earmarked_only {
                format!(
                    "Biểu 3. Quà tặng ghi riêng cho {} theo loại (lũy kế đến ngày lập báo cáo)",
                    report.unit_name
                )
            } else {
                "Biểu 3. Quà tặng đã nhận theo loại (lũy kế đến ngày lập báo cáo)".into()
            },
            columns: vec![
                "Loại",
                "Đã nhận (tặng)",
                "Mua từ tiền ủng hộ",
                "Trong kho",
                "Đã phân bổ",
                "Đang ở với học sinh",
                "Đã chi (đồng)",
            ],
            rows: report
                .gifts
                .iter()
                .map(|l| {
                    vec![
                        text(kind_name(&l.kind)),
                        Cell::Number(l.received_as_gifts),
                        Cell::Number(l.bought),
                        Cell::Number(l.in_stock),
                        Cell::Number(l.allocated),
                        Cell::Number(l.handed_over),
                        Cell::Number(l.spent),
                    ]
                })
                .collect(),
        },
        Table {
            sheet: "Bàn giao",
            title: "Biểu 4. Bàn giao trong kỳ theo loại nhu cầu".into(),
            columns: vec!["Loại", "Số lượt bàn giao trong kỳ"],
            rows: report
                .handovers
                .iter()
                .map(|h| vec![text(kind_name(&h.kind)), Cell::Number(h.in_period)])
                .collect(),
        },
        Table {
            sheet: "Lõm sóng",
            title: "Biểu 5. Điểm lõm sóng đã được phủ, theo nhà mạng".into(),
            columns: vec![
                "Nhà mạng",
                "Số điểm lõm sóng",
                "Đã phủ sóng",
                "Phủ sóng trong kỳ",
                "Học sinh ở điểm đã phủ",
            ],
            rows: report
                .gaps_by_operator
                .iter()
                .map(|g| {
                    vec![
                        text(&g.operator),
                        Cell::Number(g.gaps),
                        Cell::Number(g.closed),
                        Cell::Number(g.closed_in_period),
                        Cell::Number(g.students_in_closed),
                    ]
                })
                .collect(),
        },
        Table {
            sheet: "Theo đơn vị",
            title: "Biểu 6. Theo đơn vị hành chính".into(),
            columns: vec![
                "Mã",
                "Đơn vị",
                "Số học sinh",
                "Có thiết bị",
                "Có kết nối",
                "Sẵn sàng",
                "Tỷ lệ sẵn sàng (%)",
                "Nhu cầu còn chờ",
                "Nhu cầu đã đáp ứng",
            ],
            rows: by_unit,
        },
    ]
}

/// The report's heading lines: who, which month, the data date.
pub fn heading(report: &ProgressReport) -> Vec<String> {
    let at = crate::reporting::vietnam_time(report.data_date);
    vec![
        "BÁO CÁO TIẾN ĐỘ CHƯƠNG TRÌNH \"SÓNG VÀ MÁY TÍNH CHO EM\"".into(),
        format!("Đơn vị: {}", report.unit_name),
        format!(
            "Kỳ báo cáo: {} (từ {} đến {})",
            report.period,
            report.period_start.format("%d/%m/%Y"),
            report.period_end.format("%d/%m/%Y")
        ),
        format!("Số liệu đến: {}", at.format("%H:%M ngày %d/%m/%Y")),
    ]
}
