//! Time to compute contributions from a 100,000-entry journal (one update per keystroke).
use shared::trace::Tally;
use shared::{BoardKind, Lang, Roots};
use std::time::Instant;
use yrs::{Doc, Text, Transact};

fn main() {
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    let mut journal = vec![shared::doc::initial_update(
        BoardKind::Diagnosis,
        "D",
        Lang::Fr,
    )];
    {
        let mut txn = doc.transact_mut();
        yrs::updates::decoder::Decode::decode_v1(&journal[0])
            .map(|u| txn.apply_update(u))
            .unwrap()
            .unwrap();
    }
    let entries = 100_000;
    for i in 0..entries {
        let mut txn = doc.transact_mut();
        if i % 50 == 0 {
            roots.add_note(&mut txn, &format!("n{i}"), "s1", "", "#fff", "p");
        } else {
            let note = format!("n{}", i - i % 50);
            let text = shared::doc::child_text(&roots.notes, &txn, &note, "text").unwrap();
            text.insert(&mut txn, 0, "a");
        }
        journal.push(txn.encode_update_v1());
    }
    let start = Instant::now();
    let mut tally = Tally::new();
    for (i, update) in journal.iter().enumerate() {
        tally.apply(if i % 3 == 0 { "a" } else { "b" }, update);
    }
    let elapsed = start.elapsed();
    let total: u64 = tally.counts().values().map(|c| c.chars_written).sum();
    println!(
        "{} entries tallied in {:.2} s ({:.1} µs/entry); chars {}",
        journal.len(),
        elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / journal.len() as f64,
        total
    );
}
