//! The one mapping from engine errors to gRPC status.

use tonic::{Code as GrpcCode, Status};

use crate::error::{Code, ServeError, client_message};

/// The gRPC code for an engine code.
pub fn grpc_code(code: Code) -> GrpcCode {
    match code {
        Code::Ok => GrpcCode::Ok,
        Code::Cancelled => GrpcCode::Cancelled,
        Code::InvalidArgument => GrpcCode::InvalidArgument,
        Code::DeadlineExceeded => GrpcCode::DeadlineExceeded,
        Code::NotFound => GrpcCode::NotFound,
        Code::ResourceExhausted => GrpcCode::ResourceExhausted,
        Code::Unimplemented => GrpcCode::Unimplemented,
        Code::Internal => GrpcCode::Internal,
        Code::Unavailable => GrpcCode::Unavailable,
    }
}

/// The status an engine error is answered with.
pub fn status(error: ServeError) -> Status {
    Status::new(grpc_code(error.code()), client_message(&error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_code_maps_to_the_grpc_code_of_the_same_name() {
        for code in Code::ALL {
            let grpc = format!("{:?}", grpc_code(code)).to_ascii_uppercase();
            assert_eq!(grpc.replace('_', ""), code.as_str().replace('_', ""), "{code}");
        }
    }

    #[test]
    fn status_carries_code_and_message() {
        let status = status(ServeError::Runtime("bad reshape".into()));
        assert_eq!(status.code(), GrpcCode::Internal);
        assert!(status.message().contains("bad reshape"));
    }
}
