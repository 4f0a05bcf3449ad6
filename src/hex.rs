//! Lower-case hex without separators, and back: the one encoding of fingerprints, nonces,
//! MACs and exported keying material (the report, the statement and the responder share it).

use std::fmt::Write as _;

/// `bytes` as lower-case hex digits, two per byte.
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes of an even number of hex digits (either case); `None` for anything else.
#[must_use]
pub fn decode(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would also take a sign ("+1").
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case() {
        assert_eq!(encode(&[0xab, 0x01]), "ab01");
        assert_eq!(encode(&[]), "");
    }

    #[test]
    fn decoding_takes_pairs_of_digits_only() {
        assert_eq!(decode("ab01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode("AB01"), Some(vec![0xab, 0x01]));
        assert_eq!(decode(&encode(b"any bytes")), Some(b"any bytes".to_vec()));
        assert_eq!(decode("abc"), None, "odd length");
        assert_eq!(decode("zz"), None, "not hex");
        assert_eq!(decode("+1"), None, "a sign is not a digit");
        assert_eq!(decode("é0"), None, "not ASCII");
    }
}
