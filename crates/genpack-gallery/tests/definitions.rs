//! Every template's definition is valid for every architecture it claims and
//! every variant it has, as the build will see it.

use std::path::Path;

use genpack_def::{Arch, Project};
use genpack_gallery::Gallery;

#[test]
fn every_template_definition_validates_for_each_arch_and_variant() {
    let gallery =
        Gallery::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")).unwrap();
    let mut problems = Vec::new();
    let mut builds = 0;
    for template in gallery.templates() {
        let project =
            Project::load(&template.dir).unwrap_or_else(|err| panic!("{}: {err}", template.id));
        for diagnostic in &project.diagnostics {
            // Warnings are shown too: a template should be spotless.
            problems.push(diagnostic.to_string());
        }
        if project.has_errors() {
            continue;
        }
        let variants: Vec<Option<&str>> = std::iter::once(None)
            .chain(project.definition.variants.keys().map(|v| Some(v.as_str())))
            .collect();
        for arch_name in &template.meta.arches {
            let arch: Arch = arch_name
                .parse()
                .unwrap_or_else(|_| panic!("{}: unknown arch {arch_name}", template.id));
            for variant in &variants {
                match project.effective(arch, *variant) {
                    Ok(effective) => {
                        builds += 1;
                        assert_eq!(effective.name, template.id);
                        assert!(!effective.packages.is_empty(), "{}", template.id);
                    }
                    Err(err) => problems.push(format!(
                        "{} ({arch_name}, variant {variant:?}): {err}",
                        template.id
                    )),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        builds >= 25,
        "only {builds} arch/variant combinations checked"
    );
}
