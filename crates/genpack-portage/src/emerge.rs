//! The emerge pipeline that turns a stage3 plus configuration into a complete lower, as an
//! ordered list of commands. The build pipeline runs each [`Step`] inside the lower's container,
//! in order, stopping at the first failure (after trying its [`Step::fallback`]).

use crate::config::{BUILDTIME_SET, RUNTIME_SET};

/// The command that installs the in-container helpers (`genpack/genpack-progs`).
pub const PROGS_PACKAGE: &str = "genpack/genpack-progs";

/// Packages emerged first with a reduced USE to break a dependency cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CircularDepBreaker {
    /// Packages to emerge.
    pub packages: Vec<String>,
    /// The `USE` value to emerge them with (`"-harfbuzz"`).
    #[serde(rename = "use")]
    pub use_flags: String,
}

/// What the definition says about the emerge run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlanInput {
    /// Packages to emerge before anything else, with their own USE.
    pub circulardep_breaker: Option<CircularDepBreaker>,
    /// Emerge `@genpack-buildtime` on its own before the main pass.
    pub buildtime_packages_first: bool,
}

/// How this particular run is done.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PlanOptions {
    /// The lower was just created from a stage3.
    pub fresh: bool,
    /// Look for dependency cycles and break them even on an existing lower.
    pub break_circular: bool,
    /// Emerge several packages at once: `--jobs=N --load-average=N`.
    pub parallel_jobs: Option<usize>,
    /// Binary packages stay in the lower instead of the shared cache.
    pub independent_binpkgs: bool,
    /// Packages never taken from, nor stored into, the binary package cache.
    pub binpkg_excludes: Vec<String>,
    /// The target runs through binfmt emulation (Portage's PID sandbox does not work there).
    pub emulated: bool,
    /// Depclean without build-time dependencies straight away.
    pub deep_depclean: bool,
    /// Take binary packages from the binary package hosts of `binrepos.conf`
    /// ([`crate::config::binrepos_conf`]): `--getbinpkg`.
    pub getbinpkg: bool,
    /// distcc servers (`192.168.1.10/4`, `localhost`): `FEATURES=distcc` and `DISTCC_HOSTS`.
    pub distcc_hosts: Vec<String>,
    /// Sign every binary package built with this OpenPGP key (`FEATURES=binpkg-signing`), from
    /// the GnuPG home bound at [`SIGNING_GNUPG_HOME`].
    pub signing_key: Option<String>,
}

/// Where the GnuPG home holding the binary package signing key is bound in the lower.
pub const SIGNING_GNUPG_HOME: &str = "/mnt/genpack-gnupg";

/// One command of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Stable identifier (`world`, `depclean`...), for log file names and progress weights.
    pub id: &'static str,
    /// What the step does, for progress display.
    pub description: String,
    /// The command line.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// A command to run instead when `argv` fails; the step fails only if this fails too.
    pub fallback: Option<Vec<String>>,
}

impl Step {
    fn new(
        id: &'static str,
        description: &str,
        argv: Vec<String>,
        env: &[(String, String)],
    ) -> Step {
        Step {
            id,
            description: description.to_string(),
            argv,
            env: env.to_vec(),
            fallback: None,
        }
    }

    /// The command as one shell-quoted line, for logs and "show the command".
    pub fn command_line(&self) -> String {
        let env = self
            .env
            .iter()
            .map(|(key, value)| format!("{key}={}", shell_quote(value)));
        env.chain(self.argv.iter().map(|arg| shell_quote(arg)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | '=' | ':' | '@' | '+' | ',' | '%')
        });
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Marker that records that kernel modules were rebuilt against the installed kernel sources.
pub const MODULES_REBUILT_MARKER: &str = "/usr/src/linux/.modules-rebuilt-by-genpack";

/// The ordered steps of a lower build.
pub fn plan(input: &PlanInput, options: &PlanOptions) -> Vec<Step> {
    let emerge = |args: &[&str]| -> Vec<String> {
        let mut argv = vec![
            "emerge".to_string(),
            "-bk".into(),
            "--binpkg-respect-use=y".into(),
        ];
        if !options.binpkg_excludes.is_empty() {
            let excludes = options.binpkg_excludes.join(" ");
            argv.push(format!("--usepkg-exclude={excludes}"));
            argv.push(format!("--buildpkg-exclude={excludes}"));
        }
        if options.getbinpkg {
            argv.push("--getbinpkg".into());
        }
        if let Some(jobs) = options.parallel_jobs.filter(|jobs| *jobs > 0) {
            argv.push(format!("--jobs={jobs}"));
            argv.push(format!("--load-average={jobs}"));
        }
        argv.extend(args.iter().map(|arg| arg.to_string()));
        argv
    };
    let mut env: Vec<(String, String)> = Vec::new();
    let mut features = Vec::new();
    if options.emulated {
        features.push("-pid-sandbox");
    }
    if !options.distcc_hosts.is_empty() {
        // Compile jobs must reach the distcc servers: Portage's network sandbox would keep
        // the compile phase off the network (and distcc would quietly compile locally).
        features.push("distcc");
        features.push("-network-sandbox");
    }
    if options.signing_key.is_some() {
        features.push("binpkg-signing");
    }
    if !features.is_empty() {
        env.push(("FEATURES".into(), features.join(" ")));
    }
    if let Some(key) = &options.signing_key {
        env.push((
            "BINPKG_GPG_SIGNING_GPG_HOME".into(),
            SIGNING_GNUPG_HOME.into(),
        ));
        env.push(("BINPKG_GPG_SIGNING_KEY".into(), key.clone()));
        // Portage's default locks in /run/lock, which a fresh container lacks.
        env.push((
            "BINPKG_GPG_SIGNING_BASE_COMMAND".into(),
            "/usr/bin/flock /tmp/portage-binpkg-gpg.lock /usr/bin/gpg --sign --armor [PORTAGE_CONFIG]"
                .into(),
        ));
    }
    if !options.distcc_hosts.is_empty() {
        env.push(("DISTCC_HOSTS".into(), options.distcc_hosts.join(" ")));
    }
    let runtime = format!("@{RUNTIME_SET}");
    let buildtime = format!("@{BUILDTIME_SET}");
    let mut steps = Vec::new();

    if let Some(breaker) = input
        .circulardep_breaker
        .as_ref()
        .filter(|breaker| !breaker.packages.is_empty())
    {
        let mut args = vec!["-u", "--keep-going"];
        args.extend(breaker.packages.iter().map(String::as_str));
        let mut step_env = env.clone();
        step_env.push(("USE".into(), breaker.use_flags.clone()));
        steps.push(Step::new(
            "circulardep-breaker",
            "Emerge the circular dependency breakers",
            emerge(&args),
            &step_env,
        ));
    }

    if options.fresh || options.break_circular {
        steps.push(Step::new(
            "genpack-progs",
            "Install genpack's build helpers",
            emerge(&["--oneshot", "--update", "--nodeps", PROGS_PACKAGE]),
            &env,
        ));
        let mut argv = vec![
            "sh".to_string(),
            "-c".into(),
            "if command -v genpack-break-circular-dep >/dev/null; then exec genpack-break-circular-dep \"$@\"; fi".into(),
            "sh".into(),
        ];
        argv.extend(emerge(&["--oneshot", "--keep-going"]));
        steps.push(Step::new(
            "break-circular-deps",
            "Break dependency cycles",
            argv,
            &env,
        ));
    }

    if input.buildtime_packages_first {
        steps.push(Step::new(
            "buildtime-first",
            "Emerge the build-time packages",
            emerge(&["-uDN", "--keep-going", &buildtime]),
            &env,
        ));
    }

    steps.push(Step::new(
        "world",
        "Emerge all packages",
        emerge(&["-uDN", "--keep-going", "@world", &runtime, &buildtime]),
        &env,
    ));

    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        format!(
            "if [ -e /usr/src/linux ] && [ ! -e {MODULES_REBUILT_MARKER} ]; then \"$@\" && touch {MODULES_REBUILT_MARKER}; fi"
        ),
        "sh".into(),
    ];
    argv.extend(emerge(&["@module-rebuild"]));
    steps.push(Step::new(
        "module-rebuild",
        "Rebuild kernel modules",
        argv,
        &env,
    ));

    steps.push(Step::new(
        "preserved-rebuild",
        "Rebuild packages using preserved libraries",
        emerge(&["@preserved-rebuild"]),
        &env,
    ));

    let mut argv = vec!["genpack-unmerge-masked-packages".to_string(), "--".into()];
    argv.extend(emerge(&[
        "-uDN",
        "--with-bdeps=y",
        "--keep-going",
        "@world",
    ]));
    steps.push(Step::new(
        "unmerge-masked",
        "Remove installed packages that are now masked",
        argv,
        &env,
    ));

    let mut depclean = Step::new(
        "depclean",
        "Remove packages nothing needs",
        emerge(&["--depclean"]),
        &env,
    );
    if options.deep_depclean {
        depclean.argv = emerge(&["--depclean", "--with-bdeps=n"]);
    } else {
        depclean.fallback = Some(emerge(&["--depclean", "--with-bdeps=n"]));
    }
    steps.push(depclean);

    let strings = |words: &[&str]| {
        words
            .iter()
            .map(|word| word.to_string())
            .collect::<Vec<_>>()
    };
    steps.push(Step::new(
        "etc-update",
        "Merge configuration file updates",
        strings(&["etc-update", "--automode", "-5"]),
        &env,
    ));
    steps.push(Step::new(
        "eclean-dist",
        "Remove outdated source archives",
        when_installed(&["eclean-dist", "-d"]),
        &env,
    ));
    let eclean_pkg = if options.independent_binpkgs {
        when_installed(&["eclean-pkg", "-d"])
    } else {
        when_installed(&["eclean-pkg"])
    };
    steps.push(Step::new(
        "eclean-pkg",
        "Remove outdated binary packages",
        eclean_pkg,
        &env,
    ));
    steps
}

/// `words` when its program is installed; otherwise a note that the step is skipped (the
/// cleaning tools come with app-portage/gentoolkit, which a lower may lack).
fn when_installed(words: &[&str]) -> Vec<String> {
    let program = words[0];
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        format!(
            "if command -v {program} >/dev/null; then exec \"$@\"; fi; \
             echo '{program} is not installed (app-portage/gentoolkit): skipped'"
        ),
        "sh".into(),
    ];
    argv.extend(words.iter().map(|word| word.to_string()));
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptions(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|step| step.description.as_str()).collect()
    }

    #[test]
    fn minimal_plan_on_an_existing_lower() {
        let steps = plan(&PlanInput::default(), &PlanOptions::default());
        let ids: Vec<&str> = steps.iter().map(|step| step.id).collect();
        assert_eq!(
            ids,
            [
                "world",
                "module-rebuild",
                "preserved-rebuild",
                "unmerge-masked",
                "depclean",
                "etc-update",
                "eclean-dist",
                "eclean-pkg"
            ]
        );
        assert_eq!(
            descriptions(&steps),
            [
                "Emerge all packages",
                "Rebuild kernel modules",
                "Rebuild packages using preserved libraries",
                "Remove installed packages that are now masked",
                "Remove packages nothing needs",
                "Merge configuration file updates",
                "Remove outdated source archives",
                "Remove outdated binary packages",
            ]
        );
        assert_eq!(
            steps[0].command_line(),
            "emerge -bk --binpkg-respect-use=y -uDN --keep-going @world @genpack-runtime @genpack-buildtime"
        );
        let depclean = &steps[4];
        assert_eq!(
            depclean.command_line(),
            "emerge -bk --binpkg-respect-use=y --depclean"
        );
        assert_eq!(
            depclean.fallback.as_deref().unwrap().join(" "),
            "emerge -bk --binpkg-respect-use=y --depclean --with-bdeps=n"
        );
        assert_eq!(steps[7].argv[3..], ["sh", "eclean-pkg"]);
        assert!(steps[7].argv[2].starts_with("if command -v eclean-pkg"));
        assert!(steps.iter().all(|step| step.env.is_empty()));
    }

    #[test]
    fn full_plan_keeps_the_order_and_flags() {
        let input = PlanInput {
            circulardep_breaker: Some(CircularDepBreaker {
                packages: vec!["media-libs/harfbuzz".into(), "media-libs/freetype".into()],
                use_flags: "-harfbuzz -cairo".into(),
            }),
            buildtime_packages_first: true,
        };
        let options = PlanOptions {
            fresh: true,
            break_circular: false,
            parallel_jobs: Some(2),
            independent_binpkgs: true,
            binpkg_excludes: vec!["media-libs/mesa".into(), "sys-kernel/gentoo-kernel".into()],
            emulated: true,
            deep_depclean: true,
            getbinpkg: false,
            distcc_hosts: Vec::new(),
            signing_key: None,
        };
        let steps = plan(&input, &options);
        assert_eq!(
            descriptions(&steps),
            [
                "Emerge the circular dependency breakers",
                "Install genpack's build helpers",
                "Break dependency cycles",
                "Emerge the build-time packages",
                "Emerge all packages",
                "Rebuild kernel modules",
                "Rebuild packages using preserved libraries",
                "Remove installed packages that are now masked",
                "Remove packages nothing needs",
                "Merge configuration file updates",
                "Remove outdated source archives",
                "Remove outdated binary packages",
            ]
        );
        let common = "emerge -bk --binpkg-respect-use=y \
             '--usepkg-exclude=media-libs/mesa sys-kernel/gentoo-kernel' \
             '--buildpkg-exclude=media-libs/mesa sys-kernel/gentoo-kernel' --jobs=2 --load-average=2";
        assert_eq!(
            steps[0].command_line(),
            format!("FEATURES=-pid-sandbox USE='-harfbuzz -cairo' {common} -u --keep-going media-libs/harfbuzz media-libs/freetype")
        );
        assert_eq!(
            steps[1].command_line(),
            format!(
                "FEATURES=-pid-sandbox {common} --oneshot --update --nodeps genpack/genpack-progs"
            )
        );
        assert_eq!(
            steps[3].command_line(),
            format!("FEATURES=-pid-sandbox {common} -uDN --keep-going @genpack-buildtime")
        );
        assert!(steps[5].argv.ends_with(&["@module-rebuild".to_string()]));
        assert!(steps[5].argv[2].contains(MODULES_REBUILT_MARKER));
        assert_eq!(
            steps[7].argv[..2],
            ["genpack-unmerge-masked-packages", "--"]
        );
        assert!(steps[7].argv.ends_with(&[
            "--with-bdeps=y".into(),
            "--keep-going".into(),
            "@world".into()
        ]));
        assert_eq!(steps[8].argv.last().unwrap(), "--with-bdeps=n");
        assert_eq!(
            steps[8].fallback, None,
            "deep depclean has nothing to fall back to"
        );
        assert_eq!(steps[11].argv[4..], ["eclean-pkg", "-d"]);
        for step in &steps {
            assert_eq!(
                step.env[0],
                ("FEATURES".to_string(), "-pid-sandbox".to_string()),
                "{}",
                step.description
            );
            if step.argv.iter().any(|arg| arg == "emerge") {
                assert!(
                    step.argv.iter().any(|arg| arg == "--jobs=2"),
                    "{}",
                    step.description
                );
            }
        }
    }

    #[test]
    fn binhost_adds_getbinpkg() {
        let options = PlanOptions {
            getbinpkg: true,
            ..Default::default()
        };
        let steps = plan(&PlanInput::default(), &options);
        assert_eq!(
            steps[0].command_line(),
            "emerge -bk --binpkg-respect-use=y --getbinpkg -uDN --keep-going @world @genpack-runtime @genpack-buildtime"
        );
    }

    #[test]
    fn distcc_hosts_turn_on_the_feature() {
        let options = PlanOptions {
            distcc_hosts: vec!["127.0.0.1:3633/2".into(), "127.0.0.1:3634/2".into()],
            emulated: true,
            ..Default::default()
        };
        let steps = plan(&PlanInput::default(), &options);
        assert_eq!(
            steps[0].env,
            [
                (
                    "FEATURES".to_string(),
                    "-pid-sandbox distcc -network-sandbox".to_string()
                ),
                (
                    "DISTCC_HOSTS".to_string(),
                    "127.0.0.1:3633/2 127.0.0.1:3634/2".to_string()
                )
            ]
        );
    }

    #[test]
    fn a_signing_key_signs_every_binary_package() {
        let options = PlanOptions {
            signing_key: Some("0123ABCD".into()),
            ..Default::default()
        };
        let steps = plan(&PlanInput::default(), &options);
        let env = &steps[0].env;
        assert!(env.contains(&("FEATURES".to_string(), "binpkg-signing".to_string())));
        assert!(env.contains(&(
            "BINPKG_GPG_SIGNING_GPG_HOME".to_string(),
            SIGNING_GNUPG_HOME.to_string()
        )));
        assert!(env.contains(&("BINPKG_GPG_SIGNING_KEY".to_string(), "0123ABCD".to_string())));
    }

    #[test]
    fn break_circular_alone_adds_the_helper_steps() {
        let steps = plan(
            &PlanInput::default(),
            &PlanOptions {
                break_circular: true,
                ..Default::default()
            },
        );
        assert_eq!(steps[0].description, "Install genpack's build helpers");
        assert_eq!(steps[1].description, "Break dependency cycles");
        assert_eq!(steps.len(), 10);
    }

    #[test]
    fn quoting_is_shell_safe() {
        assert_eq!(shell_quote("plain-word"), "plain-word");
        assert_eq!(shell_quote("two words"), "'two words'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
