//! The mutual-TLS connection to a Devo collector or relay.
//!
//! The server is verified against the Devo domain's CA (`chain`) only, never the system roots:
//! Devo's collectors use a private CA. The client presents `cert` + `key`. SNI and the hostname
//! check use the output's `address`; the hostname check can be switched off for relays whose
//! certificate does not carry their name (the chain is still verified).
//!
//! Every connection makes a full handshake: TLS session resumption is off. OpenSSL servers that
//! verify client certificates without a session id context (rsyslog's ossl driver as Debian 12
//! ships it) answer a resumed handshake with a fatal internal_error, and stop accepting after many.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Days before its expiry a client certificate is warned about, in every run and in `check`.
pub const CLIENT_CERT_WARN_DAYS: i64 = 30;

/// How long to wait for the TCP connection and the TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS setup that cannot work: always a configuration problem, never worth a retry.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{path}: cannot read {what}: {reason}")]
    Read {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{path}: no {what} found in the file")]
    Empty { what: &'static str, path: PathBuf },
    #[error("{0}")]
    Invalid(String),
}

/// Where and how to connect.
pub struct DevoEndpoint {
    pub address: String,
    pub port: u16,
    /// Why the client key file's permissions are unsafe, found when the endpoint was built.
    key_problem: Option<String>,
    client_not_after: Option<DateTime<Utc>>,
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

/// The files and switches that make an endpoint.
#[derive(Debug)]
pub struct EndpointSpec<'a> {
    pub address: &'a str,
    pub port: u16,
    pub chain: &'a Path,
    pub cert: &'a Path,
    pub key: &'a Path,
    pub verify_hostname: bool,
    /// The server certificate's SHA-256, when pinned (`server_fingerprint`).
    pub server_fingerprint: Option<[u8; 32]>,
}

impl DevoEndpoint {
    /// Reads the certificates and builds the TLS client. Secrets are not echoed in errors.
    pub fn new(spec: &EndpointSpec<'_>) -> Result<Self, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in read_certs("CA chain", spec.chain)? {
            roots.add(ca).map_err(|e| {
                TlsSetupError::Invalid(format!(
                    "{}: unusable CA certificate: {e}",
                    spec.chain.display()
                ))
            })?;
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsSetupError::Invalid(format!("{}: {e}", spec.chain.display())))?;
        let verifier: Arc<dyn ServerCertVerifier> =
            if spec.verify_hostname && spec.server_fingerprint.is_none() {
                webpki
            } else {
                Arc::new(DevoVerifier {
                    webpki,
                    check_name: spec.verify_hostname,
                    pin: spec.server_fingerprint,
                })
            };
        let key_problem = key_permissions_problem(spec.key);
        if let Some(problem) = &key_problem {
            tracing::warn!(message = "The client private key is readable by others.", %problem);
        }
        let certs = read_certs("client certificate", spec.cert)?;
        if certs.first().is_some_and(|c| is_ca(c)) {
            return Err(TlsSetupError::Invalid(format!(
                "{}: the first certificate in cert is a CA, not yours: put the client certificate first (the CA belongs in chain)",
                spec.cert.display()
            )));
        }
        let client_not_after = certs.first().and_then(|c| not_after(c));
        let key = PrivateKeyDer::from_pem_file(spec.key).map_err(|e| {
            if is_encrypted_key(spec.key) {
                return TlsSetupError::Invalid(format!(
                    "{path}: the key is encrypted: devo-aws needs an unencrypted key (openssl pkey -in {path} -out {path}.plain, then name that file in key)",
                    path = spec.key.display()
                ));
            }
            TlsSetupError::Read {
                what: "private key",
                path: spec.key.to_path_buf(),
                reason: pem_reason(&e),
            }
        })?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Invalid(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(certs, key)
            .map_err(|e| {
                TlsSetupError::Invalid(format!(
                    "{} and {} do not make a client identity: {e}",
                    spec.cert.display(),
                    spec.key.display()
                ))
            })?;
        // A full handshake every time: see the module's note on resumption.
        config.resumption = Resumption::disabled();
        let server_name = ServerName::try_from(spec.address.to_string()).map_err(|_| {
            TlsSetupError::Invalid(format!("{:?} is not a host name", spec.address))
        })?;
        Ok(Self {
            address: spec.address.to_string(),
            port: spec.port,
            key_problem,
            client_not_after,
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Opens a TCP connection and completes the TLS handshake, within a timeout.
    pub async fn connect(&self) -> io::Result<DevoConnection> {
        let started = Instant::now();
        let attempt = async {
            let tcp = TcpStream::connect((self.address.as_str(), self.port)).await?;
            tcp.set_nodelay(true)?;
            self.connector.connect(self.server_name.clone(), tcp).await
        };
        let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connection timed out"))??;
        // rustls then takes each write whole, as records of its own: the shipper writes chunks
        // that end on frames (`frame::Framed`) and bounds what waits by flushing each batch.
        stream.get_mut().1.set_buffer_limit(None);
        let handshake = started.elapsed();
        Ok(DevoConnection {
            stream,
            // A server that closes at once after the handshake does so within a round trip or
            // so: that long (and never less than EARLY_CLOSE_WINDOW) it is watched for.
            quiet_until: Instant::now()
                + (handshake * 2).clamp(EARLY_CLOSE_WINDOW, MAX_EARLY_CLOSE_WINDOW),
        })
    }

    /// Proves, before anything is received from AWS, that Devo takes our data: the client
    /// certificate is within its validity, and a connection makes its handshake and a clean close
    /// (a server that refuses our certificate says so only after the handshake, in TLS 1.3).
    pub async fn probe(&self, timeout: Duration) -> io::Result<()> {
        self.client_cert_days_left(Utc::now())
            .map_err(|expired| io::Error::new(io::ErrorKind::InvalidInput, expired))?;
        close_cleanly(self.connect().await?, timeout).await
    }

    /// The whole days the client certificate has left at `now` (none when its file names no
    /// expiry), or that it has expired: the one rule of the probe, the run's start and `check`.
    pub fn client_cert_days_left(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, ClientCertificateExpired> {
        match self.client_not_after {
            Some(at) if at < now => Err(ClientCertificateExpired(at)),
            at => Ok(at.map(|t| (t - now).num_days())),
        }
    }

    /// Why the client key file's permissions are unsafe, if they are.
    pub fn key_permissions_problem(&self) -> Option<&str> {
        self.key_problem.as_deref()
    }

    /// The client certificate's expiry (read from the certificate file when the endpoint was
    /// built).
    pub fn client_cert_not_after(&self) -> Option<DateTime<Utc>> {
        self.client_not_after
    }

    /// `host:port`, for messages.
    pub fn display(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }
}

/// Why the private key file's permissions are unsafe, if they are: like ssh, a key readable or
/// writable by group or others is reported (with the file's path and mode). As PostgreSQL
/// allows, a key owned by root may also be read by its group (0640 at most): that is how a
/// Kubernetes Secret mounted with `fsGroup` arrives (root, the pod's group, 0440).
fn key_permissions_problem(path: &Path) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.permissions().mode() & 0o777;
    let allowed = if meta.uid() == 0 { 0o037 } else { 0o077 };
    (mode & allowed != 0).then(|| {
        format!(
            "{}: mode {mode:04o} lets group or others read it; chmod 600 it (or 640 with root as its owner)",
            path.display()
        )
    })
}

/// Whether a certificate is a CA's (basic constraints CA:TRUE).
fn is_ca(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .ok()
        .and_then(|(_, c)| c.basic_constraints().ok().flatten().map(|b| b.value.ca))
        .unwrap_or(false)
}

/// Whether a key file holds a passphrase-protected key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or the
/// legacy `Proc-Type: 4,ENCRYPTED` header), which rustls cannot read. Only the PEM labels and
/// headers are looked at, never echoed.
fn is_encrypted_key(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .is_ok_and(|_| {
            let text = String::from_utf8_lossy(&head);
            text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
                || text.contains("Proc-Type: 4,ENCRYPTED")
        })
}

/// Whether a certificate names serverAuth among its extended key usages.
fn has_server_auth(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert.as_ref())
        .ok()
        .and_then(|(_, c)| {
            c.extended_key_usage()
                .ok()
                .flatten()
                .map(|e| e.value.server_auth)
        })
        .unwrap_or(false)
}

/// A certificate's SHA-256, over its DER bytes (what `openssl x509 -fingerprint -sha256` prints).
pub fn fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(cert.as_ref()).into()
}

/// When a certificate stops being valid.
pub fn not_after(cert: &CertificateDer<'_>) -> Option<DateTime<Utc>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
}

fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsSetupError::Read {
            what,
            path: path.to_path_buf(),
            reason: pem_reason(&e),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::Empty {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The reason of a PEM error without any of the file's content.
fn pem_reason(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::Io(io) => io.to_string(),
        E::NoItemsFound => "no PEM section of the expected kind".into(),
        _ => "not valid PEM".into(),
    }
}

/// Our own client certificate is past its validity: no server will take it.
#[derive(Debug, thiserror::Error)]
#[error("the client certificate expired on {}", .0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))]
pub struct ClientCertificateExpired(pub DateTime<Utc>);

/// True when a connection failed because a certificate was refused, by us or by the server:
/// retrying will not help, the certificates or the config must change.
pub fn is_certificate_rejection(e: &io::Error) -> bool {
    use rustls::AlertDescription as A;
    let Some(source) = e.get_ref() else {
        return false;
    };
    if source.is::<ClientCertificateExpired>() {
        return true;
    }
    let Some(inner) = source.downcast_ref::<rustls::Error>() else {
        return false;
    };
    match inner {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => true,
        rustls::Error::AlertReceived(alert) => matches!(
            alert,
            A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::CertificateRequired
                | A::AccessDenied
        ),
        _ => false,
    }
}

/// The server's chain checked against the Devo CA, and beyond webpki's checks:
/// - without the name check (`verify_hostname: false`), the certificate must carry the
///   serverAuth extended key usage, so that no other certificate under `chain` (another
///   tenant's client certificate) can pose as the server;
/// - with `server_fingerprint`, the certificate must be that one.
#[derive(Debug)]
struct DevoVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    check_name: bool,
    pin: Option<[u8; 32]>,
}

impl ServerCertVerifier for DevoVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(_) => {}
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => {}
            Err(e) => return Err(e),
        }
        if !self.check_name && !has_server_auth(end_entity) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::InvalidPurpose,
            ));
        }
        if let Some(pin) = self.pin
            && fingerprint(end_entity) != pin
        {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A close_notify the server sent of its own accord, not in answer to ours: a server that stops
/// sends one on every connection it has (see `shipper::shutdown`).
#[derive(Debug, thiserror::Error)]
pub enum OwnClose {
    #[error(
        "the server closed the connection before our close_notify: it did not read all we sent"
    )]
    BeforeOurs,
    #[error(
        "the server reset the connection after its close_notify: it closed with data of ours unread"
    )]
    ResetAfter,
}

/// Whether `e` is the server's [`OwnClose`].
pub fn is_own_close(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|source| source.is::<OwnClose>())
}

/// How long [`close_cleanly`] looks for a close the server sent before ours: long enough for
/// the runtime to take in what already arrived on the socket.
const EARLY_CLOSE_LOOK: Duration = Duration::from_millis(1);
/// The least time after a handshake before our close_notify may go: a server that closes right
/// after the handshake (draining) must have had the time to say so, or its close could pass ours
/// on the way and be taken for a receipt. Epochs last longer than this anyway (idle close after
/// 200 ms); a replay, written at once, may wait up to this long.
const EARLY_CLOSE_WINDOW: Duration = Duration::from_millis(50);
const MAX_EARLY_CLOSE_WINDOW: Duration = Duration::from_millis(500);

/// A connection to Devo, with the instant before which our close_notify must not go.
pub struct DevoConnection {
    pub stream: TlsStream<TcpStream>,
    quiet_until: Instant,
}

/// Flush, send close_notify, shut our write side, and wait for the server's own close: its
/// close_notify, then the end of its TCP stream. This is the receipt, and it counts only when it
/// answers ours:
/// - a server that closed (close_notify, EOF, reset or an alert) before our close_notify went out
///   did not read what we sent after its close (a relay restarting or draining, a load
///   balancer's idle timeout);
/// - a bare TCP close, without close_notify, may have lost data;
/// - a reset after the server's close_notify means its kernel discarded bytes of ours that the
///   server never read: its close crossed ours rather than answered it (a relay that closes on
///   its own, at any moment of the epoch).
///
/// What it cannot prove: that a server which read everything, and then closed cleanly, kept it.
pub async fn close_cleanly(conn: DevoConnection, timeout: Duration) -> io::Result<()> {
    let DevoConnection {
        stream: mut conn,
        quiet_until,
    } = conn;
    let close = async {
        conn.flush().await?;
        refuse_early_close(&mut conn, quiet_until).await?;
        conn.shutdown().await?;
        await_answer(&mut conn).await
    };
    let closed = tokio::time::timeout(timeout, close).await.map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "the server did not close the connection in time",
        )
    });
    if !matches!(closed, Ok(Ok(()))) {
        reset(&conn);
    }
    closed?
}

/// Makes the connection end with a reset (SO_LINGER 0) when dropped, not a FIN: what the kernel
/// still holds of ours is discarded rather than sent after we stopped counting on it, so a server
/// that reads slowly does not go on receiving an epoch that will be written again.
fn reset(conn: &TlsStream<TcpStream>) {
    let _ = conn.get_ref().0.set_zero_linger();
}

impl DevoConnection {
    /// Gives the connection up: dropped with a reset (see [`reset`]).
    pub fn abort(self) {
        reset(&self.stream);
    }
}

/// Ends a connection that carried no data: close_notify, then the server's close, within
/// `timeout`. No receipt is wanted, so there is no quiet window to wait out.
pub async fn close_unused(conn: DevoConnection, timeout: Duration) {
    let mut stream = conn.stream;
    let _ = tokio::time::timeout(timeout, close_and_wait(&mut stream)).await;
}

/// Sends close_notify, shuts our write side, and reads (dropping what comes) until the server
/// closes.
async fn close_and_wait(conn: &mut TlsStream<TcpStream>) -> io::Result<()> {
    conn.shutdown().await?;
    let mut sink = [0u8; 1024];
    while conn.read(&mut sink).await? > 0 {}
    Ok(())
}

/// After our close_notify: reads (dropping what comes) until the server's close_notify, then
/// until the end of its TCP stream. A FIN says the server's kernel held nothing of ours unread
/// when the server closed; a reset says it discarded some.
async fn await_answer(conn: &mut TlsStream<TcpStream>) -> io::Result<()> {
    let mut sink = [0u8; 1024];
    while conn.read(&mut sink).await? > 0 {}
    let (tcp, _) = conn.get_mut();
    loop {
        match tcp.read(&mut sink).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    OwnClose::ResetAfter,
                ));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Fails when the server has already closed (close_notify, EOF or an alert) before our own
/// close_notify: its close is then no receipt of what we wrote. Looks until `quiet_until`, and
/// at least [`EARLY_CLOSE_LOOK`]. Anything else the server sent is read and dropped (Devo writes
/// nothing meaningful).
async fn refuse_early_close(
    conn: &mut TlsStream<TcpStream>,
    quiet_until: Instant,
) -> io::Result<()> {
    let mut sink = [0u8; 1024];
    loop {
        let until = quiet_until.max(Instant::now() + EARLY_CLOSE_LOOK);
        match tokio::time::timeout_at(until, conn.read(&mut sink)).await {
            Err(_) => return Ok(()),
            Ok(Ok(0)) => {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    OwnClose::BeforeOurs,
                ));
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
    }
}
