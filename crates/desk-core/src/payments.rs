//! Group commit for payment notifications. During a flash sale WeChat posts notifications
//! faster than one transaction each (one sync to disk each) can store them; one writer thread
//! takes every notification waiting and stores them in one transaction, then answers each.
//! Nothing is answered before its commit, and a quiet desk commits each notification at once
//! (there is no timer: a batch is whatever arrived during the previous commit).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::error::CoreError;
use crate::orders::{Payment, Recorded};
use crate::remote::unix_now;
use crate::store::Store;

/// At most this many payments share a transaction (bounds a commit's time and memory).
const MAX_BATCH: usize = 512;
/// Payments waiting for the writer, at most: beyond it the intake waits before reading more
/// (back-pressure on a flood instead of unbounded memory).
const MAX_WAITING: usize = 8 * MAX_BATCH;

type Job = (Payment, oneshot::Sender<Result<Recorded, CoreError>>);

/// The intake's payment writer. Its thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct PaymentWriter {
    jobs: mpsc::Sender<Job>,
}

impl PaymentWriter {
    pub fn start(store: Arc<Store>) -> PaymentWriter {
        let (jobs, mut queue) = mpsc::channel::<Job>(MAX_WAITING);
        std::thread::Builder::new()
            .name("payment-writer".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(MAX_BATCH);
                while let Some(first) = queue.blocking_recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    let (payments, answers): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                    let results = store.record_payments(&payments, unix_now());
                    for (answer, result) in answers.into_iter().zip(results) {
                        // The caller gave up (its connection closed): WeChat will resend.
                        let _ = answer.send(result);
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the payment writer thread: {e}"));
        PaymentWriter { jobs }
    }

    /// Stores `payment` (with whatever else is waiting) and answers once it is committed.
    pub async fn record(&self, payment: Payment) -> Result<Recorded, CoreError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .send((payment, answer))
            .await
            .map_err(|_| CoreError::TaskStopped("payment writer"))?;
        answered
            .await
            .unwrap_or_else(|_| Err(CoreError::TaskStopped("payment writer")))
    }
}
