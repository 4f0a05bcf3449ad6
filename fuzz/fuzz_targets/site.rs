//! The site-file loader fed arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = mssp_check::config::site::Site::parse(std::path::Path::new("fuzz.toml"), text);
});
