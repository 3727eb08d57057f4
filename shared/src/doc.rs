//! The document shape of a board (CONTRACT.md), as typed Rust over a yrs `Doc`.
//!
//! Writers take a `TransactionMut` so callers group edits and choose the transaction origin;
//! readers take any `ReadTxn` and tolerate documents written by other clients: a field of the
//! wrong type reads as absent rather than failing, because the relay does not police content.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use yrs::types::ToJson;
use yrs::{
    Any, Doc, GetString, Map, MapPrelim, MapRef, Out, ReadTxn, StateVector, Text, TextPrelim,
    TextRef, Transact, TransactionMut,
};

use crate::board::{BoardKind, Lang, OrgKind};
use crate::proxy::Represented;
use crate::template;

pub const ROOT_META: &str = "meta";
pub const ROOT_PARTICIPANTS: &str = "participants";
pub const ROOT_NODES: &str = "nodes";
pub const ROOT_SECTIONS: &str = "sections";
pub const ROOT_NOTES: &str = "notes";
pub const ROOT_LINKS: &str = "links";
pub const ROOT_VOTING: &str = "voting";
pub const ROOT_PROJECTS: &str = "projects";

/// The id of a mind map's central topic.
pub const CENTRAL_NODE_ID: &str = "root";
/// Version of the document shape written in `meta.schema`.
pub const SCHEMA_VERSION: i64 = 1;
/// Votes per participant offered when a canvas is created.
pub const DEFAULT_VOTES_PER_PARTICIPANT: i64 = 5;

/// A participant as recorded in the `participants` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub name: String,
    pub color: String,
    pub org: String,
    pub org_kind: Option<OrgKind>,
}

/// A mind map node as read from the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub text: String,
    pub parent: Option<String>,
    pub order: f64,
    pub collapsed: bool,
    pub color: Option<String>,
    pub author: String,
    /// Locked by the facilitator: the web app lets only the facilitator change it.
    pub locked: bool,
    /// The person it was entered for (proxy entry), as the document says.
    pub on_behalf_of: Option<Represented>,
}

/// A diagnosis section as read from the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub hint: String,
    pub order: f64,
}

/// A diagnosis note as read from the document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Note {
    pub id: String,
    pub section: String,
    pub text: String,
    pub color: String,
    pub author: String,
    pub votes: BTreeMap<String, i64>,
    /// Locked by the facilitator: the web app lets only the facilitator change it.
    pub locked: bool,
    /// The person it was entered for (proxy entry), as the document says.
    pub on_behalf_of: Option<Represented>,
    /// The heading note it is grouped under (see `path`).
    pub grouped_under: Option<String>,
    /// The facilitator's decision: kept or set aside.
    pub decision: Option<crate::path::Decision>,
    /// The project it became.
    pub project: Option<crate::path::ProjectLink>,
}

/// What a board's `meta` map says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub kind: Option<BoardKind>,
    pub title: String,
    pub lang: Option<Lang>,
    pub schema: Option<i64>,
}

/// Builds the initial document of a new board and returns it as one v1 update.
///
/// The server stores this update when the board is created; it is never rebuilt on load, so
/// every client starts from the same items (rebuilding would create duplicate, conflicting
/// items under a new client id).
pub fn initial_update(kind: BoardKind, title: &str, lang: Lang) -> Vec<u8> {
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    let mut txn = doc.transact_mut();
    write_initial(&roots, &mut txn, kind, title, lang);
    txn.encode_update_v1()
}

/// Handles on the root types of a board. Root types must be fetched before a transaction is
/// opened (yrs takes its own write transaction to create them).
#[derive(Clone)]
pub struct Roots {
    pub meta: MapRef,
    pub participants: MapRef,
    pub nodes: MapRef,
    pub sections: MapRef,
    pub notes: MapRef,
    pub links: MapRef,
    pub voting: MapRef,
    pub projects: MapRef,
    /// Reactions on nodes, notes and projects (see `reactions`).
    pub reactions: MapRef,
}

impl Roots {
    pub fn new(doc: &Doc) -> Self {
        Roots {
            meta: doc.get_or_insert_map(ROOT_META),
            participants: doc.get_or_insert_map(ROOT_PARTICIPANTS),
            nodes: doc.get_or_insert_map(ROOT_NODES),
            sections: doc.get_or_insert_map(ROOT_SECTIONS),
            notes: doc.get_or_insert_map(ROOT_NOTES),
            links: doc.get_or_insert_map(ROOT_LINKS),
            voting: doc.get_or_insert_map(ROOT_VOTING),
            projects: doc.get_or_insert_map(ROOT_PROJECTS),
            reactions: doc.get_or_insert_map(crate::reactions::ROOT_REACTIONS),
        }
    }

    pub fn meta<T: ReadTxn>(&self, txn: &T) -> Meta {
        Meta {
            kind: get_string(&self.meta, txn, "kind").and_then(|k| k.parse().ok()),
            title: get_string(&self.meta, txn, "title").unwrap_or_default(),
            lang: get_string(&self.meta, txn, "lang").and_then(|l| l.parse().ok()),
            schema: get_number(&self.meta, txn, "schema").map(|n| n as i64),
        }
    }

    /// Records a participant unless the document already has an entry for `pid`. Returns
    /// whether it wrote anything.
    pub fn add_participant(
        &self,
        txn: &mut TransactionMut,
        pid: &str,
        participant: &Participant,
    ) -> bool {
        if self.participants.get(txn, pid).is_some() {
            return false;
        }
        self.set_participant(txn, pid, participant);
        true
    }

    /// Writes `pid`'s entry in `participants`, replacing any (the server's pseudonyms and
    /// erasure).
    pub fn set_participant(&self, txn: &mut TransactionMut, pid: &str, participant: &Participant) {
        let mut fields = HashMap::new();
        fields.insert("name".to_owned(), Any::from(participant.name.as_str()));
        fields.insert("color".to_owned(), Any::from(participant.color.as_str()));
        fields.insert("org".to_owned(), Any::from(participant.org.as_str()));
        let org_kind = participant.org_kind.map(OrgKind::as_str).unwrap_or("");
        fields.insert("orgKind".to_owned(), Any::from(org_kind));
        self.participants
            .insert(txn, pid, Any::Map(Arc::new(fields)));
    }

    pub fn participants<T: ReadTxn>(&self, txn: &T) -> BTreeMap<String, Participant> {
        self.participants
            .iter(txn)
            .filter_map(|(pid, value)| {
                let Any::Map(fields) = value.to_json(txn) else {
                    return None;
                };
                let text = |key: &str| match fields.get(key) {
                    Some(Any::String(s)) => s.to_string(),
                    _ => String::new(),
                };
                let participant = Participant {
                    name: text("name"),
                    color: text("color"),
                    org: text("org"),
                    org_kind: text("orgKind").parse().ok(),
                };
                Some((pid.to_owned(), participant))
            })
            .collect()
    }

    /// Adds a mind map node. `order` places it among its siblings.
    pub fn add_node(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        parent: Option<&str>,
        order: f64,
        text: &str,
        author: &str,
    ) {
        let node = self.nodes.insert(txn, id, MapPrelim::default());
        node.insert(txn, "text", TextPrelim::new(text));
        node.insert(txn, "parent", parent.map(Any::from).unwrap_or(Any::Null));
        node.insert(txn, "order", order);
        node.insert(txn, "collapsed", false);
        node.insert(txn, "author", author);
    }

    /// Adds node `n{i}` of a sample map: twelve main branches under the root, then four
    /// children under each node in turn. Benchmarks, examples and tests build large maps with it.
    pub fn add_sample_node(&self, txn: &mut TransactionMut, i: usize) {
        let parent = if i < 12 {
            "root".to_owned()
        } else {
            format!("n{}", (i - 12) / 4)
        };
        let text = format!("Idée n°{i} : mobilité, santé, élu·es");
        self.add_node(txn, &format!("n{i}"), Some(&parent), i as f64, &text, "");
    }

    /// Marks the node, note or project `id` as entered for `person` (proxy entry). The record
    /// honours it only in the transaction that creates the element.
    pub fn mark_entered_for(&self, txn: &mut TransactionMut, id: &str, person: &Represented) {
        for root in [&self.nodes, &self.notes, &self.projects] {
            if let Some(Out::YMap(element)) = root.get(txn, id) {
                person.mark(&element, txn);
                return;
            }
        }
    }

    /// Locks or unlocks an element (node, note or project) of `root`, one of this board's
    /// element maps. The lock is the facilitator's, kept by the web app (the relay does not
    /// police content).
    pub fn set_locked(&self, txn: &mut TransactionMut, root: &MapRef, id: &str, locked: bool) {
        if let Some(Out::YMap(element)) = root.get(txn, id) {
            element.insert(txn, "locked", locked);
        }
    }

    pub fn nodes<T: ReadTxn>(&self, txn: &T) -> Vec<Node> {
        let mut nodes: Vec<Node> = self
            .nodes
            .iter(txn)
            .filter_map(|(id, value)| {
                let Out::YMap(node) = value else { return None };
                Some(Node {
                    id: id.to_owned(),
                    text: get_text(&node, txn, "text"),
                    parent: get_string(&node, txn, "parent"),
                    order: get_number(&node, txn, "order").unwrap_or(0.0),
                    collapsed: get_bool(&node, txn, "collapsed"),
                    color: get_string(&node, txn, "color"),
                    author: get_string(&node, txn, "author").unwrap_or_default(),
                    locked: get_bool(&node, txn, "locked"),
                    on_behalf_of: Represented::of(&node, txn),
                })
            })
            .collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        nodes
    }

    pub fn sections<T: ReadTxn>(&self, txn: &T) -> Vec<Section> {
        let mut sections: Vec<Section> = self
            .sections
            .iter(txn)
            .filter_map(|(id, value)| {
                let Out::YMap(section) = value else {
                    return None;
                };
                Some(Section {
                    id: id.to_owned(),
                    title: get_string(&section, txn, "title").unwrap_or_default(),
                    hint: get_string(&section, txn, "hint").unwrap_or_default(),
                    order: get_number(&section, txn, "order").unwrap_or(0.0),
                })
            })
            .collect();
        sections.sort_by(|a, b| a.order.total_cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        sections
    }

    /// Adds a note to a section of a diagnosis canvas.
    pub fn add_note(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        section: &str,
        text: &str,
        color: &str,
        author: &str,
    ) {
        let note = self.notes.insert(txn, id, MapPrelim::default());
        note.insert(txn, "section", section);
        note.insert(txn, "text", TextPrelim::new(text));
        note.insert(txn, "color", color);
        note.insert(txn, "author", author);
        note.insert(txn, "votes", MapPrelim::default());
    }

    /// Moves a note to another section. Concurrent moves of one note resolve to one of the
    /// sections (last writer wins on the `section` key): the note is never duplicated or lost.
    pub fn move_note(&self, txn: &mut TransactionMut, id: &str, section: &str) -> bool {
        let Some(Out::YMap(note)) = self.notes.get(txn, id) else {
            return false;
        };
        note.insert(txn, "section", section);
        true
    }

    pub fn notes<T: ReadTxn>(&self, txn: &T) -> Vec<Note> {
        let mut notes: Vec<Note> = self
            .notes
            .iter(txn)
            .filter_map(|(id, value)| {
                let Out::YMap(note) = value else { return None };
                let votes = match note.get(txn, "votes") {
                    Some(Out::YMap(votes)) => votes
                        .iter(txn)
                        .filter_map(|(pid, v)| match v {
                            Out::Any(Any::Number(n)) => Some((pid.to_owned(), n.as_i64()?)),
                            _ => None,
                        })
                        .collect(),
                    _ => BTreeMap::new(),
                };
                let (grouped_under, decision, project) = crate::path::read(&note, txn);
                Some(Note {
                    id: id.to_owned(),
                    section: get_string(&note, txn, "section").unwrap_or_default(),
                    text: get_text(&note, txn, "text"),
                    color: get_string(&note, txn, "color").unwrap_or_default(),
                    author: get_string(&note, txn, "author").unwrap_or_default(),
                    votes,
                    locked: get_bool(&note, txn, "locked"),
                    on_behalf_of: Represented::of(&note, txn),
                    grouped_under,
                    decision,
                    project,
                })
            })
            .collect();
        notes.sort_by(|a, b| a.id.cmp(&b.id));
        notes
    }
}

fn write_initial(
    roots: &Roots,
    txn: &mut TransactionMut,
    kind: BoardKind,
    title: &str,
    lang: Lang,
) {
    roots.meta.insert(txn, "kind", kind.as_str());
    roots.meta.insert(txn, "title", title);
    roots.meta.insert(txn, "lang", lang.as_str());
    roots.meta.insert(txn, "schema", SCHEMA_VERSION as f64);
    match kind {
        BoardKind::MindMap => {
            roots.add_node(txn, CENTRAL_NODE_ID, None, 0.0, title, "");
        }
        BoardKind::Diagnosis => {
            for (index, section) in template::diagnosis_sections(lang).iter().enumerate() {
                let map = roots.sections.insert(txn, section.id, MapPrelim::default());
                map.insert(txn, "title", section.title);
                map.insert(txn, "hint", section.hint);
                map.insert(txn, "order", index as f64);
            }
            roots.voting.insert(txn, "open", false);
            roots
                .voting
                .insert(txn, "perParticipant", DEFAULT_VOTES_PER_PARTICIPANT as f64);
            roots.voting.insert(txn, "hidden", false);
        }
        BoardKind::Portfolio => {}
    }
}

/// The mind map as a tree, resolved the way CONTRACT.md says every client must show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// Children of each node id, sorted by (`order`, id).
    pub children: BTreeMap<String, Vec<String>>,
}

impl Tree {
    /// Resolves parents: a node whose parent is missing, `null` (other than `root`) or on a
    /// cycle hangs under `root`.
    pub fn resolve(nodes: &[Node]) -> Tree {
        // Run on every change of a mind map in the browser: hashed with Fx, no allocation per
        // node but the tree's own strings (2,000 nodes took 11 ms per change in wasm with the
        // standard hasher, a set per node and lookups in the sort).
        use rustc_hash::{FxHashMap, FxHashSet};
        let by_id: FxHashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut effective_parent: FxHashMap<&str, &str> = FxHashMap::default();
        effective_parent.reserve(nodes.len());
        for node in nodes {
            if node.id == CENTRAL_NODE_ID {
                continue;
            }
            let parent = node
                .parent
                .as_deref()
                .filter(|p| by_id.contains_key(p) && *p != node.id)
                .unwrap_or(CENTRAL_NODE_ID);
            effective_parent.insert(node.id.as_str(), parent);
        }
        // A node whose chain of parents never reaches `root` lies on (or under) a cycle; each
        // cycle is broken by hanging the member with the smallest id under `root`.
        let mut reaches_root: FxHashSet<&str> = FxHashSet::default();
        reaches_root.insert(CENTRAL_NODE_ID);
        let mut ids: Vec<&str> = effective_parent.keys().copied().collect();
        ids.sort_unstable();
        let mut path: Vec<&str> = Vec::new();
        let mut on_path: FxHashSet<&str> = FxHashSet::default();
        for &start in &ids {
            path.clear();
            on_path.clear();
            let mut current = start;
            while !reaches_root.contains(current) {
                if !on_path.insert(current) {
                    let cycle_start = path.iter().position(|&n| n == current).unwrap();
                    let breaker = *path[cycle_start..].iter().min().unwrap();
                    effective_parent.insert(breaker, CENTRAL_NODE_ID);
                    break;
                }
                path.push(current);
                current = effective_parent[current];
            }
            // Every node on the path now reaches root, directly or through the broken link.
            reaches_root.extend(path.iter().copied());
        }
        let mut siblings: FxHashMap<&str, Vec<(f64, &str)>> = FxHashMap::default();
        for (&child, &parent) in &effective_parent {
            siblings
                .entry(parent)
                .or_default()
                .push((by_id[child].order, child));
        }
        let children = siblings
            .into_iter()
            .map(|(parent, mut kids)| {
                kids.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(b.1)));
                let kids = kids.into_iter().map(|(_, id)| id.to_owned()).collect();
                (parent.to_owned(), kids)
            })
            .collect();
        Tree { children }
    }

    pub fn children_of(&self, id: &str) -> &[String] {
        self.children.get(id).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The `Y.Text` under `key` of the child map `id` of `parent` (a node, note or project).
pub fn child_text<T: ReadTxn>(parent: &MapRef, txn: &T, id: &str, key: &str) -> Option<TextRef> {
    match parent.get(txn, id)? {
        Out::YMap(child) => match child.get(txn, key)? {
            Out::YText(text) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// Rewrites a `Y.Text` to `new` with the smallest change, so that two people typing in the
/// same text merge character by character instead of overwriting each other.
pub fn edit_text(txn: &mut TransactionMut, text: &TextRef, new: &str) {
    let old = text.get_string(txn);
    if let Some(change) = crate::text::text_change(&old, new) {
        if change.delete_len > 0 {
            text.remove_range(txn, change.index as u32, change.delete_len as u32);
        }
        if !change.insert.is_empty() {
            text.insert(txn, change.index as u32, &change.insert);
        }
    }
}

/// Encodes what a peer at `state_vector` lacks; used for sync step 2 answers.
pub fn encode_diff<T: ReadTxn>(txn: &T, state_vector: &StateVector) -> Vec<u8> {
    txn.encode_diff_v1(state_vector)
}

pub(crate) fn get_string<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> Option<String> {
    match map.get(txn, key) {
        Some(Out::Any(Any::String(s))) => Some(s.to_string()),
        _ => None,
    }
}

/// A boolean field; anything but `true` reads as false.
pub(crate) fn get_bool<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> bool {
    matches!(map.get(txn, key), Some(Out::Any(Any::Bool(true))))
}

pub(crate) fn get_number<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> Option<f64> {
    match map.get(txn, key) {
        Some(Out::Any(Any::Number(n))) => n.as_f64(),
        _ => None,
    }
}

pub(crate) fn get_text<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> String {
    match map.get(txn, key) {
        Some(Out::YText(text)) => text.get_string(txn),
        Some(Out::Any(Any::String(s))) => s.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::Update;
    use yrs::updates::decoder::Decode;

    fn doc_from(update: &[u8]) -> (Doc, Roots) {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        doc.transact_mut()
            .apply_update(Update::decode_v1(update).unwrap())
            .unwrap();
        (doc, roots)
    }

    #[test]
    fn a_new_mind_map_holds_its_central_topic() {
        let (doc, roots) = doc_from(&initial_update(BoardKind::MindMap, "Mobilités", Lang::Fr));
        let txn = doc.transact();
        let meta = roots.meta(&txn);
        assert_eq!(meta.kind, Some(BoardKind::MindMap));
        assert_eq!(meta.title, "Mobilités");
        assert_eq!(meta.schema, Some(SCHEMA_VERSION));
        let nodes = roots.nodes(&txn);
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].id, CENTRAL_NODE_ID);
        assert_eq!(nodes[0].text, "Mobilités");
        assert_eq!(nodes[0].parent, None);
    }

    #[test]
    fn a_new_canvas_holds_the_seven_template_sections_in_its_language() {
        for (lang, first_title) in [(Lang::Fr, "Territoire"), (Lang::En, "Territory")] {
            let (doc, roots) = doc_from(&initial_update(BoardKind::Diagnosis, "Diag", lang));
            let txn = doc.transact();
            let sections = roots.sections(&txn);
            let ids: Vec<&str> = sections.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, ["s1", "s2", "s3", "s4", "s5", "s6", "s7"]);
            assert_eq!(sections[0].title, first_title);
            assert!(sections.iter().all(|s| !s.hint.is_empty()));
            assert!(roots.notes(&txn).is_empty());
        }
    }

    #[test]
    fn a_new_portfolio_has_no_projects() {
        let (doc, roots) = doc_from(&initial_update(BoardKind::Portfolio, "P", Lang::En));
        assert!(roots.projects(&doc.transact()).is_empty());
    }

    #[test]
    fn participants_are_written_once() {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let first = Participant {
            name: "Anne".into(),
            color: "#e11d48".into(),
            org: "Commune de Baie-Saint-Paul".into(),
            org_kind: Some(OrgKind::Commune),
        };
        let renamed = Participant {
            name: "Anne B.".into(),
            ..first.clone()
        };
        let mut txn = doc.transact_mut();
        assert!(roots.add_participant(&mut txn, "p1", &first));
        assert!(!roots.add_participant(&mut txn, "p1", &renamed));
        assert_eq!(roots.participants(&txn)["p1"], first);
    }

    fn node(id: &str, parent: Option<&str>, order: f64) -> Node {
        Node {
            id: id.into(),
            text: String::new(),
            parent: parent.map(Into::into),
            order,
            collapsed: false,
            color: None,
            author: String::new(),
            locked: false,
            on_behalf_of: None,
        }
    }

    use std::collections::HashSet;

    /// The first, plain version of `Tree::resolve`, kept to check the faster one against.
    fn resolve_reference(nodes: &[Node]) -> BTreeMap<String, Vec<String>> {
        let by_id: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let mut effective_parent: HashMap<&str, &str> = HashMap::new();
        for node in nodes {
            if node.id == CENTRAL_NODE_ID {
                continue;
            }
            let parent = node
                .parent
                .as_deref()
                .filter(|p| by_id.contains_key(p) && *p != node.id)
                .unwrap_or(CENTRAL_NODE_ID);
            effective_parent.insert(node.id.as_str(), parent);
        }
        // A node whose chain of parents never reaches `root` lies on (or under) a cycle; each
        // cycle is broken by hanging the member with the smallest id under `root`.
        let mut reaches_root: HashSet<&str> = HashSet::from([CENTRAL_NODE_ID]);
        let mut ids: Vec<&str> = effective_parent.keys().copied().collect();
        ids.sort_unstable();
        for &start in &ids {
            let mut path: Vec<&str> = Vec::new();
            let mut on_path: HashSet<&str> = HashSet::new();
            let mut current = start;
            while !reaches_root.contains(current) {
                if !on_path.insert(current) {
                    let cycle_start = path.iter().position(|&n| n == current).unwrap();
                    let breaker = *path[cycle_start..].iter().min().unwrap();
                    effective_parent.insert(breaker, CENTRAL_NODE_ID);
                    break;
                }
                path.push(current);
                current = effective_parent[current];
            }
            // Every node on the path now reaches root, directly or through the broken link.
            reaches_root.extend(path);
        }
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (child, parent) in &effective_parent {
            children
                .entry((*parent).to_owned())
                .or_default()
                .push((*child).to_owned());
        }
        for siblings in children.values_mut() {
            siblings.sort_by(|a, b| {
                let (na, nb) = (by_id[a.as_str()], by_id[b.as_str()]);
                na.order.total_cmp(&nb.order).then_with(|| a.cmp(b))
            });
        }
        children
    }

    proptest::proptest! {
        /// Any parents at all (missing, null, self, cycles, shared orders): the fast resolve
        /// builds the same tree as the plain one.
        #[test]
        fn resolve_matches_the_plain_version(
            links in proptest::collection::vec((0usize..43, 0u8..4), 0..40)
        ) {
            let mut nodes = vec![node("root", None, 0.0)];
            for (i, (parent, order)) in links.iter().enumerate() {
                let parent = match parent {
                    40 => None,
                    41 => Some("root".to_owned()),
                    42 => Some("gone".to_owned()),
                    p => Some(format!("n{p}")),
                };
                nodes.push(node(&format!("n{i}"), parent.as_deref(), f64::from(*order)));
            }
            proptest::prop_assert_eq!(Tree::resolve(&nodes).children, resolve_reference(&nodes));
        }
    }

    #[test]
    fn the_tree_sorts_siblings_and_rehangs_orphans_and_cycles_under_root() {
        let nodes = vec![
            node("root", None, 0.0),
            node("b", Some("root"), 1.0),
            node("a", Some("root"), 1.0),
            node("c", Some("root"), 0.5),
            node("orphan", Some("gone"), 0.0),
            node("null", None, 9.0),
            node("x", Some("y"), 0.0),
            node("y", Some("x"), 1.0),
            node("self", Some("self"), 2.0),
        ];
        let tree = Tree::resolve(&nodes);
        assert_eq!(
            tree.children_of("root"),
            ["orphan", "x", "c", "a", "b", "self", "null"]
        );
        assert_eq!(tree.children_of("x"), ["y"]);
    }
}
