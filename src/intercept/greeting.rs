//! Greetings that say they come from a proxy or a mail scanner (issue 13): a product of the
//! signature database named as whole words, or a word such as "proxy" or "scanning". Only
//! whole words outside host names count, so `mail-proxy.example.com` or "Courier" do not.

use super::signatures::{Signature, Signatures};

/// Words by which a mail proxy or scanner describes itself in its greeting.
const WORDS: &[&str] = &[
    "proxy",
    "scanning",
    "scanner",
    "scanned",
    "antivirus",
    "anti-virus",
    "virus",
    "antispam",
    "anti-spam",
];

/// What a greeting gives away about what answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clue<'a> {
    /// A product of the signature database, by name (its first entry).
    Product(&'a Signature),
    /// A word that says "proxy" or "scanner", but no product.
    Word(&'static str),
}

/// The clue in `greeting`, a product before a word.
#[must_use]
pub fn clue<'a>(signatures: &'a Signatures, greeting: &str) -> Option<Clue<'a>> {
    let words = words(greeting);
    for sig in signatures.entries() {
        if names(&sig.product)
            .iter()
            .any(|name| !name.is_empty() && contains_run(&words, name))
        {
            return Some(Clue::Product(sig));
        }
    }
    WORDS
        .iter()
        .find(|w| words.iter().any(|x| x == *w))
        .map(|w| Clue::Word(w))
}

/// The greeting's words, lower case, without the punctuation around them; a host name (a
/// dot inside) or a response code such as `[CAPABILITY …]` is one word, so it cannot match.
fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The names a product goes by in a greeting, each as words: `Blue Coat / Symantec ProxySG`
/// is two, `Burp Suite (PortSwigger)` is `burp suite`; generic entries (`an HTTP proxy`)
/// name no product.
fn names(product: &str) -> Vec<Vec<String>> {
    let bare = product.split('(').next().unwrap_or(product);
    if bare.starts_with("a ") || bare.starts_with("an ") {
        return Vec::new();
    }
    bare.split(" / ").map(words).collect()
}

fn contains_run(words: &[String], name: &[String]) -> bool {
    words.windows(name.len()).any(|w| w == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> Signatures {
        Signatures::embedded().expect("embedded signatures")
    }

    /// Greetings of real servers, as they send them: none names a proxy or a scanner.
    #[test]
    fn real_servers_greetings_are_not_clues() {
        let sigs = embedded();
        for greeting in [
            // Dovecot's default login_greeting, doc/example-config/dovecot.conf in
            // https://github.com/dovecot/core; Debian and Ubuntu builds add the distribution.
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.",
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Ubuntu) ready.",
            "+OK Dovecot ready.",
            // Courier-IMAP, as GitLab's reply-by-email setup shows it
            // (https://gitlab.com/gitlab-org/gitlab, doc/administration/reply_by_email_postfix_setup.md).
            "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION] Courier-IMAP ready. Copyright 1998-2011 Double Precision, Inc.  See COPYING for distribution information.",
            "+OK Hello there.",
            // Cyrus: the Cyrus install-testing guide (cyrus_imap/doc/install-testing.html,
            // https://opensource.apple.com/source/CyrusIMAP/CyrusIMAP-191/) and GNOME Geary's
            // client tests (cyrus_2_4_greeting).
            "* OK foobar.andrew.cmu.edu Cyrus IMAP4 v2.0.0 server ready",
            "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE AUTH=PLAIN SASL-IR] mogul Cyrus IMAP v2.4.12-Debian-2.4.12-2 server ready",
            // Microsoft Exchange (MailKit's ImapEngine recognises it by this text,
            // https://github.com/jstedfast/MailKit, MailKit/Net/Imap/ImapEngine.cs).
            "* OK The Microsoft Exchange IMAP4 service is ready.",
            "* OK The Microsoft Exchange IMAP4 service is ready. [TQBCAFgAUABSADAAMQBDAEEAMAAwADEALgBlAHUAcgBwAHIAZAAwADEALgBwAHIAbwBkAC4AZQB4AGMAaABhAG4AZwBlAGwAYQBiAHMALgBjAG8AbQA=]",
            "+OK The Microsoft Exchange POP3 service is ready.",
            // HCL Domino's default (its admin guide, "Specifying the default IMAP service
            // greetings"), and this tool's own responder (what MailStore paths meet before
            // go-live; MailStore Server's own IMAP greeting text is not published).
            "* OK Domino IMAP4 Server Release 12.0.2 ready Wed, 17 April 2009 17:57:13 -0400",
            "* OK [CAPABILITY IMAP4rev1 STARTTLS] mssp-check responder ready",
            // Host names with the words inside are host names.
            "* OK mail-proxy.example.com Cyrus IMAP v3.6.1 server ready",
            "+OK scanner01.example.net POP3 server ready",
        ] {
            assert_eq!(clue(&sigs, greeting), None, "{greeting}");
        }
    }

    #[test]
    fn products_and_words_are_clues() {
        let sigs = embedded();
        match clue(&sigs, "* OK Kaspersky Anti-Virus IMAP proxy ready") {
            Some(Clue::Product(s)) => assert_eq!(s.product, "Kaspersky"),
            other => panic!("{other:?}"),
        }
        match clue(&sigs, "+OK ESET Mail Security POP3 ready") {
            Some(Clue::Product(s)) => assert_eq!(s.product, "ESET"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            clue(&sigs, "* OK IMAP proxy ready"),
            Some(Clue::Word("proxy"))
        );
        assert_eq!(
            clue(&sigs, "+OK (virus scanning enabled) POP3 ready"),
            Some(Clue::Word("scanning"))
        );
        // Part of a word is not the word.
        assert_eq!(clue(&sigs, "* OK Proxymoron ready"), None);
    }
}
