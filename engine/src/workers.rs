//! The threads that run a query's partitions: parked between queries instead of started and
//! ended for each one.
//!
//! A query's partitions each run on a thread of their own, and most of what they allocate —
//! the result batches above all — outlives them: the caller frees it after the threads end.
//! With the C allocator, memory a thread allocated belongs to that thread's arena; once a
//! finished thread's arena is emptied its heaps go back to the kernel, so the next query's
//! threads fault every page of their output in afresh. On a join emitting 1 GB that was a
//! third of the query's time. A thread that lives on keeps its arena, and the next query's
//! batches reuse the pages the previous query's batches were freed into.
//!
//! Semantics are those of one thread per task: a task never waits for a free thread (a parked
//! one is woken, or a new one started), so tasks that wait for each other — a partition
//! waiting for the hash table another partition builds, a task starting tasks of its own —
//! cannot deadlock. At most [`MAX_PARKED`] threads stay parked; more finish.
//!
//! Tasks own what they use (`'static`): the partition pipelines are `Arc`s. Helpers that split
//! one borrowed buffer between threads (a build side's key ids, its row store) keep scoped
//! threads: what they allocate is the caller's.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};

use parking_lot::Mutex;

use crate::error::{EngineError, Result};

/// Threads kept parked once their task ends; the rest finish.
pub(crate) const MAX_PARKED: usize = 64;

/// A task handed to a parked thread.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// The parked threads, each waiting on its own channel.
static PARKED: Mutex<Vec<Sender<Job>>> = Mutex::new(Vec::new());

/// Runs every task on a thread of its own and returns their results in order, or the first
/// task's error (a panic is an internal error) once every task has ended. Only when the
/// system refuses a new thread does a task run on the calling thread, before the next starts.
pub(crate) fn run_all<T, F>(tasks: Vec<F>) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let waiting: Vec<Waiting<T>> = tasks.into_iter().map(dispatch).collect();
    // Wait for every task before answering: an error must not leave tasks running.
    let results: Vec<Result<T>> = waiting
        .into_iter()
        .map(|w| match w {
            Waiting::Running(result) => result.recv().unwrap_or_else(|_| {
                Err(EngineError::Internal(
                    "a query worker thread ended without a result".into(),
                ))
            }),
            Waiting::Done(result) => result,
        })
        .collect();
    results.into_iter().collect()
}

/// A task's result, to come or already there.
enum Waiting<T> {
    Running(Receiver<Result<T>>),
    Done(Result<T>),
}

/// Hands `task` to a parked thread, or to a new one; runs it here when no thread can start.
fn dispatch<T, F>(task: F) -> Waiting<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let (sender, receiver) = mpsc::sync_channel(1);
    let mut job: Job = Box::new(move || {
        // The receiver is gone only if the caller itself panicked: nobody is left to tell.
        let _ = sender.send(guarded(task));
    });
    loop {
        let parked = PARKED.lock().pop();
        match parked {
            Some(thread) => match thread.send(job) {
                Ok(()) => return Waiting::Running(receiver),
                // That thread has finished; try the next.
                Err(mpsc::SendError(returned)) => job = returned,
            },
            None => {
                let (sender, inbox) = mpsc::channel::<Job>();
                let started = std::thread::Builder::new()
                    .name("quiver-worker".into())
                    .spawn({
                        let sender = sender.clone();
                        move || work(inbox, sender)
                    });
                return match started {
                    Ok(_) => match sender.send(job) {
                        Ok(()) => Waiting::Running(receiver),
                        Err(mpsc::SendError(job)) => run_here(job, receiver),
                    },
                    Err(_) => run_here(job, receiver),
                };
            }
        }
    }
}

/// Runs `job` on the calling thread and takes its result.
fn run_here<T>(job: Job, receiver: Receiver<Result<T>>) -> Waiting<T> {
    job();
    Waiting::Done(receiver.recv().unwrap_or_else(|_| {
        Err(EngineError::Internal(
            "a query task ended without a result".into(),
        ))
    }))
}

/// `task`'s result, with a panic turned into an internal error.
fn guarded<T>(task: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(task)).unwrap_or_else(|_| {
        Err(EngineError::Internal(
            "a query worker thread panicked".into(),
        ))
    })
}

/// A worker's life: run a job, park, repeat; finish when enough threads are parked already.
fn work(inbox: Receiver<Job>, me: Sender<Job>) {
    while let Ok(job) = inbox.recv() {
        job();
        let mut parked = PARKED.lock();
        if parked.len() >= MAX_PARKED {
            return;
        }
        parked.push(me.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    #[test]
    fn results_come_back_in_task_order() {
        let tasks: Vec<_> = (0..10u64)
            .map(|i| {
                move || {
                    // The later tasks finish first.
                    std::thread::sleep(std::time::Duration::from_millis(10 - i));
                    Ok(i * i)
                }
            })
            .collect();
        let results: Vec<u64> = run_all(tasks).unwrap();
        assert_eq!(results, (0..10).map(|i| i * i).collect::<Vec<_>>());
    }

    #[test]
    fn tasks_run_at_once_so_they_can_wait_for_each_other() {
        // Every task waits until all have started: with fewer threads than tasks this hangs.
        let tasks = 24;
        let barrier = Arc::new(Barrier::new(tasks));
        let work: Vec<_> = (0..tasks)
            .map(|i| {
                let barrier = Arc::clone(&barrier);
                move || {
                    barrier.wait();
                    Ok(i)
                }
            })
            .collect();
        let results: Vec<usize> = run_all(work).unwrap();
        assert_eq!(results, (0..tasks).collect::<Vec<_>>());
    }

    #[test]
    fn tasks_may_start_tasks() {
        let outer: Vec<_> = (0..3u32)
            .map(|i| {
                move || {
                    let inner: Vec<_> = (0..3u32).map(|j| move || Ok(i * 10 + j)).collect();
                    Ok(run_all(inner)?.into_iter().sum::<u32>())
                }
            })
            .collect();
        let sums: Vec<u32> = run_all(outer).unwrap();
        assert_eq!(sums, vec![3, 33, 63]);
    }

    #[test]
    fn a_panicking_task_is_an_internal_error_after_every_task_ended() {
        let finished = Arc::new(AtomicUsize::new(0));
        let counted = |pause: u64| {
            let finished = Arc::clone(&finished);
            Box::new(move || {
                std::thread::sleep(std::time::Duration::from_millis(pause));
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(1u8)
            }) as Box<dyn FnOnce() -> Result<u8> + Send>
        };
        let tasks = vec![counted(0), Box::new(|| panic!("boom")), counted(30)];
        let result = run_all(tasks);
        assert!(matches!(&result, Err(EngineError::Internal(m)) if m.contains("panicked")));
        // The slow task had ended before the error came back.
        assert_eq!(finished.load(Ordering::SeqCst), 2);
        // The threads still run work afterwards.
        assert_eq!(run_all(vec![|| Ok(7u8)]).unwrap(), vec![7]);
    }

    #[test]
    fn threads_are_reused() {
        let id = || Ok(std::thread::current().id());
        // A thread parks right after handing its result over, so most of these find one
        // parked (other tests running at the same time may take some).
        let ids: Vec<_> = (0..50)
            .map(|_| run_all(vec![id]).unwrap().pop().unwrap())
            .collect();
        assert!(ids.iter().all(|i| *i != std::thread::current().id()));
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert!(
            distinct.len() < ids.len(),
            "{} threads for {} tasks",
            distinct.len(),
            ids.len()
        );
    }
}
