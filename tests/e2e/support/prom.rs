//! The Prometheus components the tests use, from Debian's packages (`.ci/run` installs them):
//! a Pushgateway started per test on a free port, and promtool to check the text format and the
//! alert rules.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PUSHGATEWAY: &str = "/usr/bin/prometheus-pushgateway";
pub const PROMTOOL: &str = "/usr/bin/promtool";

/// A running Pushgateway; stopped when dropped.
pub struct Pushgateway {
    pub url: String,
    child: Child,
}

impl Pushgateway {
    pub fn start() -> Self {
        assert!(
            std::path::Path::new(PUSHGATEWAY).exists(),
            "{PUSHGATEWAY} is missing: apt-get install prometheus-pushgateway (tests/support/install-peers.sh)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Debian's build persists to one file by default: each test keeps its own metrics in
        // memory instead.
        let child = Command::new(PUSHGATEWAY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "the Pushgateway did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            url: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// What the Pushgateway serves on /metrics.
    pub fn metrics(&self) -> String {
        ureq::get(format!("{}/metrics", self.url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `promtool check metrics` on `text`: its output (empty when all is well) and success.
pub fn check_metrics(text: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
