//! The v2 BYTES framing: each element is a `u32` little-endian length, then
//! its bytes.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::ServeError;

/// Splits v2 BYTES raw content into its elements without copying them.
pub fn split_bytes_elements(input: &str, raw: &Bytes) -> Result<Vec<Bytes>, ServeError> {
    let mut elements = Vec::new();
    let mut offset = 0usize;
    while offset < raw.len() {
        let Some(prefix) = raw.get(offset..offset + 4) else {
            return Err(ServeError::invalid(format!(
                "input '{input}': truncated BYTES length prefix at byte {offset}"
            )));
        };
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = offset + 4;
        let end = start.checked_add(len).filter(|&end| end <= raw.len());
        let Some(end) = end else {
            return Err(ServeError::invalid(format!(
                "input '{input}': BYTES element at byte {offset} claims {len} bytes, only {} remain",
                raw.len() - start
            )));
        };
        elements.push(raw.slice(start..end));
        offset = end;
    }
    Ok(elements)
}

/// Encodes BYTES elements in v2 raw layout.
pub fn encode_bytes_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> Bytes {
    let mut out = BytesMut::new();
    for element in elements {
        out.put_u32_le(element.len() as u32);
        out.put_slice(element);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_elements_round_trip() {
        let encoded = encode_bytes_elements([b"ab".as_slice(), b"".as_slice(), b"xyz".as_slice()]);
        let items = split_bytes_elements("t", &encoded).unwrap();
        assert_eq!(items, vec![Bytes::from("ab"), Bytes::new(), Bytes::from("xyz")]);
    }

    #[test]
    fn bytes_elements_reject_truncation() {
        let mut encoded = encode_bytes_elements([b"abcd".as_slice()]).to_vec();
        encoded.truncate(6);
        assert!(split_bytes_elements("t", &Bytes::from(encoded)).is_err());
        assert!(split_bytes_elements("t", &Bytes::from_static(&[1, 0])).is_err());
        let huge = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert!(split_bytes_elements("t", &huge).is_err());
    }
}
