//! EventBridge (CloudWatch Events) events as SQS message bodies, possibly wrapped in an SNS
//! envelope, and the Security Hub findings they carry.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::FormatError;
use super::json::compact;

/// One event to ship: its message and what its tag is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEvent {
    /// Compact one-line JSON.
    pub message: String,
    /// The raw event type (`source` for EventBridge events), before tag cleaning.
    pub event_type: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The fields of an SNS notification envelope we need to unwrap it.
#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// The body, or the message inside it when the body is an SNS notification.
pub fn unwrap_sns(body: &str) -> Result<Cow<'_, str>, FormatError> {
    check_object(body)?;
    let envelope: SnsEnvelope =
        serde_json::from_str(body).map_err(|e| FormatError::NotJson(e.to_string()))?;
    match envelope {
        SnsEnvelope {
            kind: Some(kind),
            topic_arn: Some(_),
            message: Some(message),
        } if kind == "Notification" => Ok(Cow::Owned(message)),
        _ => Ok(Cow::Borrowed(body)),
    }
}

#[derive(Deserialize)]
struct EventFields<'a> {
    #[serde(borrow)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    account: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
}

/// Not JSON at all, or JSON that is not an object.
fn check_object(text: &str) -> Result<(), FormatError> {
    if text.trim_start().starts_with('{') {
        return Ok(());
    }
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Err(FormatError::Shape("expected a JSON object".into())),
        Err(e) => Err(FormatError::NotJson(e.to_string())),
    }
}

fn parse_object<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, FormatError> {
    check_object(text)?;
    serde_json::from_str(text).map_err(|e| FormatError::NotJson(e.to_string()))
}

/// An `events` message: the EventBridge event itself, typed by its `source`.
pub fn event_from_body(body: &str) -> Result<AwsEvent, FormatError> {
    let text = unwrap_sns(body)?;
    let fields: EventFields<'_> = parse_object(&text)?;
    Ok(AwsEvent {
        message: compact(&text).into_owned(),
        event_type: fields
            .source
            .map(|s| s.strip_prefix("aws.").unwrap_or(&s).to_string()),
        account: fields.account.map(Cow::into_owned),
        region: fields.region.map(Cow::into_owned),
    })
}

#[derive(Deserialize)]
struct FindingsEvent<'a> {
    #[serde(borrow)]
    detail: Option<FindingsDetail<'a>>,
    #[serde(borrow)]
    account: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct FindingsDetail<'a> {
    #[serde(borrow)]
    findings: Option<Vec<&'a RawValue>>,
}

/// Where a finding names its account and region: ASFF's `AwsAccountId` and `Region`, or OCSF's
/// `cloud.account.uid` (`cloud.account_uid` in OCSF 1.0) and `cloud.region` (Security Hub's
/// "Findings Imported V2"). A finding aggregated into a delegated administrator's account names
/// the account it is about, not the one whose EventBridge sent it.
#[derive(Deserialize)]
struct FindingFields<'a> {
    #[serde(rename = "AwsAccountId", borrow)]
    account: Option<Cow<'a, str>>,
    #[serde(rename = "Region", borrow)]
    region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    cloud: Option<OcsfCloud<'a>>,
}

#[derive(Deserialize)]
struct OcsfCloud<'a> {
    #[serde(borrow)]
    account: Option<OcsfAccount<'a>>,
    #[serde(borrow)]
    account_uid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    region: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OcsfAccount<'a> {
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
}

impl<'a> FindingFields<'a> {
    /// The finding's own account and region, ASFF's first.
    fn account_region(self) -> (Option<Cow<'a, str>>, Option<Cow<'a, str>>) {
        let (ocsf_account, ocsf_region) = self.cloud.map_or((None, None), |c| {
            (c.account.and_then(|a| a.uid).or(c.account_uid), c.region)
        });
        (self.account.or(ocsf_account), self.region.or(ocsf_region))
    }
}

/// A `securityhub` message: one event per element of `detail.findings`.
pub fn findings_from_body(body: &str) -> Result<Vec<AwsEvent>, FormatError> {
    let text = unwrap_sns(body)?;
    let event: FindingsEvent<'_> = parse_object(&text)?;
    let findings = event.detail.and_then(|d| d.findings).ok_or_else(|| {
        FormatError::Shape("no detail.findings: not a Security Hub findings event".into())
    })?;
    findings
        .into_iter()
        .map(|raw| {
            let fields: FindingFields<'_> = parse_object(raw.get())?;
            let (account, region) = fields.account_region();
            Ok(AwsEvent {
                message: compact(raw.get()).into_owned(),
                event_type: None,
                account: account
                    .or_else(|| event.account.clone())
                    .map(Cow::into_owned),
                region: region.or_else(|| event.region.clone()).map(Cow::into_owned),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"version":"0","id":"e-1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"2024-01-01T00:00:00Z","region":"eu-west-1","resources":[],"detail":{"state":"running"}}"#;

    #[test]
    fn plain_event_keeps_its_bytes() {
        let e = event_from_body(EVENT).unwrap();
        assert_eq!(e.message, EVENT);
        assert_eq!(e.event_type.as_deref(), Some("ec2"));
        assert_eq!(e.account.as_deref(), Some("111122223333"));
        assert_eq!(e.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn sns_envelope_is_unwrapped() {
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "m",
            "TopicArn": "arn:aws:sns:eu-west-1:111122223333:t",
            "Message": EVENT,
        })
        .to_string();
        assert_eq!(event_from_body(&body).unwrap().message, EVENT);
    }

    #[test]
    fn pretty_event_is_compacted() {
        let pretty = "{\n  \"source\": \"custom.app\",\n  \"detail\": {\"a\": \"x y\"}\n}";
        let e = event_from_body(pretty).unwrap();
        assert_eq!(e.message, r#"{"source":"custom.app","detail":{"a":"x y"}}"#);
        assert_eq!(e.event_type.as_deref(), Some("custom.app"));
    }

    /// "Findings Imported V2" (OCSF): the account and region of the finding, not of the
    /// delegated administrator whose EventBridge sent it.
    #[test]
    fn ocsf_findings_name_their_own_account_and_region() {
        let body = r#"{"source":"aws.securityhub","account":"999988887777","region":"us-east-1","detail-type":"Findings Imported V2","detail":{"findings":[{"finding_info":{"uid":"f1"},"cloud":{"account":{"uid":"222233334444"},"region":"eu-west-1","provider":"AWS"}},{"finding_info":{"uid":"f2"},"cloud":{"account_uid":"333344445555"}}]}}"#;
        let found = findings_from_body(body).unwrap();
        assert_eq!(found[0].account.as_deref(), Some("222233334444"));
        assert_eq!(found[0].region.as_deref(), Some("eu-west-1"));
        assert_eq!(found[1].account.as_deref(), Some("333344445555"));
        assert_eq!(found[1].region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn poison_bodies_are_told_apart() {
        assert!(matches!(
            event_from_body("hello"),
            Err(FormatError::NotJson(_))
        ));
        assert!(matches!(
            event_from_body("[1,2]"),
            Err(FormatError::Shape(_))
        ));
        assert!(matches!(
            event_from_body("{\"a\":"),
            Err(FormatError::NotJson(_))
        ));
    }

    #[test]
    fn findings_are_split_with_their_own_account() {
        let body = r#"{"source":"aws.securityhub","account":"1","region":"us-east-1","detail-type":"Security Hub Findings - Imported","detail":{"findings":[{"Id":"f1","AwsAccountId":"222","Region":"eu-west-1"}, {"Id":"f2"}]}}"#;
        let f = findings_from_body(body).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].message,
            r#"{"Id":"f1","AwsAccountId":"222","Region":"eu-west-1"}"#
        );
        assert_eq!(
            (f[0].account.as_deref(), f[0].region.as_deref()),
            (Some("222"), Some("eu-west-1"))
        );
        assert_eq!(
            (f[1].account.as_deref(), f[1].region.as_deref()),
            (Some("1"), Some("us-east-1"))
        );
    }

    #[test]
    fn event_without_findings_is_poison() {
        assert!(matches!(
            findings_from_body(EVENT),
            Err(FormatError::Shape(_))
        ));
    }
}
