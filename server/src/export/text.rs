//! Text exports: Markdown, OPML, FreeMind `.mm`, CSV, and the contribution record in Markdown.

use std::fmt::Write;

use shared::doc::{CENTRAL_NODE_ID, Node, Tree};
use shared::layout::is_css_color;
use shared::{BoardKind, Lang};

use super::labels::{self, Label, tr};
use super::model::Board;
use super::record::Record;
use super::{ExportError, one_line, utc};

/// The mind map's nodes in reading order (depth first from the central topic, siblings by
/// order), each with its depth (0 for the central topic).
pub fn outline(nodes: &[Node]) -> Vec<(usize, &Node)> {
    let tree = Tree::resolve(nodes);
    let by_id: std::collections::HashMap<&str, &Node> =
        nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let mut out = Vec::with_capacity(nodes.len());
    let mut stack = vec![(0usize, CENTRAL_NODE_ID)];
    while let Some((depth, id)) = stack.pop() {
        let Some(node) = by_id.get(id) else { continue };
        out.push((depth, *node));
        for child in tree.children_of(id).iter().rev() {
            stack.push((depth + 1, child.as_str()));
        }
    }
    out
}

pub fn markdown(board: &Board) -> String {
    let mut md = String::new();
    let lang = board.lang;
    match board.kind {
        BoardKind::MindMap => {
            for (depth, node) in outline(&board.nodes) {
                let mut text = one_line(&node.text);
                let reactions = board.reactions_of(&node.id);
                if !reactions.is_empty() {
                    text = format!("{text} · {reactions}");
                }
                if depth == 0 {
                    let _ = writeln!(md, "# {text}\n");
                } else {
                    let _ = writeln!(md, "{}- {text}", "  ".repeat(depth - 1));
                }
            }
        }
        BoardKind::Diagnosis => {
            let _ = writeln!(md, "# {}\n", one_line(&board.title));
            for view in &board.sections {
                let _ = writeln!(md, "## {}\n", one_line(&view.section.title));
                if !view.section.hint.is_empty() {
                    let _ = writeln!(md, "_{}_\n", one_line(&view.section.hint));
                }
                for note in &view.notes {
                    let _ = write!(md, "- {}", one_line(&note.note.text));
                    let by = note.author.byline(lang);
                    if !by.is_empty() {
                        let _ = write!(md, " — {by}");
                    }
                    if note.votes > 0 {
                        let _ = write!(md, " · {}", labels::votes(lang, note.votes));
                    }
                    let reactions = board.reactions_of(&note.note.id);
                    if !reactions.is_empty() {
                        let _ = write!(md, " · {reactions}");
                    }
                    md.push('\n');
                }
                md.push('\n');
            }
            if !board.links.is_empty() {
                let _ = writeln!(md, "## {}\n", tr(lang, Label::Links));
                for link in &board.links {
                    let _ = writeln!(
                        md,
                        "- {} ↔ {}",
                        board.link_end(&link.from),
                        board.link_end(&link.to)
                    );
                }
            }
        }
        BoardKind::Portfolio => {
            let _ = writeln!(md, "# {}\n", one_line(&board.title));
            if board.projects.is_empty() {
                let _ = writeln!(md, "{}", tr(lang, Label::NoProjects));
            }
            let mut stage = None;
            for project in &board.projects {
                if stage != Some(project.stage.as_str()) {
                    stage = Some(project.stage.as_str());
                    let _ = writeln!(md, "## {}\n", labels::stage(lang, &project.stage));
                }
                let _ = writeln!(md, "### {}\n", one_line(&project.title));
                if !project.description.trim().is_empty() {
                    let _ = writeln!(md, "{}\n", project.description.trim());
                }
                for (label, value) in project_fields(lang, project) {
                    if !value.is_empty() {
                        let _ = writeln!(md, "- **{}** : {}", tr(lang, label), one_line(&value));
                    }
                }
                let author = board.author(&project.id, &project.author);
                let by = author.byline(lang);
                if !by.is_empty() {
                    let _ = writeln!(md, "- **{}** : {by}", tr(lang, Label::Author));
                }
                md.push('\n');
            }
        }
    }
    md
}

/// "Name (Organisation)", or what of it is known.
pub fn byline(name: &str, org: &str) -> String {
    match (name.trim(), org.trim()) {
        ("", "") => String::new(),
        (name, "") => name.to_owned(),
        ("", org) => org.to_owned(),
        (name, org) => format!("{name} ({org})"),
    }
}

/// A project's fields other than its title and description, with their labels.
pub fn project_fields(lang: Lang, p: &shared::portfolio::Project) -> Vec<(Label, String)> {
    vec![
        (Label::Stage, labels::stage(lang, &p.stage).to_owned()),
        (Label::Status, p.status.clone()),
        (
            Label::LeadMode,
            if p.lead_mode.is_empty() {
                String::new()
            } else {
                labels::lead_mode(lang, &p.lead_mode)
            },
        ),
        (Label::Lead, p.lead.clone()),
        (Label::Partners, p.partners.join(", ")),
        (Label::Budget, p.budget.clone()),
        (Label::Cofinancers, p.cofinancers.join(", ")),
        (Label::WorkingGroup, p.working_group.clone()),
        (Label::NextStep, p.next_step.clone()),
        (Label::DueDate, p.due_date.clone()),
        (
            Label::Stakes,
            p.stakes
                .iter()
                .map(|s| s.label.clone())
                .collect::<Vec<_>>()
                .join(" ; "),
        ),
    ]
}

/// Escapes text for an XML attribute or element.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

pub fn opml(board: &Board) -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    let _ = writeln!(
        xml,
        "  <head><title>{}</title></head>\n  <body>",
        xml_escape(&board.title)
    );
    nested(
        &outline(&board.nodes),
        &mut xml,
        |node| format!("outline text=\"{}\"", xml_escape(&one_line(&node.text))),
        "outline",
        2,
    );
    xml.push_str("  </body>\n</opml>\n");
    xml
}

pub fn freemind(board: &Board) -> String {
    let layout = shared::layout::layout(&board.nodes);
    let mut xml = String::from("<map version=\"1.0.1\">\n");
    nested(
        &outline(&board.nodes),
        &mut xml,
        |node| {
            let mut attrs = format!(
                "node TEXT=\"{}\" ID=\"{}\"",
                xml_escape(&one_line(&node.text)),
                xml_escape(&mm_id(&node.id))
            );
            if let Some(color) = node.color.as_deref().filter(|c| is_css_color(c)) {
                let _ = write!(attrs, " COLOR=\"{}\"", xml_escape(color));
            }
            if let Some(placed) = layout.get(&node.id).filter(|p| p.depth == 1) {
                let side = if placed.side == shared::layout::Side::Left {
                    "left"
                } else {
                    "right"
                };
                let _ = write!(attrs, " POSITION=\"{side}\"");
            }
            attrs
        },
        "node",
        0,
    );
    xml.push_str("</map>\n");
    xml
}

/// FreeMind ids are XML names; ours are UUID-like, so they are prefixed.
fn mm_id(id: &str) -> String {
    format!("ID_{id}")
}

/// Writes the outline as nested XML elements named `tag`.
fn nested(
    outline: &[(usize, &Node)],
    xml: &mut String,
    open: impl Fn(&Node) -> String,
    tag: &str,
    indent: usize,
) {
    let mut open_depths: Vec<usize> = Vec::new();
    for (i, (depth, node)) in outline.iter().enumerate() {
        while open_depths.last().is_some_and(|d| d >= depth) {
            let d = open_depths.pop().unwrap_or(0);
            let _ = writeln!(xml, "{}</{tag}>", "  ".repeat(indent + d));
        }
        let has_children = outline.get(i + 1).is_some_and(|(next, _)| next > depth);
        let pad = "  ".repeat(indent + depth);
        if has_children {
            let _ = writeln!(xml, "{pad}<{}>", open(node));
            open_depths.push(*depth);
        } else {
            let _ = writeln!(xml, "{pad}<{}/>", open(node));
        }
    }
    while let Some(d) = open_depths.pop() {
        let _ = writeln!(xml, "{}</{tag}>", "  ".repeat(indent + d));
    }
}

/// CSV: one row per note (canvas) or per project (portfolio), with a header row. The header
/// names are fixed English keys, whatever the board's language, so scripts can rely on them.
pub fn csv(board: &Board) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    match board.kind {
        BoardKind::Diagnosis => {
            writer.write_record([
                "section",
                "text",
                "author",
                "organisation",
                "votes",
                "created",
                "reactions",
                "entered_by",
            ])?;
            for view in &board.sections {
                for note in &view.notes {
                    writer.write_record([
                        view.section.title.as_str(),
                        note.note.text.as_str(),
                        note.author.name.as_str(),
                        note.author.org.as_str(),
                        &note.votes.to_string(),
                        &note.created_ms.map(utc).unwrap_or_default(),
                        &board.reactions_of(&note.note.id),
                        &note.author.entered_by,
                    ])?;
                }
            }
        }
        BoardKind::Portfolio => {
            writer.write_record([
                "title",
                "description",
                "stage",
                "status",
                "leadMode",
                "lead",
                "partners",
                "budget",
                "cofinancers",
                "workingGroup",
                "nextStep",
                "dueDate",
                "stakes",
                "author",
                "organisation",
                "created",
                "id",
                "reactions",
                "entered_by",
            ])?;
            for p in &board.projects {
                let author = board.author(&p.id, &p.author);
                let stakes: Vec<&str> = p.stakes.iter().map(|s| s.label.as_str()).collect();
                writer.write_record([
                    p.title.as_str(),
                    &p.description,
                    &p.stage,
                    &p.status,
                    &p.lead_mode,
                    &p.lead,
                    &p.partners.join("; "),
                    &p.budget,
                    &p.cofinancers.join("; "),
                    &p.working_group,
                    &p.next_step,
                    &p.due_date,
                    &stakes.join("; "),
                    &author.name,
                    &author.org,
                    &board
                        .provenance
                        .created_ms(&p.id)
                        .map(utc)
                        .unwrap_or_default(),
                    &p.id,
                    &board.reactions_of(&p.id),
                    &author.entered_by,
                ])?;
            }
        }
        BoardKind::MindMap => return Err(ExportError::NotForKind),
    }
    writer
        .into_inner()
        .map_err(|e| ExportError::Render(e.to_string()))
}

/// The contribution record in Markdown.
pub fn record_markdown(board: &Board, record: &Record) -> String {
    let lang = board.lang;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# {} — {}\n",
        tr(lang, Label::Record),
        one_line(&board.title)
    );
    if let Some((summary, lines)) = board.path() {
        let _ = writeln!(md, "## {}\n\n{summary}\n", tr(lang, Label::IdeasPath));
        for line in lines {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
    }
    for (title, table) in record.tables(lang) {
        let _ = writeln!(md, "## {title}\n");
        let _ = writeln!(md, "| {} |", table.header.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(table.header.len()));
        for row in &table.rows {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md.push('\n');
    }
    let _ = writeln!(md, "## {}\n", tr(lang, Label::Timeline));
    for session in record.sessions(lang) {
        let _ = writeln!(md, "### {}\n", session.heading);
        for line in &session.lines {
            let _ = writeln!(md, "- {line}");
        }
        md.push('\n');
    }
    if record.truncated() {
        let _ = writeln!(md, "{}", tr(lang, Label::Truncated));
    }
    md
}
