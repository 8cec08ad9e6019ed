//! The report as a workbook (one sheet for the summary and narrative, one
//! per table) and as an A4 landscape PDF with DejaVu Serif embedded, so
//! Vietnamese headings read right in any viewer.

use printpdf::{IndirectFontRef, Mm, PdfDocument, PdfDocumentReference, PdfLayerReference};

use super::figures::ProgressReport;
use super::tables::{heading, tables, Cell, Table};
use crate::platform::error::Failure;
use crate::platform::money::group_thousands;

pub fn xlsx(report: &ProgressReport) -> Result<Vec<u8>, Failure> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| Failure::internal(format!("cannot write XLSX: {e}"));
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(13);
    let grouped = Format::new().set_num_format("#,##0");
    let percent = Format::new().set_num_format("0.00");
    {
        let summary = workbook.add_worksheet();
        summary.set_name("Tổng hợp").map_err(fail)?;
        let mut row = 0u32;
        for (i, line) in heading(report).iter().enumerate() {
            let format = if i == 0 { &title } else { &bold };
            summary
                .write_string_with_format(row, 0, line, format)
                .map_err(fail)?;
            row += 1;
        }
        row += 1;
        summary
            .write_string_with_format(row, 0, "Tóm tắt", &bold)
            .map_err(fail)?;
        row += 1;
        for sentence in &report.narrative {
            summary.write_string(row, 0, sentence).map_err(fail)?;
            row += 1;
        }
        summary.set_column_width(0, 120).map_err(fail)?;
    }
    for table in tables(report) {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.sheet).map_err(fail)?;
        sheet
            .write_string_with_format(0, 0, &table.title, &title)
            .map_err(fail)?;
        for (c, name) in table.columns.iter().enumerate() {
            sheet
                .write_string_with_format(2, c as u16, *name, &bold)
                .map_err(fail)?;
        }
        for (r, cells) in table.rows.iter().enumerate() {
            let row = r as u32 + 3;
            for (c, cell) in cells.iter().enumerate() {
                let col = c as u16;
                match cell {
                    Cell::Text(text) => sheet.write_string(row, col, text),
                    Cell::Number(n) => {
                        sheet.write_number_with_format(row, col, *n as f64, &grouped)
                    }
                    Cell::Percent(p) => sheet.write_number_with_format(row, col, *p, &percent),
                }
                .map_err(fail)?;
            }
        }
        sheet.autofit();
    }
    workbook.save_to_buffer().map_err(fail)
}

/// A4 landscape, in millimetres.
const PAGE: (f32, f32) = (297.0, 210.0);
const MARGIN: f32 = 15.0;
const PT_TO_MM: f32 = 0.3528;

/// A cursor down the pages: starts a new page when the next line would
/// fall off this one.
struct Writer {
    doc: PdfDocumentReference,
    layer: PdfLayerReference,
    regular: IndirectFontRef,
    bold: IndirectFontRef,
    y: f32,
}

impl Writer {
    fn room_for(&mut self, mm: f32) {
        if self.y - mm < MARGIN {
            let (page, layer) = self.doc.add_page(Mm(PAGE.0), Mm(PAGE.1), "report");
            self.layer = self.doc.get_page(page).get_layer(layer);
            self.y = PAGE.1 - MARGIN;
        }
    }

    fn line(&mut self, text: &str, size: f32, bold: bool, x: f32) {
        self.room_for(size * PT_TO_MM * 1.6);
        let font = if bold { &self.bold } else { &self.regular };
        self.layer.use_text(text, size, Mm(x), Mm(self.y), font);
        self.y -= size * PT_TO_MM * 1.6;
    }

    /// A paragraph wrapped at about `width` letters.
    fn paragraph(&mut self, text: &str, size: f32, width: usize) {
        let mut line = String::new();
        for word in text.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                self.line(&line, size, false, MARGIN);
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            self.line(&line, size, false, MARGIN);
        }
    }

    /// A table: the first column wide, the numbers right-aligned by an
    /// estimate of their width (DejaVu Serif digits are ~0.64 em).
    fn table(&mut self, table: &Table) {
        let size = 8.5;
        let row_height = size * PT_TO_MM * 1.7;
        self.room_for(row_height * 4.0);
        self.y -= 2.0;
        self.line(&table.title, 11.0, true, MARGIN);
        let columns = table.columns.len().max(1);
        let usable = PAGE.0 - 2.0 * MARGIN;
        let first = (usable * 0.28).max(50.0);
        let other = (usable - first) / (columns.saturating_sub(1).max(1)) as f32;
        let left_of = |c: usize| {
            if c == 0 {
                MARGIN
            } else {
                MARGIN + first + other * (c - 1) as f32
            }
        };
        let header_lines: Vec<Vec<String>> = table
            .columns
            .iter()
            .enumerate()
            .map(|(c, name)| wrap(name, if c == 0 { 40 } else { (other / 2.0) as usize }))
            .collect();
        let depth = header_lines.iter().map(Vec::len).max().unwrap_or(1);
        self.room_for(row_height * (depth + 1) as f32);
        for line in 0..depth {
            for (c, lines) in header_lines.iter().enumerate() {
                if let Some(text) = lines.get(line) {
                    self.layer.use_text(
                        text.as_str(),
                        size,
                        Mm(left_of(c)),
                        Mm(self.y),
                        &self.bold,
                    );
                }
            }
            self.y -= row_height;
        }
        for cells in &table.rows {
            self.room_for(row_height);
            for (c, cell) in cells.iter().enumerate() {
                let text = match cell {
                    Cell::Text(t) => t.chars().take(48).collect(),
                    Cell::Number(n) => group_thousands(*n),
                    Cell::Percent(p) => format!("{p:.2}").replace('.', ","),
                };
                let x = match cell {
                    Cell::Text(_) => left_of(c),
                    _ => {
                        let width = text.chars().count() as f32 * size * 0.64 * PT_TO_MM;
                        (left_of(c) + other - 4.0 - width).max(left_of(c))
                    }
                };
                self.layer
                    .use_text(text.as_str(), size, Mm(x), Mm(self.y), &self.regular);
            }
            self.y -= row_height;
        }
        self.y -= 3.0;
    }
}

/// Words of a heading on lines of about `width` letters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width.max(6) {
            lines.push(word.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

pub fn pdf(report: &ProgressReport) -> Result<Vec<u8>, Failure> {
    static REGULAR: &[u8] = include_bytes!("../../../data/fonts/DejaVuSerif.ttf");
    static BOLD: &[u8] = include_bytes!("../../../data/fonts/DejaVuSerif-Bold.ttf");
    let failed = |e: printpdf::Error| Failure::internal(format!("pdf: {e}"));
    let (doc, page, layer) = PdfDocument::new("Bao cao tien do", Mm(PAGE.0), Mm(PAGE.1), "report");
    let regular = doc.add_external_font(REGULAR).map_err(failed)?;
    let bold = doc.add_external_font(BOLD).map_err(failed)?;
    let layer = doc.get_page(page).get_layer(layer);
    let mut writer = Writer {
        doc,
        layer,
        regular,
        bold,
        y: PAGE.1 - MARGIN,
    };
    for (i, line) in heading(report).iter().enumerate() {
        if i == 0 {
            writer.line(line, 14.0, true, MARGIN);
        } else {
            writer.line(line, 10.5, false, MARGIN);
        }
    }
    writer.y -= 3.0;
    writer.line("Tóm tắt", 11.0, true, MARGIN);
    for sentence in &report.narrative {
        writer.paragraph(sentence, 10.0, 140);
    }
    for table in tables(report) {
        writer.table(&table);
    }
    writer.doc.save_to_bytes().map_err(failed)
}
