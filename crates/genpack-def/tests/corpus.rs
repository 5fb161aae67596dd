//! Every real-world definition loads cleanly, merges for each of its architectures and
//! variants, and survives a round trip through the editor.

mod common;

use common::{corpus_dir, corpus_folders};
use genpack_def::edit::Document;
use genpack_def::{Arch, Compression, Project, Severity};
use serde_json::json;

#[test]
fn every_corpus_definition_loads_without_errors_and_merges() {
    let mut builds = 0;
    for folder in corpus_folders() {
        let project = Project::load(&folder).unwrap_or_else(|e| panic!("{e}"));
        let errors: Vec<String> = project.errors().map(ToString::to_string).collect();
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            folder.display(),
            errors.join("\n")
        );

        let definition = &project.definition;
        let mut variants: Vec<Option<&str>> = vec![None];
        variants.extend(definition.variant_names().into_iter().map(Some));
        for arch in definition.arch_names() {
            for variant in &variants {
                let build = project
                    .effective(arch, *variant)
                    .unwrap_or_else(|e| panic!("{} {arch} {variant:?}: {e}", folder.display()));
                assert_eq!(build.arch, arch);
                assert!(
                    !build.packages.is_empty(),
                    "{} has no packages",
                    folder.display()
                );
                assert!(build.outfile.ends_with(".squashfs"));
                builds += 1;
            }
        }
    }
    // 7 definitions; gnome names 2 arches and 1 variant, torch 4 arches and 1 variant, ...
    assert!(builds >= 7 * 2, "only {builds} builds were checked");
}

#[test]
fn corpus_details_come_out_as_written() {
    let dir = corpus_dir();

    let gnome = Project::load(&dir.join("gnome")).unwrap();
    assert_eq!(gnome.definition.arch_names(), [Arch::X86_64, Arch::I686]);
    let plain = gnome.effective(Arch::X86_64, None).unwrap();
    assert!(plain
        .packages
        .iter()
        .any(|p| p == "x11-drivers/nvidia-drivers"));
    assert_eq!(
        plain.services,
        [
            "gdm",
            "NetworkManager",
            "bluetooth",
            "systemd-homed",
            "snapd"
        ]
    );
    let paravirt = gnome.effective(Arch::X86_64, Some("paravirt")).unwrap();
    // The variant removes what the x86_64 block added.
    assert!(!paravirt
        .packages
        .iter()
        .any(|p| p == "x11-drivers/nvidia-drivers"));
    assert!(!paravirt.packages.iter().any(|p| p == "net-wireless/iw"));
    assert!(paravirt
        .packages
        .iter()
        .any(|p| p == "app-emulation/spice-vdagent"));
    assert_eq!(
        paravirt.use_flags["media-libs/mesa"].as_deref(),
        Some("vulkan VIDEO_CARDS: -intel -nouveau -radeon -radeonsi lavapipe virgl zink")
    );
    assert_eq!(paravirt.outfile, "gnome-paravirt-x86_64.squashfs");
    assert_eq!(paravirt.compression, Compression::Xz);
    assert_eq!(
        gnome.effective(Arch::I686, None).unwrap().use_flags["dev-lang/rust-bin"].as_deref(),
        Some("CPU_FLAGS_X86: sse2")
    );

    let vpnhub = Project::load(&dir.join("vpnhub")).unwrap();
    let build = vpnhub.effective(Arch::X86_64, None).unwrap();
    assert_eq!(build.outfile, "vpnhub.squashfs");
    assert_eq!(
        build
            .packages
            .iter()
            .filter(|p| *p == "dev-db/mysql")
            .count(),
        1
    );
    assert!(vpnhub
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Warning
            && d.message.contains("`dev-db/mysql` is listed twice")));

    let camera = Project::load(&dir.join("camera")).unwrap();
    let build = camera.effective(Arch::X86_64, None).unwrap();
    assert_eq!(build.name, "camera");
    let user = serde_json::to_value(&build.users[0]).unwrap();
    assert_eq!(user["name"], "user");
    assert_eq!(user["uid"], 1000);
    assert_eq!(user["empty_password"], true);
    assert_eq!(
        user["additional_groups"],
        json!(["audio", "video", "render", "usb"])
    );
    assert_eq!(
        build.accept_keywords["<sys-kernel/gentoo-kernel-bin-7"],
        None
    );

    let torch = Project::load(&dir.join("torch")).unwrap();
    let cuda = torch.effective(Arch::X86_64, Some("cuda")).unwrap();
    assert_eq!(
        cuda.env["sci-ml/caffe2"].as_deref(),
        Some("torch_cuda.conf")
    );
    assert_eq!(
        cuda.use_flags["sci-ml/caffe2"].as_deref(),
        Some("cuda -rocm distributed memefficient")
    );

    let walbrix = Project::load(&dir.join("walbrix")).unwrap();
    let arm = walbrix.effective(Arch::Aarch64, None).unwrap();
    assert_eq!(
        arm.accept_keywords["sys-fs/squashfuse"].as_deref(),
        Some("**")
    );
    assert!(!arm.packages.iter().any(|p| p == "app-misc/status-beep"));
    assert!(walbrix
        .effective(Arch::X86_64, None)
        .unwrap()
        .packages
        .iter()
        .any(|p| p == "app-misc/status-beep"));
}

fn comment_count(text: &str) -> usize {
    text.matches("//").count() + text.matches("/*").count()
}

#[test]
fn corpus_files_round_trip_byte_for_byte_and_edits_keep_comments() {
    for folder in corpus_folders() {
        let project = Project::load(&folder).unwrap();
        let document = Document::parse(&project.source).unwrap();
        assert_eq!(
            document.to_string(),
            project.source,
            "{} changed on round trip",
            folder.display()
        );

        let mut edited = document.clone();
        edited
            .set(
                &["use".into(), "app-misc/screen".into()],
                json!("-pam multiuser"),
            )
            .unwrap();
        edited
            .append(&["packages".into()], json!("app-editors/nano"))
            .unwrap();
        edited.set(&["compression".into()], json!("zstd")).unwrap();
        // Remove an entry that carries no comment of its own.
        edited.append(&["services".into()], json!("sshd")).unwrap();
        let services = edited.get(&["services".into()]).unwrap();
        let last = services.as_array().unwrap().len() - 1;
        edited.remove(&["services".into(), last.into()]).unwrap();

        assert_eq!(
            comment_count(edited.as_str()),
            comment_count(&project.source),
            "{} lost comments",
            folder.display()
        );
        let reparsed = genpack_def::parse_definition(edited.as_str(), &project.file);
        assert!(
            !reparsed.has_errors(),
            "{}: {:?}",
            folder.display(),
            reparsed.diagnostics
        );
        let definition = reparsed.definition.unwrap();
        assert_eq!(definition.compression, Some(Compression::Zstd));
        assert_eq!(
            definition.packages.last().map(String::as_str),
            Some("app-editors/nano")
        );
        assert_eq!(definition.services, project.definition.services);
        // Everything not edited is unchanged.
        assert_eq!(definition.variants, project.definition.variants);
        assert_eq!(definition.arch, project.definition.arch);
    }
}
