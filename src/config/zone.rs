//! IPv6 zones (`fe80::1%eth0`, `%12`): checking what the user typed and turning it into the
//! scope id a `SocketAddrV6` needs.

/// A zone that cannot be used on this machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("zone '%{zone}': {why}")]
pub struct ZoneError {
    pub zone: String,
    pub why: String,
}

impl ZoneError {
    fn new(zone: &str, why: impl Into<String>) -> Self {
        Self {
            zone: crate::sanitize::echo(zone),
            why: why.into(),
        }
    }
}

/// Checks the form of a zone as typed: a number (Windows, any OS) or an interface name.
/// Names are kept to what interfaces are called in practice, which also keeps a name out of
/// path tricks when it is looked up under /sys.
pub(crate) fn check_form(zone: &str) -> Result<(), ZoneError> {
    if zone.is_empty() {
        return Err(ZoneError::new(
            zone,
            "empty; expected an interface name or number",
        ));
    }
    // IFNAMSIZ is 16 on Linux, including the NUL.
    if zone.len() > 15 {
        return Err(ZoneError::new(
            zone,
            "longer than an interface name (15 characters)",
        ));
    }
    if zone.starts_with('.') {
        return Err(ZoneError::new(
            zone,
            "an interface name does not start with '.'",
        ));
    }
    if let Some(c) = zone
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(ZoneError::new(
            zone,
            format!("character {c:?} is not allowed in an interface name"),
        ));
    }
    Ok(())
}

/// The scope id of a zone: its number, or the index of the interface it names.
///
/// # Errors
/// A number out of range, an interface this machine does not have, or a name on a system where
/// names are not looked up.
pub fn scope_id(zone: &str) -> Result<u32, ZoneError> {
    check_form(zone)?;
    if zone.bytes().all(|b| b.is_ascii_digit()) {
        return zone
            .parse()
            .map_err(|_| ZoneError::new(zone, "the interface number is out of range"));
    }
    interface_index(zone)
}

#[cfg(target_os = "linux")]
fn interface_index(name: &str) -> Result<u32, ZoneError> {
    let path = format!("/sys/class/net/{name}/ifindex");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| ZoneError::new(name, format!("{path} does not hold an interface number"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ZoneError::new(
            name,
            format!("this machine has no network interface named '{name}'"),
        )),
        Err(e) => Err(ZoneError::new(name, format!("cannot read {path}: {e}"))),
    }
}

#[cfg(not(target_os = "linux"))]
fn interface_index(name: &str) -> Result<u32, ZoneError> {
    Err(ZoneError::new(
        name,
        "interface names are looked up on Linux only; give the interface's number \
         (e.g. %12, from `netsh interface ipv6 show interfaces` or `ifconfig`)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_scope_ids() {
        assert_eq!(scope_id("12"), Ok(12));
        assert_eq!(scope_id("0"), Ok(0));
        let e = scope_id("99999999999").expect_err("range");
        assert!(e.why.contains("out of range"), "{e}");
    }

    #[test]
    fn bad_forms_are_refused_before_any_lookup() {
        for (zone, needle) in [
            ("", "empty"),
            ("../../etc", "'.'"),
            ("eth0/x", "'/'"),
            ("a b", "' '"),
            ("abcdefghijklmnopq", "15 characters"),
        ] {
            let e = scope_id(zone).expect_err(zone);
            assert!(e.to_string().contains(needle), "{zone}: {e}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn linux_names_are_looked_up() {
        // Every Linux network namespace has a loopback interface named lo.
        assert!(scope_id("lo").expect("lo exists") > 0);
        let e = scope_id("nosuchif0").expect_err("absent");
        assert!(
            e.why.contains("no network interface named 'nosuchif0'"),
            "{e}"
        );
    }
}
