//! Pyroscope's push API on the wire: `push.v1.PusherService/Push`, a Connect unary
//! call whose body is a `PushRequest` in protobuf (`application/proto`).
//!
//! ```text
//! message PushRequest      { repeated RawProfileSeries series = 1; }
//! message RawProfileSeries { repeated LabelPair labels = 1; repeated RawSample samples = 2; }
//! message RawSample        { bytes raw_profile = 1; string ID = 2; }
//! message LabelPair        { string name = 1; string value = 2; }
//! ```

use prost::Message;

/// One push: a series per profile type.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// A profile type's labels and its profiles.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawProfileSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

/// One gzip'd `profile.proto` and a unique id (deduplication on retries).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RawSample {
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    #[prost(string, tag = "2")]
    pub id: String,
}

/// A label.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct LabelPair {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

impl LabelPair {
    pub(crate) fn new(name: &str, value: &str) -> LabelPair {
        LabelPair {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// A random version-4 UUID, from the kernel's generator.
pub(crate) fn uuid() -> String {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n <= 0 {
            // No kernel randomness (very old kernel): time and address bits still
            // make ids unique enough for deduplication.
            let seed = crate::clock::unix_nanos() as u128 ^ (&bytes as *const _ as u128) << 64;
            bytes = seed.to_le_bytes();
            break;
        }
        filled += n as usize;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_field_numbers_pyroscope_reads() {
        let request = PushRequest {
            series: vec![RawProfileSeries {
                labels: vec![LabelPair::new("__name__", "mutex")],
                samples: vec![RawSample {
                    raw_profile: vec![0x1f, 0x8b],
                    id: "i".into(),
                }],
            }],
        };
        let bytes = request.encode_to_vec();
        // series (1, len) { labels (1, len) { name (1) "__name__", value (2) "mutex" },
        //                   samples (2, len) { raw_profile (1) 1f 8b, ID (2) "i" } }
        let label = [&[0x0a, 8][..], b"__name__", &[0x12, 5], b"mutex"].concat();
        let sample = [&[0x0a, 2, 0x1f, 0x8b, 0x12, 1][..], b"i"].concat();
        let series = [
            &[0x0a, label.len() as u8][..],
            &label,
            &[0x12, sample.len() as u8],
            &sample,
        ]
        .concat();
        assert_eq!(bytes, [&[0x0a, series.len() as u8][..], &series].concat());
        assert_eq!(PushRequest::decode(&bytes[..]).unwrap(), request);
    }

    #[test]
    fn uuids_are_v4_and_distinct() {
        let (a, b) = (uuid(), uuid());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }
}
