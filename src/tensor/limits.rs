//! Bounds on what one request may make the server allocate, the same for
//! every front end (so a request is refused with the same message whichever
//! way it came).

use bytes::Bytes;

use super::element_count;
use crate::error::ServeError;

/// Most inputs a request may carry (and outputs it may name); models have a
/// handful, and checking names is quadratic in this count.
pub const MAX_TENSORS: usize = 256;
/// Most BYTES elements in one input.
pub const MAX_BYTES_ELEMENTS: usize = 1 << 20;
/// Longest BYTES element.
pub const MAX_BYTES_ELEMENT_LEN: usize = 16 << 20;

/// Bounds what a BYTES input may make the server allocate before it is
/// split: the element count (one slice handle each, never more than the
/// shape claims) and each element's length.
pub fn check_bytes_elements(name: &str, shape: &[i64], raw: &Bytes) -> Result<(), ServeError> {
    let Some(claimed) = element_count(shape) else {
        return Err(ServeError::invalid(format!(
            "input '{name}': shape {shape:?} has a negative dimension or too many elements"
        )));
    };
    if claimed > MAX_BYTES_ELEMENTS {
        return Err(ServeError::invalid(format!(
            "input '{name}': at most {MAX_BYTES_ELEMENTS} BYTES elements per input, shape {shape:?} claims more"
        )));
    }
    let (mut offset, mut count) = (0usize, 0usize);
    while let Some(prefix) = raw.get(offset..offset + 4) {
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > MAX_BYTES_ELEMENT_LEN {
            return Err(ServeError::invalid(format!(
                "input '{name}': a BYTES element of {len} bytes exceeds the limit of {MAX_BYTES_ELEMENT_LEN}"
            )));
        }
        count += 1;
        if count > claimed {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected {claimed} BYTES elements for shape {shape:?}, got more"
            )));
        }
        offset = offset.saturating_add(4).saturating_add(len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_inputs_are_bounded_before_splitting() {
        let raw = Bytes::from(vec![0u8; 4 * 10]); // ten empty elements
        assert!(check_bytes_elements("t", &[10], &raw).is_ok());
        let err = check_bytes_elements("t", &[3], &raw).unwrap_err();
        assert!(err.to_string().contains("expected 3 BYTES elements"), "{err}");
        let err = check_bytes_elements("t", &[1 << 30], &raw).unwrap_err();
        assert!(err.to_string().contains("at most"), "{err}");
        let huge = Bytes::from(((MAX_BYTES_ELEMENT_LEN + 1) as u32).to_le_bytes().to_vec());
        assert!(
            check_bytes_elements("t", &[1], &huge)
                .unwrap_err()
                .to_string()
                .contains("exceeds")
        );
    }
}
