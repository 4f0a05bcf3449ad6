//! One pattern compared with text: folded to ASCII lower case, with a Knuth-Morris-Pratt
//! table so that `contains` is one pass over the text, whatever the text is.

use super::model::MatchKind;

/// A pattern folded to ASCII lower case, with its KMP failure table.
#[derive(Debug, Clone)]
pub(super) struct Needle {
    bytes: Vec<u8>,
    fail: Vec<usize>,
}

impl Needle {
    pub(super) fn new(pattern: &str) -> Self {
        let bytes: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let mut fail = vec![0; bytes.len()];
        let mut k = 0;
        for (i, &b) in bytes.iter().enumerate().skip(1) {
            while k > 0 && bytes.get(k) != Some(&b) {
                k = fail.get(k - 1).copied().unwrap_or(0);
            }
            if bytes.get(k) == Some(&b) {
                k += 1;
            }
            if let Some(slot) = fail.get_mut(i) {
                *slot = k;
            }
        }
        Self { bytes, fail }
    }

    /// `contains` works on the raw text; `prefix` and `exact` ignore surrounding white space.
    pub(super) fn test(&self, kind: MatchKind, text: &str) -> bool {
        let trimmed = text
            .trim_matches(|c: char| c.is_ascii_whitespace())
            .as_bytes();
        match kind {
            MatchKind::Contains => self.found_in(text.as_bytes()),
            MatchKind::Prefix => trimmed
                .get(..self.bytes.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(&self.bytes)),
            MatchKind::Exact => trimmed.eq_ignore_ascii_case(&self.bytes),
        }
    }

    /// Knuth-Morris-Pratt: one pass over `hay`, whatever its content.
    fn found_in(&self, hay: &[u8]) -> bool {
        if self.bytes.is_empty() {
            return true;
        }
        let mut k = 0;
        for &b in hay {
            let c = b.to_ascii_lowercase();
            while k > 0 && self.bytes.get(k) != Some(&c) {
                k = self.fail.get(k - 1).copied().unwrap_or(0);
            }
            if self.bytes.get(k) == Some(&c) {
                k += 1;
                if k == self.bytes.len() {
                    return true;
                }
            }
        }
        false
    }
}
