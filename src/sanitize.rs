//! Making peer-supplied text safe for a terminal: no control characters, no escape
//! sequences, bounded length.

use std::fmt::Write as _;
use std::time::Duration;

/// `text` with every control character (C0, DEL, C1, and the bidirectional overrides)
/// shown as `\xNN` / `\u{…}`, cut to `max` characters with an ellipsis.
#[must_use]
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in text.chars() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_control() || bidi_override(c) {
            let esc = if (c as u32) < 0x100 {
                format!("\\x{:02x}", c as u32)
            } else {
                format!("\\u{{{:x}}}", c as u32)
            };
            count += esc.len();
            out.push_str(&esc);
        } else {
            out.push(c);
            count += 1;
        }
    }
    out
}

/// As [`printable`], for raw bytes from a peer: the valid UTF-8 as text, every byte that is
/// not UTF-8 as `\xNN` (a binary answer reads as its bytes, not as a row of `�`).
#[must_use]
pub fn printable_bytes(bytes: &[u8], max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for chunk in bytes.utf8_chunks() {
        let text = printable(chunk.valid(), max.saturating_sub(count));
        count += text.chars().count();
        let cut = text.ends_with('…');
        out.push_str(&text);
        if cut {
            return out;
        }
        for b in chunk.invalid() {
            if count >= max {
                out.push('…');
                return out;
            }
            let _ = write!(out, "\\x{b:02x}");
            count += 4;
        }
    }
    out
}

/// How many characters of a user's input an error message repeats.
pub const ECHO_MAX: usize = 80;

/// A user's input as an error message repeats it: printable, and cut to [`ECHO_MAX`]
/// characters with its full size named, so a pasted 120 KB argument does not fill the screen
/// (issue 13).
#[must_use]
pub fn echo(input: &str) -> String {
    let shown = printable(input, ECHO_MAX);
    if input.chars().count() > ECHO_MAX {
        format!("{shown} ({} bytes)", input.len())
    } else {
        shown
    }
}

/// What the first bytes of an answer look like, for "something else answered" reasons.
#[must_use]
pub fn looks_like(bytes: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| bytes.len() >= p.len() && bytes[..p.len()].eq_ignore_ascii_case(p);
    if bytes.len() >= 2 && matches!(bytes[0], 0x15 | 0x16) && bytes[1] == 0x03 {
        Some("TLS")
    } else if starts(b"HTTP/") {
        Some("HTTP")
    } else if starts(b"SSH-") {
        Some("SSH")
    } else if starts(b"* OK") || starts(b"* PREAUTH") || starts(b"* BYE") {
        Some("IMAP")
    } else if starts(b"+OK") || starts(b"-ERR") {
        Some("POP3")
    } else if starts(b"220") {
        Some("SMTP or FTP")
    } else if bytes.first() == Some(&0x30) {
        Some("LDAP/BER")
    } else {
        None
    }
}

/// `5 s`, `800 ms`, `1.5 s`.
#[must_use]
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Writes `value` as pretty-printed JSON in which no string holds a raw character that a
/// terminal acts on. `serde_json` escapes C0 only; DEL, C1 (U+0080–U+009F: 8-bit CSI and OSC,
/// which some terminals obey in UTF-8 too) and the bidirectional overrides would reach a
/// terminal that `cat`s the file. They are written as `\uXXXX`, which decodes to the same
/// text: the data stays exact, only its spelling changes.
///
/// # Errors
/// Write errors, and serialisation errors of `value`.
pub fn write_json_pretty<W, T>(out: W, value: &T) -> serde_json::Result<()>
where
    W: std::io::Write,
    T: serde::Serialize + ?Sized,
{
    let mut ser = serde_json::Serializer::with_formatter(out, SafeJson::default());
    value.serialize(&mut ser)
}

/// `serde_json`'s pretty formatter with the string escaping of [`write_json_pretty`].
#[derive(Default)]
struct SafeJson(serde_json::ser::PrettyFormatter<'static>);

/// Calls the pretty formatter's method of the same name.
macro_rules! pretty {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            self.0.$name(w $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for SafeJson {
    pretty! {
        begin_array();
        end_array();
        begin_array_value(first: bool);
        end_array_value();
        begin_object();
        end_object();
        begin_object_key(first: bool);
        begin_object_value();
        end_object_value();
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| acted_on(c)) {
            w.write_all(&rest.as_bytes()[..at])?;
            write!(w, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
}

/// A character that `serde_json` leaves raw and a terminal would act on (all are in the Basic
/// Multilingual Plane, so one `\uXXXX` spells each).
fn acted_on(c: char) -> bool {
    matches!(c, '\u{7f}'..='\u{9f}') || bidi_override(c)
}

/// The bidirectional controls that reorder what a terminal, an editor or a browser shows
/// ("Trojan Source", CVE-2021-42574).
#[must_use]
pub fn bidi_override(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Text safe inside XML 1.0 attributes and elements (the JUnit reports): escaped, and
/// control characters, bidirectional overrides and the non-characters XML forbids replaced
/// with `?`.
#[must_use]
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || bidi_override(c) || matches!(c, '\u{fffe}' | '\u{ffff}') => {
                out.push('?');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_that_are_not_utf8_show_as_bytes() {
        assert_eq!(
            printable_bytes(b"\x16\x03\x01ok\xff\xfe", 40),
            "\\x16\\x03\\x01ok\\xff\\xfe"
        );
        assert_eq!(
            printable_bytes("grüß \x1b[2J".as_bytes(), 40),
            "grüß \\x1b[2J"
        );
        let long = printable_bytes(&[0xff; 100], 20);
        assert!(long.ends_with('…') && long.chars().count() <= 21, "{long}");
        assert_eq!(printable_bytes(b"abcdef", 3), "abc…");
    }

    #[test]
    fn escapes_are_neutralised() {
        assert_eq!(printable("a\x1b[31mb\r\n", 80), "a\\x1b[31mb\\x0d\\x0a");
        assert_eq!(printable("x\u{202e}y", 80), "x\\u{202e}y");
        assert_eq!(printable("\u{9b}", 80), "\\x9b");
    }

    #[test]
    fn json_spells_what_a_terminal_obeys_as_escapes() {
        let text = "a\x1b[2J\u{9b}6n\x7f\u{202e}é…b";
        let mut out = Vec::new();
        write_json_pretty(&mut out, &serde_json::json!({ "greeting": text })).expect("json");
        let json = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            json,
            "{\n  \"greeting\": \"a\\u001b[2J\\u009b6n\\u007f\\u202eé…b\"\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(back["greeting"], text, "the same text, spelt differently");
    }

    #[test]
    fn length_is_capped() {
        let long = "a".repeat(10_000);
        assert_eq!(printable(&long, 10).chars().count(), 11);
    }

    #[test]
    fn echoed_input_is_cut_and_sized() {
        assert_eq!(echo("mgmt01"), "mgmt01");
        let long = "x".repeat(120_000);
        let e = echo(&long);
        assert!(e.len() < 120, "{e}");
        assert!(e.ends_with("… (120000 bytes)"), "{e}");
        assert_eq!(echo("a\x1bb"), "a\\x1bb");
    }

    #[test]
    fn sniffing() {
        assert_eq!(looks_like(b"HTTP/1.1 400 Bad Request"), Some("HTTP"));
        assert_eq!(looks_like(&[0x16, 0x03, 0x01]), Some("TLS"));
        assert_eq!(looks_like(b"* OK ready"), Some("IMAP"));
        assert_eq!(looks_like(b"\x00\x01"), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(Duration::from_secs(5)), "5 s");
        assert_eq!(duration(Duration::from_millis(800)), "800 ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5 s");
    }
}
