//! The request body's two parts: the JSON header, whose length the
//! `Inference-Header-Content-Length` header gives, and the binary sections
//! after it, handed out in input order as zero-copy slices of the body.

use bytes::Bytes;

use super::{MAX_BYTES_ELEMENT_LEN, MAX_BYTES_ELEMENTS};
use crate::error::ServeError;
use crate::tensor::{element_count, shape_text};

/// The header's name, for messages.
pub const HEADER: &str = "Inference-Header-Content-Length";

/// Splits `body` into its JSON and its binary part. Without the header the
/// whole body is JSON.
pub fn split(body: Bytes, header_length: Option<&str>) -> Result<(Bytes, Sections), ServeError> {
    let Some(value) = header_length else {
        return Ok((body, Sections::new(Bytes::new(), false)));
    };
    let text = value.trim_matches([' ', '\t']);
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let Some(length) = text.parse::<usize>().ok().filter(|_| digits) else {
        return Err(ServeError::invalid(format!(
            "{HEADER} must be a byte count, got '{}'",
            clip(value)
        )));
    };
    if length > body.len() {
        return Err(ServeError::invalid(format!(
            "{HEADER} is {length}, more than the request body of {} bytes",
            body.len()
        )));
    }
    let mut json = body;
    let binary = json.split_off(length);
    Ok((json, Sections::new(binary, true)))
}

/// At most 64 characters of a header value, for messages.
fn clip(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

/// The binary sections not yet claimed by an input.
#[derive(Debug)]
pub struct Sections {
    rest: Bytes,
    /// Whether the request had the header (for messages).
    header: bool,
}

impl Sections {
    fn new(rest: Bytes, header: bool) -> Self {
        Self { rest, header }
    }

    /// The next `size` bytes, for input `name`.
    pub fn take(&mut self, name: &str, size: u64) -> Result<Bytes, ServeError> {
        match usize::try_from(size) {
            Ok(size) if size <= self.rest.len() => Ok(self.rest.split_to(size)),
            _ if !self.header => Err(ServeError::invalid(format!(
                "input '{name}': binary_data_size is {size} but the request has no binary data \
                 (no {HEADER} header)"
            ))),
            _ => Err(ServeError::invalid(format!(
                "input '{name}': binary_data_size is {size}, more than the {} bytes of binary data left",
                self.rest.len()
            ))),
        }
    }

    /// Checks that the inputs claimed every binary byte.
    pub fn finish(self) -> Result<(), ServeError> {
        if self.rest.is_empty() {
            return Ok(());
        }
        Err(ServeError::invalid(format!(
            "the request body has {} bytes of binary data beyond what the inputs' \
             binary_data_size declare",
            self.rest.len()
        )))
    }
}

/// Bounds what a binary BYTES input may make the server allocate before it
/// is split: the element count (one slice handle each, never more than the
/// shape claims) and each element's length. The same checks as gRPC's.
pub fn check_bytes_elements(name: &str, shape: &[i64], raw: &Bytes) -> Result<(), ServeError> {
    let Some(claimed) = element_count(shape) else {
        return Err(ServeError::invalid(format!(
            "input '{name}': shape {} has a negative dimension or too many elements",
            shape_text(shape)
        )));
    };
    if claimed > MAX_BYTES_ELEMENTS {
        return Err(ServeError::invalid(format!(
            "input '{name}': at most {MAX_BYTES_ELEMENTS} BYTES elements per input, shape {} claims more",
            shape_text(shape)
        )));
    }
    let (mut offset, mut count) = (0usize, 0usize);
    while let Some(prefix) = raw.get(offset..offset.saturating_add(4)) {
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len > MAX_BYTES_ELEMENT_LEN {
            return Err(ServeError::invalid(format!(
                "input '{name}': a BYTES element of {len} bytes exceeds the limit of {MAX_BYTES_ELEMENT_LEN}"
            )));
        }
        count += 1;
        if count > claimed {
            return Err(ServeError::invalid(format!(
                "input '{name}': expected {claimed} BYTES elements for shape {}, got more",
                shape_text(shape)
            )));
        }
        offset = offset.saturating_add(4).saturating_add(len);
    }
    Ok(())
}
