//! The random generator that burn's CPU backend shares across the process, as tests hold it.

/// burn's CPU backend draws every random number (initial weights, dropout masks, random
/// tensors) from one generator for the whole process, while the test harness runs tests on
/// parallel threads. A test that seeds and trains, or that draws at all, holds this for its
/// whole run: otherwise another test's draws land between its own, and a tiny model trained
/// for a few epochs comes out differently from run to run.
pub(crate) fn exclusive_random() -> std::sync::MutexGuard<'static, ()> {
    static RANDOM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test poisons the lock; the generator it guards is reseeded by the next holder.
    RANDOM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
