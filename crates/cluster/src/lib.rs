//! turnstile's cluster layer: which node owns which conversation.
//!
//! Two levels, so that ownership moves in coarse, countable units:
//! 1. a conversation `(project, userID)` hashes into one of [`PARTITIONS`] fixed partitions
//!    ([`partition_of`]: xxh3 with a fixed seed, the same in every process and version);
//! 2. a partition's owner is chosen among the live members by rendezvous (highest random weight)
//!    hashing ([`Ring`]), precomputed into a table whenever the membership view changes.
//!
//! Rendezvous hashing moves only what must move: when a member leaves, only its partitions get
//! new owners; when one joins, it takes about `1/N` of the partitions, from every other member.
//!
//! (Membership, forwarding and rebalancing build on this; see docs/cluster.md.)

mod partition;
mod ring;

pub use partition::{PARTITIONS, Partition, partition_of};
pub use ring::{NodeId, Ring};
