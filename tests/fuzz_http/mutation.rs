//! Edits of valid bodies: byte flips, insertions, removals, truncation, and
//! JSON fragments that claim huge sizes or break the structure.

use proptest::prelude::*;

#[derive(Debug, Clone)]
pub enum Edit {
    Flip {
        at: usize,
        mask: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    Truncate(usize),
    /// A JSON fragment dropped in somewhere.
    Fragment {
        at: usize,
        text: &'static str,
    },
}

/// Fragments aimed at the decoder's checks: huge numbers and sizes, wrong
/// types, structure, non-finite tokens, broken escapes.
const FRAGMENTS: &[&str] = &[
    r#""binary_data_size":18446744073709551615,"#,
    r#""binary_data_size":4294967296,"#,
    r#""parameters":{"binary_data_size":1},"#,
    r#""shape":[4294967296,4294967296,4294967296],"#,
    r#""shape":[-1],"#,
    r#""data":[[[[1]]]],"#,
    r#""data":[1e400],"#,
    r#""data":[-9223372036854775809],"#,
    r#""data":["\ud800"],"#,
    r#""datatype":"FP16","#,
    r#""datatype":"BYTES","#,
    r#""classification":2,"#,
    r#""binary_data_output":"yes","#,
    "NaN",
    "-Infinity",
    "99999999999999999999999999",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "\\u0000",
    "\u{0}",
    "\u{ff}",
];

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Edit::Flip { at, mask }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..8).prop_map(|(at, len)| Edit::Remove { at, len }),
        1 => any::<usize>().prop_map(Edit::Truncate),
        3 => (any::<usize>(), prop::sample::select(FRAGMENTS)).prop_map(|(at, text)| Edit::Fragment { at, text }),
    ]
}

pub fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
    match edit {
        Edit::Flip { at, mask } if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= mask;
        }
        Edit::Flip { .. } => {}
        Edit::Insert { at, bytes: new } => {
            let i = pos(*at, bytes.len());
            bytes.splice(i..i, new.iter().copied());
        }
        Edit::Remove { at, len } => {
            let i = pos(*at, bytes.len());
            let end = (i + len).min(bytes.len());
            bytes.drain(i..end);
        }
        Edit::Truncate(at) => {
            let i = pos(*at, bytes.len());
            bytes.truncate(i);
        }
        Edit::Fragment { at, text } => {
            let i = pos(*at, bytes.len());
            bytes.splice(i..i, text.bytes());
        }
    }
}
