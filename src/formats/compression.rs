//! How an S3 object is compressed, told by its first bytes: gzip (`1f 8b`, CloudTrail, flow
//! logs, ELB, Firehose), zstd (`28 b5 2f fd`, CloudWatch Logs vended logs such as Lambda's
//! DELIVERY class) or none. A `Content-Encoding` the object was stored with is honoured: one
//! that names an encoding devo-aws cannot read, or one the bytes contradict, makes the object
//! unreadable with both named, rather than decoded as something it is not.

use std::fmt;

/// The compression of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl Compression {
    /// The compression of an object starting with `head` (its first bytes: at least 4 unless
    /// the object is shorter) and stored with `content_encoding`.
    pub fn of(head: &[u8], content_encoding: Option<&str>) -> Result<Self, String> {
        let by_bytes = if head.starts_with(&GZIP_MAGIC) {
            Self::Gzip
        } else if head.starts_with(&ZSTD_MAGIC) {
            Self::Zstd
        } else {
            Self::None
        };
        let Some(said) = content_encoding.map(str::trim).filter(|e| !e.is_empty()) else {
            return Ok(by_bytes);
        };
        let named = match said.to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Self::Gzip,
            "zstd" => Self::Zstd,
            "identity" | "none" | "text" | "utf-8" | "aws-chunked" => return Ok(by_bytes),
            _ => {
                return Err(format!(
                    "stored with Content-Encoding {said:?}, which devo-aws does not read (gzip, zstd or none)"
                ));
            }
        };
        if named == by_bytes {
            Ok(by_bytes)
        } else {
            Err(format!(
                "stored with Content-Encoding {said:?}, but its first bytes are {by_bytes}"
            ))
        }
    }

    /// Whether the object is compressed (and so capped in how far it may inflate).
    pub fn compressed(self) -> bool {
        self != Self::None
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
            Self::None => "not compressed",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn told_by_the_bytes() {
        assert_eq!(
            Compression::of(&[0x1f, 0x8b, 8, 0], None),
            Ok(Compression::Gzip)
        );
        assert_eq!(
            Compression::of(&[0x28, 0xb5, 0x2f, 0xfd, 0], None),
            Ok(Compression::Zstd)
        );
        assert_eq!(
            Compression::of(b"{\"Records\"", None),
            Ok(Compression::None)
        );
        assert_eq!(Compression::of(b"", None), Ok(Compression::None));
        // A zstd magic cut short is not zstd.
        assert_eq!(Compression::of(&[0x28, 0xb5], None), Ok(Compression::None));
    }

    #[test]
    fn content_encoding_is_honoured() {
        let gz = [0x1f, 0x8b, 8, 0];
        assert_eq!(Compression::of(&gz, Some("gzip")), Ok(Compression::Gzip));
        assert_eq!(Compression::of(&gz, Some("X-GZIP")), Ok(Compression::Gzip));
        assert_eq!(
            Compression::of(&gz, Some("identity")),
            Ok(Compression::Gzip)
        );
        assert_eq!(Compression::of(b"abc", Some("")), Ok(Compression::None));
        assert_eq!(
            Compression::of(b"abc", Some("gzip")).unwrap_err(),
            "stored with Content-Encoding \"gzip\", but its first bytes are not compressed"
        );
        assert_eq!(
            Compression::of(&gz, Some("zstd")).unwrap_err(),
            "stored with Content-Encoding \"zstd\", but its first bytes are gzip"
        );
        assert_eq!(
            Compression::of(b"abc", Some("br")).unwrap_err(),
            "stored with Content-Encoding \"br\", which devo-aws does not read (gzip, zstd or none)"
        );
    }
}
