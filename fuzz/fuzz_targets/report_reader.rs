//! The reader of `mssp-check report` fed arbitrary bytes as a report file; what it accepts
//! is merged into the deployment view and rendered in every format, as `report` does.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mssp_check::config::profile::Profiles;
use mssp_check::deployment::{self, input, Style};

/// The embedded profiles, parsed once.
static PROFILES: OnceLock<Option<Profiles>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(run) = input::parse("fuzz.json", data) else {
        return;
    };
    // Every kept string is clipped: a 10 MB reason stays out of memory and output.
    let fits = |s: &str| s.chars().count() <= input::MAX_TEXT + 1;
    assert!(fits(&run.host) && fits(&run.version), "an unclipped string");
    for r in &run.results {
        let greeting = r.greeting.as_deref().unwrap_or_default();
        assert!(
            fits(&r.path) && fits(&r.reason) && fits(greeting),
            "an unclipped string"
        );
    }
    let Some(profiles) = PROFILES.get_or_init(|| Profiles::embedded().ok()) else {
        return;
    };
    // The run as two hosts' reports, so the merge has something to compare.
    let mut other = run.clone();
    other.file = "other.json".into();
    other.host = format!("{}-2", other.host);
    let Ok(view) = deployment::build(vec![run, other], Vec::new(), None, profiles, false) else {
        return;
    };
    for style in [
        Style::Table {
            color: true,
            width: Some(80),
        },
        Style::Markdown,
        Style::Json,
        Style::Junit,
        Style::Html,
    ] {
        let mut out = Vec::new();
        deployment::render(&view, style, &mut out).expect("rendering into memory");
    }
});
