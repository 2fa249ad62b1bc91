//! Owners of partitions: rendezvous (highest random weight) hashing over the live members.

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::partition::{PARTITIONS, Partition};

/// A member's stable identity (its configured node id).
pub type NodeId = String;

/// The owner of every partition for one membership view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    /// Sorted, deduplicated.
    members: Vec<NodeId>,
    /// `owners[p]` indexes `members`.
    owners: Vec<u16>,
}

/// The weight of `node` for `partition`: the highest weight owns it.
fn weight(partition: Partition, node: &str) -> u64 {
    xxh3_64_with_seed(node.as_bytes(), u64::from(partition))
}

impl Ring {
    /// The owner table for these members (order and duplicates do not matter).
    ///
    /// ```
    /// use turnstile_cluster::Ring;
    /// let ring = Ring::new(["node-2", "node-1", "node-3"]);
    /// let owner = ring.owner(17).unwrap();
    /// assert!(["node-1", "node-2", "node-3"].contains(&owner));
    /// // Any process computing the ring from the same members agrees.
    /// assert_eq!(Ring::new(["node-3", "node-1", "node-2"]).owner(17), Some(owner));
    /// ```
    pub fn new<I, S>(members: I) -> Ring
    where
        I: IntoIterator<Item = S>,
        S: Into<NodeId>,
    {
        let mut members: Vec<NodeId> = members.into_iter().map(Into::into).collect();
        members.sort();
        members.dedup();
        let owners = (0..PARTITIONS)
            .map(|p| {
                // Ties (astronomically rare) go to the smallest id, deterministically.
                members
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, node)| (weight(p, node), std::cmp::Reverse(*i)))
                    .map_or(0, |(i, _)| i as u16)
            })
            .collect();
        Ring { members, owners }
    }

    /// The members, sorted.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// The owner of a partition (`None` when there are no members).
    pub fn owner(&self, partition: Partition) -> Option<&str> {
        let index = *self.owners.get(partition as usize)?;
        self.members.get(index as usize).map(String::as_str)
    }

    /// Every member in the order it would take `partition` over: the owner first, then who
    /// owns it if the owner leaves, and so on.
    pub fn successors(&self, partition: Partition) -> Vec<&str> {
        let mut ranked: Vec<&str> = self.members.iter().map(String::as_str).collect();
        ranked.sort_by_key(|node| std::cmp::Reverse(weight(partition, node)));
        ranked
    }

    /// How many partitions each member owns, in `members()` order.
    pub fn loads(&self) -> Vec<usize> {
        let mut loads = vec![0; self.members.len()];
        for &owner in &self.owners {
            if let Some(load) = loads.get_mut(owner as usize) {
                *load += 1;
            }
        }
        loads
    }

    /// The partitions whose owner differs between two views.
    pub fn moved_from(&self, before: &Ring) -> Vec<Partition> {
        (0..PARTITIONS)
            .filter(|&p| self.owner(p) != before.owner(p))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("node-{i}")).collect()
    }

    fn max_over_mean(ring: &Ring) -> f64 {
        let loads = ring.loads();
        let mean = f64::from(PARTITIONS) / loads.len() as f64;
        *loads.iter().max().unwrap() as f64 / mean
    }

    #[test]
    fn ten_nodes_share_the_partitions_evenly() {
        let ring = Ring::new(nodes(10));
        assert!(max_over_mean(&ring) <= 1.1, "{:?}", ring.loads());
        assert_eq!(ring.loads().iter().sum::<usize>(), PARTITIONS as usize);
    }

    #[test]
    fn balance_holds_across_many_naming_schemes() {
        // Rendezvous assigns each partition independently, so balance is statistical: check the
        // distribution over 200 clusters of 10 differently named nodes.
        let mut ratios: Vec<f64> = (0..200)
            .map(|c| Ring::new((0..10).map(|i| format!("c{c}-host-{i}.example"))))
            .map(|ring| max_over_mean(&ring))
            .collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let worst = ratios[ratios.len() - 1];
        assert!(median <= 1.1, "median max/mean {median}");
        assert!(worst <= 1.2, "worst max/mean {worst}");
    }

    #[test]
    fn removing_a_node_moves_only_its_partitions() {
        let all = Ring::new(nodes(10));
        let without: Vec<String> = nodes(10).into_iter().filter(|n| n != "node-4").collect();
        let after = Ring::new(without);
        let moved = after.moved_from(&all);
        assert!(!moved.is_empty());
        for p in &moved {
            assert_eq!(
                all.owner(*p),
                Some("node-4"),
                "partition {p} moved needlessly"
            );
        }
        assert_eq!(
            moved.len(),
            all.loads()[all.members().iter().position(|n| n == "node-4").unwrap()]
        );
        // Each moved partition goes to its next successor.
        for p in moved {
            assert_eq!(after.owner(p), Some(all.successors(p)[1]));
        }
    }

    #[test]
    fn adding_a_node_moves_about_one_nth_to_it() {
        let before = Ring::new(nodes(10));
        let after = Ring::new(nodes(11));
        let moved = after.moved_from(&before);
        let fraction = moved.len() as f64 / f64::from(PARTITIONS);
        assert!((0.07..=0.115).contains(&fraction), "{fraction}");
        for p in moved {
            assert_eq!(after.owner(p), Some("node-11"));
        }
    }

    #[test]
    fn empty_and_single_member_rings() {
        assert_eq!(Ring::new(Vec::<String>::new()).owner(0), None);
        let one = Ring::new(["solo"]);
        assert!((0..PARTITIONS).all(|p| one.owner(p) == Some("solo")));
        assert_eq!(Ring::new(["a", "a", "b"]).members(), ["a", "b"]);
    }
}
