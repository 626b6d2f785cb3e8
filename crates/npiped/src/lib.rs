//! npiped: the npipe network server service. It makes local named pipes
//! reachable from other machines as `\\host\pipe\NAME`, the way the
//! Windows "Server" service does, over TLS 1.3 with authenticated clients.
//!
//! The binary is a thin layer: configuration ([`config`]), TLS and client
//! authentication ([`tls`], [`server`]), limits ([`limits`]), test
//! certificates ([`certs`]). Opening pipes for remote clients and relaying
//! them is the library's (`npipe::net::relay`), the wire protocol its core's
//! (`npipe::proto::remote`); `docs/PROTOCOL.md` specifies it and
//! `docs/REMOTE.md` explains setup and security.

pub mod certs;
pub mod config;
pub mod limits;
pub mod server;
pub mod tls;

pub use certs::{generate_test_certificates, CertError, CertPaths};
pub use config::{Config, ConfigError, Overrides};
pub use server::Server;
