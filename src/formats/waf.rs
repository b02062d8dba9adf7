//! AWS WAF logs in S3 (gzip JSON lines, one request per line). Account and region come from
//! the web ACL's ARN (`webaclId`), else from the key (`AWSLogs/<account>/WAFLogs/<region>/...`).

use std::borrow::Cow;

use super::FormatError;
use super::json::scan_alone;
use super::jsonlines::{Tags, decoder};
use super::lines::arn_region_account;
use super::objects::{Format, any_key, aws_logs_service};

/// WAF logs (`waflogs`).
pub static FORMAT: Format = Format {
    name: "WAF logs",
    table: "cloud.aws.waf.logs",
    typed_family: None,
    reads_key: any_key,
    claims: |key| aws_logs_service(key) == Some("WAFLogs"),
    decoder: |_, _| decoder(tags),
};

fn tags(line: &str) -> Result<Tags<'_>, FormatError> {
    let [web_acl, ..] = scan_alone(line, &["webaclId"])
        .map_err(FormatError::NotJson)?
        .fields;
    let Some(arn) = web_acl else {
        return Ok(Tags::default());
    };
    let (region, account) = arn_region_account(&arn);
    let owned = |part: Option<&str>| part.map(|p| Cow::Owned(p.to_string()));
    Ok(Tags {
        event_type: None,
        account: owned(account),
        region: owned(region),
    })
}

#[cfg(test)]
mod tests {
    use super::super::objects::DecoderOptions;
    use super::super::objects::testing::decode;
    use super::*;

    #[test]
    fn account_and_region_from_the_web_acl() {
        let file = "{\"timestamp\":1576280412771,\"webaclId\":\"arn:aws:wafv2:ap-southeast-2:111122223333:regional/webacl/STMTest/1EXAMPLE-2ARN-3ARN-4ARN-123456EXAMPLE\",\"action\":\"BLOCK\"}\nnot json\n";
        let got = decode(
            &FORMAT,
            &DecoderOptions::default(),
            "k",
            file.as_bytes(),
            17,
        )
        .unwrap();
        assert_eq!(got.events.len(), 1);
        assert_eq!(got.events[0].2.as_deref(), Some("111122223333"));
        assert_eq!(got.events[0].3.as_deref(), Some("ap-southeast-2"));
        assert_eq!(got.bad.len(), 1, "line 2 is reported");
        assert_eq!(got.bad[0].0.to_string(), "line 2");
    }
}
