//! Exports of a board: drawings (SVG, PNG, PDF), outlines and tables (Markdown, OPML,
//! FreeMind, CSV), the meeting report (OpenDocument text), the contribution record, and the
//! document itself (JSON in the CONTRACT shape, Yjs binary). One entry point, [`export`],
//! serves `GET /api/boards/{id}/export` and `nouage export`.

mod draw;
pub mod labels;
pub mod model;
mod odt;
mod record;
mod render;
mod text;

use shared::BoardKind;
use shared::doc::{
    ROOT_LINKS, ROOT_META, ROOT_NODES, ROOT_NOTES, ROOT_PARTICIPANTS, ROOT_PROJECTS, ROOT_SECTIONS,
    ROOT_VOTING,
};
use yrs::types::ToJson;
use yrs::{Doc, ReadTxn, StateVector, Transact};

use crate::pressure::Cancel;
use crate::store::{BoardRecord, Store, StoreError};

pub use model::Board;
pub use text::outline;

/// An export format, by the name `?format=` and `--format` take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
    Pdf,
    Md,
    Opml,
    Mm,
    Csv,
    Json,
    Yjs,
    Odt,
    /// The contribution record in Markdown.
    RecordMd,
    /// The contribution record in PDF.
    RecordPdf,
}

impl Format {
    pub const ALL: [Format; 12] = [
        Format::Svg,
        Format::Png,
        Format::Pdf,
        Format::Md,
        Format::Opml,
        Format::Mm,
        Format::Csv,
        Format::Json,
        Format::Yjs,
        Format::Odt,
        Format::RecordMd,
        Format::RecordPdf,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
            Format::Pdf => "pdf",
            Format::Md => "md",
            Format::Opml => "opml",
            Format::Mm => "mm",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Yjs => "yjs",
            Format::Odt => "odt",
            Format::RecordMd => "record-md",
            Format::RecordPdf => "record-pdf",
        }
    }

    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Whether a board of `kind` offers this format.
    pub fn fits(self, kind: BoardKind) -> bool {
        match self {
            Format::Opml | Format::Mm => kind == BoardKind::MindMap,
            Format::Csv => kind != BoardKind::MindMap,
            _ => true,
        }
    }

    /// The formats a board of `kind` offers, for error messages and the web app.
    pub fn names_for(kind: BoardKind) -> Vec<&'static str> {
        Format::ALL
            .into_iter()
            .filter(|f| f.fits(kind))
            .map(Format::as_str)
            .collect()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
            Format::Pdf | Format::RecordPdf => "application/pdf",
            Format::Md | Format::RecordMd => "text/markdown; charset=utf-8",
            Format::Opml => "text/x-opml; charset=utf-8",
            Format::Mm => "application/x-freemind; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Yjs => "application/octet-stream",
            Format::Odt => "application/vnd.oasis.opendocument.text",
        }
    }

    /// The file name ending, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::RecordMd => "record.md",
            Format::RecordPdf => "record.pdf",
            other => other.as_str(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("this format does not fit this kind of board")]
    NotForKind,
    #[error("the stored board cannot be read: {0}")]
    Load(String),
    #[error("rendering failed: {0}")]
    Render(String),
    #[error("the export was cancelled: its client went away")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing CSV failed: {0}")]
    Csv(#[from] csv::Error),
}

/// Exports `board` from `store` as it is now, or as it was at `at_ms` (milliseconds since
/// 1970). Blocking: reads the store and renders.
///
/// `trace_wait` bounds the wait for the board's trace to be brought up to date; `cancel`
/// stops the work between its steps (the client went away).
pub fn export(
    store: &dyn Store,
    board: &BoardRecord,
    format: Format,
    at_ms: Option<i64>,
    trace_wait: std::time::Duration,
    cancel: &Cancel,
    masked: bool,
) -> Result<Vec<u8>, ExportError> {
    if !format.fits(board.kind) {
        return Err(ExportError::NotForKind);
    }
    let stored = match at_ms {
        Some(at_ms) => store.load_at(&board.id, at_ms)?,
        None => store.load(&board.id)?,
    };
    let (doc, ..) = crate::room::load_doc(stored).map_err(ExportError::Load)?;
    match format {
        Format::Yjs => {
            return Ok(doc
                .transact()
                .encode_state_as_update_v1(&StateVector::default()));
        }
        Format::Json => {
            return serde_json::to_vec_pretty(&document_json(&doc, board.kind))
                .map_err(|e| ExportError::Render(e.to_string()));
        }
        _ => {}
    }
    // Authors and the record come from the trace; a map's drawing and outlines print
    // neither, so they skip reading it.
    let prints_authors = board.kind != BoardKind::MindMap
        || matches!(format, Format::Odt | Format::RecordMd | Format::RecordPdf);
    let trace = if !prints_authors {
        Trace::default()
    } else if let Some(at_ms) = at_ms {
        // The record as it stood then: the journal up to that moment, replayed.
        let mut journal = store.journal(&board.id)?;
        journal.retain(|row| row.ts_ms <= at_ms);
        Trace::replayed(&journal, cancel)?
    } else {
        store.trace_catch_up(&board.id, trace_wait)?;
        Trace::read(store, &board.id)?
    };
    if cancel.is_cancelled() {
        return Err(ExportError::Cancelled);
    }
    let mut trace = trace;
    if masked {
        // Pseudonyms for all but the facilitator: the record's names masked as the document's.
        let mut masks = crate::pseudo::Masks::from_doc(&doc);
        masks.learn(trace.contributions.contributors.iter().map(|c| &c.actor));
        for contributor in &mut trace.contributions.contributors {
            masks.actor(&mut contributor.actor);
        }
        for entry in &mut trace.entries {
            masks.actor(&mut entry.actor);
        }
        trace.provenance.mask(|actor| masks.actor(actor));
    }
    let view = Board::read(
        board.id.as_str(),
        board.kind,
        board.lang,
        &doc,
        trace.provenance,
    );
    render_board(&view, &trace.contributions, trace.entries, format)
}

/// Entries of the timeline an export prints at most (the latest).
pub const RECORD_ENTRIES_MAX: usize = 5_000;

/// What exports print of the trace: who created each element, the tallies, the timeline.
#[derive(Default)]
pub struct Trace {
    pub provenance: model::Provenance,
    pub contributions: crate::store::Contributions,
    /// Newest first, at most `RECORD_ENTRIES_MAX + 1` (one more says the timeline is cut).
    pub entries: Vec<crate::store::TraceEntry>,
}

impl Trace {
    const PAGE: crate::store::EntryPage = crate::store::EntryPage {
        before_seq: None,
        from_ms: i64::MIN,
        to_ms: i64::MAX,
        limit: RECORD_ENTRIES_MAX + 1,
    };

    /// From the store's record (kept up to date by the caller).
    pub fn read(store: &dyn Store, id: &crate::store::BoardId) -> Result<Trace, ExportError> {
        Ok(Trace {
            provenance: store.trace_provenance(id)?,
            contributions: store.trace_contributions(id)?,
            entries: store.trace_entries(id, &Self::PAGE)?,
        })
    }

    /// By replaying `journal` (a board's journal up to some moment).
    pub fn replayed(
        journal: &[crate::store::JournalRow],
        cancel: &Cancel,
    ) -> Result<Trace, ExportError> {
        let provenance = model::Provenance::from_journal(journal);
        if cancel.is_cancelled() {
            return Err(ExportError::Cancelled);
        }
        let contributions = crate::trace::replay::contributions(journal);
        if cancel.is_cancelled() {
            return Err(ExportError::Cancelled);
        }
        Ok(Trace {
            provenance,
            contributions,
            entries: crate::trace::replay::entries(journal, &Self::PAGE),
        })
    }
}

/// Renders a board already read, with the trace's tallies and timeline (newest first) for
/// the contribution formats.
pub fn render_board(
    board: &Board,
    contributions: &crate::store::Contributions,
    entries: Vec<crate::store::TraceEntry>,
    format: Format,
) -> Result<Vec<u8>, ExportError> {
    let mut entries = Some(entries);
    let mut record =
        || record::Record::new(board, contributions, entries.take().unwrap_or_default());
    let footer = format!("{} · {}", one_line(&board.title), board.id);
    Ok(match (format, board.kind) {
        (Format::Svg, BoardKind::MindMap) => draw::mind_map(board).into_bytes(),
        (Format::Svg, BoardKind::Diagnosis) => draw::canvas(board).into_bytes(),
        (Format::Svg, BoardKind::Portfolio) => draw::portfolio(board).into_bytes(),
        (Format::Png, BoardKind::MindMap) => render::png(&draw::mind_map(board))?,
        (Format::Png, BoardKind::Diagnosis) => render::png(&draw::canvas(board))?,
        (Format::Png, BoardKind::Portfolio) => render::png(&draw::portfolio(board))?,
        (Format::Pdf, BoardKind::MindMap) => render::pdf(&[draw::mind_map(board)], &board.title)?,
        (Format::Pdf, BoardKind::Diagnosis) => render::pdf(&[draw::canvas(board)], &board.title)?,
        (Format::Pdf, BoardKind::Portfolio) => {
            let pages = draw::pages(
                &portfolio_blocks(board),
                draw::A4_PORTRAIT,
                &footer,
                board.lang,
            );
            render::pdf(&pages, &board.title)?
        }
        (Format::Md, _) => text::markdown(board).into_bytes(),
        (Format::Opml, _) => text::opml(board).into_bytes(),
        (Format::Mm, _) => text::freemind(board).into_bytes(),
        (Format::Csv, _) => text::csv(board)?,
        (Format::Odt, _) => odt::odt(board, &record())?,
        (Format::RecordMd, _) => text::record_markdown(board, &record()).into_bytes(),
        (Format::RecordPdf, _) => {
            let pages = draw::pages(
                &record_blocks(board, &record()),
                draw::A4_LANDSCAPE,
                &footer,
                board.lang,
            );
            render::pdf(&pages, &board.title)?
        }
        (Format::Json | Format::Yjs, _) => return Err(ExportError::NotForKind),
    })
}

fn portfolio_blocks(board: &Board) -> Vec<draw::Block> {
    use draw::Block;
    use labels::{Label, tr};
    let lang = board.lang;
    let mut blocks = vec![
        Block::Title(one_line(&board.title)),
        Block::Paragraph(format!("{} {}", tr(lang, Label::Exported), utc(now_ms()))),
    ];
    if board.projects.is_empty() {
        blocks.push(Block::Paragraph(tr(lang, Label::NoProjects).to_owned()));
    }
    let mut stage = None;
    for project in &board.projects {
        if stage != Some(project.stage.as_str()) {
            stage = Some(project.stage.as_str());
            blocks.push(Block::Heading(
                labels::stage(lang, &project.stage).to_owned(),
            ));
        }
        blocks.push(Block::Subheading(one_line(&project.title)));
        if !project.description.trim().is_empty() {
            blocks.push(Block::Paragraph(project.description.trim().to_owned()));
        }
        let author = board.author(&project.id, &project.author);
        let mut fields: Vec<(String, String)> = text::project_fields(lang, project)
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(l, v)| (tr(lang, l).to_owned(), v))
            .collect();
        fields.push((tr(lang, Label::Author).to_owned(), author.byline(lang)));
        blocks.push(Block::Fields(fields));
    }
    blocks
}

fn record_blocks(board: &Board, record: &record::Record) -> Vec<draw::Block> {
    use draw::Block;
    use labels::{Label, tr};
    let lang = board.lang;
    let mut blocks = vec![
        Block::Title(format!(
            "{} — {}",
            tr(lang, Label::Record),
            one_line(&board.title)
        )),
        Block::Paragraph(format!("{} {}", tr(lang, Label::Exported), utc(now_ms()))),
    ];
    if let Some((summary, lines)) = board.path() {
        blocks.push(Block::Heading(tr(lang, Label::IdeasPath).to_owned()));
        blocks.push(Block::Paragraph(summary));
        blocks.extend(lines.into_iter().map(Block::Paragraph));
    }
    for (title, table) in record.tables(lang) {
        blocks.push(Block::Heading(title));
        let weights = (0..table.header.len())
            .map(|i| match i {
                0 => 1.8,
                1 | 2 => 1.6,
                _ => 1.3,
            })
            .collect();
        blocks.push(Block::Table {
            header: table.header,
            rows: table.rows,
            weights,
        });
    }
    blocks.push(Block::Heading(tr(lang, Label::Timeline).to_owned()));
    for session in record.sessions(lang) {
        blocks.push(Block::Subheading(session.heading));
        for line in session.lines {
            blocks.push(Block::Paragraph(line));
        }
    }
    if record.truncated() {
        blocks.push(Block::Paragraph(tr(lang, Label::Truncated).to_owned()));
    }
    blocks
}

/// Text on one line: line breaks and runs of spaces become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// "YYYY-MM-DD HH:MM UTC" for a time in milliseconds since 1970.
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

/// The CONTRACT root maps of a board of `kind`, as JSON (Y.Text as strings).
pub fn document_json(doc: &Doc, kind: BoardKind) -> serde_json::Value {
    let kind_roots: &[&str] = match kind {
        BoardKind::MindMap => &[ROOT_NODES],
        BoardKind::Diagnosis => &[ROOT_SECTIONS, ROOT_NOTES, ROOT_LINKS, ROOT_VOTING],
        BoardKind::Portfolio => &[ROOT_PROJECTS],
    };
    // Root types must be named (and typed) before a transaction opens: an update alone does
    // not say whether a root is a map, an array or a text.
    let maps: Vec<(&str, yrs::MapRef)> = [
        ROOT_META,
        ROOT_PARTICIPANTS,
        shared::reactions::ROOT_REACTIONS,
    ]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_000_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn every_kind_offers_json_yjs_and_the_record_but_not_foreign_formats() {
        for kind in [
            BoardKind::MindMap,
            BoardKind::Diagnosis,
            BoardKind::Portfolio,
        ] {
            for f in [
                Format::Json,
                Format::Yjs,
                Format::Md,
                Format::Pdf,
                Format::Odt,
                Format::RecordMd,
                Format::RecordPdf,
            ] {
                assert!(f.fits(kind), "{f:?} {kind:?}");
            }
        }
        assert!(!Format::Opml.fits(BoardKind::Diagnosis));
        assert!(!Format::Csv.fits(BoardKind::MindMap));
        assert!(Format::Png.fits(BoardKind::Portfolio));
        assert_eq!(Format::parse("record-pdf"), Some(Format::RecordPdf));
        assert_eq!(Format::parse("docx"), None);
    }
}
