//! turnstile's cluster layer: which node owns which conversation, how nodes find each other,
//! and how a request reaches its owner.
//!
//! Ownership is two-level, so that it moves in coarse, countable units:
//! 1. a conversation `(project, userID)` hashes into one of [`PARTITIONS`] fixed partitions
//!    ([`partition_of`]: xxh3 with a fixed seed, the same in every process and version);
//! 2. a partition's owner is chosen among the ready members by rendezvous (highest random weight)
//!    hashing ([`Ring`]), precomputed into a table whenever the membership view changes.
//!
//! Rendezvous hashing moves only what must move: when a member leaves, only its partitions get
//! new owners; when one joins, it takes about `1/N` of the partitions, from every other member.
//!
//! [`Membership`] gossips with the other nodes (chitchat: scuttlebutt anti-entropy plus a
//! phi-accrual failure detector) and publishes a [`View`] — live members, their states, the
//! owner table — on every change. A node that receives a request for a session it does not own
//! forwards it to the owner through [`Peers`] (the internal `Cluster` gRPC service of
//! `proto/turnstile/v1/cluster.proto`); a node that no longer owns a session answers
//! [`NOT_OWNER`] with its view, and the sender tries again, at most [`MAX_HOPS`] times. Every
//! forwarded call carries the cluster's [`ClusterSecret`], and a node refuses calls without it.
//!
//! Views are local and can disagree for a moment: this crate never promises a single owner.
//! Safety comes from the store, which fences commits with a per-partition epoch (see
//! `turnstile-store` and docs/cluster.md).

#![forbid(unsafe_code)]

mod error;
mod forward;
mod membership;
mod partition;
mod ring;
mod secret;
mod view;

pub use error::{BoxError, ClusterError};
pub use forward::{
    ForwardError, MAX_FORWARD_MESSAGE_BYTES, MAX_HOPS, NOT_OWNER, Peers, not_owner_status,
};
pub use membership::{Membership, MembershipConfig};
pub use partition::{PARTITIONS, Partition, partition_of};
pub use ring::{NodeId, Ring};
pub use secret::{
    ClusterSecret, InvalidSecret, MIN_SECRET_BYTES, SECRET_METADATA_KEY, SecretRejected,
};
pub use view::{ClusterStatus, Member, MemberState, MemberStatus, Route, View};
