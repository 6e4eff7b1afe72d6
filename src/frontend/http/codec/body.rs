//! The request body's two parts: the JSON header, whose length the
//! `Inference-Header-Content-Length` header gives, and the binary sections
//! after it, handed out in input order as zero-copy slices of the body.

use bytes::Bytes;

use crate::error::ServeError;

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
