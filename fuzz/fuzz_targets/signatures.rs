//! The signature loader fed arbitrary text, and what loads matched against the input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mssp_check::intercept::signatures::{Field, Signatures};

/// The embedded set, parsed once: parsing it each run would be most of the time.
static EMBEDDED: OnceLock<Option<Signatures>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(sigs) = Signatures::parse(std::path::Path::new("fuzz.toml"), text) {
        let _ = sigs.match_greeting(Field::ImapGreeting, text);
        let _ = sigs.match_issuer(text);
        let _ = sigs.match_body(text);
    }
    // The embedded set against the input as a greeting, an issuer and headers.
    if let Some(embedded) = EMBEDDED.get_or_init(|| Signatures::embedded().ok()) {
        let _ = embedded.match_greeting(Field::Pop3Greeting, text);
        let _ = embedded.match_issuer(text);
        let _ = embedded.match_header("Server", text);
        let _ = mssp_check::intercept::greeting::clue(embedded, text);
    }
});
