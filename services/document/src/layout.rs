//! A small flow composer: lines and wrapped paragraphs set from the top of an A4 page down,
//! breaking to a new page when one is full, on pages that share one frame.

use crate::fonts::{Fonts, Weight};
use crate::pdf::{Colour, Mark, PAGE_HEIGHT, PAGE_WIDTH};

pub const INK: Colour = [0.043, 0.047, 0.047];
pub const MUTED: Colour = [0.31, 0.34, 0.36];
pub const ACCENT: Colour = [0.114, 0.439, 0.722];
pub const WHITE: Colour = [1.0, 1.0, 1.0];

const MARGIN: f32 = 56.0;
/// Room kept at the foot of every page for the issue and verification block.
const FOOTER: f32 = 150.0;
const BAND: f32 = 64.0;

pub struct Composer<'a> {
    fonts: &'a Fonts,
    pages: Vec<Vec<Mark>>,
    y: f32,
    /// What each [`Composer::space`] is multiplied by: below 1 to fit a long document.
    spacing: f32,
}

impl<'a> Composer<'a> {
    pub fn new(fonts: &'a Fonts) -> Self {
        let mut composer = Self {
            fonts,
            pages: Vec::new(),
            y: 0.0,
            spacing: 1.0,
        };
        composer.new_page();
        composer
    }

    pub fn width(&self) -> f32 {
        PAGE_WIDTH - 2.0 * MARGIN
    }

    fn marks(&mut self) -> &mut Vec<Mark> {
        // There is always a page: `new` makes the first.
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// A page with the frame and the issuer's band across the top.
    fn new_page(&mut self) {
        self.pages.push(vec![
            Mark::Frame {
                x: 24.0,
                y: 24.0,
                width: PAGE_WIDTH - 48.0,
                height: PAGE_HEIGHT - 48.0,
                line_width: 1.5,
                colour: ACCENT,
            },
            Mark::Fill {
                x: 24.0,
                y: PAGE_HEIGHT - 24.0 - BAND,
                width: PAGE_WIDTH - 48.0,
                height: BAND,
                colour: ACCENT,
            },
        ]);
        self.y = PAGE_HEIGHT - 24.0 - 28.0;
        self.text_at(
            Weight::Bold,
            15.0,
            WHITE,
            MARGIN,
            "Department for Education",
        );
        self.y -= 18.0;
        self.text_at(
            Weight::Regular,
            10.0,
            WHITE,
            MARGIN,
            "Database of Qualified Teachers",
        );
        self.y = PAGE_HEIGHT - 24.0 - BAND - 48.0;
    }

    fn text_at(&mut self, weight: Weight, size: f32, colour: Colour, x: f32, text: &str) {
        let y = self.y;
        self.marks().push(Mark::Text {
            weight,
            size,
            x,
            y,
            colour,
            text: text.to_owned(),
        });
    }

    /// Moves down, to a new page when this one has no room for `needed` more points.
    fn advance(&mut self, step: f32) {
        if self.y - step < MARGIN + FOOTER {
            self.new_page();
        } else {
            self.y -= step;
        }
    }

    /// The same composer with the space between blocks scaled by `factor`.
    pub fn spaced(mut self, factor: f32) -> Self {
        self.spacing = factor;
        self
    }

    pub fn space(&mut self, points: f32) {
        self.y -= points * self.spacing;
    }

    /// Wrapped text, each line `1.35 × size` below the last.
    pub fn paragraph(&mut self, weight: Weight, size: f32, colour: Colour, text: &str) {
        self.paragraph_at(weight, size, colour, 0.0, text);
    }

    /// A paragraph indented by `indent` points.
    pub fn paragraph_at(
        &mut self,
        weight: Weight,
        size: f32,
        colour: Colour,
        indent: f32,
        text: &str,
    ) {
        let width = self.width() - indent;
        for line in self.wrap(weight, size, width, text) {
            self.advance(size * 1.35);
            self.text_at(weight, size, colour, MARGIN + indent, &line);
        }
    }

    /// A label and its value on one line, the value in bold from a fixed column.
    pub fn field(&mut self, label: &str, value: &str) {
        self.field_sized(label, value, 11.0);
    }

    /// [`Self::field`] with its value set at `size` points.
    pub fn field_sized(&mut self, label: &str, value: &str, size: f32) {
        let label_size = 11.0;
        self.advance(label_size * 1.6);
        self.text_at(Weight::Regular, label_size, MUTED, MARGIN, label);
        let column = 190.0;
        let lines = self.wrap(Weight::Bold, size, self.width() - column, value);
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                self.advance(size * 1.35);
            }
            self.text_at(Weight::Bold, size, INK, MARGIN + column, line);
        }
    }

    /// Breaks text into lines no wider than `width`; a word too long for a line is broken.
    fn wrap(&self, weight: Weight, size: f32, width: f32, text: &str) -> Vec<String> {
        let face = self.fonts.face(weight);
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if face.width(&candidate, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            for c in word.chars() {
                line.push(c);
                if face.width(&line, size) > width {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// The block at the foot of the first page (kept free on every page): who issued the
    /// document, when, and how to check it, on the page everyone reads.
    pub fn footer(&mut self, lines: &[(Weight, f32, Colour, String)]) {
        let later_pages = self.pages.split_off(1);
        let y = self.y;
        self.y = MARGIN + FOOTER - 38.0;
        let left = MARGIN;
        self.marks().push(Mark::Fill {
            x: left - 12.0,
            y: MARGIN - 8.0,
            width: PAGE_WIDTH - 2.0 * left + 24.0,
            height: FOOTER - 8.0,
            colour: [0.95, 0.95, 0.96],
        });
        for (weight, size, colour, text) in lines {
            for line in self.wrap(*weight, *size, self.width(), text) {
                self.text_at(*weight, *size, *colour, left, &line);
                self.y -= size * 1.4;
            }
            self.y -= 6.0;
        }
        self.pages.extend(later_pages);
        self.y = y;
    }

    pub fn finish(self) -> Vec<Vec<Mark>> {
        self.pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pages: &[Vec<Mark>]) -> Vec<String> {
        pages
            .iter()
            .flatten()
            .filter_map(|m| match m {
                Mark::Text { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn paragraphs_wrap_within_the_page_and_keep_every_word() {
        let fonts = Fonts::load().unwrap();
        let mut c = Composer::new(&fonts);
        let words = "Łukasiewicz ".repeat(60);
        c.paragraph(Weight::Regular, 12.0, INK, &words);
        let width = c.width();
        let pages = c.finish();
        let lines: Vec<String> = texts(&pages).into_iter().skip(2).collect();
        assert!(lines.len() > 5);
        for line in &lines {
            assert!(fonts.face(Weight::Regular).width(line, 12.0) <= width);
        }
        assert_eq!(lines.join(" ").split(' ').count(), 60);
    }

    #[test]
    fn a_long_text_flows_onto_new_pages_and_the_footer_stays_on_the_first() {
        let fonts = Fonts::load().unwrap();
        let mut c = Composer::new(&fonts);
        for i in 0..80 {
            c.field(&format!("Line {i}"), "value");
        }
        c.footer(&[(Weight::Bold, 13.0, INK, "Verification code: X".to_owned())]);
        let pages = c.finish();
        assert!(pages.len() >= 2);
        assert!(texts(&pages).contains(&"Line 79".to_owned()));
        assert!(texts(&pages[..1]).contains(&"Verification code: X".to_owned()));
    }
}
