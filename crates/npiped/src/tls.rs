//! TLS 1.3 for npiped: the server configuration, the client certificate
//! check (a CA, or pinned fingerprints, or both) and the principal a
//! client certificate stands for.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::config::{hex, Config, ConfigError, Pin};

/// Builds the server's TLS configuration: TLS 1.3 only, the ring provider,
/// ALPN `npipe/1`, and client certificates as the configuration says
/// (required unless tokens are configured too).
///
/// # Errors
/// [`ConfigError`] naming the file that cannot be read or used.
pub fn server_config(config: &Config) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let bad = |what: &std::path::Path, message: String| ConfigError {
        source_name: what.display().to_string(),
        message,
    };
    let chain = CertificateDer::pem_file_iter(&config.cert)
        .map_err(|e| bad(&config.cert, format!("tls.cert: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&config.cert, format!("tls.cert: {e}")))?;
    if chain.is_empty() {
        return Err(bad(
            &config.cert,
            "tls.cert: no certificate in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_file(&config.key)
        .map_err(|e| bad(&config.key, format!("tls.key: {e}")))?;

    let ca = match &config.client_ca {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| bad(path, format!("auth.client_ca: {e}")))?
            {
                let cert = cert.map_err(|e| bad(path, format!("auth.client_ca: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(path, format!("auth.client_ca: {e}")))?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| bad(path, format!("auth.client_ca: {e}")))?;
            Some(verifier)
        }
        None => None,
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| bad(&config.cert, e.to_string()))?;
    let builder = if ca.is_none() && config.pinned.is_empty() {
        builder.with_no_client_auth()
    } else {
        builder.with_client_cert_verifier(Arc::new(ClientCerts {
            ca,
            pins: config.pinned.clone(),
            mandatory: config.tokens.is_empty(),
            provider,
        }))
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(&config.key, format!("tls.key does not fit tls.cert: {e}")))?;
    server.alpn_protocols = vec![npipe::net::ALPN.to_vec()];
    Ok(Arc::new(server))
}

/// Accepts a client certificate that chains to the CA or whose
/// fingerprint is pinned.
#[derive(Debug)]
struct ClientCerts {
    ca: Option<Arc<dyn ClientCertVerifier>>,
    pins: Vec<Pin>,
    mandatory: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for ClientCerts {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.ca {
            Some(ca) => ca.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fingerprint = sha256(end_entity);
        if self.pins.iter().any(|p| p.sha256 == fingerprint) {
            return Ok(ClientCertVerified::assertion());
        }
        match &self.ca {
            Some(ca) => ca.verify_client_cert(end_entity, intermediates, now),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Never called: the configuration allows TLS 1.3 only.
        Err(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::Tls13RequiredForQuic,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }

    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
}

/// SHA-256 of a certificate's DER bytes.
pub fn sha256(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// The principal a verified client certificate stands for: the name of its
/// pin, else its subject's common name, else its first DNS name, else
/// `sha256:` and its fingerprint.
pub fn principal_of(cert: &CertificateDer<'_>, pins: &[Pin]) -> String {
    let fingerprint = sha256(cert);
    if let Some(pin) = pins.iter().find(|p| p.sha256 == fingerprint) {
        return pin.name.clone();
    }
    if let Ok(parsed) = webpki::EndEntityCert::try_from(cert) {
        if let Some(cn) = common_name(parsed.subject()) {
            return cn;
        }
        if let Some(dns) = parsed.valid_dns_names().next() {
            return dns.to_owned();
        }
    }
    format!("sha256:{}", hex(&fingerprint))
}

/// The common name in a DER-encoded X.501 name (the contents of its
/// SEQUENCE): a bounded walk of SET { SEQUENCE { OID, string } } entries.
fn common_name(mut name: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    while !name.is_empty() {
        let (set, rest) = tlv(name, 0x31)?;
        name = rest;
        let mut set = set;
        while !set.is_empty() {
            let (attr, rest) = tlv(set, 0x30)?;
            set = rest;
            let (oid, value) = tlv(attr, 0x06)?;
            if oid == CN {
                let (&tag, _) = value.split_first()?;
                if matches!(tag, 0x0c | 0x13 | 0x16) {
                    let (text, _) = tlv(value, tag)?;
                    let s = std::str::from_utf8(text).ok()?;
                    // A name the remote claim would cut, or that holds a
                    // control character, is not a principal: fall back.
                    if !s.is_empty()
                        && s.len() <= npipe::proto::MAX_REMOTE_CLAIM_FIELD_LEN
                        && !s.chars().any(char::is_control)
                    {
                        return Some(s.to_owned());
                    }
                }
            }
        }
    }
    None
}

/// One DER TLV of tag `tag`: its contents and the bytes after it.
fn tlv(bytes: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = bytes.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_principal_is_the_common_name() {
        let dir = std::env::temp_dir().join(format!("npiped-tls-{}", std::process::id()));
        let paths = crate::certs::generate_test_certificates(&dir, &["h".into()], "alice").unwrap();
        let pem = std::fs::read(&paths.client_cert).unwrap();
        let cert = CertificateDer::from_pem_slice(&pem).unwrap();
        assert_eq!(principal_of(&cert, &[]), "alice");
        let pin = Pin {
            sha256: sha256(&cert),
            name: "pinned-alice".into(),
        };
        assert_eq!(principal_of(&cert, &[pin]), "pinned-alice");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_common_name_too_long_for_the_remote_claim_is_not_the_principal() {
        let long = "a".repeat(npipe::proto::MAX_REMOTE_CLAIM_FIELD_LEN + 1);
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, long.as_str());
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let cert = CertificateDer::from(cert.der().to_vec());
        // Cut to 600 bytes it could pass for another principal.
        assert_eq!(
            principal_of(&cert, &[]),
            format!("sha256:{}", hex(&sha256(&cert)))
        );
        // One byte shorter, it is the principal.
        let fits = &long[1..];
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, fits);
        let cert = params.self_signed(&key).unwrap();
        let cert = CertificateDer::from(cert.der().to_vec());
        assert_eq!(principal_of(&cert, &[]), fits);
    }

    #[test]
    fn the_der_walk_refuses_garbage() {
        assert_eq!(common_name(&[0x31, 0x80]), None);
        assert_eq!(common_name(&[0x31, 0x05, 0x30]), None);
        assert_eq!(common_name(&[0xff; 10]), None);
        assert_eq!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], 0x30), None);
    }
}
