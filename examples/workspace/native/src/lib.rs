//! Checksums for ISBN numbers.

/// Validate an ISBN-13: the weighted digit sum must be a multiple of ten.
pub fn is_valid_isbn13(isbn: &str) -> bool {
    let digits: Vec<u32> = isbn.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 13 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    sum % 10 == 0
}

pub struct Isbn {
    digits: String,
}

impl Isbn {
    pub fn parse(text: &str) -> Option<Isbn> {
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        if is_valid_isbn13(&digits) {
            Some(Isbn { digits })
        } else {
            None
        }
    }

    pub fn prefix(&self) -> &str {
        &self.digits[..3]
    }
}
