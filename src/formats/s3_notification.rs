//! What an SQS message announcing S3 objects can look like, and the objects it names:
//!
//! - an S3 event notification sent straight to SQS (`{"Records":[{"eventSource":"aws:s3",...}]}`),
//!   several records per message, keys URL-encoded (`+` is a space);
//! - the same wrapped in an SNS envelope;
//! - an EventBridge "Object Created" event (keys not encoded), and Amazon Security Lake's
//!   subscriber notification, the same body without its `detail-type`;
//! - CloudTrail's own SNS notification (`{"s3Bucket":...,"s3ObjectKey":[...]}`);
//! - `s3:TestEvent`, sent when a notification is configured: nothing to read, delete it.

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::FormatError;
use super::eventbridge::unwrap_sns;

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    /// When S3 announced it (for `start_time`).
    pub event_time: Option<DateTime<Utc>>,
    /// The bucket's region, when the notification says.
    pub region: Option<String>,
}

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `s3:TestEvent`: delete without reading anything.
    Test,
    Objects(Vec<ObjectRef>),
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Records")]
    records: Option<Vec<S3Record>>,
    #[serde(rename = "Event")]
    event: Option<String>,
    // EventBridge
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    detail: Option<EbDetail>,
    time: Option<String>,
    region: Option<String>,
    // CloudTrail's SNS notification
    #[serde(rename = "s3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "s3ObjectKey")]
    s3_object_key: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct S3Record {
    #[serde(rename = "eventName")]
    event_name: Option<String>,
    #[serde(rename = "eventTime")]
    event_time: Option<String>,
    #[serde(rename = "awsRegion")]
    aws_region: Option<String>,
    s3: Option<S3Entity>,
}

#[derive(Deserialize)]
struct S3Entity {
    bucket: Named,
    object: S3Object,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
struct S3Object {
    key: String,
    size: Option<u64>,
}

#[derive(Deserialize)]
struct EbDetail {
    bucket: Option<Named>,
    object: Option<S3Object>,
}

fn time(t: Option<&str>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Decodes an S3 event notification key: `+` is a space, then percent-decoding.
pub fn decode_key(key: &str) -> Result<String, FormatError> {
    let spaced = key.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| {
            FormatError::Shape(format!(
                "object key {key:?} is not valid UTF-8 once decoded"
            ))
        })
}

/// Reads a message body as an S3 notification of one of the known shapes.
pub fn parse(body: &str) -> Result<Notification, FormatError> {
    let text = unwrap_sns(body)?;
    let parsed: Body =
        serde_json::from_str(&text).map_err(|e| FormatError::NotJson(e.to_string()))?;
    if parsed.event.as_deref() == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    if let Some(records) = parsed.records {
        let mut objects = Vec::with_capacity(records.len());
        for r in records {
            // Only creations name something to read (a removal announces nothing to ship).
            if r.event_name
                .as_deref()
                .is_some_and(|n| !n.starts_with("ObjectCreated"))
            {
                continue;
            }
            let s3 =
                r.s3.ok_or_else(|| FormatError::Shape("S3 notification record without s3".into()))?;
            objects.push(ObjectRef {
                bucket: s3.bucket.name,
                key: decode_key(&s3.object.key)?,
                size: s3.object.size,
                event_time: time(r.event_time.as_deref()),
                region: r.aws_region,
            });
        }
        return Ok(Notification::Objects(objects));
    }
    // Security Lake's subscriber notification is EventBridge's event without its detail-type.
    if parsed
        .detail_type
        .as_deref()
        .is_none_or(|t| t == "Object Created")
        && let Some(EbDetail {
            bucket: Some(bucket),
            object: Some(object),
        }) = parsed.detail
    {
        return Ok(Notification::Objects(vec![ObjectRef {
            bucket: bucket.name,
            key: object.key,
            size: object.size,
            event_time: time(parsed.time.as_deref()),
            region: parsed.region,
        }]));
    }
    if let (Some(bucket), Some(keys)) = (parsed.s3_bucket, parsed.s3_object_key) {
        return Ok(Notification::Objects(
            keys.into_iter()
                .map(|key| ObjectRef {
                    bucket: bucket.clone(),
                    key,
                    size: None,
                    event_time: None,
                    region: None,
                })
                .collect(),
        ));
    }
    Err(FormatError::Shape(
        "not an S3 notification (no Records, Object Created detail, Security Lake detail or s3ObjectKey)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_notification_with_several_records_and_encoded_keys() {
        let body = r#"{"Records":[
          {"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2024-05-01T10:00:00.000Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"logs"},"object":{"key":"AWSLogs%2F1%2Fmy+file%C3%A9.gz","size":12}}},
          {"eventSource":"aws:s3","awsRegion":"eu-west-1","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"gone"}}},
          {"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{"bucket":{"name":"logs"},"object":{"key":"a%2Bb"}}}
        ]}"#;
        let Notification::Objects(objects) = parse(body).unwrap() else {
            panic!("objects expected")
        };
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].key, "AWSLogs/1/my fileé.gz");
        assert_eq!(objects[0].size, Some(12));
        assert_eq!(objects[0].region.as_deref(), Some("eu-west-1"));
        assert!(objects[0].event_time.is_some());
        assert_eq!(objects[1].key, "a+b");
    }

    #[test]
    fn test_event_is_recognised() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-01T10:00:00.000Z","Bucket":"logs","RequestId":"x","HostId":"y"}"#;
        assert_eq!(parse(body).unwrap(), Notification::Test);
    }

    #[test]
    fn sns_wrapped_and_eventbridge_shapes() {
        let inner = r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k+1"}}}]}"#;
        let sns = serde_json::json!({"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":inner}).to_string();
        let Notification::Objects(o) = parse(&sns).unwrap() else {
            panic!()
        };
        assert_eq!(o[0].key, "k 1");

        let eb = r#"{"detail-type":"Object Created","source":"aws.s3","time":"2024-05-01T10:00:00Z","region":"ca-central-1","detail":{"bucket":{"name":"b"},"object":{"key":"raw/a b+c.gz","size":5}}}"#;
        let Notification::Objects(o) = parse(eb).unwrap() else {
            panic!()
        };
        assert_eq!(o[0].key, "raw/a b+c.gz", "EventBridge keys are not encoded");
        assert_eq!(o[0].region.as_deref(), Some("ca-central-1"));
    }

    /// Security Lake's subscriber notification as AWS documents it (no `detail-type`), and an
    /// EventBridge event of another type, which names nothing to read.
    #[test]
    fn security_lake_subscriber_notification() {
        let body = r#"{"source":"aws.s3","time":"2024-05-01T10:00:00Z","account":"123456789012","region":"ca-central-1","resources":["arn:aws:s3:::aws-security-data-lake-ca-central-1-x"],"detail":{"bucket":{"name":"aws-security-data-lake-ca-central-1-x"},"object":{"key":"aws/CLOUD_TRAIL_MGMT/2.0/region=ca-central-1/accountId=123456789012/eventDay=20240501/a.gz.parquet","size":5,"etag":"b57f9512698f4b09e608f4f2a65852e5"},"request-id":"N4N7GDK58NMKJ12R","requester":"securitylake.amazonaws.com"}}"#;
        let Notification::Objects(o) = parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].bucket, "aws-security-data-lake-ca-central-1-x");
        assert!(o[0].key.ends_with("/a.gz.parquet"));
        assert_eq!(
            (o[0].size, o[0].region.as_deref()),
            (Some(5), Some("ca-central-1"))
        );
        let deleted = body.replacen('{', r#"{"detail-type":"Object Deleted","#, 1);
        assert!(parse(&deleted).is_err());
    }

    #[test]
    fn cloudtrail_sns_notification() {
        let body = r#"{"s3Bucket":"trail","s3ObjectKey":["AWSLogs/1/CloudTrail/us-east-1/2024/05/01/x.json.gz"]}"#;
        let Notification::Objects(o) = parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(o[0].bucket, "trail");
    }

    #[test]
    fn unknown_shapes_are_poison() {
        assert!(matches!(
            parse(r#"{"hello":1}"#),
            Err(FormatError::Shape(_))
        ));
        assert!(matches!(parse("nope"), Err(FormatError::NotJson(_))));
    }
}
