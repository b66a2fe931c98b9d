//! No statement a user triggers costs more as the database grows: everything the screens, the
//! intake and the engine ask of the database is run on a shop four times larger, and each
//! statement's virtual-machine steps (which grow with the rows it touches) must stay flat. A full
//! table scan or a sort of a whole table would take four times the steps.

use desk_bench::growth::{steps_by_statement, user_actions};
use desk_bench::seed::{Shop, seed};
use desk_core::Store;

/// A desk database holding `shop` (seeded at `now`), open; the directory goes with it.
fn seeded(shop: Shop, now: i64) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("desk.sqlite3");
    seed(&path, shop, now).expect("the shop is seeded");
    (Store::open(&path).expect("the seeded database opens"), dir)
}

fn steps(shop: Shop) -> std::collections::BTreeMap<String, (String, i32)> {
    let now = desk_core::unix_now();
    let (store, _dir) = seeded(shop, now);
    let actions = user_actions(&store, shop, now).expect("every action succeeds");
    steps_by_statement(&actions)
}

#[test]
fn no_statement_costs_more_on_a_database_four_times_larger() {
    let small = steps(Shop {
        orders: 2_000,
        requests: 1_000,
    });
    let large = steps(Shop {
        orders: 8_000,
        requests: 4_000,
    });
    assert_eq!(
        small.keys().collect::<Vec<_>>(),
        large.keys().collect::<Vec<_>>(),
        "the same statements ran at both sizes"
    );
    assert!(
        small.len() >= 15,
        "the actions ran their statements: {}",
        small.len()
    );
    let mut grew = Vec::new();
    for (sql, (action, before)) in &small {
        let after = large[sql].1;
        // Flat, with room for B-tree depth and page boundaries; a scan would be 4x.
        if after > before + before / 2 + 200 {
            grew.push(format!("{action}: {before} -> {after} steps\n    {sql}"));
        }
    }
    assert!(
        grew.is_empty(),
        "statements that grew with the table:\n{}",
        grew.join("\n")
    );
}

#[test]
fn the_seeded_queue_counts_match_its_rows() {
    let shop = Shop {
        orders: 300,
        requests: 200,
    };
    let (store, _dir) = seeded(shop, desk_core::unix_now());
    let counts = store.queue_counts().expect("counts");
    let total: i64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(total, 200);
    for count in counts {
        let listed = store.queue(Some(count.state), 1_000).expect("a tab").len();
        assert_eq!(listed as i64, count.count, "{:?}", count.state);
    }
}

#[test]
fn pages_follow_on_and_searches_keep_to_their_prefix_and_states() {
    use desk_core::{QueueQuery, QueueState};
    let shop = Shop {
        orders: 2_000,
        requests: 1_000,
    };
    let (store, _dir) = seeded(shop, desk_core::unix_now());
    let working = vec![
        QueueState::Approved,
        QueueState::Submitting,
        QueueState::Processing,
    ];
    let page = |before| {
        store
            .queue_page(&QueueQuery {
                states: working.clone(),
                before,
                limit: 40,
                ..QueueQuery::default()
            })
            .expect("a page")
    };
    let first = page(None);
    let second = page(first.last().map(|item| item.request));
    let whole = store
        .queue_page(&QueueQuery {
            states: working.clone(),
            limit: 80,
            ..QueueQuery::default()
        })
        .expect("two pages at once");
    let ids = |items: &[desk_core::QueueItem]| items.iter().map(|i| i.request).collect::<Vec<_>>();
    assert_eq!(first.len(), 40);
    assert_eq!([ids(&first), ids(&second)].concat(), ids(&whole));
    assert!(
        whole.windows(2).all(|w| w[0].request > w[1].request),
        "newest first"
    );
    assert!(whole.iter().all(|item| working.contains(&item.state)));

    let found = store
        .queue_page(&QueueQuery {
            states: vec![QueueState::Pending],
            search: Some("SEED00000019".into()),
            limit: 100,
            ..QueueQuery::default()
        })
        .expect("a search");
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|item| item.out_trade_no.starts_with("SEED00000019")
                && item.state == QueueState::Pending)
    );
}
