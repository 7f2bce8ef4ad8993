//! The in-memory test store obeys the same contract as the real ones.

use baton_engine::testing::MemoryStore;

async fn fresh() -> MemoryStore {
    MemoryStore::new()
}

baton_store_conformance::conformance_tests!(fresh);
