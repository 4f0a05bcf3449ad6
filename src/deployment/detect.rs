//! What only a merge can see (DESIGN §5.7, §8): an endpoint that shows different
//! certificates to different sources, an endpoint blocked from some sources only, and the
//! far end's own inbound check joined to the near end's failure.

use std::collections::BTreeSet;

use super::finding::{and_list, thumbprint, CertSeen, Kind, MergeFinding};
use super::input::{Leaf, PathResult};
use super::view::{Row, Source};
use crate::verdict::{Severity, Verdict};

fn hosts(sources: &[Source], idx: &[usize]) -> Vec<String> {
    idx.iter().map(|&i| sources[i].host.clone()).collect()
}

fn self_signed(l: &Leaf) -> bool {
    !l.subject.is_empty() && l.subject == l.issuer
}

/// An endpoint (direct, not through a proxy) whose leaf certificate differs by source.
#[must_use]
pub fn cert_differs(rows: &[Row], sources: &[Source]) -> Vec<MergeFinding> {
    let mut out = Vec::new();
    for (ri, row) in rows.iter().enumerate() {
        if row.via_proxy.is_some() {
            continue;
        }
        // Each source's set of leaf certificates at this endpoint.
        let mut per: Vec<(usize, BTreeSet<&Leaf>)> = Vec::new();
        for (si, cell) in row.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            let leaves: BTreeSet<&Leaf> = cell
                .results
                .iter()
                .filter_map(|&i| sources[si].results[i].leaf.as_ref())
                .filter(|l| !l.sha256.is_empty())
                .collect();
            if !leaves.is_empty() {
                per.push((si, leaves));
            }
        }
        let fingerprints = |s: &BTreeSet<&Leaf>| -> BTreeSet<String> {
            s.iter().map(|l| l.sha256.to_ascii_lowercase()).collect()
        };
        let Some(first) = per.first().map(|p| fingerprints(&p.1)) else {
            continue;
        };
        if per.iter().all(|p| fingerprints(&p.1) == first) {
            continue;
        }
        let mut groups: Vec<(Leaf, Vec<usize>)> = Vec::new();
        for (si, leaves) in &per {
            for leaf in leaves {
                match groups
                    .iter_mut()
                    .find(|g| g.0.sha256.eq_ignore_ascii_case(&leaf.sha256))
                {
                    Some(g) => g.1.push(*si),
                    None => groups.push(((*leaf).clone(), vec![*si])),
                }
            }
        }
        groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
        let certificates: Vec<CertSeen> = groups
            .iter()
            .map(|(leaf, s)| CertSeen {
                sources: hosts(sources, s),
                leaf: leaf.clone(),
            })
            .collect();
        let evidence = certificates
            .iter()
            .map(|c| {
                format!(
                    "{} saw thumbprint {} (sha256 {}), {}, issued by {}{}",
                    and_list(&c.sources),
                    thumbprint(&c.leaf.sha1),
                    c.leaf.sha256,
                    c.leaf.subject,
                    c.leaf.issuer,
                    if self_signed(&c.leaf) {
                        " (self-signed)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let most = groups[0].1.len();
        let minority: Vec<String> = groups
            .iter()
            .filter(|g| g.1.len() < most)
            .flat_map(|g| hosts(sources, &g.1))
            .collect();
        let suspects: Vec<String> = {
            // A re-signing device hands out certificates that are not self-signed where
            // MailStore's own are: when only some groups are self-signed, the others are
            // the suspects, whatever their number.
            let signed: Vec<&(Leaf, Vec<usize>)> =
                groups.iter().filter(|g| !self_signed(&g.0)).collect();
            if !signed.is_empty() && signed.len() < groups.len() {
                signed.iter().flat_map(|g| hosts(sources, &g.1)).collect()
            } else {
                minority
            }
        };
        let from = if suspects.is_empty() {
            // No majority and no odd one out: either side may be the intercepted one.
            let each: Vec<String> = certificates
                .iter()
                .map(|c| format!("from {}", and_list(&c.sources)))
                .collect();
            each.join(" or ")
        } else {
            format!("from {}", and_list(&suspects))
        };
        let endpoint = row.endpoint();
        // Every certificate seen verified against the public roots: no inspecting device
        // re-signs with a publicly trusted CA, so this is a CDN or load balancer with
        // several certificates (as public services have) — worth knowing, not a failure.
        let all_public = row.cells.iter().enumerate().all(|(si, c)| {
            c.iter()
                .flat_map(|c| &c.results)
                .map(|&i| &sources[si].results[i])
                .filter(|r| r.leaf.is_some())
                .all(|r| r.trusted_public)
        });
        let (severity, detail, hint) = if all_public {
            (
                Severity::Warn,
                format!(
                    "{endpoint} presents different certificates to different sources, each publicly trusted: likely a load balancer or CDN with several certificates"
                ),
                format!(
                    "nothing to do unless {endpoint} is pinned: then pin every certificate it presents"
                ),
            )
        } else {
            (
                Severity::Fail,
                format!(
                    "{endpoint} presents different certificates to different sources: likely a TLS-inspecting middlebox on the way {from}, or a load balancer with two certificates"
                ),
                format!(
                    "compare the thumbprints with the certificate installed on {}; exclude {endpoint} from TLS inspection on the way {from}, or give every node behind it the same certificate",
                    row.host
                ),
            )
        };
        out.push(MergeFinding {
            kind: Kind::CertDiffers,
            severity,
            row: Some(ri),
            target: Some(endpoint.clone()),
            sources: per.iter().map(|p| sources[p.0].host.clone()).collect(),
            detail,
            evidence,
            hint: Some(hint),
            certificates,
        });
    }
    out
}

fn blocked(v: Verdict) -> bool {
    matches!(
        v,
        Verdict::Refused | Verdict::Filtered | Verdict::Unreachable
    )
}

/// What a near end got, in words.
fn got(v: Verdict) -> &'static str {
    match v {
        Verdict::Filtered => "no answer (filtered)",
        Verdict::Refused => "a reset (refused)",
        Verdict::Unreachable => "ICMP unreachable",
        _ => "a failure",
    }
}

/// `host (ip)` with the source address the near end used, when the report has it.
fn source_with_ip(src: &Source, r: &PathResult) -> String {
    match r.local_ip() {
        Some(ip) if ip.to_string() != src.host => format!("{} ({ip})", src.host),
        _ => src.host.clone(),
    }
}

/// An endpoint that answers some sources and is blocked from others.
#[must_use]
pub fn blocked_from_some(rows: &[Row], sources: &[Source]) -> Vec<MergeFinding> {
    let mut out = Vec::new();
    for (ri, row) in rows.iter().enumerate() {
        if row.via_proxy.is_some() {
            continue;
        }
        let mut ok = Vec::new();
        let mut bad: Vec<(usize, Verdict, Option<&PathResult>)> = Vec::new();
        for (si, cell) in row.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            if cell.verdict == Verdict::Ok {
                ok.push(si);
            } else if blocked(cell.verdict) {
                let r = cell
                    .results
                    .iter()
                    .map(|&i| &sources[si].results[i])
                    .find(|r| r.verdict == cell.verdict);
                bad.push((si, cell.verdict, r));
            }
        }
        if ok.is_empty() || bad.is_empty() {
            continue;
        }
        let endpoint = row.endpoint();
        let ok_hosts = hosts(sources, &ok);
        let bad_named: Vec<String> = bad
            .iter()
            .map(|(si, v, _)| format!("{} ({})", sources[*si].host, v.label()))
            .collect();
        let bad_with_ip: Vec<String> = bad
            .iter()
            .map(|(si, _, r)| {
                r.map_or_else(
                    || sources[*si].host.clone(),
                    |r| source_with_ip(&sources[*si], r),
                )
            })
            .collect();
        let mut evidence: Vec<String> = ok
            .iter()
            .map(|&si| format!("{}: ok", sources[si].host))
            .collect();
        evidence.extend(bad.iter().map(|(si, v, r)| {
            format!(
                "{}: {}{}",
                sources[*si].host,
                v.label(),
                r.map(|r| format!(" — {}", r.reason)).unwrap_or_default()
            )
        }));
        let mut involved = ok_hosts.clone();
        involved.extend(bad.iter().map(|b| sources[b.0].host.clone()));
        out.push(MergeFinding {
            kind: Kind::BlockedFromSome,
            severity: Severity::Fail,
            row: Some(ri),
            target: Some(endpoint.clone()),
            sources: involved,
            detail: format!(
                "{endpoint} ({}) answers {} but is blocked from {}: a firewall rule scoped to the wrong source network",
                row.probe.label(),
                and_list(&ok_hosts),
                and_list(&bad_named)
            ),
            evidence,
            hint: Some(format!(
                "allow TCP {} to {} from {} as it is allowed from {}",
                row.port,
                row.host,
                and_list(&bad_with_ip),
                and_list(&ok_hosts)
            )),
            certificates: Vec::new(),
        });
    }
    out
}

fn is_ip(h: &str) -> bool {
    h.parse::<std::net::IpAddr>().is_ok()
}

/// Whether two host names name the same machine: equal, or (names only) the same first
/// DNS label, case-insensitively.
#[must_use]
pub fn same_host(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    if is_ip(a) || is_ip(b) {
        return false;
    }
    let first = |h: &str| h.split('.').next().unwrap_or(h).to_ascii_lowercase();
    first(a) == first(b)
}

/// The reporting source that is the target of `r`: by name (exact first, then first DNS
/// label), else by address (the addresses its report claims, or the source addresses of
/// its probes; loopback ones name no machine). Ambiguous matches count as none.
#[must_use]
pub fn far_end(r: &PathResult, sources: &[Source]) -> Option<usize> {
    let host = r.host.as_deref()?;
    let names = |s: &Source| -> Vec<String> {
        std::iter::once(s.host.clone())
            .chain(s.os_hostname.clone())
            .collect()
    };
    let exact: Vec<usize> = (0..sources.len())
        .filter(|&i| {
            names(&sources[i])
                .iter()
                .any(|n| n.eq_ignore_ascii_case(host))
        })
        .collect();
    if let [one] = exact[..] {
        return Some(one);
    }
    let label: Vec<usize> = (0..sources.len())
        .filter(|&i| names(&sources[i]).iter().any(|n| same_host(n, host)))
        .collect();
    if let [one] = label[..] {
        return Some(one);
    }
    if !exact.is_empty() || !label.is_empty() {
        return None;
    }
    let ip = r.address_ip()?;
    let by_ip: Vec<usize> = (0..sources.len())
        .filter(|&i| {
            let s = &sources[i];
            s.addresses.contains(&ip)
                || (!ip.is_loopback()
                    && !ip.is_unspecified()
                    && s.results.iter().any(|x| x.local_ip() == Some(ip)))
        })
        .collect();
    match by_ip[..] {
        [one] => Some(one),
        _ => None,
    }
}

/// The far end's own inbound check joined to the near end's failure: "listens, but no
/// answer from mgmt01" (the firewall between them) or "nothing listens" (the service).
#[must_use]
pub fn inbound_join(rows: &[Row], sources: &[Source]) -> Vec<MergeFinding> {
    // (far source, port, listening) → the near ends (source, verdict), and the first row.
    type Joined = ((usize, u16, bool), Vec<(usize, Verdict)>, Option<usize>);
    let mut joined: Vec<Joined> = Vec::new();
    for (ri, row) in rows.iter().enumerate() {
        if row.via_proxy.is_some() {
            continue;
        }
        for (si, cell) in row.cells.iter().enumerate() {
            let Some(cell) = cell else { continue };
            for &i in &cell.results {
                let r = &sources[si].results[i];
                if !blocked(r.verdict) {
                    continue;
                }
                let Some(far) = far_end(r, sources).filter(|&f| f != si) else {
                    continue;
                };
                let Some(listening) = sources[far]
                    .inbound
                    .iter()
                    .find(|b| b.port == r.port)
                    .and_then(|b| b.listening)
                else {
                    continue;
                };
                let key = (far, r.port, listening);
                match joined.iter_mut().find(|j| j.0 == key) {
                    Some(j) if !j.1.iter().any(|n| n.0 == si) => j.1.push((si, r.verdict)),
                    Some(_) => {}
                    None => joined.push((key, vec![(si, r.verdict)], Some(ri))),
                }
            }
        }
    }
    joined
        .into_iter()
        .map(|((far, port, listening), near, row)| {
            let far_host = &sources[far].host;
            let target = super::view::endpoint(far_host, port);
            let near_hosts: Vec<String> = near.iter().map(|n| sources[n.0].host.clone()).collect();
            let near_got: Vec<String> = near
                .iter()
                .map(|(s, v)| format!("{} gets {}", sources[*s].host, got(*v)))
                .collect();
            let own = sources[far]
                .inbound
                .iter()
                .find(|b| b.port == port)
                .map(|b| b.detail.clone())
                .unwrap_or_default();
            let mut involved = vec![far_host.clone()];
            involved.extend(near_hosts.iter().cloned());
            let (kind, detail, hint) = if listening {
                (
                    Kind::ListensButBlocked,
                    format!(
                        "{far_host} listens on {port} (its own check), but {}: the firewall between them",
                        and_list(&near_got)
                    ),
                    format!(
                        "open TCP {port} from {} to {far_host} on every firewall on the way, {far_host}'s own host firewall included (its own check connects locally and does not pass it)",
                        and_list(&near_hosts)
                    ),
                )
            } else {
                (
                    Kind::NotListening,
                    format!(
                        "nothing listens on {target} (its own check): the service, not the network; {}",
                        and_list(&near_got)
                    ),
                    format!(
                        "start the MailStore service on {far_host} (before go-live: `mssp-check listen` there), then check again from {}",
                        and_list(&near_hosts)
                    ),
                )
            };
            MergeFinding {
                kind,
                severity: Severity::Fail,
                row,
                target: Some(target),
                sources: involved,
                detail,
                evidence: vec![format!("{far_host}, port {port}: {own}")],
                hint: Some(hint),
                certificates: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Role;
    use crate::deployment::finding::Kind;
    use crate::deployment::testkit::{addresses, listening, result, run, view, with_leaf};

    fn kinds(v: &crate::deployment::View) -> Vec<Kind> {
        v.findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_re_signed_certificate_seen_from_one_source_points_at_that_source() {
        let ok = |src: Role, tag: &str, issuer: &str| {
            with_leaf(result(src, "ih", "ih01", 8472, Verdict::Ok), tag, issuer)
        };
        let v = view(vec![
            run("mgmt01", Role::Mgmt, vec![ok(Role::Mgmt, "a", "CN=ih01")]),
            run(
                "cas01",
                Role::Cas,
                vec![ok(Role::Cas, "b", "CN=FortiGate CA")],
            ),
            run("cas02", Role::Cas, vec![ok(Role::Cas, "a", "CN=ih01")]),
        ]);
        assert_eq!(kinds(&v), [Kind::CertDiffers]);
        let f = &v.findings[0];
        assert!(
            f.detail.contains("middlebox on the way from cas01,"),
            "{}",
            f.detail
        );
        assert_eq!(f.certificates.len(), 2);
        assert_eq!(f.certificates[0].sources, ["mgmt01", "cas02"]);
        assert!(
            f.evidence[1].starts_with(&format!("cas01 saw thumbprint {}", "0".repeat(39) + "B"))
        );
        assert_eq!(v.exit(), crate::exit::Exit::Failed, "counts as a problem");
    }

    #[test]
    fn publicly_trusted_certificates_that_differ_are_a_warning() {
        let ok = |src: Role, tag: &str| {
            let mut r = with_leaf(
                result(
                    src,
                    "my.mailstore.com",
                    "my.mailstore.com",
                    443,
                    Verdict::Ok,
                ),
                tag,
                "CN=R11,O=Let's Encrypt",
            );
            r.trusted_public = true;
            r
        };
        let v = view(vec![
            run("mgmt01", Role::Mgmt, vec![ok(Role::Mgmt, "a")]),
            run("mgmt02", Role::Mgmt, vec![ok(Role::Mgmt, "b")]),
        ]);
        assert_eq!(kinds(&v), [Kind::CertDiffers]);
        assert_eq!(v.findings[0].severity, Severity::Warn);
        assert!(v.findings[0].detail.contains("load balancer or CDN"));
        assert_eq!(v.exit(), crate::exit::Exit::Ok);
    }

    #[test]
    fn the_same_certificate_everywhere_or_through_a_proxy_is_no_finding() {
        let ok = |src: Role, tag: &str| {
            with_leaf(result(src, "ih", "ih01", 8472, Verdict::Ok), tag, "CN=ih01")
        };
        let mut proxied = ok(Role::Cas, "c");
        proxied.via_proxy = Some("http://proxy:3128".into());
        let v = view(vec![
            run("mgmt01", Role::Mgmt, vec![ok(Role::Mgmt, "a")]),
            run("cas01", Role::Cas, vec![ok(Role::Cas, "a"), proxied]),
        ]);
        assert!(kinds(&v).is_empty(), "{:?}", v.findings);
    }

    #[test]
    fn blocked_from_some_needs_an_ok_and_a_block() {
        let v = view(vec![
            run(
                "ih01",
                Role::Ih,
                vec![result(Role::Ih, "mgmt", "mgmt01", 8471, Verdict::Ok)],
            ),
            run(
                "cas01",
                Role::Cas,
                vec![result(Role::Cas, "mgmt", "mgmt01", 8471, Verdict::Filtered)],
            ),
            run(
                "cas02",
                Role::Cas,
                vec![result(
                    Role::Cas,
                    "mgmt",
                    "mgmt01",
                    8471,
                    Verdict::TlsFailed,
                )],
            ),
        ]);
        assert_eq!(kinds(&v), [Kind::BlockedFromSome]);
        let d = &v.findings[0].detail;
        assert!(
            d.contains("answers ih01 but is blocked from cas01 (filtered)"),
            "{d}"
        );
        assert!(!d.contains("cas02"), "a TLS failure is not a block: {d}");
    }

    #[test]
    fn the_far_end_is_found_by_name_label_or_claimed_address() {
        let to = |host: &str, addr: &str| {
            let mut r = result(Role::Mgmt, "ih", host, 8472, Verdict::Refused);
            r.address = Some(format!("{addr}:8472"));
            r
        };
        let sources = crate::deployment::view::sources(vec![
            run("mgmt01", Role::Mgmt, vec![]),
            addresses(run("ih01.example.net", Role::Ih, vec![]), &["192.0.2.7"]),
            run("ih02.a.example", Role::Ih, vec![]),
            run("ih02.b.example", Role::Ih, vec![]),
        ]);
        assert_eq!(far_end(&to("IH01", "192.0.2.99"), &sources), Some(1));
        assert_eq!(far_end(&to("192.0.2.7", "192.0.2.7"), &sources), Some(1));
        assert_eq!(
            far_end(&to("ih02.a.example", "192.0.2.8"), &sources),
            Some(2)
        );
        assert_eq!(
            far_end(&to("ih02", "192.0.2.8"), &sources),
            None,
            "ambiguous"
        );
        assert_eq!(far_end(&to("ih09", "127.0.0.1"), &sources), None);
    }

    #[test]
    fn the_far_ends_own_check_is_joined_to_the_near_ends_block() {
        let refused = |host: &str| result(Role::Mgmt, "ih", host, 8472, Verdict::Refused);
        let v = view(vec![
            run("mgmt01", Role::Mgmt, vec![refused("ih01"), refused("ih02")]),
            listening(run("ih01", Role::Ih, vec![]), 8472, true),
            listening(run("ih02", Role::Ih, vec![]), 8472, false),
        ]);
        assert_eq!(kinds(&v), [Kind::ListensButBlocked, Kind::NotListening]);
        assert!(v.findings[0]
            .detail
            .starts_with("ih01 listens on 8472 (its own check), but mgmt01 gets a reset"));
        assert!(v.findings[1]
            .detail
            .starts_with("nothing listens on ih02:8472 (its own check): the service"));
    }

    #[test]
    fn host_names_match_by_first_label_but_addresses_do_not() {
        assert!(same_host("ih02", "IH02.example.net"));
        assert!(same_host("ih02.a", "ih02.b"));
        assert!(!same_host("10.0.0.1", "10.0.0.2"));
        assert!(!same_host("10.0.0.1", "10"));
        assert!(!same_host("ih01", "ih02"));
    }
}
