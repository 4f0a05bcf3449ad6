//! The embedded profiles against an independent transcription of the vendor's tables, and
//! the `profiles` command.

use std::collections::BTreeSet;

use crate::bin;

/// Validates `doc` against a schema file of the repository.
pub fn assert_schema(schema_file: &str, doc: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(schema_file);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file"))
            .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}");
}

fn seed() -> BTreeSet<(String, u16, String, String, bool)> {
    let text = include_str!("../fixtures/seed-paths.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 5, "{l}");
            (
                f[0].into(),
                f[1].parse().expect("port"),
                f[2].into(),
                f[3].into(),
                f[4] == "required",
            )
        })
        .collect()
}

#[test]
fn embedded_profiles_hold_every_row_of_the_seed_tables() {
    let p = mssp_check::config::Profiles::embedded().expect("embedded");
    let embedded: BTreeSet<_> = p
        .all()
        .iter()
        .map(|p| {
            (
                p.mode.label().to_string(),
                p.port,
                p.source.label().to_string(),
                p.target.label().to_string(),
                p.required,
            )
        })
        .collect();
    let seed = seed();
    assert_eq!(seed.len(), 33);
    let missing: Vec<_> = seed.difference(&embedded).collect();
    let extra: Vec<_> = embedded.difference(&seed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn profiles_json_has_the_documented_shape() {
    let out = bin()
        .args(["profiles", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_schema("schemas/profiles-1.schema.json", &doc);
    let paths = doc["paths"].as_array().expect("paths");
    assert_eq!(paths.len(), 33);
    let p = paths
        .iter()
        .find(|p| p["id"] == "multi-8471-ih-mgmt")
        .expect("8471");
    assert_eq!(p["probe"], "tls");
    assert_eq!(p["target"], "mgmt");
    assert_eq!(p["required"], true);
    let ms = paths
        .iter()
        .find(|p| p["id"] == "multi-443-mgmt-mailstore")
        .expect("443");
    assert_eq!(ms["target"], "my.mailstore.com");
}

#[test]
fn profiles_filter_by_role_and_mode() {
    let out = bin()
        .args(["profiles", "--role", "cas", "--format", "json"])
        .output()
        .expect("runs");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let ids: Vec<&str> = doc["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "multi-8470-cas-mgmt",
            "multi-8471-cas-mgmt",
            "multi-8472-cas-ih"
        ]
    );
    let out = bin()
        .args(["profiles", "--mode", "single"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("13 paths"));
}

#[test]
fn a_malformed_profile_directory_names_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("multi.toml"),
        "mode = \"multi\"\n\n[[path]]\nport = 8471\nsource = \"ih\"\ntarget = \"mgmt\"\nprobe = \"tsl\"\ncert = \"internal\"\nrequired = true\ndescription = \"x\"\n",
    )
    .expect("write");
    let out = bin()
        .args(["profiles", "--profiles"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("multi.toml:7:"), "{err}");
    assert!(
        err.contains("tsl") && err.contains("imap-starttls"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn another_profile_directory_replaces_the_embedded_set() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("lab.toml"),
        "mode = \"multi\"\n[[path]]\nport = 9999\nsource = \"ih\"\ntarget = \"mgmt\"\nprobe = \"tcp\"\ncert = \"internal\"\nrequired = true\ndescription = \"lab\"\n",
    )
    .expect("write");
    let closed = crate::fixtures::closed_port("127.0.0.1");
    let out = bin()
        .args([
            "--role",
            "ih",
            "--mgmt",
            &format!("127.0.0.1:{}", closed.port()),
            "--format",
            "json",
            "--profiles",
        ])
        .arg(dir.path())
        .output()
        .expect("runs");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let results = doc["results"].as_array().expect("results");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["path"], "multi-9999-ih-mgmt");
    assert_eq!(results[0]["verdict"], "refused");
}
