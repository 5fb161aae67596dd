use genpack_ini::{Document, DEFAULT_SECTION};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[#;][ -~]{0,12}",
        "[a-z_]{1,8} ?[=:] ?[ -~&&[^%]]{0,12}",
        "[ \t]{1,3}[a-zA-Z0-9 ]{1,10}",
        "\\[[a-z]{1,6}\\]",
        "[a-zäö]{1,5} = [äöü€ 🌍]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_text_round_trips(lines in prop::collection::vec(line(), 0..12), crlf in any::<bool>(), final_newline in any::<bool>()) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let mut text = lines.join(sep);
        if final_newline { text.push_str(sep); }
        let doc = Document::parse_lenient(&text);
        prop_assert_eq!(doc.to_string(), text);
    }

    #[test]
    fn set_then_get_returns_the_value(
        lines in prop::collection::vec(line(), 0..10),
        key in "[a-z][a-z_]{0,7}",
        value in "[ -~]{0,20}(\n[a-zA-Z0-9%][ -~]{0,10}){0,2}",
    ) {
        let text = lines.join("\n");
        let mut doc = Document::parse_lenient(&text);
        let other_before: Vec<_> = doc.sections().iter()
            .flat_map(|s| doc.entries(s).into_iter().map(move |e| (s.clone(), e.key.to_lowercase(), e.value)))
            .filter(|(s, k, _)| !(s == DEFAULT_SECTION && *k == key))
            .collect();
        if doc.set(DEFAULT_SECTION, &key, &value).is_ok() {
            let expected: Vec<&str> = value.split('\n').map(str::trim).collect();
            let joined = expected.join("\n");
            prop_assert_eq!(doc.get(DEFAULT_SECTION, &key).unwrap(), joined.trim_end());
            let reparsed = Document::parse_lenient(&doc.to_string());
            prop_assert_eq!(reparsed.get(DEFAULT_SECTION, &key), doc.get(DEFAULT_SECTION, &key));
            let other_after: Vec<_> = doc.sections().iter()
                .flat_map(|s| doc.entries(s).into_iter().map(move |e| (s.clone(), e.key.to_lowercase(), e.value)))
                .filter(|(s, k, _)| !(s == DEFAULT_SECTION && *k == key))
                .collect();
            prop_assert_eq!(other_before, other_after);
            prop_assert!(!doc.to_string().contains("[_default]"));
        }
    }
}
