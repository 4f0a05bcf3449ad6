//! `mssp-check`: verifies the network paths of a MailStore Service Provider Edition
//! deployment — which required paths are blocked, and which are intercepted.
//!
//! The pipeline: profile → [`plan`] → [`probe`] → [`observation`] → [`verdict`] →
//! [`report`]. Only `probe` does I/O; `app` wires it together.

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod deployment;
pub mod discover;
pub mod e2e;
pub mod error;
pub mod exit;
pub mod explain;
pub mod firewall;
pub mod hex;
pub mod intercept;
pub mod observation;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod report;
pub mod responder;
pub mod runner;
pub mod sanitize;
pub mod shell;
pub mod stop;
pub mod verdict;
