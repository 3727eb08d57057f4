//! SVG to PNG (resvg) and to PDF (svg2pdf, one page per SVG, assembled with pdf-writer). Both
//! use only the fonts shipped in the binary: no system font is read, so an export looks the
//! same on every machine and needs nothing installed.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, TextStr};
use resvg::{tiny_skia, usvg};

use super::ExportError;
use super::draw::{FONT_BOLD, FONT_FAMILY, FONT_REGULAR};

/// The largest PNG side in pixels; larger drawings are scaled down to fit.
pub const PNG_SIDE_MAX_PX: u32 = 16_384;
/// The largest PNG area in pixels (about 256 MB of RGBA while rendering).
pub const PNG_AREA_MAX_PX: u64 = 64_000_000;
/// The largest PDF page side in points (the PDF format's own limit is 14,400).
const PDF_SIDE_MAX_PT: f32 = 14_400.0;

fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_font_data(FONT_REGULAR.to_vec());
            db.load_font_data(FONT_BOLD.to_vec());
            db.set_sans_serif_family(FONT_FAMILY);
            Arc::new(db)
        })
        .clone()
}

fn parse(svg: &str) -> Result<usvg::Tree, ExportError> {
    let options = usvg::Options {
        fontdb: fonts(),
        font_family: FONT_FAMILY.to_owned(),
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &options).map_err(|e| ExportError::Render(e.to_string()))
}

/// The scale that brings `width × height` within the PNG limits (1 when it already fits).
pub fn png_scale(width: f32, height: f32) -> f32 {
    let side = (PNG_SIDE_MAX_PX as f32 / width.max(height)).min(1.0);
    let area =
        ((PNG_AREA_MAX_PX as f64 / (f64::from(width) * f64::from(height))).sqrt() as f32).min(1.0);
    side.min(area)
}

pub fn png(svg: &str) -> Result<Vec<u8>, ExportError> {
    let tree = parse(svg)?;
    let size = tree.size();
    let scale = png_scale(size.width(), size.height());
    let width = (size.width() * scale).ceil().max(1.0) as u32;
    let height = (size.height() * scale).ceil().max(1.0) as u32;
    let mut pixmap = tiny_skia::Pixmap::new(width, height)
        .ok_or_else(|| ExportError::Render(format!("cannot allocate a {width}×{height} image")))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| ExportError::Render(e.to_string()))
}

/// One PDF page per SVG, each page the size of its drawing (in points, scaled down to the
/// PDF limit). Text stays text: selectable and searchable.
pub fn pdf(pages: &[String], title: &str) -> Result<Vec<u8>, ExportError> {
    let mut alloc = Ref::new(1);
    let catalog_id = alloc.bump();
    let page_tree_id = alloc.bump();
    let info_id = alloc.bump();
    let mut pdf = Pdf::new();
    let mut page_ids = Vec::with_capacity(pages.len());
    let drawing = Name(b"D");
    for svg in pages {
        let tree = parse(svg)?;
        let (chunk, drawing_id) = svg2pdf::to_chunk(&tree, svg2pdf::ConversionOptions::default())
            .map_err(|e| ExportError::Render(e.to_string()))?;
        let mut renumbered = HashMap::new();
        let chunk = chunk.renumber(|old| *renumbered.entry(old).or_insert_with(|| alloc.bump()));
        let drawing_id = renumbered[&drawing_id];
        let size = tree.size();
        let scale = (PDF_SIDE_MAX_PT / size.width().max(size.height())).min(1.0);
        let (width, height) = (size.width() * scale, size.height() * scale);
        let page_id = alloc.bump();
        let content_id = alloc.bump();
        page_ids.push(page_id);
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, width, height));
        page.parent(page_tree_id);
        page.contents(content_id);
        page.resources().x_objects().pair(drawing, drawing_id);
        page.finish();
        let mut content = Content::new();
        content
            .transform([width, 0.0, 0.0, height, 0.0, 0.0])
            .x_object(drawing);
        pdf.stream(content_id, &content.finish());
        pdf.extend(&chunk);
    }
    pdf.catalog(catalog_id).pages(page_tree_id);
    let count = page_ids.len() as i32;
    pdf.pages(page_tree_id).kids(page_ids).count(count);
    pdf.document_info(info_id)
        .title(TextStr(title))
        .producer(TextStr("Nouage"));
    Ok(pdf.finish())
}
