//! Any sequence of refund calls, with repeated numbers and every kind of fault, never moves more
//! than was paid and never moves money twice for one out_refund_no.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;

use proptest::prelude::*;
use support::Sandbox;
use wxpay_sim::{Endpoint, Fault, FaultPlan, LedgerKind};

#[derive(Debug, Clone)]
enum Step {
    Refund {
        order: usize,
        number: usize,
        fee: i64,
    },
    Fault(Fault),
}

fn step() -> impl Strategy<Value = Step> {
    let after = any::<bool>();
    prop_oneof![
        3 => (0..3usize, 0..6usize, 1..700i64).prop_map(|(order, number, fee)| Step::Refund { order, number, fee }),
        1 => after.prop_map(|after_record| Step::Fault(Fault::Error { err_code: "SYSTEMERROR".into(), after_record })),
        1 => after.prop_map(|after_record| Step::Fault(Fault::Drop { after_record })),
        1 => after.prop_map(|after_record| Step::Fault(Fault::Garbage { after_record })),
        1 => after.prop_map(|after_record| Step::Fault(Fault::HttpStatus { status: 503, after_record })),
    ]
}

const TOTALS: [i64; 3] = [1000, 500, 1];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn refunds_never_exceed_payment_nor_repeat(steps in proptest::collection::vec(step(), 1..25)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let sim = Sandbox::start().await;
            let orders: Vec<String> = pay_orders(&sim, &TOTALS).await;
            // The fee a number was first used with: a real client resends the same request.
            let mut fee_of: HashMap<(usize, usize), i64> = HashMap::new();
            for step in &steps {
                match step {
                    Step::Fault(fault) => sim.handle.inject(FaultPlan { endpoint: Endpoint::Refund, fault: fault.clone(), count: 1 }),
                    Step::Refund { order, number, fee } => {
                        let fee = *fee_of.entry((*order, *number)).or_insert(*fee);
                        let request = sim.refund(&orders[*order], &format!("O{order}N{number}"), fee);
                        let _ = sim.client.execute(&request).await;
                    }
                }
            }
            let ledger = sim.handle.ledger();
            let mut per_number: HashMap<String, usize> = HashMap::new();
            for entry in ledger.iter().filter(|e| e.kind == LedgerKind::Refund) {
                *per_number.entry(entry.out_refund_no.clone().unwrap()).or_default() += 1;
            }
            prop_assert!(per_number.values().all(|&n| n == 1), "money moved twice for one number: {per_number:?}");
            for (order, total) in orders.iter().zip(TOTALS) {
                let refunded: i64 = ledger.iter().filter(|e| &e.out_trade_no == order && e.kind != LedgerKind::Payment).map(|e| -e.amount).sum();
                prop_assert!(refunded <= total, "order {order}: refunded {refunded} of {total}");
            }
            Ok(())
        })?;
    }
}

async fn pay_orders(sim: &Sandbox, totals: &[i64]) -> Vec<String> {
    let mut orders = Vec::new();
    for &total in totals {
        orders.push(sim.paid_order(total).await);
    }
    orders
}
