//! Names the repository layout allows, shared by the scan and the routes file.

/// Whether `name` is a valid model (or route) name: `[A-Za-z0-9_.-]+`, not
/// starting with `.` (so uploads can be staged under a hidden name).
pub fn is_valid_model_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_model_name("trip_duration-v2.onnx"));
        assert!(!is_valid_model_name(".hidden"));
        assert!(!is_valid_model_name("a b"));
        assert!(!is_valid_model_name("../x"));
        assert!(!is_valid_model_name(""));
    }
}
