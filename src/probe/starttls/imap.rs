//! IMAP dialogue (RFC 3501/9051): greeting, CAPABILITY, STARTTLS (§6.2.1), CAPABILITY again over TLS, LOGOUT; or, on 993, greeting and LOGOUT.
//!
//! STARTTLS is sent even when the capability list does not name it: a server without it
//! answers BAD, one whose list a middlebox edited upgrades anyway, and a middlebox that masks
//! the command (`XXXXXXXX`) shows in the server's answer. The verdict tells these apart.

use super::{
    add_capability, advance_lines, text, Action, Core, DialogueStep, Expect, Failure, LineProtocol,
    Protocol, MAX_TEXT,
};

const GREETING: Expect = Expect {
    protocol: "imap",
    prefixes: &[b"* OK", b"* PREAUTH", b"* BYE"],
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    Capability { tls: bool },
    StartTls,
    AwaitTls,
    Logout,
}

/// The IMAP machine. Tags are `a1`, `a2`, ... in the order the commands are sent.
#[derive(Debug)]
pub struct Imap {
    core: Core,
    step: Step,
    implicit: bool,
    sent: u32,
    tag: String,
    /// STARTTLS in the greeting's `[CAPABILITY ...]` code (`None`: no such code).
    greeting_starttls: Option<bool>,
    /// STARTTLS in an untagged CAPABILITY answer to our command.
    answer_starttls: bool,
}

/// One server line, split into tag (`*` for untagged), status or keyword, and the rest.
struct Line<'a> {
    tag: &'a str,
    word: &'a str,
    rest: &'a str,
}

fn split(line: &str) -> Line<'_> {
    let (tag, after) = line.split_once(' ').unwrap_or((line, ""));
    let (word, rest) = after.split_once(' ').unwrap_or((after, ""));
    Line { tag, word, rest }
}

/// A literal `{n}` / `{n+}` at the end of a line: not expected in any answer we ask for.
fn ends_with_literal(line: &str) -> bool {
    let Some(body) = line.strip_suffix('}') else {
        return false;
    };
    let Some(open) = body.rfind('{') else {
        return false;
    };
    let n = body[open + 1..]
        .strip_suffix('+')
        .unwrap_or(&body[open + 1..]);
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
}

/// Atoms of `[CAPABILITY a b c] text` in a greeting's resp-text.
fn greeting_code_atoms(rest: &str) -> Option<Vec<&str>> {
    let code = rest.strip_prefix('[')?.split(']').next()?;
    let (name, atoms) = code.split_once(' ').unwrap_or((code, ""));
    name.eq_ignore_ascii_case("CAPABILITY")
        .then(|| atoms.split_ascii_whitespace().collect())
}

impl Imap {
    /// Port 143: greeting → CAPABILITY → STARTTLS (offered or not) → (TLS) → CAPABILITY → LOGOUT.
    #[must_use]
    pub fn starttls() -> Self {
        Imap::new(false)
    }

    /// Port 993, run after TLS is up: greeting → LOGOUT. Records into the pre-upgrade fields.
    #[must_use]
    pub fn implicit() -> Self {
        Imap::new(true)
    }

    fn new(implicit: bool) -> Self {
        Imap {
            core: Core::new(true, GREETING),
            step: Step::Greeting,
            implicit,
            sent: 0,
            tag: String::new(),
            greeting_starttls: None,
            answer_starttls: false,
        }
    }

    fn command(&mut self, cmd: &str, next: Step) {
        self.sent += 1;
        self.tag = format!("a{}", self.sent);
        self.core
            .send(format!("{} {cmd}\r\n", self.tag).into_bytes());
        self.step = next;
    }

    fn caps(&mut self, tls: bool) -> &mut Vec<String> {
        if tls {
            &mut self.core.transcript.capabilities_tls
        } else {
            &mut self.core.transcript.capabilities
        }
    }

    fn record_atoms(&mut self, atoms: &[&str], tls: bool) -> bool {
        let mut starttls = false;
        for atom in atoms {
            starttls |= atom.eq_ignore_ascii_case("STARTTLS");
            add_capability(self.caps(tls), &atom.to_ascii_uppercase());
        }
        starttls
    }

    fn on_greeting(&mut self, l: &Line<'_>, raw: &[u8]) {
        let word = l.word.to_ascii_uppercase();
        if l.tag != "*" || !matches!(word.as_str(), "OK" | "PREAUTH" | "BYE") {
            return self.core.abort(super::not_protocol("imap", raw));
        }
        let greeting = text(raw, MAX_TEXT);
        self.core.transcript.greeting = Some(greeting.clone());
        if word == "BYE" {
            return self.core.abort(Failure::Rejected { response: greeting });
        }
        if let Some(atoms) = greeting_code_atoms(l.rest) {
            self.greeting_starttls = Some(self.record_atoms(&atoms, false));
        }
        if self.implicit {
            self.command("LOGOUT", Step::Logout);
        } else {
            self.command("CAPABILITY", Step::Capability { tls: false });
        }
    }

    fn on_other_untagged(&mut self, l: &Line<'_>, raw: &[u8]) {
        // The first untagged OK inside TLS: a responder states itself there too.
        if self.step == (Step::Capability { tls: true })
            && l.word.eq_ignore_ascii_case("OK")
            && self.core.transcript.notice_tls.is_none()
        {
            self.core.transcript.notice_tls = Some(text(raw, MAX_TEXT));
        }
        if l.word.eq_ignore_ascii_case("BYE") {
            self.core.abort(Failure::Rejected {
                response: text(raw, MAX_TEXT),
            });
        }
    }

    fn bad_status(&mut self, raw: &[u8]) {
        let detail = format!("tagged answer is not OK/NO/BAD: {:?}", text(raw, MAX_TEXT));
        self.core.abort(Failure::Malformed { detail });
    }

    fn after_capability(&mut self, tls: bool, answered: bool) {
        if tls {
            return self.command("LOGOUT", Step::Logout);
        }
        // Our own CAPABILITY answer wins over the greeting's code; NO/BAD leaves only the code.
        let offered = if answered {
            Some(self.answer_starttls)
        } else {
            self.greeting_starttls
        };
        self.core.transcript.starttls_offered = offered;
        self.command("STARTTLS", Step::StartTls);
    }
}

impl Protocol for Imap {
    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    fn advance(&mut self) -> Option<Action> {
        advance_lines(self)
    }

    fn upgraded(&mut self) {
        if self.step == Step::AwaitTls {
            self.core.transcript.upgraded = true;
            self.command("CAPABILITY", Step::Capability { tls: true });
        }
    }

    fn step_name(&self) -> DialogueStep {
        if self.core.is_done() {
            return DialogueStep::Done;
        }
        match self.step {
            Step::Greeting => DialogueStep::Greeting,
            Step::Capability { tls: false } => DialogueStep::Capability,
            Step::Capability { tls: true } => DialogueStep::CapabilityTls,
            Step::StartTls => DialogueStep::StartTls,
            Step::AwaitTls => DialogueStep::Tls,
            Step::Logout => DialogueStep::Logout,
        }
    }
}

impl LineProtocol for Imap {
    fn awaiting_tls(&self) -> bool {
        self.step == Step::AwaitTls
    }

    fn on_line(&mut self, raw: &[u8]) {
        let line = String::from_utf8_lossy(raw);
        if self.step != Step::Logout && ends_with_literal(&line) {
            let detail = format!("unexpected literal in {:?}", text(raw, MAX_TEXT));
            return self.core.abort(Failure::Malformed { detail });
        }
        let l = split(&line);
        match self.step {
            Step::Greeting => self.on_greeting(&l, raw),
            Step::Capability { tls } if l.tag == "*" => {
                if l.word.eq_ignore_ascii_case("CAPABILITY") {
                    let atoms: Vec<&str> = l.rest.split_ascii_whitespace().collect();
                    self.answer_starttls |= self.record_atoms(&atoms, tls);
                } else {
                    self.on_other_untagged(&l, raw);
                }
            }
            Step::StartTls if l.tag == "*" => self.on_other_untagged(&l, raw),
            Step::Capability { .. } | Step::StartTls if l.tag != self.tag => {
                let detail = format!("unexpected line {:?}", text(raw, MAX_TEXT));
                self.core.abort(Failure::Malformed { detail });
            }
            Step::Capability { tls } => match l.word.to_ascii_uppercase().as_str() {
                "OK" => self.after_capability(tls, true),
                "NO" | "BAD" => self.after_capability(tls, false),
                _ => self.bad_status(raw),
            },
            Step::StartTls => {
                let response = text(raw, MAX_TEXT);
                self.core.transcript.starttls_response = Some(response.clone());
                match l.word.to_ascii_uppercase().as_str() {
                    "OK" => {
                        self.core.begin_tls();
                        self.step = Step::AwaitTls;
                    }
                    // Refusing what was not offered is the normal answer, not a failure.
                    "NO" | "BAD" if self.core.transcript.starttls_offered != Some(true) => {
                        self.command("LOGOUT", Step::Logout);
                    }
                    "NO" | "BAD" => {
                        self.core.fail(Failure::StartTlsRefused { response });
                        self.command("LOGOUT", Step::Logout);
                    }
                    _ => self.bad_status(raw),
                }
            }
            // `* BYE` and any other untagged line are normal here; the tagged answer ends it.
            Step::Logout if l.tag == self.tag => self.core.finish(),
            // AwaitTls: unreachable, poll never reads in this step.
            Step::Logout | Step::AwaitTls => {}
        }
    }

    fn on_eof(&mut self) {
        match self.step {
            Step::Logout => self.core.finish(),
            // Hanging up on a STARTTLS it never offered: as good as BAD.
            Step::StartTls if self.core.transcript.starttls_offered != Some(true) => {
                self.core.finish();
            }
            Step::Greeting => {
                let f = self.core.inbox.eof_failure(DialogueStep::Greeting);
                self.core.abort(f);
            }
            Step::Capability { .. } | Step::StartTls | Step::AwaitTls => {
                let during = self.step_name();
                self.core.abort(Failure::Closed { during });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::script::{self, run};
    use super::super::{Dialogue, Script, Transcript};
    use super::super::{MAX_LINE, MAX_TOTAL};
    use super::*;

    // Captured from Dovecot 2.3.19.1 (Debian 12) on 127.0.0.1, with and without `ssl = yes`.
    const DOVECOT_GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
    const DOVECOT_CAPS: &[u8] = b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN\r\na1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
    const DOVECOT_GO: &[u8] = b"a2 OK Begin TLS negotiation now.\r\n";
    const DOVECOT_CAPS_TLS: &[u8] = b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN\r\na3 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";
    const DOVECOT_BYE_A4: &[u8] = b"* BYE Logging out\r\na4 OK Logout completed.\r\n";
    const PLAIN_GREETING: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
    const PLAIN_CAPS: &[u8] = b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN\r\na1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n";

    /// name, server turns, commands sent, outcome.
    type Row<'a> = (&'a str, &'a [&'a [u8]], &'a [&'a str], Result<(), Failure>);

    const FULL: &[&str] = &[
        "a1 CAPABILITY",
        "a2 STARTTLS",
        "<tls>",
        "a3 CAPABILITY",
        "a4 LOGOUT",
    ];

    fn both(make: fn() -> Imap, turns: &[&[u8]]) -> (Imap, Vec<String>) {
        script::both(make, turns, false)
    }

    fn refused(response: &str) -> Failure {
        Failure::StartTlsRefused {
            response: response.into(),
        }
    }

    #[test]
    fn every_branch_sends_the_right_commands_and_ends_as_expected() {
        let closed = |during| Err(Failure::Closed { during });
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("dovecot, starttls offered", &[DOVECOT_GREETING, DOVECOT_CAPS, DOVECOT_GO, DOVECOT_CAPS_TLS, DOVECOT_BYE_A4], FULL, Ok(())),
            ("dovecot ssl=no, not offered, tried anyway", &[PLAIN_GREETING, PLAIN_CAPS, b"a2 BAD TLS support isn't enabled.\r\n", b"* BYE Logging out\r\na3 OK Logout completed.\r\n"], &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Ok(())),
            ("not offered, but the upgrade works", &[PLAIN_GREETING, PLAIN_CAPS, DOVECOT_GO, DOVECOT_CAPS_TLS, DOVECOT_BYE_A4], FULL, Ok(())),
            ("not offered, hangs up on STARTTLS", &[PLAIN_GREETING, PLAIN_CAPS], &["a1 CAPABILITY", "a2 STARTTLS"], Ok(())),
            ("not offered, command masked on the way", &[PLAIN_GREETING, PLAIN_CAPS, b"a2 BAD Error in IMAP command XXXXXXXX: Unknown command.\r\n", b"a3 OK\r\n"], &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Ok(())),
            ("refused BAD (dovecot text)", &[DOVECOT_GREETING, DOVECOT_CAPS, b"a2 BAD TLS support isn't enabled.\r\n", b"a3 OK bye\r\n"],
                &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Err(refused("a2 BAD TLS support isn't enabled."))),
            ("refused NO", &[DOVECOT_GREETING, DOVECOT_CAPS, b"a2 NO [UNAVAILABLE] no certificate\r\n"],
                &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Err(refused("a2 NO [UNAVAILABLE] no certificate"))),
            ("bye greeting", &[b"* BYE Too many connections from your IP\r\n"], &[], Err(Failure::Rejected { response: "* BYE Too many connections from your IP".into() })),
            ("preauth greeting proceeds", &[b"* PREAUTH ready\r\n", b"* CAPABILITY IMAP4rev1\r\na1 OK done\r\n", b"a2 BAD not in this state\r\n", b"a3 OK\r\n"], &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Ok(())),
            ("capability NO, no code: unknown, tried", &[b"* OK hi\r\n", b"a1 NO not now\r\n", b"a2 NO no\r\n", b"a3 OK\r\n"], &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Ok(())),
            ("capability BAD, greeting code decides", &[DOVECOT_GREETING, b"a1 BAD huh\r\n", DOVECOT_GO, b"a3 OK\r\n", b"a4 OK\r\n"], FULL, Ok(())),
            ("untagged lines before the tagged answer", &[b"* OK hi\r\n", b"* OK [ALERT] x\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\n* FLAGS ()\r\na1 OK\r\n", b"* OK still here\r\na2 OK go\r\n", b"a3 OK\r\n", b"a4 OK\r\n"], FULL, Ok(())),
            ("eof before the greeting", &[], &[], closed(DialogueStep::Greeting)),
            ("eof in a half greeting", &[b"* OK Dove"], &[], closed(DialogueStep::Greeting)),
            ("eof after the greeting", &[DOVECOT_GREETING], &["a1 CAPABILITY"], closed(DialogueStep::Capability)),
            ("eof before the tagged capability", &[DOVECOT_GREETING, b"* CAPABILITY IMAP4rev1 STARTTLS\r\n"], &["a1 CAPABILITY"], closed(DialogueStep::Capability)),
            ("eof after STARTTLS", &[DOVECOT_GREETING, DOVECOT_CAPS], &["a1 CAPABILITY", "a2 STARTTLS"], closed(DialogueStep::StartTls)),
            ("eof after TLS", &[DOVECOT_GREETING, DOVECOT_CAPS, DOVECOT_GO], &["a1 CAPABILITY", "a2 STARTTLS", "<tls>", "a3 CAPABILITY"], closed(DialogueStep::CapabilityTls)),
            ("eof after LOGOUT is normal", &[DOVECOT_GREETING, DOVECOT_CAPS, DOVECOT_GO, DOVECOT_CAPS_TLS, b"* BYE\r\n"], FULL, Ok(())),
            ("eof after a refusal keeps the refusal", &[DOVECOT_GREETING, DOVECOT_CAPS, b"a2 NO sorry\r\n"], &["a1 CAPABILITY", "a2 STARTTLS", "a3 LOGOUT"], Err(refused("a2 NO sorry"))),
            ("untagged BYE mid-dialogue", &[b"* OK hi\r\n", b"* BYE shutting down\r\n"], &["a1 CAPABILITY"], Err(Failure::Rejected { response: "* BYE shutting down".into() })),
        ];
        for (name, turns, want_sent, want) in table {
            let (imap, sent) = both(Imap::starttls, turns);
            assert_eq!(sent, *want_sent, "{name}: commands");
            assert_eq!(
                imap.outcome().map_err(Clone::clone),
                *want,
                "{name}: outcome"
            );
        }
    }

    fn atoms(list: &str) -> Vec<String> {
        list.split(' ').map(String::from).collect()
    }

    #[test]
    fn dovecot_transcript_records_both_capability_lists() {
        let turns = [
            DOVECOT_GREETING,
            DOVECOT_CAPS,
            DOVECOT_GO,
            DOVECOT_CAPS_TLS,
            DOVECOT_BYE_A4,
        ];
        let (imap, _) = both(Imap::starttls, &turns);
        let want = Transcript {
            greeting: Some(String::from_utf8_lossy(DOVECOT_GREETING).trim_end().into()),
            // The greeting code and the answer, merged without duplicates.
            capabilities: atoms(
                "IMAP4REV1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN",
            ),
            capabilities_tls: atoms(
                "IMAP4REV1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN",
            ),
            starttls_offered: Some(true),
            starttls_response: Some("a2 OK Begin TLS negotiation now.".into()),
            upgraded: true,
            ..Transcript::default()
        };
        assert_eq!(imap.transcript(), &want);
        assert_eq!(imap.step(), DialogueStep::Done);
    }

    #[test]
    fn missing_and_unknown_starttls_are_told_apart() {
        let (plain, _) = both(
            Imap::starttls,
            &[PLAIN_GREETING, PLAIN_CAPS, b"a2 BAD no\r\n", b"a3 OK\r\n"],
        );
        assert_eq!(plain.transcript().starttls_offered, Some(false));
        assert!(!plain.transcript().upgraded);
        // Not listed, yet the upgrade works: the verdict calls the list edited.
        let (hidden, _) = both(
            Imap::starttls,
            &[
                PLAIN_GREETING,
                PLAIN_CAPS,
                DOVECOT_GO,
                DOVECOT_CAPS_TLS,
                DOVECOT_BYE_A4,
            ],
        );
        let t = hidden.transcript();
        assert_eq!((t.starttls_offered, t.upgraded), (Some(false), true));
        let (unknown, _) = both(Imap::starttls, &[b"* OK hi\r\n", b"a1 BAD no\r\n"]);
        assert_eq!(unknown.transcript().starttls_offered, None);
        // The answer wins over the greeting code: a stripped CAPABILITY answer is "not offered".
        let (stripped, _) = both(Imap::starttls, &[DOVECOT_GREETING, PLAIN_CAPS]);
        assert_eq!(stripped.transcript().starttls_offered, Some(false));
        let caps = &stripped.transcript().capabilities;
        assert!(
            caps.contains(&"STARTTLS".into()),
            "the greeting code is still recorded"
        );
    }

    #[test]
    fn capability_atoms_are_upper_case() {
        let (imap, _) = both(
            Imap::starttls,
            &[
                b"* ok hi\r\n",
                b"* capability imap4rev1 StartTLS auth=plain\r\na1 ok\r\n",
                b"a2 ok\r\n",
            ],
        );
        assert_eq!(
            imap.transcript().capabilities,
            ["IMAP4REV1", "STARTTLS", "AUTH=PLAIN"]
        );
    }

    #[test]
    fn another_protocol_is_named_and_nothing_is_sent() {
        let http: &[u8] = b"HTTP/1.1 403 Forbidden\r\nServer: squid/5.7\r\nContent-Type: text/html\r\n\r\n<html>blocked</html>";
        let tls_alert: &[u8] = &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46];
        #[rustfmt::skip]
        let table: &[(&[u8], &str, Option<&str>)] = &[
            (http, "HTTP/1.1 403 Forbidden", Some("http")),
            (tls_alert, "\u{15}\u{3}\u{1}\0\u{2}\u{2}F", Some("tls")),
            (b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", Some("ssh")),
            (b"+OK Dovecot (Debian) ready.\r\n", "+OK Dovecot (Debian) ready.", Some("pop3")),
            (b"* OKAY not quite\r\n", "* OKAY not quite", None),
            (b"\r\n", "", None),
        ];
        for (bytes, seen, looks_like) in table {
            let (imap, sent) = both(Imap::starttls, &[bytes]);
            assert!(sent.is_empty(), "{seen:?}: sent {sent:?}");
            let want = Failure::NotProtocol {
                expected: "imap",
                seen: (*seen).into(),
                looks_like: *looks_like,
            };
            assert_eq!(imap.outcome(), Err(&want));
            assert_eq!(imap.transcript().greeting, None);
        }
    }

    #[test]
    fn an_endless_line_fails_at_the_cap_and_keeps_nothing() {
        for greeting in [true, false] {
            let mut imap = Imap::starttls();
            if !greeting {
                imap.receive(b"* OK hi\r\n");
                assert_eq!(imap.poll(), Action::Send(b"a1 CAPABILITY\r\n".to_vec()));
                assert_eq!(imap.poll(), Action::Recv);
            }
            let mut line = b"* OK ".to_vec();
            line.resize(MAX_LINE + 1, b'A');
            imap.receive(&line[..MAX_LINE]);
            assert_eq!(
                imap.poll(),
                Action::Recv,
                "exactly MAX_LINE bytes may still end in a LF"
            );
            imap.receive(&line[MAX_LINE..]);
            assert_eq!(imap.buffered(), 0);
            assert_eq!(imap.poll(), Action::Done);
            assert_eq!(
                imap.outcome(),
                Err(&Failure::LineTooLong { limit: MAX_LINE })
            );
            imap.receive(b"more\r\n");
            assert_eq!(
                (imap.poll(), imap.buffered()),
                (Action::Done, 0),
                "input after Done is ignored"
            );
        }
    }

    #[test]
    fn too_much_data_in_total_fails() {
        let mut imap = Imap::starttls();
        imap.receive(b"* OK hi\r\n");
        assert!(matches!(imap.poll(), Action::Send(_)));
        let line = b"* OK [ALERT] filler filler filler filler filler filler filler filler\r\n";
        let mut action = Action::Recv;
        for _ in 0..=MAX_TOTAL / line.len() {
            imap.receive(line);
            action = imap.poll();
        }
        assert_eq!(action, Action::Done);
        assert_eq!(
            imap.outcome(),
            Err(&Failure::TooMuchData { limit: MAX_TOTAL })
        );
    }

    #[test]
    fn bytes_after_the_go_ahead_are_counted_and_dropped() {
        let mut imap = Imap::starttls();
        let go: &[u8] = b"a2 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n";
        let turns = [
            DOVECOT_GREETING,
            DOVECOT_CAPS,
            go,
            b"a3 OK\r\n",
            b"a4 OK\r\n",
        ];
        let sent = run(&mut imap, &turns, false, false);
        assert_eq!(
            sent, FULL,
            "the upgrade still happens; the verdict layer judges"
        );
        let t = imap.transcript();
        assert_eq!(t.injected_after_upgrade, 35);
        assert_eq!(
            t.injected_preview.as_deref(),
            Some("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")
        );
        assert!(
            t.capabilities_tls.is_empty(),
            "injected capabilities are not parsed"
        );
        assert_eq!(imap.outcome(), Ok(()));
    }

    #[test]
    fn literals_and_stray_lines_are_malformed() {
        #[rustfmt::skip]
        let table: &[&[&[u8]]] = &[
            &[b"* OK hi\r\n", b"* CAPABILITY {12}\r\n"],
            &[b"* OK hi {5+}\r\n"],
            &[b"* OK hi\r\n", b"+ go ahead\r\n"],
            &[b"* OK hi\r\n", b"a7 OK wrong tag\r\n"],
            &[b"* OK hi\r\n", b"a1 MAYBE\r\n"],
            &[b"* OK hi\r\n", b"* CAPABILITY STARTTLS\r\na1 OK\r\n", b"a2 PERHAPS\r\n"],
        ];
        for turns in table {
            let (imap, _) = both(Imap::starttls, turns);
            assert!(
                matches!(imap.outcome(), Err(Failure::Malformed { .. })),
                "{turns:?}: {:?}",
                imap.outcome()
            );
        }
    }

    #[test]
    fn implicit_reads_the_greeting_and_logs_out() {
        let greeting: &[u8] = b"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.\r\n";
        let (imap, sent) = both(
            Imap::implicit,
            &[
                greeting,
                b"* BYE Logging out\r\na1 OK Logout completed.\r\n",
            ],
        );
        assert_eq!(sent, ["a1 LOGOUT"]);
        assert_eq!(imap.outcome(), Ok(()));
        let t = imap.transcript();
        assert_eq!(
            t.capabilities.first().map(String::as_str),
            Some("IMAP4REV1")
        );
        assert_eq!((t.starttls_offered, t.upgraded), (None, false));
        let (bye, sent) = both(Imap::implicit, &[b"* BYE go away\r\n"]);
        assert!(sent.is_empty());
        assert!(matches!(bye.outcome(), Err(Failure::Rejected { .. })));
    }

    #[test]
    fn steps_are_named_and_starttls_waits_for_the_driver() {
        let mut imap = Imap::starttls();
        assert_eq!(imap.outcome(), Err(&Failure::Unfinished));
        assert_eq!(
            (imap.step(), imap.poll()),
            (DialogueStep::Greeting, Action::Recv)
        );
        imap.tls_established(); // out of order: ignored
        imap.receive(DOVECOT_GREETING);
        assert!(matches!(imap.poll(), Action::Send(_)));
        assert_eq!(imap.step(), DialogueStep::Capability);
        imap.receive(DOVECOT_CAPS);
        assert_eq!(imap.poll(), Action::Send(b"a2 STARTTLS\r\n".to_vec()));
        assert_eq!(
            (imap.step(), imap.poll()),
            (DialogueStep::StartTls, Action::Recv)
        );
        imap.receive(DOVECOT_GO);
        assert_eq!(imap.poll(), Action::StartTls);
        assert_eq!(
            (imap.step(), imap.poll()),
            (DialogueStep::Tls, Action::StartTls)
        );
        imap.tls_established();
        assert_eq!(imap.poll(), Action::Send(b"a3 CAPABILITY\r\n".to_vec()));
        assert_eq!(imap.step(), DialogueStep::CapabilityTls);
        imap.receive(DOVECOT_CAPS_TLS);
        assert_eq!(imap.poll(), Action::Send(b"a4 LOGOUT\r\n".to_vec()));
        assert_eq!(imap.step(), DialogueStep::Logout);
        imap.eof();
        assert_eq!(
            (imap.poll(), imap.step()),
            (Action::Done, DialogueStep::Done)
        );
    }
}
