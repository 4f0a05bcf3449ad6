//! Reading a signature file's entries and checking each through small `validate_*` rules,
//! with the place (a TOML span) of the value at fault.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::model::{Field, Kind, MatchKind, Signature, SignatureError};

/// The longest pattern a signature may have, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    signature: Vec<Spanned<RawSignature>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    product: Spanned<String>,
    kind: Kind,
    field: Spanned<Field>,
    header: Option<Spanned<String>>,
    #[serde(rename = "match")]
    match_kind: Option<Spanned<MatchKind>>,
    pattern: Option<Spanned<String>>,
    advice: Spanned<String>,
    source: Spanned<String>,
}

/// The entries of a signature file's text, each checked; `file` only names it in errors.
pub(super) fn read(file: &Path, text: &str) -> Result<Vec<Signature>, SignatureError> {
    let at = |span: Option<Range<usize>>, message: String| {
        let (line, column) =
            span.map_or((0, 0), |s| crate::config::profile::line_col(text, s.start));
        SignatureError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    };
    let raw: RawFile =
        toml::from_str(text).map_err(|e| at(e.span(), e.message().trim().replace('\n', " ")))?;
    raw.signature
        .iter()
        .map(|entry| {
            let whole = entry.span();
            check(entry.get_ref()).map_err(|(span, m)| at(Some(span.unwrap_or(whole)), m))
        })
        .collect()
}

/// What is wrong with an entry, and where (the value at fault, if it has a span).
type Fault = (Option<Range<usize>>, String);

/// Checks one raw entry through the small `validate_*` rules below.
fn check(raw: &RawSignature) -> Result<Signature, Fault> {
    let product = raw.product.get_ref().trim().to_string();
    if product.is_empty() {
        return Err((Some(raw.product.span()), "`product` is empty".into()));
    }
    let ctx = |(span, m): Fault| (span, format!("signature {product:?}: {m}"));
    let field = *raw.field.get_ref();
    let header = validate_header(raw, field).map_err(ctx)?;
    let pattern = validate_pattern(raw, field).map_err(ctx)?;
    let match_kind = validate_match(raw, pattern.is_some()).map_err(ctx)?;
    let advice = validate_advice(&raw.advice).map_err(ctx)?;
    let source = validate_source(&raw.source).map_err(ctx)?;
    Ok(Signature {
        product,
        kind: raw.kind,
        field,
        header,
        match_kind,
        pattern,
        advice,
        source,
    })
}

/// `header` goes with field http-header, and only with it, and is an HTTP token.
fn validate_header(raw: &RawSignature, field: Field) -> Result<Option<String>, Fault> {
    match (&raw.header, field == Field::HttpHeader) {
        (None, false) => Ok(None),
        (None, true) => Err((
            Some(raw.field.span()),
            "field \"http-header\" needs `header`, the header name".into(),
        )),
        (Some(h), false) => Err((
            Some(h.span()),
            format!(
                "`header` applies only to field \"http-header\", not {:?}",
                field.label()
            ),
        )),
        (Some(h), true) => {
            let name = h.get_ref().trim();
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err((
                    Some(h.span()),
                    format!("header {name:?} is not an HTTP header name"),
                ));
            }
            Ok(Some(name.to_string()))
        }
    }
}

/// `pattern` is 1-200 printable characters; only http-header may leave it out.
fn validate_pattern(raw: &RawSignature, field: Field) -> Result<Option<String>, Fault> {
    let Some(p) = &raw.pattern else {
        if field == Field::HttpHeader {
            return Ok(None);
        }
        return Err((
            Some(raw.field.span()),
            format!(
                "`pattern` is required for field {:?} (only http-header may leave it out, \
                 meaning \"header present\")",
                field.label()
            ),
        ));
    };
    let text = p.get_ref();
    let chars = text.chars().count();
    let problem = if text.trim().is_empty() {
        "`pattern` is empty".to_string()
    } else if chars > MAX_PATTERN_CHARS {
        format!("`pattern` has {chars} characters; at most {MAX_PATTERN_CHARS}")
    } else if text.chars().any(char::is_control) {
        "`pattern` contains a control character".to_string()
    } else {
        return Ok(Some(text.clone()));
    };
    Err((Some(p.span()), problem))
}

/// `match` goes with `pattern`; a header-present entry has neither.
fn validate_match(raw: &RawSignature, has_pattern: bool) -> Result<MatchKind, Fault> {
    match (&raw.match_kind, has_pattern) {
        (Some(m), true) => Ok(*m.get_ref()),
        (None, false) => Ok(MatchKind::Contains),
        (None, true) => Err((
            raw.pattern.as_ref().map(Spanned::span),
            "`pattern` needs `match` (contains, prefix or exact)".into(),
        )),
        (Some(m), false) => Err((
            Some(m.span()),
            "`match` without `pattern`; leave both out to mean \"header present\"".into(),
        )),
    }
}

/// `advice` is a non-empty sentence whose only placeholders are `{host}` and `{port}`.
fn validate_advice(advice: &Spanned<String>) -> Result<String, Fault> {
    let text = advice.get_ref().trim();
    if text.is_empty() {
        return Err((Some(advice.span()), "`advice` is empty".into()));
    }
    if let Some(bad) = unknown_placeholder(text) {
        return Err((
            Some(advice.span()),
            format!("`advice` has the placeholder {bad:?}; only {{host}} and {{port}} exist"),
        ));
    }
    Ok(text.to_string())
}

/// `source` is an http:// or https:// URL.
fn validate_source(source: &Spanned<String>) -> Result<String, Fault> {
    let text = source.get_ref().trim();
    let lower = text.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(char::is_whitespace)) {
        return Err((
            Some(source.span()),
            format!("`source` {text:?} must be an http:// or https:// URL"),
        ));
    }
    Ok(text.to_string())
}

/// The first `{...}` in `advice` other than `{host}` and `{port}`.
fn unknown_placeholder(advice: &str) -> Option<String> {
    let mut rest = advice;
    while let Some(i) = rest.find('{') {
        let tail = &rest[i..];
        let end = tail.find('}').map_or(tail.len(), |e| e + 1);
        let token = &tail[..end];
        if token != "{host}" && token != "{port}" {
            return Some(token.to_string());
        }
        rest = &tail[end..];
    }
    None
}

/// RFC 9110 token characters, the ones a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
