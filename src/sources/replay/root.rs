//! A root of a replay as found: its bucket's region and client (HeadBucket), and one listing
//! of a prefix under it.

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;

use super::Root;
use crate::aws::Aws;
use crate::config::{S3Root, ServicePlan};
use crate::outcome::Failure;

/// An S3 failure of a replay's listing, with the permission it needs.
pub(super) fn needs_list_bucket(mut f: Failure) -> Failure {
    f.reason
        .push_str(" (a replay needs s3:ListBucket on the bucket)");
    f
}

impl Root {
    /// `root`'s bucket and its region: HeadBucket (which needs s3:ListBucket) from the service's
    /// first region tells it, even for a bucket of another region.
    pub(super) async fn find(
        aws: &Aws,
        plan: &ServicePlan,
        root: &S3Root,
    ) -> Result<Self, Failure> {
        let asked_in = plan
            .regions
            .first()
            .cloned()
            .unwrap_or_else(|| aws.region());
        let name = &root.bucket;
        let head = aws.s3(&asked_in).head_bucket().bucket(name).send().await;
        let found = match &head {
            Ok(out) => out.bucket_region().map(String::from),
            Err(e) => e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(String::from),
        };
        if let (Err(e), None) = (&head, &found) {
            return Err(needs_list_bucket(
                aws.failure(&format!("S3 HeadBucket {name}"), e),
            ));
        }
        let region = found.unwrap_or(asked_in);
        Ok(Self {
            bucket: name.clone(),
            prefix: root.prefix.clone(),
            s3: aws.s3(&region),
            region,
        })
    }

    /// One page of the listing of `prefix`, `/` as delimiter.
    pub(super) async fn list(
        &self,
        aws: &Aws,
        prefix: &str,
        token: Option<String>,
    ) -> Result<ListObjectsV2Output, Failure> {
        self.s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .delimiter("/")
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|e| {
                let what = format!("S3 ListObjectsV2 s3://{}/{prefix}", self.bucket);
                needs_list_bucket(aws.failure(&what, &e))
            })
    }
}
