//! The site's fixed words in Vietnamese (first) and English. Figures are
//! never here: they come from the public figures, formatted per language
//! by [`Language::number`] and [`Language::percent`].

use std::collections::BTreeMap;

use actix_web::HttpRequest;

/// The language a page is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Vi,
    En,
}

impl Language {
    /// `?lang=en|vi` first, then the first of `en`/`vi` the browser's
    /// `Accept-Language` names; anything else is Vietnamese (an unknown
    /// `lang` is not an error: the page is for people, not programs).
    pub fn of(req: &HttpRequest) -> Self {
        let asked = form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(name, _)| name == "lang")
            .map(|(_, value)| value.to_ascii_lowercase());
        match asked.as_deref() {
            Some("en") => return Language::En,
            Some("vi") => return Language::Vi,
            _ => {}
        }
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The browser lists its languages most wanted first.
        for tag in accept.split(',') {
            let tag = tag
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("vi") {
                return Language::Vi;
            }
            if tag.starts_with("en") {
                return Language::En;
            }
        }
        Language::Vi
    }

    pub fn code(self) -> &'static str {
        match self {
            Language::Vi => "vi",
            Language::En => "en",
        }
    }

    /// 1234567 → "1.234.567" (vi) or "1,234,567" (en).
    pub fn number(self, value: i64) -> String {
        let grouped = crate::reporting::charts::group_thousands(value);
        match self {
            Language::Vi => grouped,
            Language::En => grouped.replace('.', ","),
        }
    }

    /// 63.5 → "63,5 %" (vi) or "63.5%" (en).
    pub fn percent(self, value: f64) -> String {
        let text = format!("{value:.1}");
        match self {
            Language::Vi => format!("{} %", text.replace('.', ",")),
            Language::En => format!("{text}%"),
        }
    }

    pub fn date(self, date: chrono::NaiveDate) -> String {
        match self {
            Language::Vi => date.format("%d/%m/%Y").to_string(),
            Language::En => date.format("%Y-%m-%d").to_string(),
        }
    }

    /// Every fixed word of the site in this language, by key.
    pub fn words(self) -> BTreeMap<&'static str, &'static str> {
        WORDS
            .iter()
            .map(|(key, vi, en)| {
                (
                    *key,
                    match self {
                        Language::Vi => *vi,
                        Language::En => *en,
                    },
                )
            })
            .collect()
    }
}

/// (key, Vietnamese, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("programme", "Sóng và máy tính cho em", "Waves and computers for students"),
    ("skip", "Bỏ qua, đến nội dung chính", "Skip to the main content"),
    ("nav_home", "Tiến độ", "Progress"),
    ("nav_donate", "Ủng hộ", "Give"),
    ("nav_follow", "Theo dõi món quà", "Follow a gift"),
    ("other_language", "English", "Tiếng Việt"),
    ("other_language_code", "en", "vi"),
    ("home_title", "Mọi học sinh có máy và sóng để học trực tuyến", "Every student with a device and a connection for online learning"),
    ("home_lead", "Tỷ lệ học sinh đã sẵn sàng học trực tuyến (có thiết bị và kết nối), theo từng huyện.", "Share of students ready for online learning (a device and a connection), by district."),
    ("unit", "Đơn vị", "Area"),
    ("students", "Học sinh", "Students"),
    ("ready", "Sẵn sàng", "Ready"),
    ("percent_ready", "Tỷ lệ sẵn sàng", "Ready (%)"),
    ("progress_to_100", "Tiến độ đến 100 %", "Progress to 100%"),
    ("not_shown", "không công bố", "not shown"),
    ("gifts_title", "Quà đã nhận và đã trao", "Gifts received and handed over"),
    ("money_received", "Tiền ủng hộ đã nhận", "Money received"),
    ("devices_received", "Thiết bị đã nhận", "Devices received"),
    ("devices_handed_over", "Thiết bị đang ở với học sinh", "Devices with students"),
    ("packages_received", "Gói cước đã nhận", "Data packages received"),
    ("packages_handed_over", "Gói cước đã trao", "Data packages handed over"),
    ("software_handed_over", "Bản quyền phần mềm đã trao", "Software licences handed over"),
    ("dong", "đồng", "đồng"),
    ("news", "Tin mới", "Latest news"),
    ("chart_alt", "Biểu đồ tỷ lệ sẵn sàng theo đơn vị; số liệu như bảng bên dưới.", "Chart of the share ready by area; the same figures as the table."),
    ("data_date", "Số liệu đến", "Data as of"),
    ("privacy_note", "Số từ 1 đến 4 được ghi \"<5\"; \"x\" là số được giữ kín để không suy ra được số nhỏ. Không công bố thông tin cá nhân của học sinh.", "Counts from 1 to 4 read \"<5\"; \"x\" is withheld so that a small count cannot be worked out. No student's personal data is ever shown."),
    ("district_lead", "Học sinh sẵn sàng học trực tuyến theo từng xã.", "Students ready for online learning, by commune."),
    ("communes", "Xã, phường, thị trấn", "Communes"),
    ("open_needs", "Nhu cầu còn chờ", "Open needs"),
    ("kind", "Loại", "Kind"),
    ("need_device", "Thiết bị", "Device"),
    ("need_connectivity", "Kết nối", "Connection"),
    ("need_data_package", "Gói cước", "Data package"),
    ("need_software", "Phần mềm", "Software"),
    ("no_open_needs", "Không còn nhu cầu nào đang chờ.", "No open needs."),
    ("donate_title", "Chung tay cùng học sinh", "Give a student a device and a connection"),
    ("open_letter", "Thư ngỏ", "Open letter"),
    ("campaigns", "Các đợt vận động đang mở", "Open campaigns"),
    ("no_campaigns", "Hiện chưa có đợt vận động nào đang mở.", "No campaign is open at the moment."),
    ("period", "Thời gian", "Period"),
    ("target", "Mục tiêu", "Target"),
    ("how_to_give", "Cách ủng hộ", "How to give"),
    ("how_1", "Chọn đợt vận động và hình thức: tiền, thiết bị, gói cước dữ liệu hoặc bản quyền phần mềm.", "Choose a campaign and what to give: money, devices, data packages or software licences."),
    ("how_2", "Liên hệ cơ quan tiếp nhận ghi trong thư ngỏ; tiền chuyển khoản ghi rõ nội dung để được ghi nhận đúng.", "Contact the receiving office named in the open letter; say what a bank transfer is for so it is recorded right."),
    ("how_3", "Quý vị nhận thư cảm ơn có mã theo dõi; nhập mã tại trang \"Theo dõi món quà\" để biết quà đã đến đâu.", "You receive a thank-you letter with a reference; enter it on \"Follow a gift\" to see where the gift went."),
    ("needs_board", "Nơi còn thiếu, theo huyện", "Where help is missing, by district"),
    ("follow_title", "Theo dõi món quà", "Follow a gift"),
    ("follow_lead", "Nhập mã in trên thư cảm ơn.", "Enter the reference printed on the thank-you letter."),
    ("reference", "Mã theo dõi", "Reference"),
    ("follow_button", "Xem", "Show"),
    ("donor", "Nhà hảo tâm", "Donor"),
    ("campaign", "Đợt vận động", "Campaign"),
    ("gift", "Món quà", "Gift"),
    ("reversed", "Khoản này đã được huỷ do ghi nhầm và không được tính.", "This gift was reversed (recorded by mistake) and counts for nothing."),
    ("students_reached", "Học sinh đang dùng quà", "Students holding the gift now"),
    ("schools_reached", "Trường có học sinh nhận quà", "Schools reached"),
    ("not_yet_handed_over", "Chưa trao (trong kho hoặc đã phân bổ)", "Not yet handed over (in stock or allocated)"),
    ("share", "Phần của món quà trong đợt vận động", "The gift's share of the campaign"),
    ("spent", "Đã chi mua sắm (theo tỷ lệ)", "Spent on purchases (pro rata)"),
    ("by_district", "Theo huyện", "By district"),
    ("not_found_title", "Không tìm thấy", "Not found"),
    ("not_found_unit", "Không có đơn vị hành chính với mã này.", "There is no administrative unit with this code."),
    ("not_found_receipt", "Không có món quà nào với mã này. Hãy kiểm tra mã trên thư cảm ơn.", "No gift has this reference. Check the reference on the thank-you letter."),
    ("not_found_page", "Không có trang này.", "There is no such page."),
    ("back_home", "Về trang tiến độ", "Back to progress"),
    ("api_note", "Số liệu công khai, giống hệt API", "Public figures, the same as the API"),
];
