//! What every end-to-end test needs: a fresh product directory in the seed's layout
//! (`config/config.yaml`, `certs/`, `state/`), the built binary bound to it and to moto, and the
//! two real peers (moto, the Devo stand-in).

pub mod aws;
pub mod devo;
pub mod prom;
pub mod samples;
pub mod syslog;

use std::path::{Path, PathBuf};
use std::process::Command;

use devo::Pki;

/// A product directory for one test; removed when dropped.
pub struct Workdir {
    dir: tempfile::TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test unless the run exited with `code`; shows what the run said.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstderr:\n{}\nstdout:\n{}",
            self.stderr, self.stdout
        );
        self
    }

    /// Fails the test unless standard output contains `text`.
    #[track_caller]
    pub fn expect_stdout(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}:\n{}",
            self.stdout
        );
        self
    }

    /// Fails the test unless standard error contains `text`.
    #[track_caller]
    pub fn expect_stderr(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }
}

impl Workdir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::create_dir_all(dir.path().join("certs")).unwrap();
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_file(&self) -> PathBuf {
        self.path().join("config/config.yaml")
    }

    /// chain.crt, client.crt and client.key in certs/, from `client` (its CA is the chain).
    pub fn write_certs(&self, chain: &Pki, client: &Pki) {
        let certs = self.path().join("certs");
        std::fs::write(certs.join("chain.crt"), &chain.ca_pem).unwrap();
        std::fs::write(certs.join("client.crt"), &client.client_cert_pem).unwrap();
        let key = certs.join("client.key");
        std::fs::write(&key, &client.client_key_pem).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    pub fn write_config(&self, yaml: &str) {
        std::fs::write(self.config_file(), yaml).unwrap();
    }

    /// Runs `devo-aws ARGS --config <this config>` against moto.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command(Command::new(env!("CARGO_BIN_EXE_devo-aws")), args)
            .output()
            .unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        eprintln!("devo-aws {args:?} exited {}\n{}", run.code, run.stderr);
        run
    }

    /// [`Workdir::run`], and the process's peak resident memory in KiB (its `VmHWM`, read from
    /// /proc while it runs).
    pub fn run_with_peak_rss(&self, args: &[&str]) -> (Run, u64) {
        use std::io::Read;
        let mut child = self
            .command(Command::new(env!("CARGO_BIN_EXE_devo-aws")), args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status_file = format!("/proc/{}/status", child.id());
        let mut stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut peak = 0u64;
        while child.try_wait().unwrap().is_none() {
            if let Ok(status) = std::fs::read_to_string(&status_file)
                && let Some(kib) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let out = child.wait_with_output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: reader.join().unwrap(),
        };
        eprintln!(
            "devo-aws {args:?} exited {} (peak RSS {peak} KiB)\n{}",
            run.code, run.stderr
        );
        (run, peak)
    }

    /// `bash -c SCRIPT` in this workdir with the environment a run gets (`$DEVO_AWS` is the
    /// binary, `$CONFIG` the config file).
    pub fn shell(&self, script: &str) -> std::process::Output {
        let mut command = Command::new("bash");
        command
            .args(["-c", script])
            .current_dir(self.path())
            .env_clear()
            .env("DEVO_AWS", env!("CARGO_BIN_EXE_devo-aws"))
            .env("CONFIG", self.config_file());
        self.aws_env(&mut command);
        command.output().unwrap()
    }

    fn aws_env(&self, command: &mut Command) {
        command
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", aws::endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "2");
    }

    /// `program` set up to run `devo-aws ARGS --config <this config>` against moto (the
    /// program is the binary itself, or a wrapper such as /usr/bin/time given the binary).
    pub fn command(&self, mut program: Command, args: &[&str]) -> Command {
        program
            .args(args)
            .arg("--config")
            .arg(self.config_file())
            .current_dir(self.path())
            .env_clear();
        self.aws_env(&mut program);
        program
    }
}

/// The usual peers of a test: moto, a sound Devo receiver, and a workdir whose certificates
/// match it.
pub fn setup() -> (aws::Moto, devo::Receiver, Workdir) {
    let (moto, _, receiver, wd) = setup_with_pki();
    (moto, receiver, wd)
}

/// [`setup`], and the PKI of the receiver and the workdir (for more receivers that trust it).
pub fn setup_with_pki() -> (aws::Moto, Pki, devo::Receiver, Workdir) {
    setup_with(devo::Behaviour::Normal)
}

/// [`setup_with_pki`] with a receiver that behaves so.
pub fn setup_with(behaviour: devo::Behaviour) -> (aws::Moto, Pki, devo::Receiver, Workdir) {
    let pki = Pki::new("devo");
    let receiver = devo::Receiver::start_with(&pki, behaviour);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    (aws::Moto::new(), pki, receiver, wd)
}

/// moto, a real syslog server of `kind` as Devo (see [`syslog`]), and a workdir whose
/// certificates match it.
pub fn setup_syslog(kind: syslog::Kind) -> (aws::Moto, syslog::SyslogServer, Workdir) {
    let pki = Pki::new("devo");
    let server = syslog::SyslogServer::start(kind, &pki);
    let wd = Workdir::new();
    wd.write_certs(&pki, &pki);
    (aws::Moto::new(), server, wd)
}

/// Waits until what was just put into moto is over a second old. A run's windows, and its
/// watermark on CloudWatch Logs' ingestion times, end on AWS's clock read off the Date header of
/// its answers at the start of the second: up to a second behind AWS's own.
pub fn let_aws_clock_pass() {
    std::thread::sleep(std::time::Duration::from_millis(1100));
}

/// What `fetch` gives once it holds `n` items, or when `timeout` has passed.
pub fn wait_for_len<T>(
    n: usize,
    timeout: std::time::Duration,
    mut fetch: impl FnMut() -> Vec<T>,
) -> Vec<T> {
    let end = std::time::Instant::now() + timeout;
    loop {
        let got = fetch();
        if got.len() >= n || std::time::Instant::now() > end {
            return got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `bytes` gzipped (one member).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A whole config.yaml in the seed's format, shipping to localhost:`port`, with `services`
/// (indented YAML under `inputs.aws.services`).
/// The `service-events-all` block (for [`config_yaml`]) reading `queue` in `regions`.
pub fn events_yaml(queue: &str, regions: &[&str]) -> String {
    format!(
        "service-events-all:\n  cloudwatch_sqs_queue_name: {queue}\n  regions: [{}]\n",
        regions.join(", ")
    )
}

/// Where tests keep S3 state in their bucket.
pub const STATE_PREFIX: &str = "devo-aws/state";

/// `yaml` (from [`config_yaml`]) with its state in `bucket` instead of the state directory.
pub fn with_s3_state(yaml: &str, bucket: &str) -> String {
    let files = "    type: filesystem\n    config:\n      directory_name: state\n";
    assert!(yaml.contains(files));
    yaml.replace(
        files,
        &format!(
            "    type: s3\n    config:\n      bucket: {bucket}\n      prefix: {STATE_PREFIX}\n"
        ),
    )
}

/// `custom_service` (type logs) for `groups` in us-east-1, with `extra` keys.
pub fn logs_yaml(groups: &str, extra: &str) -> String {
    format!(
        "custom_service:\n  types: [logs]\n  log_groups: {groups}\n  regions: [us-east-1]\n{extra}"
    )
}

/// `audit-events-all` from the API in us-east-1, no delay, with `extra` keys.
pub fn audit_api_yaml(extra: &str) -> String {
    format!(
        "audit-events-all:\n  types: [audits_api]\n  regions: [us-east-1]\n  delay_seconds: 0\n{extra}"
    )
}

/// `audit-events-all` from S3+SQS on `queue` in us-east-1, with `extra` keys.
pub fn audit_s3_yaml(queue: &str, extra: &str) -> String {
    format!(
        "audit-events-all:\n  types: [audits_s3]\n  audit_sqs_queue_name: {queue}\n  regions: [us-east-1]\n{extra}"
    )
}

/// `non-cloudwatch-logs` (type flowlogs) on `queue` in us-east-1, with `extra` keys.
pub fn flowlogs_yaml(queue: &str, extra: &str) -> String {
    format!(
        "non-cloudwatch-logs:\n  types: [flowlogs]\n  vpcflowlogs_sqs_queue_name: {queue}\n  regions: [us-east-1]\n{extra}"
    )
}

pub fn config_yaml(port: u16, services: &str) -> String {
    let mut yaml = format!(
        "globals:
  debug: false
  id: 1
  name: e2e
  persistence:
    type: filesystem
    config:
      directory_name: state
outputs:
  devo_1:
    type: devo_platform
    config:
      address: localhost
      port: {port}
      type: SSL
      chain: chain.crt
      cert: client.crt
      key: client.key
inputs:
  aws:
    id: 7
    enabled: true
    services:
"
    );
    for line in services.lines() {
        yaml.push_str("      ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

/// CPU seconds from a /proc stat file: the two clock-tick fields at `at` and `at + 1` counted
/// after the command name (which is in parentheses and may hold spaces): 11 for utime and stime,
/// 13 for the waited-for children's cutime and cstime.
pub fn stat_cpu_seconds(path: &str, at: usize) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[at].parse::<f64>().unwrap() + fields[at + 1].parse::<f64>().unwrap();
    ticks / 100.0
}
