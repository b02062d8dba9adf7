//! Amazon Security Lake, read as a subscriber: OCSF records in Parquet, under
//! `aws/<SOURCE>/<1.0|2.0>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<id>.gz.parquet` (custom
//! sources under `ext/<name>/...`), announced on the subscriber's queue (see
//! [`super::s3_notification`]). Each row of each row group is one event: a compact JSON object in
//! OCSF's field order ([`super::parquet`]), tagged with the account and region the record names
//! (`cloud.account.uid` in OCSF 1.1 (source version 2), `cloud.account_uid` in 1.0 (version 1),
//! `cloud.region`), else the key's `accountId=` and `region=`: the bucket lives in a rollup region,
//! the record names where it happened. With `auto_event_type`, the OCSF class
//! (`class_name`) takes the table's last level: `cloud.aws.amazon.security_lake.api_activity`.

use super::objects::{Format, any_key};
use super::parquet::{JsonFields, ParquetDecoder, Rows};

pub static FORMAT: Format = Format {
    name: "Amazon Security Lake (OCSF)",
    table: "cloud.aws.amazon.security_lake.events",
    typed_family: Some("cloud.aws.amazon.security_lake"),
    reads_key: any_key,
    claims: is_lake_key,
    decoder: |_, _| Box::new(ParquetDecoder::new(Rows::Json(OCSF))),
};

/// Where an OCSF record names its account, region and class.
const OCSF: JsonFields = JsonFields {
    account: &[&["cloud", "account", "uid"], &["cloud", "account_uid"]],
    region: &[&["cloud", "region"]],
    event_type: &[&["class_name"]],
};

/// A key of Security Lake's layout: under `aws/` or `ext/`, partitioned by region, account and
/// day.
fn is_lake_key(key: &str) -> bool {
    (key.starts_with("aws/") || key.starts_with("ext/"))
        && ["/region=", "/accountId=", "/eventDay="]
            .iter()
            .all(|part| key.contains(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::FormatError;
    use crate::formats::objects::DecoderOptions;
    use crate::formats::objects::testing::decode;

    /// Real Security Lake objects of source versions 1 and 2 and several OCSF classes
    /// (tests/data/securitylake/README.md): every event byte for byte against the rows pyarrow
    /// reads from them, with the account, region and class each is tagged with (an account that
    /// is not a 12-digit id, as two samples hold, is left to the key).
    #[test]
    fn real_objects_of_both_versions() {
        let cases = [
            (
                "v1-cloudtrail-consolelogin.gz.parquet",
                None,
                "us-east-2",
                "Authentication",
            ),
            (
                "v1-route53-example0.gz.parquet",
                Some("123456789012"),
                "us-east-1",
                "DNS Activity",
            ),
            (
                "v1-securityhub-example0.gz.parquet",
                Some("123456789100"),
                "us-east-1",
                "Security Finding",
            ),
            (
                "v1-vpcflow-example0.gz.parquet",
                Some("123456789012"),
                "us-east-1",
                "Network Activity",
            ),
            (
                "v2-cloudtrail-consolelogin.parquet",
                None,
                "us-east-2",
                "Authentication",
            ),
            (
                "v2-cloudtrail-updatetrail.parquet",
                None,
                "us-east-2",
                "API Activity",
            ),
            ("v2-eks-audit.parquet", None, "", "API Activity"),
            (
                "v2-route53-example0.parquet",
                Some("123456789012"),
                "us-east-1",
                "DNS Activity",
            ),
            (
                "v2-securityhub-iam-access-analyzer.parquet",
                None,
                "us-east-2",
                "Detection Finding",
            ),
            (
                "v2-vpcflow-input0.parquet",
                Some("123456789012"),
                "us-east-1",
                "Network Activity",
            ),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/securitylake");
        for (file, account, region, class) in cases {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let expected =
                std::fs::read_to_string(dir.join(format!("{file}.expected.jsonl"))).unwrap();
            for chunk in [4096, 7] {
                let got = decode(&FORMAT, &DecoderOptions::default(), "k", &bytes, chunk).unwrap();
                let messages: Vec<&str> = got.events.iter().map(|e| e.0.as_str()).collect();
                assert_eq!(messages, expected.lines().collect::<Vec<_>>(), "{file}");
                let (_, event_type, got_account, got_region) = &got.events[0];
                assert_eq!(event_type.as_deref(), Some(class), "{file}");
                assert_eq!(got_account.as_deref(), account, "{file}");
                assert_eq!(
                    got_region.as_deref(),
                    (!region.is_empty()).then_some(region),
                    "{file}"
                );
            }
        }
    }

    #[test]
    fn what_is_not_parquet_is_refused() {
        for bytes in [&b""[..], b"PAR1 but not really", b"{\"a\":1}"] {
            assert!(decode(&FORMAT, &DecoderOptions::default(), "k", bytes, 64).is_err());
        }
    }

    /// A file the fuzzer made from a real one (tests/data/securitylake/README.md) on which the
    /// parquet crate's row reader panics (`assertion failed: size <= src.len()` in its bit
    /// reader) instead of answering an error: the object is refused as corrupt, nothing panics
    /// out of the decoder.
    #[test]
    fn a_file_the_reader_panics_on_is_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/securitylake");
        let bytes = std::fs::read(dir.join("fuzz-reader-panics.parquet")).unwrap();
        for chunk in [200, 4096] {
            let refused = decode(&FORMAT, &DecoderOptions::default(), "k", &bytes, chunk);
            assert!(
                matches!(&refused, Err(FormatError::Shape(e)) if e.contains("gave up")),
                "{:?}",
                refused.map(|got| got.events.len())
            );
        }
    }

    #[test]
    fn lake_keys() {
        assert!(is_lake_key(
            "aws/CLOUD_TRAIL_MGMT/2.0/region=us-east-1/accountId=123456789012/eventDay=20240501/a.gz.parquet"
        ));
        assert!(is_lake_key(
            "ext/crowdstrike/1.0/region=eu-west-1/accountId=123456789012/eventDay=20240501/b.parquet"
        ));
        assert!(!is_lake_key(
            "AWSLogs/123456789012/vpcflowlogs/us-east-1/2024/05/01/x.log.gz"
        ));
    }
}
