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

/// `turnstile.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("turnstile.v1");
}

/// The encoded `FileDescriptorSet` of the API, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("turnstile_descriptor");
