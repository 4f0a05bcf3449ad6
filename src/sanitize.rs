//! Making peer-supplied text safe for a terminal: no control characters, no escape
//! sequences, bounded length.

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
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}');
        if c.is_control() || bidi {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_neutralised() {
        assert_eq!(printable("a\x1b[31mb\r\n", 80), "a\\x1b[31mb\\x0d\\x0a");
        assert_eq!(printable("x\u{202e}y", 80), "x\\u{202e}y");
        assert_eq!(printable("\u{9b}", 80), "\\x9b");
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
