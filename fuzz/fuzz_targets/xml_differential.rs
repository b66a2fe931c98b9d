//! The strict XML decoder against an independent XML 1.0 parser (roxmltree): every document it
//! accepts must be well-formed XML to roxmltree too, with the same fields and values (the root's element children, each one's text, entities and CDATA resolved). The decoder
//! refuses more than XML does (DOCTYPE, nesting, attributes, long names), never less.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(fields) = wxpay::xml::decode(data) else {
        return;
    };
    let text = std::str::from_utf8(data).expect("the decoder accepts only UTF-8");
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let document = match roxmltree::Document::parse(text) {
        Ok(document) => document,
        Err(error) => panic!("accepted a document XML refuses ({error}): {text:?}"),
    };
    let mut theirs: Vec<(String, String)> = document
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .map(|field| {
            let value: String = field
                .children()
                .filter(roxmltree::Node::is_text)
                .filter_map(|t| t.text())
                .collect();
            (field.tag_name().name().to_owned(), value)
        })
        .collect();
    // The decoder keeps fields by name (it refuses a name twice).
    theirs.sort();
    let ours: Vec<(String, String)> = fields
        .iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    assert_eq!(ours, theirs, "{text:?}");
});
