//! LDAP dialogue (RFC 4511 §4.14, RFC 4513 §3): the `StartTLS` extended operation and an unbind on 389, a root DSE read and an unbind on 636, over a small definite-length BER reader.

use super::ber::{
    header, integer, malformed, tlv, Reader, BOOLEAN, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE,
    SET,
};
use super::{
    add_capability, text, Action, Core, DialogueStep, Expect, Failure, Protocol, MAX_TEXT,
};

const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";
const NOTICE_OF_DISCONNECTION_OID: &[u8] = b"1.3.6.1.4.1.1466.20036";
const MESSAGE: Expect = Expect {
    protocol: "ldap",
    prefixes: &[&[SEQUENCE]],
};
/// Root DSE `name=value` entries kept (each cut to `MAX_CAP_LEN` characters).
pub const MAX_ROOT_DSE: usize = 16;
const ROOT_DSE_ATTRIBUTES: [&str; 4] = [
    "supportedLDAPVersion",
    "vendorName",
    "vendorVersion",
    "namingContexts",
];

const UNBIND_REQUEST: u8 = 0x42; // [APPLICATION 2] primitive NULL
const SEARCH_REQUEST: u8 = 0x63; // [APPLICATION 3]
const SEARCH_ENTRY: u8 = 0x64; // [APPLICATION 4]
const SEARCH_DONE: u8 = 0x65; // [APPLICATION 5]
const SEARCH_REFERENCE: u8 = 0x73; // [APPLICATION 19]
const EXTENDED_REQUEST: u8 = 0x77; // [APPLICATION 23]
const EXTENDED_RESPONSE: u8 = 0x78; // [APPLICATION 24]
const REQUEST_NAME: u8 = 0x80; // [0] primitive
const REFERRAL: u8 = 0xa3; // [3] constructed
const PRESENT_FILTER: u8 = 0x87; // [7] primitive
const RESPONSE_NAME: u8 = 0x8a; // [10] primitive
const RESPONSE_VALUE: u8 = 0x8b; // [11] primitive

fn message(id: u8, op: &[u8]) -> Vec<u8> {
    tlv(SEQUENCE, &[&tlv(INTEGER, &[id])[..], op].concat())
}

/// The `StartTLS` `ExtendedRequest`, `messageID` 1 (31 bytes).
#[must_use]
pub fn start_tls_request() -> Vec<u8> {
    message(1, &tlv(EXTENDED_REQUEST, &tlv(REQUEST_NAME, STARTTLS_OID)))
}

/// `UnbindRequest` with `messageID` `id`.
#[must_use]
pub fn unbind_request(id: u8) -> Vec<u8> {
    message(id, &tlv(UNBIND_REQUEST, &[]))
}

/// Anonymous base-object search of the root DSE, `messageID` 1: `(objectClass=*)`, time limit 10 s.
#[must_use]
pub fn root_dse_request() -> Vec<u8> {
    let attributes: Vec<u8> = ROOT_DSE_ATTRIBUTES
        .iter()
        .flat_map(|a| tlv(OCTET_STRING, a.as_bytes()))
        .collect();
    let search = [
        tlv(OCTET_STRING, b""),              // baseObject ""
        tlv(ENUMERATED, &[0]),               // scope baseObject
        tlv(ENUMERATED, &[0]),               // derefAliases neverDerefAliases
        tlv(INTEGER, &[0]),                  // sizeLimit
        tlv(INTEGER, &[10]),                 // timeLimit
        tlv(BOOLEAN, &[0]),                  // typesOnly FALSE
        tlv(PRESENT_FILTER, b"objectClass"), // filter (objectClass=*)
        tlv(SEQUENCE, &attributes),
    ]
    .concat();
    message(1, &tlv(SEARCH_REQUEST, &search))
}

/// RFC 4511 §4.1.9 / Appendix A names of result codes.
#[must_use]
pub fn result_code_name(code: i64) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        80 => "other",
        _ => "unknown",
    }
}

/// The COMPONENTS OF `LDAPResult`, plus an `ExtendedResponse`'s `responseName`.
struct LdapResult {
    code: i64,
    diagnostic: String,
    response_name: Option<Vec<u8>>,
}

impl LdapResult {
    fn parse(content: &[u8]) -> Result<Self, Failure> {
        let mut r = Reader::new(content);
        let code = integer(r.expect(ENUMERATED, "resultCode")?)?;
        r.expect(OCTET_STRING, "matchedDN")?;
        let diagnostic = text(r.expect(OCTET_STRING, "diagnosticMessage")?, MAX_TEXT);
        let mut response_name = None;
        while let Some((tag, value)) = r.next()? {
            match tag {
                REFERRAL | RESPONSE_VALUE => {}
                RESPONSE_NAME => response_name = Some(value.to_vec()),
                _ => {
                    return Err(malformed(format!(
                        "unexpected tag 0x{tag:02x} in LDAPResult"
                    )))
                }
            }
        }
        Ok(LdapResult {
            code,
            diagnostic,
            response_name,
        })
    }

    /// `resultCode N (name)` and `: diagnostic` when there is one.
    fn summary(&self) -> String {
        let base = format!("resultCode {} ({})", self.code, result_code_name(self.code));
        if self.diagnostic.is_empty() {
            base
        } else {
            format!("{base}: {}", self.diagnostic)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Send the first request.
    Start,
    /// Read the answer(s) to it.
    Answer,
    AwaitTls,
}

/// The LDAP machine. The client speaks first.
#[derive(Debug)]
pub struct Ldap {
    core: Core,
    step: Step,
    implicit: bool,
}

impl Ldap {
    /// Port 389: `StartTLS` (`messageID` 1) → on success, TLS → `UnbindRequest` (`messageID` 2).
    /// A non-zero resultCode is `StartTlsRefused`, followed by the unbind.
    #[must_use]
    pub fn starttls() -> Self {
        Ldap {
            core: Core::new(false, MESSAGE),
            step: Step::Start,
            implicit: false,
        }
    }

    /// Port 636, run after TLS is up: root DSE search (`messageID` 1) → `UnbindRequest` (2).
    #[must_use]
    pub fn implicit() -> Self {
        Ldap {
            core: Core::new(false, MESSAGE),
            step: Step::Start,
            implicit: true,
        }
    }

    /// The next complete `LDAPMessage`, removed from the buffer; `None` while incomplete.
    fn next_message(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        let pending = self.core.inbox.pending();
        match pending.first() {
            None => return Ok(None),
            // A foreign first answer is judged by the inbox once a line, 120 bytes or eof is in.
            Some(&b) if b != SEQUENCE && self.core.inbox.expect.is_some() => return Ok(None),
            Some(&b) if b != SEQUENCE => {
                return Err(malformed(format!(
                    "LDAPMessage tag 0x{b:02x}, expected 0x30"
                )))
            }
            Some(_) => {}
        }
        match header(pending)? {
            Some((_, hl, len)) if hl + len <= pending.len() => {
                let msg = pending[hl..hl + len].to_vec();
                self.core.inbox.consume(hl + len);
                self.core.inbox.expect = None;
                Ok(Some(msg))
            }
            _ => Ok(None),
        }
    }

    fn unbind_and_finish(&mut self) {
        self.core.send(unbind_request(2));
        self.core.finish();
    }

    fn on_message(&mut self, body: &[u8]) -> Result<(), Failure> {
        let mut r = Reader::new(body);
        let id = integer(r.expect(INTEGER, "messageID")?)?;
        let Some((op, content)) = r.next()? else {
            return Err(malformed("protocolOp missing"));
        };
        // Any controls [0] that follow are ignored.
        if id == 0 && op == EXTENDED_RESPONSE {
            // Unsolicited notification (RFC 4511 §4.4); only the Notice of Disconnection matters.
            let result = LdapResult::parse(content)?;
            if result.response_name.as_deref() == Some(NOTICE_OF_DISCONNECTION_OID) {
                let response = format!("notice of disconnection, {}", result.summary());
                return Err(Failure::Rejected { response });
            }
            return Ok(());
        }
        if id != 1 {
            return Err(malformed(format!("messageID {id}, expected 1")));
        }
        match (self.implicit, op) {
            (false, EXTENDED_RESPONSE) => {
                let result = LdapResult::parse(content)?;
                let summary = result.summary();
                self.core.transcript.starttls_response = Some(summary.clone());
                if result.code == 0 {
                    self.core.transcript.starttls_offered = Some(true);
                    self.core.begin_tls();
                    self.step = Step::AwaitTls;
                } else {
                    self.core
                        .fail(Failure::StartTlsRefused { response: summary });
                    self.unbind_and_finish();
                }
            }
            (true, SEARCH_ENTRY) => self.on_entry(content)?,
            (true, SEARCH_REFERENCE) => {}
            (true, SEARCH_DONE) => {
                self.core.transcript.root_dse_result = Some(LdapResult::parse(content)?.summary());
                self.unbind_and_finish();
            }
            _ => return Err(malformed(format!("unexpected protocolOp 0x{op:02x}"))),
        }
        Ok(())
    }

    /// `SearchResultEntry`: `objectName`, then SEQUENCE OF { type, SET OF value }.
    fn on_entry(&mut self, content: &[u8]) -> Result<(), Failure> {
        let mut r = Reader::new(content);
        r.expect(OCTET_STRING, "objectName")?;
        let mut attributes = Reader::new(r.expect(SEQUENCE, "attributes")?);
        while let Some((tag, attribute)) = attributes.next()? {
            if tag != SEQUENCE {
                return Err(malformed(format!("attribute tag 0x{tag:02x}")));
            }
            let mut a = Reader::new(attribute);
            let name = text(a.expect(OCTET_STRING, "attribute type")?, MAX_TEXT);
            let mut values = Reader::new(a.expect(SET, "attribute values")?);
            while let Some((_, value)) = values.next()? {
                let list = &mut self.core.transcript.capabilities;
                if list.len() < MAX_ROOT_DSE {
                    add_capability(list, &format!("{name}={}", text(value, MAX_TEXT)));
                }
            }
        }
        Ok(())
    }
}

impl Protocol for Ldap {
    fn core(&self) -> &Core {
        &self.core
    }

    fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    fn advance(&mut self) -> Option<Action> {
        match self.step {
            Step::AwaitTls => return Some(Action::StartTls),
            Step::Start => {
                let request = if self.implicit {
                    root_dse_request()
                } else {
                    start_tls_request()
                };
                self.core.send(request);
                self.step = Step::Answer;
            }
            Step::Answer => match self.next_message() {
                Ok(Some(body)) => {
                    if let Err(f) = self.on_message(&body) {
                        self.core.abort(f);
                    }
                }
                Ok(None) if self.core.inbox.at_eof() => {
                    let f = self.core.inbox.eof_failure(self.step_name());
                    self.core.abort(f);
                }
                Ok(None) => return Some(Action::Recv),
                Err(f) => self.core.abort(f),
            },
        }
        None
    }

    fn upgraded(&mut self) {
        if self.step == Step::AwaitTls && !self.core.is_done() {
            self.core.transcript.upgraded = true;
            self.unbind_and_finish();
        }
    }

    fn step_name(&self) -> DialogueStep {
        match (self.core.is_done(), self.step, self.implicit) {
            (true, _, _) => DialogueStep::Done,
            (false, Step::AwaitTls, _) => DialogueStep::Tls,
            (false, Step::Start | Step::Answer, false) => DialogueStep::StartTls,
            (false, Step::Start | Step::Answer, true) => DialogueStep::RootDse,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::script::{self, hex, hex_string, run};
    use super::super::MAX_TOTAL;
    use super::super::{Dialogue, Script};
    use super::*;

    const STARTTLS_REQUEST: &str = "30 1d 02 01 01 77 18 80 16 31 2e 33 2e 36 2e 31 2e 34 2e 31 2e 31 34 36 36 2e 32 30 30 33 37";
    const UNBIND: &str = "3005020102 4200";
    // Captured from OpenLDAP slapd 2.5.13 (Debian 12) on 127.0.0.1: with and without a TLS certificate.
    const SLAPD_SUCCESS: &str = "30 0c 02 01 01 78 07 0a 01 00 04 00 04 00";
    const SLAPD_NO_TLS: &str = "30 2a 02 01 01 78 25 0a 01 02 04 00 04 1e 75 6e 73 75 70 70 6f 72 74 65 64 20 65 78 74 65 6e 64 65 64 20 6f 70 65 72 61 74 69 6f 6e";
    const SLAPD_ROOT_DSE: &str = "30 4d 02 01 01 64 48 04 00 30 44 30 25 04 0e 6e 61 6d 69 6e 67 43 6f 6e 74 65 78 74 73 31 13 04 11 64 63 3d 65 78 61 6d 70 6c 65 2c 64 63 3d 63 6f 6d 30 1b 04 14 73 75 70 70 6f 72 74 65 64 4c 44 41 50 56 65 72 73 69 6f 6e 31 03 04 01 33 30 0c 02 01 01 65 07 0a 01 00 04 00 04 00";
    // The search request slapd answered above (built by hand from RFC 4511 §4.5.1).
    const ROOT_DSE_REQUEST: &str = "30 66 02 01 01 63 61 04 00 0a 01 00 0a 01 00 02 01 00 02 01 0a 01 01 00 87 0b 6f 62 6a 65 63 74 43 6c 61 73 73 30 41 04 14 73 75 70 70 6f 72 74 65 64 4c 44 41 50 56 65 72 73 69 6f 6e 04 0a 76 65 6e 64 6f 72 4e 61 6d 65 04 0d 76 65 6e 64 6f 72 56 65 72 73 69 6f 6e 04 0e 6e 61 6d 69 6e 67 43 6f 6e 74 65 78 74 73";
    // domain.md §4.3 (ldap3_proto-verified).
    const SUCCESS_WITH_NAME: &str = "30 24 02 01 01 78 1f 0a 01 00 04 00 04 00 8a 16 31 2e 33 2e 36 2e 31 2e 34 2e 31 2e 31 34 36 36 2e 32 30 30 33 37";
    // Built from RFC 4511 with tlv(): Active Directory-style four-octet lengths everywhere;
    // an unsolicited (messageID 0) notification other than a disconnect; a Notice of
    // Disconnection (resultCode 52, "idle timeout", responseName 1.3.6.1.4.1.1466.20036).
    const SUCCESS_LONG_FORM: &str = "30 84 00 00 00 3c 02 84 00 00 00 01 01 78 84 00 00 00 2f 0a 84 00 00 00 01 00 04 84 00 00 00 00 04 84 00 00 00 00 8a 84 00 00 00 16 31 2e 33 2e 36 2e 31 2e 34 2e 31 2e 31 34 36 36 2e 32 30 30 33 37";
    const UNSOLICITED: &str = "30 0c 02 01 00 78 07 0a 01 00 04 00 04 00";
    const NOTICE: &str = "30 30 02 01 00 78 2b 0a 01 34 04 00 04 0c 69 64 6c 65 20 74 69 6d 65 6f 75 74 8a 16 31 2e 33 2e 36 2e 31 2e 34 2e 31 2e 31 34 36 36 2e 32 30 30 33 36";
    const PROTOCOL_ERROR: &str = "30 0d 02 01 01 78 08 0a 01 02 04 00 04 01 78";
    const UNAVAILABLE: &str = "30 0c 02 01 01 78 07 0a 01 34 04 00 04 00";

    /// name, server turns, sent (hex), STARTTLS response, outcome.
    type Row<'a> = (
        &'a str,
        Vec<&'a [u8]>,
        &'a [&'a str],
        Option<&'a str>,
        Result<(), Failure>,
    );

    fn both(make: fn() -> Ldap, turns: &[&[u8]]) -> (Ldap, Vec<String>) {
        script::both(make, turns, true)
    }

    #[test]
    fn requests_are_byte_exact() {
        assert_eq!(start_tls_request(), hex(STARTTLS_REQUEST));
        assert_eq!(start_tls_request().len(), 31);
        assert_eq!(unbind_request(2), hex(UNBIND));
        assert_eq!(root_dse_request(), hex(ROOT_DSE_REQUEST));
        assert_eq!(result_code_name(53), "unwillingToPerform");
        assert_eq!(result_code_name(4242), "unknown");
    }

    #[test]
    fn starttls_answers_end_as_expected() {
        let (req, unbind) = (hex_string(&hex(STARTTLS_REQUEST)), hex_string(&hex(UNBIND)));
        let upgraded = [req.as_str(), "<tls>", unbind.as_str()];
        let refused_then_unbind = [req.as_str(), unbind.as_str()];
        let refused = |r: &str| Err(Failure::StartTlsRefused { response: r.into() });
        let [slapd, no_tls, named, long, unsolicited, notice, protocol_error, unavailable] = [
            SLAPD_SUCCESS,
            SLAPD_NO_TLS,
            SUCCESS_WITH_NAME,
            SUCCESS_LONG_FORM,
            UNSOLICITED,
            NOTICE,
            PROTOCOL_ERROR,
            UNAVAILABLE,
        ]
        .map(hex);
        #[rustfmt::skip]
        let table: &[Row] = &[
            ("slapd success", vec![&slapd], &upgraded, Some("resultCode 0 (success)"), Ok(())),
            ("success with responseName", vec![&named], &upgraded, Some("resultCode 0 (success)"), Ok(())),
            ("AD-style long-form lengths", vec![&long], &upgraded, Some("resultCode 0 (success)"), Ok(())),
            ("ignored unsolicited notification first", vec![&unsolicited, &slapd], &upgraded, Some("resultCode 0 (success)"), Ok(())),
            ("slapd without TLS", vec![&no_tls], &refused_then_unbind, Some("resultCode 2 (protocolError): unsupported extended operation"),
                refused("resultCode 2 (protocolError): unsupported extended operation")),
            ("protocolError", vec![&protocol_error], &refused_then_unbind, Some("resultCode 2 (protocolError): x"), refused("resultCode 2 (protocolError): x")),
            ("unavailable", vec![&unavailable], &refused_then_unbind, Some("resultCode 52 (unavailable)"), refused("resultCode 52 (unavailable)")),
            ("notice of disconnection", vec![&notice], &[req.as_str()], None,
                Err(Failure::Rejected { response: "notice of disconnection, resultCode 52 (unavailable): idle timeout".into() })),
            ("eof without an answer", vec![], &[req.as_str()], None, Err(Failure::Closed { during: DialogueStep::StartTls })),
            ("eof inside the answer", vec![&slapd[..9]], &[req.as_str()], None, Err(Failure::Closed { during: DialogueStep::StartTls })),
        ];
        for (name, turns, want_sent, response, want) in table {
            let (ldap, sent) = both(Ldap::starttls, turns);
            assert_eq!(sent, *want_sent, "{name}: sent");
            assert_eq!(
                ldap.transcript().starttls_response.as_deref(),
                *response,
                "{name}: response"
            );
            assert_eq!(ldap.transcript().upgraded, want.is_ok(), "{name}: upgraded");
            assert_eq!(
                ldap.outcome().map_err(Clone::clone),
                *want,
                "{name}: outcome"
            );
        }
    }

    #[test]
    fn broken_ber_is_malformed_or_too_much() {
        #[rustfmt::skip]
        let table: &[(&str, &str, &str)] = &[
            ("2^31 length", "30 84 80 00 00 00", "malformed"),
            ("length over MAX_TOTAL", "30 83 01 00 01", "malformed"),
            ("indefinite length", "30 80 02 01 01", "malformed"),
            ("five length octets", "30 85 00 00 00 00 0c", "malformed"),
            ("multi-byte tag", "30 05 02 01 01 3f 00", "malformed"),
            ("first byte not 0x30", "3f 01 00", "not-protocol"),
            ("wrong messageID", "30 0c 02 01 05 78 07 0a 01 00 04 00 04 00", "malformed"),
            ("wrong protocolOp", "30 0c 02 01 01 65 07 0a 01 00 04 00 04 00", "malformed"),
            ("inner value overruns", "30 0c 02 01 01 78 07 0a 05 00 04 00 04 00", "malformed"),
            ("resultCode not ENUMERATED", "30 0c 02 01 01 78 07 02 01 00 04 00 04 00", "malformed"),
            ("empty INTEGER", "30 0b 02 00 78 07 0a 01 00 04 00 04 00", "malformed"),
            ("no protocolOp", "30 03 02 01 01", "malformed"),
            ("stray tag in LDAPResult", "30 0e 02 01 01 78 09 0a 01 00 04 00 04 00 05 00", "malformed"),
        ];
        for (name, bytes, label) in table {
            let (ldap, _) = both(Ldap::starttls, &[&hex(bytes)]);
            assert_eq!(
                ldap.outcome().map_err(Failure::label),
                Err(*label),
                "{name}"
            );
            assert!(!ldap.transcript().upgraded);
        }
    }

    #[test]
    fn a_huge_length_ends_at_its_first_length_octet() {
        let mut ldap = Ldap::starttls();
        assert!(matches!(ldap.poll(), Action::Send(_)));
        for b in hex("30 84 80") {
            assert_eq!(ldap.poll(), Action::Recv);
            ldap.receive(&[b]);
        }
        assert_eq!(
            ldap.poll(),
            Action::Done,
            "no need to wait for the other length octets"
        );
        assert_eq!(
            ldap.outcome(),
            Err(&Failure::Malformed {
                detail: format!(
                    "a BER length announced beyond the {MAX_TOTAL} bytes this client reads"
                )
            })
        );
        assert_eq!(ldap.buffered(), 0);
    }

    #[test]
    fn another_protocol_is_named() {
        #[rustfmt::skip]
        let table: &[(&[u8], Option<&str>)] = &[
            (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", Some("http")),
            (&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32], Some("tls")),
            (b"SSH-2.0-OpenSSH_9.2p1\r\n", Some("ssh")),
            (b"* OK IMAP ready\r\n", Some("imap")),
        ];
        for (bytes, looks_like) in table {
            let (ldap, _) = both(Ldap::starttls, &[bytes]);
            assert!(
                matches!(ldap.outcome(), Err(Failure::NotProtocol { expected: "ldap", looks_like: l, .. }) if l == looks_like),
                "{bytes:?}: {:?}",
                ldap.outcome()
            );
        }
    }

    #[test]
    fn bytes_after_success_are_counted_and_dropped() {
        let mut ldap = Ldap::starttls();
        let mut answer = hex(SLAPD_SUCCESS);
        answer.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x05]);
        let sent = run(&mut ldap, &[&answer], false, true);
        assert_eq!(sent[1], "<tls>");
        assert_eq!(ldap.transcript().injected_after_upgrade, 5);
        assert_eq!(ldap.outcome(), Ok(()));
    }

    #[test]
    fn implicit_reads_the_root_dse_then_unbinds() {
        let (ldap, sent) = both(Ldap::implicit, &[&hex(SLAPD_ROOT_DSE)]);
        assert_eq!(
            sent,
            [hex_string(&hex(ROOT_DSE_REQUEST)), hex_string(&hex(UNBIND))]
        );
        assert_eq!(ldap.outcome(), Ok(()));
        let t = ldap.transcript();
        assert_eq!(
            t.capabilities,
            ["namingContexts=dc=example,dc=com", "supportedLDAPVersion=3"]
        );
        assert_eq!(t.root_dse_result.as_deref(), Some("resultCode 0 (success)"));
        assert_eq!((t.starttls_offered, t.upgraded), (None, false));
        assert_eq!(ldap.step(), DialogueStep::Done);
    }

    #[test]
    fn implicit_caps_values_skips_references_and_reports_a_refusal() {
        let value = |v: &str| tlv(OCTET_STRING, v.as_bytes());
        let mut values = value(&"v".repeat(300));
        values.extend((0..20).flat_map(|i| value(&format!("dc=n{i}"))));
        let attribute = [value("namingContexts"), tlv(SET, &values)].concat();
        let entry = [value(""), tlv(SEQUENCE, &tlv(SEQUENCE, &attribute))].concat();
        let entry = message(1, &tlv(SEARCH_ENTRY, &entry));
        let reference = message(1, &tlv(SEARCH_REFERENCE, &value("ldap://elsewhere/")));
        let result = [
            tlv(ENUMERATED, &[50]),
            value(""),
            value("no anonymous access"),
        ]
        .concat();
        let done = message(1, &tlv(SEARCH_DONE, &result));
        let (ldap, sent) = both(Ldap::implicit, &[&entry, &reference, &done]);
        assert_eq!(sent.len(), 2, "search and unbind");
        let t = ldap.transcript();
        assert_eq!(t.capabilities.len(), MAX_ROOT_DSE);
        assert_eq!(
            t.capabilities[0],
            format!("namingContexts={}", "v".repeat(185))
        );
        assert_eq!(t.capabilities[1], "namingContexts=dc=n0");
        assert_eq!(
            t.root_dse_result.as_deref(),
            Some("resultCode 50 (insufficientAccessRights): no anonymous access")
        );
        assert_eq!(
            ldap.outcome(),
            Ok(()),
            "an LDAP answer, even a refusal, proves the service"
        );
        let (eof, _) = both(Ldap::implicit, &[&entry]);
        assert_eq!(
            eof.outcome(),
            Err(&Failure::Closed {
                during: DialogueStep::RootDse
            })
        );
    }
}
