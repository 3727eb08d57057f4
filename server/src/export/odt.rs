//! The meeting report in OpenDocument text (`.odt`), the format French public bodies exchange:
//! the board's sections, notes or projects with their authors, organisations and votes, and
//! the participants, ready to edit in LibreOffice.

use std::fmt::Write as _;
use std::io::Write as _;

use shared::BoardKind;
use zip::write::SimpleFileOptions;

use super::labels::{self, Label, tr};
use super::model::Board;
use super::record::Record;
use super::text::{outline, project_fields, xml_escape};
use super::{ExportError, one_line, utc};

const MIMETYPE: &str = "application/vnd.oasis.opendocument.text";

const NAMESPACES: &str = r#"xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" xmlns:dc="http://purl.org/dc/elements/1.1/""#;

fn styles() -> String {
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles {NAMESPACES} office:version="1.2">
<office:font-face-decls><style:font-face style:name="DejaVu Sans" svg:font-family="'DejaVu Sans'" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/></office:font-face-decls>
<office:styles>
<style:default-style style:family="paragraph"><style:paragraph-properties fo:margin-bottom="0.12cm"/><style:text-properties style:font-name="DejaVu Sans" fo:font-size="10.5pt"/></style:default-style>
<style:style style:name="Standard" style:family="paragraph" style:class="text"/>
<style:style style:name="Title" style:display-name="Title" style:family="paragraph" style:class="chapter"><style:text-properties fo:font-size="20pt" fo:font-weight="bold"/></style:style>
<style:style style:name="Heading_20_1" style:display-name="Heading 1" style:family="paragraph" style:default-outline-level="1" style:class="text"><style:paragraph-properties fo:margin-top="0.4cm"/><style:text-properties fo:font-size="16pt" fo:font-weight="bold" fo:color="#1e3a8a"/></style:style>
<style:style style:name="Heading_20_2" style:display-name="Heading 2" style:family="paragraph" style:default-outline-level="2" style:class="text"><style:paragraph-properties fo:margin-top="0.3cm"/><style:text-properties fo:font-size="13pt" fo:font-weight="bold"/></style:style>
<style:style style:name="Heading_20_3" style:display-name="Heading 3" style:family="paragraph" style:default-outline-level="3" style:class="text"><style:text-properties fo:font-size="11.5pt" fo:font-weight="bold"/></style:style>
<style:style style:name="Hint" style:family="paragraph"><style:text-properties fo:font-style="italic" fo:color="#555555"/></style:style>
<style:style style:name="Small" style:family="paragraph"><style:text-properties fo:font-size="9pt" fo:color="#555555"/></style:style>
<style:style style:name="Cell_20_Header" style:display-name="Cell Header" style:family="paragraph"><style:text-properties fo:font-weight="bold" fo:font-size="9.5pt"/></style:style>
<style:style style:name="Cell" style:family="paragraph"><style:text-properties fo:font-size="9.5pt"/></style:style>
</office:styles>
</office:document-styles>
"##
    )
}

struct Body {
    xml: String,
    tables: usize,
}

impl Body {
    fn heading(&mut self, level: u8, text: &str) {
        let _ = writeln!(
            self.xml,
            r#"<text:h text:style-name="Heading_20_{level}" text:outline-level="{level}">{}</text:h>"#,
            xml_escape(text)
        );
    }

    fn paragraph(&mut self, style: &str, text: &str) {
        for line in text.split('\n') {
            let _ = writeln!(
                self.xml,
                r#"<text:p text:style-name="{style}">{}</text:p>"#,
                xml_escape(line)
            );
        }
    }

    fn table(&mut self, header: &[String], rows: &[Vec<String>]) {
        self.tables += 1;
        let _ = writeln!(
            self.xml,
            r#"<table:table table:name="Table{}"><table:table-column table:number-columns-repeated="{}"/>"#,
            self.tables,
            header.len()
        );
        let row = |xml: &mut String, cells: &[String], style: &str| {
            xml.push_str("<table:table-row>");
            for cell in cells {
                let _ = write!(
                    xml,
                    r#"<table:table-cell office:value-type="string"><text:p text:style-name="{style}">{}</text:p></table:table-cell>"#,
                    xml_escape(cell)
                );
            }
            xml.push_str("</table:table-row>\n");
        };
        self.xml.push_str("<table:table-header-rows>");
        row(&mut self.xml, header, "Cell_20_Header");
        self.xml.push_str("</table:table-header-rows>\n");
        for cells in rows {
            row(&mut self.xml, cells, "Cell");
        }
        self.xml.push_str("</table:table>\n");
    }
}

fn content(board: &Board, record: &Record) -> String {
    let lang = board.lang;
    let mut body = Body {
        xml: String::new(),
        tables: 0,
    };
    let _ = writeln!(
        body.xml,
        r#"<text:p text:style-name="Title">{}</text:p>"#,
        xml_escape(&one_line(&board.title))
    );
    body.paragraph(
        "Small",
        &format!("{} {}", tr(lang, Label::Exported), utc(super::now_ms())),
    );
    match board.kind {
        BoardKind::MindMap => {
            // Nested lists, one level per depth below the central topic. After an item at
            // depth d, d lists are open and that item's list-item is still open.
            let mut lists_open = 0usize;
            let mut item_open = false;
            for (depth, node) in outline(&board.nodes) {
                if depth == 0 {
                    body.heading(1, &one_line(&node.text));
                    continue;
                }
                if depth > lists_open {
                    body.xml.push_str("<text:list>\n");
                    lists_open += 1;
                } else {
                    if item_open {
                        body.xml.push_str("</text:list-item>\n");
                    }
                    while lists_open > depth {
                        body.xml.push_str("</text:list></text:list-item>\n");
                        lists_open -= 1;
                    }
                }
                let _ = write!(
                    body.xml,
                    "<text:list-item><text:p>{}</text:p>",
                    xml_escape(&with_reactions(
                        one_line(&node.text),
                        board.reactions_in_words(&node.id)
                    ))
                );
                item_open = true;
            }
            if item_open {
                body.xml.push_str("</text:list-item>");
            }
            while lists_open > 0 {
                body.xml.push_str("</text:list>\n");
                lists_open -= 1;
                if lists_open > 0 {
                    body.xml.push_str("</text:list-item>");
                }
            }
        }
        BoardKind::Diagnosis => {
            let header = [
                Label::Text,
                Label::Author,
                Label::Organisation,
                Label::Votes,
                Label::Reactions,
            ]
            .map(|l| tr(lang, l).to_owned());
            for view in &board.sections {
                body.heading(1, &one_line(&view.section.title));
                if !view.section.hint.is_empty() {
                    body.paragraph("Hint", &view.section.hint);
                }
                let rows: Vec<Vec<String>> = view
                    .notes
                    .iter()
                    .map(|n| {
                        vec![
                            n.note.text.clone(),
                            n.author.name_and_typist(lang),
                            n.author.org.clone(),
                            n.votes.to_string(),
                            board.reactions_in_words(&n.note.id),
                        ]
                    })
                    .collect();
                if !rows.is_empty() {
                    body.table(&header, &rows);
                }
            }
        }
        BoardKind::Portfolio => {
            if board.projects.is_empty() {
                body.paragraph("Standard", tr(lang, Label::NoProjects));
            }
            let mut stage = None;
            for project in &board.projects {
                if stage != Some(project.stage.as_str()) {
                    stage = Some(project.stage.as_str());
                    body.heading(1, labels::stage(lang, &project.stage));
                }
                body.heading(2, &one_line(&project.title));
                if !project.description.trim().is_empty() {
                    body.paragraph("Standard", project.description.trim());
                }
                let author = board.author(&project.id, &project.author);
                let mut rows: Vec<Vec<String>> = project_fields(lang, project)
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(l, v)| vec![tr(lang, l).to_owned(), v])
                    .collect();
                rows.push(vec![
                    tr(lang, Label::Author).to_owned(),
                    author.byline(lang),
                ]);
                let reactions = board.reactions_in_words(&project.id);
                if !reactions.is_empty() {
                    rows.push(vec![tr(lang, Label::Reactions).to_owned(), reactions]);
                }
                body.table(&[String::new(), String::new()], &rows);
            }
        }
    }
    if let Some((summary, lines)) = board.path() {
        body.heading(1, tr(lang, Label::IdeasPath));
        body.paragraph("Standard", &summary);
        for line in lines {
            body.paragraph("Standard", &line);
        }
    }
    if let Some((title, table)) = record.tables(lang).into_iter().next() {
        // A portrait page holds seven columns: the updates and deletions are the record's
        // (record-pdf, landscape), not the meeting report's.
        const KEPT: [usize; 7] = [0, 1, 2, 4, 5, 7, 8];
        let pick = |row: &[String]| -> Vec<String> {
            KEPT.iter().filter_map(|i| row.get(*i).cloned()).collect()
        };
        let rows: Vec<Vec<String>> = table.rows.iter().map(|r| pick(r)).collect();
        body.heading(1, &title);
        body.table(&pick(&table.header), &rows);
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content {NAMESPACES} office:version="1.2">
<office:body><office:text>
{}</office:text></office:body>
</office:document-content>
"#,
        body.xml
    )
}

/// A line of text, with its reactions in parentheses when it has any.
fn with_reactions(text: String, reactions: String) -> String {
    if reactions.is_empty() {
        text
    } else {
        format!("{text} ({reactions})")
    }
}

fn meta(board: &Board) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-meta {NAMESPACES} office:version="1.2"><office:meta><dc:title>{}</dc:title><meta:generator>Nouage</meta:generator></office:meta></office:document-meta>
"#,
        xml_escape(&board.title)
    )
}

const MANIFEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:version="1.2" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
 <manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"#;

/// The `.odt` package: `mimetype` first and stored uncompressed, as ODF requires.
pub fn odt(board: &Board, record: &Record) -> Result<Vec<u8>, ExportError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let render = |e: zip::result::ZipError| ExportError::Render(e.to_string());
    zip.start_file("mimetype", stored).map_err(render)?;
    zip.write_all(MIMETYPE.as_bytes())?;
    for (name, text) in [
        ("content.xml", content(board, record)),
        ("styles.xml", styles()),
        ("meta.xml", meta(board)),
        ("META-INF/manifest.xml", MANIFEST.to_owned()),
    ] {
        zip.start_file(name, deflated).map_err(render)?;
        zip.write_all(text.as_bytes())?;
    }
    Ok(zip.finish().map_err(render)?.into_inner())
}
