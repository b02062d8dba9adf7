//! How a run, a service or a region ended: the run's error vocabulary and its exit codes.
//!
//! A leaf, so that every layer can speak it. The exit-code table of `--help`, the man page and
//! the README is made from [`EXIT_CODES`] (a test keeps the README's copy true).

use std::fmt;

/// How a run (or one service, or one region of it) ended. Ordered: the worst one decides the
/// exit code of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Done, including "nothing new" and "not due yet".
    Done,
    /// Another run holds this service's lock.
    Locked,
    /// Network, throttling, Devo unreachable: the next run retries.
    Temporary,
    /// Everything was delivered, and a CloudTrail digest found the trail not whole: a file
    /// missing, altered or shipped unnamed, or a digest whose signature or chain does not hold.
    Integrity,
    /// The config, the certificates or the credentials must change.
    Config,
    /// A bug.
    Internal,
}

/// Exit code 2: the command line was refused (clap's own).
pub const USAGE_EXIT_CODE: u8 = 2;

/// Every exit code and what it means, in the order of the codes.
pub const EXIT_CODES: [(u8, &str); 7] = [
    (
        0,
        "done, also when there was nothing new or a service was not due yet",
    ),
    (1, "internal error"),
    (USAGE_EXIT_CODE, "usage error"),
    (
        3,
        "config, certificate or credentials error: a human must fix something (also: STS refused AssumeRole; a key filter matched none of a run's objects)",
    ),
    (
        4,
        "temporary failure (network, throttling, Devo unreachable): the next run retries",
    ),
    (5, "another run holds a service's lock"),
    (
        6,
        "a CloudTrail digest found the trail not whole (a log file missing, altered or named by no digest, or a digest whose signature or chain does not hold): what was read was delivered, an auditor must look (the verdict events in cloud.aws.cloudtrail.integrity say what)",
    ),
];

impl Outcome {
    /// The documented exit code.
    pub const fn exit_code(self) -> u8 {
        match self {
            Self::Done => 0,
            Self::Internal => 1,
            Self::Config => 3,
            Self::Temporary => 4,
            Self::Locked => 5,
            Self::Integrity => 6,
        }
    }

    /// The word of the summary line's `status`.
    pub const fn status(self) -> &'static str {
        match self {
            Self::Done => "ok",
            Self::Locked => "locked",
            Self::Temporary => "temporary-failure",
            Self::Integrity => "integrity-alarm",
            Self::Config => "config-error",
            Self::Internal => "internal-error",
        }
    }
}

/// The exit codes as `--help` and the man page print them.
pub fn exit_codes_help() -> String {
    let mut text = String::from("Exit codes:");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("\n  {code}  {meaning}"));
    }
    text.push_str("\nWith `all`, the worst outcome wins (1 > 3 > 6 > 4 > 5 > 0).");
    text
}

/// The exit codes as the README's table.
pub fn exit_codes_markdown() -> String {
    let mut text = String::from("| code | meaning |\n|---|---|\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("| {code} | {meaning} |\n"));
    }
    text
}

/// A failure of part of a service, with its class.
#[derive(Debug, Clone)]
pub struct Failure {
    pub outcome: Outcome,
    pub reason: String,
}

impl Failure {
    pub fn new(outcome: Outcome, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            reason: reason.into(),
        }
    }

    /// The same failure, ranked `outcome` (the worse of the two).
    pub fn with_outcome(self, outcome: Outcome) -> Self {
        Self {
            outcome: self.outcome.max(outcome),
            ..self
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_its_line_in_the_table() {
        for o in [
            Outcome::Done,
            Outcome::Locked,
            Outcome::Temporary,
            Outcome::Integrity,
            Outcome::Config,
            Outcome::Internal,
        ] {
            assert!(EXIT_CODES.iter().any(|(code, _)| *code == o.exit_code()));
        }
        assert!(
            Outcome::Internal > Outcome::Config
                && Outcome::Config > Outcome::Integrity
                && Outcome::Integrity > Outcome::Temporary
                && Outcome::Temporary > Outcome::Locked
                && Outcome::Locked > Outcome::Done
        );
    }
}
