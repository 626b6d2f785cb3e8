//! Test certificates: a CA, a server certificate and a client certificate
//! signed by it, so two machines can talk in minutes (`npiped certs`).
//! They are for tests and first setups; a deployment uses its own PKI.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// Where [`generate_test_certificates`] wrote each file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The CA certificate: `ca.pem`. Give it to every client (and, for
    /// client certificates, to `npiped` as `auth.client_ca`).
    pub ca_cert: PathBuf,
    /// The CA's private key: `ca.key` (mode 0600). Keep it away from both
    /// machines once the certificates are made.
    pub ca_key: PathBuf,
    /// The server certificate: `server.pem`, for `tls.cert`.
    pub server_cert: PathBuf,
    /// Its key: `server.key` (mode 0600), for `tls.key`.
    pub server_key: PathBuf,
    /// The client certificate: `client.pem`; its common name is the
    /// principal servers see.
    pub client_cert: PathBuf,
    /// Its key: `client.key` (mode 0600).
    pub client_key: PathBuf,
}

/// Why certificates could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// A name is not usable in a certificate.
    #[error("invalid name {name:?}: {reason}")]
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Key generation or signing failed.
    #[error("cannot make the certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Makes a test CA in `out_dir` (created if missing), a server certificate
/// for `hosts` (DNS names or IP addresses; the names clients use in
/// `\\host\pipe\NAME`) and a client certificate whose common name and DNS
/// name are `client`, all signed by the CA (ECDSA P-256). Existing files
/// are replaced.
///
/// # Errors
/// [`CertError`] for an empty host list, a bad name, or a write failure.
pub fn generate_test_certificates(
    out_dir: &Path,
    hosts: &[String],
    client: &str,
) -> Result<CertPaths, CertError> {
    if hosts.is_empty() {
        return Err(CertError::BadName {
            name: String::new(),
            reason: "give at least one server host name".into(),
        });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| CertError::Write {
        path: out_dir.to_owned(),
        source,
    })?;

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.distinguished_name = name("npipe test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let mut server = CertificateParams::new(Vec::<String>::new())?;
    server.distinguished_name = name(&hosts[0]);
    server.subject_alt_names = hosts.iter().map(|h| san(h)).collect::<Result<_, _>>()?;
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate()?;
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let mut client_params = CertificateParams::new(Vec::<String>::new())?;
    client_params.distinguished_name = name(client);
    client_params.subject_alt_names = vec![san(client)?];
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client_params.signed_by(&client_key, &issuer)?;

    let paths = CertPaths {
        ca_cert: out_dir.join("ca.pem"),
        ca_key: out_dir.join("ca.key"),
        server_cert: out_dir.join("server.pem"),
        server_key: out_dir.join("server.key"),
        client_cert: out_dir.join("client.pem"),
        client_key: out_dir.join("client.key"),
    };
    write(&paths.ca_cert, &ca_cert.pem(), 0o644)?;
    write(&paths.ca_key, &ca_key.serialize_pem(), 0o600)?;
    write(&paths.server_cert, &server_cert.pem(), 0o644)?;
    write(&paths.server_key, &server_key.serialize_pem(), 0o600)?;
    write(&paths.client_cert, &client_cert.pem(), 0o644)?;
    write(&paths.client_key, &client_key.serialize_pem(), 0o600)?;
    Ok(paths)
}

fn name(common: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    dn
}

fn san(host: &str) -> Result<SanType, CertError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if !valid {
        return Err(CertError::BadName {
            name: host.into(),
            reason: "a DNS name has letters, digits, '-', '_' and '.' only".into(),
        });
    }
    let dns = host
        .try_into()
        .map_err(|e: rcgen::Error| CertError::BadName {
            name: host.into(),
            reason: e.to_string(),
        })?;
    Ok(SanType::DnsName(dns))
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), CertError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| CertError::Write {
        path: path.to_owned(),
        source,
    };
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_six_files_with_private_keys_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("npiped-certs-{}", std::process::id()));
        let paths =
            generate_test_certificates(&dir, &["build01".into(), "127.0.0.1".into()], "alice")
                .unwrap();
        for p in [&paths.ca_cert, &paths.server_cert, &paths.client_cert] {
            assert!(std::fs::read_to_string(p)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE"));
        }
        for p in [&paths.ca_key, &paths.server_key, &paths.client_key] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
        assert!(generate_test_certificates(&dir, &[], "alice").is_err());
        assert!(generate_test_certificates(&dir, &["bad name".into()], "alice").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
