//! The evidence of one problem seen from several sources, said once: reasons, findings,
//! certificates and next steps, each naming its sources only where they differ. Raw text;
//! every renderer escapes it for its own medium.

use super::input::Leaf;
use super::view::{Problem, View};
use crate::verdict::Verdict;

/// A text and, when not every source of the problem gave it, the sources that did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    pub from: Option<Vec<String>>,
    pub text: String,
}

/// A problem's evidence, deduplicated across its sources.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Source hosts, in column order.
    pub sources: Vec<String>,
    /// The target, `host:port` and ` via PROXY`.
    pub target: String,
    pub probe: &'static str,
    pub required: bool,
    pub reasons: Vec<Told>,
    /// `(kind, detail)`, with sources where not all.
    pub findings: Vec<(String, Told)>,
    pub certificates: Vec<(Option<Vec<String>>, Leaf)>,
    pub hints: Vec<Told>,
}

fn told(view: &View, all: usize, (text, srcs): (String, Vec<usize>)) -> Told {
    Told {
        from: (srcs.len() < all)
            .then(|| srcs.iter().map(|&s| view.sources[s].host.clone()).collect()),
        text,
    }
}

impl Evidence {
    #[must_use]
    pub fn of(problem: &Problem, view: &View) -> Self {
        let row = &view.rows[problem.row];
        let sources = problem.sources();
        let all = sources.len();
        let reasons = problem
            .grouped(view, |r| vec![r.reason.clone()])
            .into_iter()
            .map(|g| told(view, all, g))
            .collect();
        let findings = problem
            .grouped(view, |r| {
                r.findings
                    .iter()
                    .map(|f| format!("{}\u{0}{}", f.kind, f.detail))
                    .collect()
            })
            .into_iter()
            .map(|g| {
                let t = told(view, all, g);
                let (kind, detail) = t.text.split_once('\u{0}').unwrap_or(("", &t.text));
                (
                    kind.to_string(),
                    Told {
                        from: t.from.clone(),
                        text: detail.to_string(),
                    },
                )
            })
            .collect();
        let certificates = problem
            .grouped(view, |r| {
                r.leaf
                    .iter()
                    .filter(|_| r.verdict != Verdict::Ok || !r.findings.is_empty())
                    .map(|l| l.sha256.clone())
                    .collect()
            })
            .into_iter()
            .filter_map(|(sha256, srcs)| {
                let leaf = problem.members.iter().find_map(|&(s, r)| {
                    view.sources[s].results[r]
                        .leaf
                        .as_ref()
                        .filter(|l| l.sha256 == sha256)
                        .cloned()
                })?;
                Some((told(view, all, (String::new(), srcs)).from, leaf))
            })
            .collect();
        let hints = problem
            .grouped(view, |r| r.hint.iter().cloned().collect())
            .into_iter()
            .map(|g| told(view, all, g))
            .collect();
        let required = problem
            .members
            .iter()
            .any(|&(s, r)| view.sources[s].results[r].required);
        Self {
            sources: sources
                .iter()
                .map(|&s| view.sources[s].host.clone())
                .collect(),
            target: match &row.via_proxy {
                Some(p) => format!("{} via {p}", row.endpoint()),
                None => row.endpoint(),
            },
            probe: row.probe.label(),
            required,
            reasons,
            findings,
            certificates,
            hints,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::profile::Role;
    use crate::deployment::testkit::{result, run, view};

    #[test]
    fn the_same_text_from_every_source_is_said_once() {
        let r = |src: Role, reason: &str| {
            let mut r = result(src, "mgmt", "mgmt01", 8471, Verdict::Filtered);
            reason.clone_into(&mut r.reason);
            r.hint = Some("open 8471".into());
            r
        };
        let v = view(vec![
            run("ih01", Role::Ih, vec![r(Role::Ih, "no answer within 5 s")]),
            run("ih02", Role::Ih, vec![r(Role::Ih, "no answer within 5 s")]),
            run(
                "cas01",
                Role::Cas,
                vec![r(Role::Cas, "no answer within 2 s")],
            ),
        ]);
        let e = Evidence::of(&v.problems[0], &v);
        assert_eq!(e.sources, ["ih01", "ih02", "cas01"]);
        assert_eq!(e.reasons.len(), 2);
        assert_eq!(
            e.reasons[0].from.as_deref(),
            Some(&["ih01".to_string(), "ih02".to_string()][..])
        );
        assert_eq!(e.hints.len(), 1);
        assert_eq!(e.hints[0].from, None, "every source said it");
        assert_eq!(e.target, "mgmt01:8471");
    }
}
