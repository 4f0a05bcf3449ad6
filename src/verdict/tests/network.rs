//! DNS, the TCP connect and the proxy's tunnel; the outcomes with no connection at all.

use test_case::test_case;

use super::build::{on, self_signed, Case};
use super::check;
use crate::observation::{ConnectFailure as C, DnsFailure as D, Outcome, Phase};
use crate::verdict::{FindingKind as K, Severity as S, Verdict as V};

const PROXY: &str = "http://proxy.lab:3128";

fn internal() -> Case {
    on("multi-8471-ih-mgmt")
}

fn licensing_via_proxy() -> Case {
    on("multi-443-mgmt-mailstore").via(PROXY)
}

fn refused_by_proxy(status: Option<u16>, line: &str) -> C {
    C::ProxyRefused {
        status,
        line: line.into(),
    }
}

#[test_case(internal().dns(D::NxDomain), V::Dns, S::Fail, &[], Some("add an A/AAAA record for target.lab to the DNS that ih01 (ih) uses") ; "nxdomain")]
#[test_case(internal().dns(D::NoAddress), V::Dns, S::Fail, &[], Some("add an A/AAAA record for target.lab, or give an address") ; "no address")]
#[test_case(internal().dns(D::ServerFailure { code: "SERVFAIL".into() }), V::Dns, S::Fail, &[], Some("check its forwarders and the zone's servers") ; "servfail")]
#[test_case(internal().dns(D::Timeout), V::Dns, S::Fail, &[], Some("reaches its DNS servers on UDP and TCP 53") ; "dns timeout")]
#[test_case(internal().dns(D::Other("no resolver configuration".into())), V::Dns, S::Fail, &[], Some("check this machine's DNS configuration") ; "dns other")]
#[test_case(licensing_via_proxy().dns(D::NxDomain), V::Dns, S::Fail, &[], Some("check the proxy setting of ih01 (mgmt)") ; "proxy name does not resolve")]
#[test_case(internal().connect(C::Refused), V::Refused, S::Fail, &[], Some("check that the Management Server on target.lab listens on TCP 8471") ; "refused")]
#[test_case(internal().connect(C::ResetAfterAccept), V::NoService, S::Fail, &[], Some("accepts connections on target.lab:8471 and resets them") ; "reset after accept, for the record")]
#[test_case(on("multi-8470-ih-mgmt").connect(C::Refused), V::Refused, S::Warn, &[], Some("listens on TCP 8470") ; "refused on the optional pairing port warns")]
#[test_case(internal().connect(C::TimedOut), V::Filtered, S::Fail, &[], Some("a silent drop is a DROP rule") ; "filtered")]
#[test_case(internal().connect(C::Unreachable { detail: "host unreachable".into() }), V::Unreachable, S::Fail, &[], Some("says unreachable: check the route and REJECT rules for TCP 8471") ; "unreachable")]
#[test_case(internal().connect(C::Other { detail: "permission denied".into() }), V::Unreachable, S::Fail, &[], Some("could not open a connection to target.lab (198.18.0.2):8471") ; "connect other")]
#[test_case(internal().connect(refused_by_proxy(Some(403), "HTTP/1.1 403 Forbidden")), V::Refused, S::Fail, &[], Some("allow CONNECT to it on the proxy") ; "proxy refused without a proxy hop")]
#[test_case(licensing_via_proxy().connect(C::Refused), V::Refused, S::Fail, &[], Some("is http://proxy.lab:3128 the right address and port") ; "proxy refused tcp")]
#[test_case(licensing_via_proxy().connect(C::ResetAfterAccept), V::NoService, S::Fail, &[], Some("is http://proxy.lab:3128 an HTTP proxy") ; "proxy accepted and reset")]
#[test_case(licensing_via_proxy().connect(C::TimedOut), V::Filtered, S::Fail, &[], Some("the proxy answers CONNECT") ; "proxy silent")]
#[test_case(licensing_via_proxy().connect(C::Unreachable { detail: "network unreachable".into() }), V::Unreachable, S::Fail, &[], Some("and the proxy http://proxy.lab:3128 says unreachable") ; "proxy unreachable")]
#[test_case(licensing_via_proxy().connect(C::Other { detail: "permission denied".into() }), V::Unreachable, S::Fail, &[], Some("check the proxy setting (HTTPS_PROXY") ; "proxy other")]
#[test_case(licensing_via_proxy().connect(refused_by_proxy(Some(407), "HTTP/1.1 407 Proxy Authentication Required")), V::Refused, S::Fail, &[], Some("give MailStore the proxy's credentials") ; "proxy 407")]
#[test_case(licensing_via_proxy().connect(refused_by_proxy(None, "SSH-2.0-OpenSSH_9.2")), V::ProtocolError, S::Fail, &[], Some("something other than an HTTP proxy listens on http://proxy.lab:3128") ; "proxy not http")]
#[test_case(licensing_via_proxy().connect(refused_by_proxy(Some(403), "HTTP/1.1 403 Forbidden")), V::Refused, S::Fail, &[], Some("does not let ih01 (mgmt) through to target.lab:443") ; "proxy other status")]
#[test_case(internal().outcome(Outcome::Deadline { phase: Phase::Tls }), V::NoService, S::Fail, &[], Some("accepted the connection but answers too slowly") ; "deadline")]
#[test_case(internal().outcome(Outcome::Cancelled), V::Cancelled, S::Cancelled, &[], None ; "cancelled")]
#[test_case(internal().outcome(Outcome::Internal { detail: "boom".into() }), V::InternalError, S::Fail, &[], Some("a bug in mssp-check") ; "internal error")]
#[test_case(on("multi-143-ih-any").outcome(Outcome::Skipped { flag: "--imap" }), V::Skipped, S::Skip, &[], None ; "skipped")]
#[test_case(internal().local().tls(self_signed()), V::Ok, S::Pass, &[K::LocalTarget], None ; "local target")]
fn row(case: Case, verdict: V, severity: S, kinds: &[K], hint: Option<&str>) {
    check(case, verdict, severity, kinds, hint);
}

/// The reason of a `filtered` verdict says what it rests on: the independent attempts, and
/// the route's answer times when silence was called early.
#[test]
fn filtered_names_its_attempts() {
    let reason = |case: Case| crate::verdict::classify(&case.obs, &case.ctx).reason;
    assert_eq!(
        reason(internal().connect(C::TimedOut)),
        "no answer to TCP SYN within 5 s"
    );
    assert_eq!(
        reason(internal().connect(C::TimedOut).tries(4, 5003, None)),
        "no answer to TCP SYN (4 connection attempts within 5 s)"
    );
    assert_eq!(
        reason(internal().connect(C::TimedOut).tries(5, 450, Some(2))),
        "no answer to TCP SYN (5 connection attempts in 450 ms; hosts on the same network answer within 2 ms)"
    );
}
