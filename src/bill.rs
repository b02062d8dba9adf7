//! What a run costs at AWS (pure; `aws` counts, `report` and `run` tell): the billable units of its requests, counted as AWS counts them, and
//! an estimate at public list prices (us-east-1, dated; `inputs.aws.prices_usd_per_million`
//! overrides them).
//!
//! - SQS bills every request, per 64 KB chunk of its payload (a receive of ten 10 KB messages is
//!   two requests).
//! - S3 bills GET-class requests (GetObject, HeadObject, HeadBucket) and LIST-class ones
//!   (ListObjectsV2, PutObject, CopyObject) at two prices; DeleteObject is free.
//! - CloudWatch bills GetMetricData per metric requested (each query of each call), and
//!   ListMetrics and GetMetricStatistics per request.
//! - CloudTrail LookupEvents, CloudWatch Logs FilterLogEvents and DescribeLogGroups (under their
//!   quotas) and STS are free.

use std::collections::BTreeMap;

/// A kind of billable unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    SqsRequests,
    S3GetRequests,
    S3ListRequests,
    CloudWatchMetricsRequested,
    CloudWatchRequests,
}

/// When the list prices below were read off AWS's pricing pages.
pub const PRICES_AS_OF: &str = "2026-12-01";

/// The list prices, as the summary and the report name them.
pub fn list_prices() -> String {
    format!("us-east-1 list prices of {PRICES_AS_OF}")
}

/// Which prices an estimate is at: the list prices, or `prices_usd_per_million` when it sets any.
pub fn prices_label(overrides: &BTreeMap<String, f64>) -> String {
    if overrides.is_empty() {
        list_prices()
    } else {
        "prices_usd_per_million".to_string()
    }
}

/// One SQS request per this many bytes of payload.
pub const SQS_CHUNK_BYTES: u64 = 64 << 10;

impl Unit {
    pub const ALL: [Self; 5] = [
        Self::SqsRequests,
        Self::S3GetRequests,
        Self::S3ListRequests,
        Self::CloudWatchMetricsRequested,
        Self::CloudWatchRequests,
    ];

    /// Its name in the summary, the report, the metrics and `prices_usd_per_million`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::SqsRequests => "sqs_requests",
            Self::S3GetRequests => "s3_get_requests",
            Self::S3ListRequests => "s3_list_requests",
            Self::CloudWatchMetricsRequested => "cloudwatch_metrics_requested",
            Self::CloudWatchRequests => "cloudwatch_requests",
        }
    }

    /// USD per million units at us-east-1's public list prices ([`PRICES_AS_OF`]): SQS standard
    /// queues $0.40, S3 Standard GET $0.0004 and LIST/PUT $0.005 per 1,000, CloudWatch $0.01 per
    /// 1,000 metrics requested and per 1,000 API requests.
    pub const fn list_price_per_million(self) -> f64 {
        match self {
            Self::SqsRequests | Self::S3GetRequests => 0.40,
            Self::S3ListRequests => 5.00,
            Self::CloudWatchMetricsRequested | Self::CloudWatchRequests => 10.00,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.name() == name)
    }

    /// What one request to `operation` (`Service.Operation`), answered with `response_bytes`,
    /// bills (GetMetricData's metrics are counted where the queries are made).
    pub fn of_request(operation: &str, response_bytes: u64) -> Option<(Self, u64)> {
        let (service, op) = operation.split_once('.')?;
        match (service, op) {
            ("SQS", _) => Some((
                Self::SqsRequests,
                response_bytes.div_ceil(SQS_CHUNK_BYTES).max(1),
            )),
            ("S3", "GetObject" | "HeadObject" | "HeadBucket") => Some((Self::S3GetRequests, 1)),
            ("S3", "ListObjectsV2" | "PutObject" | "CopyObject") => Some((Self::S3ListRequests, 1)),
            ("CloudWatch", "ListMetrics" | "GetMetricStatistics") => {
                Some((Self::CloudWatchRequests, 1))
            }
            _ => None,
        }
    }
}

/// The units billed so far, and what they cost at `prices` (USD per million, by unit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bill {
    pub units: BTreeMap<Unit, u64>,
}

impl Bill {
    pub fn add(&mut self, unit: Unit, n: u64) {
        *self.units.entry(unit).or_default() += n;
    }

    /// The estimate in USD at list prices, with `overrides` (USD per million, by unit name).
    pub fn usd(&self, overrides: &BTreeMap<String, f64>) -> f64 {
        self.units
            .iter()
            .map(|(unit, n)| {
                let price = overrides
                    .get(unit.name())
                    .copied()
                    .unwrap_or(unit.list_price_per_million());
                *n as f64 * price / 1e6
            })
            // Not `sum()`: the sum of no floats is -0.0, printed "-0.000000".
            .fold(0.0, |total, usd| total + usd)
    }

    /// `sqs_requests=12 s3_get_requests=40`: the units billed, for the summary.
    pub fn line(&self) -> String {
        self.units
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(u, n)| format!("{}={n}", u.name()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of free calls only costs 0.000000, not -0.000000 (the sum of no floats is -0.0).
    #[test]
    fn nothing_billed_is_zero_not_minus_zero() {
        let usd = Bill::default().usd(&BTreeMap::new());
        assert_eq!(format!("{usd:.6}"), "0.000000");
    }

    #[test]
    fn requests_bill_as_aws_counts_them() {
        assert_eq!(
            Unit::of_request("SQS.ReceiveMessage", 100_000),
            Some((Unit::SqsRequests, 2)),
            "a receive of 100 kB is two 64 KB chunks"
        );
        assert_eq!(
            Unit::of_request("SQS.DeleteMessageBatch", 0),
            Some((Unit::SqsRequests, 1))
        );
        assert_eq!(
            Unit::of_request("S3.GetObject", 5 << 20),
            Some((Unit::S3GetRequests, 1))
        );
        assert_eq!(
            Unit::of_request("S3.ListObjectsV2", 0),
            Some((Unit::S3ListRequests, 1))
        );
        assert_eq!(Unit::of_request("S3.DeleteObject", 0), None);
        assert_eq!(Unit::of_request("CloudTrail.LookupEvents", 0), None);
        assert_eq!(Unit::of_request("STS.GetCallerIdentity", 0), None);
    }

    #[test]
    fn the_metrics_example_of_the_readme() {
        // 2,000 metrics × 5 statistics every 5 minutes, for 30 days.
        let mut bill = Bill::default();
        bill.add(Unit::CloudWatchMetricsRequested, 2_000 * 5 * 12 * 24 * 30);
        assert_eq!(bill.units[&Unit::CloudWatchMetricsRequested], 86_400_000);
        assert!((bill.usd(&BTreeMap::new()) - 864.0).abs() < 1e-6);
        let cheaper: BTreeMap<String, f64> =
            [("cloudwatch_metrics_requested".to_string(), 5.0)].into();
        assert!((bill.usd(&cheaper) - 432.0).abs() < 1e-6);
        assert_eq!(bill.line(), "cloudwatch_metrics_requested=86400000");
    }
}
