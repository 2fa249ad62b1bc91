//! Conversations into partitions.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The fixed number of partitions. It never changes: it is part of where data lives.
pub const PARTITIONS: Partition = 4096;

/// The seed of the conversation hash. It never changes either.
const SEED: u64 = 0x7475_726e_7374_696c; // "turnstil"

/// A partition number, `0..PARTITIONS`: the type the session layer and the stores use for
/// partitions too (their fences and claims), so a partition never changes type on its way.
pub type Partition = u32;

/// The partition of a conversation.
///
/// The key is encoded unambiguously (`0xFF` cannot occur in UTF-8), so `("a:b", "c")` and
/// `("a", "b:c")` are different keys.
///
/// ```
/// use turnstile_cluster::{partition_of, PARTITIONS};
/// let p = partition_of("pizza", "ada");
/// assert!(p < PARTITIONS);
/// assert_eq!(p, partition_of("pizza", "ada"));
/// ```
pub fn partition_of(project: &str, user: &str) -> Partition {
    let mut key = Vec::with_capacity(project.len() + 1 + user.len());
    key.extend_from_slice(project.as_bytes());
    key.push(0xFF);
    key.extend_from_slice(user.as_bytes());
    (xxh3_64_with_seed(&key, SEED) % u64::from(PARTITIONS)) as Partition
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_is_fixed_across_processes_and_versions() {
        // Golden values: if these change, every stored session changes partition (and owner).
        assert_eq!(partition_of("pizza", "ada"), 1868);
        assert_eq!(partition_of("default", "user-1"), 3477);
        assert_eq!(partition_of("", ""), 3885);
    }

    #[test]
    fn keys_are_unambiguous_and_spread() {
        assert_ne!(partition_of("a:b", "c"), partition_of("a", "b:c"));
        let mut counts = vec![0u32; PARTITIONS as usize];
        for i in 0..409_600 {
            counts[partition_of("p", &format!("user-{i}")) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        // 100 keys per partition on average; a uniform hash stays well within these bounds.
        assert!(*min > 50 && *max < 160, "min {min}, max {max}");
    }
}
