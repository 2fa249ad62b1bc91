//! How turnstile's turns travel between processes: the gRPC messages of `turnstile-proto` to
//! and from the engine's requests and traces and the session layer's turns.
//!
//! - [`request_to_json`], [`json_to_request`]: the public API's `Request` message ⇄ the DM API's
//!   request JSON, which the engine parses and buttons carry;
//! - [`trace_to_pb`], [`trace_to_json`]: traces ⇄ the `Trace` message;
//! - [`struct_to_json`] and friends: `google.protobuf.Struct` ⇄ JSON;
//! - [`forward`]: turns, state operations and their outcomes on the internal `Cluster` service.
//!
//! Everything that speaks gRPC — the server's services, `turnstile chat --grpc`, the benchmark
//! — converts here, so a message means the same thing on both ends.

#![forbid(unsafe_code)]

pub mod forward;
mod request;
mod trace;
mod value;

pub use request::{NoRequestKind, json_to_request, request_to_json};
pub use trace::{trace_to_json, trace_to_pb};
pub use value::{json_to_struct, json_to_value, struct_to_json, value_to_json};
