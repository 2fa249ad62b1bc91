//! Gossip membership on loopback: nodes find each other through a seed, readiness spreads,
//! and a node that stops answering leaves every view within the detection budget.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use turnstile_cluster::{MemberState, Membership, MembershipConfig, PARTITIONS};

fn free_udp_addr() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

async fn node(id: &str, seed: Option<SocketAddr>) -> (Membership, SocketAddr) {
    let gossip = free_udp_addr();
    let mut config = MembershipConfig::new(id, gossip, format!("{id}.invalid:80"));
    config.seeds = seed.into_iter().map(|s| s.to_string()).collect();
    let membership = Membership::start(config).await.expect("gossip starts");
    (membership, gossip)
}

fn ready_ids(m: &Membership) -> Vec<String> {
    m.view().ring().members().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_agree_and_a_silent_one_is_dropped_quickly() {
    let (a, seed) = node("a", None).await;
    let (b, _) = node("b", Some(seed)).await;
    let (c, _) = node("c", Some(seed)).await;
    for m in [&a, &b, &c] {
        m.set_state(MemberState::Ready).await;
    }
    let all_ready = |v: &turnstile_cluster::View| v.ring().members().len() == 3;
    for m in [&a, &b, &c] {
        m.wait_for(all_ready, Duration::from_secs(10))
            .await
            .expect("every node sees three ready members");
    }
    // Every node computes the same owner for every partition.
    let (va, vb, vc) = (a.view(), b.view(), c.view());
    for p in 0..PARTITIONS {
        let owner = va.owner(p).unwrap().id.clone();
        assert_eq!(vb.owner(p).unwrap().id, owner);
        assert_eq!(vc.owner(p).unwrap().id, owner);
    }
    assert_eq!(va.member("b").unwrap().addr, "b.invalid:80");

    // A draining node gives up its partitions while still alive.
    c.set_state(MemberState::Draining).await;
    a.wait_for(|v| v.ring().members() == ["a", "b"], Duration::from_secs(5))
        .await
        .expect("draining leaves the ring");
    assert_eq!(a.view().member("c").unwrap().state, MemberState::Draining);
    c.set_state(MemberState::Ready).await;
    a.wait_for(all_ready, Duration::from_secs(5)).await.unwrap();

    // A node that stops gossiping (as if killed) is out of the others' views quickly.
    let stopped = Instant::now();
    c.shutdown().await;
    for m in [&a, &b] {
        m.wait_for(|v| v.member("c").is_none(), Duration::from_secs(5))
            .await
            .expect("the silent node is dropped");
    }
    let detection = stopped.elapsed();
    println!("failure detection on loopback: {detection:?}");
    assert!(detection < Duration::from_secs(2), "{detection:?}");
    assert_eq!(ready_ids(&a), ["a", "b"]);
    assert_eq!(ready_ids(&b), ["a", "b"]);
    a.shutdown().await;
    b.shutdown().await;
}
