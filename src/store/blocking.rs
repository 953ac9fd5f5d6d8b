//! Using the async store traits from synchronous code.
//!
//! The store traits return `Send` futures. An async application awaits them
//! on its own executor (tokio, async-std, smol, ...). A synchronous program
//! drives them with [`block_on`], a tiny executor built on the standard
//! library only: it polls the future on the calling thread and parks the
//! thread until the store wakes it.
//!
//! The stores shipped with crmkit never need a particular runtime: the
//! memory store completes immediately, and the SQLite store's futures are
//! woken by its connection thread. An adapter built on a runtime-bound
//! client (a tokio Postgres driver, say) needs that runtime instead; use the
//! runtime's own `block_on` then.
//!
//! Do not call [`block_on`] from inside an async task: it blocks the
//! executor thread.
//!
//! # Example
//! ```
//! use crmkit::store::blocking::block_on;
//! assert_eq!(block_on(async { 40 + 2 }), 42);
//! ```

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on the current thread, parking the thread
/// while the future waits.
///
/// # Example
/// ```
/// use crmkit::store::blocking::block_on;
/// use crmkit::store::memory::MemoryStore;
/// use crmkit::store::{PageRequest, Query, Transaction, UnitOfWork};
///
/// let store = MemoryStore::new();
/// let n = block_on(store.transaction(|_tx| Ok::<_, crmkit::store::StoreError>(7)))?;
/// assert_eq!(n, 7);
/// Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            // A spurious unpark only costs one extra poll.
            Poll::Pending => thread::park(),
        }
    }
}
