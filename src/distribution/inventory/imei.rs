//! IMEI check: 15 digits whose last is the Luhn check digit of the others.

pub fn is_valid(imei: &str) -> bool {
    if imei.len() != 15 || !imei.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = imei
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let doubled = d * 2;
                doubled / 10 + doubled % 10
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    #[test]
    fn luhn() {
        assert!(super::is_valid("490154203237518"));
        assert!(super::is_valid("356938035643809"));
        assert!(!super::is_valid("490154203237517"), "wrong check digit");
        assert!(!super::is_valid("49015420323751"), "14 digits");
        assert!(!super::is_valid("49015420323751X"));
    }
}
