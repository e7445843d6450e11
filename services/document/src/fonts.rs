//! The typefaces of every document: DejaVu Sans, regular and bold, parsed once at start. Its
//! Latin coverage reaches every name the register holds (Zoë, Łukasiewicz, O'Súilleabháin,
//! Şahin, Nguyễn).

use ttf_parser::{Face, GlyphId};

/// A parsed TrueType face and the metrics a PDF needs, in 1/1000 em.
pub struct FontFace {
    /// PostScript name, as the PDF names the font.
    pub name: &'static str,
    /// The whole font file, which each document subsets.
    pub data: &'static [u8],
    face: Face<'static>,
    scale: f32,
    pub ascent: f32,
    pub descent: f32,
    pub cap_height: f32,
    pub bbox: [f32; 4],
}

impl FontFace {
    fn parse(
        name: &'static str,
        data: &'static [u8],
    ) -> Result<Self, ttf_parser::FaceParsingError> {
        let face = Face::parse(data, 0)?;
        let scale = 1000.0 / f32::from(face.units_per_em());
        let bbox = face.global_bounding_box();
        Ok(Self {
            name,
            data,
            scale,
            ascent: f32::from(face.ascender()) * scale,
            descent: f32::from(face.descender()) * scale,
            cap_height: f32::from(face.capital_height().unwrap_or(face.ascender())) * scale,
            bbox: [
                f32::from(bbox.x_min) * scale,
                f32::from(bbox.y_min) * scale,
                f32::from(bbox.x_max) * scale,
                f32::from(bbox.y_max) * scale,
            ],
            face,
        })
    }

    /// The glyph of a character; `.notdef` (0) when the font has none.
    pub fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    /// A glyph's advance width in 1/1000 em.
    pub fn advance(&self, glyph: u16) -> f32 {
        f32::from(self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0)) * self.scale
    }

    /// The width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }
}

/// Regular or bold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    Regular,
    Bold,
}

/// Both faces.
pub struct Fonts {
    regular: FontFace,
    bold: FontFace,
}

impl Fonts {
    pub fn load() -> Result<Self, ttf_parser::FaceParsingError> {
        let [(regular, regular_data), (bold, bold_data)] = portal_common::printable::font_files();
        Ok(Self {
            regular: FontFace::parse(regular, regular_data)?,
            bold: FontFace::parse(bold, bold_data)?,
        })
    }

    pub fn face(&self, weight: Weight) -> &FontFace {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_latin_name_has_its_glyphs() {
        let fonts = Fonts::load().unwrap();
        for weight in [Weight::Regular, Weight::Bold] {
            let face = fonts.face(weight);
            for c in "Zoë Łukasiewicz O'Súilleabháin Şahin Nguyễn Ó Briain Dvořák Øystein".chars()
            {
                assert_ne!(face.glyph(c), 0, "{c:?} in {weight:?}");
            }
            assert!(face.width("Nguyễn", 10.0) > 20.0);
        }
    }
}
