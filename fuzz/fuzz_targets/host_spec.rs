//! Host arguments as users type them: names, IDN, IPv6 with zones, ports, lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mssp_check::config::HostSpec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(h) = HostSpec::parse(text) {
        // What parses shows and parses back the same.
        let shown = h.to_string();
        let again = HostSpec::parse(&shown).expect("a shown host parses");
        assert_eq!(again.host, h.host, "{shown}");
        assert_eq!(again.port, h.port, "{shown}");
        assert_eq!(again.zone, h.zone, "{shown}");
    }
    let _ = HostSpec::parse_list(text);
});
