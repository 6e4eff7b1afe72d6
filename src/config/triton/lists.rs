//! The text format lets the colon before a list of messages be left out
//! (`input [ { ... } ]`, the spelling of every Triton example), but
//! prost-reflect 0.16's parser wants it (`input: [ ... ]`). The text is
//! given the colon before it is parsed; positions in errors are mapped back
//! to the file as written.

/// `text` with `:` inserted between a field name and a `[` that follows it
/// directly, and the offsets (in `text`) where one was inserted. Strings
/// and `#` comments are left alone.
pub fn with_list_colons(text: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(text.len() + 16);
    let mut inserted = Vec::new();
    // Offset just past the last token, when that token was an identifier.
    let mut after_ident: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                after_ident = None;
                out.push(c);
                let mut escaped = false;
                for (_, inner) in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' || (inner == c && !escaped) {
                        break;
                    }
                    escaped = inner == '\\' && !escaped;
                }
                continue;
            }
            '#' => {
                out.push(c);
                for (_, inner) in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
                continue;
            }
            '[' => {
                if let Some(end) = after_ident.take() {
                    let position = end + inserted.len();
                    out.insert(position, ':');
                    inserted.push(end);
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                out.push(c);
                let mut end = at + c.len_utf8();
                while let Some(&(next_at, next)) = chars.peek() {
                    if !(next.is_ascii_alphanumeric() || next == '_') {
                        break;
                    }
                    out.push(next);
                    end = next_at + next.len_utf8();
                    chars.next();
                }
                after_ident = Some(end);
                continue;
            }
            c if c.is_whitespace() => {}
            _ => after_ident = None,
        }
        out.push(c);
    }
    (out, inserted)
}

/// An offset in the text given colons, as an offset in the original.
pub fn original_offset(offset: usize, inserted: &[usize]) -> usize {
    let before = inserted
        .iter()
        .enumerate()
        .filter(|(k, at)| **at + k < offset)
        .count();
    offset - before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colons_go_before_message_lists_only() {
        let text = "input [ { name: \"a [b\" dims: [ 4 ] } ]\n# output [ x ]\noutput\n  [ { } ]";
        let (fixed, inserted) = with_list_colons(text);
        assert_eq!(
            fixed,
            "input: [ { name: \"a [b\" dims: [ 4 ] } ]\n# output [ x ]\noutput:\n  [ { } ]"
        );
        assert_eq!(inserted, vec![5, text.find("output\n").unwrap() + 6]);
        let output_at = fixed.find("output:").unwrap();
        assert_eq!(
            original_offset(output_at, &inserted),
            text.find("output\n").unwrap()
        );
        assert_eq!(original_offset(3, &inserted), 3);
    }
}
