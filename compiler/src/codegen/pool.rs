//! The threads that large loops are split across: one pool per process, started on first
//! use and reused by every kernel and every call, so a split costs a wake-up rather than a
//! thread spawn (`std::thread::scope` per region per call cost a spawn and a join each time).
//!
//! [`for_each`] runs `work(0..chunks)` with the calling thread taking part: the caller
//! publishes the job, wakes up to `chunks - 1` workers, and claims chunks itself like any
//! worker (an atomic counter hands each chunk out once). So a job always finishes even when
//! every worker is busy elsewhere (several kernels may run at once, `Kernel` is `Sync`), and
//! a job whose workers wake late is simply done by its caller.
//!
//! The pool grows to the largest number of helpers any call has asked for (`threads - 1`
//! of [`super::Options::threads`]) and never shrinks; its workers wait on a condition
//! variable when idle (after a short spin, which is what makes back-to-back regions cheap)
//! and are never joined: they hold nothing that needs dropping, and the process exits
//! around them. A panic inside `work` is caught where it happens (a worker survives it),
//! counted as a finished chunk so nobody waits for it, and raised again in the caller once
//! every chunk is over — the borrowed data `work` uses outlives every use of it.

use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// One call of [`for_each`]: what workers share with the caller.
struct Job {
    /// The caller's `work`, its lifetime erased: only called for a claimed chunk, and the
    /// caller does not return before every claimed chunk is finished.
    work: *const (dyn Fn(usize) + Sync),
    chunks: usize,
    /// The next chunk to hand out (may run past `chunks`: then there is none left).
    next: AtomicUsize,
    /// Chunks finished, and the first panic's payload.
    done: Mutex<(usize, Option<Box<dyn std::any::Any + Send>>)>,
    all_done: Condvar,
}

// SAFETY: `work` is `Sync` and is only called while the caller waits in `for_each` (see the
// field); everything else is thread-safe.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs chunks until none is left.
    fn help(&self) {
        loop {
            let k = self.next.fetch_add(1, Ordering::Relaxed);
            if k >= self.chunks {
                return;
            }
            // SAFETY: chunk `k` is claimed and not yet counted done, so the caller is still
            // waiting and `work` (and what it borrows) is alive.
            let r = catch_unwind(AssertUnwindSafe(|| unsafe { (*self.work)(k) }));
            let mut d = lock(&self.done);
            d.0 += 1;
            if let Err(p) = r {
                d.1.get_or_insert(p);
            }
            if d.0 == self.chunks {
                self.all_done.notify_all();
            }
        }
    }
}

struct Pool {
    /// Jobs with chunks possibly left, one entry per helper asked for.
    queue: Mutex<VecDeque<Arc<Job>>>,
    /// The queue's length, read without the lock by spinning workers.
    queued: AtomicUsize,
    wake: Condvar,
    /// Workers started so far.
    workers: Mutex<usize>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool { queue: Mutex::new(VecDeque::new()), queued: AtomicUsize::new(0), wake: Condvar::new(), workers: Mutex::new(0) })
}

/// A lock that a panic elsewhere does not poison (no lock here is held across user code).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long an idle worker polls the queue before it sleeps: a region's call follows the
/// previous one within microseconds, and waking a sleeping thread costs tens of them.
const SPIN: Duration = Duration::from_micros(50);

impl Pool {
    /// Starts workers until there are `n` (a failed spawn leaves fewer; callers do not rely
    /// on any worker).
    fn grow(&'static self, n: usize) {
        let mut w = lock(&self.workers);
        while *w < n {
            let spawned = std::thread::Builder::new().name(format!("gradc-jit-{}", *w)).spawn(move || self.serve());
            if spawned.is_err() {
                return;
            }
            *w += 1;
        }
    }

    fn serve(&self) {
        loop {
            let job = self.next_job();
            job.help();
        }
    }

    fn next_job(&self) -> Arc<Job> {
        let start = Instant::now();
        while self.queued.load(Ordering::Acquire) == 0 && start.elapsed() < SPIN {
            std::hint::spin_loop();
        }
        let mut q = lock(&self.queue);
        while q.is_empty() {
            q = self.wake.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        self.queued.fetch_sub(1, Ordering::Relaxed);
        q.pop_front().expect("non-empty")
    }
}

/// Runs `work(k)` for every `k` in `0..chunks`, on up to `threads` threads (the caller's
/// included), each chunk exactly once; returns when all have finished. A panic in `work`
/// is raised here after that.
pub(super) fn for_each(chunks: usize, threads: usize, work: &(dyn Fn(usize) + Sync)) {
    let helpers = threads.min(chunks).saturating_sub(1);
    if helpers == 0 {
        (0..chunks).for_each(work);
        return;
    }
    let p = pool();
    p.grow(helpers);
    // SAFETY (of the erasure): see `Job::work`; this function waits below for every chunk.
    let work: *const (dyn Fn(usize) + Sync + '_) = work;
    let work: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
    let job = Arc::new(Job {
        work,
        chunks,
        next: AtomicUsize::new(0),
        done: Mutex::new((0, None)),
        all_done: Condvar::new(),
    });
    {
        let mut q = lock(&p.queue);
        q.extend((0..helpers).map(|_| job.clone()));
        p.queued.fetch_add(helpers, Ordering::Release);
    }
    for _ in 0..helpers {
        p.wake.notify_one();
    }
    job.help();
    let mut d = lock(&job.done);
    while d.0 < chunks {
        d = job.all_done.wait(d).unwrap_or_else(|e| e.into_inner());
    }
    if let Some(payload) = d.1.take() {
        drop(d);
        resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_runs_once() {
        for threads in [1, 2, 3, 8] {
            for chunks in [0, 1, 2, 5, 64] {
                let hits: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
                for_each(chunks, threads, &|k| {
                    hits[k].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1), "{threads} threads, {chunks} chunks");
            }
        }
    }

    #[test]
    fn a_panic_reaches_the_caller_and_the_pool_survives() {
        let r = catch_unwind(|| for_each(4, 4, &|k| assert!(k != 2, "chunk two")));
        assert!(r.is_err());
        let sum = AtomicUsize::new(0);
        for_each(4, 4, &|k| {
            sum.fetch_add(k, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 6);
    }
}
