//! What text the register keeps and its documents can print: Unicode NFC (so that "Zoë" typed
//! as `e` + U+0308 is the same name as the composed one), nothing invisible (bidirectional
//! controls, zero-width and other format characters could make two names that look the same
//! differ, or a name read differently from how it is stored), and for names only characters
//! the document fonts (DejaVu Sans, regular and bold) draw, written left to right.

use std::sync::OnceLock;

use unicode_bidi::{BidiClass, bidi_class};

use unicode_normalization::UnicodeNormalization as _;

/// What a field holding something invisible is told.
pub const INVISIBLE: &str = "must not contain control characters or invisible formatting \
                             characters (such as zero-width spaces or direction marks)";

/// The typefaces of every document: DejaVu Sans regular and bold, as TrueType files.
pub fn font_files() -> [(&'static str, &'static [u8]); 2] {
    [
        ("DejaVuSans", dejavu::sans::regular()),
        ("DejaVuSans-Bold", dejavu::sans::bold()),
    ]
}

/// `input` in Unicode Normalization Form C.
pub fn nfc(input: &str) -> String {
    input.nfc().collect()
}

/// Whether `c` shows nothing by itself or changes how the text around it shows: control
/// characters, format characters (zero-width spaces and joiners, the soft hyphen, the byte
/// order mark), bidirectional marks, embeddings, overrides and isolates, line and paragraph
/// separators, variation selectors and the Hangul fillers.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            bidi_class(c),
            BidiClass::BN
                | BidiClass::LRE
                | BidiClass::LRO
                | BidiClass::RLE
                | BidiClass::RLO
                | BidiClass::PDF
                | BidiClass::LRI
                | BidiClass::RLI
                | BidiClass::FSI
                | BidiClass::PDI
        )
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{FFA0}'
                | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{E0100}'..='\u{E01EF}'
        )
}

/// Whether `c` may stand in a person's name: a letter, a mark that goes with one, a space, an
/// apostrophe, a hyphen or a full stop.
pub fn is_name_character(c: char) -> bool {
    c.is_alphabetic()
        || unicode_normalization::char::is_combining_mark(c)
        || matches!(
            c,
            ' ' | '\'' | '-' | '.' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}'
        )
}

/// Whether any character of `text` is invisible ([`is_invisible`]).
pub fn has_invisible(text: &str) -> bool {
    text.chars().any(is_invisible)
}

/// Whether the documents can print `c`: a character of the Latin, Greek or Cyrillic
/// alphabets (with their accents), the alphabets names on UK identity documents are written in,
/// which both faces draw. Other scripts would need faces the documents do not carry, and
/// right-to-left ones a shaping engine they do not have.
pub fn is_printable(c: char) -> bool {
    static FACES: OnceLock<Vec<ttf_parser::Face<'static>>> = OnceLock::new();
    let faces = FACES.get_or_init(|| {
        font_files()
            .into_iter()
            .filter_map(|(_, data)| ttf_parser::Face::parse(data, 0).ok())
            .collect()
    });
    let alphabet = matches!(
        c,
        ' '..='\u{024F}'           // Basic Latin, Latin-1, Latin Extended-A and -B
            | '\u{02BC}'           // modifier letter apostrophe
            | '\u{0300}'..='\u{036F}' // combining accents
            | '\u{0370}'..='\u{03FF}' // Greek
            | '\u{0400}'..='\u{052F}' // Cyrillic and its supplement
            | '\u{1E00}'..='\u{1FFF}' // Latin Extended Additional, Greek Extended
            | '\u{2018}'..='\u{2019}' // curly apostrophes
    );
    alphabet && !faces.is_empty() && faces.iter().all(|face| face.glyph_index(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decomposed_name_composes() {
        assert_eq!(nfc("Zoe\u{0308}"), "Zoë");
        assert_eq!(nfc("Zoë"), "Zoë");
    }

    #[test]
    fn invisible_characters_are_found_and_visible_ones_are_not() {
        for c in [
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{00AD}',
            '\u{FEFF}',
            '\u{2060}',
            '\u{0007}',
            '\u{2028}',
            '\u{FE0F}',
            '\u{3164}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for c in "Zoë O'Brien-Łukasiewicz Nguyễn Ó Briain Şahin Дмитрий Ἀθηνᾶ 12 Flat 3".chars()
        {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn the_documents_print_latin_greek_and_cyrillic_but_not_cjk_or_right_to_left() {
        for c in "Zoë Łukasiewicz O'Súilleabháin Şahin Nguyễn Dvořák Øystein Дмитрий Ἀθηνᾶ".chars()
        {
            assert!(is_printable(c), "{c:?}");
        }
        for c in ['张', '伟', 'ア', '한', 'א', 'م', '\u{1F9EC}', 'ᙶ'] {
            assert!(!is_printable(c), "U+{:04X}", u32::from(c));
        }
    }
}
