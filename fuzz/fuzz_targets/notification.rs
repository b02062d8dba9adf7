//! SQS message bodies: S3 notifications (direct, SNS, EventBridge, CloudTrail), EventBridge
//! events and Security Hub findings.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code)]

#[path = "../../src/formats/mod.rs"]
mod formats;

use crate::formats::{eventbridge, s3_notification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = std::str::from_utf8(data) {
        let _ = s3_notification::parse(body);
        let _ = eventbridge::event_from_body(body);
        let _ = eventbridge::findings_from_body(body);
    }
});
