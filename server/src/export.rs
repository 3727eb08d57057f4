//! Exports of a board's document. More formats arrive with the export issue.

use shared::BoardKind;
use shared::doc::{
    ROOT_LINKS, ROOT_META, ROOT_NODES, ROOT_NOTES, ROOT_PARTICIPANTS, ROOT_PROJECTS, ROOT_SECTIONS,
    ROOT_VOTING,
};
use yrs::types::ToJson;
use yrs::{Doc, Transact};

/// The CONTRACT root maps of a board of `kind`, as JSON (Y.Text as strings).
pub fn document_json(doc: &Doc, kind: BoardKind) -> serde_json::Value {
    let kind_roots: &[&str] = match kind {
        BoardKind::MindMap => &[ROOT_NODES],
        BoardKind::Diagnosis => &[ROOT_SECTIONS, ROOT_NOTES, ROOT_LINKS, ROOT_VOTING],
        BoardKind::Portfolio => &[ROOT_PROJECTS],
    };
    // Root types must be named (and typed) before a transaction opens: an update alone does
    // not say whether a root is a map, an array or a text.
    let maps: Vec<(&str, yrs::MapRef)> = [ROOT_META, ROOT_PARTICIPANTS]
        .iter()
        .chain(kind_roots)
        .map(|name| (*name, doc.get_or_insert_map(*name)))
        .collect();
    let txn = doc.transact();
    let roots = maps
        .into_iter()
        .map(|(name, map)| {
            let json = serde_json::to_value(map.to_json(&txn)).unwrap_or(serde_json::Value::Null);
            (name.to_owned(), json)
        })
        .collect();
    serde_json::Value::Object(roots)
}
