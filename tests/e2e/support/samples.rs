//! Realistic sample data shared by the tests and the benchmark.

use super::gzip;

/// The header line of a VPC Flow Logs file in the default (version 2) format.
pub const FLOW_V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// A CloudTrail record of about 1.2 kB with a unique eventID.
pub fn trail_record(id: &str, name: &str, source: &str, account: &str, region: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:session","arn":"arn:aws:sts::{account}:assumed-role/Admin/session","accountId":"{account}","accessKeyId":"ASIAEXAMPLE","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::{account}:role/Admin","accountId":"{account}","userName":"Admin"}},"attributes":{{"creationDate":"2024-05-01T09:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"2024-05-01T10:00:00Z","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 prompt/off command/s3api.get-object","requestParameters":{{"bucketName":"example-bucket","key":"reports/2024/05/01/summary ünïcødé.csv","Host":"example-bucket.s3.{region}.amazonaws.com"}},"responseElements":null,"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"EXAMPLEid2","bytesTransferredOut":2048}},"requestID":"EXAMPLEREQ","eventID":"{id}","readOnly":true,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::example-bucket/reports/2024/05/01/summary.csv"}}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"{account}","eventCategory":"Data","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"example-bucket.s3.{region}.amazonaws.com"}}}}"#
    )
}

pub fn trail_file(records: &[String]) -> Vec<u8> {
    gzip(format!("{{\"Records\":[{}]}}", records.join(",")).as_bytes())
}

/// A gzip CloudTrail file of S3 GetObject records in us-east-1 of account 111122223333, one per
/// event id.
pub fn trail_object(ids: impl IntoIterator<Item = String>) -> Vec<u8> {
    let records: Vec<String> = ids
        .into_iter()
        .map(|id| {
            trail_record(
                &id,
                "GetObject",
                "s3.amazonaws.com",
                "111122223333",
                "us-east-1",
            )
        })
        .collect();
    trail_file(&records)
}

/// A LookupEvents entry for the launcher's CloudTrail (`Moto::seed_cloudtrail`) and the
/// CloudTrail event it carries.
pub fn lookup_event(
    id: &str,
    name: &str,
    source: &str,
    at: i64,
    account: &str,
) -> (serde_json::Value, String) {
    let trail = format!(
        r#"{{"eventVersion":"1.09","eventTime":"{}","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","eventID":"{id}","recipientAccountId":"{account}","userAgent":"console ünï"}}"#,
        chrono::DateTime::from_timestamp(at, 0)
            .unwrap()
            .to_rfc3339()
    );
    let entry = serde_json::json!({
        "EventId": id,
        "EventName": name,
        "EventTime": at,
        "EventSource": source,
        "Username": "alice",
        "CloudTrailEvent": trail,
    });
    (entry, trail)
}

/// `n` CreateUser events of `account` seeded in `region`'s LookupEvents, a second apart from
/// 30 minutes ago, ids `<prefix>-0000`...
pub fn seed_lookup_events(
    moto: &super::aws::Moto,
    region: &str,
    prefix: &str,
    n: i64,
    account: &str,
) {
    let first = chrono::Utc::now().timestamp() - 1800;
    moto.seed_cloudtrail(region, &lookup_events(prefix, n, first, account));
}

/// `n` LookupEvents entries (IAM CreateUser in `account`), `{prefix}-0000` on, a second apart
/// from `first` (Unix seconds).
pub fn lookup_events(prefix: &str, n: i64, first: i64, account: &str) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            lookup_event(
                &format!("{prefix}-{i:04}"),
                "CreateUser",
                "iam.amazonaws.com",
                first + i,
                account,
            )
            .0
        })
        .collect()
}
