//! Waiting on a condition, for tests that watch another task's progress through a counter or a
//! flag: one poll loop with a deadline instead of a copy in every test.

use std::time::Duration;

/// How often the condition is looked at.
const POLL: Duration = Duration::from_millis(5);

/// Waits until `condition` holds, for at most `within` on tokio's clock (so a test on paused
/// time waits on its virtual clock); panics with `what` when it does not.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
///
/// let done = std::sync::Arc::new(AtomicUsize::new(0));
/// let counted = done.clone();
/// tokio::spawn(async move { counted.fetch_add(1, Ordering::SeqCst) });
/// turnstile_testkit::wait_until(Duration::from_secs(5), "the task ran", || {
///     done.load(Ordering::SeqCst) == 1
/// })
/// .await;
/// # });
/// ```
pub async fn wait_until(within: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} (waited {within:?})"
        );
        tokio::time::sleep(POLL).await;
    }
}
