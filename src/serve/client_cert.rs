//! Client certificates under `--client-ca` beyond what webpki accepts, and refusals in
//! words.
//!
//! webpki refuses every X.509 v1 certificate ("UnsupportedCertVersion"); `openssl x509
//! -req` without `-extfile` makes exactly that, and Go's crypto/tls (the apiserver's
//! client side, and most servers) accepts such a certificate as a *leaf*. So a v1 leaf
//! is verified here as Go would: signed directly by a CA of `--client-ca` (its issuer
//! name is the CA's subject and the signature verifies with the CA's key; not SHA-1),
//! within its validity period, and allowed for client authentication (v1 has no
//! extendedKeyUsage, so it is). A v1 certificate acting as a CA (an intermediate) is
//! refused, as Go refuses it (it has no basicConstraints).

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError};
use std::io;
use std::path::Path;
use std::sync::Arc;
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

/// Why auditq refused a client certificate that webpki's own errors do not describe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "a certificate acting as a CA in the client's chain is X.509 v1 (no extensions, so no basicConstraints; Go refuses it too): re-issue that intermediate with extensions (basicConstraints=critical,CA:TRUE), or sign the client certificate with the CA of --client-ca"
    )]
    V1Intermediate,
    #[error(
        "client certificate {subject} is X.509 v1 and not signed directly by a CA of --client-ca (a v1 certificate is accepted only as a leaf signed by such a CA): re-issue it with extensions"
    )]
    V1NotDirect { subject: String },
    #[error(
        "client certificate {subject} is signed with SHA-1, which is refused (as Go refuses it): re-issue it with SHA-256"
    )]
    Sha1 { subject: String },
    #[error("client certificate cannot be read: {0}")]
    Unreadable(String),
}

impl From<Refusal> for rustls::Error {
    fn from(refusal: Refusal) -> rustls::Error {
        CertificateError::Other(OtherError(Arc::new(refusal))).into()
    }
}

/// Whether `error` is webpki refusing a certificate for its version (X.509 v1 or v2).
pub fn is_unsupported_version(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            matches!(
                inner.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::UnsupportedCertVersion)
            )
        }
        _ => false,
    }
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, Refusal> {
    X509Certificate::from_der(der.as_ref())
        .map(|(_, cert)| cert)
        .map_err(|e| Refusal::Unreadable(e.to_string()))
}

/// Whether `der` is an X.509 v1 (or v2) certificate: one without extensions.
pub fn is_v1(der: &CertificateDer<'_>) -> bool {
    parse(der).is_ok_and(|cert| cert.version().0 < X509Version::V3.0)
}

/// An accepted v1 leaf: its subject and issuer, for the warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Leaf {
    pub subject: String,
    pub issuer: String,
}

/// Verifies a v1 `leaf` as Go does (see the module's documentation) against the CA
/// certificates `cas`, at `now`. `intermediates` only name a better reason when the
/// leaf's issuer is among them.
pub fn verify_v1_leaf(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    cas: &[CertificateDer<'static>],
    now: UnixTime,
) -> Result<V1Leaf, rustls::Error> {
    let cert = parse(leaf)?;
    let subject = cert.subject().to_string();
    let issuer = cert.issuer().as_raw();
    let mut signer = None;
    let mut bad_signature = false;
    for ca in cas {
        let Ok(ca) = parse(ca) else { continue };
        if ca.subject().as_raw() != issuer {
            continue;
        }
        match cert.verify_signature(Some(ca.public_key())) {
            Ok(()) => {
                signer = Some(ca);
                break;
            }
            Err(_) => bad_signature = true,
        }
    }
    if signer.is_none() {
        if bad_signature {
            return Err(CertificateError::BadSignature.into());
        }
        let by_intermediate = intermediates
            .iter()
            .filter_map(|der| parse(der).ok())
            .any(|i| i.subject().as_raw() == issuer);
        return Err(if by_intermediate {
            Refusal::V1NotDirect { subject }.into()
        } else {
            CertificateError::UnknownIssuer.into()
        });
    }
    let algorithm = &cert.signature_algorithm.algorithm;
    if *algorithm == x509_parser::oid_registry::OID_PKCS1_SHA1WITHRSA
        || *algorithm == x509_parser::oid_registry::OID_SHA1_WITH_RSA
    {
        return Err(Refusal::Sha1 { subject }.into());
    }
    let validity = cert.validity();
    let at = |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
    let seconds = now.as_secs();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    if (seconds as i128) < not_before as i128 {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before: at(not_before),
        }
        .into());
    }
    if (seconds as i128) > not_after as i128 {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after: at(not_after),
        }
        .into());
    }
    // v1 has no extensions; a certificate claiming v1 and carrying extendedKeyUsage
    // anyway is held to it.
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        if !eku.value.client_auth && !eku.value.any {
            return Err(CertificateError::InvalidPurpose.into());
        }
    }
    Ok(V1Leaf {
        subject,
        issuer: cert.issuer().to_string(),
    })
}

/// The subject public key of `cert`, for the handshake signature of a v1 leaf.
fn spki(cert: &CertificateDer<'_>) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    let cert = parse(cert)?;
    Ok(SubjectPublicKeyInfoDer::from(
        cert.public_key().raw.to_vec(),
    ))
}

/// Verifies a TLS 1.3 handshake signature with a v1 leaf's key.
pub fn verify_tls13_v1(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki(cert)?, dss, algorithms)
}

/// Verifies a TLS 1.2 handshake signature with a v1 leaf's key: as rustls does for a
/// certificate, every algorithm of the scheme is tried.
pub fn verify_tls12_v1(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let spki = spki(cert)?;
    let key = webpki::RawPublicKeyEntity::try_from(&spki)
        .map_err(|_| rustls::Error::from(CertificateError::BadEncoding))?;
    let candidates = algorithms
        .mapping
        .iter()
        .filter(|(scheme, _)| *scheme == dss.scheme)
        .flat_map(|(_, algs)| algs.iter());
    for alg in candidates {
        if key.verify_signature(*alg, message, dss.signature()).is_ok() {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(CertificateError::BadSignature.into())
}

fn date(t: UnixTime) -> String {
    chrono::DateTime::from_timestamp(t.as_secs().min(i64::MAX as u64) as i64, 0).map_or_else(
        || format!("{}s", t.as_secs()),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The client closed the connection before the handshake finished, without a TLS
/// alert or a malformed message: it went away, auditq refused nothing.
pub fn closed_by_client(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::UnexpectedEof
        && error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .is_none()
}

/// A failed TLS handshake in words: what was wrong with the client (its certificate
/// above all) and what to do. `client_ca` is `--client-ca`.
pub fn refusal(error: &io::Error, client_ca: Option<&Path>) -> String {
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return format!("TLS handshake failed: {error}");
    };
    let ca = client_ca.map_or_else(
        || "--client-ca".to_string(),
        |p| format!("--client-ca {}", p.display()),
    );
    use rustls::Error as E;
    match tls {
        E::NoCertificatesPresented => format!(
            "no client certificate: {ca} requires one (the client-certificate and client-key of the webhook kubeconfig)"
        ),
        E::InvalidCertificate(cert) => certificate(cert, &ca),
        E::AlertReceived(alert) => format!(
            "the client ended the handshake with alert {alert:?} (with BadCertificate or UnknownCA it does not trust auditq's --tls-cert: give it the CA that signed it)"
        ),
        E::InvalidMessage(_) => {
            format!("not a TLS handshake (plain HTTP to the HTTPS port?): {tls}")
        }
        E::PeerIncompatible(_) => {
            format!("the client's TLS is incompatible (TLS 1.2 or 1.3 needed): {tls}")
        }
        _ => format!("TLS handshake failed: {tls}"),
    }
}

fn certificate(error: &CertificateError, ca: &str) -> String {
    use CertificateError as C;
    match error {
        C::UnknownIssuer => format!("client certificate not signed by {ca}"),
        C::BadSignature => format!(
            "client certificate's signature does not verify with the key of its CA in {ca} (a CA of the same name but another key?)"
        ),
        C::ExpiredContext { time, not_after } => format!(
            "client certificate expired: valid until {}, now {}",
            date(*not_after),
            date(*time)
        ),
        C::Expired => "client certificate expired".to_string(),
        C::NotValidYetContext { time, not_before } => format!(
            "client certificate not valid yet: valid from {}, now {} (a clock is wrong?)",
            date(*not_before),
            date(*time)
        ),
        C::NotValidYet => "client certificate not valid yet".to_string(),
        C::InvalidPurposeContext { presented, .. } => format!(
            "client certificate not allowed for client authentication: its extendedKeyUsage is {presented:?}, without clientAuth (re-issue it with extendedKeyUsage=clientAuth)"
        ),
        C::InvalidPurpose => "client certificate not allowed for client authentication: its extendedKeyUsage lacks clientAuth (re-issue it with extendedKeyUsage=clientAuth)".to_string(),
        C::Revoked => "client certificate revoked".to_string(),
        C::BadEncoding => "client certificate is not a valid X.509 certificate (DER)".to_string(),
        C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "client certificate is signed with an algorithm auditq does not support (RSA PKCS#1/PSS with SHA-256/384/512, ECDSA P-256/P-384, Ed25519 are)".to_string()
        }
        C::Other(OtherError(inner)) => {
            if let Some(refusal) = inner.downcast_ref::<Refusal>() {
                return refusal.to_string();
            }
            match inner.downcast_ref::<webpki::Error>() {
                Some(webpki::Error::CaUsedAsEndEntity) => "client certificate is a CA certificate (basicConstraints CA:TRUE): issue a client certificate signed by it".to_string(),
                Some(webpki::Error::EndEntityUsedAsCa) => "a certificate acting as a CA in the client's chain is not a CA (basicConstraints without CA:TRUE)".to_string(),
                Some(webpki::Error::UnsupportedCriticalExtension) => "client certificate has a critical extension auditq does not know".to_string(),
                Some(webpki::Error::PathLenConstraintViolated) => "the client's chain is longer than a CA's pathLenConstraint allows".to_string(),
                Some(webpki::Error::MaximumPathDepthExceeded | webpki::Error::MaximumPathBuildCallsExceeded | webpki::Error::MaximumSignatureChecksExceeded) => {
                    format!("the client's chain is too long to verify against {ca}")
                }
                _ => format!("client certificate refused: {inner}"),
            }
        }
        other => format!("client certificate refused: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(e: impl Into<rustls::Error>) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e.into())
    }

    #[test]
    fn refusals_are_said_in_words() {
        let ca = Some(Path::new("/etc/auditq/ca.crt"));
        let say = |e: rustls::Error| refusal(&io_error(e), ca);
        assert_eq!(
            say(CertificateError::UnknownIssuer.into()),
            "client certificate not signed by --client-ca /etc/auditq/ca.crt"
        );
        assert_eq!(
            say(CertificateError::ExpiredContext {
                time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                    1_600_000_000
                )),
            }
            .into()),
            "client certificate expired: valid until 2020-09-13 12:26:40 UTC, now 2023-11-14 22:13:20 UTC"
        );
        assert!(
            say(rustls::Error::NoCertificatesPresented)
                .starts_with("no client certificate: --client-ca /etc/auditq/ca.crt requires one")
        );
        assert!(say(Refusal::V1Intermediate.into()).contains("X.509 v1"));
        assert!(
            say(
                CertificateError::Other(OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)))
                    .into()
            )
            .contains("is a CA certificate")
        );
        assert!(say(CertificateError::InvalidPurpose.into()).contains("clientAuth"));
        // Not a rustls error: said as it is.
        assert_eq!(
            refusal(
                &io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof"),
                ca
            ),
            "TLS handshake failed: tls handshake eof"
        );
        assert!(closed_by_client(&io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "tls handshake eof"
        )));
        assert!(!closed_by_client(&io_error(
            CertificateError::UnknownIssuer
        )));
    }

    #[test]
    fn webpki_version_refusals_are_recognised() {
        let e: rustls::Error =
            CertificateError::Other(OtherError(Arc::new(webpki::Error::UnsupportedCertVersion)))
                .into();
        assert!(is_unsupported_version(&e));
        assert!(!is_unsupported_version(
            &CertificateError::UnknownIssuer.into()
        ));
        assert!(!is_unsupported_version(&Refusal::V1Intermediate.into()));
    }
}
