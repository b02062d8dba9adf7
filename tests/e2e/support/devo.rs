//! A Devo stand-in: a TLS server that requires a client certificate from its CA, records every
//! byte it receives per connection, and answers our close_notify with its own.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use devo_aws::devo::frame::Framing;
use devo_aws::devo::shipper::{Destination, EpochLimits, Receipt, Shipper};
use devo_aws::devo::tls::{DevoEndpoint, EndpointSpec};

/// A CA with a server certificate for `localhost` and a client certificate, all PEM.
pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        Self::issue(name, false, false)
    }

    /// A PKI whose client certificate expired in 2020.
    pub fn with_expired_client(name: &str) -> Self {
        Self::issue(name, true, false)
    }

    /// A PKI whose server certificate expired in 2020.
    pub fn with_expired_server(name: &str) -> Self {
        Self::issue(name, false, true)
    }

    /// A PKI whose client certificate expires in `days` days.
    pub fn with_client_expiring_in(name: &str, days: i64) -> Self {
        let mut pki = Self::issue(name, false, false);
        let ca_params = {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.distinguished_name
                .push(DnType::CommonName, format!("{name} CA"));
            p
        };
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |san: &str, usages: Vec<ExtendedKeyUsagePurpose>, end_days: Option<i64>| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
            params.extended_key_usages = usages;
            if let Some(d) = end_days {
                let end = chrono::Utc::now() + chrono::Duration::days(d);
                use chrono::Datelike;
                params.not_after =
                    rcgen::date_time_ymd(end.year(), end.month() as u8, end.day() as u8);
            }
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        (pki.server_cert_pem, pki.server_key_pem) =
            leaf("localhost", vec![ExtendedKeyUsagePurpose::ServerAuth], None);
        (pki.client_cert_pem, pki.client_key_pem) =
            leaf("client.devo-aws.test", Vec::new(), Some(days));
        pki.ca_pem = ca.pem();
        pki
    }

    fn issue(name: &str, expired_client: bool, expired_server: bool) -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} CA"));
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |san: &str, cn: &str, expired: bool, usages: Vec<ExtendedKeyUsagePurpose>| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![san.to_string()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = usages;
            if expired {
                params.not_before = rcgen::date_time_ymd(2019, 1, 1);
                params.not_after = rcgen::date_time_ymd(2020, 1, 1);
            }
            let cert = params.signed_by(&key, &ca).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        // The server's certificate names its purpose, as public CAs issue them; the client's
        // names none (webpki then takes it for any purpose: the case `verify_hostname: false`
        // must guard against).
        let (server_cert_pem, server_key_pem) = leaf(
            "localhost",
            "localhost",
            expired_server,
            vec![ExtendedKeyUsagePurpose::ServerAuth],
        );
        let (client_cert_pem, client_key_pem) = leaf(
            "client.devo-aws.test",
            "devo-aws test client",
            expired_client,
            Vec::new(),
        );
        Self {
            ca_pem: ca.pem(),
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
        }
    }

    /// The same CA, with the client's certificate and key as the server's: another tenant's
    /// client certificate posing as Devo.
    pub fn with_client_as_server(&self) -> Self {
        Self {
            ca_pem: self.ca_pem.clone(),
            server_cert_pem: self.client_cert_pem.clone(),
            server_key_pem: self.client_key_pem.clone(),
            client_cert_pem: self.client_cert_pem.clone(),
            client_key_pem: self.client_key_pem.clone(),
        }
    }

    /// The SHA-256 of the server certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn server_fingerprint(&self) -> String {
        use sha2::Digest;
        let der = CertificateDer::from_pem_slice(self.server_cert_pem.as_bytes()).unwrap();
        sha2::Sha256::digest(der.as_ref())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn server_config(&self) -> Arc<ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let certs = vec![CertificateDer::from_pem_slice(self.server_cert_pem.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).unwrap();
        Arc::new(
            ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs, key)
                .unwrap(),
        )
    }
}

/// What one connection brought.
#[derive(Debug, Default, Clone)]
pub struct Connection {
    pub bytes: Vec<u8>,
    /// Bytes and line feeds received (kept even when the bytes are not).
    pub byte_count: u64,
    pub newlines: u64,
    /// The client sent close_notify and we answered.
    pub clean_close: bool,
    pub error: Option<String>,
}

/// One syslog record as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub tag: String,
    pub message: String,
    pub octet_counted: bool,
}

/// How the receiver treats each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Read everything, answer close_notify with close_notify.
    Normal,
    /// Like Normal, but keep no bytes (for volumes too big to keep); the benchmark's.
    Counting,
    /// Read this many application bytes, then close without reading on: the kernel resets.
    ResetAfter(usize),
    /// Complete the handshake, then never read nor close.
    Stall,
    /// Read everything, then close the TCP connection without a close_notify.
    CloseWithoutNotify,
    /// Send close_notify right after the handshake and read nothing (a relay draining); the
    /// socket stays open a while.
    CloseAfterHandshake,
    /// The first connection reads everything, then, a second after our close_notify, closes
    /// without one of its own (a delivery that fails late); the others are Normal.
    FirstFailsLate,
    /// Complete the handshake without reading a byte past it, read nothing more, and this long
    /// after the handshake send close_notify and close (a relay draining its connections, a load
    /// balancer's idle timeout). Its kernel resets the connection when our data is unread.
    CloseNotifyAfter(Duration),
    /// A relay that resets some connections at random points: connection `i` (after the first,
    /// the connection check) reads a number of bytes drawn from `seed` and `i`, below `within`,
    /// then closes without reading on, unless the draw says it is a sound one (one in `sound`).
    ResetAtRandom { seed: u64, within: u64, sound: u64 },
    /// A relay under load that is stopped (SIGTERM) mid-run, as rsyslog is: it answers each
    /// close_notify this long after it, so closes pile up, and it stops once two connections
    /// await their answer. Each then gets close_notify though the relay dropped what it read
    /// (rsyslog's end of a session sends close_notify, then reads and drops what is left): the
    /// first with a FIN, so its close looks like an answer, the second with a reset. Connections
    /// made after the stop are answered at once (the relay started again).
    StopsWhileClosing(Duration),
    /// A relay under load: reads every connection at this many bytes a second, keeps all it
    /// read (and forwards it, as a relay does, whether or not the connection then closes
    /// cleanly), and answers close_notify with its own.
    ReadRate(u64),
}

impl Behaviour {
    /// How many bytes connection `index` reads before it resets, if it does.
    fn reset_after(self, index: usize) -> Option<u64> {
        match self {
            Self::ResetAfter(n) => Some(n as u64),
            Self::ResetAtRandom {
                seed,
                within,
                sound,
            } if index > 0 => {
                let draw = splitmix(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                (!draw.is_multiple_of(sound)).then(|| (draw >> 16) % within + 1)
            }
            _ => None,
        }
    }
}

/// A well-mixed number from `x` (SplitMix64's finaliser): the tests' own dice, repeatable.
pub fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Reads one byte at a time: a TLS handshake read through it takes no byte past its end, as
/// OpenSSL's servers read (record by record), so what the client sends after it stays in the
/// kernel.
struct OneByte<'a>(&'a mut TcpStream);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

/// The handshake of `conn` over `tcp`, reading nothing past it; then `after`, close_notify, and
/// the socket dropped (our unread data makes the kernel reset it).
fn close_notify_after(mut tcp: TcpStream, mut conn: ServerConnection, after: Duration) {
    while conn.is_handshaking() {
        if conn.wants_write() {
            if conn.write_tls(&mut tcp).is_err() {
                return;
            }
            continue;
        }
        match conn.read_tls(&mut OneByte(&mut tcp)) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if conn.process_new_packets().is_err() {
                    return;
                }
            }
        }
    }
    while conn.wants_write() {
        if conn.write_tls(&mut tcp).is_err() {
            return;
        }
    }
    std::thread::sleep(after);
    conn.send_close_notify();
    while conn.wants_write() {
        if conn.write_tls(&mut tcp).is_err() {
            return;
        }
    }
}

/// The stop of a [`Behaviour::StopsWhileClosing`] relay: the close_notify of the first connection
/// awaiting its answer (with its socket), and whether the relay stopped.
#[derive(Default)]
struct Stop {
    state: Mutex<StopState>,
    changed: Condvar,
}

#[derive(Default)]
struct StopState {
    first: Option<(Vec<u8>, TcpStream)>,
    stopped: bool,
}

impl Stop {
    /// Connection `sock` read the client's close_notify; `close` is its own, encrypted. Waits
    /// `delay` for a second connection to await its answer too, then answers (false); but when
    /// that second one comes, it stops the relay from its own thread, at once: the first gets
    /// its close_notify and a FIN, the second its close_notify and a reset (true: the caller
    /// drops the connection and what it read). After the stop, every connection is answered.
    fn stopped_while_awaiting(&self, sock: &TcpStream, close: &[u8], delay: Duration) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.stopped {
            return false;
        }
        if let Some((first_close, mut first)) = state.first.take() {
            state.stopped = true;
            self.changed.notify_all();
            let _ = first.write_all(&first_close);
            let _ = first.shutdown(std::net::Shutdown::Write);
            let _ = (&*sock).write_all(close);
            let _ = socket2::SockRef::from(sock).set_linger(Some(Duration::ZERO));
            return true;
        }
        state.first = Some((close.to_vec(), sock.try_clone().unwrap()));
        let (mut state, _) = self
            .changed
            .wait_timeout_while(state, delay, |s| !s.stopped)
            .unwrap();
        if state.stopped {
            return true;
        }
        state.first = None;
        false
    }
}

/// The running receiver; lives until the test process ends.
pub struct Receiver {
    pub port: u16,
    log: Arc<Mutex<Vec<Connection>>>,
}

impl Receiver {
    pub fn start(pki: &Pki) -> Self {
        Self::start_with(pki, Behaviour::Normal)
    }

    /// A receiver that only counts (for volumes too big to keep); the benchmark's.
    #[allow(dead_code)]
    pub fn start_counting(pki: &Pki) -> Self {
        Self::start_with(pki, Behaviour::Counting)
    }

    pub fn start_with(pki: &Pki, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let config = pki.server_config();
        let shared = log.clone();
        let stop = Arc::new(Stop::default());
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, log, stop) = (config.clone(), shared.clone(), stop.clone());
                std::thread::spawn(move || serve(tcp, config, log, behaviour, &stop));
            }
        });
        Self { port, log }
    }

    pub fn connections(&self) -> Vec<Connection> {
        self.log.lock().unwrap().clone()
    }

    /// Every byte received, all connections in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.connections()
            .into_iter()
            .flat_map(|c| c.bytes)
            .collect()
    }

    /// The records of every connection that was closed cleanly.
    pub fn records(&self) -> Vec<Record> {
        self.connections()
            .into_iter()
            .filter(|c| c.clean_close)
            .flat_map(|c| parse_records(&c.bytes))
            .collect()
    }

    /// Waits until `n` records arrived or `timeout` passed.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Record> {
        super::wait_for_len(n, timeout, || self.records())
    }

    /// Every whole record read, on any connection, closed cleanly or not: what a relay that
    /// forwards as it reads would have passed on.
    pub fn every_record(&self) -> Vec<Record> {
        self.connections()
            .iter()
            .flat_map(|c| complete_records(&c.bytes).0)
            .collect()
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<ServerConfig>,
    log: Arc<Mutex<Vec<Connection>>>,
    behaviour: Behaviour,
    stop: &Stop,
) {
    let index = {
        let mut l = log.lock().unwrap();
        l.push(Connection::default());
        l.len() - 1
    };
    let record = |f: &dyn Fn(&mut Connection)| f(&mut log.lock().unwrap()[index]);
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let conn = ServerConnection::new(config).unwrap();
    if let Behaviour::CloseNotifyAfter(after) = behaviour {
        close_notify_after(tcp, conn, after);
        return;
    }
    let mut tls = StreamOwned::new(conn, tcp);
    if matches!(behaviour, Behaviour::Stall | Behaviour::CloseAfterHandshake) {
        // Finish the handshake, then hold the connection without reading (after a close_notify,
        // for CloseAfterHandshake).
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return;
            }
        }
        if behaviour == Behaviour::CloseAfterHandshake {
            tls.conn.send_close_notify();
            let _ = tls.flush();
            std::thread::sleep(Duration::from_secs(20));
        } else {
            std::thread::sleep(Duration::from_secs(120));
        }
        return;
    }
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    let reset_after = behaviour.reset_after(index);
    let started = std::time::Instant::now();
    loop {
        let room = match behaviour {
            Behaviour::ReadRate(rate) => {
                // Read 4 KiB at a time, no sooner than the rate allows.
                let due = Duration::from_secs_f64(total as f64 / rate as f64);
                std::thread::sleep(due.saturating_sub(started.elapsed()));
                4096
            }
            _ => buf.len(),
        };
        match tls.read(&mut buf[..room]) {
            Ok(0) => {
                if let Behaviour::StopsWhileClosing(delay) = behaviour
                    && total > 0
                {
                    tls.conn.send_close_notify();
                    let mut close = Vec::new();
                    while tls.conn.wants_write() {
                        let _ = tls.conn.write_tls(&mut close);
                    }
                    if !stop.stopped_while_awaiting(&tls.sock, &close, delay) {
                        let answered = tls.sock.write_all(&close);
                        record(&|c| c.clean_close = answered.is_ok());
                    }
                    return;
                }
                let fails = behaviour == Behaviour::CloseWithoutNotify
                    || (behaviour == Behaviour::FirstFailsLate && index == 0);
                if behaviour == Behaviour::FirstFailsLate && index == 0 {
                    std::thread::sleep(Duration::from_secs(1));
                }
                if !fails {
                    tls.conn.send_close_notify();
                }
                let flushed = tls.flush();
                record(&|c| c.clean_close = flushed.is_ok() && !fails);
                return;
            }
            Ok(n) => {
                record(&|c| {
                    c.byte_count += n as u64;
                    c.newlines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
                    if behaviour != Behaviour::Counting {
                        c.bytes.extend_from_slice(&buf[..n]);
                    }
                });
                total += n as u64;
                if reset_after.is_some_and(|limit| total >= limit) {
                    // Dropping the socket with unread data makes the kernel send a reset.
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let text = e.to_string();
                record(&|c| c.error = Some(text.clone()));
                return;
            }
        }
    }
}

/// Splits a byte stream into syslog records: newline-framed, or octet-counted (RFC 6587).
pub fn parse_records(bytes: &[u8]) -> Vec<Record> {
    let (records, rest) = complete_records(bytes);
    assert!(
        rest.is_empty(),
        "a record cut short: {:?}",
        String::from_utf8_lossy(rest)
    );
    records
}

/// The whole records at the start of `bytes`, and what is left after them (a record cut short
/// by a connection that ended in its middle).
pub fn complete_records(mut bytes: &[u8]) -> (Vec<Record>, &[u8]) {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let (record, octet_counted, rest) = if digits > 0 && bytes.get(digits) == Some(&b' ') {
            let len: usize = std::str::from_utf8(&bytes[..digits])
                .unwrap()
                .parse()
                .unwrap();
            let start = digits + 1;
            let Some(record) = bytes.get(start..start + len) else {
                break;
            };
            (record, true, &bytes[start + len..])
        } else {
            let Some(newline) = bytes.iter().position(|&b| b == b'\n') else {
                break;
            };
            (&bytes[..=newline], false, &bytes[newline + 1..])
        };
        let text = std::str::from_utf8(record).expect("record is UTF-8");
        let text = text.strip_suffix('\n').expect("record ends in a newline");
        out.push(parse_record(text, octet_counted));
        bytes = rest;
    }
    (out, bytes)
}

/// The value of `field` in each record's JSON message, sorted (a CloudTrail `eventID`, ...).
pub fn sorted_field(records: &[Record], field: &str) -> Vec<String> {
    let mut values: Vec<String> = records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.message).unwrap();
            v[field].as_str().unwrap_or_default().to_string()
        })
        .collect();
    values.sort();
    values
}

/// One syslog record without its framing: `<14>Mmm dd hh:mm:ss host tag: message`.
pub fn parse_record(text: &str, octet_counted: bool) -> Record {
    let rest = text.strip_prefix("<14>").expect("priority 14");
    let after_date = &rest[16..];
    let (_host, after_host) = after_date.split_once(' ').unwrap();
    let (tag, message) = after_host.split_once(": ").unwrap();
    Record {
        tag: tag.to_string(),
        message: message.to_string(),
        octet_counted,
    }
}

/// Ships `records` (tag, message) through the real shipper to localhost:`port` with the
/// workdir's certificates; the receipt of the batch.
pub fn ship_direct(wd: &super::Workdir, port: u16, records: &[(&str, &str)]) -> Receipt {
    ship_framed(wd, port, false, records)
}

/// [`ship_direct`], every record octet-counted when `octet_counting`.
pub fn ship_framed(
    wd: &super::Workdir,
    port: u16,
    octet_counting: bool,
    records: &[(&str, &str)],
) -> Receipt {
    let limits = EpochLimits {
        attempts: 1,
        ..EpochLimits::default()
    };
    let mut receipts = ship_with(wd, port, limits, octet_counting, &[records]);
    receipts.remove(0)
}

/// Ships each batch of records (tag, message) through the real shipper with `limits`, all at
/// once, to localhost:`port` with the workdir's certificates; the receipt of each batch.
pub fn ship_batches(
    wd: &super::Workdir,
    port: u16,
    limits: EpochLimits,
    batches: &[&[(&str, &str)]],
) -> Vec<Receipt> {
    ship_with(wd, port, limits, false, batches)
}

fn ship_with(
    wd: &super::Workdir,
    port: u16,
    limits: EpochLimits,
    octet_counting: bool,
    batches: &[&[(&str, &str)]],
) -> Vec<Receipt> {
    let certs = wd.path().join("certs");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let endpoint = DevoEndpoint::new(&EndpointSpec {
            address: "localhost",
            port,
            chain: &certs.join("chain.crt"),
            cert: &certs.join("client.crt"),
            key: &certs.join("client.key"),
            verify_hostname: true,
            server_fingerprint: None,
        })
        .unwrap();
        let (shipper, task) = Shipper::start(vec![(Destination::Devo(Arc::new(endpoint)), limits)]);
        let framing = Framing::Syslog {
            host: "myhost".into(),
            octet_counting,
        };
        let mut pending = Vec::new();
        for records in batches {
            let mut batch = framing.batch();
            for (tag, message) in *records {
                batch.push(tag, message);
            }
            pending.push(shipper.ship(batch).await);
        }
        drop(shipper);
        let mut receipts = Vec::new();
        for p in pending {
            receipts.push(p.await);
        }
        task.await.unwrap();
        receipts
    })
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
