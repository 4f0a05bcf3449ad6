//! Unit tests of the rule builder and the fixtures the renderers' tests share
//! (`fixture_sources`, `fixture_rules`, `rule`, `check_fixtures`).

use super::*;

/// The documentation addresses every fixture uses (RFC 5737, RFC 2544, RFC 4193).
pub(crate) fn fixture_sources() -> Sources {
    let ip = |s: &str| s.parse::<IpAddr>().expect("fixture address");
    Sources {
        admin_nets: vec!["192.0.2.0/24".parse().expect("cidr")],
        peers: BTreeMap::from([
            (Role::Server, vec![ip("198.18.0.1")]),
            (Role::Mgmt, vec![ip("198.18.0.10")]),
            (Role::Ih, vec![ip("198.18.0.11")]),
            (Role::Cas, vec![ip("198.18.0.12"), ip("fd00::12")]),
        ]),
    }
}

pub(crate) fn fixture_rules(role: Role) -> Vec<Rule> {
    let profiles = Profiles::embedded().expect("embedded profiles");
    inbound_rules(&profiles, role, &fixture_sources()).expect("rules")
}

/// A rule for the renderers' own tests.
pub(crate) fn rule() -> Rule {
    Rule {
        name: "MailStore SPE (MGMT) 8471 from CAS".into(),
        ports: vec![8471],
        sources: Some(vec!["198.18.0.12".parse().expect("cidr")]),
        description: "8471: Internal communication with Management Server".into(),
        optional: false,
        from: vec![Role::Cas],
        warning: None,
    }
}

const SERVERS: [Role; 4] = [Role::Server, Role::Mgmt, Role::Ih, Role::Cas];

/// Compares each role's output with `tests/fixtures/firewall/ROLE.FORMAT.txt`, or
/// rewrites the files when `UPDATE_FIXTURES` is set.
pub(crate) fn check_fixtures(format: FirewallFormat) {
    let update = std::env::var_os("UPDATE_FIXTURES").is_some();
    for role in SERVERS {
        write_or_compare(role, format, update);
    }
}

fn write_or_compare(role: Role, format: FirewallFormat, update: bool) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/firewall")
        .join(format!("{}.{}.txt", role.label(), format.label()));
    let mut out = Vec::new();
    render(&fixture_rules(role), role, format, &mut out).expect("render");
    let got = String::from_utf8(out).expect("utf-8");
    if update {
        std::fs::write(&path, &got).expect("write fixture");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with UPDATE_FIXTURES=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        got,
        want,
        "{} differs; UPDATE_FIXTURES=1 rewrites it",
        path.display()
    );
}

#[test]
#[ignore = "rewrites tests/fixtures/firewall; review the diff before committing"]
fn regenerate_fixtures() {
    for format in FirewallFormat::ALL {
        for role in SERVERS {
            write_or_compare(role, format, true);
        }
    }
}

#[test]
fn rules_group_ports_by_sources_and_optionality() {
    let names = |role| -> Vec<String> { fixture_rules(role).into_iter().map(|r| r.name).collect() };
    let cases: [(Role, &[&str]); 4] = [
        (
            Role::Server,
            &[
                "MailStore SPE (SERVER) 143,443,993 from ANY",
                "MailStore SPE (SERVER) 8470,8474 from ADM",
            ],
        ),
        (
            Role::Mgmt,
            &[
                "MailStore SPE (MGMT) 8470,8474 from ADM",
                "MailStore SPE (MGMT) 8471 from IH/CAS",
                "MailStore SPE (MGMT) 8470 from IH/CAS (optional)",
            ],
        ),
        (Role::Ih, &["MailStore SPE (IH) 8472 from MGMT/CAS"]),
        (
            Role::Cas,
            &[
                "MailStore SPE (CAS) 143,443,993 from ANY",
                "MailStore SPE (CAS) 8473 from MGMT",
            ],
        ),
    ];
    for (role, want) in cases {
        assert_eq!(names(role), want, "{}", role.label());
    }
}

#[test]
fn sources_come_from_the_right_flags() {
    let mgmt = fixture_rules(Role::Mgmt);
    let shown = |r: &Rule| r.sources.as_ref().map(|s| join(s.iter(), ","));
    assert_eq!(shown(&mgmt[0]).as_deref(), Some("192.0.2.0/24"));
    assert_eq!(
        shown(&mgmt[1]).as_deref(),
        Some("198.18.0.11,198.18.0.12,fd00::12")
    );
    assert!(mgmt[2].optional && mgmt[2].description.starts_with("Optional. 8470: Required"));
    let cas = fixture_rules(Role::Cas);
    assert_eq!(cas[0].sources, None);
    assert_eq!(cas[0].warning, None);
}

#[test]
#[allow(clippy::items_after_statements)]
fn missing_peers_name_their_flags() {
    let profiles = Profiles::embedded().expect("embedded");
    // role, peers without an address, what the message says, what it must not name
    type Case = (
        Role,
        &'static [Role],
        &'static [&'static str],
        &'static [&'static str],
    );
    let cases: [Case; 4] = [
        (
            Role::Mgmt,
            &[Role::Ih],
            &["--role mgmt:", "from ih need --ih HOST"],
            &["--cas"],
        ),
        (
            Role::Mgmt,
            &[Role::Ih, Role::Cas],
            &["--ih HOST", "--cas HOST"],
            &["--mgmt"],
        ),
        (
            Role::Ih,
            &[Role::Mgmt],
            &["port 8472 from mgmt needs --mgmt HOST"],
            &["--cas"],
        ),
        (
            Role::Cas,
            &[Role::Mgmt],
            &["--role cas: port 8473 from mgmt needs --mgmt HOST"],
            &[],
        ),
    ];
    for (role, drop, want, not) in cases {
        let mut sources = fixture_sources();
        for r in drop {
            sources.peers.remove(r);
        }
        let e = inbound_rules(&profiles, role, &sources).expect_err("must fail");
        for w in want {
            assert!(e.contains(w), "{e}");
        }
        for n in not {
            assert!(!e.contains(n), "{e}");
        }
    }
    let mut empty = fixture_sources();
    empty.peers.insert(Role::Mgmt, Vec::new());
    let e = inbound_rules(&profiles, Role::Ih, &empty).expect_err("an empty list is missing");
    assert!(e.contains("--mgmt HOST"), "{e}");
}

#[test]
fn roles_without_inbound_paths_are_an_error() {
    let profiles = Profiles::embedded().expect("embedded");
    for role in [Role::Adm, Role::Client] {
        let e = inbound_rules(&profiles, role, &fixture_sources()).expect_err("no rules");
        assert!(e.starts_with(&format!("--role {}:", role.label())), "{e}");
        assert!(e.contains("server, mgmt, ih or cas"), "{e}");
    }
}

#[test]
fn no_admin_net_allows_any_and_says_so() {
    let profiles = Profiles::embedded().expect("embedded");
    let mut sources = fixture_sources();
    sources.admin_nets.clear();
    let rules = inbound_rules(&profiles, Role::Server, &sources).expect("rules");
    let adm = rules
        .iter()
        .find(|r| r.from == [Role::Adm])
        .expect("an ADM rule");
    assert_eq!(adm.sources, None);
    for format in FirewallFormat::ALL {
        let mut out = Vec::new();
        render(&rules, Role::Server, format, &mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains("# WARNING: no --admin-net given"),
            "{}",
            format.label()
        );
    }
}

#[test]
fn duplicate_and_covered_sources_are_dropped() {
    let c = |s: &str| s.parse::<Cidr>().expect("cidr");
    let got = minimal(vec![
        c("fd00::12"),
        c("192.0.2.9"),
        c("192.0.2.0/24"),
        c("fd00::12"),
        c("198.18.0.0/15"),
    ]);
    assert_eq!(join(got.iter(), ","), "192.0.2.0/24,198.18.0.0/15,fd00::12");
}

#[test]
fn names_are_unique_for_every_role() {
    for role in SERVERS {
        let rules = fixture_rules(role);
        let names: BTreeSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names.len(), rules.len(), "{}", role.label());
    }
}

#[test]
fn safe_text_neutralises_shell_syntax() {
    let cases = [
        ("plain words.", "plain words."),
        ("say \"hi\"", "say 'hi'"),
        ("$env:PATH `n %TEMP%", "env:PATH n TEMP"),
        ("a\r\n\tb\u{1b}[31m", "a b [31m"),
        ("\u{202e}evil\u{201c}q\u{201d}", "evil'q'"),
        ("C:\\dir", "C:/dir"),
    ];
    for (input, want) in cases {
        assert_eq!(safe_text(input), want, "{input:?}");
    }
}
