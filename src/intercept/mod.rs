//! Interception detection data: the signature database of intercepting products
//! ([`signatures`]) and the issuer-DN parsing it matches certificates with.

mod dn;
pub mod greeting;
pub mod signatures;
