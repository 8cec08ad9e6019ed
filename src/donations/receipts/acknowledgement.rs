//! The thank-you letter for a receipt: as data, as printable HTML
//! (minijinja; the template escapes every value) and as PDF (printpdf,
//! DejaVu Serif embedded so Vietnamese reads right in any viewer). It reads
//! as a letter: the issuing office, place and date in Vietnamese form, the
//! gift in figures and, for money, in words, the public reference to follow
//! it, and the signer's title and name from the settings — never an
//! account id.

use crate::platform::error::Failure;
use minijinja::{context, Environment};

use super::model::{Acknowledgement, Receipt};
use crate::donations::kinds::{DeviceType, DonationKind};
use crate::platform::config::LetterSettings;
use crate::platform::money::{group_thousands, vnd_in_words};

const TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>Thư cảm ơn — biên nhận số {{ receipt.id }}</title>
<style>
 body { font-family: "Times New Roman", serif; max-width: 42rem; margin: 3rem auto; line-height: 1.6; }
 h1 { text-align: center; font-size: 1.4rem; }
 .head { display: flex; justify-content: space-between; font-size: .95rem; }
 .dated { text-align: right; font-style: italic; }
 .sign { text-align: right; margin-top: 2rem; }
</style>
</head>
<body>
<div class="head"><strong>{{ issuer }}</strong><span>Chương trình "Sóng và máy tính cho em"</span></div>
<p class="dated">{{ dated }}</p>
<h1>THƯ CẢM ƠN</h1>
<p>Kính gửi: <strong>{{ donor_name }}</strong></p>
{% for paragraph in paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}<p class="sign"><strong>{{ signer_title }}</strong>{% if signer_name %}<br>{{ signer_name }}{% endif %}</p>
</body>
</html>
"#;

/// "20.000.000 đồng", "50 máy tính bảng", …
pub fn describe_gift(receipt: &Receipt) -> String {
    match (receipt.kind, receipt.amount_vnd, receipt.quantity) {
        (DonationKind::Money, Some(amount), _) => format!("{} đồng", group_thousands(amount)),
        (DonationKind::Device, _, Some(n)) => {
            let what = match receipt.device_type {
                Some(DeviceType::Laptop) => "máy tính xách tay",
                Some(DeviceType::Tablet) => "máy tính bảng",
                Some(DeviceType::Phone) => "điện thoại thông minh",
                Some(DeviceType::Desktop) => "máy tính để bàn",
                None => "thiết bị",
            };
            format!("{n} {what}")
        }
        (DonationKind::DataPackage, _, Some(n)) => format!("{n} gói cước dữ liệu"),
        (DonationKind::Software, _, Some(n)) => format!("{n} bản quyền phần mềm dạy học"),
        _ => String::new(),
    }
}

/// "Hòa Bình, ngày 15 tháng 9 năm 2021".
pub fn place_and_date(place: &str, date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{place}, ngày {} tháng {} năm {}",
        date.day(),
        date.month(),
        date.year()
    )
}

/// "15/9/2021", the way a date is written in a Vietnamese sentence.
fn short_date(date: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}/{}/{}", date.day(), date.month(), date.year())
}

pub fn letter(
    receipt: Receipt,
    donor_name: String,
    campaign_name: String,
    settings: &LetterSettings,
) -> Acknowledgement {
    let gift = describe_gift(&receipt);
    let amount_in_words = match (receipt.kind, receipt.amount_vnd) {
        (DonationKind::Money, Some(amount)) => Some(vnd_in_words(amount)),
        _ => None,
    };
    let text = format!(
        "{} trân trọng cảm ơn {donor_name} đã ủng hộ chương trình \"Sóng và máy tính cho em\" \
         ({campaign_name}), giúp học sinh có thiết bị và kết nối để học trực tuyến.",
        settings.issuer
    );
    Acknowledgement {
        dated: place_and_date(&settings.place, receipt.received_on),
        issuer: settings.issuer.clone(),
        signer_title: settings.signer_title.clone(),
        signer_name: settings.signer_name.clone(),
        follow_ref: receipt.public_ref.clone(),
        receipt,
        donor_name,
        campaign_name,
        gift,
        amount_in_words,
        text,
    }
}

/// The letter's body, one paragraph each, as both the HTML page and the
/// PDF print it: the thanks, what arrived (the amount in words for money,
/// the bank reference when there is one), how to follow the gift, the close.
fn body_paragraphs(ack: &Acknowledgement) -> Vec<String> {
    let mut received = format!("Hiện vật / số tiền đã nhận: {}", ack.gift);
    if let Some(words) = &ack.amount_in_words {
        received.push_str(&format!(" (bằng chữ: {words})"));
    }
    received.push_str(&format!(", ngày {}", short_date(ack.receipt.received_on)));
    if let Some(reference) = &ack.receipt.bank_reference {
        received.push_str(&format!(" (mã giao dịch {reference})"));
    }
    received.push('.');
    let mut paragraphs = vec![ack.text.clone(), received];
    if let Some(follow) = &ack.follow_ref {
        paragraphs.push(format!(
            "Quý vị có thể theo dõi món quà đến với học sinh bằng mã {follow}."
        ));
    }
    paragraphs.push("Trân trọng cảm ơn!".to_owned());
    paragraphs
}

pub fn render_html(ack: &Acknowledgement) -> Result<String, Failure> {
    let mut env = Environment::new();
    env.add_template("acknowledgement.html", TEMPLATE)
        .map_err(|e| Failure::internal(format!("template: {e}")))?;
    let template = env
        .get_template("acknowledgement.html")
        .map_err(|e| Failure::internal(format!("template: {e}")))?;
    template
        .render(context! {
            receipt => &ack.receipt,
            issuer => &ack.issuer,
            dated => &ack.dated,
            signer_title => &ack.signer_title,
            signer_name => &ack.signer_name,
            donor_name => &ack.donor_name,
            paragraphs => body_paragraphs(ack),
        })
        .map_err(|e| Failure::internal(format!("template: {e}")))
}

/// The letter as a one-page A4 PDF.
pub fn render_pdf(ack: &Acknowledgement) -> Result<Vec<u8>, Failure> {
    use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfLayerReference};
    static REGULAR: &[u8] = include_bytes!("../../../data/fonts/DejaVuSerif.ttf");
    static BOLD: &[u8] = include_bytes!("../../../data/fonts/DejaVuSerif-Bold.ttf");
    let failed = |e: printpdf::Error| Failure::internal(format!("pdf: {e}"));
    let (doc, page, layer) = PdfDocument::new("Thu cam on", Mm(210.0), Mm(297.0), "letter");
    let regular = doc.add_external_font(REGULAR).map_err(failed)?;
    let bold = doc.add_external_font(BOLD).map_err(failed)?;
    let layer = doc.get_page(page).get_layer(layer);
    // A cursor down the page: each line at the left margin or right-aligned
    // by an estimate of its width (DejaVu Serif averages ~0.5 em a letter).
    struct Pen<'a> {
        layer: &'a PdfLayerReference,
        y: f32,
    }
    impl Pen<'_> {
        fn line(&mut self, text: &str, size: f32, font: &IndirectFontRef, align_right: bool) {
            let x = if align_right {
                let width_mm = text.chars().count() as f32 * size * 0.5 * 0.3528;
                (185.0 - width_mm).max(25.0)
            } else {
                25.0
            };
            self.layer.use_text(text, size, Mm(x), Mm(self.y), font);
            self.y -= size * 0.3528 * 1.5;
        }
        fn gap(&mut self, mm: f32) {
            self.y -= mm;
        }
        /// A paragraph, wrapped at about 80 letters of 12-point text.
        fn paragraph(&mut self, text: &str, font: &IndirectFontRef) {
            let mut line = String::new();
            for word in text.split_whitespace() {
                if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > 80 {
                    self.line(&line, 12.0, font, false);
                    line.clear();
                }
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
            if !line.is_empty() {
                self.line(&line, 12.0, font, false);
            }
            self.gap(2.0);
        }
    }
    let mut pen = Pen {
        layer: &layer,
        y: 272.0,
    };
    pen.line(&ack.issuer, 11.0, &bold, false);
    pen.line(
        "Chương trình \"Sóng và máy tính cho em\"",
        11.0,
        &regular,
        false,
    );
    pen.gap(6.0);
    pen.line(&ack.dated, 12.0, &regular, true);
    pen.gap(8.0);
    layer.use_text("THƯ CẢM ƠN", 16.0, Mm(85.0), Mm(pen.y), &bold);
    pen.gap(12.0);
    pen.line(&format!("Kính gửi: {}", ack.donor_name), 12.0, &bold, false);
    pen.gap(3.0);
    for paragraph in body_paragraphs(ack) {
        pen.paragraph(&paragraph, &regular);
    }
    pen.gap(6.0);
    pen.line(&ack.signer_title, 12.0, &bold, true);
    if let Some(name) = &ack.signer_name {
        pen.gap(14.0);
        pen.line(name, 12.0, &bold, true);
    }
    doc.save_to_bytes().map_err(failed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_date_reads_as_in_a_vietnamese_letter() {
        let date = chrono::NaiveDate::from_ymd_opt(2021, 9, 15).unwrap();
        assert_eq!(
            super::place_and_date("Hòa Bình", date),
            "Hòa Bình, ngày 15 tháng 9 năm 2021"
        );
    }
}
