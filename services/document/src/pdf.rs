//! PDF output: pages of positioned text and simple shapes, written with lopdf. Text is set in
//! the embedded fonts as Type 0 fonts with Identity-H encoding: each document carries only the
//! glyphs it uses (a subset made per document) and a ToUnicode map, so that every character
//! renders and copies out exactly.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::ZlibEncoder;
use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};
use sha2::{Digest as _, Sha256};
use subsetter::GlyphRemapper;

use crate::fonts::{FontFace, Fonts, Weight};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;

/// An RGB colour, each part 0 to 1.
pub type Colour = [f32; 3];

/// What is drawn on a page, in PDF coordinates (points, origin bottom left).
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    Text {
        weight: Weight,
        size: f32,
        x: f32,
        y: f32,
        colour: Colour,
        text: String,
    },
    /// A filled rectangle.
    Fill {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        colour: Colour,
    },
    /// A stroked rectangle.
    Frame {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        line_width: f32,
        colour: Colour,
    },
}

/// Document information.
pub struct Info<'a> {
    pub title: &'a str,
    pub author: &'a str,
    pub subject: &'a str,
    pub created: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font subsetting failed: {0}")]
    Subset(String),
    #[error("PDF writing failed: {0}")]
    Write(String),
}

/// A font as used by one document: its subset and the new glyph id of each old one.
struct UsedFont<'a> {
    face: &'a FontFace,
    resource: &'static str,
    remapper: GlyphRemapper,
    /// New glyph id → the character it shows.
    characters: BTreeMap<u16, char>,
}

impl<'a> UsedFont<'a> {
    fn new(face: &'a FontFace, resource: &'static str, used: &BTreeSet<char>) -> Self {
        let glyphs: Vec<u16> = used
            .iter()
            .map(|c| face.glyph(*c))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let remapper = GlyphRemapper::new_from_glyphs_sorted(&glyphs);
        let characters = used
            .iter()
            .filter_map(|c| remapper.get(face.glyph(*c)).map(|g| (g, *c)))
            .filter(|(g, _)| *g != 0)
            .collect();
        Self {
            face,
            resource,
            remapper,
            characters,
        }
    }

    /// The text as big-endian new glyph ids.
    fn encode(&self, text: &str) -> Vec<u8> {
        text.chars()
            .flat_map(|c| {
                self.remapper
                    .get(self.face.glyph(c))
                    .unwrap_or(0)
                    .to_be_bytes()
            })
            .collect()
    }
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    // Fast compression: documents are made on demand, and the font subsets dominate their size.
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 2), Compression::fast());
    encoder
        .write_all(data)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    encoder.finish().map_err(|e| PdfError::Write(e.to_string()))
}

fn compressed_stream(dict: Dictionary, data: &[u8]) -> Result<Stream, PdfError> {
    let mut dict = dict;
    dict.set("Filter", "FlateDecode");
    Ok(Stream::new(dict, deflate(data)?).with_compression(false))
}

/// A six-letter tag naming the subset, as the PDF specification asks (`ABCDEF+Name`).
fn subset_tag(characters: &BTreeMap<u16, char>) -> String {
    let mut hasher = Sha256::new();
    for c in characters.values() {
        hasher.update(u32::from(*c).to_be_bytes());
    }
    hasher
        .finalize()
        .iter()
        .take(6)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

/// A CMap from the subset's glyph ids to Unicode, so that text extraction gives the characters.
fn to_unicode(characters: &BTreeMap<u16, char>) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = characters.iter().collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for (glyph, c) in chunk {
            let utf16: String = c
                .encode_utf16(&mut [0; 2])
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{glyph:04X}> <{utf16}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap
}

/// Adds a Type 0 font (CIDFontType2, Identity-H) with its subset and ToUnicode map.
fn add_font(doc: &mut Document, font: &UsedFont<'_>) -> Result<ObjectId, PdfError> {
    let face = font.face;
    let subset = subsetter::subset(face.data, 0, &font.remapper)
        .map_err(|e| PdfError::Subset(format!("{e:?}")))?;
    let name = format!("{}+{}", subset_tag(&font.characters), face.name);
    let font_file = doc.add_object(compressed_stream(
        dictionary! { "Length1" => i64::try_from(subset.len()).unwrap_or(i64::MAX) },
        &subset,
    )?);
    let descriptor = doc.add_object(dictionary! {
        "Type" => "FontDescriptor",
        "FontName" => Object::Name(name.clone().into_bytes()),
        "Flags" => 32,
        "FontBBox" => face.bbox.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
        "ItalicAngle" => 0,
        "Ascent" => Object::Real(face.ascent),
        "Descent" => Object::Real(face.descent),
        "CapHeight" => Object::Real(face.cap_height),
        "StemV" => 80,
        "FontFile2" => font_file,
    });
    let gids: Vec<u16> = font.remapper.remapped_gids().collect();
    let widths: Vec<Object> = gids
        .iter()
        .map(|old| Object::Real(face.advance(*old).round()))
        .collect();
    let descendant = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "CIDFontType2",
        "BaseFont" => Object::Name(name.clone().into_bytes()),
        "CIDSystemInfo" => dictionary! {
            "Registry" => Object::string_literal("Adobe"),
            "Ordering" => Object::string_literal("Identity"),
            "Supplement" => 0,
        },
        "FontDescriptor" => descriptor,
        "W" => vec![Object::Integer(0), Object::Array(widths)],
        "CIDToGIDMap" => "Identity",
    });
    let to_unicode = doc.add_object(compressed_stream(
        Dictionary::new(),
        to_unicode(&font.characters).as_bytes(),
    )?);
    Ok(doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type0",
        "BaseFont" => Object::Name(name.into_bytes()),
        "Encoding" => "Identity-H",
        "DescendantFonts" => vec![Object::Reference(descendant)],
        "ToUnicode" => to_unicode,
    }))
}

fn number(value: f32) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    format!("{rounded}")
}

fn colour(c: Colour, operator: &str) -> String {
    format!(
        "{} {} {} {operator}",
        number(c[0]),
        number(c[1]),
        number(c[2])
    )
}

/// The content stream of one page.
fn content(marks: &[Mark], fonts: &BTreeMap<Weight, UsedFont<'_>>) -> String {
    let mut out = String::new();
    for mark in marks {
        match mark {
            Mark::Fill {
                x,
                y,
                width,
                height,
                colour: c,
            } => {
                let _ = writeln!(
                    out,
                    "q {} {} {} {} {} re f Q",
                    colour(*c, "rg"),
                    number(*x),
                    number(*y),
                    number(*width),
                    number(*height)
                );
            }
            Mark::Frame {
                x,
                y,
                width,
                height,
                line_width,
                colour: c,
            } => {
                let _ = writeln!(
                    out,
                    "q {} {} w {} {} {} {} re S Q",
                    colour(*c, "RG"),
                    number(*line_width),
                    number(*x),
                    number(*y),
                    number(*width),
                    number(*height)
                );
            }
            Mark::Text {
                weight,
                size,
                x,
                y,
                colour: c,
                text,
            } => {
                let Some(font) = fonts.get(weight) else {
                    continue;
                };
                let hex: String = font
                    .encode(text)
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "BT {} /{} {} Tf {} {} Td <{hex}> Tj ET",
                    colour(*c, "rg"),
                    font.resource,
                    number(*size),
                    number(*x),
                    number(*y)
                );
            }
        }
    }
    out
}

/// The PDF's date form, e.g. `D:20261129203000Z`.
fn pdf_date(time: DateTime<Utc>) -> String {
    time.format("D:%Y%m%d%H%M%SZ").to_string()
}

/// Writes the pages as one PDF.
pub fn render(fonts: &Fonts, pages: &[Vec<Mark>], info: &Info<'_>) -> Result<Vec<u8>, PdfError> {
    let mut used: BTreeMap<Weight, BTreeSet<char>> = BTreeMap::new();
    for mark in pages.iter().flatten() {
        if let Mark::Text { weight, text, .. } = mark {
            used.entry(*weight).or_default().extend(text.chars());
        }
    }
    let used_fonts: BTreeMap<Weight, UsedFont<'_>> = used
        .iter()
        .map(|(weight, chars)| {
            let resource = match weight {
                Weight::Regular => "F1",
                Weight::Bold => "F2",
            };
            (*weight, UsedFont::new(fonts.face(*weight), resource, chars))
        })
        .collect();

    let mut doc = Document::with_version("1.7");
    let mut font_resources = Dictionary::new();
    for font in used_fonts.values() {
        let id = add_font(&mut doc, font)?;
        font_resources.set(font.resource, id);
    }
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for marks in pages {
        let contents = doc.add_object(compressed_stream(
            Dictionary::new(),
            content(marks, &used_fonts).as_bytes(),
        )?);
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(PAGE_WIDTH), Object::Real(PAGE_HEIGHT)],
            "Contents" => contents,
            "Resources" => dictionary! { "Font" => font_resources.clone() },
        });
        kids.push(Object::Reference(page));
    }
    let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Lang" => Object::string_literal("en-GB"),
    });
    let text = |s: &str| {
        let utf16: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(s.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        Object::String(utf16, StringFormat::Hexadecimal)
    };
    let info_id = doc.add_object(dictionary! {
        "Title" => text(info.title),
        "Author" => text(info.author),
        "Subject" => text(info.subject),
        "Creator" => text("DQT Teacher Self-Service Portal"),
        "Producer" => text("portal-document (lopdf)"),
        "CreationDate" => Object::string_literal(pdf_date(info.created)),
    });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::with_capacity(32 * 1024);
    doc.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}
