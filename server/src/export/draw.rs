//! SVG drawings of boards, from the board model: the mind map as the web app lays it out, the
//! diagnosis canvas with its sections and notes, and paged documents (portfolio, contribution
//! record) for PDF. Text is measured with the font shipped in the binary, so wrapped lines fit
//! their boxes in every renderer that uses that font (resvg, svg2pdf, a browser with it).

use std::fmt::Write;
use std::sync::OnceLock;

use shared::layout::{Side, is_css_color};

use super::labels::{Label, tr};
use super::model::{Board, NoteView, SectionView};
use super::text::xml_escape;
use super::{one_line, utc};

pub const FONT_REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const FONT_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
pub const FONT_FAMILY: &str = "DejaVu Sans";

struct Faces {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

fn faces() -> &'static Faces {
    static FACES: OnceLock<Faces> = OnceLock::new();
    FACES.get_or_init(|| Faces {
        regular: ttf_parser::Face::parse(FONT_REGULAR, 0).expect("the shipped font parses"),
        bold: ttf_parser::Face::parse(FONT_BOLD, 0).expect("the shipped font parses"),
    })
}

/// The width of `text` set in the shipped font at `size_px`.
pub fn text_width(text: &str, size_px: f64, bold: bool) -> f64 {
    let face = if bold {
        &faces().bold
    } else {
        &faces().regular
    };
    let units_per_em = f64::from(face.units_per_em());
    let units: f64 = text
        .chars()
        .map(|c| {
            face.glyph_index(c)
                .and_then(|g| face.glyph_hor_advance(g))
                .map(f64::from)
                .unwrap_or(units_per_em * 0.6)
        })
        .sum();
    units * size_px / units_per_em
}

/// Breaks `text` into lines no wider than `max_width_px` (a word longer than a line is cut);
/// line breaks in the text are kept.
pub fn wrap(text: &str, size_px: f64, bold: bool, max_width_px: f64) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, size_px, bold) <= max_width_px {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: cut it if it is wider than a line.
            for c in word.chars() {
                line.push(c);
                if text_width(&line, size_px, bold) > max_width_px && line.chars().count() > 1 {
                    let last = line.pop().unwrap_or(c);
                    lines.push(std::mem::replace(&mut line, last.to_string()));
                }
            }
        }
        lines.push(line);
    }
    while lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// One SVG `<text>` element per line, starting at baseline `y`.
#[allow(clippy::too_many_arguments)]
fn text_lines(
    svg: &mut String,
    lines: &[String],
    x: f64,
    y: f64,
    line_height: f64,
    size: f64,
    style: &str,
    anchor: &str,
) {
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        let _ = writeln!(
            svg,
            r#"<text x="{x:.1}" y="{:.1}" font-size="{size}" text-anchor="{anchor}" {style}>{}</text>"#,
            y + i as f64 * line_height,
            xml_escape(line)
        );
    }
}

fn svg_open(width: f64, height: f64) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="{FONT_FAMILY}">
<rect width="100%" height="100%" fill="#ffffff"/>
"##
    )
}

const MAP_MARGIN_PX: f64 = 40.0;
const MAP_FONT_PX: f64 = 13.0;
const MAP_CENTRAL_FONT_PX: f64 = 16.0;
const MAP_REACTION_FONT_PX: f64 = 9.5;

/// The mind map as drawn in the web app: balanced layout, branch colours, every branch open.
pub fn mind_map(board: &Board) -> String {
    let layout = shared::layout::layout(&board.nodes);
    let texts: std::collections::HashMap<&str, &str> = board
        .nodes
        .iter()
        .map(|n| (n.id.as_str(), n.text.as_str()))
        .collect();
    // Boxes grow to hold their wrapped text.
    let boxes: Vec<(f64, Vec<String>, f64, Vec<String>)> = layout
        .nodes
        .iter()
        .map(|placed| {
            let central = placed.depth == 0;
            let size = if central {
                MAP_CENTRAL_FONT_PX
            } else {
                MAP_FONT_PX
            };
            let text = one_line(texts.get(placed.id.as_str()).copied().unwrap_or(""));
            let lines = wrap(&text, size, central, placed.width - 24.0);
            // Reactions in words (the export's fonts have no emoji), a small line inside.
            let reactions = board.reactions_in_words(&placed.id);
            let reaction_lines = if reactions.is_empty() {
                Vec::new()
            } else {
                wrap(&reactions, MAP_REACTION_FONT_PX, false, placed.width - 16.0)
            };
            let height = placed.height.max(
                lines.len() as f64 * size * 1.35
                    + reaction_lines.len() as f64 * MAP_REACTION_FONT_PX * 1.3
                    + 14.0,
            );
            (size, lines, height, reaction_lines)
        })
        .collect();
    let (mut x0, mut y0, mut x1, mut y1) = layout.bounds();
    for (placed, (_, _, height, _)) in layout.nodes.iter().zip(&boxes) {
        y0 = y0.min(placed.y - height / 2.0);
        y1 = y1.max(placed.y + height / 2.0);
    }
    if layout.nodes.is_empty() {
        (x0, y0, x1, y1) = (0.0, 0.0, 200.0, 100.0);
    }
    let (dx, dy) = (MAP_MARGIN_PX - x0, MAP_MARGIN_PX - y0);
    let mut svg = svg_open(x1 - x0 + 2.0 * MAP_MARGIN_PX, y1 - y0 + 2.0 * MAP_MARGIN_PX);
    // Edges under the nodes.
    for placed in &layout.nodes {
        let Some(parent) = placed.parent.as_deref().and_then(|p| layout.get(p)) else {
            continue;
        };
        let dir = if placed.side == Side::Left { -1.0 } else { 1.0 };
        let (px, py) = (parent.x + dx + dir * parent.width / 2.0, parent.y + dy);
        let (cx, cy) = (placed.x + dx - dir * placed.width / 2.0, placed.y + dy);
        let mid = (px + cx) / 2.0;
        let width = if placed.depth == 1 { 3.0 } else { 1.8 };
        let _ = writeln!(
            svg,
            r#"<path d="M{px:.1},{py:.1} C{mid:.1},{py:.1} {mid:.1},{cy:.1} {cx:.1},{cy:.1}" fill="none" stroke="{}" stroke-width="{width}"/>"#,
            safe_color(&placed.color)
        );
    }
    for (placed, (size, lines, height, reaction_lines)) in layout.nodes.iter().zip(&boxes) {
        let color = safe_color(&placed.color);
        let (x, y) = (
            placed.x + dx - placed.width / 2.0,
            placed.y + dy - height / 2.0,
        );
        let (fill, stroke, text_fill, weight) = match placed.depth {
            0 => (color, color, "#ffffff", r#"font-weight="bold""#),
            1 => ("#ffffff", color, "#111827", r#"font-weight="bold""#),
            _ => ("#ffffff", color, "#1f2937", ""),
        };
        let _ = writeln!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="{}"/>"#,
            placed.width,
            if placed.depth <= 1 { 2.0 } else { 1.2 }
        );
        let line_height = size * 1.35;
        let reaction_line_px = MAP_REACTION_FONT_PX * 1.3;
        let block = (lines.len() as f64 - 1.0) * line_height
            + reaction_lines.len() as f64 * reaction_line_px;
        let first_baseline = placed.y + dy - block / 2.0 + size * 0.36;
        text_lines(
            &mut svg,
            lines,
            placed.x + dx,
            first_baseline,
            line_height,
            *size,
            &format!(r#"fill="{text_fill}" {weight}"#),
            "middle",
        );
        if !reaction_lines.is_empty() {
            let reaction_fill = if placed.depth == 0 {
                "#f1f5f9"
            } else {
                "#475569"
            };
            text_lines(
                &mut svg,
                reaction_lines,
                placed.x + dx,
                first_baseline + (lines.len() as f64 - 1.0) * line_height + reaction_line_px + 1.0,
                reaction_line_px,
                MAP_REACTION_FONT_PX,
                &format!(r#"fill="{reaction_fill}""#),
                "middle",
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn safe_color(color: &str) -> &str {
    if is_css_color(color) {
        color
    } else {
        "#64748b"
    }
}

const CANVAS_WIDTH_PX: f64 = 1600.0;
const CANVAS_COLUMNS: usize = 3;
const CANVAS_GAP_PX: f64 = 24.0;
const NOTE_FONT_PX: f64 = 13.0;
const NOTE_LINE_PX: f64 = 17.0;
const DEFAULT_NOTE_COLOR: &str = "#fef3c7";

/// The diagnosis canvas: sections in three columns, each note as a card with its text, its
/// author and organisation, and its votes.
pub fn canvas(board: &Board) -> String {
    canvas_of(board, &board.sections)
}

/// The portfolio drawn like a canvas: one column per cooperation stage, a card per project.
pub fn portfolio(board: &Board) -> String {
    let lang = board.lang;
    let sections: Vec<SectionView> = shared::portfolio::STAGES
        .iter()
        .map(|stage| SectionView {
            section: shared::doc::Section {
                id: (*stage).to_owned(),
                title: super::labels::stage(lang, stage).to_owned(),
                hint: String::new(),
                order: 0.0,
            },
            notes: board
                .projects
                .iter()
                .filter(|p| p.stage == *stage)
                .map(|p| NoteView {
                    note: shared::doc::Note {
                        id: p.id.clone(),
                        text: [p.title.trim(), p.lead.trim(), p.status.trim()]
                            .iter()
                            .filter(|t| !t.is_empty())
                            .copied()
                            .collect::<Vec<_>>()
                            .join("\n"),
                        color: "#e0e7ff".into(),
                        ..Default::default()
                    },
                    author: board.author(&p.id, &p.author),
                    votes: 0,
                    created_ms: board.provenance.created_ms(&p.id),
                })
                .collect(),
        })
        .collect();
    canvas_of(board, &sections)
}

fn canvas_of(board: &Board, sections: &[SectionView]) -> String {
    let lang = board.lang;
    let column_width =
        (CANVAS_WIDTH_PX - CANVAS_GAP_PX * (CANVAS_COLUMNS as f64 + 1.0)) / CANVAS_COLUMNS as f64;
    let card_width = column_width - 24.0;
    let mut body = String::new();
    let mut y = 110.0;
    for row in sections.chunks(CANVAS_COLUMNS) {
        let mut row_height: f64 = 0.0;
        let mut drawn = Vec::new();
        for (col, view) in row.iter().enumerate() {
            let x = CANVAS_GAP_PX + col as f64 * (column_width + CANVAS_GAP_PX);
            let mut part = String::new();
            let title = wrap(
                &one_line(&view.section.title),
                16.0,
                true,
                column_width - 24.0,
            );
            let hint = wrap(&view.section.hint, 11.0, false, column_width - 24.0);
            let mut cy = y + 28.0;
            text_lines(
                &mut part,
                &title,
                x + 12.0,
                cy,
                20.0,
                16.0,
                r##"font-weight="bold" fill="#111827""##,
                "start",
            );
            cy += title.len() as f64 * 20.0;
            if !view.section.hint.is_empty() {
                text_lines(
                    &mut part,
                    &hint,
                    x + 12.0,
                    cy,
                    14.0,
                    11.0,
                    r##"fill="#6b7280""##,
                    "start",
                );
                cy += hint.len() as f64 * 14.0;
            }
            cy += 6.0;
            for note in &view.notes {
                let lines = wrap(&note.note.text, NOTE_FONT_PX, false, card_width - 20.0);
                let by = note.author.byline(board.lang);
                let by_lines = wrap(&by, 10.5, false, card_width - 70.0);
                // Reactions in words (the export's fonts have no emoji), under the byline.
                let reactions = board.reactions_in_words(&note.note.id);
                let reaction_lines = if reactions.is_empty() {
                    Vec::new()
                } else {
                    wrap(&reactions, 10.5, false, card_width - 20.0)
                };
                let height = lines.len() as f64 * NOTE_LINE_PX
                    + (by_lines.len().max(1) + reaction_lines.len()) as f64 * 13.0
                    + 20.0;
                let fill = if is_css_color(&note.note.color) {
                    note.note.color.as_str()
                } else {
                    DEFAULT_NOTE_COLOR
                };
                let _ = writeln!(
                    part,
                    r##"<rect x="{:.1}" y="{cy:.1}" width="{card_width:.1}" height="{height:.1}" rx="6" fill="{fill}" stroke="#d1d5db"/>"##,
                    x + 12.0
                );
                text_lines(
                    &mut part,
                    &lines,
                    x + 22.0,
                    cy + 18.0,
                    NOTE_LINE_PX,
                    NOTE_FONT_PX,
                    r##"fill="#111827""##,
                    "start",
                );
                let by_y = cy + 18.0 + lines.len() as f64 * NOTE_LINE_PX;
                text_lines(
                    &mut part,
                    &by_lines,
                    x + 22.0,
                    by_y,
                    13.0,
                    10.5,
                    r##"fill="#4b5563""##,
                    "start",
                );
                text_lines(
                    &mut part,
                    &reaction_lines,
                    x + 22.0,
                    by_y + by_lines.len().max(1) as f64 * 13.0,
                    13.0,
                    10.5,
                    r##"fill="#1d4ed8""##,
                    "start",
                );
                if note.votes > 0 {
                    let _ = writeln!(
                        part,
                        r##"<text x="{:.1}" y="{by_y:.1}" font-size="11" font-weight="bold" text-anchor="end" fill="#1d4ed8">● {}</text>"##,
                        x + 12.0 + card_width - 10.0,
                        super::labels::votes(lang, note.votes)
                    );
                }
                cy += height + 8.0;
            }
            let height = cy - y + 6.0;
            row_height = row_height.max(height);
            drawn.push((x, part));
        }
        for (x, part) in drawn {
            let _ = writeln!(
                body,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{column_width:.1}" height="{row_height:.1}" rx="10" fill="#f8fafc" stroke="#cbd5e1"/>"##
            );
            body.push_str(&part);
        }
        y += row_height + CANVAS_GAP_PX;
    }
    if !board.links.is_empty() {
        y += 10.0;
        let _ = writeln!(
            body,
            r##"<text x="{CANVAS_GAP_PX}" y="{y:.1}" font-size="16" font-weight="bold" fill="#111827">{}</text>"##,
            xml_escape(tr(lang, Label::Links))
        );
        y += 22.0;
        for link in &board.links {
            let line = format!(
                "{} ↔ {}",
                board.link_end(&link.from),
                board.link_end(&link.to)
            );
            let lines = wrap(&line, 12.0, false, CANVAS_WIDTH_PX - 2.0 * CANVAS_GAP_PX);
            text_lines(
                &mut body,
                &lines,
                CANVAS_GAP_PX,
                y,
                16.0,
                12.0,
                r##"fill="#374151""##,
                "start",
            );
            y += lines.len() as f64 * 16.0 + 4.0;
        }
    }
    let mut svg = svg_open(CANVAS_WIDTH_PX, y + CANVAS_GAP_PX);
    let title = wrap(
        &one_line(&board.title),
        26.0,
        true,
        CANVAS_WIDTH_PX - 2.0 * CANVAS_GAP_PX,
    );
    text_lines(
        &mut svg,
        &title[..1.min(title.len())],
        CANVAS_GAP_PX,
        50.0,
        30.0,
        26.0,
        r##"font-weight="bold" fill="#111827""##,
        "start",
    );
    let notes: usize = sections.iter().map(|s| s.notes.len()).sum();
    let _ = writeln!(
        svg,
        r##"<text x="{CANVAS_GAP_PX}" y="80" font-size="12" fill="#6b7280">{} · {notes} {} · {} {}</text>"##,
        xml_escape(&board.id),
        tr(
            lang,
            if board.kind == shared::BoardKind::Portfolio {
                Label::ProjectsCount
            } else {
                Label::NotesCount
            }
        ),
        tr(lang, Label::Exported),
        utc(super::now_ms())
    );
    svg.push_str(&body);
    svg.push_str("</svg>\n");
    svg
}

/// A block of a paged document.
pub enum Block {
    Title(String),
    Heading(String),
    Subheading(String),
    Paragraph(String),
    /// Label/value pairs, one per line.
    Fields(Vec<(String, String)>),
    /// A header row and rows; column widths in proportion to the given weights.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        weights: Vec<f64>,
    },
}

/// A page size in PDF points (1/72 inch), which are also the SVG pixels of the pages.
#[derive(Clone, Copy)]
pub struct PageSize {
    pub width: f64,
    pub height: f64,
}

pub const A4_PORTRAIT: PageSize = PageSize {
    width: 595.0,
    height: 842.0,
};
pub const A4_LANDSCAPE: PageSize = PageSize {
    width: 842.0,
    height: 595.0,
};
const PAGE_MARGIN: f64 = 42.0;

/// Lays `blocks` out on pages of `size`; each page is one SVG with a footer.
pub fn pages(blocks: &[Block], size: PageSize, footer: &str, lang: shared::Lang) -> Vec<String> {
    let mut pager = Pager {
        size,
        pages: Vec::new(),
        current: String::new(),
        y: PAGE_MARGIN,
    };
    let width = size.width - 2.0 * PAGE_MARGIN;
    for block in blocks {
        match block {
            Block::Title(text) => pager.lines(
                &wrap(text, 18.0, true, width),
                18.0,
                24.0,
                true,
                "#111827",
                10.0,
            ),
            Block::Heading(text) => {
                pager.room(60.0);
                pager.y += 6.0;
                pager.lines(
                    &wrap(text, 14.0, true, width),
                    14.0,
                    19.0,
                    true,
                    "#1e3a8a",
                    4.0,
                );
            }
            Block::Subheading(text) => {
                pager.room(40.0);
                pager.lines(
                    &wrap(text, 11.5, true, width),
                    11.5,
                    15.0,
                    true,
                    "#111827",
                    3.0,
                );
            }
            Block::Paragraph(text) => pager.lines(
                &wrap(text, 9.5, false, width),
                9.5,
                13.0,
                false,
                "#1f2937",
                5.0,
            ),
            Block::Fields(fields) => {
                let label_width = fields
                    .iter()
                    .map(|(l, _)| text_width(l, 9.0, true))
                    .fold(0.0, f64::max)
                    .min(width * 0.35)
                    + 8.0;
                for (label, value) in fields {
                    let values = wrap(value, 9.0, false, width - label_width);
                    let height = values.len() as f64 * 12.0;
                    pager.room(height);
                    let y = pager.y + 9.0;
                    let label = xml_escape(label);
                    let _ = writeln!(
                        pager.current,
                        r##"<text x="{PAGE_MARGIN}" y="{y:.1}" font-size="9" font-weight="bold" fill="#374151">{label}</text>"##
                    );
                    text_lines(
                        &mut pager.current,
                        &values,
                        PAGE_MARGIN + label_width,
                        y,
                        12.0,
                        9.0,
                        r##"fill="#111827""##,
                        "start",
                    );
                    pager.y += height;
                }
                pager.y += 6.0;
            }
            Block::Table {
                header,
                rows,
                weights,
            } => {
                let total: f64 = weights.iter().sum();
                let widths: Vec<f64> = weights.iter().map(|w| w / total * width).collect();
                let row_lines = |cells: &[String], bold: bool| -> Vec<Vec<String>> {
                    cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| wrap(c, 8.0, bold, w - 6.0))
                        .collect()
                };
                let header_lines = row_lines(header, true);
                let draw = |pager: &mut Pager, cells: &[Vec<String>], bold: bool| {
                    let height = cells.iter().map(Vec::len).max().unwrap_or(1) as f64 * 10.5 + 5.0;
                    let mut x = PAGE_MARGIN;
                    if bold {
                        let _ = writeln!(
                            pager.current,
                            r##"<rect x="{PAGE_MARGIN}" y="{:.1}" width="{width:.1}" height="{height:.1}" fill="#e5e7eb"/>"##,
                            pager.y
                        );
                    }
                    for (lines, w) in cells.iter().zip(&widths) {
                        let style = if bold {
                            r##"font-weight="bold" fill="#111827""##
                        } else {
                            r##"fill="#111827""##
                        };
                        text_lines(
                            &mut pager.current,
                            lines,
                            x + 3.0,
                            pager.y + 10.0,
                            10.5,
                            8.0,
                            style,
                            "start",
                        );
                        x += w;
                    }
                    pager.y += height;
                    let _ = writeln!(
                        pager.current,
                        r##"<line x1="{PAGE_MARGIN}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#d1d5db" stroke-width="0.5"/>"##,
                        pager.y,
                        PAGE_MARGIN + width,
                        pager.y
                    );
                };
                let header_height =
                    header_lines.iter().map(Vec::len).max().unwrap_or(1) as f64 * 10.5 + 5.0;
                pager.room(header_height + 30.0);
                draw(&mut pager, &header_lines, true);
                for row in rows {
                    let cells = row_lines(row, false);
                    let height = cells.iter().map(Vec::len).max().unwrap_or(1) as f64 * 10.5 + 5.0;
                    if pager.y + height > size.height - PAGE_MARGIN {
                        pager.break_page();
                        draw(&mut pager, &header_lines, true);
                    }
                    draw(&mut pager, &cells, false);
                }
                pager.y += 10.0;
            }
        }
    }
    pager.break_page();
    let count = pager.pages.len();
    pager
        .pages
        .into_iter()
        .enumerate()
        .map(|(i, content)| {
            let mut svg = svg_open(size.width, size.height);
            svg.push_str(&content);
            let _ = writeln!(
                svg,
                r##"<text x="{PAGE_MARGIN}" y="{:.1}" font-size="8" fill="#6b7280">{}</text>"##,
                size.height - 20.0,
                xml_escape(footer)
            );
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="8" text-anchor="end" fill="#6b7280">{} {} / {count}</text>"##,
                size.width - PAGE_MARGIN,
                size.height - 20.0,
                tr(lang, Label::Page),
                i + 1
            );
            svg.push_str("</svg>\n");
            svg
        })
        .collect()
}

struct Pager {
    size: PageSize,
    pages: Vec<String>,
    current: String,
    y: f64,
}

impl Pager {
    fn break_page(&mut self) {
        if !self.current.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.current));
        }
        self.y = PAGE_MARGIN;
    }

    /// Starts a new page unless `height` still fits on this one (a heading asks for room for
    /// what follows it too).
    fn room(&mut self, height: f64) {
        if self.y + height > self.size.height - PAGE_MARGIN && !self.current.is_empty() {
            self.break_page();
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn lines(
        &mut self,
        lines: &[String],
        size: f64,
        line_height: f64,
        bold: bool,
        fill: &str,
        after: f64,
    ) {
        let weight = if bold { r#"font-weight="bold" "# } else { "" };
        for line in lines {
            self.room(line_height);
            text_lines(
                &mut self.current,
                std::slice::from_ref(line),
                PAGE_MARGIN,
                self.y + size,
                line_height,
                size,
                &format!(r#"{weight}fill="{fill}""#),
                "start",
            );
            self.y += line_height;
        }
        self.y += after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_their_width_and_keep_every_word() {
        let text = "Mobilité douce entre les communes de la vallée et l'intercommunalité, \
                    anticonstitutionnellementaccentué";
        let lines = wrap(text, 13.0, false, 150.0);
        assert!(lines.len() > 2, "{lines:?}");
        for line in &lines {
            assert!(
                text_width(line, 13.0, false) <= 150.0,
                "{line:?} is too wide"
            );
        }
        let joined: String = lines
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let original: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(joined, original);
    }

    #[test]
    fn bold_text_is_wider_than_regular() {
        assert!(
            text_width("Diagnostic partagé", 12.0, true)
                > text_width("Diagnostic partagé", 12.0, false)
        );
        assert!(text_width("é", 12.0, false) > 0.0);
    }
}
