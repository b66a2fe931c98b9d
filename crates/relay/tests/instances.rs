//! Two relay instances on one PostgreSQL (behind one load balancer, say): WeChat and the
//! backend post to either, desks connect to either, and every desk reads the same log.

#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use relay::store::{PostgresStore, Store};
use relay::{Relay, Settings, unix_now};
use relay_client::{Received, RelayClient};
use relay_protocol::{Role, paths};
use support::Cluster;

async fn serve(url: &str) -> (PostgresStore, String) {
    let store = PostgresStore::open(url).await.unwrap();
    let relay = Relay::new(store.clone(), Settings::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { relay.serve(listener, std::future::pending()).await });
    (store, base)
}

async fn pair(store: &PostgresStore, shop_id: i64, base: &str, role: Role) -> RelayClient {
    let code = relay::desks::new_pairing(store, shop_id, role, unix_now())
        .await
        .unwrap();
    let client = RelayClient::new(base, None).unwrap();
    let paired = client.pair(&code, role.as_str()).await.unwrap();
    client.with_token(&paired.token)
}

async fn read(client: &RelayClient, count: usize) -> Vec<(i64, String)> {
    let mut stream = client.events(0).await.unwrap();
    let mut entries = Vec::new();
    while entries.len() < count {
        match tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the desk's instance streams what the other stored")
            .unwrap()
        {
            Some(Received::Entry(entry)) => entries.push((entry.seq, entry.body)),
            Some(Received::Hello(_)) => {}
            None => panic!("stream ended"),
        }
    }
    entries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_relay_instances_on_one_postgres_with_desks_on_either() {
    let cluster = Cluster::start();
    let url = cluster.database("relay");
    let (a, base_a) = serve(&url).await;
    let (_b, base_b) = serve(&url).await;
    let shop = a.add_shop("一店", unix_now()).await.unwrap();
    let owner = pair(&a, shop.id, &base_a, Role::Owner).await;
    let staff = pair(&a, shop.id, &base_b, Role::Staff).await;

    // Desks connected before anything arrives.
    let (owner_reads, staff_reads) = (
        tokio::spawn({
            let owner = owner.clone();
            async move { read(&owner, 40).await }
        }),
        tokio::spawn({
            let staff = staff.clone();
            async move { read(&staff, 40).await }
        }),
    );
    let http = wxpay_client::verified_client_builder(None)
        .unwrap()
        .build()
        .unwrap();
    for n in 0..40 {
        let base = if n % 2 == 0 { &base_a } else { &base_b };
        let url = format!(
            "{base}{}",
            paths::for_shop(paths::PAYMENT_NOTIFY, &shop.slug)
        );
        let reply = http
            .post(url)
            .body(format!(
                "<xml><return_code>SUCCESS</return_code><n>{n}</n></xml>"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 200);
    }
    let (owner_saw, staff_saw) = (owner_reads.await.unwrap(), staff_reads.await.unwrap());
    assert_eq!(
        owner_saw, staff_saw,
        "the same log, in the same order, on either instance"
    );
    assert_eq!(
        owner_saw.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    // Acknowledged through one instance, seen by the other.
    staff.ack(40).await.unwrap();
    let desks = owner.desks().await.unwrap();
    assert!(
        desks
            .iter()
            .any(|d| d.role == Role::Staff && d.acked_seq == 40)
    );
}
