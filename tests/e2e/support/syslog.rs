//! Real syslog servers at the Devo end, from Debian's packages, each demanding a client
//! certificate from the test CA, started per test on a free port with a config of their own and
//! in the foreground:
//! - rsyslog (imtcp with the ossl driver in x509/certvalid mode, a direct main queue so that
//!   whatever it read is in its output file before it reads on);
//! - syslog-ng (its `syslog()` source over TLS with `peer-verify(required-trusted)`, which takes
//!   octet-counted records only, and flow control with a file flushed at every line).
//!
//! Each writes the raw text of every record it receives, JSON-escaped and one per line, to a file
//! the test reads. `.ci/run` installs rsyslog and unpacks syslog-ng into tests/support/syslog-ng
//! (tests/support/install-peers.sh).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::devo::{Pki, Record, parse_record};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rsyslog,
    SyslogNg,
}

impl Kind {
    /// Both: every delivery test against a real server runs against each.
    pub const ALL: [Kind; 2] = [Kind::Rsyslog, Kind::SyslogNg];
}

/// Where install-peers.sh unpacked syslog-ng.
fn syslog_ng_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/syslog-ng")
}

/// A running syslog server; stopped when dropped.
pub struct SyslogServer {
    pub kind: Kind,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl SyslogServer {
    pub fn start(kind: Kind, pki: &Pki) -> Self {
        Self::start_on(kind, pki, free_port())
    }

    /// A server on `port` (a test that restarts Devo keeps its port).
    pub fn start_on(kind: Kind, pki: &Pki, port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, pem) in [
            ("ca.crt", &pki.ca_pem),
            ("server.crt", &pki.server_cert_pem),
            ("server.key", &pki.server_key_pem),
        ] {
            std::fs::write(d.join(name), pem).unwrap();
        }
        let log = std::fs::File::create(d.join("server.log")).unwrap();
        let mut command = match kind {
            Kind::Rsyslog => rsyslog(d, port),
            Kind::SyslogNg => syslog_ng(d, port),
        };
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Self {
            kind,
            port,
            dir,
            child,
        };
        server.wait_listening();
        server
    }

    /// The config of a run shipping here (`services` as for [`super::config_yaml`]): syslog-ng
    /// takes only octet-counted records.
    pub fn config_yaml(&self, services: &str) -> String {
        let yaml = super::config_yaml(self.port, services);
        match self.kind {
            Kind::Rsyslog => yaml,
            Kind::SyslogNg => yaml.replace(
                "      key: client.key\n",
                "      key: client.key\n      octet_counting: true\n",
            ),
        }
    }

    fn wait_listening(&self) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            // A bare TCP connect: the server logs a failed TLS session and goes on.
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{:?} did not listen on {}: {}",
            self.kind,
            self.port,
            self.log()
        );
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// What the server said on its own output.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Each record as received, without its framing and its final line feed.
    pub fn raw_records(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.out()).unwrap_or_default();
        text.lines()
            .filter_map(|l| match self.kind {
                Kind::Rsyslog => serde_json::from_str::<String>(&format!("\"{l}\"")).ok(),
                Kind::SyslogNg => serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["raw"].as_str().map(str::to_string)),
            })
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

    /// Sends `signal` (by name: STOP, CONT, TERM) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal}");
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit, keeping what it
    /// wrote: its records.
    pub fn terminate(mut self) -> Vec<Record> {
        self.signal("TERM");
        self.signal("CONT");
        let _ = self.child.wait();
        self.records()
    }
}

impl Drop for SyslogServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let _ = writeln!(std::io::stderr(), "{:?} log:\n{}", self.kind, self.log());
        }
    }
}

/// rsyslogd in `d` on `port`.
fn rsyslog(d: &Path, port: u16) -> Command {
    assert!(
        Path::new(RSYSLOGD).exists(),
        "{RSYSLOGD} is missing: apt-get install rsyslog rsyslog-openssl (tests/support/install-peers.sh)"
    );
    let conf = format!(
        r#"global(DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile="{d}/ca.crt"
       DefaultNetstreamDriverCertFile="{d}/server.crt" DefaultNetstreamDriverKeyFile="{d}/server.key"
       workDirectory="{d}" maxMessageSize="4m" parser.escapeControlCharactersOnReceive="off")
main_queue(queue.type="Direct")
module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")
input(type="imtcp" port="{port}")
template(name="raw" type="list") {{ property(name="rawmsg" format="json") constant(value="\n") }}
action(type="omfile" file="{d}/out" template="raw")
"#,
        d = d.display()
    );
    std::fs::write(d.join("rsyslog.conf"), conf).unwrap();
    let mut command = Command::new(RSYSLOGD);
    command
        .arg("-n")
        .arg("-f")
        .arg(d.join("rsyslog.conf"))
        .arg("-i")
        .arg(d.join("rsyslogd.pid"));
    command
}

/// syslog-ng in `d` on `port`, from the unpacked package.
fn syslog_ng(d: &Path, port: u16) -> Command {
    let root = syslog_ng_root();
    let binary = root.join("usr/sbin/syslog-ng");
    assert!(
        binary.exists(),
        "{} is missing: run tests/support/install-peers.sh",
        binary.display()
    );
    let conf = format!(
        r#"@version: 3.38
options {{ keep-hostname(yes); chain-hostnames(no); log-msg-size(4194304); stats-freq(0); }};
source s_tls {{
  syslog(ip("127.0.0.1") port({port}) transport("tls") max-connections(100) log-iw-size(10000)
    tls(key-file("{d}/server.key") cert-file("{d}/server.crt") ca-file("{d}/ca.crt")
        peer-verify(required-trusted))
    flags(no-parse) log-msg-size(4194304));
}};
destination d_out {{ file("{d}/out" template("$(format-json --scope none raw=$MSG)\n") flush-lines(1)); }};
log {{ source(s_tls); destination(d_out); flags(flow-control); }};
"#,
        d = d.display()
    );
    std::fs::write(d.join("syslog-ng.conf"), conf).unwrap();
    let libs = [
        "usr/lib/syslog-ng",
        "usr/lib/x86_64-linux-gnu",
        "lib/x86_64-linux-gnu",
    ]
    .map(|l| root.join(l).display().to_string())
    .join(":");
    let mut command = Command::new(binary);
    command
        .env("LD_LIBRARY_PATH", libs)
        .arg("-F")
        .arg("-e")
        .arg("-f")
        .arg(d.join("syslog-ng.conf"))
        .arg(format!(
            "--module-path={}",
            root.join("usr/lib/syslog-ng/3.38").display()
        ))
        .arg("-R")
        .arg(d.join("syslog-ng.persist"))
        .arg("-p")
        .arg(d.join("syslog-ng.pid"))
        .arg("-c")
        .arg(d.join("syslog-ng.ctl"));
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
