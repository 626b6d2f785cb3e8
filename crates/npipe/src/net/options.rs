//! [`RemoteOptions`]: how the client library reaches `npiped`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::{Error, Result};

/// The TCP port `npiped` listens on unless configured otherwise.
pub const DEFAULT_PORT: u16 = 4445;

/// The ALPN protocol name of the npipe network protocol, version 1; both
/// sides require it, so a TLS client of anything else is refused during
/// the handshake.
pub const ALPN: &[u8] = b"npipe/1";

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_LINGER: Duration = Duration::from_secs(5);

/// How to reach `npiped` for a remote pipe name (`\\host\pipe\NAME`):
/// where, and with which credentials.
///
/// Set it with [`ClientOptions::remote`](crate::ClientOptions::remote).
/// Without that, [`RemoteOptions::from_env`] is used: the remote
/// configuration file, then the `NPIPE_REMOTE_*` environment variables.
///
/// The server's certificate is checked against [`ca_file`](Self::ca_file)
/// (required) for the pipe's host name (or [`server_name`](Self::server_name)).
/// The client proves who it is with a certificate
/// ([`client_cert_files`](Self::client_cert_files)), a shared token
/// ([`token`](Self::token)), or both, as the server requires.
///
/// ```
/// use npipe::net::RemoteOptions;
/// let mut remote = RemoteOptions::new();
/// remote.port(4445).ca_pem(b"...".to_vec()).token("sesame");
/// let mut options = npipe::ClientOptions::new();
/// options.remote(remote);
/// // options.open(r"\\build01\pipe\jobs") would now connect to build01:4445.
/// ```
#[derive(Clone, Default)]
pub struct RemoteOptions {
    port: Option<u16>,
    address: Option<String>,
    server_name: Option<String>,
    ca: Option<Source>,
    cert: Option<Source>,
    key: Option<Source>,
    token: Option<String>,
    computer_name: Option<String>,
    connect_timeout: Option<Duration>,
    linger: Option<Duration>,
    /// Per-host settings from a configuration file, keyed by upper-case
    /// host name.
    hosts: BTreeMap<String, HostSettings>,
}

impl std::fmt::Debug for RemoteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteOptions")
            .field("port", &self.port)
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("ca", &self.ca)
            .field("cert", &self.cert)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("hosts", &self.hosts.keys())
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum Source {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Pem(b) => write!(f, "<{} bytes of PEM>", b.len()),
        }
    }
}

impl Source {
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Source::Pem(b) => Ok(b.clone()),
            Source::File(p) => std::fs::read(p).map_err(|e| Error::InvalidParameter {
                reason: format!("cannot read the {what} {}: {e}", p.display()),
            }),
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct HostSettings {
    address: Option<String>,
    port: Option<u16>,
    server_name: Option<String>,
}

/// The remote configuration file (TOML), see `docs/REMOTE.md`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    port: Option<u16>,
    address: Option<String>,
    server_name: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    computer_name: Option<String>,
    connect_timeout_ms: Option<u64>,
    #[serde(default)]
    hosts: BTreeMap<String, HostSettings>,
}

/// Everything needed to connect to one host, resolved.
pub(crate) struct Prepared {
    pub address: String,
    pub server_name: ServerName<'static>,
    pub tls: Arc<rustls::ClientConfig>,
    pub token: String,
    pub computer_name: String,
    pub connect_timeout: Duration,
    pub linger: Duration,
}

impl RemoteOptions {
    /// No settings: port [`DEFAULT_PORT`], no CA (opening fails until one is
    /// set), no client credentials.
    pub fn new() -> RemoteOptions {
        RemoteOptions::default()
    }

    /// The settings of the environment: the remote configuration file
    /// (`NPIPE_REMOTE_CONFIG`, else `$XDG_CONFIG_HOME/npipe/remote.toml`,
    /// else `~/.config/npipe/remote.toml`, if it exists), overridden by
    /// `NPIPE_REMOTE_PORT`, `NPIPE_REMOTE_ADDRESS`,
    /// `NPIPE_REMOTE_SERVER_NAME`, `NPIPE_REMOTE_CA`, `NPIPE_REMOTE_CERT`,
    /// `NPIPE_REMOTE_KEY`, `NPIPE_REMOTE_TOKEN` and
    /// `NPIPE_REMOTE_TOKEN_FILE`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the file and key, or the
    /// variable, that is wrong.
    pub fn from_env() -> Result<RemoteOptions> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let file = match var("NPIPE_REMOTE_CONFIG") {
            Some(path) => Some(PathBuf::from(path)),
            None => var("XDG_CONFIG_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")))
                .map(|dir| dir.join("npipe/remote.toml"))
                .filter(|p| p.exists()),
        };
        let mut options = match file {
            Some(path) => RemoteOptions::from_file(&path)?,
            None => RemoteOptions::new(),
        };
        if let Some(port) = var("NPIPE_REMOTE_PORT") {
            options.port(port.parse().map_err(|_| Error::InvalidParameter {
                reason: format!("NPIPE_REMOTE_PORT={port:?} is not a port number"),
            })?);
        }
        if let Some(v) = var("NPIPE_REMOTE_ADDRESS") {
            options.address(v);
        }
        if let Some(v) = var("NPIPE_REMOTE_SERVER_NAME") {
            options.server_name(v);
        }
        if let Some(v) = var("NPIPE_REMOTE_CA") {
            options.ca_file(v);
        }
        if let (Some(cert), Some(key)) = (var("NPIPE_REMOTE_CERT"), var("NPIPE_REMOTE_KEY")) {
            options.client_cert_files(cert, key);
        }
        if let Some(v) = var("NPIPE_REMOTE_TOKEN") {
            options.token(v);
        }
        if let Some(path) = var("NPIPE_REMOTE_TOKEN_FILE") {
            options.token(read_token(Path::new(&path), "NPIPE_REMOTE_TOKEN_FILE")?);
        }
        Ok(options)
    }

    /// Reads a remote configuration file (TOML; see `docs/REMOTE.md`).
    /// Relative paths in it are relative to the file's directory.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the file and the key at fault.
    pub fn from_file(path: &Path) -> Result<RemoteOptions> {
        let bad = |reason: String| Error::InvalidParameter {
            reason: format!("remote configuration {}: {reason}", path.display()),
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let settings: FileSettings = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut options = RemoteOptions::new();
        options.port = settings.port;
        options.address = settings.address;
        options.server_name = settings.server_name;
        options.ca = settings.ca.map(|p| Source::File(dir.join(p)));
        options.cert = settings.cert.map(|p| Source::File(dir.join(p)));
        options.key = settings.key.map(|p| Source::File(dir.join(p)));
        if options.cert.is_some() != options.key.is_some() {
            return Err(bad("key `cert` needs `key` and the other way round".into()));
        }
        options.token = settings.token;
        if let Some(p) = settings.token_file {
            options.token = Some(read_token(
                &dir.join(p),
                &format!("{}: key `token_file`", path.display()),
            )?);
        }
        options.computer_name = settings.computer_name;
        options.connect_timeout = settings.connect_timeout_ms.map(Duration::from_millis);
        options.hosts = settings
            .hosts
            .into_iter()
            .map(|(k, v)| (k.to_uppercase(), v))
            .collect();
        Ok(options)
    }

    /// The TCP port of `npiped`. Default: [`DEFAULT_PORT`] (4445).
    pub fn port(&mut self, port: u16) -> &mut Self {
        self.port = Some(port);
        self
    }

    /// Connects to this host name or IP address instead of the pipe name's
    /// host (whose name is still the one the server's certificate must
    /// carry, unless [`server_name`](Self::server_name) says otherwise).
    pub fn address(&mut self, address: impl Into<String>) -> &mut Self {
        self.address = Some(address.into());
        self
    }

    /// The name the server's certificate must carry. Default: the pipe
    /// name's host.
    pub fn server_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.server_name = Some(name.into());
        self
    }

    /// Trusts the CA certificates in this PEM file for the server's
    /// certificate.
    pub fn ca_file(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.ca = Some(Source::File(path.into()));
        self
    }

    /// Trusts these PEM CA certificates.
    pub fn ca_pem(&mut self, pem: Vec<u8>) -> &mut Self {
        self.ca = Some(Source::Pem(pem));
        self
    }

    /// Proves the client's identity with this certificate chain and key
    /// (PEM files), for servers that require client certificates.
    pub fn client_cert_files(
        &mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> &mut Self {
        self.cert = Some(Source::File(cert.into()));
        self.key = Some(Source::File(key.into()));
        self
    }

    /// As [`client_cert_files`](Self::client_cert_files), from PEM bytes.
    pub fn client_cert_pem(&mut self, cert: Vec<u8>, key: Vec<u8>) -> &mut Self {
        self.cert = Some(Source::Pem(cert));
        self.key = Some(Source::Pem(key));
        self
    }

    /// Sends this shared token (inside TLS) for servers that accept tokens.
    pub fn token(&mut self, token: impl Into<String>) -> &mut Self {
        self.token = Some(token.into());
        self
    }

    /// The computer name the server sees
    /// (`GetNamedPipeClientComputerName`). Default: this host's name.
    pub fn computer_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.computer_name = Some(name.into());
        self
    }

    /// How long connecting and the TLS handshake may take. Default: 10 s.
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long dropping a handle waits for data written to it to reach
    /// `npiped` (the rest is lost). Default: 5 s.
    pub fn linger(&mut self, linger: Duration) -> &mut Self {
        self.linger = Some(linger);
        self
    }

    /// Resolves the settings for `host`, reading the files they name.
    pub(crate) fn prepare(&self, host: &str) -> Result<Prepared> {
        let per_host = self
            .hosts
            .get(&host.to_uppercase())
            .cloned()
            .unwrap_or_default();
        let port = per_host.port.or(self.port).unwrap_or(DEFAULT_PORT);
        let address = per_host
            .address
            .or_else(|| self.address.clone())
            .unwrap_or_else(|| host.to_owned());
        let address = if address.contains(':')
            && !address.starts_with('[')
            && address.parse::<std::net::Ipv6Addr>().is_ok()
        {
            format!("[{address}]:{port}")
        } else {
            format!("{address}:{port}")
        };
        let name = per_host
            .server_name
            .or_else(|| self.server_name.clone())
            .unwrap_or_else(|| host.to_owned());
        let server_name =
            ServerName::try_from(name.clone()).map_err(|_| Error::InvalidParameter {
                reason: format!("{name:?} is not a valid server name for TLS"),
            })?;
        Ok(Prepared {
            address,
            server_name,
            tls: self.tls_config()?,
            token: self.token.clone().unwrap_or_default(),
            computer_name: self
                .computer_name
                .clone()
                .unwrap_or_else(local_computer_name),
            connect_timeout: self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            linger: self.linger.unwrap_or(DEFAULT_LINGER),
        })
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let bad = |reason: String| Error::InvalidParameter { reason };
        let ca = self.ca.as_ref().ok_or_else(|| {
            bad("no CA to check npiped's certificate with; set RemoteOptions::ca_file or NPIPE_REMOTE_CA".into())
        })?;
        let ca_pem = ca.read("CA file")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            let cert = cert.map_err(|e| bad(format!("CA {ca:?}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| bad(format!("CA {ca:?}: {e}")))?;
        }
        if roots.is_empty() {
            return Err(bad(format!("CA {ca:?} holds no certificate")));
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(e.to_string()))?
        .with_root_certificates(roots);
        let mut config = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let cert_pem = cert.read("client certificate")?;
                let chain = CertificateDer::pem_slice_iter(&cert_pem)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(format!("client certificate {cert:?}: {e}")))?;
                let key_pem = key.read("client key")?;
                let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| bad(format!("client key {key:?}: {e}")))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| bad(format!("client certificate {cert:?}: {e}")))?
            }
            _ => builder.with_no_client_auth(),
        };
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(Arc::new(config))
    }
}

fn read_token(path: &Path, what: &str) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::InvalidParameter {
        reason: format!("{what}: cannot read {}: {e}", path.display()),
    })?;
    Ok(text.trim().to_owned())
}

/// This host's name (`/proc/sys/kernel/hostname`), or `localhost`.
fn local_computer_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_names_its_bad_key() {
        let dir = std::env::temp_dir().join(format!("npipe-remote-conf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("remote.toml");
        std::fs::write(&path, "port = 4446\ncolour = 1\n").unwrap();
        let err = RemoteOptions::from_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("remote.toml") && err.contains("colour"),
            "{err}"
        );
        std::fs::write(
            &path,
            "port = 4446\nca = \"ca.pem\"\n[hosts.build01]\naddress = \"10.1.2.3\"\nport = 9\n",
        )
        .unwrap();
        let options = RemoteOptions::from_file(&path).unwrap();
        assert_eq!(options.port, Some(4446));
        assert_eq!(options.hosts["BUILD01"].port, Some(9));
        let err = options.prepare("Build01").err().unwrap().to_string();
        assert!(err.contains("ca.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
