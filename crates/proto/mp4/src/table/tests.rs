use super::*;

fn runs(entries: &[(u32, u32)]) -> Vec<ChunkRun> {
    entries
        .iter()
        .map(|&(first_chunk, per_chunk)| ChunkRun {
            first_chunk,
            per_chunk,
        })
        .collect()
}

#[test]
fn addressed_samples_follows_stsc_runs_within_stco() {
    assert_eq!(addressed_samples(&runs(&[(1, 2), (3, 1)]), 5), 2 * 2 + 3);
    // Runs starting past the last chunk address nothing.
    assert_eq!(addressed_samples(&runs(&[(1, 2), (9, 100)]), 5), 10);
    let max = u64::from(u32::MAX);
    assert_eq!(addressed_samples(&runs(&[(1, u32::MAX)]), max), max * max);
    assert_eq!(addressed_samples(&[], 5), 0);
}

fn table(stsc: &[(u32, u32)], chunks: &[u64], sizes: &[u32]) -> SampleTable {
    SampleTable {
        count: sizes.len() as u32,
        stts: vec![Run {
            count: sizes.len() as u32,
            value: 10,
        }],
        ctts: vec![
            Run { count: 1, value: 5 },
            Run {
                count: 2,
                value: -5,
            },
        ],
        sync: Some(vec![2]),
        stsc: runs(stsc),
        sizes: Sizes::Table(sizes.to_vec()),
        chunks: chunks.to_vec(),
        min_composition_offset: -5,
        max_description_index: 1,
    }
}

#[test]
fn walker_expands_runs_and_skips_empty_chunks() {
    let t = table(
        &[(1, 1), (2, 0), (4, 2)],
        &[100, 200, 300, 400, 500],
        &[1, 2, 3, 4, 5],
    );
    let got: Vec<(u64, u64, i32, bool)> = Walker::new(&t)
        .map(|s| (s.offset, s.dts, s.composition_offset, s.sync))
        .collect();
    assert_eq!(
        got,
        vec![
            (100, 0, 5, false),
            (400, 10, -5, true),
            (402, 20, -5, false),
            (500, 30, 0, false),
            (504, 40, 0, false),
        ]
    );
}

#[test]
fn walker_ends_instead_of_panicking_on_inconsistent_tables() {
    // More samples than the chunks hold (parse would have refused this).
    let t = table(&[(1, 1)], &[100], &[1, 2]);
    assert_eq!(Walker::new(&t).count(), 1);
    let t = table(&[(1, 1)], &[u64::MAX], &[1]);
    assert_eq!(Walker::new(&t).count(), 0);
}
