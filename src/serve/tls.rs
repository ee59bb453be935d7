//! TLS for `auditq serve` (rustls): the certificate and key are read again when their
//! files change (cert-manager renews them in place), checked at most once a second on a
//! new connection; `--client-ca` requires a client certificate signed by that CA (what
//! the apiserver's webhook kubeconfig presents), and is read again when it changes too
//! (CA rotation), checked at most once a second when a client presents a certificate.
//! An X.509 v1 client certificate signed directly by that CA is accepted as Go accepts
//! it (see [`super::client_cert`]), with a warning once per certificate.

use super::ServeError;
use super::client_cert;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{
    ClientHello, NoServerSessionStorage, ResolvesServerCert, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The files named by `--tls-cert`, `--tls-key` and `--client-ca`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server configuration (HTTP/2 and HTTP/1.1 offered by ALPN).
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ServeError> {
    let resolver = Arc::new(Reloading::new(files.cert.clone(), files.key.clone())?);
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let builder = match &files.client_ca {
        Some(ca) => builder.with_client_cert_verifier(Arc::new(ReloadingCa::new(ca.clone())?)),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if files.client_ca.is_some() {
        // A resumed session skips the client certificate: no resumption, so that a
        // certificate of a CA removed by a rotation is refused on the next connection.
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// A verifier requiring a client certificate signed by one of the CAs in `ca`, and
/// those CA certificates (for v1 leaves, which the verifier refuses).
fn client_verifier(ca: &Path) -> Result<Verifier, ServeError> {
    let mut roots = RootCertStore::empty();
    let cas = read_certs(ca)?;
    for cert in &cas {
        roots
            .add(cert.clone())
            .map_err(|e| ServeError::Tls(format!("{}: {e}", ca.display())))?;
    }
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", ca.display())))?;
    Ok(Verifier {
        webpki,
        cas: Arc::new(cas),
    })
}

/// What `--client-ca` loaded to.
#[derive(Debug, Clone)]
struct Verifier {
    webpki: Arc<dyn ClientCertVerifier>,
    cas: Arc<Vec<CertificateDer<'static>>>,
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ServeError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

fn load(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, ServeError> {
    let chain = read_certs(cert)?;
    let key_der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?;
    let signing = provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| ServeError::Tls(format!("{} and {}: {e}", cert.display(), key.display())))?;
    Ok(Arc::new(certified))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Serves the current certificate, reading the files again when their mtimes change.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    state: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl Reloading {
    fn new(cert: PathBuf, key: PathBuf) -> Result<Reloading, ServeError> {
        let loaded = Loaded {
            key: load(&cert, &key)?,
            stamps: (modified(&cert), modified(&key)),
            checked: Instant::now(),
        };
        Ok(Reloading {
            cert,
            key,
            state: Mutex::new(loaded),
        })
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= Duration::from_secs(1) {
            state.checked = Instant::now();
            let stamps = (modified(&self.cert), modified(&self.key));
            if stamps != state.stamps {
                // A half-written pair fails to load: keep the old one and try again later.
                match load(&self.cert, &self.key) {
                    Ok(key) => {
                        state.key = key;
                        state.stamps = stamps;
                        tracing::info!(cert = %self.cert.display(), "tls certificate reloaded");
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "tls certificate not reloaded (keeping the previous one)"
                    ),
                }
            }
        }
        Some(Arc::clone(&state.key))
    }
}

/// `--client-ca`, read again when its file changes (checked at most once a second, when
/// a client presents its certificate). A file that does not load keeps the previous CA
/// and is logged once (until the file changes again).
///
/// No CA names are sent in the certificate request (they would have to outlive a
/// reload): a client then sends the certificate it has, as Go's client (the apiserver's)
/// does.
#[derive(Debug)]
struct ReloadingCa {
    path: PathBuf,
    state: Mutex<LoadedCa>,
    /// v1 leaves accepted and warned about (their DER), so each is warned about once.
    warned: Mutex<HashSet<Vec<u8>>>,
}

/// At most this many v1 leaves are remembered as warned about (then warned again).
const WARNED_MAX: usize = 1024;

#[derive(Debug)]
struct LoadedCa {
    verifier: Verifier,
    stamp: Option<SystemTime>,
    /// The stamp of a file that did not load (logged once).
    failed: Option<SystemTime>,
    checked: Instant,
}

impl ReloadingCa {
    fn new(path: PathBuf) -> Result<ReloadingCa, ServeError> {
        let loaded = LoadedCa {
            verifier: client_verifier(&path)?,
            stamp: modified(&path),
            failed: None,
            checked: Instant::now(),
        };
        Ok(ReloadingCa {
            path,
            state: Mutex::new(loaded),
            warned: Mutex::new(HashSet::new()),
        })
    }

    /// The current verifier, after reading the file again if it changed.
    fn current(&self) -> Verifier {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= Duration::from_secs(1) {
            state.checked = Instant::now();
            let stamp = modified(&self.path);
            if stamp != state.stamp && stamp != state.failed {
                match client_verifier(&self.path) {
                    Ok(verifier) => {
                        state.verifier = verifier;
                        state.stamp = stamp;
                        state.failed = None;
                        tracing::info!(
                            client_ca = %self.path.display(),
                            "client CA reloaded"
                        );
                    }
                    Err(e) => {
                        state.failed = stamp;
                        tracing::warn!(
                            error = %e,
                            "client CA not reloaded (keeping the previous one)"
                        );
                    }
                }
            }
        }
        state.verifier.clone()
    }

    fn loaded(&self) -> Arc<dyn ClientCertVerifier> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(&state.verifier.webpki)
    }

    /// Warns about an accepted v1 leaf, once per certificate.
    fn warn_v1(&self, der: &CertificateDer<'_>, leaf: &client_cert::V1Leaf) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.contains(der.as_ref()) {
            return;
        }
        if warned.len() >= WARNED_MAX {
            warned.clear();
        }
        warned.insert(der.as_ref().to_vec());
        drop(warned);
        tracing::warn!(
            subject = %leaf.subject,
            issuer = %leaf.issuer,
            fix = "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile <(printf 'extendedKeyUsage=clientAuth') -out client.crt",
            "client certificate is X.509 v1 (no extensions): accepted, as Go's crypto/tls accepts it; re-issue it with extensions"
        );
    }
}

impl ClientCertVerifier for ReloadingCa {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verifier = self.current();
        match verifier
            .webpki
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e) if client_cert::is_unsupported_version(&e) => {
                if !client_cert::is_v1(end_entity) {
                    // The leaf is v3: a v1 certificate acts as a CA in its chain.
                    return Err(client_cert::Refusal::V1Intermediate.into());
                }
                let leaf =
                    client_cert::verify_v1_leaf(end_entity, intermediates, &verifier.cas, now)?;
                self.warn_v1(end_entity, &leaf);
                Ok(ClientCertVerified::assertion())
            }
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self.loaded().verify_tls12_signature(message, cert, dss) {
            Err(e) if client_cert::is_unsupported_version(&e) => client_cert::verify_tls12_v1(
                message,
                cert,
                dss,
                &provider().signature_verification_algorithms,
            ),
            outcome => outcome,
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        match self.loaded().verify_tls13_signature(message, cert, dss) {
            Err(e) if client_cert::is_unsupported_version(&e) => client_cert::verify_tls13_v1(
                message,
                cert,
                dss,
                &provider().signature_verification_algorithms,
            ),
            outcome => outcome,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.loaded().supported_verify_schemes()
    }
}
