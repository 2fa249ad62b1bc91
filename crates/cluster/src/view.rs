//! A membership view: the live members, their states, and who owns each partition.

use serde::Serialize;

use crate::partition::{PARTITIONS, Partition, partition_of};
use crate::ring::{NodeId, Ring};

/// Where a member is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Gossiping, not yet serving: it owns no partitions.
    Starting,
    /// Serving: it owns its share of the partitions.
    Ready,
    /// Shutting down: its partitions have moved to the others; it finishes what it has queued.
    Draining,
}

impl MemberState {
    /// The value gossiped under the `state` key.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MemberState::Starting => "starting",
            MemberState::Ready => "ready",
            MemberState::Draining => "draining",
        }
    }

    pub(crate) fn parse(value: &str) -> Option<MemberState> {
        match value {
            "starting" => Some(MemberState::Starting),
            "ready" => Some(MemberState::Ready),
            "draining" => Some(MemberState::Draining),
            _ => None,
        }
    }
}

/// A live member of the cluster, as this node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Its node id (`--node-id`).
    pub id: NodeId,
    /// Where its HTTP and gRPC listener is reached (`host:port`): requests are forwarded there.
    pub addr: String,
    /// Its state.
    pub state: MemberState,
    /// Changes each time the node restarts (its start time in milliseconds).
    pub generation: u64,
}

/// One membership view: the live members and the owner of every partition among the ready ones.
///
/// Cheap to share (`Arc<View>`); a new one is built for every membership change.
///
/// ```
/// use turnstile_cluster::{Member, MemberState, View};
/// let member = |id: &str, port: u16| Member {
///     id: id.into(),
///     addr: format!("127.0.0.1:{port}"),
///     state: MemberState::Ready,
///     generation: 1,
/// };
/// let view = View::new("a", vec![member("a", 8001), member("b", 8002)]);
/// let route = view.route("pizza", "ada");
/// assert!(route.owner.is_some());
/// assert_eq!(route.is_local, route.owner.unwrap().id == "a");
/// ```
#[derive(Debug, Clone)]
pub struct View {
    self_id: NodeId,
    /// Sorted by id.
    members: Vec<Member>,
    /// Over the ready members only.
    ring: Ring,
}

/// Where a session's requests go in a view.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// The session's partition.
    pub partition: Partition,
    /// Its owner; `None` when no member is ready.
    pub owner: Option<&'a Member>,
    /// The owner is this node.
    pub is_local: bool,
}

impl View {
    /// The view of `self_id` over these members (order does not matter; for duplicate ids the
    /// highest generation wins, since a restarted node is briefly seen twice).
    pub fn new(self_id: impl Into<NodeId>, mut members: Vec<Member>) -> View {
        members.sort_by(|a, b| a.id.cmp(&b.id).then(b.generation.cmp(&a.generation)));
        members.dedup_by(|later, first| later.id == first.id);
        let ring = Ring::new(
            members
                .iter()
                .filter(|m| m.state == MemberState::Ready)
                .map(|m| m.id.clone()),
        );
        View {
            self_id: self_id.into(),
            members,
            ring,
        }
    }

    /// This node's id.
    pub fn self_id(&self) -> &str {
        &self.self_id
    }

    /// The live members, sorted by id (this node included).
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// A live member by id.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members
            .binary_search_by(|m| m.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.members[i])
    }

    /// The owner table over the ready members.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The owner of a partition.
    pub fn owner(&self, partition: Partition) -> Option<&Member> {
        self.ring.owner(partition).and_then(|id| self.member(id))
    }

    /// Whether this node owns the partition.
    pub fn owns(&self, partition: Partition) -> bool {
        self.ring.owner(partition) == Some(self.self_id.as_str())
    }

    /// Where the session `(project, user)` is served.
    pub fn route(&self, project: &str, user: &str) -> Route<'_> {
        let partition = partition_of(project, user);
        let owner = self.owner(partition);
        Route {
            partition,
            owner,
            is_local: owner.is_some_and(|m| m.id == self.self_id),
        }
    }

    /// The partitions this node owned in `before` and does not own here: their sessions must
    /// finish what they have queued and stop.
    pub fn lost_since(&self, before: &View) -> Vec<Partition> {
        (0..PARTITIONS)
            .filter(|&p| before.owns(p) && !self.owns(p))
            .collect()
    }

    /// A summary for `GET /cluster`: each member with how many partitions it owns.
    pub fn status(&self) -> ClusterStatus {
        let loads = self.ring.loads();
        let members = self
            .members
            .iter()
            .map(|m| MemberStatus {
                partitions: self
                    .ring
                    .members()
                    .iter()
                    .position(|id| *id == m.id)
                    .map_or(0, |i| loads[i]),
                member: m.clone(),
            })
            .collect();
        ClusterStatus {
            node_id: self.self_id.clone(),
            partitions: PARTITIONS,
            members,
        }
    }
}

/// What `GET /cluster` shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// The node that answered.
    pub node_id: NodeId,
    /// The fixed number of partitions.
    pub partitions: Partition,
    /// The live members as that node sees them.
    pub members: Vec<MemberStatus>,
}

/// One member in a [`ClusterStatus`].
#[derive(Debug, Clone, Serialize)]
pub struct MemberStatus {
    #[serde(flatten)]
    /// The member.
    pub member: Member,
    /// How many partitions it owns.
    pub partitions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, state: MemberState, generation: u64) -> Member {
        Member {
            id: id.into(),
            addr: format!("{id}:1"),
            state,
            generation,
        }
    }

    #[test]
    fn only_ready_members_own_partitions() {
        let view = View::new(
            "a",
            vec![
                member("a", MemberState::Ready, 1),
                member("b", MemberState::Starting, 1),
                member("c", MemberState::Draining, 1),
            ],
        );
        assert_eq!(view.ring().members(), ["a"]);
        assert!((0..PARTITIONS).all(|p| view.owns(p)));
        let status = view.status();
        let owned: Vec<usize> = status.members.iter().map(|m| m.partitions).collect();
        assert_eq!(owned, [PARTITIONS as usize, 0, 0]);
    }

    #[test]
    fn a_restarted_node_counts_once_with_its_newest_generation() {
        let view = View::new(
            "a",
            vec![
                member("b", MemberState::Ready, 5),
                member("a", MemberState::Ready, 1),
                member("b", MemberState::Starting, 9),
            ],
        );
        assert_eq!(view.members().len(), 2);
        assert_eq!(view.member("b").unwrap().generation, 9);
        assert_eq!(view.ring().members(), ["a"]);
    }

    #[test]
    fn lost_partitions_are_those_taken_by_a_new_member() {
        let before = View::new("a", vec![member("a", MemberState::Ready, 1)]);
        let after = View::new(
            "a",
            vec![
                member("a", MemberState::Ready, 1),
                member("b", MemberState::Ready, 1),
            ],
        );
        let lost = after.lost_since(&before);
        assert!(!lost.is_empty());
        assert!(lost.iter().all(|&p| after.owner(p).unwrap().id == "b"));
        assert!(before.lost_since(&after).is_empty());
        let route = after.route("pizza", "ada");
        assert_eq!(route.is_local, after.owns(route.partition));
    }
}
