//! Parsers for what arrives from AWS. Each takes bytes and gives events (tag inputs and the
//! message text), or a [`FormatError`] saying why the input cannot be understood.

pub mod cloudtrail;
pub mod eventbridge;
pub mod json;
pub mod lines;
pub mod s3_notification;

/// Input that cannot be understood: reported with where it came from, never fatal to a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("unexpected shape: {0}")]
    Shape(String),
}
