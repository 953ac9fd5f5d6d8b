//! A minimal one-shot channel: the connection thread replies, the caller's
//! future resolves. Std only, no unsafe.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct Inner<T> {
    value: Option<T>,
    waker: Option<Waker>,
    closed: bool,
}

type Shared<T> = Arc<Mutex<Inner<T>>>;

fn lock<T>(shared: &Shared<T>) -> MutexGuard<'_, Inner<T>> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The sending half; dropping it unsent resolves the receiver with `Err`.
pub(crate) struct Sender<T>(Shared<T>);

/// The receiving half, a future.
pub(crate) struct Receiver<T>(Shared<T>);

/// The sender was dropped without sending.
#[derive(Debug)]
pub(crate) struct Canceled;

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(Inner {
        value: None,
        waker: None,
        closed: false,
    }));
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut inner = lock(&self.0);
            inner.value = Some(value);
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut inner = lock(&self.0);
            inner.closed = true;
            inner.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, Canceled>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut inner = lock(&self.0);
        if let Some(v) = inner.value.take() {
            return Poll::Ready(Ok(v));
        }
        if inner.closed {
            return Poll::Ready(Err(Canceled));
        }
        inner.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
