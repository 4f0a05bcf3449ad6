//! The profile loader (the text entry point `Profiles::embedded` and `load_dir` read every
//! file through) fed arbitrary text: it must not panic, its errors point inside the text,
//! and what it accepts keeps the schema's rules.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mssp_check::config::profile::{parse_file, Target};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_file(Path::new("fuzz.toml"), text) {
        Ok(paths) => {
            for p in paths {
                assert_ne!(p.port, 0, "port 0 accepted");
                assert_eq!(p.flag.is_some(), p.target == Target::Any, "{}", p.id);
                assert_eq!(p.probe.is_starttls(), p.starttls.is_some(), "{}", p.id);
                let _ = p.probe.label();
            }
        }
        Err(e) => {
            // A line past the end would send a user to look for something not there.
            assert!(e.line <= text.lines().count() + 1, "{e}");
            let _ = e.to_string();
        }
    }
});
