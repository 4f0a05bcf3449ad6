//! A small definite-length BER (X.690) encoder and reader for LDAP: short and long lengths up to four octets, single-octet tags, nothing allocated before a length is known to fit.

use super::{Failure, MAX_TOTAL};

pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const ENUMERATED: u8 = 0x0a;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const SET: u8 = 0x31;

/// One definite-length TLV, short or long form.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match u8::try_from(content.len()) {
        Ok(n) if n < 0x80 => out.push(n),
        _ => {
            let be = content.len().to_be_bytes();
            let octets = &be[be.iter().take_while(|&&b| b == 0).count()..];
            out.push(0x80 | u8::try_from(octets.len()).unwrap_or(8));
            out.extend_from_slice(octets);
        }
    }
    out.extend_from_slice(content);
    out
}

/// `Failure::Malformed` with `detail`.
pub(crate) fn malformed(detail: impl Into<String>) -> Failure {
    Failure::Malformed {
        detail: detail.into(),
    }
}

/// The header of the TLV at the start of `b`: `(tag, header length, content length)`, or
/// `None` while more bytes are needed. A length that cannot fit in [`MAX_TOTAL`] fails as
/// soon as its leading length octets show it, before anything is allocated, as malformed.
pub(crate) fn header(b: &[u8]) -> Result<Option<(u8, usize, usize)>, Failure> {
    let (Some(&tag), Some(&first)) = (b.first(), b.get(1)) else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Err(malformed(format!("multi-byte tag 0x{tag:02x}")));
    }
    let octets = match first {
        0..=0x7f => return Ok(Some((tag, 2, usize::from(first)))),
        0x80 => return Err(malformed("indefinite length")),
        0x81..=0x84 => usize::from(first & 0x7f),
        _ => return Err(malformed(format!("length of {} octets", first & 0x7f))),
    };
    let have = &b[2..b.len().min(2 + octets)];
    let mut len: u64 = 0;
    for &o in have {
        len = (len << 8) | u64::from(o);
    }
    let partial = have.len() < octets;
    len <<= 8 * (octets - have.len());
    if len > MAX_TOTAL as u64 {
        // Malformed, not "too much data": the peer announced the length, it did not send
        // the bytes (seven bytes can claim 2^31), and a reason saying it sent more than the
        // limit would send an admin to the wrong packet capture.
        // The same words however the bytes were segmented (the length may show before all
        // of its octets have come).
        return Err(malformed(format!(
            "a BER length announced beyond the {MAX_TOTAL} bytes this client reads"
        )));
    }
    if partial {
        return Ok(None);
    }
    // len <= MAX_TOTAL, so it fits.
    Ok(Some((
        tag,
        2 + octets,
        usize::try_from(len).unwrap_or(MAX_TOTAL),
    )))
}

/// Walks the TLVs inside one complete BER value.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn next(&mut self) -> Result<Option<(u8, &'a [u8])>, Failure> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        match header(self.rest)? {
            Some((tag, hl, len)) if hl + len <= self.rest.len() => {
                let value = &self.rest[hl..hl + len];
                self.rest = &self.rest[hl + len..];
                Ok(Some((tag, value)))
            }
            _ => Err(malformed("truncated BER value")),
        }
    }

    pub(crate) fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], Failure> {
        match self.next()? {
            Some((t, value)) if t == tag => Ok(value),
            Some((t, _)) => Err(malformed(format!(
                "{what}: tag 0x{t:02x}, expected 0x{tag:02x}"
            ))),
            None => Err(malformed(format!("{what} missing"))),
        }
    }
}

/// A two's-complement INTEGER or ENUMERATED of 1 to 8 octets.
pub(crate) fn integer(v: &[u8]) -> Result<i64, Failure> {
    if v.is_empty() || v.len() > 8 {
        return Err(malformed(format!("integer of {} octets", v.len())));
    }
    let fill = if v[0] & 0x80 == 0 { 0 } else { 0xff };
    let mut be = [fill; 8];
    be[8 - v.len()..].copy_from_slice(v);
    Ok(i64::from_be_bytes(be))
}

#[cfg(test)]
mod tests {
    use super::*;

    type HeaderResult = Result<Option<(u8, usize, usize)>, &'static str>;

    #[test]
    fn integers_headers_and_lengths() {
        #[rustfmt::skip]
        let ints: &[(&[u8], Result<i64, &str>)] = &[
            (&[0x00], Ok(0)), (&[0x7f], Ok(127)), (&[0x00, 0x80], Ok(128)), (&[0xff], Ok(-1)),
            (&[0x80, 0x00], Ok(-32768)), (&[0x7f, 0xff, 0xff, 0xff], Ok(2_147_483_647)),
            (&[], Err("malformed")), (&[1; 9], Err("malformed")),
        ];
        for (bytes, want) in ints {
            assert_eq!(integer(bytes).map_err(|f| f.label()), *want, "{bytes:?}");
        }
        #[rustfmt::skip]
        let headers: &[(&[u8], HeaderResult)] = &[
            (&[], Ok(None)), (&[0x30], Ok(None)), (&[0x30, 0x05], Ok(Some((0x30, 2, 5)))),
            (&[0x04, 0x81], Ok(None)), (&[0x04, 0x81, 0xc8], Ok(Some((0x04, 3, 200)))),
            (&[0x30, 0x84, 0x00, 0x00, 0x01, 0x00], Ok(Some((0x30, 6, 256)))),
            (&[0x30, 0x84, 0x00, 0x01, 0x00, 0x01], Err("malformed")),
        ];
        for (bytes, want) in headers {
            assert_eq!(header(bytes).map_err(|f| f.label()), *want, "{bytes:?}");
        }
        assert_eq!(tlv(OCTET_STRING, &[0; 5])[..2], [0x04, 5]);
        assert_eq!(tlv(OCTET_STRING, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(OCTET_STRING, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
    }
}
