//! Issuer-DN parsing: the CN, O and OU values of an RFC 4514-ish distinguished-name string
//! (x509-parser's `CN=x, O=y` or OpenSSL's `CN = x, O = y`), with quotes and `\c` / `\hh`
//! escapes resolved. Linear in the input and panic-free: the DN comes from a peer that may
//! be hostile.

use std::ops::Range;

use super::signatures::model::Field;

/// The CN, O and OU attributes of a DN string, unescaped, in order.
///
/// A `,`, `+` or `;` separates attributes only where a `key=` follows, so that an
/// unescaped comma inside a value (x509-parser does not escape) stays in the value.
/// Every byte is looked at a bounded number of times: linear in the input.
pub(super) fn dn_attributes(dn: &str) -> Vec<(Field, String)> {
    let bytes = dn.as_bytes();
    let mut out = Vec::new();
    let Some((mut key, mut start)) = key_at(bytes, 0) else {
        return out;
    };
    let (mut i, mut quoted) = (start, false);
    loop {
        let at_end = i >= bytes.len();
        let next = if at_end {
            None
        } else {
            match bytes.get(i) {
                Some(b'\\') => {
                    i += 2;
                    continue;
                }
                Some(b'"') => {
                    quoted = !quoted;
                    None
                }
                Some(b',' | b'+' | b';') if !quoted => key_at(bytes, i + 1),
                _ => None,
            }
        };
        if at_end || next.is_some() {
            let field = match_key(bytes.get(key.clone()).unwrap_or_default());
            if let (Some(field), Some(raw)) = (field, bytes.get(start..i.min(bytes.len()))) {
                out.push((field, unescape(raw)));
            }
            match next {
                Some((k, s)) => {
                    (key, start) = (k, s);
                    i = s;
                    continue;
                }
                None => return out,
            }
        }
        i += 1;
    }
}

/// At `from`: optional spaces, an attribute type, optional spaces, `=`. Returns the
/// type's range and where the value starts.
fn key_at(bytes: &[u8], from: usize) -> Option<(Range<usize>, usize)> {
    let skip_spaces = |mut i: usize| {
        while bytes.get(i).is_some_and(|&b| b == b' ' || b == b'\t') {
            i += 1;
        }
        i
    };
    let start = skip_spaces(from);
    let mut end = start;
    while bytes
        .get(end)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        end += 1;
    }
    let eq = skip_spaces(end);
    (end > start && bytes.get(eq) == Some(&b'=')).then_some((start..end, eq + 1))
}

fn match_key(key: &[u8]) -> Option<Field> {
    let is = |names: &[&str]| names.iter().any(|n| key.eq_ignore_ascii_case(n.as_bytes()));
    if is(&["CN", "commonName", "2.5.4.3"]) {
        Some(Field::IssuerCn)
    } else if is(&["O", "organizationName", "2.5.4.10"]) {
        Some(Field::IssuerO)
    } else if is(&["OU", "organizationalUnitName", "2.5.4.11"]) {
        Some(Field::IssuerOu)
    } else {
        None
    }
}

/// Trims, drops surrounding quotes, and resolves `\c` and `\hh` escapes (RFC 4514).
fn unescape(raw: &[u8]) -> String {
    let trimmed = raw.trim_ascii();
    let inner = match trimmed {
        [b'"', inner @ .., b'"'] => inner,
        other => other,
    };
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while let Some(&b) = inner.get(i) {
        if b == b'\\' {
            let pair = (inner.get(i + 1).copied(), inner.get(i + 2).copied());
            if let (Some(h), Some(l)) = pair {
                if let (Some(h), Some(l)) = (hex(h), hex(l)) {
                    // Two hex digits make one byte, so the value fits in u8.
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
            }
            if let Some(&c) = inner.get(i + 1) {
                out.push(c);
            }
            i += 2;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_parsing_handles_escapes_quotes_and_multivalued_rdns() {
        let f = |dn: &str| dn_attributes(dn);
        assert_eq!(
            f("CN=a\\, b, O=c + OU=d, C=US"),
            [
                (Field::IssuerCn, "a, b".to_string()),
                (Field::IssuerO, "c".to_string()),
                (Field::IssuerOu, "d".to_string())
            ]
        );
        // x509-parser leaves commas unescaped: they stay in the value.
        assert_eq!(
            f("O=Example, Inc., CN=x"),
            [
                (Field::IssuerO, "Example, Inc.".to_string()),
                (Field::IssuerCn, "x".to_string())
            ]
        );
        assert_eq!(f("CN = \"q, r\""), [(Field::IssuerCn, "q, r".to_string())]);
        assert_eq!(
            f("commonName=\\C3\\A9t\\C3\\A9"),
            [(Field::IssuerCn, "été".to_string())]
        );
        assert!(f("").is_empty() && f("no key here").is_empty() && f("=,=,\\").is_empty());
        assert_eq!(
            f("CN=trailing\\"),
            [(Field::IssuerCn, "trailing".to_string())]
        );
    }
}
