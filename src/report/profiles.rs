//! `mssp-check profiles`: the paths of the port tables as a table or as JSON
//! (`mssp-check/profiles/1`, DESIGN §10).

use std::io::{self, Write};

use comfy_table::{presets, Table};
use serde::Serialize;

use crate::config::PathSpec;

pub const SCHEMA: &str = "mssp-check/profiles/1";

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    paths: Vec<JsonPath<'a>>,
}

#[derive(Serialize)]
struct JsonPath<'a> {
    id: &'a str,
    mode: &'static str,
    port: u16,
    source: &'static str,
    target: &'static str,
    probe: &'static str,
    required: bool,
    description: &'a str,
    flag: Option<String>,
    starttls: Option<crate::config::profile::StartTlsPolicy>,
    cert: crate::config::profile::CertPolicy,
    http_path: Option<&'a str>,
}

/// Writes the paths as JSON.
///
/// # Errors
/// Write errors.
pub fn render_json(paths: &[&PathSpec], out: &mut dyn Write) -> io::Result<()> {
    let doc = Doc {
        schema: SCHEMA,
        paths: paths
            .iter()
            .map(|p| JsonPath {
                id: &p.id,
                mode: p.mode.label(),
                port: p.port,
                source: p.source.label(),
                target: p.target.json_name(),
                probe: p.probe.label(),
                required: p.required,
                description: &p.description,
                flag: Some(crate::config::flag_for(p).to_string()),
                starttls: p.starttls,
                cert: p.cert,
                http_path: p.http_path.as_deref(),
            })
            .collect(),
    };
    // `io::Error::from` hands back serde_json's inner io error, so a closed pipe stays
    // `BrokenPipe` (`io::Error::other` would hide it behind `Other`).
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
    writeln!(out)
}

/// Writes the paths as a table.
///
/// # Errors
/// Write errors.
pub fn render_table(
    paths: &[&PathSpec],
    width: Option<u16>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.force_no_tty();
    if let Some(w) = width {
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
        t.set_width(w);
    }
    t.set_header([
        "MODE",
        "PORT",
        "PATH",
        "PROBE",
        "NEED",
        "TARGET FLAG",
        "DESCRIPTION",
    ]);
    for p in paths {
        t.add_row(vec![
            p.mode.label().to_string(),
            p.port.to_string(),
            format!("{} → {}", p.source.label(), p.target.json_name()),
            p.probe.label().to_string(),
            if p.required { "required" } else { "optional" }.to_string(),
            crate::config::flag_for(p).to_string(),
            p.description.clone(),
        ]);
    }
    writeln!(out, "{t}")?;
    writeln!(out, "\n{} paths", paths.len())
}
