//! The thank-you letter for a receipt, as data and as printable HTML
//! (minijinja; the template escapes every value).

use crate::platform::error::Failure;
use minijinja::{context, Environment};

use super::model::{Acknowledgement, Receipt};
use crate::donations::kinds::{DeviceType, DonationKind};

const TEMPLATE: &str = r#"<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<title>Thư cảm ơn — biên nhận số {{ receipt.id }}</title>
<style>
 body { font-family: "Times New Roman", serif; max-width: 42rem; margin: 3rem auto; line-height: 1.6; }
 h1 { text-align: center; font-size: 1.4rem; }
 .meta { color: #555; font-size: .9rem; }
</style>
</head>
<body>
<p class="meta">Chương trình "Sóng và máy tính cho em" — {{ campaign_name }}</p>
<h1>THƯ CẢM ƠN</h1>
<p>Kính gửi: <strong>{{ donor_name }}</strong></p>
<p>{{ text }}</p>
<p>Hiện vật / số tiền đã nhận: <strong>{{ gift }}</strong>, ngày {{ receipt.received_on }}
{% if receipt.bank_reference %}(mã giao dịch {{ receipt.bank_reference }}){% endif %}.</p>
<p>Biên nhận số {{ receipt.id }}, người nhận: {{ receipt.received_by }}.</p>
<p>Trân trọng cảm ơn!</p>
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

/// Vietnamese digit grouping: 20000000 → "20.000.000".
fn group_thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if value < 0 {
        format!("-{out}")
    } else {
        out
    }
}

pub fn letter(receipt: Receipt, donor_name: String, campaign_name: String) -> Acknowledgement {
    let gift = describe_gift(&receipt);
    let text = format!(
        "Ban chỉ đạo chương trình \"Sóng và máy tính cho em\" của tỉnh Hòa Bình trân trọng cảm ơn {donor_name} \
         đã ủng hộ {gift} cho {campaign_name}, giúp học sinh có thiết bị và kết nối để học trực tuyến."
    );
    Acknowledgement {
        receipt,
        donor_name,
        campaign_name,
        gift,
        text,
    }
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
            donor_name => &ack.donor_name,
            campaign_name => &ack.campaign_name,
            gift => &ack.gift,
            text => &ack.text,
        })
        .map_err(|e| Failure::internal(format!("template: {e}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn groups_thousands_the_vietnamese_way() {
        assert_eq!(super::group_thousands(20_000_000), "20.000.000");
        assert_eq!(super::group_thousands(1_500), "1.500");
        assert_eq!(super::group_thousands(999), "999");
        assert_eq!(super::group_thousands(-1_000), "-1.000");
    }
}
