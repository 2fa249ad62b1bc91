//! Properties of the owner table over arbitrary clusters: removing a member moves only its
//! partitions, adding one moves partitions only to it (about 1/N of them), and every process
//! computes the same table whatever order it learns the members in.

use proptest::prelude::*;
use turnstile_cluster::{PARTITIONS, Ring};

/// 2–12 distinct node names.
fn members() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_set("[a-z][a-z0-9.-]{0,15}", 2..=12)
        .prop_map(|set| set.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn removing_a_member_moves_only_its_partitions(members in members(), pick in any::<prop::sample::Index>()) {
        let before = Ring::new(members.clone());
        let gone = pick.get(&members).clone();
        let after = Ring::new(members.iter().filter(|m| **m != gone).cloned());
        for p in after.moved_from(&before) {
            prop_assert_eq!(before.owner(p), Some(gone.as_str()));
        }
        prop_assert!((0..PARTITIONS).all(|p| after.owner(p) != Some(gone.as_str())));
    }

    #[test]
    fn adding_a_member_moves_about_one_nth_to_it(members in members(), new in "[A-Z][a-z0-9]{0,8}") {
        let before = Ring::new(members.clone());
        let mut grown = members.clone();
        grown.push(new.clone());
        let after = Ring::new(grown);
        let moved = after.moved_from(&before);
        for p in &moved {
            prop_assert_eq!(after.owner(*p), Some(new.as_str()));
        }
        let n = members.len() as f64 + 1.0;
        let fraction = moved.len() as f64 / f64::from(PARTITIONS);
        // Each partition goes to the newcomer with probability 1/n: with 4096 partitions the
        // fraction stays well within ±35% of that.
        prop_assert!((fraction - 1.0 / n).abs() <= 0.35 / n, "moved {fraction}, ideal {}", 1.0 / n);
    }

    #[test]
    fn the_table_does_not_depend_on_member_order(mut members in members(), seed in any::<u64>()) {
        let sorted = Ring::new(members.clone());
        // A deterministic shuffle.
        let len = members.len();
        for i in 0..len {
            let j = (seed.rotate_left(i as u32) as usize) % len;
            members.swap(i, j);
        }
        prop_assert_eq!(Ring::new(members), sorted);
    }
}
