//! Whole requests built the way `tritonclient.http` builds them
//! (`_utils._get_inference_request`): the JSON, then each binary input's
//! bytes in input order, and `Inference-Header-Content-Length` set to the
//! JSON's length whenever an input is binary. Members come in tritonclient's
//! order, or with `data` before `datatype` as other clients may write them.

use proptest::prelude::*;

use crate::tensors::{Style, Tensor, json_data, string_text, style, tensor};

#[derive(Debug, Clone)]
pub enum Form {
    Json(Style),
    Binary,
}

#[derive(Debug, Clone)]
pub struct Input {
    pub tensor: Tensor,
    pub form: Form,
    /// `data` before `datatype` in the input's object.
    pub data_first: bool,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub id: String,
    pub inputs: Vec<Input>,
    /// Requested outputs (names of inputs, echoed back) and `binary_data`.
    pub outputs: Vec<(String, Option<bool>)>,
    /// `parameters.binary_data_output`; tritonclient sets `true` when no
    /// output is requested.
    pub binary_data_output: Option<bool>,
}

impl Request {
    /// Whether the answer's output `name` must come as binary data.
    pub fn wants_binary(&self, name: &str) -> bool {
        let all = self.binary_data_output.unwrap_or(false);
        match self.outputs.iter().find(|(n, _)| n == name) {
            Some((_, Some(binary))) => *binary,
            _ => all,
        }
    }
}

/// Input names with characters JSON must escape.
fn name(index: usize) -> impl Strategy<Value = String> {
    prop::sample::select(vec!["in", "é", "a\"b", "back\\slash", "tab\t", "日本"])
        .prop_map(move |p| format!("{p}{index}"))
}

fn input(index: usize) -> impl Strategy<Value = Input> {
    (name(index), any::<bool>(), style(), any::<bool>()).prop_flat_map(|(name, json, style, data_first)| {
        tensor(name, json).prop_map(move |tensor| {
            let form = if json && tensor.has_json_form() {
                Form::Json(style)
            } else {
                Form::Binary
            };
            Input {
                tensor,
                form,
                data_first,
            }
        })
    })
}

pub fn request() -> impl Strategy<Value = Request> {
    let inputs = (0usize..5).prop_flat_map(|n| (0..n).map(input).collect::<Vec<_>>());
    let choices = prop::collection::vec((any::<bool>(), prop::option::of(any::<bool>())), 5);
    (inputs, choices, prop::option::of(any::<bool>()), "[a-z0-9-]{0,8}").prop_map(
        |(inputs, choices, binary_data_output, id)| {
            let outputs: Vec<(String, Option<bool>)> = inputs
                .iter()
                .zip(&choices)
                .filter(|(_, (requested, _))| *requested)
                .map(|(input, (_, binary))| (input.tensor.name.clone(), *binary))
                .collect();
            let binary_data_output = if outputs.is_empty() {
                Some(true)
            } else {
                binary_data_output
            };
            Request {
                id,
                inputs,
                outputs,
                binary_data_output,
            }
        },
    )
}

fn text(value: &str) -> String {
    string_text(value, true)
}

fn input_json(input: &Input) -> String {
    let t = &input.tensor;
    let head = format!(r#""name":{},"shape":{:?}"#, text(&t.name), t.shape);
    let datatype = format!(r#""datatype":"{}""#, t.datatype.as_str());
    let data = match input.form {
        Form::Json(style) => format!(r#""data":{}"#, json_data(t, style)),
        Form::Binary => format!(r#""parameters":{{"binary_data_size":{}}}"#, t.raw().len()),
    };
    if input.data_first {
        format!("{{{data},{head},{datatype}}}")
    } else {
        format!("{{{head},{datatype},{data}}}")
    }
}

fn output_json((name, binary): &(String, Option<bool>)) -> String {
    match binary {
        Some(binary) => format!(
            r#"{{"name":{},"parameters":{{"binary_data":{binary}}}}}"#,
            text(name)
        ),
        None => format!(r#"{{"name":{}}}"#, text(name)),
    }
}

/// The request's JSON part.
pub fn json(request: &Request) -> String {
    let mut members = Vec::new();
    if !request.id.is_empty() {
        members.push(format!(r#""id":{}"#, text(&request.id)));
    }
    let inputs: Vec<String> = request.inputs.iter().map(input_json).collect();
    members.push(format!(r#""inputs":[{}]"#, inputs.join(",")));
    if !request.outputs.is_empty() {
        let outputs: Vec<String> = request.outputs.iter().map(output_json).collect();
        members.push(format!(r#""outputs":[{}]"#, outputs.join(",")));
    }
    if let Some(binary) = request.binary_data_output {
        members.push(format!(
            r#""parameters":{{"binary_data_output":{binary},"priority":1}}"#
        ));
    }
    format!("{{{}}}", members.join(","))
}

/// The binary sections, in input order.
pub fn sections(request: &Request) -> Vec<u8> {
    let binary = request.inputs.iter().filter(|i| matches!(i.form, Form::Binary));
    binary.flat_map(|i| i.tensor.raw()).collect()
}

/// The body and its `Inference-Header-Content-Length`, as tritonclient sends them.
pub fn body(request: &Request) -> (Vec<u8>, Option<String>) {
    let mut body = json(request).into_bytes();
    let any_binary = request.inputs.iter().any(|i| matches!(i.form, Form::Binary));
    if !any_binary {
        return (body, None);
    }
    let header = body.len().to_string();
    body.extend(sections(request));
    (body, Some(header))
}
