//! Import into a new board: the Yjs binary of any board (as `export?format=yjs` gives it), and
//! for mind maps FreeMind `.mm`, OPML and a Markdown outline. Every input is untrusted: the
//! parsers never panic the server, and sizes and node counts are bounded.

use std::panic::{AssertUnwindSafe, catch_unwind};

use resvg::usvg::roxmltree;
use shared::doc::{CENTRAL_NODE_ID, Roots, child_text, edit_text, initial_update};
use shared::{BoardKind, Lang};
use yrs::updates::decoder::Decode;
use yrs::{Doc, Map, ReadTxn, StateVector, Transact, Update};

/// A format accepted by `POST /api/boards/import?format=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    Yjs,
    Mm,
    Opml,
    Md,
}

impl ImportFormat {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "yjs" => ImportFormat::Yjs,
            "mm" => ImportFormat::Mm,
            "opml" => ImportFormat::Opml,
            "md" => ImportFormat::Md,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("the file is not valid {0}: {1}")]
    Invalid(&'static str, String),
    #[error("the file holds {0} nodes; at most {1} can be imported")]
    TooManyNodes(usize, usize),
    #[error("the Yjs state is not a Nouage board (its meta map names no kind)")]
    NotABoard,
    #[error("the Yjs state depends on updates it does not contain")]
    Incomplete,
    #[error("the outline is empty")]
    Empty,
}

/// What an import yields: the new board's kind, title, language and initial document.
#[derive(Debug)]
pub struct Imported {
    pub kind: BoardKind,
    pub title: String,
    pub lang: Lang,
    pub initial_update_v1: Vec<u8>,
}

/// An outline read from a file: a text and its children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outline {
    pub text: String,
    pub children: Vec<Outline>,
}

impl Outline {
    fn count(&self) -> usize {
        1 + self.children.iter().map(Outline::count).sum::<usize>()
    }
}

/// Reads `bytes` as `format`. `title` and `lang` are what the request asked for; a Yjs state
/// keeps its own kind and language, and its own title unless one is given.
pub fn import(
    format: ImportFormat,
    bytes: &[u8],
    title: Option<&str>,
    lang: Lang,
    max_nodes: usize,
) -> Result<Imported, ImportError> {
    if format == ImportFormat::Yjs {
        return import_yjs(bytes, title);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ImportError::Invalid("UTF-8 text", e.to_string()))?;
    let outline = match format {
        ImportFormat::Mm => parse_freemind(text)?,
        ImportFormat::Opml => parse_opml(text)?,
        ImportFormat::Md => parse_markdown(text, title)?,
        ImportFormat::Yjs => unreachable!("handled above"),
    };
    let count = outline.count();
    if count > max_nodes {
        return Err(ImportError::TooManyNodes(count, max_nodes));
    }
    let title = title
        .map(str::to_owned)
        .unwrap_or_else(|| outline.text.clone());
    Ok(Imported {
        kind: BoardKind::MindMap,
        initial_update_v1: mind_map_update(&outline, &title, lang),
        title,
        lang,
    })
}

/// A new mind map holding `outline`: its text on the central topic, its children below.
pub fn mind_map_update(outline: &Outline, title: &str, lang: Lang) -> Vec<u8> {
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    {
        let mut txn = doc.transact_mut();
        let initial = Update::decode_v1(&initial_update(BoardKind::MindMap, title, lang))
            .expect("the initial document decodes");
        txn.apply_update(initial)
            .expect("the initial document applies");
        if let Some(text) = child_text(&roots.nodes, &txn, CENTRAL_NODE_ID, "text") {
            edit_text(&mut txn, &text, &outline.text);
        }
        let mut stack: Vec<(String, &Outline)> = vec![(CENTRAL_NODE_ID.to_owned(), outline)];
        while let Some((id, node)) = stack.pop() {
            for (i, child) in node.children.iter().enumerate() {
                let child_id = uuid::Uuid::new_v4().simple().to_string();
                roots.add_node(
                    &mut txn,
                    &child_id,
                    Some(&id),
                    (i + 1) as f64,
                    &child.text,
                    "",
                );
                stack.push((child_id, child));
            }
        }
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

fn import_yjs(bytes: &[u8], title: Option<&str>) -> Result<Imported, ImportError> {
    let invalid = |e: String| ImportError::Invalid("Yjs binary state", e);
    let doc = Doc::new();
    let roots = Roots::new(&doc);
    // yrs 0.28 can panic on hostile input; the panic is caught and reported as invalid.
    let applied = catch_unwind(AssertUnwindSafe(|| -> Result<bool, String> {
        let update = Update::decode_v1(bytes).map_err(|e| e.to_string())?;
        let mut txn = doc.transact_mut();
        txn.apply_update(update).map_err(|e| e.to_string())?;
        Ok(txn.has_missing_updates())
    }));
    match applied {
        Err(_) => return Err(invalid("it could not be decoded".into())),
        Ok(Err(e)) => return Err(invalid(e)),
        Ok(Ok(true)) => return Err(ImportError::Incomplete),
        Ok(Ok(false)) => {}
    }
    let meta = roots.meta(&doc.transact());
    let kind = meta.kind.ok_or(ImportError::NotABoard)?;
    let lang = meta.lang.unwrap_or_default();
    let title = match title {
        Some(title) => {
            let mut txn = doc.transact_mut();
            roots.meta.insert(&mut txn, "title", title);
            title.to_owned()
        }
        None if meta.title.trim().is_empty() => "Import".to_owned(),
        None => meta.title,
    };
    let initial_update_v1 = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    Ok(Imported {
        kind,
        title,
        lang,
        initial_update_v1,
    })
}

fn xml<'a>(text: &'a str, what: &'static str) -> Result<roxmltree::Document<'a>, ImportError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..roxmltree::ParsingOptions::default()
    };
    roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| ImportError::Invalid(what, e.to_string()))
}

fn clean(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// FreeMind / Freeplane: `<map><node TEXT="...">` nested; rich-content nodes give their text.
pub fn parse_freemind(text: &str) -> Result<Outline, ImportError> {
    let doc = xml(text, "FreeMind map")?;
    let map = doc.root_element();
    if map.tag_name().name() != "map" {
        return Err(ImportError::Invalid(
            "FreeMind map",
            "the root element is not <map>".into(),
        ));
    }
    let root = map
        .children()
        .find(|n| n.has_tag_name("node"))
        .ok_or(ImportError::Empty)?;
    fn read(node: roxmltree::Node) -> Outline {
        let text = match node.attribute("TEXT") {
            Some(text) => clean(text),
            None => node
                .children()
                .filter(|c| c.has_tag_name("richcontent"))
                .flat_map(|c| c.descendants())
                .filter(|d| d.is_text())
                .filter_map(|d| d.text())
                .map(clean)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        };
        Outline {
            text,
            children: node
                .children()
                .filter(|c| c.has_tag_name("node"))
                .map(read)
                .collect(),
        }
    }
    Ok(read(root))
}

/// OPML: `<opml><body><outline text="...">` nested. One top outline is the central topic;
/// several hang under one named after the document's title.
pub fn parse_opml(text: &str) -> Result<Outline, ImportError> {
    let doc = xml(text, "OPML")?;
    let opml = doc.root_element();
    if opml.tag_name().name() != "opml" {
        return Err(ImportError::Invalid(
            "OPML",
            "the root element is not <opml>".into(),
        ));
    }
    fn read(node: roxmltree::Node) -> Outline {
        Outline {
            text: clean(
                node.attribute("text")
                    .or(node.attribute("title"))
                    .unwrap_or(""),
            ),
            children: node
                .children()
                .filter(|c| c.has_tag_name("outline"))
                .map(read)
                .collect(),
        }
    }
    let body = opml
        .children()
        .find(|n| n.has_tag_name("body"))
        .ok_or_else(|| ImportError::Invalid("OPML", "no <body>".into()))?;
    let mut tops: Vec<Outline> = body
        .children()
        .filter(|c| c.has_tag_name("outline"))
        .map(read)
        .collect();
    match tops.len() {
        0 => Err(ImportError::Empty),
        1 => Ok(tops.remove(0)),
        _ => {
            let title = opml
                .descendants()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text())
                .map(clean)
                .unwrap_or_default();
            Ok(Outline {
                text: title,
                children: tops,
            })
        }
    }
}

/// A Markdown outline: `# Heading` lines and list items (`-`, `*`, `+`, `1.`), nested by
/// heading level and indentation. The first level-1 heading is the central topic; other
/// lines of text become nodes where they stand.
pub fn parse_markdown(text: &str, title: Option<&str>) -> Result<Outline, ImportError> {
    // (depth, text) in reading order; depth 0 is the central topic.
    let mut items: Vec<(usize, String)> = Vec::new();
    let mut root: Option<String> = None;
    let mut heading_depth = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for line in text.lines() {
        let expanded = line.replace('\t', "    ");
        let indent = expanded.len() - expanded.trim_start().len();
        let content = expanded.trim();
        if content.is_empty() {
            continue;
        }
        let hashes = content.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && content[hashes..].starts_with(' ') {
            let text = clean(&content[hashes..]);
            indents.clear();
            if hashes == 1 && root.is_none() && items.is_empty() {
                root = Some(text);
                heading_depth = 0;
            } else {
                heading_depth = (hashes - 1).max(1);
                items.push((heading_depth, text));
            }
            continue;
        }
        let item = ["- ", "* ", "+ "]
            .iter()
            .find_map(|marker| content.strip_prefix(marker))
            .or_else(|| {
                let digits = content.chars().take_while(char::is_ascii_digit).count();
                (digits > 0)
                    .then(|| {
                        content[digits..]
                            .strip_prefix(". ")
                            .or(content[digits..].strip_prefix(") "))
                    })
                    .flatten()
            });
        match item {
            Some(item) => {
                while indents.last().is_some_and(|i| *i >= indent) {
                    indents.pop();
                }
                items.push((heading_depth + 1 + indents.len(), clean(item)));
                indents.push(indent);
            }
            None => {
                indents.clear();
                items.push((heading_depth + 1, clean(content)));
            }
        }
    }
    let root_text = root
        .or_else(|| title.map(str::to_owned))
        .unwrap_or_else(|| "Import".to_owned());
    if items.is_empty() && root_text.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(build(root_text, &items))
}

/// Builds a tree from (depth, text) in reading order; a depth deeper than its predecessor
/// allows is brought back to one level below it.
fn build(root: String, items: &[(usize, String)]) -> Outline {
    let mut stack: Vec<Outline> = vec![Outline {
        text: root,
        children: Vec::new(),
    }];
    for (depth, text) in items {
        let depth = (*depth).clamp(1, stack.len());
        while stack.len() > depth {
            let done = stack.pop().expect("stack holds the root");
            stack
                .last_mut()
                .expect("stack holds the root")
                .children
                .push(done);
        }
        stack.push(Outline {
            text: text.clone(),
            children: Vec::new(),
        });
    }
    while stack.len() > 1 {
        let done = stack.pop().expect("stack holds the root");
        stack
            .last_mut()
            .expect("stack holds the root")
            .children
            .push(done);
    }
    stack.pop().expect("stack holds the root")
}

/// The outline a mind map document holds (for tests and round trips).
pub fn outline_of(doc: &Doc) -> Outline {
    let roots = Roots::new(doc);
    let nodes = roots.nodes(&doc.transact());
    let ordered = crate::export::outline(&nodes);
    let items: Vec<(usize, String)> = ordered
        .iter()
        .skip(1)
        .map(|(depth, node)| (*depth, clean(&node.text)))
        .collect();
    let root = ordered
        .first()
        .map(|(_, n)| clean(&n.text))
        .unwrap_or_default();
    build(root, &items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str, children: Vec<Outline>) -> Outline {
        Outline {
            text: text.into(),
            children,
        }
    }

    fn sample() -> Outline {
        tree(
            "Mobilités en Charlevoix",
            vec![
                tree(
                    "Navette d'été",
                    vec![tree("Arrêts à Baie-Saint-Paul", vec![])],
                ),
                tree(
                    "Vélo",
                    vec![
                        tree("Pistes sécurisées", vec![tree("École", vec![])]),
                        tree("Location", vec![]),
                    ],
                ),
                tree("Covoiturage « Allô stop »", vec![]),
            ],
        )
    }

    #[test]
    fn markdown_outlines_nest_by_indentation_and_headings() {
        let md = "# Mobilités en Charlevoix\n\n- Navette d'été\n  - Arrêts à Baie-Saint-Paul\n- Vélo\n    * Pistes sécurisées\n        1. École\n    * Location\n- Covoiturage « Allô stop »\n";
        assert_eq!(parse_markdown(md, None).unwrap(), sample());
        let headed = "# Mobilités en Charlevoix\n## Navette d'été\n- Arrêts à Baie-Saint-Paul\n## Vélo\n- Pistes sécurisées\n  - École\n- Location\n## Covoiturage « Allô stop »\n";
        assert_eq!(parse_markdown(headed, None).unwrap(), sample());
    }

    #[test]
    fn a_mind_map_built_from_an_outline_reads_back_as_that_outline() {
        let update = mind_map_update(&sample(), "Titre", Lang::Fr);
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        assert_eq!(outline_of(&doc), sample());
    }

    #[test]
    fn opml_and_freemind_read_their_nesting_and_reject_what_is_not_theirs() {
        let opml = r#"<?xml version="1.0"?><opml version="2.0"><head><title>T</title></head><body>
            <outline text="Mobilités en Charlevoix"><outline text="Navette d'été"><outline text="Arrêts à Baie-Saint-Paul"/></outline>
            <outline text="Vélo"><outline text="Pistes sécurisées"><outline text="École"/></outline><outline text="Location"/></outline>
            <outline text="Covoiturage « Allô stop »"/></outline></body></opml>"#;
        assert_eq!(parse_opml(opml).unwrap(), sample());
        let mm = r#"<map version="1.0.1"><node TEXT="Mobilités en Charlevoix"><node TEXT="Navette d'été"><node TEXT="Arrêts à Baie-Saint-Paul"/></node>
            <node TEXT="Vélo"><node TEXT="Pistes sécurisées"><node><richcontent TYPE="NODE"><html><body><p>École</p></body></html></richcontent></node></node><node TEXT="Location"/></node>
            <node TEXT="Covoiturage « Allô stop »"/></node></map>"#;
        assert_eq!(parse_freemind(mm).unwrap(), sample());
        assert!(matches!(parse_opml(mm), Err(ImportError::Invalid(..))));
        assert!(matches!(
            parse_freemind("<map"),
            Err(ImportError::Invalid(..))
        ));
        let bomb = r#"<!DOCTYPE map [<!ENTITY a "aaaaaaaaaa">]><map><node TEXT="&a;"/></map>"#;
        assert!(matches!(
            parse_freemind(bomb),
            Err(ImportError::Invalid(..))
        ));
    }

    #[test]
    fn hostile_or_foreign_yjs_states_are_refused() {
        assert!(matches!(
            import_yjs(&[0xff, 0x01, 0x02], None),
            Err(ImportError::Invalid(..))
        ));
        let doc = Doc::new();
        let other = doc.get_or_insert_map("other");
        other.insert(&mut doc.transact_mut(), "k", "v");
        let state = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        assert_eq!(
            import_yjs(&state, None).unwrap_err(),
            ImportError::NotABoard
        );
        let board = initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::En);
        let imported = import_yjs(&board, None).unwrap();
        assert_eq!(
            (imported.kind, imported.lang, imported.title.as_str()),
            (BoardKind::Diagnosis, Lang::En, "Diagnostic")
        );
        assert_eq!(
            import(ImportFormat::Md, b"# A\n- b\n- c\n", None, Lang::Fr, 2).unwrap_err(),
            ImportError::TooManyNodes(3, 2)
        );
    }
}
