//! Devo tags: `TABLE.ACCOUNT_ID.REGION`, with the table chosen per service and, with
//! `auto_event_type`, per event type.

/// Turns a free-form event type into one tag level: lower case, every character outside
/// `[a-z0-9_]` replaced by `_`; empty becomes `unknown`.
pub fn event_type_level(raw: &str) -> String {
    if raw.is_empty() {
        return "unknown".into();
    }
    raw.chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One tag level taken from data (an account id, a region): anything that could break the tag
/// (a dot, space, `:` or line break) becomes `_`; empty becomes `unknown`.
fn data_level(raw: &str) -> std::borrow::Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if raw.is_empty() {
        "unknown".into()
    } else if raw.chars().all(ok) {
        raw.into()
    } else {
        raw.chars()
            .map(|c| if ok(c) { c } else { '_' })
            .collect::<String>()
            .into()
    }
}

/// `table.account.region`, the table being a fixed, trusted string.
pub fn tag(table: &str, account: &str, region: &str) -> String {
    format!("{table}.{}.{}", data_level(account), data_level(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_become_one_clean_level() {
        assert_eq!(event_type_level("ec2"), "ec2");
        assert_eq!(event_type_level("Security Hub"), "security_hub");
        assert_eq!(event_type_level("com.example:app"), "com_example_app");
        assert_eq!(event_type_level(""), "unknown");
        assert_eq!(event_type_level("ünï"), "_n_");
    }

    #[test]
    fn tags_never_hold_separators_from_data() {
        assert_eq!(
            tag("cloud.aws.cloudwatch.events", "123456789012", "us-east-1"),
            "cloud.aws.cloudwatch.events.123456789012.us-east-1"
        );
        assert_eq!(tag("a.b.c.d", "1 2", "x.y:z\n"), "a.b.c.d.1_2.x_y_z_");
        assert_eq!(tag("a.b.c.d", "", ""), "a.b.c.d.unknown.unknown");
    }
}
