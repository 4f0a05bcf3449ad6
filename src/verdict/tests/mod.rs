//! The verdict module's own tests: table tests, one row an observation → verdict, severity,
//! finding kinds and a fragment of the hint, plus the cross-row findings of a run.

mod across;
mod build;
mod completed;
mod handshake;
mod network;

use super::{classify, FindingKind, Severity, Verdict};
use build::Case;

/// Judges `case` and checks every part of the judgement the table names: `hint` is a
/// fragment of the expected next step, or `None` when there must be none.
fn check(
    case: Case,
    verdict: Verdict,
    severity: Severity,
    kinds: &[FindingKind],
    hint: Option<&str>,
) {
    let Case { obs, ctx } = case;
    let j = classify(&obs, &ctx);
    let got: Vec<FindingKind> = j.findings.iter().map(|f| f.kind).collect();
    assert_eq!(
        (j.verdict, j.severity, got.as_slice()),
        (verdict, severity, kinds),
        "{j:#?}"
    );
    match (hint, &j.hint) {
        (Some(want), Some(h)) => assert!(h.contains(want), "hint {h:?} lacks {want:?}"),
        (None, None) => {}
        (want, got) => panic!("hint: want {want:?}, got {got:?}"),
    }
    assert!(!j.reason.is_empty());
}
