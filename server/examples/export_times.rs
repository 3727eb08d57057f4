//! Times every export of a 2,000-node mind map, a 300-note canvas and a 100-project portfolio,
//! each built from 2,000 / 300 / 100 journal entries of three participants, and the same with
//! the journal grown to 100,000 entries (each a keystroke). Run in release:
//! `cargo run --release -p nouage-server --example export_times`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use server::export::{Format, export};
use server::store::{Actor, Append, BoardId, BoardRecord, MemoryStore, NewEntry, Store};
use server::tokens::BoardTokens;
use shared::portfolio::Project;
use shared::{BoardKind, Lang, OrgKind, Roots};
use yrs::updates::decoder::Decode;
use yrs::{Doc, Text, Transact, Update};

fn actor(i: usize) -> Arc<Actor> {
    let names = ["Anne", "Bruno", "Zoé"];
    let orgs = ["Commune de Lodève", "Communauté de communes", "Vélo Vert"];
    Arc::new(Actor {
        pid: format!("p{}", i % 3),
        name: names[i % 3].into(),
        org: orgs[i % 3].into(),
        org_kind: Some([OrgKind::Commune, OrgKind::Epci, OrgKind::Association][i % 3]),
    })
}

/// A board in a memory store whose journal holds one entry per call of `edit`.
struct Builder {
    store: MemoryStore,
    record: BoardRecord,
    doc: Doc,
    roots: Roots,
    seq: u64,
}

impl Builder {
    fn new(kind: BoardKind, title: &str) -> Self {
        let store = MemoryStore::default();
        let record = BoardRecord {
            id: BoardId::new_random(),
            kind,
            title: title.into(),
            lang: Lang::Fr,
            created_ms: 1_790_000_000_000,
            token_hashes: BoardTokens::generate().hashes(),
        };
        let initial = shared::doc::initial_update(kind, title, Lang::Fr);
        store.create_board(&record, &initial).unwrap();
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(Update::decode_v1(&initial).unwrap())
            .unwrap();
        let roots = Roots::new(&doc);
        Builder {
            store,
            record,
            doc,
            roots,
            seq: 1,
        }
    }

    fn edit(&mut self, i: usize, f: impl FnOnce(&Roots, &mut yrs::TransactionMut)) {
        let update = {
            let mut txn = self.doc.transact_mut();
            f(&self.roots, &mut txn);
            txn.encode_update_v1()
        };
        self.seq += 1;
        self.store
            .append(&[Append::new(
                &self.record.id,
                vec![NewEntry {
                    ts_ms: 1_790_000_000_000 + self.seq as i64 * 1_000,
                    actor: actor(i),
                    update_v1: Bytes::from(update),
                }],
            )])
            .unwrap();
    }

    fn time(&self, label: &str) {
        for format in Format::ALL.into_iter().filter(|f| f.fits(self.record.kind)) {
            let started = Instant::now();
            let bytes = export(
                &self.store,
                &self.record,
                format,
                None,
                std::time::Duration::from_secs(600),
                &server::pressure::Cancel::default(),
                false,
            )
            .unwrap();
            println!(
                "{label:<40} {:<11} {:>8.1} ms {:>10} bytes",
                format.as_str(),
                started.elapsed().as_secs_f64() * 1_000.0,
                bytes.len()
            );
        }
    }
}

fn main() {
    let mut map = Builder::new(BoardKind::MindMap, "Projet de territoire");
    for i in 0..1_999 {
        map.edit(i, |roots, txn| roots.add_sample_node(txn, i));
    }
    map.time("mind map, 2,000 nodes, 2,000 entries");

    let mut canvas = Builder::new(BoardKind::Diagnosis, "Diagnostic partagé");
    for i in 0..300 {
        canvas.edit(i, |roots, txn| {
            roots.add_note(
                txn,
                &format!("n{i}"),
                &format!("s{}", i % 7 + 1),
                &format!(
                    "Constat n°{i} : les déplacements domicile-travail pèsent sur les ménages"
                ),
                "",
                "",
            )
        });
    }
    canvas.time("canvas, 300 notes, 300 entries");

    let mut portfolio = Builder::new(BoardKind::Portfolio, "Projets");
    for i in 0..100 {
        let project = Project {
            id: format!("p{i}"),
            title: format!("Projet n°{i} : tiers-lieu numérique"),
            description: "Un lieu partagé, ouvert aux associations et aux entreprises. ".repeat(3),
            stage: shared::portfolio::STAGES[i % 6].into(),
            lead: "Commune de Lodève".into(),
            partners: vec!["Région".into(), "Département".into()],
            ..Project::default()
        };
        portfolio.edit(i, |roots, txn| {
            roots.add_project(txn, &project.id, &project)
        });
    }
    portfolio.time("portfolio, 100 projects, 100 entries");

    // Months of editing: 98,000 more entries, each one keystroke in a node's text.
    for i in 0..98_000 {
        map.edit(i, |roots, txn| {
            let text =
                shared::doc::child_text(&roots.nodes, txn, &format!("n{}", i % 1_999), "text")
                    .unwrap();
            text.push(txn, "·");
        });
    }
    map.time("mind map, 2,000 nodes, 100,000 entries");
}
