//! Parsers for what arrives from AWS. Each takes bytes and gives events (tag inputs and the
//! message text), or a [`FormatError`] saying why the input cannot be understood.
//!
//! The S3 object formats are plug-ins (see [`objects`]): one file each, with one [`objects::Format`]
//! row; [`OBJECT_FORMATS`] lists them.

pub mod alb;
pub mod awsconfig;
pub mod cloudfront;
pub mod cloudtrail;
pub mod compression;
pub mod defined;
pub mod digest;
pub mod elb;
pub mod eventbridge;
pub mod firehose;
pub mod flowlogs;
pub mod guardduty;
pub mod json;
pub mod jsonlines;
pub mod jsonseq;
pub mod layout;
pub mod lines;
pub mod networkfirewall;
pub mod objects;
pub mod parquet;
pub mod records;
pub mod route53;
pub mod s3_notification;
pub mod s3access;
pub mod securitylake;
pub mod waf;

/// Every S3 object format.
pub const OBJECT_FORMATS: &[&objects::Format] = &[
    &cloudtrail::FORMAT,
    &flowlogs::FORMAT,
    &cloudfront::FORMAT,
    &alb::FORMAT,
    &elb::FORMAT,
    &waf::FORMAT,
    &s3access::FORMAT,
    &route53::FORMAT,
    &guardduty::FORMAT,
    &networkfirewall::FORMAT,
    &awsconfig::FORMAT,
    &firehose::FORMAT,
    &securitylake::FORMAT,
];

/// Input that cannot be understood: reported with where it came from, never fatal to a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("unexpected shape: {0}")]
    Shape(String),
    /// A failure of this machine, not of the object (a temporary file that cannot be written):
    /// worth another try.
    #[error("{0}")]
    Local(String),
}

#[cfg(test)]
mod tests {
    use super::OBJECT_FORMATS;

    /// Each key of AWS's documented layouts is claimed by exactly one format: the one named.
    #[test]
    fn each_layout_is_claimed_by_one_format() {
        let keys = [
            (
                "CloudTrail",
                "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/111122223333_CloudTrail_us-east-1_20240501T1005Z_a1b2c3.json.gz",
            ),
            (
                "CloudTrail",
                "o-abc123def4/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/01/x.json.gz",
            ),
            (
                "CloudTrail",
                "AWSLogs/o-abc123def4/111122223333/CloudTrail-Digest/eu-west-1/2024/05/01/x.json.gz",
            ),
            (
                "CloudTrail",
                "trails/AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2024/05/01/x.json.gz",
            ),
            (
                "AWS Config snapshots and history",
                "o-abc123def4/AWSLogs/111122223333/Config/eu-west-1/2024/5/1/ConfigHistory/x.json.gz",
            ),
            (
                "AWS Config snapshots and history",
                "AWSLogs/111122223333/Config/ConfigWritabilityCheckFile",
            ),
            (
                "VPC Flow Logs",
                "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/05/01/x.log.gz",
            ),
            (
                "ALB access logs",
                "AWSLogs/111122223333/elasticloadbalancing/us-east-2/2018/07/02/111122223333_elasticloadbalancing_us-east-2_app.my-lb.50dc6c495c0c9188_20180702T2225Z_10.0.0.1_a1b2c3.log.gz",
            ),
            (
                "Classic and Network Load Balancer access logs",
                "AWSLogs/111122223333/elasticloadbalancing/us-east-2/2020/04/01/111122223333_elasticloadbalancing_us-east-2_net.my-nlb.c6e77e28c25b2234_20200401T0850Z_a1b2c3.log.gz",
            ),
            (
                "Classic and Network Load Balancer access logs",
                "AWSLogs/111122223333/elasticloadbalancing/eu-west-1/2015/05/13/111122223333_elasticloadbalancing_eu-west-1_my-loadbalancer_20150513T2340Z_172.160.001.192_5zvk2pvf.log",
            ),
            (
                "WAF logs",
                "AWSLogs/111122223333/WAFLogs/ap-southeast-2/STMTest/2019/12/13/23/50/x.log.gz",
            ),
            (
                "Network Firewall logs",
                "AWSLogs/111122223333/network-firewall/alert/us-east-1/2025/10/17/10/x.log.gz",
            ),
            (
                "Route 53 Resolver query logs",
                "AWSLogs/111122223333/vpcdnsquerylogs/vpc-01e31a7c/2021/12/11/x.log.gz",
            ),
            (
                "GuardDuty findings",
                "guardduty/AWSLogs/111122223333/GuardDuty/us-east-2/2022/01/28/x.jsonl.gz",
            ),
            (
                "CloudFront standard logs",
                "cloudfront/EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz",
            ),
            (
                "S3 server access logs",
                "s3-access/2019-02-06-00-00-38-5E4D87FC1EXAMPLE",
            ),
            (
                "CloudWatch Logs through Firehose",
                "cwl/2024/05/01/10/org-logs-to-s3-1-2024-05-01-10-15-42-0f8e2a4c-9b1d-4e3f-8a7b-6c5d4e3f2a1b.gz",
            ),
        ];
        for (want, key) in keys {
            let claimed: Vec<&str> = OBJECT_FORMATS
                .iter()
                .filter(|f| (f.claims)(key))
                .map(|f| f.name)
                .collect();
            assert_eq!(claimed, [want], "{key}");
        }
        for stray in [
            "AWSLogs/111122223333/SSM/run-command/x.log",
            "AWSLogs/not-an-account/CloudTrail/x.json.gz",
            "notes/readme.txt",
        ] {
            assert!(OBJECT_FORMATS.iter().all(|f| !(f.claims)(stray)), "{stray}");
        }
    }
}
