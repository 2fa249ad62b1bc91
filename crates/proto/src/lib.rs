//! turnstile's gRPC API: the code generated from `proto/turnstile/v1/dialog.proto`.
//!
//! [`v1`] holds the messages, the `Dialog` and `State` servers (implemented by
//! `turnstile-edge`) and their clients, and the internal `Cluster` service that nodes use to
//! forward requests to a session's owner (`proto/turnstile/v1/cluster.proto`).
//! [`FILE_DESCRIPTOR_SET`] (the public API only) feeds server reflection.
//!
//! ```no_run
//! use turnstile_proto::v1::{dialog_client::DialogClient, request, InteractRequest, Launch, Request};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = DialogClient::connect("http://127.0.0.1:8080").await?;
//! let answer = client
//!     .interact(InteractRequest {
//!         user_id: "ada".into(),
//!         request: Some(Request { kind: Some(request::Kind::Launch(Launch {})) }),
//!         ..Default::default()
//!     })
//!     .await?
//!     .into_inner();
//! println!("{} traces", answer.traces.len());
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

/// The `turnstile.v1` protobuf package, as tonic-prost-build generates it: messages, the
/// `Dialog` and `State` servers and clients of the public API, and the internal `Cluster`
/// service. The `.proto` comments become the items' docs where they exist; the generated code is
/// exempt from `missing_docs` and clippy, which it was not written for.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("turnstile.v1");
}

/// The encoded `FileDescriptorSet` of the public API (`dialog.proto` and what it imports, not
/// the internal `Cluster` service), for `tonic-reflection`: grpcurl and similar clients discover
/// the API from the server with it.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("turnstile_descriptor");
