//! A real syslog server at the Devo end: rsyslog from Debian's packages (imtcp with the ossl
//! driver in x509/certvalid mode, so it demands a client certificate from the test CA), started
//! per test on a free port with a config of its own and `-n`. It writes the raw text of each
//! record it receives, JSON-escaped and one per line, to a file the test reads. `.ci/run`
//! installs it (tests/support/install-peers.sh).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::devo::{Pki, Record, parse_record};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A running rsyslogd; stopped when dropped.
pub struct Rsyslog {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Rsyslog {
    pub fn start(pki: &Pki) -> Self {
        Self::start_on(pki, free_port())
    }

    /// rsyslog on `port` (a test that restarts Devo keeps its port).
    pub fn start_on(pki: &Pki, port: u16) -> Self {
        assert!(
            Path::new(RSYSLOGD).exists(),
            "{RSYSLOGD} is missing: apt-get install rsyslog rsyslog-openssl (tests/support/install-peers.sh)"
        );
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, pem) in [
            ("ca.crt", &pki.ca_pem),
            ("server.crt", &pki.server_cert_pem),
            ("server.key", &pki.server_key_pem),
        ] {
            std::fs::write(d.join(name), pem).unwrap();
        }
        let conf = format!(
            r#"global(DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{d}/ca.crt"
       DefaultNetstreamDriverCertFile="{d}/server.crt" DefaultNetstreamDriverKeyFile="{d}/server.key"
       workDirectory="{d}" maxMessageSize="4m" parser.escapeControlCharactersOnReceive="off")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="{port}")
template(name="raw" type="list") {{ property(name="rawmsg" format="json") constant(value="\n") }}
action(type="omfile" file="{d}/out" template="raw")
"#,
            d = d.display()
        );
        std::fs::write(d.join("rsyslog.conf"), conf).unwrap();
        let log = std::fs::File::create(d.join("rsyslogd.log")).unwrap();
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(d.join("rsyslog.conf"))
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Self { port, dir, child };
        server.wait_listening();
        server
    }

    fn wait_listening(&self) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            // A bare TCP connect: rsyslog logs a failed TLS session and goes on.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("rsyslogd did not listen on {}: {}", self.port, self.log());
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// What rsyslogd said on its own output.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rsyslogd.log")).unwrap_or_default()
    }

    /// Each record as received, without its framing and its final line feed.
    pub fn raw_records(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.out()).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<String>(&format!("\"{l}\"")).unwrap())
            .collect()
    }

    pub fn records(&self) -> Vec<Record> {
        self.raw_records()
            .iter()
            .map(|r| parse_record(r, false))
            .collect()
    }

    /// Waits until `n` records arrived or `timeout` passed.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Record> {
        super::wait_for_len(n, timeout, || self.records())
    }

    /// Waits until the record count stops growing for `quiet`; then the records.
    pub fn settled(&self, quiet: Duration) -> Vec<Record> {
        let mut last = usize::MAX;
        loop {
            let n = self.records().len();
            if n == last {
                return self.records();
            }
            last = n;
            std::thread::sleep(quiet);
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let _ = writeln!(std::io::stderr(), "rsyslogd log:\n{}", self.log());
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
